import test from "ava";
import { cpSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { moose, mooseAsync, tempDir } from "./helpers/cli.js";
import { clusterFromEnv } from "./helpers/olap-cluster.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { loadConfig } from "../lib/config/config.js";
import { projectLedger } from "../lib/project/engines.js";

/**
 * moose-migrate on a real ClickHouse cluster: ZooKeeper 3.8 and two clickhouse-server
 * 18.16 replicas (one shard) that tests/helpers/olap-cluster-setup.sh starts and .ci/run
 * names in CLICKHOUSE_CLUSTER_URLS. Real CLI processes, pointed at replica 1 or 2; the
 * replicas are read directly to see what reached each. Skipped, with a line saying so,
 * without the cluster.
 */

const cluster = clusterFromEnv();
/** The script that started the cluster; `stop 2` / `start 2` stop and start replica 2. */
const SETUP = fileURLToPath(new URL("../../tests/helpers/olap-cluster-setup.sh", import.meta.url));
const run = cluster ? test.serial : test.skip;
if (!cluster) console.log("olap-cluster: CLICKHOUSE_CLUSTER_URLS is not set; skipping the cluster suite (.ci/run starts a two-replica cluster)");

/** moose-lib's templates/typescript-cluster models (src/ingest/models.ts), as the template declares them. */
const TEMPLATE_APP = `import { OlapTable, Key, ClickHouseEngines } from "moose-migrate";

export interface TableA { id: Key<string>; value: string; timestamp: number }
export interface TableB { id: Key<string>; count: number; timestamp: number }
export interface TableC { id: Key<string>; data: string; timestamp: number }
export interface TableD { id: Key<string>; metric: number; timestamp: number }
export interface TableE { id: Key<string>; status: string; timestamp: number }
export interface TableF { id: Key<string>; metric: number; timestamp: number }

export const tableA = new OlapTable<TableA>("TableA", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.ReplicatedMergeTree,
  cluster: "cluster_a",
});

export const tableB = new OlapTable<TableB>("TableB", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.ReplicatedMergeTree,
  cluster: "cluster_b",
});

export const tableC = new OlapTable<TableC>("TableC", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.MergeTree,
});

export const tableD = new OlapTable<TableD>("TableD", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.ReplicatedMergeTree,
  keeperPath: "/clickhouse/tables/{database}/{table}",
  replicaName: "{replica}",
});

export const tableE = new OlapTable<TableE>("TableE", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.ReplicatedMergeTree,
});

export const tableF = new OlapTable<TableF>("TableF", {
  orderByFields: ["id"],
  engine: ClickHouseEngines.ReplicatedMergeTree,
  cluster: "cluster_a",
  database: "DB_F",
});
`;

const databases: string[] = [];
const engines: OlapEngine[] = [];

test.after.always(async () => {
  if (!cluster) return;
  for (const e of engines) await e.close().catch(() => undefined);
  const admin = await openOlapEngine(cluster.replica(0, "default"));
  for (const db of databases) await admin.execute(`DROP DATABASE IF EXISTS \`${db}\` ON CLUSTER \`${cluster.name}\``).catch(() => undefined);
  await admin.close();
});

async function replica(i: number, database: string): Promise<OlapEngine> {
  const e = await openOlapEngine(cluster!.replica(i, database));
  engines.push(e);
  return e;
}

/** A project on a database of its own whose moose.config.toml points at replica `i`. */
function project(app: string, i = 0): { dir: string; database: string } {
  const database = `moose_cluster_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  // TableF's database: one of its own too, so that runs never share its keeper path.
  databases.push(database, `${database}_f`);
  const root = tempDir("olap-cluster");
  const init = moose(root, ["init", "p"]);
  if (init.code !== 0) throw new Error(init.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "moose.config.toml"), config(database, i));
  writeFileSync(join(dir, "app/index.ts"), app.replace("DB_F", `${database}_f`));
  return { dir, database };
}

function config(database: string, i: number): string {
  const url = new URL(cluster!.urls[i]!);
  // The template's config shape: its two clusters listed as [[clickhouse_config.clusters]].
  // engine = "server": a loopback ClickHouse is otherwise taken for dev's own (reading commands would read the embedded data).
  return `[clickhouse_config]\nengine = "server"\nhost = "${url.hostname}"\nhost_port = ${url.port}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n\n[[clickhouse_config.clusters]]\nname = "cluster_a"\n\n[[clickhouse_config.clusters]]\nname = "cluster_b"\n`;
}

/** Another runner: a fresh clone of `dir` pointed at replica `i`. */
function cloneAt(dir: string, database: string, i: number): string {
  const clone = join(tempDir("olap-cluster-clone"), "p");
  cpSync(dir, clone, { recursive: true });
  rmSync(join(clone, ".moose"), { recursive: true, force: true });
  writeFileSync(join(clone, "moose.config.toml"), config(database, i));
  return clone;
}

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }): string {
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function tablesOn(e: OlapEngine, database: string): Promise<Record<string, string>> {
  const rows = await e.query<{ name: string; engine: string }>(`SELECT name, engine FROM system.tables WHERE database = '${database}' AND name NOT LIKE '\\\\_moose%' ORDER BY name`);
  return Object.fromEntries(rows.map((r) => [r.name, r.engine]));
}

async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The template, as it is: fixtures/moose-templates/typescript-cluster (src/, its moose.config.toml, package.json). */
const TEMPLATE_DIR = fileURLToPath(new URL("../../fixtures/moose-templates/typescript-cluster", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

run("moose-lib's typescript-cluster template, unchanged (its config: additional_databases, two clusters; TableF in database analytics): plans, deploys to both replicas, replicates, no drift, nothing left to plan", async (t) => {
  const database = `moose_cluster_tpl_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  databases.push(database);
  const dir = join(tempDir("olap-cluster-template"), "typescript-cluster");
  cpSync(TEMPLATE_DIR, dir, { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const url = new URL(cluster!.urls[0]!);
  // Only where the server is and who moose is there; everything else is the template's own config.
  // The test servers' user has an empty password, which a MOOSE_* variable cannot say (empty means unset).
  const toml = join(dir, "moose.config.toml");
  const text = readFileSync(toml, "utf8");
  t.true(text.includes('password = "pandapass"'));
  writeFileSync(toml, text.replace('password = "pandapass"', 'password = ""'));
  const env = {
    MOOSE_CLICKHOUSE_CONFIG__HOST: url.hostname,
    MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: url.port,
    MOOSE_CLICKHOUSE_CONFIG__USER: "default",
    MOOSE_CLICKHOUSE_CONFIG__DB_NAME: database,
    // A loopback ClickHouse is otherwise taken for dev's own: reading commands (status) would read the embedded data.
    MOOSE_CLICKHOUSE_CONFIG__ENGINE: "server",
  };
  const admin = await replica(0, "default");
  // TableF's keeper path is the template's database and table (/clickhouse/tables/{shard}/analytics/TableF): an earlier run's copy goes first.
  await admin.execute(`DROP TABLE IF EXISTS analytics.TableF ON CLUSTER cluster_a`);
  try {
    const gen = moose(dir, ["migrate", "generate", "--name", "cluster template"], env);
    t.is(gen.code, 0, gen.stdout + gen.stderr);
    t.regex(gen.stdout, /\+ analytics\.TableF \(OLAP Table\)/);
    const dry = moose(dir, ["migrate", "deploy", "--dry-run"], env);
    t.is(dry.code, 0, dry.stdout + dry.stderr);
    t.regex(dry.stdout, /CREATE DATABASE IF NOT EXISTS `analytics` ON CLUSTER `cluster_a`\n\s+CREATE TABLE IF NOT EXISTS `analytics`\.`TableF` ON CLUSTER `cluster_a`/);
    t.regex(dry.stdout, /ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/analytics\/TableF', '\{replica\}'\)/);
    const deploy = moose(dir, ["migrate", "deploy"], env);
    t.is(deploy.code, 0, deploy.stdout + deploy.stderr);
    t.regex(deploy.stdout, /1 migration applied\./);
    const r1 = await replica(0, database);
    const r2 = await replica(1, database);
    t.deepEqual(await tablesOn(r1, database), { TableA: "ReplicatedMergeTree", TableB: "ReplicatedMergeTree", TableC: "MergeTree", TableD: "ReplicatedMergeTree", TableE: "ReplicatedMergeTree" });
    t.deepEqual(await tablesOn(r2, database), { TableA: "ReplicatedMergeTree", TableB: "ReplicatedMergeTree" });
    for (const r of [r1, r2]) t.deepEqual(await tablesOn(r, "analytics"), { TableF: "ReplicatedMergeTree" }, "TableF is on both replicas of cluster_a, in analytics");
    await r1.insertJsonRows("analytics.TableF", [{ id: "f1", metric: 1.5, timestamp: 1 }]);
    t.deepEqual(await eventually(() => r2.query<{ id: string }>("SELECT id FROM analytics.TableF"), (v) => v.length === 1), [{ id: "f1" }], "replica 2 reads analytics.TableF's row inserted on replica 1");
    const status = moose(dir, ["migrate", "status", "--json"], env);
    t.is(status.code, 0, status.stdout + status.stderr);
    t.deepEqual((JSON.parse(status.stdout) as { drift: string[] }).drift, []);
    const plan = moose(dir, ["plan"], env);
    t.is(plan.stdout, "No changes: the infrastructure matches the code.\n", plan.stderr);
    // Drift in the other database is read per replica too (an ALTER would replicate: a DROP on one replica does not).
    await r2.execute("DROP TABLE analytics.TableF");
    const drift = moose(dir, ["migrate", "status", "--json"], env);
    t.is(drift.code, 3, drift.stdout + drift.stderr);
    t.deepEqual((JSON.parse(drift.stdout) as { drift: string[] }).drift, ["table analytics.TableF is missing on replica 127.0.0.1:9002 of cluster cluster_a"]);
  } finally {
    await admin.execute(`DROP TABLE IF EXISTS analytics.TableF ON CLUSTER cluster_a`).catch(() => undefined);
  }
});

run("the cluster template's tables deploy: cluster tables on both replicas ON CLUSTER, the others on replica 1 only; rows inserted on replica 1 are read on replica 2; status sees no drift", async (t) => {
  const { dir, database } = project(TEMPLATE_APP);
  const plan = ok(t, moose(dir, ["migrate", "generate", "--name", "cluster template"]));
  t.regex(plan, /migrations\//);
  const file = readFileSync(join(dir, "migrations", plan.match(/(\d{14}_cluster_template\.ts)/)![1]!), "utf8");
  t.regex(file, /cluster: "cluster_a"/);
  t.regex(file, /keeperPath: "\/clickhouse\/tables\/\{database\}\/\{table\}"/);
  const dry = ok(t, moose(dir, ["migrate", "deploy", "--dry-run"]));
  t.regex(dry, /CREATE TABLE IF NOT EXISTS `[^`]+`\.`TableA` ON CLUSTER `cluster_a`/);
  t.regex(dry, /ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/[^/]+\/TableA', '\{replica\}'\)/);
  t.regex(dry, /ReplicatedMergeTree\('\/clickhouse\/tables\/[^/]+\/TableD', '\{replica\}'\)/, "{database}/{table} written out (18.16 re-expands them after a RENAME)");
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);

  const r1 = await replica(0, database);
  const r2 = await replica(1, database);
  t.deepEqual(await tablesOn(r1, database), {
    TableA: "ReplicatedMergeTree",
    TableB: "ReplicatedMergeTree",
    TableC: "MergeTree",
    TableD: "ReplicatedMergeTree",
    TableE: "ReplicatedMergeTree",
  });
  t.deepEqual(await tablesOn(r2, database), { TableA: "ReplicatedMergeTree", TableB: "ReplicatedMergeTree" }, "only the cluster tables reach replica 2");
  for (const r of [r1, r2]) t.deepEqual(await tablesOn(r, `${database}_f`), { TableF: "ReplicatedMergeTree" }, "TableF, a cluster table of another database, is on both");

  await r1.insertJsonRows("TableA", [{ id: "a1", value: "x", timestamp: 1 }, { id: "a2", value: "y", timestamp: 2 }]);
  const seen = await eventually(() => r2.query<{ n: string }>("SELECT count() AS n FROM TableA"), (rows) => rows[0]?.n === "2");
  t.deepEqual(seen, [{ n: "2" }], "replica 2 reads the rows inserted on replica 1");

  const status = moose(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  t.deepEqual((JSON.parse(status.stdout) as { drift: string[] }).drift, []);
});

run("offline SQL of a cluster project (migrate sql --server-version, ZooKeeper/Keeper taken from clickhouse_config.clusters) is, step for step, what deploy then runs on the cluster and records", async (t) => {
  const { dir } = project(TEMPLATE_APP);
  const admin = await replica(0, "default");
  const version = (await admin.query<{ v: string }>("SELECT version() AS v"))[0]!.v;
  const generated = ok(t, moose(dir, ["migrate", "generate", "--name", "cluster template"]));
  const id = generated.match(/(\d{14}_cluster_template)\.ts/)![1]!;
  const text = ok(t, moose(dir, ["migrate", "sql", id, "--server-version", version]));
  t.true(text.startsWith(`SQL for ClickHouse ${version} (--server-version; with ZooKeeper/Keeper, as clickhouse_config.clusters implies):\n`), text);
  const offline = JSON.parse(ok(t, moose(dir, ["migrate", "sql", id, "--server-version", version, "--json"]))) as {
    target: unknown;
    migrations: Array<{ steps: Array<{ statements: string[] }> }>;
  };
  t.deepEqual(offline.target, { version, source: "flag", keeperAssumed: true });
  const statements = offline.migrations[0]!.steps.map((s) => s.statements);
  t.true(statements.flat().some((sql) => / ON CLUSTER `cluster_a`/.test(sql)), "ON CLUSTER statements, not a refusal");
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);
  const config = await loadConfig(dir, {});
  const ledger = await projectLedger(config, "test");
  try {
    t.deepEqual((await ledger.steps(id)).map((s) => [...s.statements]), statements);
  } finally {
    await ledger.close();
  }
});

run("adding a column to a cluster table runs ON CLUSTER: both replicas have it and keep replicating", async (t) => {
  const { dir, database } = project(TEMPLATE_APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster template"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  writeFileSync(join(dir, "app/index.ts"), TEMPLATE_APP.replace("value: string; timestamp: number }", "value: string; timestamp: number; region: string }").replace("DB_F", `${database}_f`));
  ok(t, moose(dir, ["migrate", "generate", "--name", "add region"]));
  t.regex(ok(t, moose(dir, ["migrate", "deploy", "--dry-run"])), /ALTER TABLE `[^`]+`\.`TableA` ON CLUSTER `cluster_a` ADD COLUMN `region` String/);
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);
  const r1 = await replica(0, database);
  const r2 = await replica(1, database);
  for (const r of [r1, r2]) {
    t.deepEqual((await r.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'TableA' ORDER BY name")).map((c) => c.name), ["id", "region", "timestamp", "value"]);
  }
  await r2.insertJsonRows("TableA", [{ id: "b1", value: "z", timestamp: 3, region: "eu" }]);
  const rows = await eventually(() => r1.query<{ region: string }>("SELECT region FROM TableA"), (v) => v.length === 1);
  t.deepEqual(rows, [{ region: "eu" }], "a row inserted on replica 2 reaches replica 1");
  t.is(moose(dir, ["migrate", "status"]).code, 0);
});

run("rebuilding a replicated cluster table (a new ORDER BY) copies, verifies and swaps ON CLUSTER: both replicas hold every row under the new key, and status sees no drift", async (t) => {
  const { dir, database } = project(TEMPLATE_APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster template"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  const r1 = await replica(0, database);
  const r2 = await replica(1, database);
  await r1.insertJsonRows("TableA", [{ id: "a1", value: "x", timestamp: 1 }, { id: "a2", value: "y", timestamp: 2 }, { id: "a3", value: "z", timestamp: 3 }]);
  writeFileSync(join(dir, "app/index.ts"), TEMPLATE_APP.replace('new OlapTable<TableA>("TableA", {\n  orderByFields: ["id"],', 'new OlapTable<TableA>("TableA", {\n  orderByFields: ["id", "timestamp"],').replace("DB_F", `${database}_f`));
  const gen = moose(dir, ["migrate", "generate", "--name", "reorder a", "--non-interactive"]);
  t.is(gen.code, 0, gen.stdout + gen.stderr);
  const dry = ok(t, moose(dir, ["migrate", "deploy", "--dry-run"]));
  t.regex(dry, /RENAME TABLE [^\n]+ ON CLUSTER `cluster_a`/);
  t.regex(dry, /ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/[^/]+\/TableA__moose_[0-9a-f]{8}'/, "the copy has a keeper path of its own");
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);
  for (const r of [r1, r2]) {
    const [row] = await r.query<{ sorting_key: string }>("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'TableA'");
    t.is(row?.sorting_key, "id, timestamp");
    t.deepEqual(await eventually(() => r.query<{ n: string }>("SELECT count() AS n FROM TableA"), (v) => v[0]?.n === "3"), [{ n: "3" }]);
  }
  const status = moose(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  // A second rebuild does not collide with the first copy's keeper path.
  writeFileSync(join(dir, "app/index.ts"), TEMPLATE_APP.replace('new OlapTable<TableA>("TableA", {\n  orderByFields: ["id"],', 'new OlapTable<TableA>("TableA", {\n  orderByFields: ["id", "value"],').replace("DB_F", `${database}_f`));
  ok(t, moose(dir, ["migrate", "generate", "--name", "reorder a again", "--non-interactive"]));
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);
  t.deepEqual(await eventually(() => r2.query<{ n: string }>("SELECT count() AS n FROM TableA"), (v) => v[0]?.n === "3"), [{ n: "3" }]);
});

/** Appends a hand-written migration (no change to the model) whose steps are `up`. */
function handWritten(dir: string, name: string, up: string): void {
  const files = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort();
  const last = readFileSync(join(dir, "migrations", files.at(-1)!), "utf8");
  const result = /result: "(sha256:[0-9a-f]{64})"/.exec(last)![1]!;
  const stamp = String(Number(files.at(-1)!.slice(0, 14)) + 1);
  writeFileSync(
    join(dir, "migrations", `${stamp}_${name}.ts`),
    `import { migration, sql } from "moose-migrate/migration";\nexport default migration({\n  parent: "${result}",\n  result: "${result}",\n  up: [${up}],\n  down: null,\n});\n`,
  );
}

/** The template's cluster tables only: a table without a cluster lives on one replica, which a runner at the other rightly calls missing. */
const CLUSTER_APP = TEMPLATE_APP.slice(0, TEMPLATE_APP.indexOf("export const tableC"));

run("the ledger and the lock are cluster-wide: two runners deploying at once through different replicas apply the migration exactly once, and a runner at either replica sees it applied", async (t) => {
  const { dir, database } = project(CLUSTER_APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster template"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  const r1 = await replica(0, database);
  const r2 = await replica(1, database);
  t.deepEqual(await tablesOn(r2, database), { TableA: "ReplicatedMergeTree", TableB: "ReplicatedMergeTree" });
  for (const r of [r1, r2]) {
    const [row] = await r.query<{ engine: string }>("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = '_moose_ledger'");
    t.is(row?.engine, "ReplicatedMergeTree", "the ledger is on both replicas");
  }
  // rand() keeps a second run of the INSERT from being deduplicated by replication: running twice would show.
  handWritten(dir, "seed", "sql(\"INSERT INTO TableA (id, value, timestamp) SELECT 'u1', toString(rand()), 1\"), sql(\"SELECT sleep(2)\")");
  const runners = [cloneAt(dir, database, 0), cloneAt(dir, database, 1), cloneAt(dir, database, 1)];
  const results = await Promise.all(runners.map((r) => mooseAsync(r, ["migrate", "deploy", "--lock-timeout", "90"])));
  for (const r of results) t.is(r.code, 0, r.stdout + r.stderr);
  t.is(results.filter((r) => /1 migration applied\./.test(r.stdout)).length, 1, results.map((r) => r.stdout).join("\n---\n"));
  t.is(results.filter((r) => /No pending migrations/.test(r.stdout)).length, 2);
  t.deepEqual(await eventually(() => r2.query<{ n: string }>("SELECT count() AS n FROM TableA WHERE id = 'u1'"), (v) => v[0]?.n === "1"), [{ n: "1" }], "the INSERT ran once");
  await new Promise((r) => setTimeout(r, 1000));
  t.deepEqual(await r1.query<{ n: string }>("SELECT count() AS n FROM TableA WHERE id = 'u1'"), [{ n: "1" }]);
  for (const i of [0, 1]) {
    const status = moose(cloneAt(dir, database, i), ["migrate", "status", "--json"]);
    t.is(status.code, 0, status.stdout + status.stderr);
    t.deepEqual((JSON.parse(status.stdout) as { migrations: Array<{ state: string }> }).migrations.map((m) => m.state), ["applied", "applied"], `replica ${i + 1}`);
  }
});

run("a replica killed mid-deploy: the step fails naming the host that did not finish, and after the replica returns the next deploy resumes there and the table is on both", async (t) => {
  const { dir, database } = project(CLUSTER_APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster tables"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  const withG = CLUSTER_APP + `
export interface TableG { id: Key<string>; note: string }
export const tableG = new OlapTable<TableG>("TableG", { orderByFields: ["id"], engine: ClickHouseEngines.ReplicatedMergeTree, cluster: "cluster_a" });
`;
  writeFileSync(join(dir, "app/index.ts"), withG);
  ok(t, moose(dir, ["migrate", "generate", "--name", "add g"]));
  // First steps that take a while (18.16 sleeps at most 3 s a call), so the replica goes down after the lock is taken and before TableG's step.
  const files = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_add_g.ts"));
  const path = join(dir, "migrations", files[0]!);
  writeFileSync(path, readFileSync(path, "utf8").replace("up: [", 'up: [\n    sql("SELECT sleep(3)"),\n    sql("SELECT sleep(3)"),\n    sql("SELECT sleep(3)"),'));
  const deploying = mooseAsync(dir, ["migrate", "deploy"], { MOOSE_DISTRIBUTED_DDL_TIMEOUT_S: "5" });
  await new Promise((r) => setTimeout(r, 4000));
  const stop = spawnSync("bash", [SETUP, "stop", "2"], { encoding: "utf8" });
  t.is(stop.status, 0, stop.stderr);
  try {
    const failed = await deploying;
    t.not(failed.code, 0, failed.stdout);
    t.regex(failed.stdout + failed.stderr, /OLAP_CLUSTER_TIMEOUT[^\n]*127\.0\.0\.1:9002/, "the host that did not finish is named");
  } finally {
    const start = spawnSync("bash", [SETUP, "start", "2"], { encoding: "utf8" });
    t.is(start.status, 0, start.stderr);
  }
  // --lock-timeout: had the replica gone down while the lock was being taken, its half-made generation is waited out.
  const resumed = ok(t, moose(dir, ["migrate", "deploy", "--lock-timeout", "60"]));
  t.regex(resumed, /1 migration applied\./);
  for (const i of [0, 1]) {
    const r = await replica(i, database);
    t.deepEqual(await eventually(() => tablesOn(r, database), (v) => "TableG" in v), { TableA: "ReplicatedMergeTree", TableB: "ReplicatedMergeTree", TableG: "ReplicatedMergeTree" }, `replica ${i + 1}`);
  }
  t.is(moose(dir, ["migrate", "status"]).code, 0);
});

run("drift checks every replica: a cluster table dropped on replica 2 alone is drift seen from replica 1", async (t) => {
  const { dir, database } = project(CLUSTER_APP);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster tables"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  t.is(moose(dir, ["migrate", "status"]).code, 0);
  const r2 = await replica(1, database);
  await r2.execute("DROP TABLE TableB");
  const status = moose(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 3, status.stdout + status.stderr);
  t.deepEqual((JSON.parse(status.stdout) as { drift: string[] }).drift, ["table TableB is missing on replica 127.0.0.1:9002 of cluster cluster_b"]);
});

run("a cluster the server does not define: deploy stops with CLUSTER_UNKNOWN naming the server and the clusters it has, before any table is created", async (t) => {
  const { dir, database } = project(`import { OlapTable, Key, ClickHouseEngines } from "moose-migrate";
export interface Row { id: Key<string> }
export const t = new OlapTable<Row>("Elsewhere", { engine: ClickHouseEngines.ReplicatedMergeTree, cluster: "cluster_x" });
`);
  writeFileSync(join(dir, "moose.config.toml"), readFileSync(join(dir, "moose.config.toml"), "utf8").replace('name = "cluster_b"', 'name = "cluster_x"'));
  ok(t, moose(dir, ["migrate", "generate", "--name", "elsewhere"]));
  const r = moose(dir, ["migrate", "deploy"]);
  t.not(r.code, 0, r.stdout);
  t.regex(r.stdout + r.stderr, new RegExp(`createTable\\("Elsewhere"\\)\\) failed after 0 applied step\\(s\\): CLUSTER_UNKNOWN: the ClickHouse server ${cluster!.urls[0]!.replace(/\/$/, "")} has no cluster cluster_x \\(system\\.clusters, from <remote_servers> in its config; it has cluster_a, cluster_b, moose_cluster\\)`));
  const r1 = await replica(0, database);
  t.deepEqual(await tablesOn(r1, database), {});
});

run("an ALTER … ON CLUSTER that ran on replica 1 while replica 2 was down: the next plain deploy reads every replica, finds the column on both once replica 2 is back, and records the step without running it again", async (t) => {
  const app = CLUSTER_APP;
  const { dir, database } = project(app);
  ok(t, moose(dir, ["migrate", "generate", "--name", "cluster tables"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  writeFileSync(join(dir, "app/index.ts"), app.replace("value: string; timestamp: number }", "value: string; timestamp: number; region: string }"));
  ok(t, moose(dir, ["migrate", "generate", "--name", "add region"]));
  const files = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_add_region.ts"));
  const path = join(dir, "migrations", files[0]!);
  writeFileSync(path, readFileSync(path, "utf8").replace("up: [", 'up: [\n    sql("SELECT sleep(3)"),\n    sql("SELECT sleep(3)"),\n    sql("SELECT sleep(3)"),'));
  const r1 = await replica(0, database);
  const deploying = mooseAsync(dir, ["migrate", "deploy"], { MOOSE_DISTRIBUTED_DDL_TIMEOUT_S: "5" });
  // Replica 2 goes down once the deploy is in its first steps (past the lock and the drift check, which read every replica).
  const sleeping = await eventually(() => r1.query<{ n: string }>("SELECT toString(count()) AS n FROM system.processes WHERE query LIKE 'SELECT sleep(3)%'"), (v) => v[0]?.n !== "0", 60_000);
  t.not(sleeping[0]?.n, "0", "the deploy reached its sleep steps");
  const stop = spawnSync("bash", [SETUP, "stop", "2"], { encoding: "utf8" });
  t.is(stop.status, 0, stop.stderr);
  try {
    const failed = await deploying;
    t.not(failed.code, 0, failed.stdout);
    t.regex(failed.stdout + failed.stderr, /OLAP_CLUSTER_TIMEOUT[^\n]*127\.0\.0\.1:9002/);
  } finally {
    const start = spawnSync("bash", [SETUP, "start", "2"], { encoding: "utf8" });
    t.is(start.status, 0, start.stderr);
  }
  // Once replica 2 is back it runs what was queued for it: the column is then on both, and the step's ALTER
  // sent again would fail on every host (the column exists; 18.16 has no ADD COLUMN IF NOT EXISTS).
  const r2 = await replica(1, database);
  for (const r of [r1, r2]) {
    const seen = await eventually(() => r.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'TableA' AND name = 'region'"), (v) => v.length === 1, 90_000);
    t.deepEqual(seen, [{ name: "region" }]);
  }
  const resumed = ok(t, moose(dir, ["migrate", "deploy", "--lock-timeout", "60"]));
  t.regex(resumed, /1 migration applied\./);
  for (const r of [r1, r2]) {
    t.deepEqual((await r.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'TableA' ORDER BY name")).map((c) => c.name), ["id", "region", "timestamp", "value"]);
  }
  const status = moose(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  t.deepEqual((JSON.parse(status.stdout) as { drift: string[] }).drift, []);
});
