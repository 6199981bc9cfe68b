#!/usr/bin/env node
import module from "node:module";
import { fastTopLevel } from "./help.js";
import { processIO } from "./io.js";

// Node.js 22.1+ keeps compiled code of this CLI and of TypeScript (9 MB) between runs, as tsc
// itself does; older versions have no such cache and skip this.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `moose logs | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const argv = process.argv.slice(2);
const io = processIO();
// `moose --help`, `--version` and a bare `moose` need no parser: they are answered before
// yargs is loaded (main.js and everything it imports load only for real commands).
process.exitCode = fastTopLevel(argv, io, process.stdout.columns) ?? (await (await import("./main.js")).main(argv, io, { tuneOptimizer: true }));
