import type { LoadedConfig } from "../config/config.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { Ledger } from "../ledger/ledger.js";
import { readDraft } from "../migrations/read.js";
import { migrationStatus, type StatusReport } from "../migrations/status.js";
import { projectLedger, projectMigrations, projectOlap } from "./engines.js";

/** `moose migrate status` of a project, with the given ledger and engine. */
export async function projectStatus(config: LoadedConfig, ledger: Ledger, olap: OlapEngine): Promise<StatusReport> {
  return migrationStatus(projectMigrations(config), await ledger.list(), olap, readDraft(config.paths.migrationsDir));
}

/** The same, opening (and closing) the ledger and engine itself. */
export async function openAndReportStatus(config: LoadedConfig, toolVersion: string): Promise<StatusReport> {
  const ledger = await projectLedger(config, toolVersion);
  try {
    const olap = await projectOlap(config);
    try {
      return await projectStatus(config, ledger, olap);
    } finally {
      await olap.close();
    }
  } finally {
    await ledger.close();
  }
}
