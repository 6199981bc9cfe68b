import type { LoadedConfig } from "../config/config.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { Ledger } from "../ledger/ledger.js";
import { readDraft } from "../migrations/files/read.js";
import { migrationStatus, type StatusReport, type TopicLister } from "../migrations/apply/status.js";
import { projectLedger, projectMigrations, projectOlap } from "./engines.js";

/** `moose migrate status` of a project, with the given ledger and engines. */
export async function projectStatus(config: LoadedConfig, ledger: Ledger, olap: OlapEngine, streams?: TopicLister): Promise<StatusReport> {
  return migrationStatus(projectMigrations(config), await ledger.list(), olap, readDraft(config.paths.migrationsDir), streams);
}

/** The same, opening (and closing) the ledger and engine itself. */
export async function openAndReportStatus(config: LoadedConfig, toolVersion: string): Promise<StatusReport> {
  const ledger = await projectLedger(config, toolVersion);
  try {
    const olap = await projectOlap(config);
    // Topics are checked when the stream engine answers; a broker that is down is not a status failure.
    const streams = config.features.streamingEngine ? await openStreams(config).catch(() => undefined) : undefined;
    try {
      const report = await projectStatus(config, ledger, olap, streams);
      return ledger.notices.length > 0 ? { ...report, notices: ledger.notices } : report;
    } finally {
      await streams?.close();
      await olap.close();
    }
  } finally {
    await ledger.close();
  }
}

async function openStreams(config: LoadedConfig) {
  const { openStreamEngine } = await import("../engines/stream/open.js");
  return openStreamEngine(config.streaming);
}
