import test from "ava";
import type { Change } from "../lib/diff/change.js";
import { diff } from "../lib/diff/diff.js";
import { renameHints, similarity, suggestRenames } from "../lib/diff/rename-suggestions.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { canonicalJson, type Table } from "../lib/model/infra-map.js";
import { holdByLifeCycle } from "../lib/plan/life-cycle.js";
import { plan } from "../lib/plan/plan.js";
import { guardedByPreflight, needsApproval } from "../lib/plan/risk.js";
import { planAgainst } from "../lib/project/plan-project.js";
import { app } from "./helpers/evolve.js";
import { infra, table, view } from "./helpers/model-builders.js";

/** Pure tests of the planner's data-keeping rules: renames, rebuilds, life cycles, type changes. */

const users = table("Users", [
  ["id", "UInt64"],
  ["mail", "String"],
  ["age", "UInt8"],
]);

// ---------------------------------------------------------------------------
// Rename hints and suggestions

test("diff: a hint whose rename already happened is skipped, for tables and columns", (t) => {
  const renamed = table("Users", [["id", "UInt64"], ["email", "String"], ["age", "UInt8"]]);
  const current = infra({ tables: [{ ...renamed, name: "People" }] });
  const desired = infra({ tables: [{ ...renamed, name: "People" }] });
  t.deepEqual(diff(current, desired, { renames: { tables: [{ from: "Users", to: "People" }], columns: [{ table: "People", from: "mail", to: "email" }] } }), []);
  // Later, a new column takes the old name: the old hint must not turn it into a rename either.
  const withMail = infra({ tables: [{ ...renamed, name: "People", columns: [...renamed.columns, { name: "mail", type: "String" }] }] });
  t.deepEqual(diff(current, withMail, { renames: { columns: [{ table: "People", from: "mail", to: "email" }] } }), [
    { kind: "table.addColumn", table: "People", column: { name: "mail", type: "String" }, after: "age" },
  ]);
});

test("planAgainst: code hints naming objects the state never had are left out, not refused", (t) => {
  const fresh = planAgainst(app(infra({ tables: [users] }), { tables: [{ from: "Accounts", to: "Users" }], columns: [{ table: "Users", from: "e", to: "mail" }] }), infra(), { kind: "empty" });
  t.deepEqual(fresh.plan.steps.map((s) => s.change.kind), ["table.create"]);
  // Explicit hints (the command line) must fit.
  t.throws(() => planAgainst(app(infra({ tables: [users] })), infra(), { kind: "empty" }, { renames: { tables: [{ from: "Accounts", to: "Users" }] } }), {
    message: /table rename Accounts -> Users: there is no table Accounts in the current state/,
  });
});

test("suggestRenames: same type and a similar name, or the only pair of that type; tables with the same columns", (t) => {
  const from = infra({ tables: [users, table("Old", [["a", "String"]])] });
  const to = infra({ tables: [table("Users", [["id", "UInt64"], ["email", "String"], ["years", "UInt8"]]), table("New", [["a", "String"]])] });
  t.deepEqual(suggestRenames(diff(from, to)), [
    { kind: "table", from: "Old", to: "New" },
    { kind: "column", table: "Users", from: "mail", to: "email", type: "String" },
    { kind: "column", table: "Users", from: "age", to: "years", type: "UInt8" },
  ]);
  // Different types never pair; two candidates of one type pair only by similar names.
  const two = infra({ tables: [table("T", [["id", "UInt64"], ["a1", "String"], ["zz", "String"]])] });
  const twoTo = infra({ tables: [table("T", [["id", "UInt64"], ["a2", "String"], ["qq", "Int8"]])] });
  t.deepEqual(suggestRenames(diff(two, twoTo)), [{ kind: "column", table: "T", from: "a1", to: "a2", type: "String" }]);
  t.true(similarity("mail", "email") >= 0.5);
  t.true(similarity("name", "full_name") >= 0.5);
  t.true(similarity("price", "zone") < 0.5);
  t.deepEqual(renameHints([{ kind: "table", from: "A", to: "B" }], { columns: [{ table: "B", from: "x", to: "y" }] }), {
    tables: [{ from: "A", to: "B" }],
    columns: [{ table: "B", from: "x", to: "y" }],
  });
});

// ---------------------------------------------------------------------------
// Rebuilds

const events: Table = table("Events", [["id", "UInt64"], ["ts", "DateTime"], ["v", "Float64"]]);

test("plan: ORDER BY, engine and PARTITION BY changes of one table become one rebuild keeping the old table", (t) => {
  const from = infra({ tables: [events] });
  const after: Table = { ...events, orderBy: ["ts", "id"], engine: { kind: "ReplacingMergeTree", ver: "v" }, partitionBy: "toYYYYMM(ts)" };
  const to = infra({ tables: [after] });
  const { steps } = plan(diff(from, to), { from, to, rebuildSuffix: "20261126031500" });
  t.deepEqual(
    steps.map((s) => s.change),
    [{ kind: "table.rebuild", before: events, after, keepOldAs: "Events__moose_old_20261126031500" }],
  );
  t.is(steps[0]?.risk.code, "REBUILD_TABLE_LOSSY");
  t.is(canonicalJson(applyChanges(from, steps.map((s) => s.change))), canonicalJson(to));
});

test("plan: appending a new column to ORDER BY stays an ALTER; any other ORDER BY change is a rebuild after the column changes", (t) => {
  const from = infra({ tables: [events] });
  const appended = infra({ tables: [{ ...events, columns: [...events.columns, { name: "region", type: "String" }], orderBy: ["id", "region"] }] });
  t.deepEqual(plan(diff(from, appended), { from, to: appended }).steps.map((s) => s.change.kind), ["table.addColumn", "table.setOrderBy"]);
  const appendedExisting = infra({ tables: [{ ...events, orderBy: ["id", "ts"] }] });
  t.deepEqual(plan(diff(from, appendedExisting), { from, to: appendedExisting }).steps.map((s) => s.change.kind), ["table.rebuild"]);
  const trimmed = infra({ tables: [{ ...events, orderBy: [] }] });
  t.deepEqual(plan(diff(from, trimmed), { from, to: trimmed }).steps.map((s) => s.change.kind), ["table.rebuild"]);
  // Column changes run first: the rebuild copies between identical column sets.
  const both = infra({ tables: [{ ...events, columns: [...events.columns, { name: "k", type: "String" }], orderBy: ["ts"] }] });
  const p = plan(diff(from, both), { from, to: both });
  t.deepEqual(p.steps.map((s) => s.change.kind), ["table.addColumn", "table.rebuild"]);
  const rebuild = p.steps[1]?.change as Extract<Change, { kind: "table.rebuild" }>;
  t.deepEqual(rebuild.before.columns.map((c) => c.name), ["id", "ts", "v", "k"]);
  // Without the state there is no rebuild: the granular change stays (and the SQL layer refuses it).
  t.deepEqual(plan(diff(from, trimmed)).steps.map((s) => s.change.kind), ["table.setOrderBy"]);
});

test("rebuild risks: keeping the old table needs no approval, dropping it does", (t) => {
  const keep: Change = { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts"] }, keepOldAs: "K" };
  const drop: Change = { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts"] } };
  t.false(needsApproval(keep));
  t.true(needsApproval(drop));
});

// ---------------------------------------------------------------------------
// Life cycles

test("life cycles: protected objects take only additive changes, external ones none; the life cycle change itself passes", (t) => {
  const protectedUsers: Table = { ...users, lifeCycle: "DELETION_PROTECTED" };
  const from = infra({ tables: [protectedUsers] });
  const to = infra({
    tables: [{ ...protectedUsers, columns: [{ name: "id", type: "UInt64" }, { name: "mail", type: "String" }, { name: "age", type: "UInt16" }, { name: "note", type: "String" }], orderBy: ["mail"] }],
  });
  const { kept, held } = holdByLifeCycle(diff(from, to), from, to);
  t.deepEqual(kept.map((c) => c.kind), ["table.modifyColumn", "table.addColumn"]);
  t.deepEqual(held.map((h) => [h.change.kind, h.lifeCycle, h.wayForward]), [["table.setOrderBy", "DELETION_PROTECTED", "unprotect"]]);

  const dropped = holdByLifeCycle(diff(from, infra()), from, infra());
  t.deepEqual(dropped.held.map((h) => [h.change.kind, h.wayForward]), [["table.drop", "new-version"]]);

  const unprotect = infra({ tables: [{ ...users, lifeCycle: "FULLY_MANAGED", columns: users.columns.slice(0, 2) }] });
  const lifted = holdByLifeCycle(diff(from, unprotect), from, unprotect);
  // The stricter of the two applies: lifting the protection and dropping the column take two migrations.
  t.deepEqual(lifted.kept.map((c) => c.kind), ["table.setLifeCycle"]);
  t.deepEqual(lifted.held.map((h) => h.change.kind), ["table.dropColumn"]);

  const external: Table = { ...users, lifeCycle: "EXTERNALLY_MANAGED" };
  const ext = holdByLifeCycle(diff(infra(), infra({ tables: [external] })), infra(), infra({ tables: [external] }));
  t.deepEqual(ext.held.map((h) => [h.change.kind, h.wayForward]), [["table.create", "manage"]]);
});

test("plan: a held drop of a protected table with a new version declared copies its rows into it", (t) => {
  const audit: Table = { ...table("Audit", [["id", "UInt64"], ["who", "String"]]), lifeCycle: "DELETION_PROTECTED" };
  const v2: Table = { ...table("Audit_2_0", [["id", "UInt64"], ["who", "String"], ["at", "DateTime"]]), lifeCycle: "DELETION_PROTECTED" };
  const from = infra({ tables: [audit] });
  const to = infra({ tables: [v2] });
  const p = plan(diff(from, to), { from, to });
  t.deepEqual(p.steps.map((s) => s.change), [
    { kind: "table.create", table: v2 },
    { kind: "table.copyRows", from: "Audit", to: "Audit_2_0", columns: ["id", "who"] },
  ]);
  t.deepEqual(p.held?.map((h) => h.change.kind), ["table.drop"]);
});

// ---------------------------------------------------------------------------
// Type changes and views

test("type changes: narrowing a scalar is guarded by a pre-flight check (no approval); a composite one still needs approval", (t) => {
  const narrow: Change = { kind: "table.modifyColumn", table: "T", before: { name: "a", type: "Int64" }, after: { name: "a", type: "Int8" } };
  t.true(guardedByPreflight(narrow));
  t.false(needsApproval(narrow));
  const composite: Change = { kind: "table.modifyColumn", table: "T", before: { name: "a", type: "Array(Int64)" }, after: { name: "a", type: "Array(Int8)" } };
  t.false(guardedByPreflight(composite));
  t.true(needsApproval(composite));
  const widen: Change = { kind: "table.modifyColumn", table: "T", before: { name: "a", type: "Int8" }, after: { name: "a", type: "Int64" } };
  t.false(guardedByPreflight(widen));
});

test("plan: --safe-type-change writes new column, backfill, swap; applied, the old column stays beside the new one", (t) => {
  const from = infra({ tables: [users] });
  const to = infra({ tables: [{ ...users, columns: [{ name: "id", type: "UInt64" }, { name: "mail", type: "String" }, { name: "age", type: "Int8" }] }] });
  const p = plan(diff(from, to), { from, to, safeTypeChanges: true });
  t.deepEqual(p.steps.map((s) => s.change), [
    { kind: "table.addColumn", table: "Users", column: { name: "age__moose_new", type: "Int8" }, after: "age" },
    { kind: "table.backfillColumn", table: "Users", column: "age__moose_new", convertFrom: "age" },
    { kind: "table.renameColumn", table: "Users", from: "age", to: "age__moose_old" },
    { kind: "table.renameColumn", table: "Users", from: "age__moose_new", to: "age" },
  ]);
  const after = applyChanges(from, p.steps.map((s) => s.change));
  t.deepEqual(after.tables["Users"]?.columns.map((c) => `${c.name} ${c.type}`), ["id UInt64", "mail String", "age__moose_old UInt8", "age Int8"]);
});

test("plan: a view storing its own rows is re-created with an approval and backfilled; a new view only when asked", (t) => {
  const src = table("Src", [["id", "UInt64"]]);
  const inner = { ...view("Counts", ["Src"], "Counts"), inner: { engine: { kind: "MergeTree" as const }, orderBy: ["id"] } };
  const from = infra({ tables: [src], views: [inner] });
  const to = infra({ tables: [src], views: [{ ...inner, selectStatement: "SELECT id FROM Src WHERE id > 1" }] });
  t.deepEqual(plan(diff(from, to), { from, to }).steps.map((s) => [s.change.kind, s.risk.code]), [["view.modify", "RECREATE_VIEW_LOSSY"], ["view.backfill", "BACKFILL"]]);
  const created = infra({ tables: [src, table("Out", [["id", "UInt64"]])], views: [view("V", ["Src"], "Out")] });
  const base = infra({ tables: [src, table("Out", [["id", "UInt64"]])] });
  t.deepEqual(plan(diff(base, created), { from: base, to: created }).steps.map((s) => s.change.kind), ["view.create"]);
  t.deepEqual(plan(diff(base, created), { from: base, to: created, backfillNewViews: true }).steps.map((s) => s.change.kind), ["view.create", "view.backfill"]);
});
