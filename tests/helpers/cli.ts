import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { memoryIO } from "../../cli/io.js";
import { main } from "../../cli/main.js";

/** The built CLI, as users run it. */
export const BIN = fileURLToPath(new URL("../../cli/bin.js", import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `moose ...args` in `cwd` in this process: the parser and the command the
 * binary runs, with output in memory and `env` as the whole environment the command
 * sees. Needs no process per call (no Node start, no compiler or chDB load), so it is
 * what most CLI tests use. chDB opens one data directory per process: tests whose
 * commands reach the embedded engines of different projects are `test.serial`.
 * With `answers`, the command runs at a terminal where a person gives those answers.
 */
export async function runCli(cwd: string, args: readonly string[], env: Record<string, string | undefined> = {}, answers?: readonly string[]): Promise<CliResult> {
  const io = memoryIO(cwd, env, answers === undefined ? {} : { answers });
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** Runs `moose ...args` in `cwd` as a separate process: for what needs one (the binary itself, signals, several processes at once). */
export function moose(cwd: string, args: readonly string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env, FORCE_COLOR: "0" },
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh `moose init` project in a temp folder (`moose-<prefix>-…/p`), its app/index.ts replaced by `app`. */
export async function initProject(prefix: string, app: string): Promise<string> {
  const root = tempDir(prefix);
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), app);
  return dir;
}

/** Replaces `from` by `to` in a project file, failing when `from` is not there. */
export function editFile(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`${file} has no ${from}`);
  writeFileSync(path, text.replace(from, to));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `moose-${prefix}-`));
}

/**
 * `moose` without blocking this process: needed when the test itself serves
 * something the CLI talks to (a protocol test server in this process).
 */
export function mooseAsync(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env, FORCE_COLOR: "0" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
