import type { OlapEngine } from "../engines/olap/engine.js";
import type { MigrationRecord } from "../ledger/records.js";
import type { MigrationFile } from "../migrations/files/read.js";
import { replayMigrations } from "../migrations/files/sequence.js";
import { migrationStatus, type MigrationState, type StatusReport } from "../migrations/apply/status.js";
import { hashInfraMap, type InfraMap } from "../model/infra-map.js";

/** A migration that is neither applied nor simply pending: failed, edited, removed, … */
export interface MigrationIssue {
  readonly id: string;
  readonly state: Exclude<MigrationState, "applied" | "pending">;
  readonly detail?: string;
}

/**
 * What `GET /admin/inframap` answers: the state production is in, as the
 * migrations it applied define it, checked against the live engines.
 */
export interface ProductionState {
  /** moose-migrate version of the instance. */
  readonly version: string;
  /** `hashInfraMap(inframap)`; clients check it. */
  readonly hash: string;
  /** Replay of the applied migrations (ledger ∩ committed files, in order). */
  readonly inframap: InfraMap;
  readonly migrations: {
    readonly applied: readonly string[];
    readonly pending: readonly string[];
    readonly issues: readonly MigrationIssue[];
  };
  /** Differences between the live OLAP engine and `inframap`, in words; empty when none. */
  readonly drift: readonly string[];
  /** False when drift could not be measured (history edited or a migration half-applied). */
  readonly driftChecked: boolean;
}

/**
 * Production's current state: the applied prefix of the committed migrations
 * replayed offline (the same replay `migrate generate` uses, so a remote plan and
 * a generated migration start from the same map), plus the live drift check of
 * `migrate status`.
 *
 * @example
 * const state = await readProductionState(projectMigrations(config), await ledger.list(), olap, VERSION);
 * state.migrations.pending; // ["20261126031500_add_age_to_users"]
 */
export async function readProductionState(
  files: readonly MigrationFile[],
  records: readonly MigrationRecord[],
  olap: OlapEngine | undefined,
  version: string,
): Promise<ProductionState> {
  const status = await migrationStatus(files, records, olap);
  const inframap = replayMigrations(appliedPrefix(files, status)).state;
  return {
    version,
    hash: hashInfraMap(inframap),
    inframap,
    migrations: {
      applied: status.rows.filter((r) => r.state === "applied").map((r) => r.id),
      pending: status.rows.filter((r) => r.state === "pending").map((r) => r.id),
      issues: status.rows.flatMap((r) => (r.state === "applied" || r.state === "pending" ? [] : [{ id: r.id, state: r.state, ...(r.detail ? { detail: r.detail } : {}) }])),
    },
    drift: status.drift,
    driftChecked: status.driftChecked,
  };
}

/**
 * The committed files that are applied, up to the first that is not: only a
 * prefix of the sequence has a state (a later applied file after a gap is an
 * out-of-order issue, reported as such).
 */
export function appliedPrefix(files: readonly MigrationFile[], status: StatusReport): MigrationFile[] {
  const state = new Map(status.rows.map((r) => [r.id, r.state]));
  const prefix: MigrationFile[] = [];
  for (const f of files) {
    if (state.get(f.id) !== "applied") break;
    prefix.push(f);
  }
  return prefix;
}
