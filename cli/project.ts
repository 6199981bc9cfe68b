import { relative } from "node:path";
import { loadConfig, type LoadedConfig } from "../lib/config/config.js";
import type { CliIO } from "./io.js";

/**
 * The project in the working directory (the folder holding moose.config.toml).
 * Moose keys the config accepts and ignores are named on stderr, one line per reason.
 */
export async function loadProject(io: CliIO): Promise<LoadedConfig> {
  const config = await loadConfig(io.cwd, io.env);
  for (const notice of config.notices) {
    const where = notice.position ? `${relative(io.cwd, notice.position.file) || notice.position.file}:${notice.position.line}: ` : "";
    io.stderr.write(`note: ${where}${notice.message}\n`);
  }
  return config;
}

/** Warnings go to stderr so that `--json` output stays one document. */
export function printWarnings(warnings: readonly string[], io: CliIO): void {
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
}
