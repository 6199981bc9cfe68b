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

export interface LedgerLogRow {
  readonly seq: number;
  readonly at: string;
  readonly op: string;
  readonly migration_id: string;
  readonly step_index: number;
  readonly migration: string;
  readonly step: string;
  readonly host: string;
  readonly tool_version: string;
}

export interface StoredLogRow {
  readonly seq_text: string;
  readonly op: string;
  readonly migration_id: string;
  readonly step_index: number | string;
  readonly migration: string;
  readonly step: string;
}

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
  constructor(
    private readonly olap: OlapEngine,
    /** The cluster the ledger and lock are kept on; undefined: this server only. */
    readonly cluster?: string,
  ) {}

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

  /** Creates the log when missing; true when it existed. */
  async ensureLog(): Promise<boolean> {
    const existed = await this.tableExists(LEDGER_LOG_TABLE);
    // On a cluster the log may be missing on this host only (a replica added later): IF NOT EXISTS everywhere.
    if (!existed || this.cluster !== undefined) {
      if (this.cluster !== undefined) await this.olap.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(this.olap.database)}${onCluster(this.cluster)}`);
      await this.olap.execute(
        `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(LEDGER_LOG_TABLE)}${onCluster(this.cluster)} (seq UInt64, at String, op String, migration_id String, step_index Int32, migration String, step String, host String, tool_version String) ENGINE = ${this.engine(LEDGER_LOG_TABLE, "seq")}`,
      );
    }
    return existed;
  }

  /** Every log row, in `seq` order (as numbers: a text alias would sort "10" before "9"). */
  async readLog(): Promise<StoredLogRow[]> {
    await this.catchUp(LEDGER_LOG_TABLE);
    return this.olap.query<StoredLogRow>(
      `SELECT toString(seq) AS seq_text, op, migration_id, step_index, migration, step FROM ${quoteIdentifier(LEDGER_LOG_TABLE)} ORDER BY seq, migration_id, step_index`,
    );
  }

  /** One INSERT (atomic on every version; replicated on a cluster). */
  async append(rows: readonly LedgerLogRow[]): Promise<void> {
    await this.olap.insertJsonRows(LEDGER_LOG_TABLE, rows as unknown as ReadonlyArray<Record<string, unknown>>);
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
