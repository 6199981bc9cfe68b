import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { extractApp, type ExtractedApp } from "../lib/extract/extract-app.js";
import type { Table } from "../lib/model/infra-map.js";
import { errorsOf, once, tempApp } from "./helpers/extract-apps.js";

/**
 * The conformance table of the README (moose-lib feature → what moose-migrate does), checked
 * against the code: every "planned" row is declared in one app that must extract, and the
 * ClickHouse text the row names must appear in the CREATE statement rendered for it; every
 * "refused" row is declared in a second app and must fail with the code the row names; the
 * README's table must be exactly the one these rows render (`MOOSE_WRITE_CONFORMANCE=1`
 * rewrites it).
 */
interface Row {
  readonly feature: string;
  /** A declaration of the feature (one line of `app/index.ts`), for a table named in `table`. */
  readonly declaration: string;
  readonly table: string;
  /** The row declares a plain view (moose-lib's `View`) named `table`, not a table. */
  readonly view?: true;
  /** The row declares a SqlResource named `table`: the ClickHouse text is in its setup's statements. */
  readonly sqlResource?: true;
  /** `planned`, or the error code it is refused with. */
  readonly outcome: "planned" | "NOT_PLANNED" | "INVALID_CONFIG" | "SECRET_IN_SOURCE";
  /** What the CREATE statement contains (planned rows), or the reason (refused rows). */
  readonly clickhouse: string;
  readonly changes: string;
  readonly servers: string;
}

const header = [
  'import { OlapTable, View, SqlResource, ClickHouseEngines, Key, LifeCycle, mooseRuntimeEnv, UInt64, Int8, ClickHouseDefault, ClickHouseMaterialized, ClickHouseAlias, ClickHouseCodec, ClickHouseTTL } from "@514labs/moose-lib";',
  "interface Row { id: Key<string>; at: Date; n: UInt64; sign: Int8; v: UInt64; d: UInt64 }",
  "interface Plain { id: string; amount: number }",
  'interface Cols { id: Key<string>; at: Date; day: Date & ClickHouseMaterialized<"toDate(at)">; label: string & ClickHouseAlias<"upper(id)">; blob: string & ClickHouseCodec<"ZSTD(3)">; debug: string & ClickHouseTTL<"at + INTERVAL 1 DAY">; score: number & ClickHouseDefault<"0"> }',
];

const rows: readonly Row[] = [
  { feature: "engine MergeTree (default), `Key<>` / `orderByFields`", table: "T1", declaration: 'new OlapTable<Row>("T1")', outcome: "planned", clickhouse: "ENGINE = MergeTree\nORDER BY `id`", changes: "columns: ALTER; ORDER BY: ALTER when only extended with new columns, else rebuild keeping rows", servers: "all" },
  { feature: "`orderByExpression`, `partitionBy`, `ttl`, `settings`", table: "T2", declaration: 'new OlapTable<Row>("T2", { orderByExpression: "(id, toDate(at))", partitionBy: "toYYYYMM(at)", ttl: "at + INTERVAL 90 DAY", settings: { index_granularity: "4096" } })', outcome: "planned", clickhouse: "PARTITION BY toYYYYMM(at)\nORDER BY (id, toDate(at))\nTTL at + INTERVAL 90 DAY\nSETTINGS index_granularity = 4096", changes: "PARTITION BY: rebuild; TTL: MODIFY TTL (approval); settings: MODIFY SETTING", servers: "TTL 19.6+, MODIFY SETTING 19.11+" },
  { feature: "`primaryKeyExpression`, `sampleByExpression`", table: "T3", declaration: 'new OlapTable<Row>("T3", { orderByExpression: "(id, cityHash64(id), at)", primaryKeyExpression: "(id, cityHash64(id))", sampleByExpression: "cityHash64(id)" })', outcome: "planned", clickhouse: "PRIMARY KEY (`id`, cityHash64(id))\nSAMPLE BY cityHash64(id)", changes: "rebuild keeping rows", servers: "all" },
  { feature: "`indexes`, `projections`", table: "T4", declaration: 'new OlapTable<Row>("T4", { indexes: [{ name: "i_at", expression: "at", type: "minmax" }], projections: [{ name: "p", body: "SELECT id, count() GROUP BY id" }] })', outcome: "planned", clickhouse: "INDEX `i_at` at TYPE minmax GRANULARITY 1,\n  PROJECTION `p` (SELECT id, count() GROUP BY id)", changes: "ADD/DROP INDEX + MATERIALIZE, ADD/DROP PROJECTION + MATERIALIZE", servers: "indexes 21.1+, projections 25.1+" },
  { feature: "ReplacingMergeTree (`ver`, `isDeleted`)", table: "T5", declaration: 'new OlapTable<Row>("T5", { engine: ClickHouseEngines.ReplacingMergeTree, ver: "v", isDeleted: "d" })', outcome: "planned", clickhouse: "ENGINE = ReplacingMergeTree(`v`, `d`)", changes: "engine: rebuild (lossy when rows may merge: approval)", servers: "`isDeleted` 23.2+" },
  { feature: "SummingMergeTree (`columns`), AggregatingMergeTree", table: "T6", declaration: 'new OlapTable<Row>("T6", { engine: ClickHouseEngines.SummingMergeTree, columns: ["n"] })', outcome: "planned", clickhouse: "ENGINE = SummingMergeTree((`n`))", changes: "engine: rebuild", servers: "all" },
  { feature: "CollapsingMergeTree (`sign`), VersionedCollapsingMergeTree (`sign`, `ver`)", table: "T7", declaration: 'new OlapTable<Row>("T7", { engine: ClickHouseEngines.VersionedCollapsingMergeTree, sign: "sign", ver: "v" })', outcome: "planned", clickhouse: "ENGINE = VersionedCollapsingMergeTree(`sign`, `v`)", changes: "engine: rebuild", servers: "all" },
  { feature: "Replicated engines (`keeperPath`, `replicaName`), `cluster`", table: "T8", declaration: 'new OlapTable<Row>("T8", { engine: ClickHouseEngines.ReplicatedMergeTree, keeperPath: "/clickhouse/tables/{shard}/t8", replicaName: "{replica}" })', outcome: "planned", clickhouse: "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/t8', '{replica}')", changes: "as their engine; ON CLUSTER with `cluster`", servers: "a server with ZooKeeper/Keeper; the embedded engine (one node, chDB activates no replica: `tests/chdb-keeper.test.ts`) creates it as its engine without replication, saying so in the statement" },
  { feature: "Buffer", table: "T9", declaration: 'new OlapTable<Plain>("T9", { engine: ClickHouseEngines.Buffer, targetDatabase: "currentDatabase()", targetTable: "T1", numLayers: 16, minTime: 10, maxTime: 100, minRows: 10000, maxRows: 1000000, minBytes: 10485760, maxBytes: 104857600 })', outcome: "planned", clickhouse: "ENGINE = Buffer(currentDatabase(), 'T1', 16, 10, 100, 10000, 1000000, 10485760, 104857600)", changes: "drop + create, no approval (pending rows are flushed on drop)", servers: "all; flush thresholds 21.9+" },
  { feature: "Merge", table: "T10", declaration: 'new OlapTable<Plain>("T10", { engine: ClickHouseEngines.Merge, sourceDatabase: "currentDatabase()", tablesRegexp: "^T" })', outcome: "planned", clickhouse: "ENGINE = Merge(currentDatabase(), '^T')", changes: "drop + create, no approval", servers: "all; `REGEXP(…)` database 21.5+" },
  { feature: "table `database`", table: "analytics.T11", declaration: 'new OlapTable<Plain>("T11", { database: "analytics" })', outcome: "planned", clickhouse: "CREATE DATABASE IF NOT EXISTS `analytics`", changes: "named `analytics.T11`; moved between databases by a rename (`RENAME TABLE a.t TO b.t`)", servers: "all" },
  { feature: "Kafka", table: "T11", declaration: 'new OlapTable<Plain>("T11", { engine: ClickHouseEngines.Kafka, brokerList: "kafka:9092", topicList: "events", groupName: "g", format: "JSONEachRow", settings: { kafka_num_consumers: "1" } })', outcome: "planned", clickhouse: "ENGINE = Kafka('kafka:9092', 'events', 'g', 'JSONEachRow')\nSETTINGS kafka_num_consumers = 1", changes: "drop + create, no approval (offsets stay with the consumer group)", servers: "all (18.16 tested)" },
  { feature: "S3", table: "T12", declaration: 'new OlapTable<Plain>("T12", { engine: ClickHouseEngines.S3, path: "https://b.s3.amazonaws.com/data/*.csv", format: "CSV", compression: "auto" })', outcome: "planned", clickhouse: "ENGINE = S3('https://b.s3.amazonaws.com/data/*.csv', NOSIGN, 'CSV', 'auto')", changes: "drop + create, no approval (the objects stay)", servers: "23.4+" },
  { feature: "S3Queue (also `OlapTable.withS3Queue`)", table: "T13", declaration: 'new OlapTable<Plain>("T13", { engine: ClickHouseEngines.S3Queue, s3Path: "https://b.s3.amazonaws.com/in/*.json", format: "JSONEachRow", settings: { mode: "unordered" } })', outcome: "planned", clickhouse: "ENGINE = S3Queue('https://b.s3.amazonaws.com/in/*.json', NOSIGN, 'JSONEachRow')\nSETTINGS mode = 'unordered'", changes: "settings: MODIFY SETTING; else drop + create (processed-file state is lost)", servers: "23.8+ with ZooKeeper/Keeper; the embedded engine with its in-memory Keeper (state lost when the process ends: files may be read again; `tests/embedded-s3queue.test.ts`)" },
  { feature: "Distributed (`cluster`, `targetDatabase`, `targetTable`, `shardingKey`, `policyName`)", table: "T30", declaration: 'new OlapTable<Plain>("T30", { engine: ClickHouseEngines.Distributed, cluster: "c", targetDatabase: "currentDatabase()", targetTable: "T1", shardingKey: "rand()" })', outcome: "planned", clickhouse: "ENGINE = Distributed('c', 'db', 'T1', rand())", changes: "created ON CLUSTER `cluster` (as Moose); any change: drop + create, no approval (the rows stay in the shards' tables)", servers: "a server of the cluster with ZooKeeper/Keeper (18.16 tested: written through on one replica, read on the other); not the embedded engine (no cluster)" },
  { feature: "column `ClickHouseDefault` / `Materialized` / `Alias` / `Codec` / `TTL`", table: "T14", declaration: 'new OlapTable<Cols>("T14")', outcome: "planned", clickhouse: "`day` DateTime('UTC') MATERIALIZED toDate(at),\n  `label` String ALIAS upper(id),\n  `blob` String CODEC(ZSTD(3)),\n  `debug` String TTL at + INTERVAL 1 DAY,\n  `score` Float64 DEFAULT 0", changes: "MODIFY COLUMN (codec, TTL, expression); to ALIAS: approval", servers: "codec 19.1+, column TTL 19.6+" },
  { feature: "`lifeCycle`, `version`", table: "T15", declaration: 'new OlapTable<Row>("T15", { lifeCycle: LifeCycle.DELETION_PROTECTED, version: "1.2" })', outcome: "planned", clickhouse: "CREATE TABLE `db`.`T15_1_2`", changes: "drops held by the life cycle; a new version is a new table (rows copied when the old one is protected)", servers: "all" },
  { feature: "S3 / S3Queue credentials as `mooseRuntimeEnv.get(\"NAME\")`", table: "T16", declaration: 'new OlapTable<Plain>("T16", { engine: ClickHouseEngines.S3, path: "https://b.s3.amazonaws.com/data/*.csv", format: "CSV", awsAccessKeyId: mooseRuntimeEnv.get("S3_KEY_ID"), awsSecretAccessKey: mooseRuntimeEnv.get("S3_SECRET") })', outcome: "planned", clickhouse: "ENGINE = S3('https://b.s3.amazonaws.com/data/*.csv', ${S3_KEY_ID}, ${S3_SECRET}, 'CSV')", changes: "values read from the environment when the statement is sent (files, ledger, printed SQL: `${NAME}`); another variable name: drop + create (S3Queue: processed-file state is lost)", servers: "as S3 / S3Queue" },
  { feature: "Kafka SASL settings (`kafka_sasl_password: mooseRuntimeEnv.get(…)`)", table: "T17", declaration: 'new OlapTable<Plain>("T17", { engine: ClickHouseEngines.Kafka, brokerList: "kafka:9092", topicList: "events", groupName: "g", format: "JSONEachRow", settings: { kafka_security_protocol: "sasl_ssl", kafka_sasl_mechanism: "PLAIN", kafka_sasl_username: "u", kafka_sasl_password: mooseRuntimeEnv.get("KAFKA_PASSWORD") } })', outcome: "planned", clickhouse: "kafka_sasl_password = ${KAFKA_PASSWORD}", changes: "drop + create, no approval", servers: "23.3+ (18.16 refuses kafka_sasl_* settings)" },
  { feature: "S3Queue `headers`", table: "T18", declaration: 'new OlapTable<Plain>("T18", { engine: ClickHouseEngines.S3Queue, s3Path: "https://b.s3.amazonaws.com/in/*.json", format: "JSONEachRow", headers: { "X-Source": "moose", Authorization: mooseRuntimeEnv.get("S3_AUTH") }, settings: { mode: "unordered" } })', outcome: "planned", clickhouse: "headers('Authorization' = ${S3_AUTH}, 'X-Source' = 'moose')", changes: "drop + create (processed-file state is lost); ClickHouse hides header values, so a changed value is seen from the migrations, not the database", servers: "as S3Queue" },
  { feature: "S3 `partitionStrategy`, `partitionColumnsInDataFile`", table: "T19", declaration: 'new OlapTable<Plain>("T19", { engine: ClickHouseEngines.S3, path: "https://b.s3.amazonaws.com/out/", format: "Parquet", partitionBy: "id", partitionStrategy: "hive", partitionColumnsInDataFile: "true" })', outcome: "planned", clickhouse: "PARTITION BY id\nSETTINGS partition_columns_in_data_file = 1, partition_strategy = 'hive'", changes: "drop + create, no approval (the objects stay)", servers: "25.8+" },
  { feature: "`View` (plain view: `new View(name, selectStatement, baseTables)`)", table: "V1", view: true, declaration: 'new View("V1", "SELECT id, n FROM T1 WHERE n > 0", [x0])', outcome: "planned", clickhouse: "CREATE VIEW `db`.`V1`\nAS SELECT id, n FROM T1 WHERE n > 0", changes: "SELECT: drop + create (a view holds no rows); created after what it reads, dropped before it", servers: "all; DROP TABLE before 20.8" },
  {
    feature: "`SqlResource` (`new SqlResource(name, setup, teardown, { pullsDataFrom, pushesDataTo })`)",
    table: "S1",
    sqlResource: true,
    declaration: 'new SqlResource("S1", ["CREATE VIEW s1_ids AS SELECT id FROM T1"], ["DROP VIEW s1_ids"], { pullsDataFrom: [x0] })',
    outcome: "planned",
    clickhouse: "CREATE VIEW s1_ids AS SELECT id FROM T1",
    changes: "setup runs as written (each one CREATE TABLE / VIEW / MATERIALIZED VIEW / DICTIONARY / FUNCTION, read by ClickHouse's parser); removed: its teardown (approval when that drops a table holding rows); a new setup: the old teardown, then the new setup; after what it pulls from and pushes to, before what reads it",
    servers: "all; DROP VIEW 20.8+, CREATE DICTIONARY 19.17+, CREATE FUNCTION 21.10+ (refused naming the version)",
  },
  { feature: "table `constraints` (moose-migrate's option; moose-lib has none)", table: "T31", declaration: 'new OlapTable<Row>("T31", { constraints: [{ name: "c", expression: "n > 0", type: "CHECK" }] })', outcome: "planned", clickhouse: "CONSTRAINT `c` CHECK n > 0", changes: "ADD / DROP CONSTRAINT (inserts are checked from then on; stored rows are not)", servers: "CHECK 19.14+, ASSUME 22.3+ (refused naming the version; `tests/fidelity-constraints.test.ts`)" },
  { feature: "S3 / S3Queue credentials written in the source (`awsAccessKeyId: \"AKIA…\"`)", table: "R3", declaration: 'new OlapTable<Plain>("R3", { engine: ClickHouseEngines.S3, path: "s3://b/x.csv", format: "CSV", awsAccessKeyId: "AKIA", awsSecretAccessKey: "secret" })', outcome: "SECRET_IN_SOURCE", clickhouse: "is written in the source; moose-migrate would have to copy it into migration files, the ledger and printed SQL", changes: "—", servers: "—" },
  { feature: "engine GraphiteMergeTree", table: "R4", declaration: 'new OlapTable<Plain>("R4", { engine: ClickHouseEngines.GraphiteMergeTree })', outcome: "INVALID_CONFIG", clickhouse: "moose-lib has no configuration for it (no OlapConfig takes engine: GraphiteMergeTree, so its rollup section and the Path/Time/Value/Timestamp columns it needs cannot be declared)", changes: "—", servers: "chDB creates one given a `graphite_rollup` config (measured); moose-lib cannot declare one" },
  { feature: "engine IcebergS3", table: "R5", declaration: 'new OlapTable<Plain>("R5", { engine: ClickHouseEngines.IcebergS3, path: "s3://b/warehouse/events/", format: "Parquet" })', outcome: "INVALID_CONFIG", clickhouse: "ClickHouse reads the Iceberg table's metadata from the bucket when the table is created", changes: "—", servers: "CREATE needs the bucket reachable (chDB 26.7: DNS_ERROR / NoSuchBucket at CREATE, columns given or not)" },
];

const cell = (text: string): string => text.replace(/\n\s*/g, " ").replace(/\|/g, "\\|");

/** The README table these rows render. */
function renderTable(): string {
  const lines = ["| moose-lib feature | moose-migrate | ClickHouse | changes | servers |", "| --- | --- | --- | --- | --- |"];
  for (const r of rows) {
    const what = r.outcome === "planned" ? "planned" : `refused (\`${r.outcome}\`)`;
    lines.push(`| ${cell(r.feature)} | ${what} | ${r.outcome === "planned" ? `\`\` ${cell(r.clickhouse)} \`\`` : cell(r.clickhouse)} | ${cell(r.changes)} | ${cell(r.servers)} |`);
  }
  return lines.join("\n");
}

const appOf = (outcome: "planned" | "refused"): string =>
  tempApp({
    "app/index.ts": [...header, ...rows.filter((r) => (r.outcome === "planned") === (outcome === "planned")).map((r, i) => `export const x${i} = ${r.declaration};`)].join("\n"),
  });

const planned = once((): ExtractedApp => extractApp({ projectDir: appOf("planned"), mainFile: "app/index.ts" }));

test("every planned row extracts, and its CREATE statement has the ClickHouse text the row names", (t) => {
  const { map } = planned();
  const server = capabilitiesFor("26.7.2.1", { server: true, zooKeeper: true, databaseEngine: "Atomic" });
  for (const r of rows.filter((x) => x.outcome === "planned")) {
    if (r.sqlResource) {
      const resource = map.sqlResources?.[r.table];
      const statements = resource ? statementsFor({ kind: "sqlResource.create", resource }, { database: "db", capabilities: server }) : [];
      t.true(statements.some((s) => s.includes(r.clickhouse)), `${r.feature}: ${JSON.stringify(r.clickhouse)} is not in\n${statements.join("\n")}`);
      continue;
    }
    if (r.view) {
      const view = map.plainViews?.[r.table];
      const [create] = view ? statementsFor({ kind: "plainView.create", view }, { database: "db", capabilities: server }) : [];
      t.true(create?.includes(r.clickhouse), `${r.feature}: ${JSON.stringify(r.clickhouse)} is not in\n${create}`);
      continue;
    }
    const table = Object.values(map.tables).find((x: Table) => x.name === r.table || x.name.startsWith(`${r.table}_`));
    if (!table) {
      t.fail(`${r.feature}: no table ${r.table} was extracted`);
      continue;
    }
    // Every statement of the step: a cluster table's starts with CREATE DATABASE … ON CLUSTER.
    const create = statementsFor({ kind: "table.create", table }, { database: "db", capabilities: server }).join("\n");
    t.true(create.includes(r.clickhouse), `${r.feature}: ${JSON.stringify(r.clickhouse)} is not in\n${create}`);
  }
});

test("every refused row fails with its code, naming its declaration's line", (t) => {
  const errors = errorsOf(() => extractApp({ projectDir: appOf("refused"), mainFile: "app/index.ts" }));
  const refused = rows.filter((r) => r.outcome !== "planned");
  t.deepEqual(
    refused.map((r, i) => {
      const line = header.length + i + 1;
      const error = errors.find((e) => e.located.startsWith(`app/index.ts:${line}:`));
      return `${r.feature}: ${error?.code ?? "no error"}${error && !error.located.includes(r.clickhouse) ? ` (reason differs: ${error.located})` : ""}`;
    }),
    refused.map((r) => `${r.feature}: ${r.outcome}`),
  );
});

test("the README's conformance table is the one these rows render", (t) => {
  const path = fileURLToPath(new URL("../../README.md", import.meta.url));
  const readme = readFileSync(path, "utf8");
  const start = "<!-- conformance:start (tests/conformance.test.ts; MOOSE_WRITE_CONFORMANCE=1 rewrites it) -->";
  const end = "<!-- conformance:end -->";
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  t.true(from >= 0 && to > from, "README.md has the conformance markers");
  const expected = `${start}\n${renderTable()}\n${end}`;
  if (process.env.MOOSE_WRITE_CONFORMANCE === "1") writeFileSync(path, readme.slice(0, from) + expected + readme.slice(to + end.length));
  else t.is(readme.slice(from, to + end.length), expected);
});
