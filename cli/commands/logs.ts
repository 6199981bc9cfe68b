import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { relative } from "node:path";
import { ExitCode } from "../../lib/errors.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import type { LogsArgs } from "./logs.args.js";
import { parseLogLine } from "../../lib/project/migration-log.js";

/** `moose logs [-f] [--filter TEXT] [--json]`: the project log that `moose dev`, `migrate deploy` and `migrate rollback` write. */
export async function run(args: LogsArgs, io: CliIO): Promise<number> {
  try {
    const config = await loadProject(io);
    const path = config.paths.logFile;
    const { filter, follow } = args;
    if (!existsSync(path) && !follow) {
      if (!args.json) io.stdout.write(`No log yet at ${relative(config.projectDir, path)}: moose dev, migrate deploy and migrate rollback write it.\n`);
      return ExitCode.success;
    }
    let offset = 0;
    let partial = "";
    const pump = () => {
      if (!existsSync(path)) return;
      const size = statSync(path).size;
      if (size < offset) offset = 0; // truncated or replaced
      if (size === offset) return;
      const fd = openSync(path, "r");
      try {
        const buffer = Buffer.alloc(size - offset);
        readSync(fd, buffer, 0, buffer.length, offset);
        offset = size;
        const lines = (partial + buffer.toString("utf8")).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (filter !== undefined && !line.includes(filter)) continue;
          io.stdout.write((args.json ? JSON.stringify(parseLogLine(line)) : line) + "\n");
        }
      } finally {
        closeSync(fd);
      }
    };
    pump();
    if (!follow) return ExitCode.success;
    const timer = setInterval(pump, 200);
    await io.stopped();
    clearInterval(timer);
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io);
  }
}
