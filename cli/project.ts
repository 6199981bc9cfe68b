import { relative } from "node:path";
import { loadConfig, type LoadedConfig } from "../lib/config/config.js";
import { readingConfig } from "../lib/dev/infra.js";
import { willOpenDataDirectory } from "../lib/engines/olap/chdb-process.js";
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

/**
 * The project for a command that reads the project's state (`ls`, `query`, `migrate
 * status`): with a Moose config whose ClickHouse dev runs itself and no dev running, the
 * embedded engine's data is read directly, said in one note (see `readingConfig`).
 */
export async function loadProjectForReading(io: CliIO): Promise<LoadedConfig> {
  const { config, embedded } = await readingConfig(await loadProject(io));
  opensEmbedded(config);
  if (embedded && config.olap.engine === "embedded" && config.devInfra.clickhouse) {
    const { host, port } = config.devInfra.clickhouse;
    io.stderr.write(
      `note: moose dev is not running: reading the data it keeps in ${relative(io.cwd, config.olap.dataDir) || config.olap.dataDir} (dev serves it at ${host}:${port} while it runs)\n`,
    );
  }
  return config;
}

/**
 * For a command that opens the project's embedded ClickHouse: says so before any SQL is read
 * (`willOpenDataDirectory`), so that no embedded ClickHouse of the process closes before the
 * project's opens (chDB then stops the background pools Kafka and S3Queue tables need).
 */
export function opensEmbedded(config: LoadedConfig): LoadedConfig {
  if (config.olap.engine === "embedded") willOpenDataDirectory(config.olap.dataDir);
  return config;
}

/** Warnings go to stderr so that `--json` output stays one document. */
export function printWarnings(warnings: readonly string[], io: CliIO): void {
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
}
