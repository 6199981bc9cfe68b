import { loadConfig, type LoadedConfig } from "../lib/config/config.js";
import type { CliIO } from "./io.js";

/** The project in the working directory (the folder holding moose.config.toml). */
export function loadProject(io: CliIO): Promise<LoadedConfig> {
  return loadConfig(io.cwd, io.env);
}

/** Warnings go to stderr so that `--json` output stays one document. */
export function printWarnings(warnings: readonly string[], io: CliIO): void {
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
}
