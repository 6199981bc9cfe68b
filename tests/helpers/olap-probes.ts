import type { OlapCapabilities, OlapEngine } from "../../lib/engines/olap/engine.js";

export type Probe = (e: OlapEngine) => Promise<unknown>;
const mt = "ENGINE = MergeTree ORDER BY tuple()";

/** One real attempt per capability flag, on the engine's database. */
export const probes: Record<Exclude<keyof OlapCapabilities, "version" | "readonlySettings" | "host">, Probe> = {
  boolType: (e) => e.execute(`CREATE TABLE p_bool (x Bool) ${mt}`),
  date32: (e) => e.execute(`CREATE TABLE p_date32 (x Date32) ${mt}`),
  dateTime64: (e) => e.execute(`CREATE TABLE p_dt64 (x DateTime64(3)) ${mt}`),
  json: (e) => e.execute(`CREATE TABLE p_json (x JSON) ${mt}`),
  lowCardinality: (e) => e.execute(`CREATE TABLE p_lc (x LowCardinality(String)) ${mt}`),
  mapType: (e) => e.execute(`CREATE TABLE p_map (x Map(String, UInt8)) ${mt}`),
  ipTypes: (e) => e.execute(`CREATE TABLE p_ip (x IPv4) ${mt}`),
  simpleAggregateFunction: (e) => e.execute(`CREATE TABLE p_saf (k String, x SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY k`),
  namedTuple: async (e) => {
    // 18.16 accepts the syntax but cannot read the data back.
    await e.execute(`CREATE TABLE p_tuple (x Tuple(a String, b UInt8)) ${mt}`);
    await e.execute("INSERT INTO p_tuple VALUES (('s', 1))");
    const [row] = await e.query("SELECT tupleElement(x, 'a') AS a FROM p_tuple");
    if (row?.a !== "s") throw new Error(`read back ${JSON.stringify(row)}`);
  },
  nestedUnflattened: async (e) => {
    await e.execute(`CREATE TABLE p_nested (n Nested(a String)) ${mt} SETTINGS flatten_nested = 0`);
    const [row] = await e.query(`SELECT type FROM system.columns WHERE database = '${e.database}' AND table = 'p_nested'`);
    if (!String(row?.type).startsWith("Nested(")) throw new Error(`flattened into ${JSON.stringify(row)}`);
  },
  renameColumn: (e) => alter(e, "p_rename", "RENAME COLUMN c TO c2"),
  addColumnFirst: (e) => alter(e, "p_first", "ADD COLUMN z String FIRST"),
  moveColumn: (e) => alter(e, "p_move", "MODIFY COLUMN c String AFTER a"),
  removeColumnDefault: (e) => alter(e, "p_rmdefault", "MODIFY COLUMN b REMOVE DEFAULT"),
  ifNotExistsColumn: (e) => alter(e, "p_ifnot", "ADD COLUMN IF NOT EXISTS a String"),
  modifyOrderBy: (e) => alter(e, "p_orderby", "ADD COLUMN k String, MODIFY ORDER BY (a, k)"),
  ttl: (e) => e.execute("CREATE TABLE p_ttl (ts DateTime) ENGINE = MergeTree ORDER BY tuple() TTL ts + INTERVAL 1 DAY"),
  skippingIndexes: async (e) => {
    await e.execute(`CREATE TABLE p_index (x String, INDEX i x TYPE bloom_filter(0.01) GRANULARITY 4) ${mt}`);
    await e.execute("ALTER TABLE p_index MATERIALIZE INDEX i");
    await e.query("SELECT name FROM system.data_skipping_indices LIMIT 1");
  },
  projections: async (e) => {
    await e.execute(`CREATE TABLE p_projection (x String, PROJECTION p (SELECT x, count() GROUP BY x)) ${mt}`);
    await e.query("SELECT name FROM system.projections LIMIT 1");
  },
  checkConstraints: async (e) => {
    await e.execute(`CREATE TABLE p_check (x UInt8, CONSTRAINT c CHECK x < 10) ${mt}`);
    await e.execute("ALTER TABLE p_check DROP CONSTRAINT c");
    await e.execute("ALTER TABLE p_check ADD CONSTRAINT c CHECK x < 20");
  },
  assumeConstraints: (e) => e.execute(`CREATE TABLE p_assume (x UInt8, CONSTRAINT c ASSUME x < 10) ${mt}`),
  columnCodec: (e) => e.execute(`CREATE TABLE p_codec (x String CODEC(ZSTD(3))) ${mt}`),
  columnTtl: (e) => e.execute("CREATE TABLE p_colttl (ts DateTime, x String TTL ts + INTERVAL 1 DAY) ENGINE = MergeTree ORDER BY tuple()"),
  removeTtl: async (e) => {
    await e.execute("CREATE TABLE p_rmttl (ts DateTime) ENGINE = MergeTree ORDER BY tuple() TTL ts + INTERVAL 1 DAY");
    await e.execute("ALTER TABLE p_rmttl REMOVE TTL");
  },
  modifySetting: (e) => alter(e, "p_modset", "MODIFY SETTING parts_to_throw_insert = 1000"),
  resetSetting: async (e) => {
    await alter(e, "p_resetset", "MODIFY SETTING parts_to_throw_insert = 1000");
    await e.execute("ALTER TABLE p_resetset RESET SETTING parts_to_throw_insert");
  },
  dictionaryDdl: async (e) => {
    await e.execute("CREATE TABLE IF NOT EXISTS p_dict_src (id UInt64, v String) ENGINE = Memory");
    await e.execute("CREATE DICTIONARY p_dict (id UInt64, v String) PRIMARY KEY id SOURCE(CLICKHOUSE(TABLE 'p_dict_src')) LAYOUT(FLAT()) LIFETIME(0)");
    await e.execute("DROP DICTIONARY p_dict");
  },
  sqlUserFunctions: async (e) => {
    await e.execute("CREATE FUNCTION p_moose_probe_fn AS (x) -> x + 1");
    await e.execute("DROP FUNCTION p_moose_probe_fn");
  },
  dropView: async (e) => {
    await view(e, "p_dropview");
    await e.execute("DROP VIEW p_dropview_mv");
  },
  modifyQuery: async (e) => {
    await view(e, "p_modquery");
    await e.execute("ALTER TABLE p_modquery_mv MODIFY QUERY SELECT a FROM p_modquery_src WHERE a != ''");
  },
  exchangeTables: async (e) => {
    await e.execute(`CREATE TABLE p_ex1 (a String) ${mt}`);
    await e.execute(`CREATE TABLE p_ex2 (a String) ${mt}`);
    await e.execute("EXCHANGE TABLES p_ex1 AND p_ex2");
  },
  isDeletedColumn: (e) => e.execute("CREATE TABLE p_isdel (id String, v UInt64, d UInt8) ENGINE = ReplacingMergeTree(v, d) ORDER BY id"),
  accurateCast: async (e) => {
    const [row] = await e.query("SELECT accurateCastOrNull(300, 'Int8') AS a, accurateCastOrDefault(300, 'Int8') AS b");
    if (row?.a !== null || Number(row?.b) !== 0) throw new Error(JSON.stringify(row));
  },
  optimizeOnInsert: async (e) => {
    await e.execute(`CREATE TABLE p_ooi (a String) ${mt}`);
    await e.execute("INSERT INTO p_ooi SETTINGS optimize_on_insert = 0 SELECT 'x'");
  },
  clusters: async (e) => {
    const [row] = await e.query<{ cluster: string }>("SELECT cluster FROM system.clusters WHERE is_local LIMIT 1");
    if (!row) throw new Error("no cluster in system.clusters includes this server");
    await e.query("SELECT count() FROM system.zookeeper WHERE path = '/'");
    await e.execute(`CREATE TABLE p_oncluster ON CLUSTER \`${row.cluster}\` (a String) ${mt}`);
  },
  // Without ZooKeeper, 18.16 leaves the data folder of a Replicated table it refused, and the database cannot be dropped.
  replication: async (e) => {
    await e.query("SELECT count() FROM system.zookeeper WHERE path = '/'");
    await e.execute(`CREATE TABLE p_repl (a String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/moose_probe/${e.database}/p_repl', 'r1') ORDER BY a`);
  },
  uuidMacro: async (e) => {
    await e.query("SELECT count() FROM system.zookeeper WHERE path = '/'");
    await e.execute("CREATE TABLE p_uuid (a String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/moose_probe/{uuid}', 'r1') ORDER BY a");
  },
  movePartitionToTable: async (e) => {
    await e.execute(`CREATE TABLE p_mv1 (a String) ${mt}`);
    await e.execute("CREATE TABLE p_mv2 AS p_mv1");
    await e.execute("INSERT INTO p_mv1 VALUES ('x')");
    await e.execute("ALTER TABLE p_mv1 MOVE PARTITION ID 'all' TO TABLE p_mv2");
  },
  mutationsSync: async (e) => {
    await e.execute(`CREATE TABLE p_msync (a String) ${mt}`);
    await e.execute("ALTER TABLE p_msync UPDATE a = 'y' WHERE 1 SETTINGS mutations_sync = 2");
  },
  kafkaEngine: (e) => e.execute("CREATE TABLE p_kafka (a String) ENGINE = Kafka('127.0.0.1:9', 'probe', 'probe', 'JSONEachRow')"),
  s3Engine: (e) => e.execute("CREATE TABLE p_s3 (a String) ENGINE = S3('https://bucket.s3.amazonaws.com/probe/*.csv', NOSIGN, 'CSV')"),
  s3PartitionStrategy: (e) =>
    e.execute("CREATE TABLE p_s3_hive (a String, d String) ENGINE = S3('https://bucket.s3.amazonaws.com/probe/', NOSIGN, 'Parquet') PARTITION BY d SETTINGS partition_strategy = 'hive', partition_columns_in_data_file = 1"),
  kafkaSaslSettings: (e) =>
    e.execute("CREATE TABLE p_kafka_sasl (a String) ENGINE = Kafka('127.0.0.1:9', 'probe', 'probe', 'JSONEachRow') SETTINGS kafka_security_protocol = 'sasl_plaintext', kafka_sasl_mechanism = 'PLAIN', kafka_sasl_username = 'u', kafka_sasl_password = 'p'"),
  // Creating one also needs ZooKeeper/Keeper (the `replication` flag): the engine's presence is what this flag says.
  s3QueueEngine: async (e) => {
    const rows = await e.query("SELECT name FROM system.table_engines WHERE name = 'S3Queue'");
    if (rows.length !== 1) throw new Error("no S3Queue in system.table_engines");
  },
  bufferFlushThresholds: async (e) => {
    await e.execute(`CREATE TABLE p_bufdest (a String) ${mt}`);
    await e.execute("CREATE TABLE p_buf (a String) ENGINE = Buffer(currentDatabase(), 'p_bufdest', 1, 1, 10, 1, 10, 1, 10, 5, 0, 0)");
  },
  mergeDatabaseRegexp: (e) => e.execute("CREATE TABLE p_merge (a String) ENGINE = Merge(REGEXP('^probe$'), '^p_')"),
  queryParameters: async (e) => {
    const [row] = await e.query("SELECT {x:UInt8} + 1 AS y", { x: 7 });
    if (Number(row?.y) !== 8) throw new Error(JSON.stringify(row));
  },
};

async function alter(e: OlapEngine, name: string, clause: string): Promise<void> {
  await e.execute(`CREATE TABLE ${name} (a String, b String DEFAULT 'x', c String) ENGINE = MergeTree ORDER BY a`);
  await e.execute(`ALTER TABLE ${name} ${clause}`);
}

async function view(e: OlapEngine, name: string): Promise<void> {
  await e.execute(`CREATE TABLE ${name}_src (a String) ${mt}`);
  await e.execute(`CREATE TABLE ${name}_dst (a String) ${mt}`);
  await e.execute(`CREATE MATERIALIZED VIEW ${name}_mv TO ${name}_dst AS SELECT a FROM ${name}_src`);
}


export interface ProbeRow {
  readonly flag: keyof typeof probes;
  readonly capability: boolean;
  readonly server: boolean;
  readonly why: string;
}

/**
 * Tries every capability for real and reports it next to the table's answer.
 * `queryParameters` can be replaced, since the adapter refuses parameters up front
 * where the table says the server has none.
 */
export async function probeCapabilities(engine: OlapEngine, queryParameters?: Probe): Promise<{ rows: ProbeRow[]; conservative: string[]; text: string }> {
  const caps = await engine.capabilities();
  const rows: ProbeRow[] = [];
  for (const [flag, probe] of Object.entries({ ...probes, ...(queryParameters ? { queryParameters } : {}) }) as Array<[keyof typeof probes, Probe]>) {
    let server = true;
    let why = "";
    try {
      await probe(engine);
    } catch (error) {
      server = false;
      why = ((error as Error).message.split("\n")[0] ?? "").slice(0, 120);
    }
    rows.push({ flag, capability: caps[flag], server, why });
  }
  const text = [`ClickHouse ${caps.version}`, ...rows.map((r) => `${r.flag.padEnd(24)} capability=${String(r.capability).padEnd(5)} server=${r.server}${r.server ? "" : `  (${r.why})`}`)].join("\n");
  return { rows, conservative: rows.filter((r) => r.server && !r.capability).map((r) => r.flag), text };
}
