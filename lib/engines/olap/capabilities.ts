/**
 * What a ClickHouse server can run, decided from its version. The SQL renderer asks
 * these flags and refuses (before anything is sent) what the server cannot do, so no
 * other stage carries `if (version < ...)` chains.
 *
 * Verified against real servers: 18.16.1 (Debian bookworm's `clickhouse-server`) and
 * 26.x (chDB 3.4). The thresholds in between are the releases whose notes introduced
 * the feature, rounded up where unsure: a late threshold only costs a refusal (or
 * the slower DROP + CREATE for a view), an early one would fail half-way through a migration.
 */
export interface OlapCapabilities {
  /** The server version the flags were decided from, e.g. `26.7.2.1`; refusals name it. */
  readonly version: string;

  // Column types
  /** `Bool` (21.12; UInt8 is not the same type, so there is no stand-in). */
  readonly boolType: boolean;
  /** `Date32` (21.9). */
  readonly date32: boolean;
  /** `DateTime64(p)` (20.1). */
  readonly dateTime64: boolean;
  /** The JSON type (`JSON`, GA in 25.3; the older `Object('json')` is another type). */
  readonly json: boolean;
  /** `LowCardinality(T)`: 18.12+; before 19.1 the server adapter enables it per query with `allow_experimental_low_cardinality_type`. */
  readonly lowCardinality: boolean;
  /** `Map(K, V)` (21.8 without the experimental flag). */
  readonly mapType: boolean;
  /** Named tuple elements, `Tuple(a String, b Float64)` (21.1; 18.16 accepts the syntax but cannot read the data). */
  readonly namedTuple: boolean;
  /** `Nested(...)` kept as one column with `flatten_nested = 0` (21.1); older servers always flatten it into arrays. */
  readonly nestedUnflattened: boolean;
  /** `IPv4` / `IPv6` (19.5). */
  readonly ipTypes: boolean;
  /** `SimpleAggregateFunction(f, T)` (19.8). */
  readonly simpleAggregateFunction: boolean;

  // DDL
  /** `ALTER TABLE … RENAME COLUMN` (20.4). */
  readonly renameColumn: boolean;
  /** `ADD COLUMN … FIRST` (21.1; `AFTER` works everywhere). */
  readonly addColumnFirst: boolean;
  /** `MODIFY COLUMN c T AFTER x | FIRST`, i.e. moving a column (21.1). */
  readonly moveColumn: boolean;
  /** `MODIFY COLUMN c REMOVE DEFAULT | MATERIALIZED | ALIAS | CODEC | TTL` (21.1). */
  readonly removeColumnDefault: boolean;
  /** `ADD COLUMN IF NOT EXISTS` (19.1; not used by the renderer, which wants a missing column to fail loudly). */
  readonly ifNotExistsColumn: boolean;
  /** `MODIFY ORDER BY` (appending columns added in the same ALTER; present in 18.16). */
  readonly modifyOrderBy: boolean;
  /** Table `TTL` and `MODIFY TTL` (19.6). */
  readonly ttl: boolean;
  /** Column compression codecs, `c String CODEC(ZSTD(3))` (19.1). */
  readonly columnCodec: boolean;
  /** Column TTL, `c String TTL ts + INTERVAL 1 DAY` (19.6, with table TTL). */
  readonly columnTtl: boolean;
  /** Data-skipping indexes without an experimental flag, `ADD/DROP/MATERIALIZE INDEX`, and `system.data_skipping_indices` (21.1). */
  readonly skippingIndexes: boolean;
  /** `CONSTRAINT c CHECK expr` in CREATE TABLE and ALTER ADD/DROP CONSTRAINT (19.14). */
  readonly checkConstraints: boolean;
  /** `CONSTRAINT c ASSUME expr` (22.3 here: the release notes give an earlier version; rounded up to one known to have it). */
  readonly assumeConstraints: boolean;
  /** Projections, `ADD/DROP/MATERIALIZE PROJECTION`, and `system.projections` (25.1, rounded up). */
  readonly projections: boolean;
  /** `ALTER TABLE … REMOVE TTL` (21.8). */
  readonly removeTtl: boolean;
  /** `ALTER TABLE … MODIFY SETTING` (19.11). */
  readonly modifySetting: boolean;
  /** `ALTER TABLE … RESET SETTING` (21.8). */
  readonly resetSetting: boolean;
  /** `DROP VIEW` (20.8; older servers drop views with `DROP TABLE`). */
  readonly dropView: boolean;
  /** `CREATE DICTIONARY` / `DROP DICTIONARY` (19.17; before that dictionaries were server config files). */
  readonly dictionaryDdl: boolean;
  /** `CREATE FUNCTION … AS (x) -> …` / `DROP FUNCTION` (21.10). */
  readonly sqlUserFunctions: boolean;
  /** `ALTER TABLE mv MODIFY QUERY` without an experimental flag (25.1); otherwise views are dropped and re-created. */
  readonly modifyQuery: boolean;
  /** `EXCHANGE TABLES` (20.10 and an Atomic database). */
  readonly exchangeTables: boolean;
  /** `ReplacingMergeTree(ver, is_deleted)` (23.2). */
  readonly isDeletedColumn: boolean;
  /** Query parameters `{name:Type}` (19.11). */
  readonly queryParameters: boolean;
  /** `accurateCastOrNull` and `accurateCastOrDefault` (21.4), for pre-flight checks and conversions of narrowed columns. */
  readonly accurateCast: boolean;
  /** The `optimize_on_insert` setting (21.1): a rebuild's copy into a merging engine keeps every row until the count is verified. */
  readonly optimizeOnInsert: boolean;
  /** `SETTINGS mutations_sync = 2` on `ALTER … UPDATE` (20.1 here); otherwise the executor waits on system.mutations. */
  readonly mutationsSync: boolean;
  /** `ALTER TABLE … MOVE PARTITION … TO TABLE` (20.1): a staged write moves each partition in atomically. */
  readonly movePartitionToTable: boolean;
  /** MergeTree settings that cannot change after CREATE (`index_granularity`, ...). */
  readonly readonlySettings: readonly string[];

  // Table engines that hold no rows of their own (Buffer and Merge exist on every version)
  /** The Kafka engine (present in 18.16 and chDB; the broker is reached only when the table is read). */
  readonly kafkaEngine: boolean;
  /** The S3 engine with `NOSIGN`, as moose-lib creates public-bucket tables (23.4, rounded up; the engine itself is older). */
  readonly s3Engine: boolean;
  /** The S3Queue engine (23.8); it also needs ZooKeeper/Keeper (`replication`) for its processed-file state. */
  readonly s3QueueEngine: boolean;
  /** The S3 engine's `partition_strategy` / `partition_columns_in_data_file` settings (hive-style writes, 25.8). */
  readonly s3PartitionStrategy: boolean;
  /** The Kafka engine's `kafka_security_protocol` / `kafka_sasl_*` table settings (23.3, rounded up; 18.16 refuses them as unknown). */
  readonly kafkaSaslSettings: boolean;
  /** Buffer's optional `flush_time`, `flush_rows`, `flush_bytes` arguments (21.9, rounded up). */
  readonly bufferFlushThresholds: boolean;
  /** `Merge(REGEXP('…'), …)`: a regular expression for the source database (21.5, rounded up). */
  readonly mergeDatabaseRegexp: boolean;

  // Clusters
  /** `ON CLUSTER` DDL: a server with ZooKeeper/Keeper (the DDL queue lives there); chDB has neither. */
  readonly clusters: boolean;
  /** The `Replicated*` engines: the server has ZooKeeper/ClickHouse Keeper configured. */
  readonly replication: boolean;
  /** The `{uuid}` macro in a keeper path (20.10+, Atomic database, ZooKeeper/Keeper). */
  readonly uuidMacro: boolean;
  /**
   * Which ClickHouse this is: the embedded engine (chDB, in this process) or a server. What the
   * embedded engine does instead of replication, and what its in-memory Keeper costs: {@link EMBEDDED_KEEPER_LIMITS}.
   */
  readonly host: "embedded" | "server";
}

/**
 * What the embedded engine (chDB 3.4, ClickHouse 26.7) can do with `Replicated*` and S3Queue
 * tables. chDB accepts a server config (`--config-file`) with an in-memory Keeper
 * (`<zookeeper><implementation>testkeeper</implementation></zookeeper>`; chdb-process.ts writes
 * it) and creates both table kinds with it. Measured, and checked by `tests/chdb-keeper.test.ts`
 * (real chDB processes), which fails the day a chDB release lifts either limit:
 * - a Replicated table is created but its replica is never activated: chDB's embedded server
 *   sets no interserver address (`<interserver_http_port>` in the config is not read), so the
 *   restarting thread fails forever ("Parameter 'interserver_http(s)_port' required for
 *   replication is not specified") and every INSERT fails as read-only (TABLE_IS_READ_ONLY).
 *   The embedded engine therefore creates a Replicated table as its engine without replication;
 * - S3Queue's state is started once per process: once any embedded ClickHouse of the process
 *   has closed (the SQL parser's own session, or the data directory closed and opened again),
 *   creating an S3Queue table fails ("Shutdown was called") and a data directory that holds
 *   one can no longer be opened in that process. Commands that open the project's data
 *   directory say so before they read any SQL (`willOpenDataDirectory`), so none closes first.
 */
export const EMBEDDED_KEEPER_LIMITS = {
  replication:
    "the embedded engine (chDB) can be given an in-memory Keeper, but it never activates a replica (its embedded server has no interserver address), so the table would stay read-only and every INSERT would fail (TABLE_IS_READ_ONLY)",
  s3Queue:
    "the embedded engine (chDB) can be given an in-memory Keeper, but chDB starts S3Queue's state once per process: after any embedded ClickHouse of the process has closed, S3Queue tables fail (\"Shutdown was called\") and a data directory holding one can no longer be opened in that process",
} as const;

/** `[major, minor, patch, build]`; missing parts are 0, so "18.16.1" and "18.16.1.0" compare equal. */
export type ServerVersion = readonly [number, number, number, number];

/** Parses `26.7.2.1` or `18.16.1`; anything unreadable becomes 0.0.0.0 (the most careful answer). */
export function parseServerVersion(text: string): ServerVersion {
  const parts = text.trim().split(".").map((p) => Number.parseInt(p, 10));
  const n = (i: number): number => (Number.isFinite(parts[i]) ? (parts[i] as number) : 0);
  return [n(0), n(1), n(2), n(3)];
}

/** Whether `version` is at least `major.minor`. */
export function atLeast(version: ServerVersion, major: number, minor = 0): boolean {
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

/** MergeTree settings that are read-only after CREATE on every version we know of. */
const KNOWN_READONLY_SETTINGS = ["index_granularity", "index_granularity_bytes", "enable_mixed_granularity_parts"] as const;

export interface RuntimeFacts {
  /** Engine of the managed database (`Atomic`, `Ordinary`, ...), when known. */
  readonly databaseEngine?: string;
  /** From `system.merge_tree_settings.readonly`, when the server has that column. */
  readonly readonlySettings?: readonly string[];
  /** A server (not the embedded engine). */
  readonly server?: boolean;
  /** Whether the server answers `system.zookeeper` (ZooKeeper or Keeper configured). */
  readonly zooKeeper?: boolean;
  /** The embedded engine (chDB), not a server. */
  readonly embedded?: boolean;
}

/**
 * The capability table for a server version, refined by facts only the live server
 * knows (EXCHANGE TABLES needs an Atomic database).
 *
 * @example capabilitiesFor("18.16.1").renameColumn // false
 */
export function capabilitiesFor(version: string, facts: RuntimeFacts = {}): OlapCapabilities {
  const v = parseServerVersion(version);
  const readonlySettings = [...new Set([...KNOWN_READONLY_SETTINGS, ...(facts.readonlySettings ?? [])])].sort();
  return {
    version,
    boolType: atLeast(v, 21, 12),
    date32: atLeast(v, 21, 9),
    dateTime64: atLeast(v, 20, 1),
    json: atLeast(v, 25, 3),
    lowCardinality: atLeast(v, 18, 12),
    mapType: atLeast(v, 21, 8),
    namedTuple: atLeast(v, 21, 1),
    nestedUnflattened: atLeast(v, 21, 1),
    ipTypes: atLeast(v, 19, 5),
    simpleAggregateFunction: atLeast(v, 19, 8),
    renameColumn: atLeast(v, 20, 4),
    addColumnFirst: atLeast(v, 21, 1),
    moveColumn: atLeast(v, 21, 1),
    removeColumnDefault: atLeast(v, 21, 1),
    ifNotExistsColumn: atLeast(v, 19, 1),
    modifyOrderBy: atLeast(v, 18, 1),
    ttl: atLeast(v, 19, 6),
    columnCodec: atLeast(v, 19, 1),
    columnTtl: atLeast(v, 19, 6),
    removeTtl: atLeast(v, 21, 8),
    skippingIndexes: atLeast(v, 21, 1),
    checkConstraints: atLeast(v, 19, 14),
    assumeConstraints: atLeast(v, 22, 3),
    projections: atLeast(v, 25, 1),
    modifySetting: atLeast(v, 19, 11),
    resetSetting: atLeast(v, 21, 8),
    dropView: atLeast(v, 20, 8),
    dictionaryDdl: atLeast(v, 19, 17),
    sqlUserFunctions: atLeast(v, 21, 10),
    modifyQuery: atLeast(v, 25, 1),
    exchangeTables: atLeast(v, 20, 10) && (facts.databaseEngine === undefined || facts.databaseEngine === "Atomic" || facts.databaseEngine === "Replicated"),
    isDeletedColumn: atLeast(v, 23, 2),
    queryParameters: atLeast(v, 19, 11),
    accurateCast: atLeast(v, 21, 4),
    optimizeOnInsert: atLeast(v, 21, 1),
    movePartitionToTable: atLeast(v, 20, 1),
    mutationsSync: atLeast(v, 20, 1),
    readonlySettings,
    kafkaEngine: atLeast(v, 18, 1),
    s3Engine: atLeast(v, 23, 4),
    bufferFlushThresholds: atLeast(v, 21, 9),
    s3QueueEngine: atLeast(v, 23, 8),
    s3PartitionStrategy: atLeast(v, 25, 8),
    kafkaSaslSettings: atLeast(v, 23, 3),
    mergeDatabaseRegexp: atLeast(v, 21, 5),
    // Distributed DDL goes through the DDL queue in ZooKeeper/Keeper.
    clusters: facts.server === true && facts.zooKeeper === true,
    replication: facts.zooKeeper === true,
    uuidMacro: facts.zooKeeper === true && atLeast(v, 20, 10) && (facts.databaseEngine === "Atomic" || facts.databaseEngine === "Replicated"),
    host: facts.embedded === true ? "embedded" : "server",
  };
}

/** Query-level settings a server needs for our DDL to be accepted (sent with every statement). */
export function requiredQuerySettings(version: string): Readonly<Record<string, string | number>> {
  const v = parseServerVersion(version);
  // LowCardinality existed from 18.12 behind this flag; it is on by default from 19.1.
  return atLeast(v, 18, 12) && !atLeast(v, 19, 1) ? { allow_experimental_low_cardinality_type: 1 } : {};
}
