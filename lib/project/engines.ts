import { relative } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import { openOlapEngine, type OlapEngine } from "../engines/olap/engine.js";
import { openLedger, type Ledger } from "../ledger/index.js";
import type { DeployEngines } from "../migrations/deploy.js";
import { readMigrations, type MigrationFile } from "../migrations/read.js";

/** The committed migration files of a project, paths shown relative to it. */
export function projectMigrations(config: LoadedConfig): MigrationFile[] {
  return readMigrations(config.paths.migrationsDir, relative(config.projectDir, config.paths.migrationsDir) || ".");
}

export function projectLedger(config: LoadedConfig, toolVersion: string): Promise<Ledger> {
  return openLedger(config.paths.ledgerPath, { toolVersion });
}

export function projectOlap(config: LoadedConfig): Promise<OlapEngine> {
  return openOlapEngine(config.olap);
}

/** Every engine a deploy may need, opened from the config; close them with `closeEngines`. */
export async function openDeployEngines(config: LoadedConfig): Promise<DeployEngines> {
  return { olap: await projectOlap(config) };
}

export async function closeEngines(engines: DeployEngines): Promise<void> {
  await engines.olap.close();
}
