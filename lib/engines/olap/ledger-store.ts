import { EngineError, RefusedError } from "../../errors.js";
import { onCluster } from "./cluster.js";
import type { OlapEngine } from "./engine.js";
import { MOOSE_INTERNAL_PREFIX } from "./introspect.js";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/**
 * The ClickHouse side of the ledger kept in the target (lib/ledger/target.ts): the
 * append-only log `_moose_ledger` and the lock's generation tables `_moose_lock_<n>`.
 * The ledger decides what to write; this is the only place its SQL is written.
 *
 * On a cluster (`cluster` set: the first `[[clickhouse_config.clusters]]` entry) both are
 * made cluster-wide, so a runner pointed at any replica sees the same records and lock:
 * - the log is a ReplicatedMergeTree created ON CLUSTER: every INSERT reaches every replica,
 *   and a reader first catches up (`SYSTEM SYNC REPLICA`), so it sees every row written
 *   before it read;
 * - a lock generation is a ReplicatedMergeTree created ON CLUSTER without IF NOT EXISTS.
 *   Distributed DDL is one queue in ZooKeeper that every host runs in the same order, so
 *   of two runners creating generation n at once (through different replicas) the one
 *   whose task is queued first succeeds on every host and the other fails on every host:
 *   ZooKeeper's ordering is the atomic step. Its rows (acquire, heartbeats, release)
 *   replicate like the log's.
 */

export const LEDGER_LOG_TABLE = `${MOOSE_INTERNAL_PREFIX}ledger`;
export const LOCK_PREFIX = `${MOOSE_INTERNAL_PREFIX}lock_`;

/** One write of the log: the migration's record (and the step's) as they are after it. */
export interface LedgerLogRow {
  readonly seq: number;
  readonly at: string;
  readonly op: string;
  readonly migration_id: string;
  readonly step_index: number;
  /** The migration's record after the write (a plain JSON object), when the write has one. */
  readonly migration: object | undefined;
  readonly step: object | undefined;
  readonly host: string;
  readonly tool_version: string;
}

/** A log row as read back: `seq` as text (a UInt64 may exceed a double). */
export interface StoredLogRow {
  readonly seq_text: string;
  readonly op: string;
  readonly migration_id: string;
  readonly step_index: number;
  readonly migration: unknown;
  readonly step: unknown;
}

/**
 * How the log's rows are stored.
 * - `record` (written since 2026-12-04): two stored columns, `seq` and `record` (the row as
 *   one JSON object), and the plain-SQL columns (`at`, `op`, `migration_id`, `step_index`,
 *   `host`, `tool_version`) as ALIAS columns read out of `record`. On a server without compact
 *   parts (before 20.3: every 18.x/19.x) each stored column is two files of every INSERT's new
 *   part, so the nine stored columns of the first layout made the one INSERT per migration
 *   2.5× slower (measured on 18.16: 2.7–4.1 ms against 1.1–1.4 ms).
 * - `columns`: the first layout, nine stored columns, `migration` and `step` as JSON text;
 *   still read and written where it exists (a target deployed by an earlier moose-migrate).
 */
export type LedgerLogLayout = "record" | "columns";

/**
 * The versions of the `record` JSON: 1 for every row, 2 for a `republish` row (lib/ledger/target.ts),
 * which an earlier moose-migrate would read as an ordinary record row without dropping the
 * steps it replaces: marked newer, such a row makes that version ask to be upgraded instead.
 * A row newer than {@link RECORD_FORMAT} is refused.
 */
const RECORD_FORMAT = 2;
const formatOf = (op: string): number => (op === "republish" ? 2 : 1);
/** Scalars first: the ALIAS columns find the first `"name":` in the text (nested keys come later; quotes inside strings are escaped). */
const ALIAS_COLUMNS: ReadonlyArray<readonly [name: string, type: string, read: string]> = [
  ["at", "String", "visitParamExtractString(record, 'at')"],
  ["op", "String", "visitParamExtractString(record, 'op')"],
  ["migration_id", "String", "visitParamExtractString(record, 'migration_id')"],
  ["step_index", "Int32", "toInt32(visitParamExtractInt(record, 'step_index'))"],
  ["host", "String", "visitParamExtractString(record, 'host')"],
  ["tool_version", "String", "visitParamExtractString(record, 'tool_version')"],
];

export interface LockRow {
  readonly event: string;
  readonly owner: string;
  readonly host: string;
  readonly pid: string | number;
  readonly at: string;
  readonly ago: string | number;
}

export interface LockEvent {
  readonly event: "acquire" | "heartbeat" | "release";
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
}

export class LedgerStore {
  /** Known once the log is ensured: what the target's `_moose_ledger` holds. */
  #layout: LedgerLogLayout = "record";

  constructor(
    private readonly olap: OlapEngine,
    /** The cluster the ledger and lock are kept on; undefined: this server only. */
    readonly cluster?: string,
  ) {}

  get layout(): LedgerLogLayout {
    return this.#layout;
  }

  /** Where the records are, for messages: `clickhouse database app` (`… on cluster c`). */
  get authority(): string {
    return `clickhouse database ${this.olap.database}${this.cluster === undefined ? "" : ` on cluster ${this.cluster}`}`;
  }

  private engine(table: string, order: string): string {
    if (this.cluster === undefined) return table === LEDGER_LOG_TABLE ? `MergeTree ORDER BY ${order}` : "Log";
    return `ReplicatedMergeTree(${quoteString(`/clickhouse/tables/{shard}/${this.olap.database}/${table}`)}, '{replica}') ORDER BY ${order}`;
  }

  async tableExists(name: string): Promise<boolean> {
    const rows = await this.olap.query<{ n: string | number }>(
      `SELECT count() AS n FROM system.tables WHERE database = ${quoteString(this.olap.database)} AND name = ${quoteString(name)}`,
    );
    return Number(rows[0]?.n ?? 0) > 0;
  }

  /** Creates the log when missing (in the `record` layout); true when it existed. */
  async ensureLog(): Promise<boolean> {
    const existed = await this.tableExists(LEDGER_LOG_TABLE);
    // On a cluster the log may be missing on this host only (a replica added later): IF NOT EXISTS everywhere.
    if (!existed || this.cluster !== undefined) {
      if (this.cluster !== undefined) await this.olap.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.olap.database)}${onCluster(this.cluster)}`);
      const aliases = ALIAS_COLUMNS.map(([name, type, read]) => `, ${name} ${type} ALIAS ${read}`).join("");
      await this.olap.execute(
        `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(LEDGER_LOG_TABLE)}${onCluster(this.cluster)} (seq UInt64, record String${aliases}) ENGINE = ${this.engine(LEDGER_LOG_TABLE, "seq")}`,
      );
    }
    this.#layout = existed ? await this.storedLayout() : "record";
    return existed;
  }

  /** The layout of the existing log: `columns` when it stores `migration` (an earlier moose-migrate made it). */
  private async storedLayout(): Promise<LedgerLogLayout> {
    const rows = await this.olap.query<{ name: string }>(
      `SELECT name FROM system.columns WHERE database = ${quoteString(this.olap.database)} AND table = ${quoteString(LEDGER_LOG_TABLE)} AND name IN ('record', 'migration')`,
    );
    const names = new Set(rows.map((r) => r.name));
    if (names.has("record")) return "record";
    if (names.has("migration")) return "columns";
    throw new EngineError("LEDGER_UNREADABLE", `${LEDGER_LOG_TABLE} in database ${this.olap.database} has neither a record nor a migration column: it was not made by moose-migrate`, {
      hint: `rename the table if it is yours; moose-migrate keeps its ledger in ${LEDGER_LOG_TABLE}`,
    });
  }

  /** Every log row, in `seq` order (as numbers: a text alias would sort "10" before "9"). */
  async readLog(): Promise<StoredLogRow[]> {
    await this.catchUp(LEDGER_LOG_TABLE);
    const table = quoteIdentifier(LEDGER_LOG_TABLE);
    if (this.#layout === "columns") {
      const rows = await this.olap.query<{ seq_text: string; op: string; migration_id: string; step_index: number | string; migration: string; step: string }>(
        `SELECT toString(seq) AS seq_text, op, migration_id, step_index, migration, step FROM ${table} ORDER BY seq, migration_id, step_index`,
      );
      return rows.map((row) => ({
        seq_text: row.seq_text,
        op: row.op,
        migration_id: row.migration_id,
        step_index: Number(row.step_index),
        migration: row.migration === "" ? undefined : this.parse(row.seq_text, row.migration),
        step: row.step === "" ? undefined : this.parse(row.seq_text, row.step),
      }));
    }
    const rows = await this.olap.query<{ seq_text: string; record: string }>(`SELECT toString(seq) AS seq_text, record FROM ${table} ORDER BY seq`);
    return rows.map(({ seq_text, record }) => {
      const parsed = this.parse(seq_text, record) as Partial<Record<string, unknown>> | null;
      const fields = typeof parsed === "object" && parsed !== null ? parsed : {};
      const format = fields.v;
      if (typeof format === "number" && format > RECORD_FORMAT) {
        throw new RefusedError("LEDGER_SCHEMA_TOO_NEW", `${LEDGER_LOG_TABLE} in database ${this.olap.database} holds a row (seq ${seq_text}) in record format ${format}, newer than the ${RECORD_FORMAT} this moose-migrate understands`, {
          hint: "upgrade moose-migrate to the version that last deployed to this database",
        });
      }
      if (typeof format !== "number" || format < 1 || typeof fields.op !== "string" || typeof fields.migration_id !== "string" || typeof fields.step_index !== "number") {
        throw this.unreadable(seq_text, "it lacks v, op, migration_id or step_index");
      }
      return { seq_text, op: fields.op, migration_id: fields.migration_id, step_index: fields.step_index, migration: fields.migration ?? undefined, step: fields.step ?? undefined };
    }).sort((a, b) => compareSeq(a.seq_text, b.seq_text) || (a.migration_id < b.migration_id ? -1 : a.migration_id > b.migration_id ? 1 : a.step_index - b.step_index));
  }

  /** One INSERT (atomic on every version; replicated on a cluster). */
  async append(rows: readonly LedgerLogRow[]): Promise<void> {
    const stored =
      this.#layout === "columns"
        ? rows.map((r) => ({ ...r, migration: r.migration === undefined ? "" : JSON.stringify(r.migration), step: r.step === undefined ? "" : JSON.stringify(r.step) }))
        : rows.map((r) => ({
            seq: r.seq,
            // The plain-SQL fields first (see ALIAS_COLUMNS), then the records.
            record: JSON.stringify({ v: formatOf(r.op), at: r.at, op: r.op, migration_id: r.migration_id, step_index: r.step_index, host: r.host, tool_version: r.tool_version, migration: r.migration ?? null, step: r.step ?? null }),
          }));
    await this.olap.insertJsonRows(LEDGER_LOG_TABLE, stored);
  }

  private parse(seq: string, text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw this.unreadable(seq, error instanceof Error ? error.message : String(error));
    }
  }

  private unreadable(seq: string, why: string): EngineError {
    return new EngineError("LEDGER_UNREADABLE", `${LEDGER_LOG_TABLE} in database ${this.olap.database}: the row with seq ${seq} is not a record moose-migrate wrote (${why})`, {
      hint: `the target's ledger was edited by hand: restore the row from a backup, or read it with SELECT * FROM ${LEDGER_LOG_TABLE} WHERE seq = ${seq}`,
    });
  }

  /** On a cluster, waits until this replica has every row the others had when it was called. */
  private async catchUp(table: string): Promise<void> {
    if (this.cluster !== undefined) await this.olap.execute(`SYSTEM SYNC REPLICA ${quoteIdentifier(table)}`);
  }

  /** The lock generations, with how long ago each was created (seconds). */
  async lockGenerations(): Promise<Array<{ readonly n: number; readonly age: number }>> {
    const tables = await this.olap.query<{ name: string; age: string | number }>(
      `SELECT name, toString(toUnixTimestamp(now()) - toUnixTimestamp(metadata_modification_time)) AS age FROM system.tables WHERE database = ${quoteString(this.olap.database)} AND substring(name, 1, ${LOCK_PREFIX.length}) = ${quoteString(LOCK_PREFIX)}`,
    );
    return tables.map((t) => ({ n: Number(t.name.slice(LOCK_PREFIX.length)), age: Number(t.age) })).filter((g) => Number.isSafeInteger(g.n) && g.n > 0);
  }

  /** The rows of generation `n`; undefined when it was dropped meanwhile. */
  async lockRows(n: number): Promise<LockRow[] | undefined> {
    const table = LOCK_PREFIX + n;
    try {
      await this.catchUp(table);
      return await this.olap.query<LockRow>(
        `SELECT event, owner, host, toString(pid) AS pid, toString(at) AS at, toString(toUnixTimestamp(now()) - toUnixTimestamp(at)) AS ago FROM ${quoteIdentifier(table)}`,
      );
    } catch (error) {
      if (error instanceof Error && /doesn't exist|UNKNOWN_TABLE|Code: 60/.test(error.message)) return undefined;
      throw error;
    }
  }

  /**
   * Creates generation `n` holding `acquire`: true for exactly one caller; false when the
   * generation already exists (another runner took it first).
   */
  async createLockGeneration(n: number, acquire: LockEvent): Promise<boolean> {
    const table = quoteIdentifier(LOCK_PREFIX + n);
    try {
      if (this.cluster === undefined) {
        await this.olap.execute(`CREATE TABLE ${table} ENGINE = Log AS SELECT ${this.lockSelect(acquire)}`);
        return true;
      }
      await this.olap.execute(`CREATE TABLE ${table}${onCluster(this.cluster)} (event String, owner String, host String, pid UInt32, at DateTime) ENGINE = ${this.engine(LOCK_PREFIX + n, "at")}`);
    } catch (error) {
      if (error instanceof Error && /already exists|TABLE_ALREADY_EXISTS|Code: 57/.test(error.message)) return false;
      throw error;
    }
    await this.appendLockEvent(n, acquire);
    return true;
  }

  async appendLockEvent(n: number, e: LockEvent): Promise<void> {
    await this.olap.execute(`INSERT INTO ${quoteIdentifier(LOCK_PREFIX + n)} SELECT ${this.lockSelect(e)}`);
  }

  async dropLockGeneration(n: number): Promise<void> {
    await this.olap.execute(`DROP TABLE IF EXISTS ${quoteIdentifier(LOCK_PREFIX + n)}${onCluster(this.cluster)}`);
  }

  private lockSelect(e: LockEvent): string {
    return `${quoteString(e.event)} AS event, ${quoteString(e.owner)} AS owner, ${quoteString(e.host)} AS host, toUInt32(${e.pid}) AS pid, now() AS at`;
  }
}

/** Orders two UInt64 texts as numbers. */
function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
