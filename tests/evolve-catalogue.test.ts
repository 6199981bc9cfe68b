import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import type { Change } from "../lib/diff/change.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { runStatement } from "../lib/migrations/apply/execute.js";
import { MooseError } from "../lib/errors.js";
import { baselineDatabase } from "../lib/migrations/author/baseline.js";
import type { DeployReport } from "../lib/migrations/apply/deploy.js";
import { renderMigration } from "../lib/migrations/files/render.js";
import { emptyInfraMap, hashInfraMap, type InfraMap, type MaterializedView, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { app, EvolveProject, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";
import { uniqueDatabase } from "./helpers/olap-fixtures.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * The catalogue of schema changes on live data. Every scenario runs the real pipeline —
 * plan, migration file on disk, read back, deploy with the SQLite ledger — on embedded
 * ClickHouse with rows inserted before the change, and then either keeps every row
 * (same count, same checksum of the values) or is refused with a clear message until the
 * migration file approves the loss. chDB holds one data directory per process: every
 * scenario has its own database in it.
 */

const dataDir = mkdtempSync(join(tmpdir(), "moose-evolve-catalogue-"));
const opened: Array<{ close(): Promise<void> }> = [];

async function project(prefix: string): Promise<EvolveProject> {
  const olap = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
  const p = await EvolveProject.open(olap);
  opened.push(p, olap);
  return p;
}

test.after.always(async () => {
  for (const o of opened.reverse()) await o.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Generates and deploys `desired`, asserting it applied. */
async function ship(t: ExecutionContext, p: EvolveProject, desired: InfraMap, renames?: Parameters<EvolveProject["generate"]>[1]): Promise<string> {
  const g = p.generate(desired, renames);
  if (!g) throw new Error("nothing to generate");
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  return g.id;
}

function failure(report: DeployReport): { code?: string; error: string } {
  const failed = report.migrations.find((m) => m.status === "failed");
  if (!failed || failed.status !== "failed") throw new Error(`no failed migration in ${JSON.stringify(report.migrations)}`);
  return { ...(failed.code ? { code: failed.code } : {}), error: failed.error };
}

async function refusal(t: ExecutionContext, work: Promise<unknown>): Promise<MooseError> {
  const error = await t.throwsAsync(work);
  if (!(error instanceof MooseError)) throw error ?? new Error("did not throw");
  return error;
}

const users = table(
  "Users",
  [
    ["id", "UInt64"],
    ["mail", "String"],
    ["name", "String"],
  ],
  { orderBy: ["id"] },
);

async function seedUsers(t: ExecutionContext, p: EvolveProject): Promise<void> {
  await ship(t, p, infra({ tables: [users] }));
  await p.olap.insertJsonRows("Users", [
    { id: 1, mail: "ada@example.com", name: "Ada" },
    { id: 2, mail: "bob@example.com", name: "Bob" },
    { id: 3, mail: "cy@example.com", name: "Cy" },
  ]);
}

// ---------------------------------------------------------------------------
// 1. Renames

test("rename a column: a hint in code gives RENAME COLUMN; every value stays; the hint is ignored once applied", async (t) => {
  const p = await project("rename_col");
  await seedUsers(t, p);
  const before = await fingerprint(p.olap, "Users", ["id", "mail", "name"]);
  const renamed = infra({ tables: [table("Users", [["id", "UInt64"], ["email", "String"], ["name", "String"]], { orderBy: ["id"] })] });

  // Without the hint it is a drop and an add, and the plan suggests the rename.
  const unhinted = p.plan(renamed);
  t.deepEqual(unhinted.plan.steps.map((s) => s.change.kind), ["table.dropColumn", "table.addColumn"]);
  t.deepEqual(unhinted.suggestions, [{ kind: "column", table: "Users", from: "mail", to: "email", type: "String" }]);

  const hint = { columns: [{ table: "Users", from: "mail", to: "email" }] };
  const g = p.generate(renamed, hint);
  t.regex(g!.text, /renameColumn\("Users", "mail", "email"\)/);
  t.notRegex(g!.text, /dropColumn/);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Users", ["id", "email", "name"]), before);
  t.deepEqual(await p.drift(), []);
  // The hint stays in the code: planned again, it is a rename that already happened.
  t.deepEqual(p.plan(renamed, hint).plan.steps, []);
});

test("rename a table: renamedFrom gives RENAME TABLE; every row stays; replaying the files is stable", async (t) => {
  const p = await project("rename_table");
  await seedUsers(t, p);
  const before = await fingerprint(p.olap, "Users", ["id", "mail", "name"]);
  const people = infra({ tables: [{ ...users, name: "People" }] });
  t.deepEqual(p.plan(people).suggestions, [{ kind: "table", from: "Users", to: "People" }]);
  const hint = { tables: [{ from: "Users", to: "People" }] };
  const g = p.generate(people, hint);
  t.regex(g!.text, /renameTable\("Users", "People"\)/);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "People", ["id", "mail", "name"]), before);
  t.deepEqual(p.plan(people, hint).plan.steps, []);
  t.deepEqual(await p.drift(), []);
});

// ---------------------------------------------------------------------------
// 2. Type changes

test("widen types: Int32→Int64, Float32→Float64, T→Nullable(T), String→LowCardinality(String), a new enum value: MODIFY COLUMN, no approval, every value kept", async (t) => {
  const p = await project("widen");
  const narrow = table("Metrics", [
    ["id", "UInt64"],
    ["count", "Int32"],
    ["ratio", "Float32"],
    ["note", "String"],
    ["region", "String"],
    ["kind", "Enum8('a' = 1, 'b' = 2)"],
  ]);
  await ship(t, p, infra({ tables: [narrow] }));
  await p.olap.insertJsonRows("Metrics", [
    { id: 1, count: 2147483647, ratio: 0.5, note: "x", region: "eu", kind: "a" },
    { id: 2, count: -5, ratio: 1.25, note: "", region: "us", kind: "b" },
  ]);
  const columns = ["id", "count", "ratio", "note", "region", "kind"];
  const before = await fingerprint(p.olap, "Metrics", columns);
  const wide = table("Metrics", [
    ["id", "UInt64"],
    ["count", "Int64"],
    ["ratio", "Float64"],
    ["note", "Nullable(String)"],
    ["region", "LowCardinality(String)"],
    ["kind", "Enum8('a' = 1, 'b' = 2, 'c' = 3)"],
  ]);
  const g = p.generate(infra({ tables: [wide] }));
  t.deepEqual(g!.report.plan.steps.map((s) => s.risk.code), ["WIDEN_TYPE", "WIDEN_TYPE", "WIDEN_TYPE", "WIDEN_TYPE", "WIDEN_TYPE"]);
  t.notRegex(g!.text, /approveDataLoss/);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Metrics", columns), before);
  t.deepEqual(await p.drift(), []);
});

test("narrow a type with rows that do not convert: the pre-flight check stops the step with the count and examples; approving converts them", async (t) => {
  const p = await project("narrow");
  const wide = table("Scores", [["id", "UInt64"], ["score", "Int64"]]);
  await ship(t, p, infra({ tables: [wide] }));
  await p.olap.insertJsonRows("Scores", [
    { id: 1, score: 5 },
    { id: 2, score: 300 },
    { id: 3, score: -1000 },
  ]);
  const before = await fingerprint(p.olap, "Scores", ["id", "score"]);
  const g = p.generate(infra({ tables: [{ ...wide, columns: [{ name: "id", type: "UInt64" }, { name: "score", type: "Int8" }] }] }));
  t.is(g!.report.plan.steps[0]?.risk.code, "LOSSY_TYPE_CHANGE");
  t.regex(g!.text, /pre-flight/);
  t.regex(g!.text, /modifyColumn\("Scores", \{ name: "score", type: "Int8" \}, \{ approveDataLoss: false \}\)/);

  const refused = await p.deploy();
  t.false(refused.ok);
  const { code, error } = failure(refused);
  t.is(code, "CHECK_FAILED");
  t.regex(error, /2 row\(s\) of Scores\.score would not convert from Int64 to Int8 unchanged, e\.g\. (300, -1000|-1000, 300)/);
  t.regex(error, /nothing was changed/);
  t.deepEqual(await fingerprint(p.olap, "Scores", ["id", "score"]), before, "nothing changed");
  const [type] = await p.olap.query<{ type: string }>(`SELECT type FROM system.columns WHERE database = '${p.olap.database}' AND table = 'Scores' AND name = 'score'`);
  t.is(type?.type, "Int64");

  // The reviewer approves in the file: the stopped migration changed nothing, so it may be edited.
  p.approve(g!.id);
  t.true((await p.deploy()).ok);
  t.deepEqual(await p.olap.query("SELECT toString(id) AS id, score FROM Scores ORDER BY id"), [
    { id: "1", score: 5 },
    { id: "2", score: 0 },
    { id: "3", score: 0 },
  ]);
  t.deepEqual(await p.drift(), []);
});

test("narrow a type whose rows all convert: the pre-flight check passes and no approval is needed", async (t) => {
  const p = await project("narrow_ok");
  const wide = table("Scores", [["id", "UInt64"], ["score", "Nullable(Int64)"]]);
  await ship(t, p, infra({ tables: [wide] }));
  await p.olap.insertJsonRows("Scores", [{ id: 1, score: 5 }, { id: 2, score: null }, { id: 3, score: -100 }]);
  const before = await fingerprint(p.olap, "Scores", ["id", "score"]);
  p.generate(infra({ tables: [{ ...wide, columns: [{ name: "id", type: "UInt64" }, { name: "score", type: "Nullable(Int8)" }] }] }));
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Scores", ["id", "score"]), before);
});

test("narrow a type with the safe pattern (--safe-type-change): new column, backfill by conversion, swap; the old values stay", async (t) => {
  const p = await project("narrow_safe");
  const wide = table("Scores", [["id", "UInt64"], ["score", "Int64"]]);
  await ship(t, p, infra({ tables: [wide] }));
  await p.olap.insertJsonRows("Scores", [{ id: 1, score: 5 }, { id: 2, score: 300 }]);
  const before = await fingerprint(p.olap, "Scores", ["id", "score"]);
  const narrow = infra({ tables: [{ ...wide, columns: [{ name: "id", type: "UInt64" }, { name: "score", type: "Nullable(Int8)" }] }] });
  const g = p.generate(narrow, undefined, { safeTypeChanges: true });
  t.deepEqual(g!.report.plan.steps.map((s) => s.change.kind), ["table.addColumn", "table.backfillColumn", "table.renameColumn", "table.renameColumn"]);
  t.regex(g!.text, /backfillColumn\("Scores", "score__moose_new", \{ convertFrom: "score" \}\)/);
  t.true((await p.deploy()).ok);
  // Every original value is still there, under the kept column.
  t.deepEqual(await fingerprint(p.olap, "Scores", ["id", "score__moose_old"]), before);
  t.deepEqual(await p.olap.query("SELECT toString(id) AS id, score FROM Scores ORDER BY id"), [
    { id: "1", score: 5 },
    { id: "2", score: null },
  ]);
  // The next plan proposes dropping the kept column, which needs an approval like any drop.
  const next = p.plan(narrow);
  t.deepEqual(next.plan.steps.map((s) => [s.change.kind, s.risk.code]), [["table.dropColumn", "DROP_COLUMN"]]);
});

// ---------------------------------------------------------------------------
// 3. Changes ClickHouse cannot ALTER: rebuilds

const events = table(
  "Events",
  [
    ["id", "UInt64"],
    ["ts", "DateTime('UTC')"],
    ["v", "Float64"],
  ],
  { orderBy: ["id"] },
);
const eventRows = [
  { id: 1, ts: "2026-01-01T00:00:00Z", v: 1.5 },
  { id: 2, ts: "2026-01-02T00:00:00Z", v: 2.5 },
  { id: 3, ts: "2026-01-01T12:00:00Z", v: -1 },
];
const totals = table("Totals", [["id", "UInt64"], ["total", "Float64"]]);
const totalsView: MaterializedView = {
  name: "TotalsMv",
  selectStatement: "SELECT id, v * 2 AS total FROM Events",
  sourceTables: ["Events"],
  targetTable: "Totals",
  lifeCycle: "FULLY_MANAGED",
};

test("change ORDER BY: a rebuild copies, verifies and swaps; every row kept, the old table kept, a dependent view keeps working", async (t) => {
  const p = await project("order_by");
  await ship(t, p, infra({ tables: [events, totals], views: [totalsView] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);
  const g = p.generate(infra({ tables: [{ ...events, orderBy: ["ts", "id"] }, totals], views: [totalsView] }));
  t.deepEqual(g!.report.plan.steps.map((s) => [s.change.kind, s.risk.code]), [["table.rebuild", "REBUILD_TABLE"]]);
  const kept = `Events__moose_old_${g!.id.slice(0, 14)}`;
  t.regex(g!.text, new RegExp(`rebuildTable\\("Events", \\{ orderBy: \\["ts", "id"\\] \\}, \\{ keepOldAs: "${kept}" \\}\\)`));
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  t.deepEqual(await fingerprint(p.olap, kept, ["id", "ts", "v"]), before, "the previous table is kept");
  const [row] = await p.olap.query<{ sorting_key: string }>(`SELECT sorting_key FROM system.tables WHERE database = '${p.olap.database}' AND name = 'Events'`);
  t.is(row?.sorting_key, "ts, id");
  await p.olap.insertJsonRows("Events", [{ id: 9, ts: "2026-02-01T00:00:00Z", v: 10 }]);
  t.deepEqual(await p.olap.query("SELECT total FROM Totals WHERE id = 9"), [{ total: 20 }]);
  t.deepEqual(await p.drift(), [], "the kept table is not drift");
});

test("a rebuild is safe to run again: a copy a failed attempt left behind is rebuilt from scratch", async (t) => {
  const p = await project("rebuild_rerun");
  await ship(t, p, infra({ tables: [events] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);
  const g = p.generate(infra({ tables: [{ ...events, orderBy: ["ts"] }] }));
  const kept = `Events__moose_old_${g!.id.slice(0, 14)}`;
  // What a run that died after a partial copy leaves: the copy, with the wrong rows.
  await p.olap.execute(`CREATE TABLE \`${kept}\` (id UInt64, ts DateTime('UTC'), v Float64) ENGINE = MergeTree ORDER BY ts`);
  await p.olap.insertJsonRows(kept, [{ id: 1, ts: "2026-01-01T00:00:00Z", v: 1.5 }]);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  t.deepEqual(await fingerprint(p.olap, kept, ["id", "ts", "v"]), before);
});

test("a rebuild without EXCHANGE TABLES (RENAME fallback) re-points the views that read and write the table", async (t) => {
  const p = await project("rebuild_rename");
  const raw = table("Raw", [["id", "UInt64"], ["ts", "DateTime('UTC')"], ["v", "Float64"]]);
  const feed: MaterializedView = { name: "FeedMv", selectStatement: "SELECT id, ts, v FROM Raw", sourceTables: ["Raw"], targetTable: "Events", lifeCycle: "FULLY_MANAGED" };
  const map = infra({ tables: [events, totals, raw], views: [totalsView, feed] });
  await ship(t, p, map);
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);
  // The server adapter's view of an Ordinary database: no EXCHANGE, so names are swapped with RENAME.
  const capabilities = capabilitiesFor(await p.olap.version(), { databaseEngine: "Ordinary" });
  const change: Change = { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts", "id"] }, keepOldAs: "Events__moose_old_x" };
  const sql = statementsFor(change, { database: p.olap.database, capabilities, state: map });
  t.true(sql.some((s) => s.startsWith("RENAME TABLE")));
  for (const s of sql) await runStatement(p.olap, s);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  await p.olap.insertJsonRows("Events", [{ id: 9, ts: "2026-02-01T00:00:00Z", v: 10 }]);
  t.deepEqual(await p.olap.query("SELECT total FROM Totals WHERE id = 9"), [{ total: 20 }], "the view reading the table follows it");
  await p.olap.insertJsonRows("Raw", [{ id: 10, ts: "2026-02-02T00:00:00Z", v: 1 }]);
  t.deepEqual(await p.olap.query("SELECT toString(count()) AS n FROM Events WHERE id = 10"), [{ n: "1" }], "the view writing into it follows it");
  t.deepEqual(await p.olap.query("SELECT toString(count()) AS n FROM Events__moose_old_x WHERE id IN (9, 10)"), [{ n: "0" }]);
});

test("change the engine: a rebuild into a merging engine needs an approval; approved, every row is copied and verified", async (t) => {
  const p = await project("engine");
  await ship(t, p, infra({ tables: [events] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);
  const g = p.generate(infra({ tables: [{ ...events, engine: { kind: "ReplacingMergeTree", ver: "ts" } }] }));
  t.is(g!.report.plan.steps[0]?.risk.code, "REBUILD_TABLE_LOSSY");
  const refused = await refusal(t, p.deploy());
  t.is(refused.code, "DESTRUCTIVE_NOT_APPROVED");
  t.regex(refused.details.join("\n"), /rebuildTable\("Events", …\) rebuilds the table with an engine or sorting key under which rows that were distinct may merge/);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  p.approve(g!.id);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  const [row] = await p.olap.query<{ engine: string }>(`SELECT engine FROM system.tables WHERE database = '${p.olap.database}' AND name = 'Events'`);
  t.is(row?.engine, "ReplacingMergeTree");
  t.deepEqual(await p.drift(), []);
});

test("change PARTITION BY and drop the old table: dropping it is an approval in the file", async (t) => {
  const p = await project("partition");
  await ship(t, p, infra({ tables: [events] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);
  const g = p.generate(infra({ tables: [{ ...events, partitionBy: "toYYYYMM(ts)" }] }));
  const kept = `Events__moose_old_${g!.id.slice(0, 14)}`;
  // The reviewer chooses to drop the previous table instead of keeping it.
  p.edit(g!.id, `{ keepOldAs: "${kept}" }`, "{ approveDataLoss: false }");
  t.is((await refusal(t, p.deploy())).code, "DESTRUCTIVE_NOT_APPROVED");
  p.approve(g!.id);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  t.deepEqual(await p.olap.query(`SELECT name FROM system.tables WHERE database = '${p.olap.database}' AND name LIKE 'Events%' ORDER BY name`), [{ name: "Events" }]);
});

// ---------------------------------------------------------------------------
// 4. Materialized views

test("change an MV query writing TO a table: ALTER … MODIFY QUERY; the target keeps its rows, new rows use the new query", async (t) => {
  const p = await project("mv_to");
  await ship(t, p, infra({ tables: [events, totals], views: [totalsView] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Totals", ["id", "total"]);
  t.is(before.rows, 3);
  const changed = { ...totalsView, selectStatement: "SELECT id, v * 3 AS total FROM Events" };
  const g = p.generate(infra({ tables: [events, totals], views: [changed] }));
  t.deepEqual(g!.report.plan.steps.map((s) => s.risk.code), ["MODIFY_VIEW"]);
  const report = await p.deploy();
  t.true(report.ok);
  const steps = await p.ledger.steps(g!.id);
  t.regex(steps[0]?.statements[0] ?? "", /^ALTER TABLE `[^`]+`\.`TotalsMv` MODIFY QUERY/);
  t.deepEqual(await fingerprint(p.olap, "Totals", ["id", "total"]), before);
  await p.olap.insertJsonRows("Events", [{ id: 7, ts: "2026-03-01T00:00:00Z", v: 1 }]);
  t.deepEqual(await p.olap.query("SELECT total FROM Totals WHERE id = 7"), [{ total: 3 }]);
});

test("change an MV query with an inner table: re-created and backfilled, only with an approval (its stored rows go with it)", async (t) => {
  const p = await project("mv_inner");
  const daily: MaterializedView = {
    name: "DailyCounts",
    selectStatement: "SELECT toDate(ts) AS day, count() AS n FROM Events GROUP BY day",
    sourceTables: ["Events"],
    targetTable: "DailyCounts",
    lifeCycle: "FULLY_MANAGED",
    inner: { engine: { kind: "SummingMergeTree" }, orderBy: ["day"] },
  };
  await ship(t, p, infra({ tables: [events], views: [daily] }));
  await p.olap.insertJsonRows("Events", eventRows);
  t.deepEqual(await p.drift(), [], "a view with inner storage introspects back as declared");
  const changed = { ...daily, selectStatement: "SELECT toDate(ts) AS day, countIf(v > 0) AS n FROM Events GROUP BY day" };
  const g = p.generate(infra({ tables: [events], views: [changed] }));
  t.deepEqual(g!.report.plan.steps.map((s) => [s.change.kind, s.risk.code]), [["view.modify", "RECREATE_VIEW_LOSSY"], ["view.backfill", "BACKFILL"]]);
  const refused = await refusal(t, p.deploy());
  t.is(refused.code, "DESTRUCTIVE_NOT_APPROVED");
  t.regex(refused.details.join("\n"), /modifyView\("DailyCounts", …\) re-creates a materialized view that stores its own rows/);
  p.approve(g!.id);
  t.true((await p.deploy()).ok);
  // The rows are recomputed from the source with the new query: the same as running it.
  const expected = await p.olap.query("SELECT toString(day) AS day, toString(n) AS n FROM (SELECT toDate(ts) AS day, countIf(v > 0) AS n FROM Events GROUP BY day) ORDER BY day");
  t.deepEqual(await p.olap.query("SELECT toString(day) AS day, toString(sum(n)) AS n FROM DailyCounts GROUP BY day ORDER BY day"), expected);
  t.deepEqual(await p.drift(), []);
});

test("a new view can be backfilled from the rows its sources hold (--backfill-views)", async (t) => {
  const p = await project("mv_backfill");
  await ship(t, p, infra({ tables: [events, totals] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const g = p.generate(infra({ tables: [events, totals], views: [totalsView] }), undefined, { backfillNewViews: true });
  t.deepEqual(g!.report.plan.steps.map((s) => s.change.kind), ["view.create", "view.backfill"]);
  t.true((await p.deploy()).ok);
  t.deepEqual(await p.olap.query("SELECT toString(id) AS id, total FROM Totals ORDER BY id"), [
    { id: "1", total: 3 },
    { id: "2", total: 5 },
    { id: "3", total: -2 },
  ]);
});

// ---------------------------------------------------------------------------
// Drops

test("drop a column: refused (nothing applied) until the file approves it; approved, the column goes and every row stays", async (t) => {
  const p = await project("drop_col");
  await seedUsers(t, p);
  const before = await fingerprint(p.olap, "Users", ["id", "name"]);
  const all = await fingerprint(p.olap, "Users", ["id", "mail", "name"]);
  const g = p.generate(infra({ tables: [table("Users", [["id", "UInt64"], ["name", "String"]], { orderBy: ["id"] })] }));
  t.regex(g!.text, /dropColumn\("Users", "mail", \{ approveDataLoss: false \}\)/);
  const refused = await refusal(t, p.deploy());
  t.is(refused.code, "DESTRUCTIVE_NOT_APPROVED");
  t.regex(refused.message, /would lose data and does not approve it; nothing of it was applied/);
  t.deepEqual(await fingerprint(p.olap, "Users", ["id", "mail", "name"]), all, "nothing was applied");
  t.is((await p.olap.query(`SELECT name FROM system.columns WHERE database = '${p.olap.database}' AND table = 'Users' AND name = 'mail'`)).length, 1);
  p.approve(g!.id);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Users", ["id", "name"]), before);
  t.is((await p.olap.query(`SELECT name FROM system.columns WHERE database = '${p.olap.database}' AND table = 'Users' AND name = 'mail'`)).length, 0);
});

test("drop a protected table: held back with the way forward; a new version of it gets its rows copied, the old one stays", async (t) => {
  const p = await project("protected");
  const audit: Table = { ...table("Audit", [["id", "UInt64"], ["who", "String"]]), lifeCycle: "DELETION_PROTECTED" };
  await ship(t, p, infra({ tables: [audit] }));
  await p.olap.insertJsonRows("Audit", [{ id: 1, who: "ada" }, { id: 2, who: "bob" }]);
  const before = await fingerprint(p.olap, "Audit", ["id", "who"]);

  // Removing it from the code plans nothing: the drop is held back, with the way forward.
  const removed = p.plan(emptyInfraMap());
  t.deepEqual(removed.plan.steps, []);
  t.deepEqual(removed.plan.held?.map((h) => [h.change.kind, h.lifeCycle, h.wayForward]), [["table.drop", "DELETION_PROTECTED", "new-version"]]);
  t.is(p.generate(emptyInfraMap()), undefined);

  // Changing a column is held too; a new version of the table is the way forward.
  const v2: Table = { ...table("Audit_2", [["id", "UInt64"], ["who", "String"], ["at", "DateTime('UTC')"]]), lifeCycle: "DELETION_PROTECTED" };
  const g = p.generate(infra({ tables: [v2] }));
  t.deepEqual(g!.report.plan.steps.map((s) => s.change.kind), ["table.create", "table.copyRows"]);
  t.regex(g!.text, /Held back by life cycles/);
  t.regex(g!.text, /copyRows\("Audit", "Audit_2", \["id", "who"\]\)/);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Audit_2", ["id", "who"]), before);
  t.deepEqual(await fingerprint(p.olap, "Audit", ["id", "who"]), before, "the protected table stays");

  // A hand-written drop of the protected table is refused at deploy, approved or not.
  const state = p.state();
  const { Audit: _dropped, ...rest } = state.tables;
  void _dropped;
  const text = renderMigration({ id: "20991231000000_drop_audit", plan: plan([{ kind: "table.drop", table: audit }]), parent: hashInfraMap(state), result: hashInfraMap({ ...state, tables: rest }), toolVersion: "0.1.0-test" });
  writeFileSync(join(p.migrationsDir, "20991231000000_drop_audit.ts"), text.replace("approveDataLoss: false", "approveDataLoss: true"));
  const refused = await refusal(t, p.deploy());
  t.is(refused.code, "LIFECYCLE_PROTECTED");
  t.regex(refused.details.join("\n"), /dropTable\("Audit", …\) on Audit, which is DELETION_PROTECTED/);
  t.deepEqual(await fingerprint(p.olap, "Audit", ["id", "who"]), before);
});

test("an externally managed table is never touched", async (t) => {
  const p = await project("external");
  await p.olap.execute("CREATE TABLE Ext (id UInt64) ENGINE = MergeTree ORDER BY id");
  const ext: Table = { ...table("Ext", [["id", "UInt64"], ["extra", "String"]]), lifeCycle: "EXTERNALLY_MANAGED" };
  const report = p.plan(infra({ tables: [ext] }));
  t.deepEqual(report.plan.steps, []);
  t.deepEqual(report.plan.held?.map((h) => [h.change.kind, h.wayForward]), [["table.create", "manage"]]);
});

// ---------------------------------------------------------------------------
// 6. Baseline and rollback

test("baseline an existing database: the declared objects are adopted as applied; later migrations replay from it and keep the rows", async (t) => {
  const p = await project("baseline");
  // Made before moose: a table like the code's, one that differs, and one the code does not declare.
  await p.olap.execute("CREATE TABLE Users (id UInt64, mail String, name String) ENGINE = MergeTree ORDER BY id");
  await p.olap.execute("CREATE TABLE Events (id UInt64, ts DateTime('UTC')) ENGINE = MergeTree ORDER BY id");
  await p.olap.execute("CREATE TABLE Legacy (x String) ENGINE = MergeTree ORDER BY x");
  await p.olap.insertJsonRows("Users", [{ id: 1, mail: "a@x", name: "A" }]);
  await p.olap.insertJsonRows("Events", eventRows.map(({ id, ts }) => ({ id, ts })));
  const code = infra({ tables: [users, events, table("Fresh", [["id", "UInt64"]])] });

  const result = await baselineDatabase(p.config(), app(code), p.ledger, p.olap, { toolVersion: "0.1.0-test", now: new Date(Date.UTC(2026, 0, 1)) });
  t.deepEqual(result.adopted, ["tables:Events", "tables:Users"]);
  t.deepEqual(result.differing, ["tables:Events"]);
  t.deepEqual(result.missing, ["tables:Fresh"]);
  t.deepEqual(result.undeclared, ["tables:Legacy"]);
  t.deepEqual((await p.ledger.list()).map((r) => [r.id, r.status]), [[result.id, "applied"]]);
  t.regex(p.read(result.id), /down: null/);
  t.deepEqual(await p.drift(), ["table Legacy exists in the database but no applied migration creates it"], "the baseline records the declared objects as they are");

  const before = await fingerprint(p.olap, "Events", ["id", "ts"]);
  const next = p.generate(code);
  t.deepEqual(next!.report.plan.steps.map((s) => s.change.kind), ["table.create", "table.addColumn"]);
  t.true((await p.deploy()).ok);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts"]), before);
  t.deepEqual(await p.drift(), ["table Legacy exists in the database but no applied migration creates it"]);

  // Baselining twice is refused.
  t.is((await refusal(t, baselineDatabase(p.config(), app(code), p.ledger, p.olap, { toolVersion: "0.1.0-test" }))).code, "BASELINE_NOT_FIRST");
});

test("roll back: reverse steps undo a migration (the ledger forgets it); a rebuild rolls back keeping every row; an irreversible step is refused by name", async (t) => {
  const p = await project("rollback");
  await ship(t, p, infra({ tables: [events, totals] }));
  await p.olap.insertJsonRows("Events", eventRows);
  const before = await fingerprint(p.olap, "Events", ["id", "ts", "v"]);

  // A column and an ORDER BY change, then undone.
  const changed = infra({ tables: [{ ...events, orderBy: ["ts", "id"], columns: [...events.columns, { name: "note", type: "Nullable(String)" }] }, totals] });
  const second = await ship(t, p, changed);
  const undone = await p.rollback();
  t.true(undone.ok, JSON.stringify(undone.migrations));
  t.deepEqual(undone.migrations.map((m) => [m.id, m.status]), [[second, "rolled-back"]]);
  t.false((await p.ledger.list()).some((r) => r.id === second));
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);
  const [key] = await p.olap.query<{ sorting_key: string }>(`SELECT sorting_key FROM system.tables WHERE database = '${p.olap.database}' AND name = 'Events'`);
  t.is(key?.sorting_key, "id");
  t.is((await p.olap.query(`SELECT name FROM system.columns WHERE database = '${p.olap.database}' AND table = 'Events' AND name = 'note'`)).length, 0);

  // The file is pending again; deploy re-applies it, and rolling back to the first migration undoes it again.
  t.true((await p.deploy()).ok);
  const first = p.migrationIds()[0]!;
  t.deepEqual((await p.rollback(first)).migrations.map((m) => m.status), ["rolled-back"]);
  t.deepEqual(await fingerprint(p.olap, "Events", ["id", "ts", "v"]), before);

  // A backfill cannot be undone: refused, naming the step, and nothing is rolled back.
  const { rmSync: rm } = await import("node:fs");
  rm(join(p.migrationsDir, `${second}.ts`));
  const backfilled = p.generate(infra({ tables: [events, totals], views: [totalsView] }), undefined, { backfillNewViews: true });
  t.true((await p.deploy()).ok);
  const refused = await refusal(t, p.rollback());
  t.is(refused.code, "ROLLBACK_IRREVERSIBLE");
  t.regex(refused.message, /step 2 backfillView\("TotalsMv"\) at line \d+ inserted rows into Totals that cannot be told apart from the others/);
  t.true((await p.ledger.list()).some((r) => r.id === backfilled!.id && r.status === "applied"));
});
