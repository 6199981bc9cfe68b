import test from "ava";
import type { Change } from "../lib/diff/change.js";
import { diff } from "../lib/diff/diff.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { checkStatement, parseCheck } from "../lib/engines/olap/sql/checks.js";
import { typeChangeGuard } from "../lib/engines/olap/sql/columns.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { readMigrationText } from "../lib/migrations/files/read.js";
import { renderMigration } from "../lib/migrations/files/render.js";
import { replayMigrations } from "../lib/migrations/files/sequence.js";
import { changeOf, stepOf } from "../lib/migrations/files/steps.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { hashInfraMap, type MaterializedView, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { infra, table } from "./helpers/model-builders.js";

/** Pure tests of the new migration steps: builders, file round trip, rendering, and their SQL. */

const events: Table = table("Events", [["id", "UInt64"], ["ts", "DateTime"], ["v", "Float64"]]);
const totals: Table = table("Totals", [["id", "UInt64"], ["total", "Float64"]]);
const mv: MaterializedView = { name: "TotalsMv", selectStatement: "SELECT id, v AS total FROM Events", sourceTables: ["Events"], targetTable: "Totals", lifeCycle: "FULLY_MANAGED" };
const state = infra({ tables: [events, totals, table("Events_2", [["id", "UInt64"], ["v", "Float64"]])], views: [mv] });
const origin = { file: "m.ts", line: 1, column: 1 };

const roundTrips: ReadonlyArray<[string, Change]> = [
  ["rebuild keeping the old table", { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts", "id"], partitionBy: "toYYYYMM(ts)" }, keepOldAs: "Events__moose_old_1" }],
  ["rebuild dropping it", { kind: "table.rebuild", before: events, after: { ...events, engine: { kind: "ReplacingMergeTree", ver: "ts" } } }],
  ["backfill by conversion", { kind: "table.backfillColumn", table: "Events", column: "v", convertFrom: "id" }],
  ["backfill by expression", { kind: "table.backfillColumn", table: "Events", column: "v", expression: "id * 2" }],
  ["copy rows", { kind: "table.copyRows", from: "Events", to: "Events_2", columns: ["id", "v"] }],
  ["backfill a view", { kind: "view.backfill", view: mv }],
];

for (const [name, change] of roundTrips) {
  test(`steps: ${name} survives change → file step → change`, (t) => {
    t.deepEqual(changeOf(stepOf(change, undefined), state, origin), change);
  });
}

test("steps: a rebuild step names only what changes; removing a partition key is null", (t) => {
  const partitioned = { ...events, partitionBy: "toYYYYMM(ts)" };
  const change: Change = { kind: "table.rebuild", before: partitioned, after: events, keepOldAs: "K" };
  t.deepEqual(stepOf(change, undefined), { op: "rebuildTable", args: ["Events", { partitionBy: null }, { keepOldAs: "K" }] });
  t.deepEqual(changeOf(stepOf(change, undefined), infra({ tables: [partitioned] }), origin), change);
  t.deepEqual(stepOf({ kind: "table.rebuild", before: events, after: { ...events, orderBy: [] } }, false).args[2], { approveDataLoss: false });
});

test("steps: check and sql steps change no state; a malformed backfill names the accepted shapes", (t) => {
  t.is(changeOf({ op: "check", args: ["SELECT 1 AS problem WHERE 0", { message: "m" }] }, state, origin), null);
  t.throws(() => changeOf({ op: "backfillColumn", args: ["Events", "v", {}] }, state, origin), { message: /backfillColumn: argument 3 must be \{ convertFrom: "column" \} or \{ expression: "SQL" \}/ });
});

test("render: a migration with a rebuild, a guarded narrowing and a held change reads back and replays to its result", (t) => {
  const from = infra({ tables: [events, { ...table("Audit", [["id", "UInt64"]]), lifeCycle: "DELETION_PROTECTED" }] });
  const to = infra({ tables: [{ ...events, orderBy: ["ts", "id"], columns: [{ name: "id", type: "UInt64" }, { name: "ts", type: "DateTime" }, { name: "v", type: "Float32" }] }] });
  const p = plan(diff(from, to), { from, to, rebuildSuffix: "20261126031500" });
  t.deepEqual(p.held?.map((h) => h.change.kind), ["table.drop"]);
  const text = renderMigration({ id: "20261126031500_evolve", plan: p, parent: hashInfraMap(from), result: hashInfraMap(applyChanges(from, p.steps.map((s) => s.change))), toolVersion: "0.1.0" });
  t.snapshot(text, "rebuild, guarded narrowing, held drop");
  const file = readMigrationText(text, "20261126031500_evolve.ts", "/x/20261126031500_evolve.ts");
  t.deepEqual(file.up.map((s) => s.step.op), ["modifyColumn", "rebuildTable"]);
  t.is(replayMigrations([file], from).hash, file.result);
});

test("render: the safe type change pattern, with its comments", (t) => {
  const from = infra({ tables: [events] });
  const to = infra({ tables: [{ ...events, columns: [{ name: "id", type: "UInt64" }, { name: "ts", type: "DateTime" }, { name: "v", type: "Nullable(Int32)" }] }] });
  const p = plan(diff(from, to), { from, to, safeTypeChanges: true });
  const text = renderMigration({ id: "20261126031500_safe", plan: p, parent: hashInfraMap(from), result: hashInfraMap(applyChanges(from, p.steps.map((s) => s.change))), toolVersion: "0.1.0" });
  t.snapshot(text, "safe type change");
  const file = readMigrationText(text, "20261126031500_safe.ts", "/x/20261126031500_safe.ts");
  t.is(replayMigrations([file], from).hash, file.result);
});

// ---------------------------------------------------------------------------
// SQL

const modern = { database: "app", capabilities: capabilitiesFor("26.7.2.1"), state };
const old = { database: "app", capabilities: capabilitiesFor("18.16.1"), state };

test("sql: a rebuild copies into the name the old table ends under, checks rows and checksum, and EXCHANGEs last", (t) => {
  const change: Change = { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts", "id"] }, keepOldAs: "Events__moose_old_1" };
  const sql = statementsFor(change, modern);
  t.deepEqual(sql.map((s) => s.split("\n")[0]), [
    "DROP TABLE IF EXISTS `app`.`Events__moose_old_1`",
    "CREATE TABLE `app`.`Events__moose_old_1`",
    "INSERT INTO `app`.`Events__moose_old_1` (`id`, `ts`, `v`)",
    "-- moose:check the copy of Events does not hold the same rows; Events is unchanged",
    "EXCHANGE TABLES `app`.`Events` AND `app`.`Events__moose_old_1`",
  ]);
  t.regex(sql[3] ?? "", /sum\(cityHash64\(`id`, `ts`, `v`\)\)/);
  // Dropping the old table instead: staged under the rebuild name, dropped after the swap.
  const dropped = statementsFor({ ...change, keepOldAs: undefined } as Change, modern);
  t.is(dropped.at(-1), "DROP TABLE IF EXISTS `app`.`Events__moose_rebuild`");
  // Into a merging engine: nothing merges before the copy is counted.
  t.regex(statementsFor({ ...change, after: { ...events, engine: { kind: "ReplacingMergeTree" } } } as Change, modern)[2] ?? "", /SETTINGS optimize_on_insert = 0/);
});

test("sql: without EXCHANGE TABLES (18.16) a rebuild renames and re-points the views that read or write the table", (t) => {
  const change: Change = { kind: "table.rebuild", before: events, after: { ...events, orderBy: ["ts", "id"] }, keepOldAs: "Events__moose_old_1" };
  const sql = statementsFor(change, old);
  t.deepEqual(sql.slice(4).map((s) => s.split("\n")[0]), [
    "RENAME TABLE `app`.`Events` TO `app`.`Events__moose_old_1`, `app`.`Events__moose_rebuild` TO `app`.`Events`",
    "DROP TABLE IF EXISTS `app`.`TotalsMv`",
    "CREATE MATERIALIZED VIEW `app`.`TotalsMv` TO `app`.`Totals`",
  ]);
});

test("sql: a narrowing is guarded by a pre-flight check, or (approved) converts the rows that do not fit first", (t) => {
  const change: Change = { kind: "table.modifyColumn", table: "Events", before: { name: "v", type: "Nullable(Int64)" }, after: { name: "v", type: "Int8" } };
  const [check] = typeChangeGuard(change, modern, false);
  const parsed = parseCheck(check ?? "");
  t.truthy(parsed);
  t.regex(parsed!.message, /^pre-flight for changing Events\.v to Int8: nothing was changed/);
  t.regex(parsed!.query, /WHERE \(isNull\(`v`\) OR \(isNull\(accurateCastOrNull\(assumeNotNull\(`v`\), 'Int8'\)\) OR CAST\(assumeNotNull\(accurateCastOrNull\(assumeNotNull\(`v`\), 'Int8'\)\), 'Int64'\) != assumeNotNull\(`v`\)\)\)/);
  t.deepEqual(typeChangeGuard(change, modern, true), [
    "ALTER TABLE `app`.`Events` UPDATE `v` = CAST(accurateCastOrDefault(assumeNotNull(`v`), 'Int8'), 'Nullable(Int64)') WHERE (isNull(`v`) OR (isNull(accurateCastOrNull(assumeNotNull(`v`), 'Int8')) OR CAST(assumeNotNull(accurateCastOrNull(assumeNotNull(`v`), 'Int8')), 'Int64') != assumeNotNull(`v`))) SETTINGS mutations_sync = 2",
  ]);
  t.deepEqual(typeChangeGuard({ ...change, after: { name: "v", type: "Nullable(Int128)" } } as Change, modern, false), [], "a widening needs no guard");
  t.throws(() => typeChangeGuard(change, old, false), { message: /accurateCastOrNull/ });
});

test("sql: backfills, copies and views that store their own rows", (t) => {
  t.deepEqual(statementsFor({ kind: "table.backfillColumn", table: "Events", column: "v", convertFrom: "id" }, modern), [
    "ALTER TABLE `app`.`Events` UPDATE `v` = accurateCastOrDefault(`id`, 'Float64') WHERE 1 SETTINGS mutations_sync = 2",
  ]);
  const byExpression = statementsFor({ kind: "table.backfillColumn", table: "Events", column: "v", expression: "id * 2" }, modern);
  t.regex(byExpression[0] ?? "", /^-- moose:check the backfill expression for Events\.v fails on some row/);
  const copy = statementsFor({ kind: "table.copyRows", from: "Events", to: "Events_2", columns: ["id", "v"] }, modern);
  t.is(copy[1], "INSERT INTO `app`.`Events_2` (`id`, `v`)\nSELECT `id`, `v` FROM `app`.`Events`");
  t.deepEqual(statementsFor({ kind: "view.backfill", view: mv }, modern), ["INSERT INTO `app`.`Totals` (`id`, `total`)\nSELECT `id`, `total` FROM (\nSELECT id, v AS total FROM Events\n)"]);
  const inner: MaterializedView = { ...mv, name: "Counts", targetTable: "Counts", inner: { engine: { kind: "SummingMergeTree" }, orderBy: ["id"], partitionBy: "id % 4" } };
  t.deepEqual(statementsFor({ kind: "view.create", view: inner }, modern), [
    "CREATE MATERIALIZED VIEW `app`.`Counts`\nENGINE = SummingMergeTree\nPARTITION BY id % 4\nORDER BY `id`\nAS SELECT id, v AS total FROM Events",
  ]);
  t.deepEqual(statementsFor({ kind: "view.modify", before: inner, after: { ...inner, selectStatement: "SELECT 1 AS id" } }, modern).map((s) => s.split("\n")[0]), [
    "DROP VIEW `app`.`Counts`",
    "CREATE MATERIALIZED VIEW `app`.`Counts`",
  ]);
  t.deepEqual(parseCheck(checkStatement("SELECT 1", "multi\nline")), { message: "multi line", query: "SELECT 1" });
  t.is(parseCheck("SELECT 1"), undefined);
});

test("sql: RENAME COLUMN on a server older than 20.4 is refused before anything runs, with the way around it", (t) => {
  const error = t.throws(() => statementsFor({ kind: "table.renameColumn", table: "Events", from: "v", to: "value" }, old));
  t.is((error as { code?: string }).code, "UNSUPPORTED_BY_SERVER");
  t.regex(error!.message, /cannot rename column v of table Events to value: ClickHouse 18\.16\.1 does not support RENAME COLUMN \(ClickHouse 20\.4\+\)/);
});
