import { relative } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import { type OlapEngine } from "../engines/olap/engine.js";
import { openLedger, type Ledger } from "../ledger/index.js";
import type { ChangeApplier, DeployEngines, EngineNeeds } from "../migrations/apply/deploy.js";
import type { StreamEngine } from "../engines/stream/engine.js";
import { readMigrations, type MigrationFile } from "../migrations/files/read.js";
import { openOlapEngine } from "../engines/olap/open.js";

/** The committed migration files of a project, paths shown relative to it. */
export function projectMigrations(config: LoadedConfig): MigrationFile[] {
  return readMigrations(config.paths.migrationsDir, relative(config.projectDir, config.paths.migrationsDir) || ".");
}

/**
 * The project's ledger. On a ClickHouse server the authoritative ledger and the lock live
 * in the target database (`_moose_ledger`, `_moose_lock_<n>`) and the local file is its
 * mirror; on the embedded engine (and for `moose dev`, `{ local: true }`) the local file is
 * the ledger.
 */
export async function projectLedger(config: LoadedConfig, toolVersion: string, options: { readonly local?: boolean } = {}): Promise<Ledger> {
  const local = options.local || config.olap.engine !== "server";
  // With a server, the file mirrors the target's ledger (refilled from it on open), so its commits need not wait for the disk.
  const mirror = await openLedger(config.paths.ledgerPath, { toolVersion, role: local ? "authoritative" : "mirror" });
  if (local) return mirror;
  let olap: OlapEngine;
  try {
    olap = await projectOlap(config);
  } catch (error) {
    await mirror.close();
    throw error;
  }
  const { openTargetLedger } = await import("../ledger/target.js");
  // On a cluster the ledger and the lock are kept cluster-wide, on the first cluster the config lists.
  const cluster = config.olap.clusters?.[0]?.name;
  return openTargetLedger(olap, mirror, cluster === undefined ? {} : { cluster });
}

export function projectOlap(config: LoadedConfig): Promise<OlapEngine> {
  return openOlapEngine(config.olap);
}

/**
 * The engines a deploy needs, opened from the config. The stream engine and
 * Temporal are contacted only when a pending migration changes a topic or a
 * workflow (and, for Temporal, when `[features] workflows` is on).
 */
export interface ProjectEngines extends DeployEngines {
  /** The stream engine itself (produce/read), for the dev and prod servers. */
  readonly streamEngine?: StreamEngine;
}

export interface OpenEnginesOptions {
  /**
   * The workflow engine to use instead of connecting to Temporal: dev's embedded one
   * (see `devWorkflowEngine`). Closed with the other engines.
   */
  readonly workflowEngine?: ChangeApplier & { close(): Promise<void> };
}

export async function openDeployEngines(config: LoadedConfig, needs: EngineNeeds, options: OpenEnginesOptions = {}): Promise<ProjectEngines> {
  let olap: OlapEngine;
  try {
    olap = await projectOlap(config);
  } catch (error) {
    await options.workflowEngine?.close();
    throw error;
  }
  const opened: Array<{ close(): Promise<void> }> = [olap];
  const close = async () => {
    for (const e of opened.reverse()) await e.close();
  };
  try {
    let streams: StreamEngine | undefined;
    if (needs.streams) {
      const { openStreamEngine } = await import("../engines/stream/open.js");
      const engine = await openStreamEngine(config.streaming);
      opened.push(engine);
      streams = engine;
    }
    let workflows: ChangeApplier | undefined;
    if (options.workflowEngine) {
      opened.push(options.workflowEngine);
      if (needs.workflows && config.features.workflows) workflows = options.workflowEngine;
    } else if (needs.workflows && config.features.workflows) {
      const { openWorkflowEngine } = await import("../engines/workflow/open.js");
      const engine = await openWorkflowEngine({ address: config.temporal.address, namespace: config.temporal.namespace });
      opened.push(engine);
      workflows = engine;
    }
    return { olap, close, ...(streams ? { streams, streamEngine: streams } : {}), ...(workflows ? { workflows } : {}) };
  } catch (error) {
    await close();
    throw error;
  }
}
