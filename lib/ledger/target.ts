import { hostname } from "node:os";
import { EngineError } from "../errors.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { LEDGER_LOG_TABLE, LedgerStore, type LedgerLogRow, type LockEvent } from "../engines/olap/ledger-store.js";
import type { BeginMigration, BeginOptions, CompletedAndBegun, Ledger, MirrorLedger, NextMigration, StepDoneOptions } from "./ledger.js";
import type { LockHolder, LockResult, MigrationRecord, RenewResult, StepRecord } from "./records.js";

/**
 * The ledger of a ClickHouse server target, kept in the target: every runner that
 * deploys to the database sees the same records and the same lock, however fresh its
 * checkout.
 *
 * - **Records**: an append-only log, `_moose_ledger`, one row per ledger write with the
 *   migration's record (and the step's) as they are after it: plain INSERTs, which every
 *   server version makes atomic. The records are the last row per migration (and per
 *   step) by `seq`; `discard` and `forget` rows remove them. Readable with plain SQL:
 *   `SELECT seq, at, op, migration_id, step_index FROM _moose_ledger ORDER BY seq` (ALIAS
 *   columns of the stored `record`: lib/engines/olap/ledger-store.ts says why).
 * - **Mirror**: the local `.moose/ledger.sqlite` holds a copy, replaced by the target's
 *   records whenever the ledger is opened or the lock taken; every write goes to the
 *   mirror first (its rules refuse what may not happen) and then to the target. The
 *   target wins: a local record the target lacks is reported, never pushed — except once,
 *   for a project deployed before its ledger moved to the target (a local file that
 *   mirrors nothing yet, and a target with no ledger), which is uploaded with a notice.
 * - **Lock**: generations of a table, `_moose_lock_<n>`. `CREATE TABLE` without `IF NOT
 *   EXISTS` succeeds for exactly one caller on every server version, so taking the lock is
 *   creating generation n+1 when generation n is free (released) or stale (no heartbeat
 *   for the lock's time to live, or its holder's process gone on this host). The holder
 *   appends heartbeat rows; releasing appends a `release` row. Old generations are dropped.
 * - **Cluster**: with `cluster`, both are cluster-wide (replicated, created ON CLUSTER); see
 *   lib/engines/olap/ledger-store.ts, which holds all of this ledger's SQL.
 */

export { LEDGER_LOG_TABLE } from "../engines/olap/ledger-store.js";
/** A lock generation with no holder row yet is being created: taken over only after this long. */
const CREATING_GRACE_S = 30;
/** A time to live for reading who holds the lock whatever its heartbeat (100 years). */
const FOREVER_MS = 100 * 365 * 24 * 3600 * 1000;

export interface TargetLedgerOptions {
  /** Written on lock rows; defaults to `os.hostname()` and `process.pid`. */
  readonly host?: string;
  readonly pid?: number;
  /** Whether a process of this host is alive (tests inject one). */
  readonly isAlive?: (pid: number) => boolean;
  /** The cluster to keep the ledger and the lock on (the first `[[clickhouse_config.clusters]]`). */
  readonly cluster?: string;
}

/**
 * Opens the ledger kept in `olap`'s database, with `mirror` (the local SQLite ledger) as
 * its offline copy; `olap` is closed with the ledger.
 */
export async function openTargetLedger(olap: OlapEngine, mirror: MirrorLedger, options: TargetLedgerOptions = {}): Promise<Ledger> {
  const ledger = new TargetLedger(olap, mirror, options);
  try {
    await ledger.open();
  } catch (error) {
    await mirror.close();
    await olap.close();
    throw error;
  }
  return ledger;
}

class TargetLedger implements Ledger {
  readonly path: string;
  readonly authority: string;
  readonly notices: string[] = [];
  #seq = 0;
  /** The ids the target has records of, as last read and written by this process. */
  readonly #ids = new Set<string>();
  /**
   * What the last {@link completeAndBegin} wrote of the migration it began, while no other
   * write has followed: the state the next one starts from (see {@link #predict}).
   */
  #handed: { readonly begun: MigrationRecord; readonly started: StepRecord } | undefined;
  readonly #host: string;
  readonly #pid: number;
  readonly #isAlive: (pid: number) => boolean;
  readonly #store: LedgerStore;

  constructor(
    private readonly olap: OlapEngine,
    private readonly mirror: MirrorLedger,
    options: TargetLedgerOptions,
  ) {
    this.path = mirror.path;
    this.#store = new LedgerStore(olap, options.cluster);
    this.authority = this.#store.authority;
    this.#host = options.host ?? hostname();
    this.#pid = options.pid ?? process.pid;
    this.#isAlive = options.isAlive ?? processAlive;
  }

  async open(): Promise<void> {
    const existed = await this.#store.ensureLog();
    const mirrored = await this.mirror.meta("mirror_of");
    const local = await this.mirror.list();
    if (mirrored === undefined && !existed && local.length > 0) {
      // A project deployed before the ledger moved to the target: its history goes up once.
      await this.#upload(local, await this.mirror.allSteps());
      this.notices.push(
        `uploaded ${local.length} migration record${local.length === 1 ? "" : "s"} from ${this.mirror.path} to ${LEDGER_LOG_TABLE} in database ${this.olap.database}: the target's ledger is authoritative from now on`,
      );
    }
    await this.mirror.setMeta("mirror_of", this.authority);
    await this.refresh(mirrored === this.authority);
  }

  /**
   * Replaces the mirror's records with the target's. A local record the target lacks (or
   * holds differently) is reported in `notices`, never pushed; `compareLocal: false` skips
   * that (a file that mirrored another target, or nothing).
   */
  async refresh(compareLocal = true): Promise<void> {
    const rows = await this.#store.readLog();
    const migrations = new Map<string, MigrationRecord>();
    const steps = new Map<string, StepRecord>();
    for (const row of rows) {
      this.#seq = Math.max(this.#seq, Number(row.seq_text));
      // `republish` of a whole migration (step -1) replaces it and its steps: those follow it.
      if (row.op === "discard" || row.op === "forget" || (row.op === "republish" && row.step_index === -1)) {
        migrations.delete(row.migration_id);
        for (const key of [...steps.keys()]) if (key.startsWith(`${row.migration_id}\u0000`)) steps.delete(key);
        if (row.op !== "republish") continue;
      }
      if (row.migration !== undefined) migrations.set(row.migration_id, row.migration as MigrationRecord);
      if (row.step !== undefined) steps.set(`${row.migration_id}\u0000${String(row.step_index).padStart(8, "0")}`, row.step as StepRecord);
    }
    this.#handed = undefined;
    this.#ids.clear();
    for (const id of migrations.keys()) this.#ids.add(id);
    if (compareLocal) {
      const target = new Map([...migrations.values()].map((m) => [m.id, JSON.stringify(m)]));
      for (const local of await this.mirror.list()) {
        if (!target.has(local.id)) this.notices.push(`the local mirror ${this.mirror.path} has a record of ${local.id} (${local.status}) that the target's ledger lacks; the target wins (the record is not pushed)`);
      }
    }
    await this.mirror.replaceRecords(
      [...migrations.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      [...steps.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, s]) => s),
    );
  }

  async #upload(migrations: readonly MigrationRecord[], steps: readonly StepRecord[]): Promise<void> {
    const rows = [
      ...migrations.map((m) => this.#row("upload", m.id, -1, m, undefined)),
      ...steps.map((s) => this.#row("upload", s.migrationId, s.index, undefined, s)),
    ];
    await this.#store.append(rows);
  }

  #row(op: string, id: string, stepIndex: number, migration: MigrationRecord | undefined, step: StepRecord | undefined): LedgerLogRow {
    this.#seq += 1;
    return {
      seq: this.#seq,
      at: new Date().toISOString(),
      op,
      migration_id: id,
      step_index: stepIndex,
      migration,
      step,
      host: this.#host,
      tool_version: migration?.toolVersion ?? "",
    };
  }

  /** Writes the mirror's record of `id` (and its step `index`, and a step marked started with it) as they are now to the target, in one INSERT. */
  async #publish(op: string, id: string, index?: number, started?: number): Promise<void> {
    const migration = await this.mirror.get(id);
    const steps = index === undefined ? [] : await this.mirror.steps(id);
    const rows = [this.#row(op, id, index ?? -1, migration, steps.find((s) => s.index === index))];
    if (started !== undefined) rows.push(this.#row("step_started", id, started, migration, steps.find((s) => s.index === started)));
    await this.#store.append(rows);
  }

  // ---------------------------------------------------------------- records

  /** The target's records, read now (a long-lived process such as `moose prod` sees later deploys). */
  async list(): Promise<MigrationRecord[]> {
    await this.refresh(false);
    return this.mirror.list();
  }

  get(id: string): Promise<MigrationRecord | undefined> {
    return this.mirror.get(id);
  }

  async begin(m: BeginMigration, options?: BeginOptions): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.begin(m, options);
    this.#ids.add(m.id);
    await this.#publish("begin", m.id);
    return record;
  }

  async stepStarted(id: string, index: number, statements?: readonly string[]): Promise<void> {
    this.#handed = undefined;
    await this.mirror.stepStarted(id, index, statements);
    await this.#publish("step_started", id, index);
  }

  async stepDone(id: string, index: number, statements: readonly string[], options?: StepDoneOptions): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.stepDone(id, index, statements, options);
    await this.#publish("step_done", id, index, options?.next && !options.complete ? options.next.index : undefined);
    return record;
  }

  /**
   * One INSERT for both: the step done and the migration completed, then the next one begun
   * with its step started. Between two single-step migrations of one deploy (the migration
   * this ledger began last, nothing written since) the records are known before the mirror
   * writes them, so the INSERT and the mirror's write run side by side; the mirror's records
   * are still the ones returned, and any that differ from the INSERT's are written again.
   * A crash between the two leaves what a crash between two sequential writes leaves: the
   * target's records win when the ledger is next opened.
   */
  async completeAndBegin(id: string, index: number, statements: readonly string[], next: NextMigration): Promise<{ completed: MigrationRecord; begun: MigrationRecord | undefined }> {
    const at = this.mirror.now();
    const predicted = this.#predict(id, index, statements, next, at);
    this.#handed = undefined;
    if (!predicted) {
      // The step records come back from the mirror's write: no read of the mirror between two migrations.
      const written = await this.mirror.completeAndBegin(id, index, statements, next, at);
      await this.#store.append(this.#handoffRows(id, index, next, written));
      return this.#handedOn(written);
    }
    const [mirrored, inserted] = await Promise.allSettled([this.mirror.completeAndBegin(id, index, statements, next, at), this.#store.append(this.#handoffRows(id, index, next, predicted))]);
    if (mirrored.status === "rejected") {
      // The mirror refused what the target may now have: put the mirror's records back in the
      // target (if that fails too, the target's records win at the next refresh, as after a
      // crash between the two writes) and report the mirror's error.
      if (inserted.status === "fulfilled") await this.#republish(id, next.migration.id).catch(() => undefined);
      throw mirrored.reason;
    }
    if (inserted.status === "rejected") throw inserted.reason;
    const written = mirrored.value;
    const same = (["completed", "begun", "doneStep", "startedStep"] as const).every((k) => JSON.stringify(written[k]) === JSON.stringify(predicted[k]));
    if (!same) await this.#republish(id, next.migration.id);
    return this.#handedOn(written);
  }

  /** The three rows of one handoff: step done (the migration completed), the next migration begun, its step started. */
  #handoffRows(id: string, index: number, next: NextMigration, written: CompletedAndBegun): LedgerLogRow[] {
    const rows = [this.#row("step_done", id, index, written.completed, written.doneStep)];
    if (written.begun) {
      rows.push(this.#row("begin", next.migration.id, -1, written.begun, undefined));
      rows.push(this.#row("step_started", next.migration.id, next.step.index, written.begun, written.startedStep));
    }
    return rows;
  }

  #handedOn(written: CompletedAndBegun): { completed: MigrationRecord; begun: MigrationRecord | undefined } {
    if (written.begun && written.startedStep) {
      this.#ids.add(written.begun.id);
      this.#handed = { begun: written.begun, started: written.startedStep };
    }
    return { completed: written.completed, begun: written.begun };
  }

  /**
   * What the mirror's `completeAndBegin` will write at `at`, when this process wrote the state
   * it starts from: `id` is the single-step migration the last handoff began, its step `index`
   * marked started, and `next` has no record. Undefined otherwise (the mirror is asked first).
   */
  #predict(id: string, index: number, statements: readonly string[], next: NextMigration, at: string): CompletedAndBegun | undefined {
    const handed = this.#handed;
    const m = next.migration;
    // `republish` rows exist only in the record layout (an earlier moose-migrate, reading the
    // first layout, would misread them): there the mirror is asked first, as before.
    if (this.#store.layout !== "record") return undefined;
    if (!handed || handed.begun.id !== id || handed.started.index !== index || index !== 0 || handed.begun.stepsTotal !== 1) return undefined;
    if (this.#ids.has(m.id) || next.step.index < 0 || next.step.index >= m.stepsTotal) return undefined;
    const begun = handed.begun;
    return {
      completed: Object.freeze({
        ...begun,
        status: "applied",
        stepsApplied: 1,
        error: null,
        failedStep: null,
        finishedAt: at,
        durationMs: Math.max(0, Date.parse(at) - Date.parse(begun.startedAt)),
      }),
      doneStep: Object.freeze({ ...handed.started, status: "applied", statements: Object.freeze([...statements]), finishedAt: at, error: null }),
      begun: Object.freeze({
        id: m.id,
        fileName: m.fileName,
        checksum: m.checksum,
        checksumAlgorithm: m.checksumAlgorithm,
        parentHash: m.parentHash,
        resultHash: m.resultHash,
        status: "running",
        stepsApplied: 0,
        stepsTotal: m.stepsTotal,
        error: null,
        failedStep: null,
        startedAt: at,
        finishedAt: null,
        durationMs: null,
        attempts: 1,
        toolVersion: begun.toolVersion,
        host: begun.host,
      }),
      startedStep: Object.freeze({ migrationId: m.id, index: next.step.index, status: "running", statements: Object.freeze([...next.step.statements]), startedAt: at, finishedAt: null, error: null }),
    };
  }

  /**
   * Writes the mirror's records of `ids` to the target again, in one INSERT: each migration's
   * `republish` row replaces its record and drops its steps (none, when the mirror has no
   * record), and its steps' rows follow.
   */
  async #republish(...ids: string[]): Promise<void> {
    const rows: LedgerLogRow[] = [];
    for (const id of ids) {
      const migration = await this.mirror.get(id);
      rows.push(this.#row("republish", id, -1, migration, undefined));
      if (!migration) this.#ids.delete(id);
      else for (const step of await this.mirror.steps(id)) rows.push(this.#row("republish", id, step.index, migration, step));
    }
    await this.#store.append(rows);
  }

  async stepFailed(id: string, index: number, error: string, statements?: readonly string[]): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.stepFailed(id, index, error, statements);
    await this.#publish("step_failed", id, index);
    return record;
  }

  async complete(id: string): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.complete(id);
    await this.#publish("complete", id);
    return record;
  }

  stepsDone(id: string): Promise<number[]> {
    return this.mirror.stepsDone(id);
  }

  steps(id: string): Promise<StepRecord[]> {
    return this.mirror.steps(id);
  }

  async discardFailed(id: string): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.discardFailed(id);
    this.#ids.delete(id);
    await this.#store.append([this.#row("discard", id, -1, undefined, undefined)]);
    return record;
  }

  async adopt(m: BeginMigration): Promise<MigrationRecord> {
    this.#handed = undefined;
    const record = await this.mirror.adopt(m);
    this.#ids.add(m.id);
    await this.#publish("adopt", m.id);
    return record;
  }

  async forget(id: string): Promise<MigrationRecord | undefined> {
    this.#handed = undefined;
    const record = await this.mirror.forget(id);
    this.#ids.delete(id);
    if (record) await this.#store.append([this.#row("forget", id, -1, undefined, undefined)]);
    return record;
  }

  schemaVersion(): Promise<number> {
    return this.mirror.schemaVersion();
  }

  async close(): Promise<void> {
    try {
      await this.mirror.close();
    } finally {
      await this.olap.close();
    }
  }

  // ---------------------------------------------------------------- lock

  /** The newest lock generation and what its rows say, or undefined when there is none. */
  async #current(ttlMs: number): Promise<Generation | undefined> {
    const generations = (await this.#store.lockGenerations()).sort((a, b) => b.n - a.n);
    const top = generations[0];
    if (!top) return undefined;
    // Undefined: dropped between the two reads, a newer generation exists; the caller retries.
    const rows = await this.#store.lockRows(top.n);
    if (rows === undefined) return { n: top.n, state: "gone", older: generations.slice(1).map((g) => g.n) };
    const acquire = rows.find((r) => r.event === "acquire");
    const older = generations.slice(1).map((g) => g.n);
    if (!acquire) return { n: top.n, state: top.age >= CREATING_GRACE_S ? "stale" : "creating", older };
    const lastBeat = rows.filter((r) => r.event !== "release").reduce((least, r) => Math.min(least, Number(r.ago)), Infinity);
    const holder: LockHolder = Object.freeze({
      owner: acquire.owner,
      acquiredAt: isoOf(acquire.at),
      expiresAt: new Date(Date.now() - lastBeat * 1000 + Math.min(ttlMs, FOREVER_MS)).toISOString(),
    });
    const base = { n: top.n, older, holder, host: acquire.host, pid: Number(acquire.pid) };
    if (rows.some((r) => r.event === "release")) return { ...base, state: "released" };
    if (acquire.host === this.#host && !this.#isAlive(Number(acquire.pid)) && Number(acquire.pid) !== this.#pid) return { ...base, state: "stale" };
    return { ...base, state: lastBeat * 1000 >= ttlMs ? "stale" : "held" };
  }

  async acquireLock(owner: string, ttlMs: number): Promise<LockResult> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.#current(ttlMs);
      if (current?.state === "gone") continue;
      if (current && current.holder && current.state === "held") {
        if (current.holder.owner !== owner) return { acquired: false, holder: current.holder };
        await this.#beat(current.n, owner);
        return { acquired: true, holder: { ...current.holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() } };
      }
      if (current?.state === "creating") return { acquired: false, holder: { owner: "(a runner taking the lock)", acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + CREATING_GRACE_S * 1000).toISOString() } };
      const next = (current?.n ?? 0) + 1;
      // False: another runner created this generation first and holds the lock.
      if (!(await this.#store.createLockGeneration(next, this.#event("acquire", owner)))) continue;
      // The lock is ours: the ledger as the previous holder left it, and old generations go.
      for (const n of [...(current?.older ?? []), ...(current ? [current.n] : [])]) {
        await this.#store.dropLockGeneration(n).catch(() => undefined);
      }
      await this.refresh();
      const now = new Date();
      const holder: LockHolder = Object.freeze({ owner, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttlMs).toISOString() });
      return current?.state === "stale" && current.holder ? { acquired: true, holder, takenOverFrom: current.holder } : { acquired: true, holder };
    }
    const current = await this.#current(ttlMs);
    if (current?.holder) return { acquired: false, holder: current.holder };
    throw new EngineError("DEPLOY_LOCK_UNAVAILABLE", `could not take the migration lock in database ${this.olap.database}: it changed hands on every attempt`, {
      hint: "retry; if it persists, look at the _moose_lock_* tables in the database",
    });
  }

  #event(event: LockEvent["event"], owner: string): LockEvent {
    return { event, owner, host: this.#host, pid: this.#pid };
  }

  async #beat(n: number, owner: string): Promise<void> {
    await this.#store.appendLockEvent(n, this.#event("heartbeat", owner));
  }

  async renewLock(owner: string, ttlMs: number): Promise<RenewResult> {
    const current = await this.#current(ttlMs);
    if (!current?.holder || current.holder.owner !== owner || current.state === "released") {
      return { renewed: false, holder: current?.holder };
    }
    await this.#beat(current.n, owner);
    return { renewed: true, holder: { ...current.holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() } };
  }

  async releaseLock(owner: string): Promise<boolean> {
    const current = await this.#current(FOREVER_MS);
    if (!current?.holder || current.holder.owner !== owner || current.state === "released") return false;
    await this.#store.appendLockEvent(current.n, this.#event("release", owner));
    return true;
  }

  async forceUnlock(): Promise<LockHolder | undefined> {
    const current = await this.#current(FOREVER_MS);
    if (!current || current.state === "released" || current.state === "gone") return undefined;
    await this.#store.appendLockEvent(current.n, this.#event("release", "moose migrate unlock"));
    return current.holder;
  }

  async lockHolder(): Promise<LockHolder | undefined> {
    const current = await this.#current(FOREVER_MS);
    return current && current.state !== "released" ? current.holder : undefined;
  }
}

type Generation =
  | { readonly n: number; readonly state: "gone" | "creating" | "stale"; readonly older: readonly number[]; readonly holder?: undefined }
  | {
      readonly n: number;
      readonly state: "held" | "stale" | "released";
      readonly older: readonly number[];
      readonly holder: LockHolder;
      readonly host: string;
      readonly pid: number;
    };

/** `2026-12-03 07:01:02` (the server's time zone is assumed UTC) as ISO. */
function isoOf(serverTime: string): string {
  const parsed = Date.parse(`${serverTime.replace(" ", "T")}Z`);
  return Number.isNaN(parsed) ? serverTime : new Date(parsed).toISOString();
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
