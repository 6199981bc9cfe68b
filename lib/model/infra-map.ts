import { createHash, type Hash } from "node:crypto";

/**
 * The declared (or current) infrastructure as plain data. Every stage of the
 * pipeline speaks this: the extractor produces it from code, replay produces it
 * from migration files, engines produce it by introspection, `moose prod` serves
 * it. Collections are records keyed by object name so that the canonical JSON
 * (sorted keys) does not depend on declaration order; column order inside a table
 * is meaningful and kept.
 */
export const INFRA_MAP_VERSION = 1 as const;

export interface InfraMap {
  readonly version: typeof INFRA_MAP_VERSION;
  readonly tables: Readonly<Record<string, Table>>;
  readonly views: Readonly<Record<string, MaterializedView>>;
  /**
   * Plain ClickHouse views (moose-lib's `View`). Absent when there are none, so the
   * canonical JSON (and hash) of a map without any stays what it was before plain views
   * were modelled: ledgers record those hashes.
   */
  readonly plainViews?: Readonly<Record<string, PlainView>>;
  /**
   * Raw setup/teardown DDL (moose-lib's `SqlResource`). Absent when there are none, for
   * the same reason as `plainViews`.
   */
  readonly sqlResources?: Readonly<Record<string, SqlResource>>;
  readonly topics: Readonly<Record<string, Topic>>;
  readonly apis: Readonly<Record<string, ApiEndpoint>>;
  readonly workflows: Readonly<Record<string, Workflow>>;
  readonly processes: Readonly<Record<string, SyncProcess>>;
}

/** Component collections of an InfraMap, in dependency order (a view needs tables, a process a topic and a table). */
export const COMPONENT_KINDS = ["tables", "topics", "views", "processes", "apis", "workflows"] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

/** Who may change an object (moose-lib's `LifeCycle`). */
export type LifeCycle = "FULLY_MANAGED" | "DELETION_PROTECTED" | "EXTERNALLY_MANAGED";

export interface Column {
  readonly name: string;
  /** Canonical ClickHouse type, exactly as `system.columns.type` shows it, e.g. `Nullable(Float64)`. */
  readonly type: string;
  /** DEFAULT expression as SQL text, when declared. At most one of `default`, `materialized` and `alias`. */
  readonly default?: string;
  /** MATERIALIZED expression: computed on insert, stored, never inserted (`ClickHouseMaterialized<"expr">`). */
  readonly materialized?: string;
  /** ALIAS expression: computed when read, never stored (`ClickHouseAlias<"expr">`). */
  readonly alias?: string;
  /** Compression codec, as inside `CODEC(...)`, e.g. `ZSTD(3)` or `Delta, LZ4` (`ClickHouseCodec<"...">`). */
  readonly codec?: string;
  /** Column TTL expression: the value is reset to its default past it (`ClickHouseTTL<"...">`). */
  readonly ttl?: string;
  /**
   * API parameters only: the values a string-literal union allows (`orderBy: "id" | "name"`),
   * sorted; for an array parameter, the values its elements may take. A request with another
   * value is a 400. Tables never have it (the column is `LowCardinality(String)`, open-ended).
   */
  readonly oneOf?: readonly string[];
}

/**
 * A table's engine: how rows merge (`kind` and its parameters), whether copies of the table
 * are kept in step through ZooKeeper/ClickHouse Keeper (`replicated`: the `Replicated*`
 * form of the engine), and on which cluster its DDL runs (`cluster`: every statement for
 * the table is `ON CLUSTER`). Changing any of them is a `table.setEngine` change, which
 * ClickHouse cannot do in place.
 */
export type TableEngine = (MergeBehaviour | IntegrationEngine) & Deployment;

export type MergeBehaviour =
  | { readonly kind: "MergeTree" }
  | { readonly kind: "ReplacingMergeTree"; readonly ver?: string; readonly isDeleted?: string }
  | { readonly kind: "SummingMergeTree"; readonly columns?: readonly string[] }
  | { readonly kind: "AggregatingMergeTree" }
  | { readonly kind: "CollapsingMergeTree"; readonly sign: string }
  /** Collapses rows with opposite `sign` and the same `version` (moose-lib's `ver`), in any insert order. */
  | { readonly kind: "VersionedCollapsingMergeTree"; readonly sign: string; readonly version: string };

/**
 * Engines whose tables hold no rows of their own: they read from or write to somewhere
 * else (other tables, a Kafka topic, S3 objects) or hold rows only until they are flushed
 * (Buffer). They have no sorting key (S3 may have one, as metadata); ClickHouse cannot
 * ALTER most of them, so a change is planned as a drop and a create, which loses nothing
 * here (a Buffer flushes its pending rows to its destination when it is dropped).
 */
export type IntegrationEngine =
  /** Buffers inserts in memory and flushes them to `table` (moose-lib's `targetTable`) by time, rows and bytes. */
  | {
      readonly kind: "Buffer";
      /** The destination's database; absent: the managed database (`currentDatabase()`). */
      readonly database?: string;
      readonly table: string;
      readonly numLayers: number;
      readonly minTime: number;
      readonly maxTime: number;
      readonly minRows: number;
      readonly maxRows: number;
      readonly minBytes: number;
      readonly maxBytes: number;
      readonly flushTime?: number;
      readonly flushRows?: number;
      readonly flushBytes?: number;
    }
  /** Reads every table of `sourceDatabase` whose name matches `tablesRegexp` (read-only). */
  | {
      readonly kind: "Merge";
      /** A database name, or `REGEXP('…')`; absent: the managed database (`currentDatabase()`). */
      readonly sourceDatabase?: string;
      readonly tablesRegexp: string;
    }
  /** Consumes `topicList` from `brokerList` as consumer group `groupName`; settings (`kafka_*`) are the table's settings. */
  | { readonly kind: "Kafka"; readonly brokerList: string; readonly topicList: string; readonly groupName: string; readonly format: string }
  /**
   * Reads and writes S3 objects at `path`: signed with `credentials` (read from the environment
   * when the statement is sent), else unsigned (`NOSIGN`, public buckets). moose-lib's
   * `partitionStrategy` / `partitionColumnsInDataFile` are the table's settings `partition_strategy` /
   * `partition_columns_in_data_file`, as ClickHouse keeps them.
   */
  | { readonly kind: "S3"; readonly path: string; readonly format: string; readonly compression?: string; readonly credentials?: S3Credentials }
  /**
   * Ingests new S3 objects matching `path` once each, keeping what it processed in ZooKeeper/Keeper;
   * settings (`mode`, `keeper_path`, …) are the table's settings. `headers` are sent with every request.
   */
  | {
      readonly kind: "S3Queue";
      readonly path: string;
      readonly format: string;
      readonly compression?: string;
      readonly credentials?: S3Credentials;
      readonly headers?: Readonly<Record<string, SettingValue>>;
    }
  /**
   * Reads (and writes, by `shardingKey`) the table `table` on every shard of `targetCluster`
   * (moose-lib's `cluster`, `targetDatabase`, `targetTable`, `shardingKey`, `policyName`).
   * moose-lib's one `cluster` key is also the table's own cluster (`Deployment.cluster`: it is
   * created ON CLUSTER, as Moose does); introspection reads `targetCluster` back from the engine.
   */
  | {
      readonly kind: "Distributed";
      readonly targetCluster: string;
      /** The target's database; absent: the managed database (`currentDatabase()`). */
      readonly database?: string;
      readonly table: string;
      /** An expression choosing the shard of an inserted row; ClickHouse needs it to insert into more than one shard. */
      readonly shardingKey?: string;
      /** A storage policy for the rows waiting to be sent (only with `shardingKey`: the arguments are positional). */
      readonly policyName?: string;
    };

/**
 * A value moose never holds: the name of the environment variable (moose-lib's
 * `mooseRuntimeEnv.get("NAME")`) whose value is put into the statement when it is sent to
 * ClickHouse. Migration files, the ledger and printed SQL carry the name only (printed SQL
 * shows `${NAME}`).
 */
export interface RuntimeEnvRef {
  readonly runtimeEnv: string;
}

/** A table setting's (or S3Queue header's) value: text, or a variable read when the statement is sent (Kafka's `kafka_sasl_password`). */
export type SettingValue = string | RuntimeEnvRef;

/** An S3 access key pair, both read from the environment when a statement is sent. */
export interface S3Credentials {
  readonly accessKeyId: RuntimeEnvRef;
  readonly secretAccessKey: RuntimeEnvRef;
}

export function isRuntimeEnvRef(v: unknown): v is RuntimeEnvRef {
  return typeof v === "object" && v !== null && typeof (v as { runtimeEnv?: unknown }).runtimeEnv === "string";
}

/** The text of a setting value for messages: a reference prints as `${NAME}`, never a value. */
export function settingValueLabel(v: SettingValue): string {
  return typeof v === "string" ? v : `\${${v.runtimeEnv}}`;
}

export const INTEGRATION_ENGINES = ["Buffer", "Merge", "Kafka", "S3", "S3Queue", "Distributed"] as const satisfies ReadonlyArray<IntegrationEngine["kind"]>;

/** Whether a table with this engine holds no rows of its own (see {@link IntegrationEngine}). */
export function holdsNoRows(engine: { readonly kind: string }): engine is IntegrationEngine {
  return (INTEGRATION_ENGINES as readonly string[]).includes(engine.kind);
}

export interface Deployment {
  /** Set for the `Replicated*` engines. */
  readonly replicated?: Replication;
  /** The `remote_servers` cluster the table's DDL runs `ON CLUSTER` (moose-lib's `cluster`). */
  readonly cluster?: string;
}

/**
 * The replication arguments of a `Replicated*` engine. Absent members mean moose's
 * default: `/clickhouse/tables/{shard}/<database>/<table>` and `{replica}` (see the OLAP
 * adapter's `replicationArguments`).
 */
export interface Replication {
  /** The table's path in ZooKeeper/Keeper, macros allowed (`{shard}`, `{database}`, `{table}`, …). */
  readonly keeperPath?: string;
  /** This replica's name under that path, usually `{replica}`. */
  readonly replicaName?: string;
}

/** A data-skipping index (`INDEX name expression TYPE type GRANULARITY n`). */
export interface TableIndex {
  readonly name: string;
  readonly expression: string;
  /** The index type with its arguments, e.g. `minmax`, `bloom_filter(0.01)`, `set(100)`. */
  readonly type: string;
  readonly granularity: number;
}

/** A table constraint (`CONSTRAINT name CHECK expr`: every INSERT is checked; `ASSUME expr`: the optimizer may rely on it). */
export interface TableConstraint {
  readonly name: string;
  readonly type: "CHECK" | "ASSUME";
  readonly expression: string;
}

/** A projection (`PROJECTION name (body)`): a SELECT whose result ClickHouse keeps beside each part. */
export interface TableProjection {
  readonly name: string;
  /** The SELECT, without FROM, e.g. `SELECT id, count() GROUP BY id`. */
  readonly body: string;
}

export interface Table {
  readonly name: string;
  readonly columns: readonly Column[];
  /** ORDER BY expressions in order; empty means `tuple()`. */
  readonly orderBy: readonly string[];
  /** PRIMARY KEY expressions when they are not the whole ORDER BY (they must be a prefix of it). */
  readonly primaryKey?: readonly string[];
  /** SAMPLE BY expression (it must be part of the ORDER BY). */
  readonly sampleBy?: string;
  /** Data-skipping indexes, sorted by name; absent when there are none. */
  readonly indexes?: readonly TableIndex[];
  /** Projections, sorted by name; absent when there are none. */
  readonly projections?: readonly TableProjection[];
  /** Constraints, sorted by name; absent when there are none. */
  readonly constraints?: readonly TableConstraint[];
  readonly engine: TableEngine;
  readonly partitionBy?: string;
  readonly ttl?: string;
  /** Values are text, or (Kafka's SASL password, …) a variable read when the statement is sent. */
  readonly settings: Readonly<Record<string, SettingValue>>;
  readonly lifeCycle: LifeCycle;
}

export interface MaterializedView {
  readonly name: string;
  /** The SELECT the view runs, as SQL text. */
  readonly selectStatement: string;
  /** Tables the SELECT reads, sorted. */
  readonly sourceTables: readonly string[];
  /** Table the view writes TO; for a view with `inner` storage, the view's own name. */
  readonly targetTable: string;
  readonly lifeCycle: LifeCycle;
  /**
   * Set when the view stores its rows itself (declared without TO): ClickHouse keeps them
   * in an inner table with this engine and key, read by selecting from the view.
   */
  readonly inner?: InnerStorage;
}

/** A plain ClickHouse view (`CREATE VIEW … AS SELECT`): stores nothing, runs its SELECT when read. */
export interface PlainView {
  readonly name: string;
  /** The SELECT the view runs, as SQL text. */
  readonly selectStatement: string;
  /** Tables and views the SELECT reads, sorted. */
  readonly sourceTables: readonly string[];
}

/** A map's plain views; `{}` when it has none. */
export function plainViewsOf(map: Pick<InfraMap, "plainViews">): Readonly<Record<string, PlainView>> {
  return map.plainViews ?? {};
}

/** `map` with `plainViews` left out when empty (see {@link InfraMap.plainViews}). */
export function withPlainViews<M extends InfraMap>(map: M, plainViews: Readonly<Record<string, PlainView>>): M {
  const { plainViews: _old, ...rest } = map;
  return (Object.keys(plainViews).length > 0 ? { ...rest, plainViews } : rest) as M;
}

/**
 * Raw DDL a declaration owns (moose-lib's `SqlResource`): its statements as written.
 * What they create is read from ClickHouse's parse tree when needed (the plan's policy
 * check, drift, risk), never stored: the statements are the one truth a file replays.
 */
export interface SqlResource {
  readonly name: string;
  /** Statements run, in order, to create the resource; each one statement. */
  readonly setup: readonly string[];
  /** Statements run, in order, to remove it. */
  readonly teardown: readonly string[];
  /** Objects (tables, views, other resources) its statements read, sorted: created before it, dropped after it. */
  readonly pullsDataFrom: readonly string[];
  /** Objects it writes to, sorted: they exist before it too. */
  readonly pushesDataTo: readonly string[];
}

/** A map's SQL resources; `{}` when it has none. */
export function sqlResourcesOf(map: Pick<InfraMap, "sqlResources">): Readonly<Record<string, SqlResource>> {
  return map.sqlResources ?? {};
}

/** `map` with `sqlResources` left out when empty (see {@link InfraMap.sqlResources}). */
export function withSqlResources<M extends InfraMap>(map: M, sqlResources: Readonly<Record<string, SqlResource>>): M {
  const { sqlResources: _old, ...rest } = map;
  return (Object.keys(sqlResources).length > 0 ? { ...rest, sqlResources } : rest) as M;
}

/** The inner table of a materialized view declared without TO. */
export interface InnerStorage {
  readonly engine: TableEngine;
  /** ORDER BY expressions in order; empty means `tuple()`. */
  readonly orderBy: readonly string[];
  readonly partitionBy?: string;
}

/** moose-lib's Stream retention (`retentionPeriod` 604800 s): a topic's when neither it nor `[redpanda_config] retention_ms` sets one. */
export const DEFAULT_TOPIC_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface Topic {
  readonly name: string;
  readonly partitions: number;
  /** Retention in milliseconds; absent means the broker's default. */
  readonly retentionMs?: number;
  readonly replicationFactor?: number;
  /** Other topic configs (`cleanup.policy`, ...), string-valued as Kafka has them. */
  readonly config: Readonly<Record<string, string>>;
  /** Record schema, the same columns a table would have. */
  readonly columns: readonly Column[];
  readonly lifeCycle: LifeCycle;
}

export type ApiKind = "ingest" | "consumption";

export interface ApiEndpoint {
  /** Route path without leading slash, e.g. `ingest/UserEvents` or `api/v2/metrics`. */
  readonly name: string;
  readonly kind: ApiKind;
  readonly version?: string;
  /** Request schema for ingest endpoints, query parameters for consumption endpoints. */
  readonly columns: readonly Column[];
  /** Ingest: the topic (or table) rows are delivered to. */
  readonly destination?: string;
}

export interface Workflow {
  readonly name: string;
  /** Cron expression (or `@every 1h`); absent means the workflow only runs on demand. */
  readonly schedule?: string;
  readonly retries: number;
  /** Timeout as written, e.g. `1h`. */
  readonly timeout?: string;
  readonly paused: boolean;
}

/** The topic→table sync a stream with a `destination` runs (Moose's "Background Process"). */
export interface SyncProcess {
  readonly name: string;
  readonly sourceTopic: string;
  readonly targetTable: string;
}

export type Component = Table | MaterializedView | Topic | ApiEndpoint | Workflow | SyncProcess;

export function emptyInfraMap(): InfraMap {
  return { version: INFRA_MAP_VERSION, tables: {}, views: {}, topics: {}, apis: {}, workflows: {}, processes: {} };
}

/**
 * Deterministic JSON: object keys sorted at every depth, arrays kept in order,
 * `undefined` members left out. Two equal maps always give identical text.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(canonicalForm(value), null, indent);
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * `value` with keys sorted and `undefined` members left out. Parts that already are
 * so (most of a map: columns, engines, arrays of names) are returned as they are
 * rather than copied: copying every object of a 1,000-table map cost more than
 * serializing it. Anything unusual (a class instance, a `toJSON` or `__proto__` key)
 * is copied by {@link sortKeys}, whose result defines the text.
 */
function canonicalForm(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype || hasOwn.call(value, "toJSON")) return sortKeys(value);
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const c = v !== null && typeof v === "object" ? canonicalForm(v) : v;
      if (out === undefined && c !== v) out = value.slice(0, i);
      out?.push(c);
    }
    return out ?? value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return sortKeys(value);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if ((i > 0 && !((keys[i - 1] as string) < k)) || record[k] === undefined || k === "__proto__" || k === "toJSON") return sortKeys(value);
  }
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = record[k];
    const c = v !== null && typeof v === "object" ? canonicalForm(v) : v;
    if (out === undefined && c !== v) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = record[keys[j] as string];
    }
    if (out !== undefined) out[k] = c;
  }
  return out ?? value;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonicalForm(v);
    }
    return out;
  }
  return value;
}

/**
 * `canonicalJson(a) === canonicalJson(b)`, without writing the text when both are plain
 * data (strings, booleans, finite numbers, null, arrays and plain objects of them), which
 * is what maps are made of: `diff` compares every column of every table this way.
 *
 * @example canonicallyEqual({ name: "id", type: "String", default: undefined }, { type: "String", name: "id" }) // true
 */
export function canonicallyEqual(a: unknown, b: unknown): boolean {
  return a === b || (plainEqual(a, b) ?? canonicalJson(a) === canonicalJson(b));
}

/** Whether two plain values have the same canonical JSON; undefined when either holds something else. */
function plainEqual(a: unknown, b: unknown): boolean | undefined {
  // The same object always has the same text (maps share unchanged parts).
  if (a === b && a !== null && typeof a === "object") return true;
  if (a === null || typeof a !== "object" || b === null || typeof b !== "object") {
    // JSON writes every finite number, string and boolean differently, except 0 and -0 (which `===` equates).
    return jsonScalar(a) && jsonScalar(b) ? a === b : undefined;
  }
  const aIsArray = Array.isArray(a);
  if (!plainObject(a, aIsArray) || !plainObject(b, Array.isArray(b))) return undefined;
  if (aIsArray !== Array.isArray(b)) return false;
  if (aIsArray) {
    const x = a as readonly unknown[];
    const y = b as readonly unknown[];
    if (x.length !== y.length) return false;
    let equal = true;
    for (let i = 0; i < x.length; i++) {
      // A hole or an undefined element is written as `null`.
      if (x[i] === undefined || y[i] === undefined) return undefined;
      const e = plainEqual(x[i], y[i]);
      if (e === undefined) return undefined;
      equal &&= e;
    }
    return equal;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let equal = true;
  let count = 0;
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    count++;
    const e = hasOwn.call(y, k) && y[k] !== undefined ? plainEqual(x[k], y[k]) : jsonVisible(x[k]) ? false : undefined;
    if (e === undefined) return undefined;
    equal &&= e;
  }
  for (const k of Object.keys(y)) {
    if (y[k] === undefined) continue;
    count--;
    if (!jsonVisible(y[k])) return undefined;
  }
  return equal && count === 0;
}

function jsonScalar(v: unknown): boolean {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** Written as JSON text of its own (a function or a symbol member is left out, like an undefined one). */
function jsonVisible(v: unknown): boolean {
  return jsonScalar(v) || (v !== null && typeof v === "object");
}

/** An array or object whose JSON is just its members: no class instance, no `toJSON`, no `__proto__` key. */
function plainObject(v: object, isArray: boolean): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  if (isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false;
  return !hasOwn.call(v, "toJSON") && !hasOwn.call(v, "__proto__");
}

/** Stable content hash of a map: `sha256:<hex>` of its canonical JSON. */
export function hashInfraMap(map: InfraMap): string {
  let plain = map.plainViews !== undefined && Object.keys(map.plainViews).length === 0 ? withPlainViews(map, {}) : map;
  if (plain.sqlResources !== undefined && Object.keys(plain.sqlResources).length === 0) plain = withSqlResources(plain, {});
  return "sha256:" + createHash("sha256").update(canonicalJson(plain)).digest("hex");
}

/**
 * {@link hashInfraMap} for a series of maps that share most of their entries, as the states
 * of a replay do (`applyChange` copies only the entries a change touches): each entry's
 * canonical text is kept per entry object, and each collection's sorted names are kept for
 * the next map (one with a few names added is sorted by putting those in place), and the
 * SHA-256 of the text the next map shares with the one before resumes from a kept state, so a
 * map costs the text of its new entries and the hashing of its text from the first of them,
 * not a walk of every object in it. Hashing the state after every file of a long history with
 * `hashInfraMap` grows with the square of its length.
 *
 * The entries must not change after they were hashed (maps are values: nothing in this
 * package changes an entry in place). With `keepEntries`, the entry texts are the ones
 * {@link hashKeepingEntries} keeps (shared by the process). Anything a plain record of plain entries does not
 * describe, and a name that is an array index (JSON writes those first, by number), is
 * hashed by `hashInfraMap` itself, so the text is always the same.
 *
 * @example
 * const hash = infraMapHasher();
 * for (const state of states) hash(state) === hashInfraMap(state); // true
 */
export function infraMapHasher(options: { readonly keepEntries?: boolean } = {}): (map: InfraMap) => string {
  const memo: EntryTexts = options.keepEntries ? keptEntryTexts : new WeakMap();
  const text = (key: string, value: unknown): Buffer => Buffer.from(`${JSON.stringify(key)}:${JSON.stringify(canonicalForm(value))}`);
  const member = (key: string, value: unknown): Buffer => {
    if (value === null || typeof value !== "object") return text(key, value);
    const kept = memo.get(value);
    if (kept !== undefined && kept.key === key) return kept.bytes;
    const bytes = text(key, value);
    memo.set(value, { key, bytes });
    return bytes;
  };
  const OPEN = Buffer.from("{");
  const CLOSE = Buffer.from("}");
  const COMMA = Buffer.from(",");
  /**
   * The keys of the record hashed last in each place (the map itself, or a kind), and them sorted.
   * A replay's next record usually has the same keys, or them and a few more at the end (a copy
   * with entries added, as `applyChange` makes it): those are put in place, the rest not sorted again.
   */
  const last = new Map<string, { readonly keys: readonly string[]; readonly sorted: readonly string[]; readonly indexLike: boolean }>();
  /** The keys in the order they are hashed; undefined when one is an array index (JSON writes those first: left to `hashInfraMap`). */
  const sortedKeys = (place: string, r: object): readonly string[] | undefined => {
    const keys = Object.keys(r);
    const before = last.get(place);
    let sorted: readonly string[];
    let indexLike: boolean;
    if (before !== undefined && keys.length >= before.keys.length && keys.length - before.keys.length <= ADDED_KEYS_INSERTED && startsWith(keys, before.keys)) {
      const added = keys.slice(before.keys.length);
      sorted = added.length === 0 ? before.sorted : withInserted(before.sorted, added);
      indexLike = before.indexLike || added.some(isArrayIndex);
    } else {
      sorted = keys.slice().sort();
      indexLike = keys.some(isArrayIndex);
    }
    last.set(place, { keys, sorted, indexLike });
    return indexLike ? undefined : sorted;
  };
  /** Appends a record written as `canonicalForm` would to `out`; false when it is not a plain record (then `hashInfraMap` decides). */
  const record = (place: string, value: unknown, out: Buffer[], entries: (key: string, v: unknown, out: Buffer[]) => boolean): boolean => {
    if (value === null || typeof value !== "object" || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) return false;
    const r = value as Record<string, unknown>;
    const keys = sortedKeys(place, r);
    if (keys === undefined) return false;
    out.push(OPEN);
    let first = true;
    for (const k of keys) {
      if (k === "__proto__" || k === "toJSON") return false;
      const v = r[k];
      if (v === undefined) continue;
      if (!first) out.push(COMMA);
      first = false;
      if (!entries(k, v, out)) return false;
    }
    out.push(CLOSE);
    return true;
  };
  const collection = (kind: string, value: unknown, out: Buffer[]): boolean => {
    if (value === null || typeof value !== "object") {
      out.push(text(kind, value));
      return true;
    }
    let header = headers.get(kind);
    if (header === undefined) headers.set(kind, (header = Buffer.from(`${JSON.stringify(kind)}:`)));
    out.push(header);
    return record(kind, value, out, (key, entry, o) => (o.push(member(key, entry)), true));
  };
  /** `"kind":` before each collection, the same object every time, so two maps' texts share it (see `digest`). */
  const headers = new Map<string, Buffer>();
  /**
   * The previous map's pieces of text, and the SHA-256 state after the first `at` of them every
   * {@link CHECKPOINT_BYTES} or so. The next map's text starts with the same pieces (the same
   * objects) up to its first new entry: hashing resumes at the last checkpoint before that, not at
   * the start (a table added half-way through a replay's sorted names costs half the text, not all of it).
   */
  let previous: { readonly parts: readonly Buffer[]; readonly checkpoints: readonly { readonly at: number; readonly hash: Hash }[] } | undefined;
  const digest = (parts: readonly Buffer[]): string => {
    let same = 0;
    if (previous !== undefined) {
      const n = Math.min(parts.length, previous.parts.length);
      while (same < n && parts[same] === previous.parts[same]) same++;
    }
    const checkpoints: { readonly at: number; readonly hash: Hash }[] = [];
    for (const c of previous?.checkpoints ?? []) {
      if (c.at > same) break;
      checkpoints.push(c);
    }
    const resume = checkpoints[checkpoints.length - 1];
    // A checkpoint is kept for the next map, so it is resumed from a copy.
    const hash = resume !== undefined ? resume.hash.copy() : createHash("sha256");
    let start = resume?.at ?? 0;
    let bytes = 0;
    for (let i = start; i < parts.length; i++) {
      bytes += parts[i]!.length;
      if (bytes < CHECKPOINT_BYTES) continue;
      hash.update(Buffer.concat(parts.slice(start, i + 1)));
      checkpoints.push({ at: i + 1, hash: hash.copy() });
      start = i + 1;
      bytes = 0;
    }
    hash.update(Buffer.concat(parts.slice(start)));
    previous = { parts, checkpoints };
    return "sha256:" + hash.digest("hex");
  };
  return (map) => {
    // Empty collections that are left out of the text, as hashInfraMap leaves them out.
    let plain = map.plainViews !== undefined && Object.keys(map.plainViews).length === 0 ? withPlainViews(map, {}) : map;
    if (plain.sqlResources !== undefined && Object.keys(plain.sqlResources).length === 0) plain = withSqlResources(plain, {});
    const parts: Buffer[] = [];
    if (!record("", plain, parts, collection)) return hashInfraMap(map);
    return digest(parts);
  };
}

/** Per entry object: its key in the collection and `"key":<canonical JSON>` as UTF-8 (hashed as bytes, never re-encoded). */
type EntryTexts = WeakMap<object, { readonly key: string; readonly bytes: Buffer }>;

/** The entry texts {@link hashKeepingEntries} keeps, for as long as each entry object lives. */
const keptEntryTexts: EntryTexts = new WeakMap();

/**
 * {@link hashInfraMap}, keeping each entry's canonical text (per entry object, for as long
 * as it lives) so that {@link knownEqualEntries} can answer for two entries hashed this
 * way, and a later map made of the same entry objects (a plan's result, which keeps
 * every entry the plan leaves alone) costs the hashing of its text only. The planner
 * hashes the current state and the code's map with it before it compares them.
 * The entries must not change after they were hashed, as for {@link infraMapHasher}.
 */
export function hashKeepingEntries(map: InfraMap): string {
  return infraMapHasher({ keepEntries: true })(map);
}

/**
 * Whether entries `a` and `b`, both under `key` in their collections, have the same
 * canonical JSON: known only when both were hashed by {@link hashKeepingEntries} under
 * that key (undefined otherwise). The diff skips a table that is known to be equal.
 *
 * @example
 * hashKeepingEntries(current); hashKeepingEntries(code);
 * knownEqualEntries("Users", current.tables.Users, code.tables.Users) // true, false or undefined
 */
export function knownEqualEntries(key: string, a: object, b: object): boolean | undefined {
  if (a === b) return true;
  const x = keptEntryTexts.get(a);
  const y = keptEntryTexts.get(b);
  if (x === undefined || y === undefined || x.key !== key || y.key !== key) return undefined;
  return x.bytes.equals(y.bytes);
}

/** How much text {@link infraMapHasher} hashes between two kept SHA-256 states (each kept state is a copy of the hash). */
const CHECKPOINT_BYTES = 32 * 1024;

/** More keys added than this are sorted with the rest (inserting each costs a copy of the list). */
const ADDED_KEYS_INSERTED = 8;

/** A key JavaScript orders before all others, by number ("7" before "42"), whatever order it was sorted in. */
function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) <= 4294967294;
}

function startsWith(keys: readonly string[], prefix: readonly string[]): boolean {
  for (let i = 0; i < prefix.length; i++) if (keys[i] !== prefix[i]) return false;
  return true;
}

/** `sorted` with `added` (keys it does not hold) put in place, in the order `Array#sort` gives: by UTF-16 code units, as `<` compares. */
function withInserted(sorted: readonly string[], added: readonly string[]): string[] {
  const out = sorted.slice();
  for (const key of added) {
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (out[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, key);
  }
  return out;
}

/** Parse and check a serialized map (snapshots, remote instances). */
export function parseInfraMap(json: unknown): InfraMap {
  if (json === null || typeof json !== "object") throw new TypeError("an InfraMap must be a JSON object");
  const m = json as Partial<Record<keyof InfraMap, unknown>>;
  if (m.version !== INFRA_MAP_VERSION) {
    throw new TypeError(`unsupported InfraMap version ${JSON.stringify(m.version)} (this tool reads version ${INFRA_MAP_VERSION})`);
  }
  for (const kind of COMPONENT_KINDS) {
    const c = m[kind];
    if (c === null || typeof c !== "object" || Array.isArray(c)) throw new TypeError(`InfraMap.${kind} must be an object keyed by name`);
  }
  const p = m.plainViews;
  if (p !== undefined && (p === null || typeof p !== "object" || Array.isArray(p))) throw new TypeError("InfraMap.plainViews must be an object keyed by name");
  const r = m.sqlResources;
  if (r !== undefined && (r === null || typeof r !== "object" || Array.isArray(r))) throw new TypeError("InfraMap.sqlResources must be an object keyed by name");
  return json as InfraMap;
}
