import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { renderPlanText } from "../cli/present/plan-text.js";
import { diff } from "../lib/diff/diff.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { checkMapSql } from "../lib/engines/olap/statement-policy.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { liveDrift } from "../lib/migrations/apply/status.js";
import { renderMigration } from "../lib/migrations/files/render.js";
import { changeOf, stepOf } from "../lib/migrations/files/steps.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { canonicalJson, emptyInfraMap, hashInfraMap, type InfraMap, type PlainView } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { WorkingState } from "../lib/plan/working-state.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { applyToEngine, events, mapOf, totals, totalsView, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";

/**
 * moose-lib's `View` (a plain ClickHouse view) planned end to end: extracted, diffed,
 * ordered after what it reads, rendered as CREATE VIEW / DROP VIEW with reverses, run on
 * chDB and on ClickHouse 18.16, read back without drift. A map that declares no View
 * keeps the hash it had before plain views were modelled (ledgers record those hashes).
 */
const dataDir = mkdtempSync(join(tmpdir(), "moose-fidelity-views-"));
const engines: OlapEngine[] = [];

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

const recent: PlainView = { name: "recent", selectStatement: "SELECT id, v FROM events WHERE v > 0", sourceTables: ["events"] };
const top: PlainView = { name: "top_recent", selectStatement: "SELECT id FROM recent ORDER BY v DESC LIMIT 3", sourceTables: ["recent"] };
const withViews = (views: readonly PlainView[]): InfraMap => ({ ...mapOf([events, totals], [totalsView]), plainViews: Object.fromEntries(views.map((v) => [v.name, v])) });

test("a map without plain views hashes as before they were modelled (the hash main's build gave), also after a view came and went", (t) => {
  const map = mapOf([events, totals], [totalsView]);
  // Computed with the build of main before this change, for the same map.
  t.is(hashInfraMap(map), "sha256:74d9410f4d4117940e684029c1461f7e9e7b8d8e33d04017125b20ee16fe2c92");
  const legacy = { version: map.version, tables: map.tables, views: map.views, topics: map.topics, apis: map.apis, workflows: map.workflows, processes: map.processes };
  t.is(hashInfraMap(map), "sha256:" + createHash("sha256").update(canonicalJson(legacy)).digest("hex"));
  const back = applyChanges(map, [{ kind: "plainView.create", view: recent }, { kind: "plainView.drop", view: recent }]);
  t.false("plainViews" in back);
  t.is(hashInfraMap(back), hashInfraMap(map));
  const state = new WorkingState(map);
  state.apply({ kind: "plainView.create", view: recent });
  t.deepEqual(state.map.plainViews, { recent });
  state.apply({ kind: "plainView.drop", view: recent });
  t.false("plainViews" in state.map);
  t.is(hashInfraMap(state.map), hashInfraMap(map));
  t.is(hashInfraMap({ ...map, plainViews: {} }), hashInfraMap(map), "an empty collection written by hand hashes the same");
});

test("extraction reads new View(name, select, baseTables) as moose-lib declares it; an app without a View has no plainViews", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, View, Key, sql } from "@514labs/moose-lib";',
      "interface Row { id: Key<string>; v: number }",
      'export const events = new OlapTable<Row>("events", { orderByFields: ["id"] });',
      'export const recent = new View("recent", sql`SELECT id, v FROM ${events} WHERE v > 0`, [events]);',
      'export const top = new View("top_recent", "SELECT id FROM recent ORDER BY v DESC LIMIT 3", [recent]);',
    ].join("\n"),
  });
  const app = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.deepEqual(app.map.plainViews, {
    recent: { name: "recent", selectStatement: "SELECT id, v FROM `events` WHERE v > 0", sourceTables: ["events"] },
    top_recent: top,
  });
  t.deepEqual(app.warnings.filter((w) => w.includes("View")), []);
  const plainDir = tempApp({ "app/index.ts": 'import { OlapTable, Key } from "@514labs/moose-lib";\ninterface Row { id: Key<string> }\nexport const t = new OlapTable<Row>("t");' });
  t.false("plainViews" in extractApp({ projectDir: plainDir, mainFile: "app/index.ts" }).map);
});

test("extraction refuses a View reading what is not declared, or named like a table, naming file:line", (t) => {
  const header = ['import { OlapTable, View, Key } from "@514labs/moose-lib";', "interface Row { id: Key<string> }", 'export const events = new OlapTable<Row>("events");'];
  const errors = (line: string) => errorsOf(() => extractApp({ projectDir: tempApp({ "app/index.ts": [...header, line].join("\n") }), mainFile: "app/index.ts" })).map((e) => `${e.code} ${e.located}`);
  t.deepEqual(errors('export const bad = new View("bad", "SELECT 1", ["events"]);'), [
    "INVALID_CONFIG app/index.ts:4:48: baseTables must be an array of the OlapTables, MaterializedViews and Views the SELECT reads, as declared objects (not names)",
  ]);
  t.deepEqual(errors('export const clash = new View("events", "SELECT 1", []);'), [
    "DUPLICATE_NAME app/index.ts:4:22: view events has the name of a table: ClickHouse keeps both in one namespace",
  ]);
});

test("a View's SELECT goes through the statement checks of materialized views' SELECTs", async (t) => {
  const map: InfraMap = { ...emptyInfraMap(), plainViews: { sneaky: { name: "sneaky", selectStatement: "SELECT 1; DROP TABLE events", sourceTables: [] } } };
  const error = await t.throwsAsync(checkMapSql(map, () => ({ file: "app/index.ts", line: 7, column: 3 })));
  t.regex(error?.message ?? "", /the SELECT of view sneaky/);
});

test("plan: views after the tables and plain views they read, dropped before them; each step has its reverse", (t) => {
  const from = emptyInfraMap();
  const to = withViews([top, recent]);
  const steps = plan(diff(from, to), { from, to }).steps;
  t.deepEqual(
    steps.map((s) => `${s.change.kind} ${s.risk.code} reverse=${s.reverse?.kind}`),
    [
      "table.create ADD_OBJECT reverse=table.drop",
      "table.create ADD_OBJECT reverse=table.drop",
      "view.create ADD_OBJECT reverse=view.drop",
      "plainView.create ADD_OBJECT reverse=plainView.drop",
      "plainView.create ADD_OBJECT reverse=plainView.drop",
    ],
  );
  t.deepEqual(steps.filter((s) => s.change.kind === "plainView.create").map((s) => (s.change as { view: PlainView }).view.name), ["recent", "top_recent"]);
  const down = plan(diff(to, from), { from: to, to: from }).steps;
  t.deepEqual(down.map((s) => (s.change.kind.startsWith("plainView") ? `${s.change.kind} ${(s.change as { view: PlainView }).view.name}` : s.change.kind)).slice(0, 3), [
    "plainView.drop top_recent",
    "plainView.drop recent",
    "view.drop",
  ]);
  const text = renderPlanText(plan(diff(from, to), { from, to }));
  t.regex(text, /\+ recent \(View\)\n {2}\+ top_recent \(View\)/, text);
  const changed = withViews([recent, { ...top, selectStatement: "SELECT id FROM recent LIMIT 1" }]);
  const modify = plan(diff(withViews([recent, top]), changed), { from: withViews([recent, top]), to: changed }).steps;
  t.deepEqual(modify.map((s) => `${s.change.kind} ${s.risk.code} ${s.risk.losesData}`), ["plainView.modify MODIFY_PLAIN_VIEW false"]);
});

test("the migration file has createPlainView steps and their reverses, which read back as the same changes", (t) => {
  const from = mapOf([events, totals], [totalsView]);
  const to = withViews([recent]);
  const p = plan(diff(from, to), { from, to });
  const text = renderMigration({ id: "20991231000000_recent", plan: p, parent: hashInfraMap(from), result: hashInfraMap(to), toolVersion: "0.1.0-test" });
  t.true(text.includes("createPlainView({"), text);
  t.true(text.includes('dropPlainView("recent")'), text);
  const origin = { file: "m.ts", line: 1, column: 1 };
  t.deepEqual(changeOf(stepOf({ kind: "plainView.create", view: recent }, undefined), from, origin), { kind: "plainView.create", view: recent });
  t.deepEqual(changeOf(stepOf({ kind: "plainView.drop", view: recent }, undefined), to, origin), { kind: "plainView.drop", view: recent });
  const after = { ...recent, selectStatement: "SELECT 1" };
  t.deepEqual(changeOf(stepOf({ kind: "plainView.modify", before: recent, after }, undefined), to, origin), { kind: "plainView.modify", before: recent, after });
});

async function roundTrip(t: import("ava").ExecutionContext, engine: OlapEngine): Promise<void> {
  const base = mapOf([events, totals], [totalsView]);
  const from = emptyInfraMap();
  const to = withViews([top, recent]);
  const steps = plan(diff(from, to), { from, to }).steps.map((s) => s.change);
  const { expected, statements } = await applyToEngine(engine, from, steps);
  t.deepEqual(expected, to);
  t.true(statements.flat().includes(`CREATE VIEW \`${engine.database}\`.\`recent\`\nAS SELECT id, v FROM events WHERE v > 0`));
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 5, now()), (2, -1, now()), (3, 7, now())");
  t.deepEqual(await engine.query("SELECT id FROM top_recent ORDER BY id"), [{ id: "1" }, { id: "3" }]);

  const live = await engine.introspect();
  t.deepEqual(Object.keys(live.plainViews).sort(), ["recent", "top_recent"]);
  t.is(live.plainViews.recent?.selectStatement.replace(/\s+/g, " ").includes("FROM events"), true, live.plainViews.recent?.selectStatement);
  t.deepEqual(live.skipped, []);
  t.deepEqual(await liveDrift(to, engine), [], "no false drift");

  // A new SELECT: a drop and a create, and the reverse puts the old one back.
  const changed = withViews([top, { ...recent, selectStatement: "SELECT id, v FROM events WHERE v > 6" }]);
  const modify = plan(diff(to, changed), { from: to, to: changed }).steps;
  await applyToEngine(engine, to, modify.map((s) => s.change));
  t.deepEqual(await engine.query("SELECT id FROM top_recent ORDER BY id"), [{ id: "3" }]);
  t.deepEqual(await liveDrift(changed, engine), []);
  t.deepEqual(await liveDrift(to, engine), ["view recent runs another SELECT in the database than the migrations say"]);
  await applyToEngine(engine, changed, modify.map((s) => s.reverse!).reverse());
  t.deepEqual(await liveDrift(to, engine), []);

  // Dropped before the tables they read.
  const down = plan(diff(to, base), { from: to, to: base }).steps.map((s) => s.change);
  await applyToEngine(engine, to, down);
  t.deepEqual((await engine.introspect()).plainViews, {});
  t.deepEqual(await liveDrift(base, engine), []);
}

test("embedded: views are created after what they read, queried, read back with no drift, changed and dropped", async (t) => {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase("plain_views") });
  engines.push(engine);
  await roundTrip(t, engine);
});

const serverTest = process.env.CLICKHOUSE_URL ? test : test.skip;

serverTest("server 18.16: the same, with views dropped as tables (no DROP VIEW before 20.8)", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_plain_views"));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  await roundTrip(t, engine);
  t.false((await engine.capabilities()).dropView);
});
