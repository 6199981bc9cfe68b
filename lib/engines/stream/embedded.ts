import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import knex, { type Knex } from "knex";
import type { EmbeddedStreamingConfig } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { EngineError, MooseError } from "../../errors.js";
import { type PartitionOffsets, type ProduceOptions, type ReadResult, type StreamEngine, type StreamRecord } from "./engine.js";
import { partitionForKey } from "./partitioner.js";
import { checkReadArguments, encodeRecordValue } from "./record-codec.js";
import { LEGACY_TMP_DIR, LEGACY_TOPICS_DIR, readLegacyPartition, readLegacyTopics } from "./segment-import.js";
import { logicalTopicName, physicalTopicName, RETENTION_CONFIG, type TopicDescription, type TopicSettings, type TopicUpdate } from "./topic-spec.js";
import { applyTopicChange, topicDefaults, type TopicOperations } from "./topic-changes.js";

/**
 * The embedded stream engine: Kafka's topic model in one SQLite database, so `moose dev`
 * runs ingest → stream → table with no broker.
 *
 * ```
 * <dataDir>/log.sqlite   (WAL mode: with log.sqlite-wal and log.sqlite-shm next to it)
 *   meta                    format version; when the old segment files were imported
 *   topics                  one row per topic: id, physical name, partitions, replication factor, retention.ms, other config
 *   log_<id>_<partition>    one table per topic-partition: "offset" INTEGER PRIMARY KEY, "timestamp", "key", "value" (JSON text)
 * ```
 *
 * Partition tables are named after the topic's id, never its name: SQLite folds the case
 * of identifiers, so `Events` and `events` (two topics to Kafka) would share a table, and
 * ids are never reused (AUTOINCREMENT), so a process that looked a topic up just before
 * another process dropped and re-created it fails (`STREAM_UNKNOWN_TOPIC`) instead of
 * writing into the new topic.
 *
 * Offsets: a produce call writes each partition with one `INSERT … SELECT` that numbers its
 * records from `max(offset) + 1`. A writing statement takes SQLite's write lock before it
 * reads anything and keeps it until its implicit COMMIT (as `BEGIN IMMEDIATE` would), so
 * producers in any number of processes get distinct, gap-free offsets; one that finds the
 * lock taken waits (`busy_timeout`) instead of failing. Within a process, the produce calls
 * that arrive while a partition is being written go into its next statement together (group
 * commit). In WAL mode readers never wait for the writer, and every read is one statement,
 * so it sees one consistent snapshot.
 *
 * Like Kafka, a produce is durable against a crash of the process, not of the machine
 * (`synchronous = NORMAL`: the WAL is fsynced at checkpoints, not at every commit).
 *
 * Retention: a produce checks its partition at most once per `retentionCheckIntervalMs` and
 * deletes the records older than `retention.ms` from the start of the log up to the first
 * one still inside it, so the log stays gap-free between its start and end offsets even
 * when two producers' clocks disagree. The newest record always stays: the next offset
 * continues from it (the segment files kept their active segment for the same reason).
 * Reading from a deleted offset starts at the oldest one left, as in Kafka.
 */
export interface EmbeddedStreamOptions {
  /**
   * How long a write waits for another process's write before failing with
   * `STREAM_LOCK_TIMEOUT` (default 30 s).
   */
  readonly busyTimeoutMs?: number;
  /** Check retention at most this often per partition (default 1 s). */
  readonly retentionCheckIntervalMs?: number;
  /** The clock records are stamped with and retention is measured by, in ms since the epoch (default `Date.now`). */
  readonly now?: () => number;
}

/** The database file under the engine's data directory. */
export const LOG_FILE = "log.sqlite";
const FORMAT = "1";
const DEFAULT_BUSY_TIMEOUT_MS = 30_000;
/** SQLite's limit on the SELECTs of one compound statement (SQLITE_MAX_COMPOUND_SELECT). */
const MAX_COMPOUND_SELECT = 500;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT`,
  `INSERT INTO meta (key, value) VALUES ('format', '${FORMAT}') ON CONFLICT (key) DO NOTHING`,
  `CREATE TABLE IF NOT EXISTS topics (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT    NOT NULL UNIQUE,
    partitions         INTEGER NOT NULL CHECK (partitions >= 1),
    replication_factor INTEGER NOT NULL,
    retention_ms       INTEGER NOT NULL,
    config             TEXT    NOT NULL,
    created_at         TEXT    NOT NULL
  ) STRICT`,
];

/** The table of one topic-partition; built from two integers, so no name a user chose reaches SQL as an identifier. */
function partitionTable(topicId: number, partition: number): string {
  if (!Number.isSafeInteger(topicId) || topicId < 1 || !Number.isSafeInteger(partition) || partition < 0) {
    throw new Error(`no partition table for topic id ${topicId}, partition ${partition}`);
  }
  return `log_${topicId}_${partition}`;
}

const sql = {
  createPartition: (t: string) => `CREATE TABLE ${t} (
    "offset"    INTEGER PRIMARY KEY,
    "timestamp" INTEGER NOT NULL,
    "key"       TEXT,
    "value"     TEXT    NOT NULL
  ) STRICT`,
  /**
   * Appends a JSON array of `[key, value text]` pairs. The subquery runs once, under the
   * write lock this statement holds, so the batch gets the offsets right after the last stored one.
   */
  append: (t: string) => `INSERT INTO ${t} ("offset", "timestamp", "key", "value")
    SELECT (SELECT coalesce(max("offset") + 1, 0) FROM ${t}) + batch.key, ?, json_extract(batch.value, '$[0]'), json_extract(batch.value, '$[1]')
    FROM json_each(?) AS batch`,
  /** Inserts `[offset, timestamp, key, value]` tuples as they are (the import of segment files). */
  insertAt: (t: string) => `INSERT INTO ${t} ("offset", "timestamp", "key", "value")
    SELECT json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]') FROM json_each(?) AS r`,
  /** Deletes the prefix of the log older than the cutoff; never the newest record. */
  retention: (t: string) => `DELETE FROM ${t} WHERE "offset" < coalesce(
    (SELECT "offset" FROM ${t} WHERE "timestamp" >= ? ORDER BY "offset" LIMIT 1),
    (SELECT max("offset") FROM ${t}))`,
  /** The partition's bounds and up to `max` records from an offset, in one statement and so one snapshot. */
  read: (t: string) => `SELECT bounds.low, bounds.high, r."offset", r."timestamp", r."key", r."value"
    FROM (SELECT (SELECT min("offset") FROM ${t}) AS low, (SELECT max("offset") FROM ${t}) AS high) AS bounds
    LEFT JOIN (SELECT * FROM ${t} WHERE "offset" >= ? ORDER BY "offset" LIMIT ?) AS r ON 1
    ORDER BY r."offset"`,
  bounds: (t: string, partition: number) => `SELECT ${partition} AS "partition", (SELECT min("offset") FROM ${t}) AS low, (SELECT max("offset") FROM ${t}) AS high`,
};

interface TopicRow {
  readonly id: number;
  readonly name: string;
  readonly partitions: number;
  readonly replication_factor: number;
  readonly retention_ms: number;
  readonly config: string;
}

interface PendingAppend {
  readonly records: ReadonlyArray<readonly [key: string | null, value: string]>;
  readonly retentionMs: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface AppendQueue {
  readonly pending: PendingAppend[];
  flushing: boolean;
}

interface ReadRow {
  readonly low: number | null;
  readonly high: number | null;
  readonly offset: number | null;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string;
}

const silentLog = { warn() {}, error() {}, debug() {}, deprecate() {}, inspectionDepth: 0, enableColors: false };

/**
 * Opens (and creates) the embedded log at `<config.dataDir>/log.sqlite`. A data directory
 * still in the segment-file format of earlier versions is imported on the first open.
 *
 * @example
 * const streams = await openEmbeddedStreamEngine({ engine: "embedded", dataDir: ".moose/streams", messageTimeoutMs: 1000, retentionMs: 30000, replicationFactor: 1 });
 */
export async function openEmbeddedStreamEngine(config: EmbeddedStreamingConfig, options: EmbeddedStreamOptions = {}): Promise<StreamEngine> {
  try {
    await mkdir(config.dataDir, { recursive: true });
  } catch (error) {
    throw ioError(`cannot create the embedded stream directory ${config.dataDir}`, error);
  }
  const path = join(config.dataDir, LOG_FILE);
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const db = knex({
    client: "sqlite3",
    connection: { filename: path },
    useNullAsDefault: true,
    log: silentLog,
    // Errors carry the SQL text but not the bindings: a produce binds every record it writes.
    compileSqlOnError: false,
    // One connection (knex's default for sqlite3): statements of this process queue for it,
    // and the queue may have to wait out another process's write lock.
    acquireConnectionTimeout: Math.max(60_000, busyTimeoutMs * 2),
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: { exec(sql: string, done: (error: Error | null) => void): void }, done: (error: Error | null, conn: unknown) => void) {
        // busy_timeout first: switching to WAL may itself wait for another process's lock.
        conn.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL`, (error) => done(error, conn));
      },
    },
  });
  const engine = new EmbeddedStreamEngine(db, path, config, options);
  try {
    await engine.setUp();
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return engine;
}

class EmbeddedStreamEngine implements StreamEngine {
  readonly kind = "embedded" as const;
  private closing: Promise<void> | undefined;
  private roundRobin = 0;
  private readonly running = new Set<Promise<unknown>>();
  /** Appends waiting for their partition's flush, per partition table. */
  private readonly queues = new Map<string, AppendQueue>();
  /** Topic look-ups under way, shared by the produce calls that start meanwhile. */
  private readonly lookups = new Map<string, Promise<TopicRow>>();
  private readonly retentionCheckedAt = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly db: Knex,
    private readonly path: string,
    private readonly config: EmbeddedStreamingConfig,
    private readonly options: EmbeddedStreamOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates the schema when the file is new (every statement is idempotent, so processes
   * opening at once agree; an existing log is only read, so opening never waits for a
   * writer), checks its format and imports old segment files.
   */
  async setUp(): Promise<void> {
    try {
      // Two processes creating a new file at once: SQLite may answer SQLITE_BUSY at once rather than
      // wait (a schema change seen mid-statement); every statement here is idempotent, so try again.
      for (let attempt = 0; ; attempt++) {
        try {
          const [created] = (await this.db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'")) as unknown[];
          if (!created) for (const statement of SCHEMA) await this.db.raw(statement);
          break;
        } catch (error) {
          const code = (error as { code?: unknown } | null)?.code;
          if (attempt >= 50 || typeof code !== "string" || !code.startsWith("SQLITE_BUSY")) throw error;
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        }
      }
      const [format] = (await this.db.raw("SELECT value FROM meta WHERE key = 'format'")) as Array<{ value: string }>;
      if (format?.value !== FORMAT) {
        throw new EngineError("STREAM_LOG_FORMAT", `the embedded stream log ${this.path} is in format ${format?.value ?? "?"}; this moose-migrate reads format ${FORMAT}`, {
          hint: "it was written by another version of moose-migrate: use that version, or move the file away to start an empty log",
        });
      }
    } catch (error) {
      throw this.failure("cannot open the embedded stream log", error);
    }
    await this.importSegments();
  }

  async apply(change: Change): Promise<void> {
    const ops: TopicOperations = {
      createTopic: (settings, logical) => this.createTopic(settings, logical),
      deleteTopic: (physical, logical) => this.deleteTopic(physical, logical),
      updateTopic: (update, logical) => this.updateTopic(update, logical),
    };
    await this.run(() => applyTopicChange(change, ops, topicDefaults(this.config), "embedded"));
  }

  async introspect(): Promise<Record<string, TopicDescription>> {
    return this.run(async () => {
      const rows = (await this.db.raw("SELECT id, name, partitions, replication_factor, retention_ms, config FROM topics ORDER BY name")) as TopicRow[];
      const out: Record<string, TopicDescription> = {};
      for (const row of rows) {
        const logical = logicalTopicName(row.name, this.config.namespace);
        if (logical === undefined) continue;
        out[logical] = {
          name: logical,
          partitions: row.partitions,
          retentionMs: row.retention_ms,
          replicationFactor: row.replication_factor,
          config: JSON.parse(row.config) as Record<string, string>,
        };
      }
      return out;
    }, "cannot list the topics");
  }

  async produce(topic: string, records: readonly unknown[], options: ProduceOptions = {}): Promise<void> {
    return this.run(
      async () => {
        const physical = physicalTopicName(topic, this.config.namespace);
        const key = options.key ?? null;
        const values = records.map((value, index) => [key, encodeRecordValue(value, index, topic)] as const);
        const row = await this.lookup(physical, topic);
        if (options.partition !== undefined) checkPartition(topic, options.partition, row.partitions);
        const byPartition = new Map<number, Array<readonly [string | null, string]>>();
        const fixed = options.partition ?? (options.key === undefined ? undefined : partitionForKey(options.key, row.partitions));
        for (const value of values) {
          const partition = fixed ?? this.roundRobin++ % row.partitions;
          let list = byPartition.get(partition);
          if (!list) byPartition.set(partition, (list = []));
          list.push(value);
        }
        await Promise.all([...byPartition].map(([partition, list]) => this.append(partitionTable(row.id, partition), list, row.retention_ms)));
      },
      `cannot produce to topic ${topic}`,
      topic,
    );
  }

  async readFrom(topic: string, partition: number, offset: number, max: number): Promise<ReadResult> {
    return this.run(
      async () => {
        checkReadArguments(offset, max);
        const row = await this.topicRow(this.db, physicalTopicName(topic, this.config.namespace), topic);
        checkPartition(topic, partition, row.partitions);
        const table = partitionTable(row.id, partition);
        const rows = (await this.db.raw(sql.read(table), [offset, max])) as ReadRow[];
        const { low, high } = rows[0] ?? { low: null, high: null };
        const highWatermark = high === null ? 0 : high + 1;
        const logStartOffset = low ?? highWatermark;
        if (offset > highWatermark) {
          throw new EngineError(
            "STREAM_OFFSET_OUT_OF_RANGE",
            `offset ${offset} is past the end of topic ${topic} partition ${partition} (next offset ${highWatermark})`,
            { hint: "the topic was probably dropped and created again; restart the reader from offset 0" },
          );
        }
        const out: StreamRecord[] = [];
        for (const r of rows) {
          if (r.offset === null) continue; // the bounds of an empty slice
          out.push({ partition, offset: r.offset, timestamp: r.timestamp, ...(r.key === null ? {} : { key: r.key }), value: this.decode(r, table) });
        }
        const last = out[out.length - 1];
        return { records: out, nextOffset: last ? last.offset + 1 : Math.max(offset, logStartOffset), highWatermark, logStartOffset };
      },
      `cannot read topic ${topic} partition ${partition}`,
      topic,
    );
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    return this.run(
      async () => {
        const row = await this.topicRow(this.db, physicalTopicName(topic, this.config.namespace), topic);
        const out: PartitionOffsets[] = [];
        for (let first = 0; first < row.partitions; first += MAX_COMPOUND_SELECT) {
          const parts: string[] = [];
          for (let p = first; p < Math.min(row.partitions, first + MAX_COMPOUND_SELECT); p++) parts.push(sql.bounds(partitionTable(row.id, p), p));
          const rows = (await this.db.raw(parts.join(" UNION ALL "))) as Array<{ partition: number; low: number | null; high: number | null }>;
          for (const r of rows) {
            const high = r.high === null ? 0 : r.high + 1;
            out.push({ partition: r.partition, low: r.low ?? high, high });
          }
        }
        return out;
      },
      `cannot read the offsets of topic ${topic}`,
      topic,
    );
  }

  /** Stops accepting calls, waits for the ones under way and closes the database. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.running]);
      await this.db.destroy();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- topic lifecycle

  private async createTopic(settings: TopicSettings, logical: string): Promise<void> {
    await this.write(`cannot create topic ${logical}`, async (trx) => {
      const config = Object.fromEntries(Object.entries(settings.config).filter(([k]) => k !== RETENTION_CONFIG));
      const [created] = (await trx.raw(
        `INSERT INTO topics (name, partitions, replication_factor, retention_ms, config, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO NOTHING RETURNING id`,
        [settings.physicalName, settings.partitions, settings.replicationFactor, settings.retentionMs, JSON.stringify(config), new Date().toISOString()],
      )) as Array<{ id: number }>;
      if (!created) {
        throw new EngineError("STREAM_TOPIC_EXISTS", `cannot create topic ${logical}: it already exists in the embedded stream engine at ${this.config.dataDir}`, {
          hint: "the topics on disk have drifted from the migrations: compare them with `moose ls`, or drop the topic first",
        });
      }
      for (let p = 0; p < settings.partitions; p++) await trx.raw(sql.createPartition(partitionTable(created.id, p)));
    });
  }

  private async deleteTopic(physical: string, logical: string): Promise<void> {
    await this.write(`cannot delete topic ${logical}`, async (trx) => {
      const [deleted] = (await trx.raw("DELETE FROM topics WHERE name = ? RETURNING id, partitions", [physical])) as Array<{ id: number; partitions: number }>;
      if (!deleted) throw unknownTopic(logical, this.config.dataDir);
      for (let p = 0; p < deleted.partitions; p++) await trx.raw(`DROP TABLE ${partitionTable(deleted.id, p)}`);
    });
  }

  private async updateTopic(update: TopicUpdate, logical: string): Promise<void> {
    await this.write(`cannot update topic ${logical}`, async (trx) => {
      const row = await this.topicRow(trx, update.physicalName, logical);
      let partitions = row.partitions;
      if (update.partitions) {
        const wanted = update.partitions.to;
        if (row.partitions >= wanted) {
          throw new EngineError(
            "STREAM_INVALID_PARTITIONS",
            `cannot grow topic ${logical} to ${wanted} partitions: it already has ${row.partitions} in the embedded stream engine at ${this.config.dataDir} (the change expected ${update.partitions.from})`,
            { hint: "the topic has drifted from the migrations; compare with `moose ls`" },
          );
        }
        for (let p = row.partitions; p < wanted; p++) await trx.raw(sql.createPartition(partitionTable(row.id, p)));
        partitions = wanted;
      }
      const retentionMs = update.config?.retentionMs ?? row.retention_ms;
      const config = update.config ? JSON.stringify(update.config.config) : row.config;
      await trx.raw("UPDATE topics SET partitions = ?, retention_ms = ?, config = ? WHERE id = ?", [partitions, retentionMs, config, row.id]);
    });
  }

  // ---------------------------------------------------------------- appends

  /**
   * Queues records for a partition; one flush per partition at a time writes everything
   * queued so far with one statement (group commit), so concurrent produce calls share a
   * transaction instead of queueing for the connection and the write lock one by one.
   */
  private append(table: string, records: PendingAppend["records"], retentionMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(table);
      if (!queue) this.queues.set(table, (queue = { pending: [], flushing: false }));
      queue.pending.push({ records, retentionMs, resolve, reject });
      if (!queue.flushing) void this.flush(table, queue);
    });
  }

  private async flush(table: string, queue: AppendQueue): Promise<void> {
    queue.flushing = true;
    try {
      while (queue.pending.length > 0) {
        const group = queue.pending.splice(0);
        const timestamp = this.now();
        try {
          await this.db.raw(sql.append(table), [timestamp, JSON.stringify(group.flatMap((append) => append.records))]);
        } catch (error) {
          for (const append of group) append.reject(error);
          continue;
        }
        // The records are stored whatever happens to retention, which the next check retries.
        await this.enforceRetention(table, group[group.length - 1]!.retentionMs, timestamp).catch(() => undefined);
        for (const append of group) append.resolve();
      }
    } finally {
      queue.flushing = false;
      if (this.queues.get(table) === queue) this.queues.delete(table);
    }
  }

  private async enforceRetention(table: string, retentionMs: number, now: number): Promise<void> {
    if (retentionMs < 0) return;
    const interval = this.options.retentionCheckIntervalMs ?? 1000;
    if (now - (this.retentionCheckedAt.get(table) ?? -Infinity) < interval) return;
    this.retentionCheckedAt.set(table, now);
    await this.db.raw(sql.retention(table), [now - retentionMs]);
  }

  // ---------------------------------------------------------------- the segment files of earlier versions

  /**
   * Carries a data directory of the segment-file format over, once: the claim (a `meta`
   * row), the topics and their records commit together, so a crash imports nothing and
   * a second process opening at the same time waits for the first and then finds the
   * claim. The old folders are removed afterwards; if that fails, a later open retries.
   */
  private async importSegments(): Promise<void> {
    const legacy = join(this.config.dataDir, LEGACY_TOPICS_DIR);
    const found = await stat(legacy).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!found) return;
    await this.write(`cannot import the old embedded stream log in ${legacy}`, async (trx) => {
      const claimed = (await trx.raw("INSERT INTO meta (key, value) VALUES ('segments_imported', ?) ON CONFLICT (key) DO NOTHING RETURNING key", [
        new Date().toISOString(),
      ])) as unknown[];
      if (claimed.length === 0) return;
      for (const topic of await readLegacyTopics(this.config.dataDir)) {
        const [created] = (await trx.raw(
          "INSERT INTO topics (name, partitions, replication_factor, retention_ms, config, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
          [topic.name, topic.partitions, topic.replicationFactor, topic.retentionMs, JSON.stringify(topic.config), topic.createdAt],
        )) as Array<{ id: number }>;
        for (let p = 0; p < topic.partitions; p++) {
          const table = partitionTable(created!.id, p);
          await trx.raw(sql.createPartition(table));
          for await (const records of readLegacyPartition(this.config.dataDir, topic.name, p)) {
            if (records.length > 0) await trx.raw(sql.insertAt(table), [JSON.stringify(records.map((r) => [r.offset, r.timestamp, r.key, r.value]))]);
          }
        }
      }
    });
    // What is left is either imported just now or by another process: the log has it.
    for (const dir of [LEGACY_TOPICS_DIR, LEGACY_TMP_DIR]) await rm(join(this.config.dataDir, dir), { recursive: true, force: true }).catch(() => undefined);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * A write transaction that holds SQLite's write lock from its first statement. knex
   * starts SQLite transactions with a deferred `BEGIN`: the first read would take a
   * snapshot, and the first write after it fails at once (SQLITE_BUSY, no waiting) when
   * another process wrote in between. Writing first (a no-op UPDATE) takes the lock up
   * front, waiting up to busy_timeout: `BEGIN IMMEDIATE` through knex's public API.
   */
  private write<T>(what: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.db
      .transaction(async (trx) => {
        await trx.raw("UPDATE meta SET value = value WHERE key = 'format'");
        return fn(trx);
      })
      .catch((error: unknown) => {
        throw this.failure(what, error);
      });
  }

  /** The topic's row; produce calls that start while one look-up runs share its answer. */
  private lookup(physical: string, logical: string): Promise<TopicRow> {
    let row = this.lookups.get(physical);
    if (!row) {
      row = this.topicRow(this.db, physical, logical).finally(() => this.lookups.delete(physical));
      this.lookups.set(physical, row);
    }
    return row;
  }

  private async topicRow(db: Knex | Knex.Transaction, physical: string, logical: string): Promise<TopicRow> {
    const [row] = (await db.raw("SELECT id, name, partitions, replication_factor, retention_ms, config FROM topics WHERE name = ?", [physical])) as TopicRow[];
    if (!row) throw unknownTopic(logical, this.config.dataDir);
    return row;
  }

  private decode(row: ReadRow, table: string): unknown {
    try {
      return JSON.parse(row.value) as unknown;
    } catch {
      throw new EngineError("STREAM_LOG_CORRUPT", `${this.path}: table ${table}, offset ${row.offset}: the value is not JSON: ${JSON.stringify(row.value.slice(0, 80))}`, {
        hint: "the embedded stream log was changed by something other than moose; read on from the next offset",
      });
    }
  }

  /**
   * Runs one call of the public API: refused once closed, waited for by `close`. With
   * `what`, driver errors become `STREAM_*` errors saying what failed.
   */
  private async run<T>(fn: () => Promise<T>, what?: string, topic?: string): Promise<T> {
    if (this.closing) throw new EngineError("STREAM_CLOSED", `the embedded stream engine on ${this.config.dataDir} is closed`);
    const call = fn();
    this.running.add(call);
    try {
      return await call;
    } catch (error) {
      throw what === undefined ? error : this.failure(what, error, topic);
    } finally {
      this.running.delete(call);
    }
  }

  /** Turns a driver error into a `STREAM_*` error; our own errors pass through. */
  private failure(what: string, error: unknown, topic?: string): Error {
    if (error instanceof MooseError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    const message = driverMessage(error);
    if (topic !== undefined && code === "SQLITE_ERROR" && /no such table: log_\d+_\d+/.test(message)) {
      // Looked up, then dropped by another process before the statement ran.
      return unknownTopic(topic, this.config.dataDir, error);
    }
    if ((typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED")) || (error as Error | null)?.name === "KnexTimeoutError") {
      return new EngineError(
        "STREAM_LOCK_TIMEOUT",
        `${what}: the embedded stream log ${this.path} stayed locked by another process for longer than ${this.options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS} ms`,
        { cause: error, hint: "another moose process kept writing to it; retry once it is done" },
      );
    }
    return new EngineError("STREAM_IO_FAILED", `${what} (${this.path}): ${message}`, {
      cause: error,
      hint: "check that the folder is writable and has space, and that the file is the SQLite database moose keeps the embedded stream log in",
    });
  }
}

function checkPartition(topic: string, partition: number, partitions: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new EngineError("STREAM_UNKNOWN_PARTITION", `topic ${topic} has no partition ${partition}: it has ${partitions} (0 to ${partitions - 1})`);
  }
}

function unknownTopic(topic: string, dataDir: string, cause?: unknown): EngineError {
  return new EngineError("STREAM_UNKNOWN_TOPIC", `topic ${topic} does not exist in the embedded stream engine at ${dataDir}`, {
    ...(cause === undefined ? {} : { cause }),
    hint: "create it by applying the migration that declares it (`moose migrate`), or check the name",
  });
}

/** SQLite's own words: knex puts the statement in front of them (`<sql> - SQLITE_BUSY: database is locked`). */
function driverMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const at = typeof code === "string" ? text.lastIndexOf(`${code}: `) : -1;
  return at >= 0 ? text.slice(at) : text;
}

function ioError(what: string, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  return new EngineError("STREAM_IO_FAILED", `${what}: ${(error as Error).message}`, { cause: error });
}
