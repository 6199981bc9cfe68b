import test from "ava";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { checkDistributedAnswer, readReplication, replicationArguments, statementCluster } from "../lib/engines/olap/cluster.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { InvalidInputErrors, MooseError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { initProject, runCli } from "./helpers/cli.js";
import type { Table, TableEngine } from "../lib/model/infra-map.js";
import { fuseRebuilds } from "../lib/plan/rebuild.js";
import { infra, table } from "./helpers/model-builders.js";

/** Clusters without a server: the statements, the keeper-path round trip, the per-host answer, the planning refusals. */

const caps18 = capabilitiesFor("18.16.1", { server: true, zooKeeper: true });
const ctx = { database: "app", capabilities: caps18 };
const events = (engine: TableEngine): Table => table("Events", [["id", "String"], ["n", "UInt64"]], { orderBy: ["id"], engine });
const onA: TableEngine = { kind: "MergeTree", replicated: {}, cluster: "cluster_a" };

test("a replicated cluster table: database and table created ON CLUSTER with moose's default keeper path written out", (t) => {
  t.deepEqual(statementsFor({ kind: "table.create", table: events(onA) }, ctx), [
    "CREATE DATABASE IF NOT EXISTS `app` ON CLUSTER `cluster_a`",
    "CREATE TABLE IF NOT EXISTS `app`.`Events` ON CLUSTER `cluster_a`\n(\n  `id` String,\n  `n` UInt64\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/app/Events', '{replica}')\nORDER BY `id`",
  ]);
});

test("ALTERs of a cluster table run ON CLUSTER; a mutation of a replicated one is sent once, of a plain one ON CLUSTER", (t) => {
  const state = infra({ tables: [events(onA)] });
  const add = { kind: "table.addColumn", table: "Events", column: { name: "x", type: "String" }, after: "n" } as const;
  t.deepEqual(statementsFor(add, { ...ctx, state }), ["ALTER TABLE `app`.`Events` ON CLUSTER `cluster_a` ADD COLUMN `x` String AFTER `n`"]);
  const backfill = { kind: "table.backfillColumn", table: "Events", column: "n", expression: "1" } as const;
  t.regex(statementsFor(backfill, { ...ctx, state }).at(-1)!, /^ALTER TABLE `app`\.`Events` UPDATE/);
  const plain = infra({ tables: [events({ kind: "MergeTree", cluster: "cluster_a" })] });
  t.regex(statementsFor(backfill, { ...ctx, state: plain }).at(-1)!, /^ALTER TABLE `app`\.`Events` ON CLUSTER `cluster_a` UPDATE/);
  t.deepEqual(statementsFor({ kind: "table.drop", table: events(onA) }, ctx), ["DROP TABLE `app`.`Events` ON CLUSTER `cluster_a`"]);
});

test("Replicated engines and clusters are refused where the server has no ZooKeeper, and {uuid} where it cannot expand it", (t) => {
  const noZk = { database: "app", capabilities: capabilitiesFor("18.16.1", { server: true }) };
  t.is(t.throws(() => statementsFor({ kind: "table.create", table: events({ kind: "MergeTree", replicated: {} }) }, noZk), { instanceOf: MooseError })?.code, "UNSUPPORTED_BY_SERVER");
  t.is(t.throws(() => statementsFor({ kind: "table.create", table: events({ kind: "MergeTree", cluster: "c" }) }, noZk), { instanceOf: MooseError })?.code, "UNSUPPORTED_BY_SERVER");
  const uuid = events({ kind: "MergeTree", replicated: { keeperPath: "/t/{uuid}", replicaName: "{replica}" } });
  t.regex(t.throws(() => statementsFor({ kind: "table.create", table: uuid }, ctx))?.message ?? "", /uses \{uuid\}/);
});

test("keeper paths round trip: written out with the names, read back as {database}/{table}; a rebuild's copy reads back as the table", (t) => {
  const write = (r: { keeperPath?: string; replicaName?: string }, name: string) =>
    replicationArguments(r, { database: "app", table: name, what: "t", capabilities: caps18 }).map((a) => a.slice(1, -1));
  const [path, replica] = write({}, "Events");
  t.is(path, "/clickhouse/tables/{shard}/app/Events");
  t.deepEqual(readReplication(path!, replica!, "app", "Events"), {});
  const [copyPath] = write({}, "Events__moose_0123abcd");
  t.deepEqual(readReplication(copyPath!, "{replica}", "app", "Events"), {}, "after the swap, the copy's path is still the default");
  const declared = { keeperPath: "/clickhouse/tables/{database}/{table}", replicaName: "{replica}" };
  const [d] = write(declared, "TableD");
  t.is(d, "/clickhouse/tables/app/TableD");
  t.deepEqual(readReplication(d!, "{replica}", "app", "TableD"), declared);
  t.deepEqual(readReplication("/elsewhere/x", "r1", "app", "TableD"), { keeperPath: "/elsewhere/x", replicaName: "r1" });
});

test("ON CLUSTER is read from a statement's tokens, not from strings or comments", (t) => {
  t.is(statementCluster("ALTER TABLE t ON CLUSTER `c 1` ADD COLUMN x String"), "c 1");
  t.is(statementCluster("DROP TABLE t on cluster main"), "main");
  t.is(statementCluster("INSERT INTO t SELECT 'ON CLUSTER x' -- ON CLUSTER y"), undefined);
});

test("the distributed-DDL answer: done only when every host reports 0; a failed or silent host is named", (t) => {
  const hosts = [{ host: "127.0.0.1", port: 9001 }, { host: "127.0.0.1", port: 9002 }];
  const row = (port: number, status: string, error = "") => ({ host: "127.0.0.1", port, status, error });
  t.notThrows(() => checkDistributedAnswer([row(9002, "0"), row(9001, "0")], hosts, "c", "DDL"));
  t.is(
    t.throws(() => checkDistributedAnswer([row(9001, "0"), row(9002, "57", "Code: 57. Table app.t already exists.")], hosts, "c", "DDL"))?.message,
    "ON CLUSTER c: the statement failed on host 127.0.0.1:9002: Code: 57. Table app.t already exists.",
  );
  t.is(t.throws(() => checkDistributedAnswer([row(9001, "0")], hosts, "c", "DDL"))?.message, "ON CLUSTER c: the statement failed on host 127.0.0.1:9002: did not report");
});

test("planning a rebuild on a cluster: replicated to replicated is a rebuild; a cluster change, or a copy one replica cannot make whole, is refused with the way forward", (t) => {
  const plan = (before: TableEngine, after: TableEngine) =>
    fuseRebuilds([{ kind: "table.setEngine", table: "Events", before, after }], infra({ tables: [events(before)] }), "20261203120000");
  const rebuild = plan(onA, { kind: "ReplacingMergeTree", replicated: {}, cluster: "cluster_a" });
  t.is(rebuild[0]?.kind, "table.rebuild");
  const code = (f: () => unknown) => (t.throws(f, { instanceOf: MooseError }) as MooseError | undefined)?.code;
  t.is(code(() => plan(onA, { ...onA, cluster: "cluster_b" })), "CLUSTER_CHANGE");
  t.is(code(() => plan({ kind: "MergeTree", cluster: "cluster_a" }, onA)), "CLUSTER_REBUILD");
  t.is(code(() => plan(onA, { kind: "MergeTree", cluster: "cluster_a" })), "CLUSTER_REBUILD");
  t.is(code(() => plan({ kind: "MergeTree", replicated: { keeperPath: "/fixed", replicaName: "{replica}" } }, { kind: "ReplacingMergeTree", replicated: { keeperPath: "/fixed", replicaName: "{replica}" } })), "REBUILD_KEEPER_PATH");
  t.is(plan({ kind: "MergeTree" }, { kind: "MergeTree", replicated: {} })[0]?.kind, "table.rebuild", "without a cluster, plain to replicated is a rebuild");
});

test("a table's cluster that names no [[clickhouse_config.clusters]] entry is CLUSTER_UNKNOWN at its line, listing the known names", async (t) => {
  const dir = await initProject("cluster-unknown", `import { OlapTable, Key, ClickHouseEngines } from "moose-migrate";
export interface Row { id: Key<string> }
export const ok = new OlapTable<Row>("Ok", { engine: ClickHouseEngines.ReplicatedMergeTree, cluster: "cluster_a" });
export const typo = new OlapTable<Row>("Typo", { engine: ClickHouseEngines.ReplicatedMergeTree, cluster: "cluster_c" });
`);
  const errorOf = (clusters: readonly string[]) => {
    const e = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts", clusters }), { instanceOf: MooseError }) as InvalidInputErrors;
    return e.errors.map((x) => ({ code: x.code, located: x.located, hint: x.hint }));
  };
  t.deepEqual(errorOf(["cluster_a", "cluster_b"]), [
    {
      code: "CLUSTER_UNKNOWN",
      located: 'app/index.ts:4:97: table Typo: cluster "cluster_c" is not a [[clickhouse_config.clusters]] entry (moose.config.toml lists "cluster_a", "cluster_b")',
      hint: 'add [[clickhouse_config.clusters]] name = "cluster_c" to moose.config.toml (a <remote_servers> cluster of the server), or name one it lists',
    },
  ]);
  t.is(errorOf([])[0]?.located.split(": ").slice(1).join(": "), 'table Ok: cluster "cluster_a" is not a [[clickhouse_config.clusters]] entry (moose.config.toml lists none)');
  t.deepEqual(Object.keys(extractApp({ projectDir: dir, mainFile: "app/index.ts", clusters: ["cluster_a", "cluster_c"] }).map.tables).sort(), ["Ok", "Typo"]);
  // Through the CLI: the project's config is what is checked.
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 2, r.stdout);
  t.regex(r.stderr, /error\[CLUSTER_UNKNOWN\]: app\/index\.ts:3:93: table Ok: cluster "cluster_a" is not a \[\[clickhouse_config\.clusters\]\] entry \(moose\.config\.toml lists none\)/);
});
