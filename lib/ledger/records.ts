/**
 * What the ledger stores, as plain readonly data, and the mapping from SQLite rows.
 * Times are ISO-8601 UTC strings (`2026-11-26T03:15:00.000Z`), as written.
 */

/**
 * - `running`: begun and not finished (or its process died mid-run).
 * - `failed`: a step failed before any step of it was applied.
 * - `partially_applied`: a step failed after at least one step was applied; the engine is half-way.
 * - `applied`: every step applied.
 */
export type MigrationStatus = "running" | "applied" | "failed" | "partially_applied";
export const MIGRATION_STATUSES: readonly MigrationStatus[] = ["running", "applied", "failed", "partially_applied"];

export interface MigrationRecord {
  /** The migration file's name without its extension, e.g. `20261126031500_add_age_to_users`. */
  readonly id: string;
  readonly fileName: string;
  readonly checksum: string;
  readonly checksumAlgorithm: string;
  /** State hash the migration expects before it runs. */
  readonly parentHash: string;
  /** State hash after it ran. */
  readonly resultHash: string;
  readonly status: MigrationStatus;
  readonly stepsApplied: number;
  readonly stepsTotal: number;
  /** The last failure; kept while the migration is resumed, cleared when it completes. */
  readonly error: string | null;
  /** 0-based index of the step that failed; cleared with `error`. */
  readonly failedStep: number | null;
  /** When the current (latest) attempt started. */
  readonly startedAt: string;
  /** When the latest attempt completed or failed; `null` while running. */
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  /** 1 for the first run; one more for every resume. */
  readonly attempts: number;
  /** moose-migrate version and host of the latest attempt. */
  readonly toolVersion: string;
  readonly host: string;
}

export type StepStatus = "running" | "applied" | "failed";

export interface StepRecord {
  readonly migrationId: string;
  readonly index: number;
  readonly status: StepStatus;
  /** The statements the step ran (or was running when it failed). */
  readonly statements: readonly string[];
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: string | null;
}

/** Who holds the migrate lock, and until when. */
export interface LockHolder {
  readonly owner: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

export type LockResult =
  | {
      readonly acquired: true;
      /** The lock as now held by the caller. */
      readonly holder: LockHolder;
      /** Set when an expired lock of another owner was taken over (its process presumably died). */
      readonly takenOverFrom?: LockHolder;
    }
  | { readonly acquired: false; readonly holder: LockHolder };

export type RenewResult =
  | { readonly renewed: true; readonly holder: LockHolder }
  /** The caller no longer holds the lock: it was taken over after expiring, or force-unlocked. */
  | { readonly renewed: false; readonly holder: LockHolder | undefined };

// ------------------------------------------------------------------ rows

export interface MigrationRow {
  id: string;
  file_name: string;
  checksum: string;
  checksum_algorithm: string;
  parent_hash: string;
  result_hash: string;
  status: string;
  steps_applied: number;
  steps_total: number;
  error: string | null;
  failed_step: number | null;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  attempts: number;
  tool_version: string;
  host: string;
}

export interface StepRow {
  migration_id: string;
  step_index: number;
  status: string;
  statements: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface LockRow {
  owner: string;
  acquired_at: string;
  expires_at: string;
}

export function migrationFromRow(row: MigrationRow): MigrationRecord {
  return Object.freeze({
    id: row.id,
    fileName: row.file_name,
    checksum: row.checksum,
    checksumAlgorithm: row.checksum_algorithm,
    parentHash: row.parent_hash,
    resultHash: row.result_hash,
    // The table's CHECK constraint allows nothing else.
    status: row.status as MigrationStatus,
    stepsApplied: row.steps_applied,
    stepsTotal: row.steps_total,
    error: row.error,
    failedStep: row.failed_step,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    attempts: row.attempts,
    toolVersion: row.tool_version,
    host: row.host,
  });
}

export function stepFromRow(row: StepRow): StepRecord {
  return Object.freeze({
    migrationId: row.migration_id,
    index: row.step_index,
    status: row.status as StepStatus,
    statements: Object.freeze(JSON.parse(row.statements) as string[]),
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
  });
}

export function holderFromRow(row: LockRow): LockHolder {
  return Object.freeze({ owner: row.owner, acquiredAt: row.acquired_at, expiresAt: row.expires_at });
}

export function rowFromMigration(r: MigrationRecord): MigrationRow {
  return {
    id: r.id,
    file_name: r.fileName,
    checksum: r.checksum,
    checksum_algorithm: r.checksumAlgorithm,
    parent_hash: r.parentHash,
    result_hash: r.resultHash,
    status: r.status,
    steps_applied: r.stepsApplied,
    steps_total: r.stepsTotal,
    error: r.error,
    failed_step: r.failedStep,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    duration_ms: r.durationMs,
    attempts: r.attempts,
    tool_version: r.toolVersion,
    host: r.host,
  };
}

export function rowFromStep(r: StepRecord): StepRow {
  return {
    migration_id: r.migrationId,
    step_index: r.index,
    status: r.status,
    statements: JSON.stringify(r.statements),
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    error: r.error,
  };
}

/** Ledger ids of unfinished rollbacks (`<migration id>.rollback`); see lib/migrations/apply/rollback.ts. */
export function isRollbackRecord(id: string): boolean {
  return id.endsWith(".rollback");
}
