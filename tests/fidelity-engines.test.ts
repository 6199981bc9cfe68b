import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { diff } from "../lib/diff/diff.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { MooseError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { liveDrift } from "../lib/migrations/apply/status.js";
import { emptyInfraMap, type InfraMap, type MaterializedView, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { needsApproval } from "../lib/plan/risk.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { applyToEngine, createChanges, mapOf, olapPart, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * moose-lib's engines whose tables hold no rows of their own (Buffer, Merge, Kafka, S3,
 * S3Queue), planned end to end: extracted as moose-lib declares them, created on chDB and
 * on ClickHouse 18.16 where it has the engine (refused naming the version where not),
 * introspected back without drift, and changed by a drop and a create that needs no
 * data-loss approval (a Buffer flushes its rows to the destination when dropped).
 */
const dataDir = mkdtempSync(join(tmpdir(), "moose-fidelity-engines-"));
const engines: OlapEngine[] = [];

async function embedded(prefix: string): Promise<OlapEngine> {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
  engines.push(engine);
  return engine;
}

test.after.always(async () => {
  for (const engine of engines) {
    try {
      if (engine.kind !== "embedded") await engine.execute(`DROP DATABASE IF EXISTS \`${engine.database}\``);
    } finally {
      await engine.close();
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const columns = [
  { name: "id", type: "String" },
  { name: "amount", type: "Float64" },
];
const base = { columns, orderBy: [], settings: {}, lifeCycle: "FULLY_MANAGED" } as const;

const dest: Table = { ...base, name: "BufferDest", orderBy: ["id"], engine: { kind: "MergeTree" } };
const buffer: Table = {
  ...base,
  name: "BufferTest",
  engine: { kind: "Buffer", table: "BufferDest", numLayers: 1, minTime: 1000, maxTime: 10000, minRows: 1000000, maxRows: 10000000, minBytes: 100000000, maxBytes: 1000000000 },
};
const mergeA: Table = { ...base, name: "MergeSourceA", orderBy: ["id"], engine: { kind: "MergeTree" } };
const mergeB: Table = { ...base, name: "MergeSourceB", orderBy: ["id"], engine: { kind: "MergeTree" } };
const merge: Table = { ...base, name: "MergeTest", engine: { kind: "Merge", tablesRegexp: "^MergeSource.*" } };
const kafka: Table = {
  ...base,
  name: "KafkaSource",
  engine: { kind: "Kafka", brokerList: "127.0.0.1:9", topicList: "KafkaTestInput", groupName: "e2e_kafka_test_consumer", format: "JSONEachRow" },
  settings: { kafka_num_consumers: "1" },
};
const s3: Table = { ...base, name: "S3Public", engine: { kind: "S3", path: "https://public-test-bucket.s3.amazonaws.com/data/file.csv", format: "CSV", compression: "auto" } };
const s3Queue: Table = {
  ...base,
  name: "S3QueuePublic",
  engine: { kind: "S3Queue", path: "https://public-test-bucket.s3.amazonaws.com/data/*.csv", format: "CSV" },
  settings: { keeper_path: "/clickhouse/s3queue/test_public", mode: "ordered" },
};
const kafkaView: MaterializedView = {
  name: "KafkaDest_MV",
  selectStatement: "SELECT id, amount FROM KafkaSource",
  sourceTables: ["KafkaSource"],
  targetTable: "BufferDest",
  lifeCycle: "FULLY_MANAGED",
};

test("extraction reads Buffer, Merge, Kafka, S3 and S3Queue tables as moose-lib declares them", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, ClickHouseEngines, Key } from "@514labs/moose-lib";',
      "interface Row { id: Key<string>; amount: number }",
      'export const dest = new OlapTable<Row>("BufferDest", { orderByFields: ["id"] });',
      'export const buffer = new OlapTable<Row>("BufferTest", { engine: ClickHouseEngines.Buffer, targetDatabase: "currentDatabase()", targetTable: "BufferDest",',
      "  numLayers: 1, minTime: 1000, maxTime: 10000, minRows: 1000000, maxRows: 10000000, minBytes: 100000000, maxBytes: 1000000000 });",
      'export const a = new OlapTable<Row>("MergeSourceA", { orderByFields: ["id"] });',
      'export const b = new OlapTable<Row>("MergeSourceB", { orderByFields: ["id"] });',
      'export const merge = new OlapTable<Row>("MergeTest", { engine: ClickHouseEngines.Merge, sourceDatabase: "currentDatabase()", tablesRegexp: "^MergeSource.*" });',
      'export const kafka = new OlapTable<Row>("KafkaSource", { engine: ClickHouseEngines.Kafka, brokerList: "127.0.0.1:9", topicList: "KafkaTestInput",',
      '  groupName: "e2e_kafka_test_consumer", format: "JSONEachRow", settings: { kafka_num_consumers: "1" } });',
      'export const s3 = new OlapTable<Row>("S3Public", { engine: ClickHouseEngines.S3, path: "https://public-test-bucket.s3.amazonaws.com/data/file.csv", format: "CSV", compression: "auto" });',
      'export const queue = OlapTable.withS3Queue<Row>("S3QueuePublic", "https://public-test-bucket.s3.amazonaws.com/data/*.csv", "CSV", { settings: { mode: "ordered", keeper_path: "/clickhouse/s3queue/test_public" } });',
    ].join("\n"),
  });
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  // Key<> orders MergeTree tables; the engines without a sorting key ignore it, as Moose does.
  t.deepEqual(olapPart(map), olapPart(mapOf([dest, buffer, mergeA, mergeB, merge, kafka, s3, s3Queue])));
});

test("extraction refuses what those engines cannot have, naming the option and the reason", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, ClickHouseEngines, Key, WithDefault } from "@514labs/moose-lib";',
      "interface Row { id: Key<string>; amount: number }",
      "interface Defaulted { id: string; n: WithDefault<number, \"1\"> }",
      'export const k1 = new OlapTable<Row>("K1", { engine: ClickHouseEngines.Kafka, brokerList: "b:9092", topicList: "t", groupName: "g", format: "JSONEachRow", orderByFields: ["id"] });',
      'export const k2 = new OlapTable<Row>("K2", { engine: ClickHouseEngines.Kafka, topicList: "t", groupName: "g", format: "JSONEachRow" });',
      'export const k3 = new OlapTable<Defaulted>("K3", { engine: ClickHouseEngines.Kafka, brokerList: "b:9092", topicList: "t", groupName: "g", format: "JSONEachRow" });',
      'export const q = new OlapTable<Row>("Q", { engine: ClickHouseEngines.S3Queue, s3Path: "s3://b/*.json", format: "JSONEachRow",',
      '  awsAccessKeyId: "AKIA-IN-SOURCE", awsSecretAccessKey: "s3cret-in-source" });',
      'export const m = new OlapTable<Row>("M", { engine: ClickHouseEngines.Merge, sourceDatabase: "currentDatabase()", tablesRegexp: "^x", ttl: "now()" });',
      'export const w = new OlapTable<Row>("W", { orderByFields: ["id"], brokerList: "b:9092" });',
    ].join("\n"),
  });
  const errors = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
  t.deepEqual(
    errors.map((e) => `${e.code} ${e.located}`),
    [
      "INVALID_CONFIG app/index.ts:4:156: orderByFields is not an option of Kafka tables: ClickHouse's Kafka engine has no sorting key or partitions",
      "INVALID_CONFIG app/index.ts:5:44: brokerList is required by the Kafka engine",
      "INVALID_CONFIG app/index.ts:6:19: table K3: column n has a DEFAULT expression, which ClickHouse's Kafka engine does not take",
      "SECRET_IN_SOURCE app/index.ts:8:3: table Q: awsAccessKeyId is written in the source; moose-migrate would have to copy it into migration files, the ledger and printed SQL",
      "INVALID_CONFIG app/index.ts:9:134: ttl is not an option of Merge tables: ClickHouse's Merge engine has no TTL",
      "INVALID_CONFIG app/index.ts:10:67: brokerList is an option of Kafka only; this table's engine is MergeTree",
    ],
  );
});

test("embedded: Buffer, Merge, Kafka and S3 tables are created and introspected back, with no drift", async (t) => {
  const engine = await embedded("integration");
  const map = mapOf([dest, buffer, mergeA, mergeB, merge, kafka, s3], [kafkaView]);
  const { statements } = await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.true(statements.flat().includes("CREATE TABLE `" + engine.database + "`.`KafkaSource`\n(\n  `id` String,\n  `amount` Float64\n)\nENGINE = Kafka('127.0.0.1:9', 'KafkaTestInput', 'e2e_kafka_test_consumer', 'JSONEachRow')\nSETTINGS kafka_num_consumers = 1"));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
  t.deepEqual(await liveDrift(map, engine), []);
  // A Merge table reads its sources' rows; a Buffer hands its rows to the destination's readers too.
  await engine.execute("INSERT INTO MergeSourceA VALUES ('a', 1)");
  await engine.execute("INSERT INTO MergeSourceB VALUES ('b', 2)");
  await engine.execute("INSERT INTO BufferTest VALUES ('c', 3)");
  t.deepEqual(await engine.query("SELECT id, amount FROM MergeTest ORDER BY id"), [{ id: "a", amount: 1 }, { id: "b", amount: 2 }]);
  t.deepEqual(await engine.query("SELECT count() AS n FROM BufferDest"), [{ n: "0" }], "the row waits in the buffer (thresholds far away)");
  t.deepEqual(await engine.query("SELECT id FROM BufferTest"), [{ id: "c" }]);
});

test("embedded: a Replicated engine is created as its engine without replication (one node: chDB runs no replicas), says so in its statement, takes rows and reads back without drift", async (t) => {
  const engine = await embedded("replicated");
  const replicated: Table = { ...base, name: "ReplicatedAggregatingMergeTreeTest", orderBy: ["id"], engine: { kind: "AggregatingMergeTree", replicated: { keeperPath: "/clickhouse/tables/{shard}/{database}/agg", replicaName: "{replica}" } } };
  const map = mapOf([replicated]);
  const [statement] = statementsFor({ kind: "table.create", table: replicated }, { database: engine.database, capabilities: await engine.capabilities() });
  t.regex(statement!, /ENGINE = AggregatingMergeTree \/\* declared ReplicatedAggregatingMergeTree: the embedded engine is one node and runs no replicas \*\/\nORDER BY `id`/);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  const [row] = await engine.query<{ engine: string }>(`SELECT engine FROM system.tables WHERE database = '${engine.database}' AND name = 'ReplicatedAggregatingMergeTreeTest'`);
  t.is(row?.engine, "AggregatingMergeTree");
  await engine.execute("INSERT INTO ReplicatedAggregatingMergeTreeTest VALUES ('a', 1)");
  t.deepEqual(await engine.query("SELECT id FROM ReplicatedAggregatingMergeTreeTest"), [{ id: "a" }]);
  t.deepEqual(await liveDrift(map, engine), [], "what the embedded engine creates for it is what the migrations say");
  // On a server the same change creates the declared engine (the migration keeps it).
  const [onServer] = statementsFor({ kind: "table.create", table: replicated }, { database: "app", capabilities: capabilitiesFor("24.8", { server: true, zooKeeper: true }) });
  t.regex(onServer!, /ENGINE = ReplicatedAggregatingMergeTree\('\/clickhouse\/tables\/\{shard\}\/app\/agg', '\{replica\}'\)/);
});

test("a change to such a table is a drop and a create with no approval; a Buffer flushes its rows into the destination when dropped", async (t) => {
  const engine = await embedded("replace");
  // A view reading the Buffer table: it must keep receiving inserts once the table is re-created.
  const copyView: MaterializedView = { name: "BufferCopy_MV", selectStatement: "SELECT id, amount FROM BufferTest", sourceTables: ["BufferTest"], targetTable: "MergeSourceA", lifeCycle: "FULLY_MANAGED" };
  const from = mapOf([dest, buffer, kafka, mergeA], [kafkaView, copyView]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(from));
  await engine.execute("INSERT INTO BufferTest VALUES ('a', 1), ('b', 2)");
  const to = mapOf(
    [
      dest,
      { ...buffer, engine: { ...buffer.engine, minTime: 500 } as Table["engine"] },
      { ...kafka, columns: [...columns, { name: "note", type: "String" }], engine: { ...kafka.engine, topicList: "Other" } as Table["engine"] },
      mergeA,
    ],
    [kafkaView, copyView],
  );
  const steps = plan(diff(from, to), { from, to }).steps;
  t.deepEqual(
    steps.map((s) => `${s.change.kind} ${"table" in s.change && typeof s.change.table === "object" ? s.change.table.name : ""} ${s.risk.code}`),
    ["table.drop BufferTest DROP_TABLE_NO_ROWS", "table.create BufferTest ADD_OBJECT", "table.drop KafkaSource DROP_TABLE_NO_ROWS", "table.create KafkaSource ADD_OBJECT"],
  );
  t.false(steps.some((s) => needsApproval(s.change, from)));
  t.deepEqual(steps[2]?.reverse, { kind: "table.create", table: kafka });
  await applyToEngine(engine, from, steps.map((s) => s.change));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(to));
  t.deepEqual(await engine.query("SELECT id FROM BufferDest ORDER BY id"), [{ id: "a" }, { id: "b" }], "the dropped buffer's rows reached the destination");
  t.deepEqual(await liveDrift(to, engine), []);
  await engine.execute("INSERT INTO BufferTest VALUES ('c', 3)");
  t.deepEqual(await engine.query("SELECT id FROM MergeSourceA ORDER BY id"), [{ id: "a" }, { id: "b" }, { id: "c" }], "the view reading the re-created table still runs");

  // A table that holds rows and becomes one that does not is dropped with them: an approval.
  const toKafka = mapOf([{ ...dest, orderBy: [], engine: kafka.engine, settings: {} }, buffer, kafka, mergeA], [kafkaView, copyView]);
  const swap = plan(diff(from, toKafka), { from, to: toKafka }).steps;
  t.deepEqual(swap.map((s) => `${s.change.kind} ${s.risk.code}`), ["table.drop DROP_TABLE", "table.create ADD_OBJECT"]);
  t.true(needsApproval(swap[0]!.change, from));
});

test("S3Queue settings change by MODIFY SETTING; ClickHouse 18.16 refuses S3 and S3Queue naming its version", (t) => {
  const from = mapOf([s3Queue]);
  const to = mapOf([{ ...s3Queue, settings: { ...s3Queue.settings, polling_min_timeout_ms: "2000" } }]);
  t.deepEqual(plan(diff(from, to), { from, to }).steps.map((s) => s.change.kind), ["table.setSettings"]);
  const old = capabilitiesFor("18.16.1", { server: true, zooKeeper: true });
  const create = (table: Table) => statementsFor({ kind: "table.create", table }, { database: "db", capabilities: old });
  t.throws(() => create(s3), { message: "cannot create table S3Public: ClickHouse 18.16.1 does not support the S3 engine with NOSIGN (ClickHouse 23.4+)" });
  t.throws(() => create(s3Queue), { message: "cannot create table S3QueuePublic: ClickHouse 18.16.1 does not support the S3Queue engine (ClickHouse 23.8+)" });
  t.throws(() => create({ ...buffer, engine: { ...buffer.engine, flushTime: 5 } as Table["engine"] }), {
    message: "cannot create table BufferTest: ClickHouse 18.16.1 does not support Buffer's flush_time / flush_rows / flush_bytes (ClickHouse 21.9+)",
  });
});

const serverTest = process.env.CLICKHOUSE_URL ? test : test.skip;

serverTest("server: Buffer, Merge and Kafka tables are created and introspected back with no drift; a change is a drop and a create", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_integration"));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  const copyOut: Table = { ...dest, name: "CopyOut" };
  const copyView: MaterializedView = { name: "BufferCopy_MV", selectStatement: "SELECT id, amount FROM BufferTest", sourceTables: ["BufferTest"], targetTable: "CopyOut", lifeCycle: "FULLY_MANAGED" };
  const map: InfraMap = mapOf([dest, buffer, mergeA, mergeB, merge, kafka, copyOut], [kafkaView, copyView]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
  t.deepEqual(await liveDrift(map, engine), []);
  await engine.execute("INSERT INTO MergeSourceA VALUES ('a', 1)");
  await engine.execute("INSERT INTO BufferTest VALUES ('b', 2)");
  t.deepEqual(await engine.query("SELECT id FROM MergeTest"), [{ id: "a" }]);
  const to = mapOf([dest, { ...buffer, columns: [...columns, { name: "note", type: "String" }] }, mergeA, mergeB, merge, kafka, copyOut], [kafkaView, copyView]);
  const steps = plan(diff(map, to), { from: map, to }).steps;
  t.deepEqual(steps.map((s) => `${s.change.kind} ${s.risk.code}`), ["table.drop DROP_TABLE_NO_ROWS", "table.create ADD_OBJECT"]);
  await applyToEngine(engine, map, steps.map((s) => s.change));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(to));
  t.deepEqual(await engine.query("SELECT id FROM BufferDest"), [{ id: "b" }], "the dropped buffer's row reached the destination");
  await engine.execute("INSERT INTO BufferTest (id, amount) VALUES ('c', 3)");
  t.deepEqual(await engine.query("SELECT id FROM CopyOut ORDER BY id"), [{ id: "b" }, { id: "c" }], "the view reading the re-created table still runs");
});
