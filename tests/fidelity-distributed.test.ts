import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { diff } from "../lib/diff/diff.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import type { OlapEngine } from "../lib/engines/olap/engine.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { MooseError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { liveDrift } from "../lib/migrations/apply/status.js";
import { emptyInfraMap, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { needsApproval } from "../lib/plan/risk.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { clusterFromEnv } from "./helpers/olap-cluster.js";
import { applyToEngine, createChanges, mapOf, uniqueDatabase } from "./helpers/olap-fixtures.js";

/**
 * moose-lib's Distributed engine end to end: extracted as moose-lib declares it (its one
 * `cluster` key is the engine's cluster and the table's own, as in Moose), its CREATE
 * statement, a change planned as a drop and a create with no approval (it holds no rows),
 * refused ON CLUSTER on the embedded engine (chDB has no cluster), and on the two-replica
 * 18.16 cluster (CLICKHOUSE_CLUSTER_URLS): created over a replicated table, rows written
 * through it on replica 1 and read through it on replica 2, read back with no drift.
 */

const cluster = clusterFromEnv();

const app = (lines: readonly string[]): string =>
  tempApp({
    "app/index.ts": ['import { OlapTable, ClickHouseEngines, Key } from "@514labs/moose-lib";', "interface Row { id: Key<string>; amount: number }", ...lines].join("\n"),
  });

const columns = [
  { name: "id", type: "String" },
  { name: "amount", type: "Float64" },
];
const local: Table = { name: "Events", columns, orderBy: ["id"], settings: {}, lifeCycle: "FULLY_MANAGED", engine: { kind: "MergeTree", replicated: {}, cluster: "cluster_a" } };
const all: Table = {
  name: "EventsAll",
  columns,
  orderBy: [],
  settings: {},
  lifeCycle: "FULLY_MANAGED",
  engine: { kind: "Distributed", targetCluster: "cluster_a", table: "Events", shardingKey: "cityHash64(id)", cluster: "cluster_a" },
};

test("extraction reads a Distributed table as moose-lib declares it: its cluster is the engine's and the table's own", (t) => {
  const { map } = extractApp({
    projectDir: app([
      'export const local = new OlapTable<Row>("Events", { engine: ClickHouseEngines.ReplicatedMergeTree, cluster: "cluster_a", orderByFields: ["id"] });',
      'export const all = new OlapTable<Row>("EventsAll", { engine: ClickHouseEngines.Distributed, cluster: "cluster_a", targetDatabase: "currentDatabase()", targetTable: "Events", shardingKey: "cityHash64(id)" });',
      'export const other = new OlapTable<Row>("Elsewhere", { engine: ClickHouseEngines.Distributed, cluster: "cluster_b", targetDatabase: "analytics", targetTable: "Events", shardingKey: "rand()", policyName: "default" });',
    ]),
    mainFile: "app/index.ts",
    clusters: ["cluster_a", "cluster_b"],
  });
  t.deepEqual(map.tables.EventsAll?.engine, all.engine);
  t.deepEqual(map.tables.Elsewhere?.engine, { kind: "Distributed", targetCluster: "cluster_b", database: "analytics", table: "Events", shardingKey: "rand()", policyName: "default", cluster: "cluster_b" });
});

test("a Distributed table's options are checked at their line: a policy without a sharding key, a sorting key, an unknown cluster", (t) => {
  const errors = errorsOf(() =>
    extractApp({
      projectDir: app([
        'export const a = new OlapTable<Row>("A", { engine: ClickHouseEngines.Distributed, cluster: "cluster_a", targetDatabase: "currentDatabase()", targetTable: "Events", policyName: "p" });',
        'export const b = new OlapTable<Row>("B", { engine: ClickHouseEngines.Distributed, cluster: "cluster_a", targetDatabase: "currentDatabase()", targetTable: "Events", orderByFields: ["id"] });',
        'export const c = new OlapTable<Row>("C", { engine: ClickHouseEngines.Distributed, cluster: "nowhere", targetDatabase: "currentDatabase()", targetTable: "Events" });',
      ]),
      mainFile: "app/index.ts",
      clusters: ["cluster_a"],
    }),
  );
  const at = (line: number) => errors.find((e) => e.located.startsWith(`app/index.ts:${line}:`));
  t.is(at(3)?.code, "INVALID_CONFIG");
  t.regex(at(3)?.located ?? "", /policyName.*needs a shardingKey/);
  t.is(at(4)?.code, "INVALID_CONFIG");
  t.regex(at(4)?.located ?? "", /orderByFields is not an option of Distributed tables/);
  t.is(at(5)?.code, "CLUSTER_UNKNOWN");
});

test("CREATE is ON CLUSTER with the engine's arguments in ClickHouse's order; a change is a drop and a create with no approval; the embedded engine refuses ON CLUSTER", async (t) => {
  const server = capabilitiesFor("18.16.1", { server: true, zooKeeper: true });
  t.deepEqual(statementsFor({ kind: "table.create", table: all }, { database: "app", capabilities: server }), [
    "CREATE DATABASE IF NOT EXISTS `app` ON CLUSTER `cluster_a`",
    "CREATE TABLE IF NOT EXISTS `app`.`EventsAll` ON CLUSTER `cluster_a`\n(\n  `id` String,\n  `amount` Float64\n)\nENGINE = Distributed('cluster_a', 'app', 'Events', cityHash64(id))",
  ]);
  const from = mapOf([local, all]);
  const to = mapOf([local, { ...all, engine: { ...all.engine, shardingKey: "rand()" } as Table["engine"] }]);
  const steps = plan(diff(from, to), { from, to }).steps;
  t.deepEqual(steps.map((s) => `${s.change.kind} ${s.risk.code}`), ["table.drop DROP_TABLE_NO_ROWS", "table.create ADD_OBJECT"]);
  t.false(steps.some((s) => needsApproval(s.change, from)));

  const dataDir = mkdtempSync(join(tmpdir(), "moose-distributed-"));
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase("dist") });
  try {
    const error = await t.throwsAsync(applyToEngine(engine, emptyInfraMap(), createChanges(mapOf([all]))), { instanceOf: MooseError });
    t.is((error as MooseError).code, "UNSUPPORTED_BY_SERVER");
    t.regex(error?.message ?? "", /^cannot create table EventsAll ON CLUSTER cluster_a: ClickHouse 26\.\S+ does not support clusters/);
  } finally {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** A Buffer created ON CLUSTER in front of the replicated table: flushes at once (every max threshold is 1). */
const buffer: Table = {
  name: "EventsBuffer",
  columns,
  orderBy: [],
  settings: {},
  lifeCycle: "FULLY_MANAGED",
  engine: { kind: "Buffer", table: "Events", numLayers: 1, minTime: 0, maxTime: 1, minRows: 0, maxRows: 1, minBytes: 0, maxBytes: 1, cluster: "cluster_a" },
};

test("a table created ON CLUSTER names the managed database in its engine's arguments (currentDatabase() is the DDL worker's default on each host); without a cluster it stays currentDatabase()", (t) => {
  const server = capabilitiesFor("18.16.1", { server: true, zooKeeper: true });
  const create = (table: Table) => statementsFor({ kind: "table.create", table }, { database: "app", capabilities: server }).at(-1) ?? "";
  t.regex(create(buffer), /ENGINE = Buffer\('app', 'Events', 1, 0, 1, 0, 1, 0, 1\)$/);
  const { cluster: _c, ...plain } = buffer.engine;
  t.regex(create({ ...buffer, engine: plain as Table["engine"] }), /ENGINE = Buffer\(currentDatabase\(\), 'Events', 1, 0, 1, 0, 1, 0, 1\)$/);
  t.regex(create({ ...all, engine: { kind: "Merge", tablesRegexp: "^Events$", cluster: "cluster_a" } }), /ENGINE = Merge\('app', '\^Events\$'\)$/);
});

const run = cluster ? test.serial : test.skip;
const engines: OlapEngine[] = [];
const databases: string[] = [];

test.after.always(async () => {
  if (!cluster) return;
  const admin = await openOlapEngine(cluster.replica(0, "default"));
  try {
    for (const db of databases) await admin.execute(`DROP DATABASE IF EXISTS \`${db}\` ON CLUSTER \`${cluster.name}\``).catch(() => undefined);
  } finally {
    await admin.close();
  }
  for (const e of engines) await e.close();
});

run("on the 18.16 cluster: a Distributed table over a replicated one, written through on replica 1 and read through on replica 2, reads back with no drift", async (t) => {
  const database = uniqueDatabase("dist");
  databases.push(database);
  const admin = await openOlapEngine(cluster!.replica(0, "default"));
  engines.push(admin);
  await admin.execute(`CREATE DATABASE IF NOT EXISTS \`${database}\` ON CLUSTER \`${cluster!.name}\``);
  const one = await openOlapEngine(cluster!.replica(0, database));
  const two = await openOlapEngine(cluster!.replica(1, database));
  engines.push(one, two);
  const map = mapOf([local, all, buffer]);
  const { statements } = await applyToEngine(one, emptyInfraMap(), createChanges(map));
  t.true(statements.flat().some((s) => s.includes(`ENGINE = Distributed('cluster_a', '${database}', 'Events', cityHash64(id))`)));
  // ClickHouse sends the rows to the shard in the background; they reach replica 2 through replication.
  await one.execute("INSERT INTO EventsAll VALUES ('a', 1), ('b', 2), ('c', 3)");
  const deadline = Date.now() + 30_000;
  while ((await two.query<{ n: string }>("SELECT count() AS n FROM Events"))[0]?.n !== "3" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(await two.query("SELECT id, amount FROM EventsAll ORDER BY id"), [
    { id: "a", amount: 1 },
    { id: "b", amount: 2 },
    { id: "c", amount: 3 },
  ]);
  // Through the Buffer created ON CLUSTER: its rows reach this database's Events (with currentDatabase() they went to default.Events).
  await one.execute("INSERT INTO EventsBuffer VALUES ('d', 4)");
  const flushed = Date.now() + 30_000;
  while ((await two.query<{ n: string }>("SELECT count() AS n FROM Events"))[0]?.n !== "4" && Date.now() < flushed) await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(await two.query("SELECT count() AS n FROM EventsAll"), [{ n: "4" }]);
  t.deepEqual((await one.introspect()).tables.EventsAll?.engine, { kind: "Distributed", targetCluster: "cluster_a", table: "Events", shardingKey: "cityHash64(id)" });
  t.deepEqual(await liveDrift(map, one), []);
  t.deepEqual(await liveDrift(map, two), []);

  // A new sharding key: the table is dropped and created again ON CLUSTER; the rows stay in Events.
  const to = mapOf([local, { ...all, engine: { ...all.engine, shardingKey: "rand()" } as Table["engine"] }, buffer]);
  await applyToEngine(one, map, plan(diff(map, to), { from: map, to }).steps.map((s) => s.change));
  t.deepEqual(await liveDrift(to, one), []);
  t.deepEqual(await liveDrift(to, two), []);
  t.deepEqual(await two.query("SELECT count() AS n FROM EventsAll"), [{ n: "4" }]);
});
