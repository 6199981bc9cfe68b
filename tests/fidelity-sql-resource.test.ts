import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { diff } from "../lib/diff/diff.js";
import { readSqlResource } from "../lib/engines/olap/sql-resource-policy.js";
import { checkMapSql } from "../lib/engines/olap/statement-policy.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { emptyInfraMap, hashInfraMap, type InfraMap, type SqlResource } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { InvalidInputErrors, type MooseError } from "../lib/errors.js";
import { editFile, initProject, runCli } from "./helpers/cli.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { guardMigrationSql } from "../lib/migrations/apply/sql-guard.js";
import { applyToEngine, events, mapOf, totals, totalsView, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import type { OlapEngine } from "../lib/engines/olap/engine.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { liveDrift } from "../lib/migrations/apply/status.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

/**
 * moose-lib's `SqlResource` planned end to end: extracted with its statements as written and
 * its dependencies, every statement read by ClickHouse's parser (hostile ones refused at the
 * declaration's file:line), ordered after what it reads and before what reads it, setup /
 * teardown steps with reverses and risks, deployed on chDB (and the 18.16 server with
 * CLICKHOUSE_URL), drift when an object it creates is missing.
 */

const APP = `import { OlapTable, SqlResource, View, MaterializedView, Key, sql } from "@514labs/moose-lib";

interface Reading { id: Key<string>; v: number }
export const readings = new OlapTable<Reading>("Readings", { orderByFields: ["id"] });
export const positive = new View("positive", sql\`SELECT id, v FROM \${readings} WHERE v > 0\`, [readings]);
export const summary = new SqlResource(
  "Summary",
  ["CREATE VIEW summary AS SELECT count() AS n, sum(v) AS total FROM positive"],
  ["DROP VIEW summary"],
  { pullsDataFrom: [positive] },
);
export const store = new SqlResource(
  "Store",
  ["CREATE TABLE store (id String, v Float64) ENGINE = MergeTree ORDER BY id"],
  ["DROP TABLE store"],
  { pullsDataFrom: [readings] },
);
`;

const ok = (t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }) => t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
const newest = (dir: string) => readFileSync(join(dir, "migrations", readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort().at(-1)!), "utf8");
const rows = async (dir: string, sql: string) => JSON.parse((await runCli(dir, ["query", sql, "--format", "json"])).stdout) as Array<Record<string, unknown>>;

const located = (e: unknown): string[] => (e instanceof InvalidInputErrors ? e.errors : [e as MooseError]).map((x) => `${x.code} ${x.located}`);

test("extraction keeps the statements as written and the dependencies by name; an app without one has no sqlResources (same hash as before)", (t) => {
  const app = extractApp({ projectDir: tempApp({ "app/index.ts": APP }), mainFile: "app/index.ts" });
  t.deepEqual(app.map.sqlResources, {
    Summary: { name: "Summary", setup: ["CREATE VIEW summary AS SELECT count() AS n, sum(v) AS total FROM positive"], teardown: ["DROP VIEW summary"], pullsDataFrom: ["positive"], pushesDataTo: [] },
    Store: { name: "Store", setup: ["CREATE TABLE store (id String, v Float64) ENGINE = MergeTree ORDER BY id"], teardown: ["DROP TABLE store"], pullsDataFrom: ["Readings"], pushesDataTo: [] },
  });
  t.deepEqual(app.warnings.filter((w) => w.includes("SqlResource")), []);
  const map = mapOf([events, totals], [totalsView]);
  // The hash this map had before plain views and SQL resources were modelled (tests/fidelity-views).
  t.is(hashInfraMap(map), "sha256:74d9410f4d4117940e684029c1461f7e9e7b8d8e33d04017125b20ee16fe2c92");
  const r: SqlResource = { name: "R", setup: ["CREATE VIEW r AS SELECT 1"], teardown: ["DROP VIEW r"], pullsDataFrom: [], pushesDataTo: [] };
  const back = applyChanges(map, [{ kind: "sqlResource.create", resource: r }, { kind: "sqlResource.drop", resource: r }]);
  t.false("sqlResources" in back);
  t.is(hashInfraMap(back), hashInfraMap(map));
});

test("hostile and foreign statements are refused at the declaration's file:line, naming the statement and what to do", async (t) => {
  const header = ['import { OlapTable, SqlResource, Key } from "@514labs/moose-lib";', "interface Row { id: Key<string> }", 'export const users = new OlapTable<Row>("Users");'];
  const problems = async (setup: string[], teardown: string[]): Promise<string[]> => {
    const line = `export const r = new SqlResource("R", ${JSON.stringify(setup)}, ${JSON.stringify(teardown)});`;
    const app = extractApp({ projectDir: tempApp({ "app/index.ts": [...header, line].join("\n") }), mainFile: "app/index.ts" });
    const error = await t.throwsAsync(checkMapSql(app.map, (key) => app.locations[key]));
    return located(error);
  };
  t.deepEqual(await problems(["CREATE VIEW v AS SELECT 1; DROP TABLE Users"], ["DROP VIEW v"]), [
    'SQL_MULTI_STATEMENT app/index.ts:4:18: setup statement 1 of SqlResource R ("CREATE VIEW v AS SELECT 1; DROP TABLE Users"): ClickHouse reads more than one statement here',
    'SQL_RESOURCE_NOT_OWNED app/index.ts:4:18: teardown statement 1 of SqlResource R ("DROP VIEW v") drops v, which no setup statement of R creates; a teardown statement must be one DROP TABLE, DROP VIEW, DROP DICTIONARY or DROP FUNCTION of an object this resource\'s setup creates',
  ]);
  t.deepEqual(await problems(["CREATE VIEW v AS SELECT 1"], ["DROP TABLE Users"]), [
    'SQL_RESOURCE_NOT_OWNED app/index.ts:4:18: teardown statement 1 of SqlResource R ("DROP TABLE Users") drops Users, which table Users declares; a teardown statement must be one DROP TABLE, DROP VIEW, DROP DICTIONARY or DROP FUNCTION of an object this resource\'s setup creates',
  ]);
  const kinds = await problems(["INSERT INTO Users VALUES ('x')", "SYSTEM DROP DNS CACHE", "CREATE OR REPLACE VIEW w AS SELECT 1", "CREATE DATABASE other", "CREATE TABLE Users (id String) ENGINE = Memory", "ALTER TABLE Users DELETE WHERE 1", "CREATE VIEW ok AS SELEC 1"], []);
  t.is(kinds.length, 7);
  t.regex(kinds[0]!, /^SQL_RESOURCE_STATEMENT app\/index.ts:4:18: setup statement 1 of SqlResource R \("INSERT INTO Users VALUES \('x'\)"\): ClickHouse parses it as InsertQuery; a setup statement must be one CREATE TABLE, CREATE VIEW/);
  t.regex(kinds[1]!, /setup statement 2 .*ClickHouse parses it as SYSTEM;/);
  t.regex(kinds[2]!, /setup statement 3 .*ClickHouse reads it as CREATE OR REPLACE …/);
  t.regex(kinds[3]!, /setup statement 4 .*ClickHouse reads it as CREATE DATABASE/);
  t.regex(kinds[4]!, /^SQL_RESOURCE_NOT_OWNED .*setup statement 5 .* creates Users, which table Users declares/);
  t.regex(kinds[5]!, /setup statement 6 .*ClickHouse parses it as AlterQuery/);
  t.regex(kinds[6]!, /^SQL_SYNTAX .*setup statement 7 of SqlResource R/);
  t.deepEqual(await problems(["CREATE VIEW v AS SELECT 1"], ["DROP VIEW v, w"]).then((p) => p.map((x) => x.replace(/\(".*"\)/, "(…)"))), [
    "SQL_RESOURCE_STATEMENT app/index.ts:4:18: teardown statement 1 of SqlResource R (…): it drops more than one object (one DROP per object); a teardown statement must be one DROP TABLE, DROP VIEW, DROP DICTIONARY or DROP FUNCTION of an object this resource's setup creates",
  ]);
});

test("the parser's reading decides the risk: a teardown dropping a MergeTree table needs an approval, one dropping a view does not", async (t) => {
  const view: SqlResource = { name: "V", setup: ["CREATE VIEW v1 AS SELECT 1 AS x"], teardown: ["DROP VIEW IF EXISTS v1"], pullsDataFrom: [], pushesDataTo: [] };
  const table: SqlResource = { name: "T", setup: ["CREATE TABLE IF NOT EXISTS t1 (a Int8) ENGINE = MergeTree ORDER BY a", "CREATE MATERIALIZED VIEW m1 ENGINE = MergeTree ORDER BY a AS SELECT a FROM t1"], teardown: ["DROP VIEW m1", "DROP TABLE t1"], pullsDataFrom: [], pushesDataTo: [] };
  const facts = await readSqlResource(table, undefined);
  t.deepEqual(
    facts.creates.map((c) => `${c.kind} ${c.name} rows=${c.holdsRows}`),
    ["table t1 rows=true", "materializedView m1 rows=true"],
  );
  await readSqlResource(view, undefined);
  const from: InfraMap = { ...emptyInfraMap(), sqlResources: { V: view, T: table } };
  const steps = plan(diff(from, emptyInfraMap()), { from, to: emptyInfraMap() }).steps;
  t.deepEqual(
    steps.map((s) => `${s.change.kind} ${s.risk.code} losesData=${s.risk.losesData} reverse=${s.reverse?.kind}`),
    ["sqlResource.drop DROP_SQL_RESOURCE losesData=true reverse=sqlResource.create", "sqlResource.drop DROP_SQL_RESOURCE_NO_ROWS losesData=false reverse=sqlResource.create"],
  );
});

test("order: a SQL resource after what it pulls from and before what reads it; a materialized view reading a plain View after the View", async (t) => {
  const base: InfraMap = mapOf([events, totals], []);
  const rA: SqlResource = { name: "A", setup: ["CREATE VIEW a_view AS SELECT * FROM recent"], teardown: ["DROP VIEW a_view"], pullsDataFrom: ["recent"], pushesDataTo: [] };
  const rB: SqlResource = { name: "B", setup: ["CREATE VIEW b_view AS SELECT * FROM a_view"], teardown: ["DROP VIEW b_view"], pullsDataFrom: ["A"], pushesDataTo: [] };
  await readSqlResource(rA, undefined);
  await readSqlResource(rB, undefined);
  const mv = { ...totalsView, name: "totals_mv", sourceTables: ["recent"], selectStatement: "SELECT id, count() AS n FROM recent GROUP BY id" };
  const to: InfraMap = { ...base, views: { totals_mv: mv }, plainViews: { recent: { name: "recent", selectStatement: "SELECT * FROM events", sourceTables: ["events"] } }, sqlResources: { B: rB, A: rA } };
  const names = (steps: ReturnType<typeof plan>["steps"]) =>
    steps.map((s) => {
      const c = s.change as { kind: string; resource?: { name: string }; view?: { name: string } };
      return `${c.kind} ${c.resource?.name ?? c.view?.name ?? ""}`.trim();
    });
  t.deepEqual(names(plan(diff(base, to), { from: base, to }).steps), ["plainView.create recent", "view.create totals_mv", "sqlResource.create A", "sqlResource.create B"]);
  t.deepEqual(names(plan(diff(to, base), { from: to, to: base }).steps), ["view.drop totals_mv", "sqlResource.drop B", "sqlResource.drop A", "plainView.drop recent"]);
});

test.serial("end to end on chDB: plan, migration file, deploy, no changes; changed setup runs the committed teardown then the new setup; removal needs an approval for the table; drift; rollback", async (t) => {
  const dir = await initProject("sqlres", APP);
  const shown = await runCli(dir, ["plan"]);
  ok(t, shown);
  t.regex(shown.stdout, /\+ Summary \(SQL Resource\)/);
  t.regex(shown.stdout, /\+ positive \(View\)/);
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "resources"]));
  const file = newest(dir);
  t.regex(file, /createSqlResource\(\{/);
  // In order: the View Summary reads exists first.
  t.true(file.indexOf('createPlainView({') < file.indexOf('"Summary"'));
  t.regex(file, /dropSqlResource\("Store", \{ approveDataLoss: true \}\)/, "the down step dropping a MergeTree table is marked as losing data");
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");
  ok(t, await runCli(dir, ["migrate", "status"]));
  ok(t, await runCli(dir, ["query", "INSERT INTO Readings VALUES ('a', 1), ('b', -2), ('c', 3)", "--write"]));
  t.deepEqual(await rows(dir, "SELECT n, total FROM summary"), [{ n: "2", total: 4 }]);

  // moose ls lists plain views and SQL resources.
  const ls = await runCli(dir, ["ls"]);
  t.regex(ls.stdout, /Views \(1\)[\s\S]*positive/);
  t.regex(ls.stdout, /SQL Resources \(2\)[\s\S]*Summary/);

  // A new setup: the committed teardown runs (DROP VIEW summary), then the new setup.
  editFile(dir, "app/index.ts", "sum(v) AS total FROM positive", "max(v) AS top FROM positive");
  editFile(dir, "app/index.ts", '["DROP VIEW summary"]', '["DROP VIEW IF EXISTS summary"]');
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "summary_max"]));
  t.regex(newest(dir), /modifySqlResource\(/);
  const id = readdirSync(join(dir, "migrations")).find((f) => f.endsWith("_summary_max.ts"))!.replace(/\.ts$/, "");
  const sql = await runCli(dir, ["migrate", "sql", id]);
  ok(t, sql);
  t.true(sql.stdout.indexOf("DROP VIEW summary") >= 0 && sql.stdout.indexOf("DROP VIEW summary") < sql.stdout.indexOf("max(v) AS top"), sql.stdout);
  const old = await runCli(dir, ["migrate", "sql", id, "--server-version", "18.16.1"]);
  t.is(old.code, 3, old.stdout + old.stderr);
  t.regex(old.stdout + old.stderr, /cannot run the teardown of SqlResource Summary \(DROP VIEW summary\): ClickHouse 18\.16\.1 does not support DROP VIEW \(ClickHouse 20\.8\+\)/);
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.deepEqual(await rows(dir, "SELECT n, top FROM summary"), [{ n: "2", top: 3 }]);

  // Drift: an object a SQL resource creates, dropped by hand, is reported.
  ok(t, await runCli(dir, ["query", "DROP VIEW summary", "--write"]));
  const status = await runCli(dir, ["migrate", "status"]);
  t.is(status.code, 3, status.stdout + status.stderr);
  t.regex(status.stdout + status.stderr, /view summary, which SqlResource Summary creates, is missing from the database/);
  ok(t, await runCli(dir, ["query", "CREATE VIEW summary AS SELECT count() AS n, max(v) AS top FROM positive", "--write"]));
  ok(t, await runCli(dir, ["migrate", "status"]));

  // Removing the table resource drops a MergeTree table: the file approves nothing until edited.
  ok(t, await runCli(dir, ["query", "INSERT INTO store VALUES ('x', 1)", "--write"]));
  const app = readFileSync(join(dir, "app/index.ts"), "utf8");
  writeFileSync(join(dir, "app/index.ts"), app.slice(0, app.indexOf("export const store")));
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "drop_store"]));
  t.regex(newest(dir), /dropSqlResource\("Store", \{ approveDataLoss: false \}\)/);
  const refused = await runCli(dir, ["migrate", "deploy"]);
  t.is(refused.code, 3, refused.stdout + refused.stderr);
  t.deepEqual(await rows(dir, "SELECT count() AS n FROM store"), [{ n: "1" }], "nothing ran");
  const path = join(dir, "migrations", readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("drop_store.ts"))[0]!);
  writeFileSync(path, readFileSync(path, "utf8").replace('dropSqlResource("Store", { approveDataLoss: false })', 'dropSqlResource("Store", { approveDataLoss: true })'));
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.deepEqual(await rows(dir, "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'store'"), [{ n: "0" }]);

  // Rollback runs the reverse (the setup again); it loses nothing, so no --accept-data-loss.
  ok(t, await runCli(dir, ["migrate", "rollback"]));
  t.deepEqual(await rows(dir, "SELECT count() AS n FROM store"), [{ n: "0" }]);
});

// ---------------------------------------------------------------------------
// Both engines: the adapter's statements on chDB and on the 18.16 server.

const rView: SqlResource = { name: "RView", setup: ["CREATE VIEW rv AS SELECT id, v FROM events WHERE v > 0"], teardown: ["DROP TABLE IF EXISTS rv"], pullsDataFrom: ["events"], pushesDataTo: [] };
const rTable: SqlResource = {
  name: "RTable",
  setup: ["CREATE TABLE rt (id UInt64, n UInt64) ENGINE = SummingMergeTree ORDER BY id", "CREATE MATERIALIZED VIEW rt_mv TO rt AS SELECT id, toUInt64(count()) AS n FROM events GROUP BY id"],
  teardown: ["DROP TABLE rt_mv", "DROP TABLE rt"],
  pullsDataFrom: ["events"],
  pushesDataTo: [],
};

async function roundTrip(t: import("ava").ExecutionContext, engine: OlapEngine): Promise<void> {
  for (const r of [rView, rTable]) await readSqlResource(r, undefined);
  const base = mapOf([events], []);
  const to: InfraMap = { ...base, sqlResources: { RView: rView, RTable: rTable } };
  await applyToEngine(engine, emptyInfraMap(), plan(diff(emptyInfraMap(), base), { from: emptyInfraMap(), to: base }).steps.map((s) => s.change));
  const up = plan(diff(base, to), { from: base, to }).steps;
  await applyToEngine(engine, base, up.map((s) => s.change));
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 5, now()), (2, -1, now()), (1, 7, now())");
  t.deepEqual(await engine.query("SELECT id FROM rv ORDER BY v"), [{ id: "1" }, { id: "1" }]);
  t.deepEqual(await engine.query("SELECT id, sum(n) AS n FROM rt GROUP BY id ORDER BY id"), [{ id: "1", n: "2" }, { id: "2", n: "1" }]);
  t.deepEqual(await liveDrift(to, engine), [], "no false drift: what the resources create is theirs, and it exists");

  await engine.execute("DROP TABLE rv");
  t.deepEqual(await liveDrift(to, engine), ["view rv, which SqlResource RView creates, is missing from the database"]);
  for (const s of statementsFor({ kind: "sqlResource.create", resource: rView }, { database: engine.database, capabilities: await engine.capabilities() })) await engine.execute(s);
  t.deepEqual(await liveDrift(to, engine), []);

  // A new setup: the old teardown, then the new setup; the reverse puts the old one back.
  const changed: InfraMap = { ...to, sqlResources: { RView: { ...rView, setup: ["CREATE VIEW rv AS SELECT id, v FROM events WHERE v > 6"] }, RTable: rTable } };
  await readSqlResource(changed.sqlResources!.RView!, undefined);
  const modify = plan(diff(to, changed), { from: to, to: changed }).steps;
  t.deepEqual(modify.map((s) => `${s.change.kind} ${s.risk.code}`), ["sqlResource.modify REPLACE_SQL_RESOURCE"]);
  await applyToEngine(engine, to, modify.map((s) => s.change));
  t.deepEqual(await engine.query("SELECT id FROM rv"), [{ id: "1" }]);
  t.deepEqual(await liveDrift(changed, engine), [], "the view's SELECT is the setup's");
  t.deepEqual(await liveDrift(to, engine), ["view rv, which SqlResource RView creates, runs another SELECT in the database than its setup says"]);
  await applyToEngine(engine, changed, modify.map((s) => s.reverse!));
  t.deepEqual(await engine.query("SELECT id FROM rv ORDER BY v"), [{ id: "1" }, { id: "1" }]);

  // Removed: teardowns run (the table one needs an approval: it holds rows), readers first.
  const down = plan(diff(to, base), { from: to, to: base }).steps;
  t.deepEqual(down.map((s) => `${s.change.kind} ${s.risk.code} ${s.risk.losesData}`).sort(), ["sqlResource.drop DROP_SQL_RESOURCE true", "sqlResource.drop DROP_SQL_RESOURCE_NO_ROWS false"]);
  await applyToEngine(engine, to, down.map((s) => s.change));
  t.deepEqual(await engine.query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"), [{ name: "events" }]);
  t.deepEqual(await liveDrift(base, engine), []);
}

const dataDir = mkdtempSync(join(tmpdir(), "moose-fidelity-sqlres-"));
test.after.always(() => rmSync(dataDir, { recursive: true, force: true }));

test.serial("embedded: setup, queries, no false drift, a missing object is drift, new setup and its reverse, teardown", async (t) => {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase("sqlres") });
  try {
    await roundTrip(t, engine);
  } finally {
    await engine.close();
  }
});

test("a statement the server's version cannot run is refused before anything runs, naming the version", async (t) => {
  const r: SqlResource = { name: "Fn", setup: ["CREATE FUNCTION moose_plus_one AS (x) -> x + 1", "CREATE VIEW fv AS SELECT moose_plus_one(1) AS y"], teardown: ["DROP VIEW fv", "DROP FUNCTION moose_plus_one"], pullsDataFrom: [], pushesDataTo: [] };
  await readSqlResource(r, undefined);
  const old = { database: "db", capabilities: capabilitiesFor("18.16.1") };
  const create = t.throws(() => statementsFor({ kind: "sqlResource.create", resource: r }, old));
  t.is(create?.message, "cannot run the setup of SqlResource Fn (it creates function moose_plus_one): ClickHouse 18.16.1 does not support CREATE FUNCTION (ClickHouse 21.10+)");
  const drop = t.throws(() => statementsFor({ kind: "sqlResource.drop", resource: r }, old));
  t.regex(drop?.message ?? "", /cannot run the teardown of SqlResource Fn \(DROP VIEW fv\): ClickHouse 18.16.1 does not support DROP VIEW \(ClickHouse 20.8\+\)/);
  t.deepEqual(statementsFor({ kind: "sqlResource.create", resource: r }, { database: "db", capabilities: capabilitiesFor("24.8.1") }), r.setup);
});

const serverTest = process.env.CLICKHOUSE_URL ? test.serial : test.skip;

serverTest("server 18.16: the same round trip; DROP VIEW and CREATE FUNCTION are refused naming the server's version", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_sqlres"));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  try {
    await roundTrip(t, engine);
    const caps = await engine.capabilities();
    const r: SqlResource = { name: "V", setup: ["CREATE VIEW v18 AS SELECT 1 AS x"], teardown: ["DROP VIEW v18"], pullsDataFrom: [], pushesDataTo: [] };
    await readSqlResource(r, undefined);
    const error = t.throws(() => statementsFor({ kind: "sqlResource.drop", resource: r }, { database: engine.database, capabilities: caps }));
    t.is((error as MooseError | undefined)?.code, "UNSUPPORTED_BY_SERVER");
    t.regex(error?.message ?? "", new RegExp(`ClickHouse ${caps.version.replace(/\./g, "\\.")} does not support DROP VIEW`));
  } finally {
    await engine.execute(`DROP DATABASE IF EXISTS \`${engine.database}\``).catch(() => undefined);
    await engine.close();
  }
});

test.serial("baseline adopts plain views and SQL resources whose objects exist; ls --graph and the inventory show them", async (t) => {
  const dir = await initProject("sqlres-baseline", APP);
  ok(t, await runCli(dir, ["query", "CREATE TABLE Readings (id String, v Float64) ENGINE = MergeTree ORDER BY id", "--write"]));
  ok(t, await runCli(dir, ["query", "CREATE VIEW positive AS SELECT id, v FROM Readings WHERE v > 0", "--write"]));
  ok(t, await runCli(dir, ["query", "CREATE VIEW summary AS SELECT count() AS n, sum(v) AS total FROM positive", "--write"]));
  const base = await runCli(dir, ["migrate", "baseline"]);
  ok(t, base);
  t.regex(base.stdout, /Adopted from the database:\n {2}table Readings\n {2}plain view positive\n {2}SQL resource Summary\n/, base.stdout);
  t.regex(base.stdout, /Declared but not in the database \(the next migration creates them\):\n {2}SQL resource Store\n/, base.stdout);
  t.notRegex(base.stdout, /In the database but not declared/, "summary belongs to the Summary resource");
  const shown = await runCli(dir, ["plan"]);
  t.regex(shown.stdout, /New Components\n {2}\+ Store \(SQL Resource\)\n/, shown.stdout);
  t.notRegex(shown.stdout, /Summary|positive/);
  ok(t, await runCli(dir, ["migrate", "status"]));

  const graph = await runCli(dir, ["ls", "--graph"]);
  ok(t, graph);
  // Node ids are the model's kind and a number; labels name the kind as a reader calls it.
  const ids = new Map([...graph.stdout.matchAll(/^ {2}(([a-zA-Z]+)\d+)\S*"(\w+) \(/gm)].map((m) => [`${m[2]}:${m[3]}`, m[1]]));
  t.true(graph.stdout.includes('"positive (view)"') && graph.stdout.includes('"Summary (SQL resource)"'), graph.stdout);
  t.truthy(ids.get("plainView:positive"), graph.stdout);
  t.truthy(ids.get("sqlResource:Summary"), graph.stdout);
  t.true(graph.stdout.includes(`${ids.get("table:Readings")} --> ${ids.get("plainView:positive")}`), graph.stdout);
  t.true(graph.stdout.includes(`${ids.get("plainView:positive")} --> ${ids.get("sqlResource:Summary")}`), graph.stdout);
  t.true(graph.stdout.includes(`${ids.get("table:Readings")} --> ${ids.get("sqlResource:Store")}`), graph.stdout);
  const ls = JSON.parse((await runCli(dir, ["ls", "--json"])).stdout) as { declared: Record<string, Array<{ name: string; state?: string; live?: boolean }>> };
  t.deepEqual(ls.declared.plainViews?.map((v) => [v.name, v.state, v.live]), [["positive", "applied", true]]);
  t.deepEqual(ls.declared.sqlResources?.map((v) => [v.name, v.state]).sort(), [["Store", "new"], ["Summary", "applied"]]);
});

test("a hand-edited migration step is read like the code: deploy's guard refuses a setup that is not DDL, at the step's file:line", async (t) => {
  const resource: SqlResource = { name: "R", setup: ["INSERT INTO Users SELECT * FROM other"], teardown: [], pullsDataFrom: [], pushesDataTo: [] };
  const step = { step: { op: "createSqlResource" as const, args: [resource] }, origin: { file: "migrations/2099_x.ts", line: 12, column: 5 } };
  const error = await t.throwsAsync(guardMigrationSql([step], [{ kind: "sqlResource.create", resource }], "migrations/2099_x.ts", "x"));
  t.is((error as MooseError).code, "SQL_RESOURCE_STATEMENT");
  t.is((error as MooseError).located.split(": ClickHouse")[0], 'migrations/2099_x.ts:12:5: setup statement 1 of SqlResource R ("INSERT INTO Users SELECT * FROM other")');
});

test("a View or SqlResource built inside a function is NOT_STATIC, not silently left out", (t) => {
  const app = [
    'import { OlapTable, View, SqlResource, Key } from "@514labs/moose-lib";',
    "interface Row { id: Key<string> }",
    'export const users = new OlapTable<Row>("Users");',
    'export function make() { return [new View("v", "SELECT 1", []), new SqlResource("r", ["CREATE VIEW r1 AS SELECT 1"], ["DROP VIEW r1"])]; }',
  ].join("\n");
  const errors = errorsOf(() => extractApp({ projectDir: tempApp({ "app/index.ts": app }), mainFile: "app/index.ts" })).map((e) => `${e.code} ${e.located.split(" cannot")[0]}`);
  t.deepEqual(errors, ["NOT_STATIC app/index.ts:4:34: new View(...) inside a function", "NOT_STATIC app/index.ts:4:65: new SqlResource(...) inside a function"]);
});
