import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { basename, extname, resolve } from "node:path";
import { InvalidInputError, RefusedError } from "../errors.js";
import { openConnection, type Db, type LedgerConnection, type SqlValue } from "./connection.js";
import {
  holderFromRow,
  migrationFromRow,
  rowFromMigration,
  rowFromStep,
  stepFromRow,
  type LockHolder,
  type LockResult,
  type LockRow,
  type MigrationRecord,
  type MigrationRow,
  type RenewResult,
  type StepRecord,
  type StepRow,
} from "./records.js";
import { LEDGER_SCHEMA_STEPS, LEDGER_SCHEMA_VERSION, SCHEMA_TABLE_DDL } from "./schema.js";

export interface OpenLedgerOptions {
  /** Recorded on every migration run; defaults to this package's version. */
  readonly toolVersion?: string;
  /** Recorded on every migration run; defaults to `os.hostname()`. */
  readonly host?: string;
  /** The clock for every recorded time and for lock expiry; tests inject one. */
  readonly now?: () => Date;
  /** How long a write waits for another process's write transaction (SQLite `busy_timeout`). Default 10 000. */
  readonly busyTimeoutMs?: number;
  /**
   * `mirror`: the file is a copy of records kept elsewhere (a server target's ledger, see
   * target.ts), refilled from there whenever it is opened: a commit is not flushed to the disk
   * (SQLite `synchronous = NORMAL`; still atomic, and kept when the process dies). Default
   * `authoritative`: every commit is on the disk before it returns (`synchronous = FULL`).
   */
  readonly role?: "authoritative" | "mirror";
}

/** What `begin` needs to know about a migration file. */
export interface BeginMigration {
  readonly id: string;
  readonly fileName: string;
  readonly checksum: string;
  readonly checksumAlgorithm: string;
  readonly parentHash: string;
  readonly resultHash: string;
  readonly stepsTotal: number;
}

export interface StepDoneOptions {
  /**
   * The last step: completes the migration in the same transaction (one
   * commit fewer per migration; refused like `complete` if a step is missing).
   */
  readonly complete?: boolean;
  /**
   * The step that runs next, marked started in the same transaction (as `stepStarted`
   * would): one commit per step instead of two.
   */
  readonly next?: { readonly index: number; readonly statements: readonly string[] };
}

/** The migration `completeAndBegin` begins, and the step of it marked started with it. */
export interface NextMigration {
  readonly migration: BeginMigration;
  readonly step: { readonly index: number; readonly statements: readonly string[] };
}

export interface BeginOptions {
  /**
   * Resume a record left `running`. Only a process that died mid-migration leaves
   * one behind (the deploy lock keeps live runs apart), and the step it was on may
   * have half-run, so this is an operator's decision, not a default.
   */
  readonly resumeRunning?: boolean;
}

/**
 * The record of which migrations ran against an environment, step by step, and
 * the lock that keeps two deploys from running them at once. One SQLite file;
 * every method is one transaction, so progress survives a crash after any step.
 */
export interface Ledger {
  /** Absolute path of the SQLite file. */
  readonly path: string;
  /** Every recorded migration, ordered by id (so by timestamp). */
  list(): Promise<MigrationRecord[]>;
  get(id: string): Promise<MigrationRecord | undefined>;
  /**
   * Starts a migration (status `running`). A `failed` or `partially_applied` record
   * with the same checksum is resumed instead: its completed steps stay recorded
   * (see `stepsDone`) and its error stays until `complete`.
   * @throws RefusedError `LEDGER_CHECKSUM_MISMATCH` when the file changed since it was recorded,
   *   `LEDGER_ALREADY_APPLIED`, `LEDGER_MIGRATION_RUNNING`, `LEDGER_STEPS_MISMATCH`.
   */
  begin(m: BeginMigration, options?: BeginOptions): Promise<MigrationRecord>;
  /** Optional: marks step `index` as in progress, so a crash mid-step shows which step may be half-applied. */
  stepStarted(id: string, index: number, statements?: readonly string[]): Promise<void>;
  /** Records step `index` as applied with the statements it ran. */
  stepDone(id: string, index: number, statements: readonly string[], options?: StepDoneOptions): Promise<MigrationRecord>;
  /**
   * `stepDone(id, index, statements, { complete: true })` and, in the same transaction, `next`
   * begun (a migration with no record) with its step `next.step` marked started: between the
   * last statement of one migration and the first of the next, one durable write instead of
   * three. `begun` is undefined, and nothing of `next` written, when `next` already has a
   * record (a failed or interrupted run): `begin` decides what that means.
   */
  completeAndBegin(id: string, index: number, statements: readonly string[], next: NextMigration): Promise<{ readonly completed: MigrationRecord; readonly begun: MigrationRecord | undefined }>;
  /** Records step `index` as failed; the migration becomes `failed`, or `partially_applied` when a step was applied. */
  stepFailed(id: string, index: number, error: string, statements?: readonly string[]): Promise<MigrationRecord>;
  /** Marks a running migration `applied` once every step is; clears its error. */
  complete(id: string): Promise<MigrationRecord>;
  /** Indexes of the applied steps, ascending; a resumed run skips these. `[]` for an unknown id. */
  stepsDone(id: string): Promise<number[]>;
  /** Every recorded step of a migration, ascending. */
  steps(id: string): Promise<StepRecord[]>;
  /**
   * Forgets a `failed` or `partially_applied` migration and its steps, so an edited
   * file can be begun afresh. Steps it applied are NOT reverted.
   */
  discardFailed(id: string): Promise<MigrationRecord>;
  /**
   * Records a migration as applied without running its steps: `moose dev` has
   * already brought the database to its result through the dev draft. Refused
   * when a record with that id exists.
   */
  adopt(m: BeginMigration): Promise<MigrationRecord>;
  /**
   * Deletes a record and its steps whatever its status: for the dev draft (`.draft`), which is
   * rewritten on every save, and for a migration `moose migrate rollback` has undone (with
   * the rollback's own `<id>.rollback` record), so its file is pending again.
   */
  forget(id: string): Promise<MigrationRecord | undefined>;
  /**
   * Takes the migrate lock for `ttlMs`: atomically, so of any number of processes
   * exactly one gets it. An expired lock is taken over (`takenOverFrom`); the owner
   * already holding it gets it again with a new expiry.
   */
  acquireLock(owner: string, ttlMs: number): Promise<LockResult>;
  /** Extends the caller's lock to now + `ttlMs`; `renewed: false` when the caller lost it. */
  renewLock(owner: string, ttlMs: number): Promise<RenewResult>;
  /** Releases the caller's lock; `false` when the caller did not hold it. */
  releaseLock(owner: string): Promise<boolean>;
  /** Removes the lock whoever holds it (`moose migrate unlock`); returns who held it. */
  forceUnlock(): Promise<LockHolder | undefined>;
  /** The current holder, expired or not. */
  lockHolder(): Promise<LockHolder | undefined>;
  /** The ledger schema version of the file. */
  schemaVersion(): Promise<number>;
  /**
   * Where the authoritative records live: `local` for this file, or the target database
   * (`clickhouse://host/db`) this ledger reads and writes through, with the local file as its mirror.
   */
  readonly authority: string;
  /** What opening the ledger found worth saying (a local record the target lacks, an upload); printed by the CLI. */
  readonly notices: readonly string[];
  close(): Promise<void>;
}

/**
 * The local SQLite ledger as the mirror of a target's ledger (see `target.ts`): the
 * records are replaced wholesale by the target's, and the file remembers which target
 * it mirrors.
 */
/** What {@link MirrorLedger.completeAndBegin} wrote: the records, and the two step records as they are after it. */
export interface CompletedAndBegun {
  readonly completed: MigrationRecord;
  readonly begun: MigrationRecord | undefined;
  /** Step `index` of the completed migration, applied. */
  readonly doneStep: StepRecord;
  /** `next`'s step, marked started; undefined with `begun`. */
  readonly startedStep: StepRecord | undefined;
}

export interface MirrorLedger extends Ledger {
  /**
   * {@link Ledger.completeAndBegin}, also returning the step records it wrote (a target's ledger
   * publishes them); `at` is the time written (default: now, by {@link MirrorLedger.now}).
   */
  completeAndBegin(id: string, index: number, statements: readonly string[], next: NextMigration, at?: string): Promise<CompletedAndBegun>;
  /** The time this ledger would write now (its clock: tests set one). */
  now(): string;
  /** Replaces every migration and step record with these, in one transaction. */
  replaceRecords(migrations: readonly MigrationRecord[], steps: readonly StepRecord[]): Promise<void>;
  /** Every step record of every migration. */
  allSteps(): Promise<StepRecord[]>;
  meta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}

const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const LOCK_NAME = "migrate";

let packageVersion: string | undefined;
function defaultToolVersion(): string {
  if (packageVersion === undefined) {
    try {
      // dist/lib/ledger/ledger.js -> package.json three folders up.
      const json = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
      packageVersion = typeof json.version === "string" ? json.version : "unknown";
    } catch {
      packageVersion = "unknown";
    }
  }
  return packageVersion;
}

/**
 * Opens the ledger at `path`, creating the folder, the file and its schema (or
 * upgrading an older ledger schema) as needed.
 *
 * @example
 * const ledger = await openLedger(".moose/ledger.sqlite");
 * const owner = defaultLockOwner();
 * const lock = await ledger.acquireLock(owner, 60_000);
 * if (!lock.acquired) return { blockedBy: lock.holder };
 * try {
 *   const { algorithm, checksum } = checksumOf(fileText);
 *   await ledger.begin({ id, fileName, checksum, checksumAlgorithm: algorithm, parentHash, resultHash, stepsTotal: steps.length });
 *   const done = new Set(await ledger.stepsDone(id)); // non-empty when resuming a failed run
 *   for (const [i, step] of steps.entries()) {
 *     if (done.has(i)) continue;
 *     await engine.run(step.statements); // on error: await ledger.stepFailed(id, i, message)
 *     await ledger.stepDone(id, i, step.statements);
 *   }
 *   await ledger.complete(id);
 * } finally {
 *   await ledger.releaseLock(owner);
 *   await ledger.close();
 * }
 * @throws EngineError `LEDGER_UNAVAILABLE` when the file cannot be opened or created;
 *   RefusedError `LEDGER_SCHEMA_TOO_NEW` when a newer moose-migrate wrote it.
 */
export async function openLedger(path: string, options: OpenLedgerOptions = {}): Promise<MirrorLedger> {
  const absolute = resolve(path);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", `busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
  }
  const connection = await openConnection(absolute, busyTimeoutMs, options.role === "mirror" ? "NORMAL" : "FULL");
  const context: Context = {
    connection,
    toolVersion: options.toolVersion ?? defaultToolVersion(),
    host: options.host ?? hostname(),
    now: options.now ?? (() => new Date()),
  };
  try {
    await migrateSchema(context);
  } catch (error) {
    await connection.close();
    throw error;
  }
  return new SqliteLedger(context);
}

interface Context {
  readonly connection: LedgerConnection;
  readonly toolVersion: string;
  readonly host: string;
  readonly now: () => Date;
}

async function migrateSchema(context: Context): Promise<void> {
  const { connection } = context;
  await connection.write("upgrading the ledger schema", async (db) => {
    await db.raw(SCHEMA_TABLE_DDL);
    const current = await currentSchemaVersion(db);
    if (current > LEDGER_SCHEMA_VERSION) {
      throw new RefusedError(
        "LEDGER_SCHEMA_TOO_NEW",
        `the migration ledger ${connection.path} has schema version ${current}, newer than the ${LEDGER_SCHEMA_VERSION} this moose-migrate (${context.toolVersion}) understands`,
        { hint: "upgrade moose-migrate to the version that last wrote this ledger" },
      );
    }
    for (const step of LEDGER_SCHEMA_STEPS) {
      if (step.version <= current) continue;
      for (const statement of step.statements) await db.raw(statement);
      await db.table("ledger_schema").insert({
        version: step.version,
        description: step.description,
        applied_at: context.now().toISOString(),
        tool_version: context.toolVersion,
      });
    }
  });
}

async function currentSchemaVersion(db: Db): Promise<number> {
  const rows = await db.raw<{ version: number | null }[]>("SELECT max(version) AS version FROM ledger_schema");
  return rows[0]?.version ?? 0;
}

// ------------------------------------------------------------------ validation

function requireText(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", `${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireStatements(value: unknown, what: string): readonly string[] {
  if (!Array.isArray(value) || !value.every((s) => typeof s === "string")) {
    throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", `${what} must be an array of strings`);
  }
  return value as readonly string[];
}

function requireTtl(ttlMs: unknown): number {
  if (typeof ttlMs !== "number" || !Number.isInteger(ttlMs) || ttlMs <= 0) {
    throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", `lock ttlMs must be a positive integer, got ${String(ttlMs)}`);
  }
  return ttlMs;
}

function validateBegin(m: BeginMigration): void {
  requireText(m.id, "migration id");
  requireText(m.fileName, "migration fileName");
  requireText(m.checksum, "migration checksum");
  requireText(m.checksumAlgorithm, "migration checksumAlgorithm");
  requireText(m.parentHash, "migration parentHash");
  requireText(m.resultHash, "migration resultHash");
  const stem = basename(m.fileName, extname(m.fileName));
  if (stem !== m.id) {
    throw new InvalidInputError(
      "LEDGER_INVALID_ARGUMENT",
      `migration id ${JSON.stringify(m.id)} must be its file name without the extension (${JSON.stringify(stem)} for ${m.fileName})`,
    );
  }
  if (!Number.isInteger(m.stepsTotal) || m.stepsTotal < 0) {
    throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", `migration ${m.id}: stepsTotal must be a non-negative integer, got ${String(m.stepsTotal)}`);
  }
}

// ------------------------------------------------------------------ implementation

class SqliteLedger implements MirrorLedger {
  readonly path: string;
  readonly authority = "local";
  readonly notices: readonly string[] = [];
  readonly #context: Context;

  constructor(context: Context) {
    this.#context = context;
    this.path = context.connection.path;
  }

  get #db(): LedgerConnection {
    return this.#context.connection;
  }

  #now(): string {
    return this.#context.now().toISOString();
  }

  now(): string {
    return this.#now();
  }

  async list(): Promise<MigrationRecord[]> {
    const rows = await this.#db.statement<MigrationRow>("listing migrations", "SELECT * FROM migrations ORDER BY id");
    return rows.map(migrationFromRow);
  }

  async get(id: string): Promise<MigrationRecord | undefined> {
    const [row] = await this.#db.statement<MigrationRow>(`reading migration ${id}`, "SELECT * FROM migrations WHERE id = ?", [id]);
    return row ? migrationFromRow(row) : undefined;
  }

  /** The values of INSERT_NEW_MIGRATION for migration `m`, begun at `now`. */
  #newMigrationRow(m: BeginMigration, now: string): SqlValue[] {
    return [m.id, m.fileName, m.checksum, m.checksumAlgorithm, m.parentHash, m.resultHash, m.stepsTotal, now, this.#context.toolVersion, this.#context.host];
  }

  async begin(m: BeginMigration, options: BeginOptions = {}): Promise<MigrationRecord> {
    validateBegin(m);
    const operation = `beginning migration ${m.id}`;
    // A migration never recorded (the common case) is one INSERT; a record that exists is
    // left untouched by it and goes through the checks below, in a transaction of their own.
    const [inserted] = await this.#db.statement<MigrationRow>(operation, INSERT_NEW_MIGRATION, this.#newMigrationRow(m, this.#now()));
    if (inserted) return migrationFromRow(inserted);
    return this.#db.write(operation, async (db) => {
      const existing = await findMigration(db, m.id);
      const now = this.#now();
      if (!existing) {
        await db.table("migrations").insert({
          id: m.id,
          file_name: m.fileName,
          checksum: m.checksum,
          checksum_algorithm: m.checksumAlgorithm,
          parent_hash: m.parentHash,
          result_hash: m.resultHash,
          status: "running",
          steps_applied: 0,
          steps_total: m.stepsTotal,
          error: null,
          failed_step: null,
          started_at: now,
          finished_at: null,
          duration_ms: null,
          attempts: 1,
          tool_version: this.#context.toolVersion,
          host: this.#context.host,
        });
        return migrationFromRow(await mustFindMigration(db, m.id));
      }
      if (existing.checksum !== m.checksum || existing.checksum_algorithm !== m.checksumAlgorithm) {
        throw checksumMismatch(existing, m);
      }
      if (existing.status === "applied") {
        throw new RefusedError("LEDGER_ALREADY_APPLIED", `migration ${m.id} is already applied (at ${existing.finished_at ?? existing.started_at})`, {
          hint: "skip migrations that `list()` reports as applied",
        });
      }
      if (existing.status === "running" && !options.resumeRunning) {
        throw new RefusedError(
          "LEDGER_MIGRATION_RUNNING",
          `migration ${m.id} is recorded as running since ${existing.started_at} on ${existing.host} (${existing.steps_applied} of ${existing.steps_total} steps applied)`,
          {
            hint: "another deploy may still be running it; if that process died, check the engine for a half-applied step, then resume it with `moose migrate deploy --resume-running`",
          },
        );
      }
      if (existing.steps_total !== m.stepsTotal) {
        throw new RefusedError(
          "LEDGER_STEPS_MISMATCH",
          `migration ${m.id} was recorded with ${existing.steps_total} steps but now has ${m.stepsTotal}, with the same checksum`,
          { hint: "the same file now plans differently (a different moose-migrate version?); resume it with the version that started it" },
        );
      }
      await db.table("migrations").where({ id: m.id }).update({
        status: "running",
        started_at: now,
        finished_at: null,
        duration_ms: null,
        attempts: existing.attempts + 1,
        tool_version: this.#context.toolVersion,
        host: this.#context.host,
      });
      return migrationFromRow(await mustFindMigration(db, m.id));
    });
  }

  async stepStarted(id: string, index: number, statements: readonly string[] = []): Promise<void> {
    requireStatements(statements, "statements");
    return this.#db.write(`starting step ${index} of migration ${id}`, async (db) => {
      await markStarted(db, id, index, statements, this.#now());
    });
  }

  async stepDone(id: string, index: number, statements: readonly string[], options: StepDoneOptions = {}): Promise<MigrationRecord> {
    requireStatements(statements, "statements");
    return this.#db.write(`recording step ${index} of migration ${id}`, async (db) => {
      // The guards are folded into the write: it records nothing unless the migration is running,
      // the index is in range and the step is not applied yet. Only then do the guards themselves
      // run, to say which of them refused.
      const now = this.#now();
      const recorded = Number.isInteger(index) && index >= 0 ? await db.all(RECORD_APPLIED_STEP, [id, index, JSON.stringify(statements), now]) : [];
      if (recorded.length === 0) {
        await requireStepNotApplied(db, await requireRunning(db, id, index), index);
        throw new Error(`ledger invariant: step ${index} of migration ${id} passed every guard but was not recorded`);
      }
      if (options.next !== undefined && !options.complete) {
        requireStatements(options.next.statements, "statements");
        await markStarted(db, id, options.next.index, options.next.statements, now);
      }
      if (options.complete) return completeCounted(db, id, now);
      const [migration] = await db.all<MigrationRow>(COUNT_APPLIED_STEPS, [id]);
      if (!migration) throw new Error(`ledger invariant: migration ${id} vanished inside its own transaction`);
      return migrationFromRow(migration);
    });
  }

  async completeAndBegin(id: string, index: number, statements: readonly string[], next: NextMigration, at?: string): Promise<CompletedAndBegun> {
    requireStatements(statements, "statements");
    validateBegin(next.migration);
    requireStatements(next.step.statements, "statements");
    const m = next.migration;
    return this.#db.write(`recording step ${index} of migration ${id} and beginning ${m.id}`, async (db) => {
      const now = at ?? this.#now();
      const [recorded] = Number.isInteger(index) && index >= 0 ? await db.all<StepRow>(RECORD_APPLIED_STEP, [id, index, JSON.stringify(statements), now]) : [];
      if (!recorded) {
        await requireStepNotApplied(db, await requireRunning(db, id, index), index);
        throw new Error(`ledger invariant: step ${index} of migration ${id} passed every guard but was not recorded`);
      }
      const completed = await completeCounted(db, id, now);
      const doneStep = stepFromRow(recorded);
      const [inserted] = await db.all<MigrationRow>(INSERT_NEW_MIGRATION, this.#newMigrationRow(m, now));
      if (!inserted) return { completed, begun: undefined, doneStep, startedStep: undefined };
      const started = await markStarted(db, m.id, next.step.index, next.step.statements, now);
      return { completed, begun: migrationFromRow(inserted), doneStep, startedStep: stepFromRow(started) };
    });
  }

  async stepFailed(id: string, index: number, error: string, statements?: readonly string[]): Promise<MigrationRecord> {
    if (typeof error !== "string") throw new InvalidInputError("LEDGER_INVALID_ARGUMENT", "the step error must be a string");
    if (statements !== undefined) requireStatements(statements, "statements");
    return this.#db.write(`recording the failure of step ${index} of migration ${id}`, async (db) => {
      const migration = await requireRunning(db, id, index);
      const step = await requireStepNotApplied(db, migration, index);
      const finishedAt = this.#now();
      await upsertStep(db, {
        migration_id: id,
        step_index: index,
        status: "failed",
        statements: statements ? JSON.stringify(statements) : (step?.statements ?? "[]"),
        started_at: await stepStart(db, migration, step),
        finished_at: finishedAt,
        error,
      });
      await db.table("migrations").where({ id }).update({
        status: migration.steps_applied > 0 ? "partially_applied" : "failed",
        error,
        failed_step: index,
        finished_at: finishedAt,
        duration_ms: durationMs(migration.started_at, finishedAt),
      });
      return migrationFromRow(await mustFindMigration(db, id));
    });
  }

  async complete(id: string): Promise<MigrationRecord> {
    return this.#db.write(`completing migration ${id}`, (db) => this.#complete(db, id));
  }

  async #complete(db: Db, id: string): Promise<MigrationRecord> {
    await requireRunning(db, id);
    return completeCounted(db, id, this.#now());
  }

  async stepsDone(id: string): Promise<number[]> {
    const rows = await this.#db.statement<{ step_index: number }>(`reading the steps of migration ${id}`, APPLIED_STEPS, [id]);
    return rows.map((r) => r.step_index);
  }

  async steps(id: string): Promise<StepRecord[]> {
    return this.#db.read(`reading the steps of migration ${id}`, async (db) => {
      const rows = (await db.table("migration_steps").select("*").where({ migration_id: id }).orderBy("step_index")) as StepRow[];
      return rows.map(stepFromRow);
    });
  }

  async discardFailed(id: string): Promise<MigrationRecord> {
    return this.#db.write(`discarding migration ${id}`, async (db) => {
      const migration = await requireMigration(db, id);
      if (migration.status !== "failed" && migration.status !== "partially_applied") {
        throw new RefusedError("LEDGER_NOT_DISCARDABLE", `migration ${id} is ${migration.status}; only failed or partially applied migrations can be discarded`);
      }
      await db.table("migration_steps").where({ migration_id: id }).delete();
      await db.table("migrations").where({ id }).delete();
      return migrationFromRow(migration);
    });
  }

  async adopt(m: BeginMigration): Promise<MigrationRecord> {
    validateBegin(m);
    return this.#db.write(`adopting migration ${m.id}`, async (db) => {
      const existing = await findMigration(db, m.id);
      if (existing) {
        throw new RefusedError("LEDGER_ALREADY_RECORDED", `migration ${m.id} is already recorded (${existing.status}); only new migrations can be adopted`);
      }
      const now = this.#now();
      await db.table("migrations").insert({
        id: m.id,
        file_name: m.fileName,
        checksum: m.checksum,
        checksum_algorithm: m.checksumAlgorithm,
        parent_hash: m.parentHash,
        result_hash: m.resultHash,
        status: "applied",
        steps_applied: m.stepsTotal,
        steps_total: m.stepsTotal,
        error: null,
        failed_step: null,
        started_at: now,
        finished_at: now,
        duration_ms: 0,
        attempts: 1,
        tool_version: this.#context.toolVersion,
        host: this.#context.host,
      });
      return migrationFromRow(await mustFindMigration(db, m.id));
    });
  }

  async replaceRecords(migrations: readonly MigrationRecord[], steps: readonly StepRecord[]): Promise<void> {
    await this.#db.write("replacing the mirrored records", async (db) => {
      await db.table("migration_steps").delete();
      await db.table("migrations").delete();
      for (const m of migrations) await db.table("migrations").insert(rowFromMigration(m));
      for (const step of steps) await db.table("migration_steps").insert(rowFromStep(step));
    });
  }

  async allSteps(): Promise<StepRecord[]> {
    return this.#db.read("reading every step", async (db) => {
      const rows = (await db.table("migration_steps").select("*").orderBy(["migration_id", "step_index"])) as StepRow[];
      return rows.map(stepFromRow);
    });
  }

  async meta(key: string): Promise<string | undefined> {
    const [row] = await this.#db.statement<{ value: string }>(`reading ${key}`, "SELECT value FROM ledger_meta WHERE key = ?", [key]);
    return row?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.#db.statement(`recording ${key}`, "INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
  }

  async forget(id: string): Promise<MigrationRecord | undefined> {
    return this.#db.write(`forgetting migration ${id}`, async (db) => {
      const migration = await findMigration(db, id);
      if (!migration) return undefined;
      await db.table("migration_steps").where({ migration_id: id }).delete();
      await db.table("migrations").where({ id }).delete();
      return migrationFromRow(migration);
    });
  }

  async acquireLock(owner: string, ttlMs: number): Promise<LockResult> {
    requireText(owner, "lock owner");
    requireTtl(ttlMs);
    // A waiting deploy learns that another live holder has the lock from a read (WAL readers take no
    // lock): polling it never takes SQLite's write lock, so the holder's ledger writes never queue
    // behind the waiters'. Anything else is decided again inside the write below.
    const seen = await this.#db.read("reading the migrate lock", findLock);
    if (seen && seen.owner !== owner && Date.parse(seen.expires_at) > this.#context.now().getTime() && !this.#holderGone(seen.owner)) {
      return { acquired: false, holder: holderFromRow(seen) } as const;
    }
    return this.#db.write("acquiring the migrate lock", async (db) => {
      const now = this.#context.now();
      const current = await findLock(db);
      const mine = { owner, acquired_at: now.toISOString(), expires_at: new Date(now.getTime() + ttlMs).toISOString() };
      if (!current) {
        await db.table("migrate_lock").insert({ name: LOCK_NAME, ...mine });
        return { acquired: true, holder: holderFromRow(mine) } as const;
      }
      if (current.owner === owner) {
        const renewed = { ...mine, acquired_at: current.acquired_at };
        await db.table("migrate_lock").where({ name: LOCK_NAME }).update({ expires_at: renewed.expires_at });
        return { acquired: true, holder: holderFromRow(renewed) } as const;
      }
      if (Date.parse(current.expires_at) <= now.getTime() || this.#holderGone(current.owner)) {
        await db.table("migrate_lock").where({ name: LOCK_NAME, owner: current.owner }).update(mine);
        return { acquired: true, holder: holderFromRow(mine), takenOverFrom: holderFromRow(current) } as const;
      }
      return { acquired: false, holder: holderFromRow(current) } as const;
    });
  }

  /** A holder on this host (`host:pid:…`, as deploy names itself) whose process is gone: its lock is taken over at once. */
  #holderGone(owner: string): boolean {
    const [host, pid] = owner.split(":");
    if (host !== this.#context.host || pid === undefined || !/^\d+$/.test(pid) || Number(pid) === process.pid) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ESRCH";
    }
  }

  async renewLock(owner: string, ttlMs: number): Promise<RenewResult> {
    requireText(owner, "lock owner");
    requireTtl(ttlMs);
    return this.#db.write("renewing the migrate lock", async (db) => {
      const current = await findLock(db);
      // An expired lock nobody took over is still ours: nothing else can have run.
      if (!current || current.owner !== owner) {
        return { renewed: false, holder: current ? holderFromRow(current) : undefined } as const;
      }
      const expiresAt = new Date(this.#context.now().getTime() + ttlMs).toISOString();
      await db.table("migrate_lock").where({ name: LOCK_NAME, owner }).update({ expires_at: expiresAt });
      return { renewed: true, holder: holderFromRow({ ...current, expires_at: expiresAt }) } as const;
    });
  }

  async releaseLock(owner: string): Promise<boolean> {
    requireText(owner, "lock owner");
    return this.#db.write("releasing the migrate lock", async (db) => {
      const deleted = await db.table("migrate_lock").where({ name: LOCK_NAME, owner }).delete();
      return deleted > 0;
    });
  }

  async forceUnlock(): Promise<LockHolder | undefined> {
    return this.#db.write("force-unlocking the migrate lock", async (db) => {
      const current = await findLock(db);
      if (current) await db.table("migrate_lock").where({ name: LOCK_NAME }).delete();
      return current ? holderFromRow(current) : undefined;
    });
  }

  async lockHolder(): Promise<LockHolder | undefined> {
    return this.#db.read("reading the migrate lock", async (db) => {
      const current = await findLock(db);
      return current ? holderFromRow(current) : undefined;
    });
  }

  async schemaVersion(): Promise<number> {
    return this.#db.read("reading the ledger schema version", currentSchemaVersion);
  }

  async close(): Promise<void> {
    return this.#db.close();
  }
}

// ------------------------------------------------------------------ queries

async function findMigration(db: Db, id: string): Promise<MigrationRow | undefined> {
  return (await db.table("migrations").where({ id }).first()) as MigrationRow | undefined;
}

async function mustFindMigration(db: Db, id: string): Promise<MigrationRow> {
  const row = await findMigration(db, id);
  if (!row) throw new Error(`ledger invariant: migration ${id} vanished inside its own transaction`);
  return row;
}

async function requireMigration(db: Db, id: string): Promise<MigrationRow> {
  const row = await findMigration(db, id);
  if (!row) {
    throw new InvalidInputError("LEDGER_UNKNOWN_MIGRATION", `migration ${id} is not in the ledger`, { hint: "call begin() first" });
  }
  return row;
}

async function requireRunning(db: Db, id: string, stepIndex?: number): Promise<MigrationRow> {
  const row = await requireMigration(db, id);
  if (row.status !== "running") {
    throw new RefusedError("LEDGER_NOT_RUNNING", `migration ${id} is ${row.status}, not running`, { hint: "call begin() to start or resume it" });
  }
  if (stepIndex !== undefined && (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= row.steps_total)) {
    throw new InvalidInputError(
      "LEDGER_STEP_OUT_OF_RANGE",
      `migration ${id} has steps 0 to ${row.steps_total - 1}; there is no step ${String(stepIndex)}`,
    );
  }
  return row;
}

/**
 * Marks a running migration applied, counting its applied steps in the same statement; when a
 * step is missing it throws, and the caller's transaction rolls the statement back.
 */
async function completeCounted(db: Db, id: string, finishedAt: string): Promise<MigrationRecord> {
  const [migration] = await db.all<MigrationRow>(COUNT_AND_COMPLETE, [id, finishedAt]);
  if (!migration) throw new Error(`ledger invariant: migration ${id} vanished inside its own transaction`);
  if (migration.steps_applied !== migration.steps_total) {
    const done = new Set(await appliedSteps(db, id));
    const missing = Array.from({ length: migration.steps_total }, (_, i) => i).filter((i) => !done.has(i));
    throw new RefusedError(
      "LEDGER_STEPS_INCOMPLETE",
      `migration ${id} cannot be completed: ${migration.steps_applied} of ${migration.steps_total} steps are applied (missing: ${missing.join(", ")})`,
      { hint: "record every step with stepDone before complete" },
    );
  }
  return migrationFromRow(migration);
}

async function findStep(db: Db, id: string, index: number): Promise<StepRow | undefined> {
  return (await db.table("migration_steps").where({ migration_id: id, step_index: index }).first()) as StepRow | undefined;
}

async function requireStepNotApplied(db: Db, migration: MigrationRow, index: number): Promise<StepRow | undefined> {
  const step = await findStep(db, migration.id, index);
  if (step?.status === "applied") {
    throw new RefusedError("LEDGER_STEP_ALREADY_APPLIED", `step ${index} of migration ${migration.id} is already applied (at ${step.finished_at ?? step.started_at})`, {
      hint: "a resumed run skips the steps stepsDone() returns",
    });
  }
  return step;
}

/**
 * Marks step `index` running, in one prepared statement that writes only when the
 * migration is running, the index in range and the step not applied; otherwise the
 * guards run to say which refused.
 */
/** The step's row as marked. */
async function markStarted(db: Db, id: string, index: number, statements: readonly string[], now: string): Promise<StepRow> {
  const [marked] = Number.isInteger(index) && index >= 0 ? await db.all<StepRow>(MARK_STEP_STARTED, [id, index, JSON.stringify(statements), now]) : [];
  if (marked) return marked;
  await requireStepNotApplied(db, await requireRunning(db, id, index), index);
  throw new Error(`ledger invariant: step ${index} of migration ${id} passed every guard but was not marked started`);
}

/** `?1`–`?4`: migration id, step index, statements (JSON), now. */
const MARK_STEP_STARTED = `INSERT INTO migration_steps (migration_id, step_index, status, statements, started_at, finished_at, error)
  SELECT m.id, ?2, 'running', ?3, ?4, NULL, NULL
  FROM migrations m
  WHERE m.id = ?1 AND m.status = 'running' AND ?2 < m.steps_total
  ON CONFLICT (migration_id, step_index) DO UPDATE SET
    status = 'running', statements = excluded.statements, started_at = excluded.started_at, finished_at = NULL, error = NULL
    WHERE migration_steps.status <> 'applied'
  RETURNING *`;

async function upsertStep(db: Db, row: StepRow): Promise<void> {
  await db.table("migration_steps").insert(row).onConflict(["migration_id", "step_index"]).merge();
}

const APPLIED_STEPS = "SELECT step_index FROM migration_steps WHERE migration_id = ? AND status = 'applied' ORDER BY step_index";

async function appliedSteps(db: Db, id: string): Promise<number[]> {
  const rows = await db.all<{ step_index: number }>(APPLIED_STEPS, [id]);
  return rows.map((r) => r.step_index);
}

/** `begin` of a migration with no record: `?1`–`?10` are id, file name, checksum, algorithm, parent, result, steps, now, tool version, host. */
const INSERT_NEW_MIGRATION = `INSERT INTO migrations
  (id, file_name, checksum, checksum_algorithm, parent_hash, result_hash, status, steps_applied, steps_total, error, failed_step, started_at, finished_at, duration_ms, attempts, tool_version, host)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', 0, ?7, NULL, NULL, ?8, NULL, NULL, 1, ?9, ?10)
  ON CONFLICT (id) DO NOTHING
  RETURNING *`;

/**
 * `stepDone` as one statement (`?1` migration id, `?2` step index, `?3` statements, `?4` now): a row
 * only when the migration is running, the index is in range and the step is not applied yet (the
 * guards `requireRunning` and `requireStepNotApplied` apply). The step's start is `stepStart`'s.
 */
const RECORD_APPLIED_STEP = `INSERT INTO migration_steps (migration_id, step_index, status, statements, started_at, finished_at, error)
  SELECT m.id, ?2, 'applied', ?3,
    coalesce(
      (SELECT s.started_at FROM migration_steps s WHERE s.migration_id = m.id AND s.step_index = ?2 AND s.status = 'running' AND s.started_at >= m.started_at),
      (SELECT max(s.finished_at) FROM migration_steps s WHERE s.migration_id = m.id AND s.status = 'applied' AND s.finished_at >= m.started_at),
      m.started_at
    ),
    ?4, NULL
  FROM migrations m
  WHERE m.id = ?1 AND m.status = 'running' AND ?2 < m.steps_total
  ON CONFLICT (migration_id, step_index) DO UPDATE SET
    status = excluded.status, statements = excluded.statements, started_at = excluded.started_at, finished_at = excluded.finished_at, error = excluded.error
    WHERE migration_steps.status <> 'applied'
  RETURNING *`;

const COUNT_APPLIED = `(SELECT count(*) FROM migration_steps WHERE migration_id = ?1 AND status = 'applied')`;

const COUNT_APPLIED_STEPS = `UPDATE migrations SET steps_applied = ${COUNT_APPLIED} WHERE id = ?1 RETURNING *`;

/**
 * `?1` migration id, `?2` now. The duration is `durationMs(started_at, now)`: SQLite keeps
 * times as whole milliseconds, so the difference of two julian days rounds back exactly.
 */
const COUNT_AND_COMPLETE = `UPDATE migrations SET
    steps_applied = ${COUNT_APPLIED},
    status = 'applied', error = NULL, failed_step = NULL, finished_at = ?2,
    duration_ms = max(0, CAST(round((julianday(?2) - julianday(started_at)) * 86400000) AS INTEGER))
  WHERE id = ?1
  RETURNING *`;

/**
 * When a step started: as recorded by `stepStarted`, else when the previous step of
 * this attempt finished, else when the attempt started. The deployer runs steps
 * one after another, so the gap between two ledger writes is the step's run time.
 */
async function stepStart(db: Db, migration: MigrationRow, step: StepRow | undefined): Promise<string> {
  if (step?.status === "running" && step.started_at >= migration.started_at) return step.started_at;
  const rows = await db.raw<{ t: string | null }[]>(
    "SELECT max(finished_at) AS t FROM migration_steps WHERE migration_id = ? AND status = 'applied' AND finished_at >= ?",
    [migration.id, migration.started_at],
  );
  return rows[0]?.t ?? migration.started_at;
}

async function findLock(db: Db): Promise<LockRow | undefined> {
  return (await db.table("migrate_lock").select("owner", "acquired_at", "expires_at").where({ name: LOCK_NAME }).first()) as LockRow | undefined;
}

function durationMs(startedAt: string, finishedAt: string): number {
  return Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt));
}

function checksumMismatch(existing: MigrationRow, m: BeginMigration): RefusedError {
  const recorded = `${existing.checksum_algorithm}:${existing.checksum}`;
  const now = `${m.checksumAlgorithm}:${m.checksum}`;
  const hint =
    existing.status === "applied"
      ? "an applied migration must not be edited: restore the file and put further changes in a new migration"
      : existing.status === "running"
        ? "the file changed while it was being applied: restore it"
        : `restore the file to resume the ${existing.status.replace("_", " ")} migration; to run the edited file instead, first revert what it applied (if anything) and discard the failed record`;
  return new RefusedError(
    "LEDGER_CHECKSUM_MISMATCH",
    `migration ${m.id} (${existing.file_name}) is recorded as ${existing.status} with checksum ${recorded}, but ${m.fileName} now has checksum ${now}`,
    { hint, details: [`recorded: ${recorded}`, `file:     ${now}`] },
  );
}
