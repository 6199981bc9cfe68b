import test from "ava";
import { CHANGE_KINDS, PLANNER_CHANGE_KINDS, type Change, type ChangeKind } from "../lib/diff/change.js";
import { diff, type DiffOptions } from "../lib/diff/diff.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { canonicalJson, emptyInfraMap, hashKeepingEntries, knownEqualEntries, type InfraMap } from "../lib/model/infra-map.js";
import { api, infra, syncProcess, table, topic, view, workflow, withoutKeptPrimaryKeys } from "./helpers/model-builders.js";
import { mutateInfraMap, Random, randomInfraMap } from "./helpers/model-random.js";

const users = table("Users", [
  ["id", "String"],
  ["name", "String"],
  ["age", "UInt8"],
]);

interface Row {
  readonly name: string;
  readonly from: InfraMap;
  readonly to: InfraMap;
  readonly options?: DiffOptions;
  readonly expected: readonly Change[];
}

const rows: readonly Row[] = [
  {
    name: "table.create",
    from: infra(),
    to: infra({ tables: [users] }),
    expected: [{ kind: "table.create", table: users }],
  },
  {
    name: "table.drop",
    from: infra({ tables: [users] }),
    to: infra(),
    expected: [{ kind: "table.drop", table: users }],
  },
  {
    name: "table.rename with a hint, then the renamed table's own changes",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, name: "People", lifeCycle: "DELETION_PROTECTED" }] }),
    options: { renames: { tables: [{ from: "Users", to: "People" }] } },
    expected: [
      { kind: "table.rename", from: "Users", to: "People" },
      { kind: "table.setLifeCycle", table: "People", before: "FULLY_MANAGED", after: "DELETION_PROTECTED" },
    ],
  },
  {
    name: "without a hint a rename is a drop and a create",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, name: "People" }] }),
    expected: [
      { kind: "table.create", table: { ...users, name: "People" } },
      { kind: "table.drop", table: users },
    ],
  },
  {
    name: "table.addColumn after a column, and first",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, columns: [{ name: "tenant", type: "String" }, ...users.columns, { name: "email", type: "String", default: "''" }] }] }),
    expected: [
      { kind: "table.addColumn", table: "Users", column: { name: "tenant", type: "String" }, after: null },
      { kind: "table.addColumn", table: "Users", column: { name: "email", type: "String", default: "''" }, after: "age" },
    ],
  },
  {
    name: "table.dropColumn",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("Users", [["id", "String"], ["age", "UInt8"]])] }),
    expected: [{ kind: "table.dropColumn", table: "Users", column: { name: "name", type: "String" } }],
  },
  {
    name: "table.renameColumn with a hint, then its type change",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("Users", [["id", "String"], ["full_name", "LowCardinality(String)"], ["age", "UInt8"]])] }),
    options: { renames: { columns: [{ table: "Users", from: "name", to: "full_name" }] } },
    expected: [
      { kind: "table.renameColumn", table: "Users", from: "name", to: "full_name" },
      {
        kind: "table.modifyColumn",
        table: "Users",
        before: { name: "full_name", type: "String" },
        after: { name: "full_name", type: "LowCardinality(String)" },
      },
    ],
  },
  {
    name: "table.modifyColumn: type, and default only",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("Users", [["id", "String"], ["name", "String", "'anonymous'"], ["age", "UInt16"]])] }),
    expected: [
      { kind: "table.modifyColumn", table: "Users", before: { name: "name", type: "String" }, after: { name: "name", type: "String", default: "'anonymous'" } },
      { kind: "table.modifyColumn", table: "Users", before: { name: "age", type: "UInt8" }, after: { name: "age", type: "UInt16" } },
    ],
  },
  {
    name: "table.moveColumn moves the fewest columns",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("Users", [["age", "UInt8"], ["id", "String"], ["name", "String"]], { orderBy: ["id"] })] }),
    expected: [{ kind: "table.moveColumn", table: "Users", column: "age", after: null, before: "name" }],
  },
  {
    name: "table.setOrderBy",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, orderBy: ["id", "age"] }] }),
    expected: [{ kind: "table.setOrderBy", table: "Users", before: ["id"], after: ["id", "age"] }],
  },
  {
    name: "table.setEngine",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, engine: { kind: "ReplacingMergeTree", ver: "age" } }] }),
    expected: [{ kind: "table.setEngine", table: "Users", before: { kind: "MergeTree" }, after: { kind: "ReplacingMergeTree", ver: "age" } }],
  },
  {
    name: "table.setPartitionBy (added)",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, partitionBy: "age" }] }),
    expected: [{ kind: "table.setPartitionBy", table: "Users", after: "age" }],
  },
  {
    name: "table.setTtl (removed)",
    from: infra({ tables: [{ ...users, ttl: "ts + INTERVAL 1 DAY" }] }),
    to: infra({ tables: [users] }),
    expected: [{ kind: "table.setTtl", table: "Users", before: "ts + INTERVAL 1 DAY" }],
  },
  {
    name: "table.setSettings",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, settings: { index_granularity: "1024" } }] }),
    expected: [{ kind: "table.setSettings", table: "Users", before: {}, after: { index_granularity: "1024" } }],
  },
  {
    name: "table.setPrimaryKey",
    from: infra({ tables: [{ ...users, orderBy: ["id", "name"] }] }),
    to: infra({ tables: [{ ...users, orderBy: ["id", "name"], primaryKey: ["id"] }] }),
    expected: [{ kind: "table.setPrimaryKey", table: "Users", after: ["id"] }],
  },
  {
    name: "table.setSampleBy",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, sampleBy: "cityHash64(id)" }] }),
    expected: [{ kind: "table.setSampleBy", table: "Users", after: "cityHash64(id)" }],
  },
  {
    name: "table.setIndexes",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, indexes: [{ name: "i", expression: "name", type: "bloom_filter(0.01)", granularity: 4 }] }] }),
    expected: [{ kind: "table.setIndexes", table: "Users", before: [], after: [{ name: "i", expression: "name", type: "bloom_filter(0.01)", granularity: 4 }] }],
  },
  {
    name: "table.setConstraints",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, constraints: [{ name: "c", type: "CHECK", expression: "name != ''" }] }] }),
    expected: [{ kind: "table.setConstraints", table: "Users", before: [], after: [{ name: "c", type: "CHECK", expression: "name != ''" }] }],
  },
  {
    name: "table.setProjections",
    from: infra({ tables: [{ ...users, projections: [{ name: "p", body: "SELECT name, count() GROUP BY name" }] }] }),
    to: infra({ tables: [users] }),
    expected: [{ kind: "table.setProjections", table: "Users", before: [{ name: "p", body: "SELECT name, count() GROUP BY name" }], after: [] }],
  },
  {
    name: "table.setLifeCycle",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, lifeCycle: "EXTERNALLY_MANAGED" }] }),
    expected: [{ kind: "table.setLifeCycle", table: "Users", before: "FULLY_MANAGED", after: "EXTERNALLY_MANAGED" }],
  },
  {
    name: "view.create / view.drop / view.modify",
    from: infra({ views: [view("Old", ["A"], "B"), view("Daily", ["A"], "B")] }),
    to: infra({ views: [view("New", ["A"], "C"), view("Daily", ["A"], "B", { selectStatement: "SELECT 2" })] }),
    expected: [
      { kind: "view.modify", before: view("Daily", ["A"], "B"), after: view("Daily", ["A"], "B", { selectStatement: "SELECT 2" }) },
      { kind: "view.create", view: view("New", ["A"], "C") },
      { kind: "view.drop", view: view("Old", ["A"], "B") },
    ],
  },
  {
    name: "sqlResource.create / sqlResource.drop / sqlResource.modify",
    from: { ...infra({}), sqlResources: { Old: { name: "Old", setup: ["CREATE VIEW o AS SELECT 1"], teardown: ["DROP VIEW o"], pullsDataFrom: [], pushesDataTo: [] }, Kept: { name: "Kept", setup: ["CREATE VIEW k AS SELECT 1"], teardown: ["DROP VIEW k"], pullsDataFrom: [], pushesDataTo: [] } } },
    to: { ...infra({}), sqlResources: { New: { name: "New", setup: ["CREATE VIEW n AS SELECT 1"], teardown: ["DROP VIEW n"], pullsDataFrom: [], pushesDataTo: [] }, Kept: { name: "Kept", setup: ["CREATE VIEW k AS SELECT 2"], teardown: ["DROP VIEW k"], pullsDataFrom: [], pushesDataTo: [] } } },
    expected: [
      {
        kind: "sqlResource.modify",
        before: { name: "Kept", setup: ["CREATE VIEW k AS SELECT 1"], teardown: ["DROP VIEW k"], pullsDataFrom: [], pushesDataTo: [] },
        after: { name: "Kept", setup: ["CREATE VIEW k AS SELECT 2"], teardown: ["DROP VIEW k"], pullsDataFrom: [], pushesDataTo: [] },
      },
      { kind: "sqlResource.create", resource: { name: "New", setup: ["CREATE VIEW n AS SELECT 1"], teardown: ["DROP VIEW n"], pullsDataFrom: [], pushesDataTo: [] } },
      { kind: "sqlResource.drop", resource: { name: "Old", setup: ["CREATE VIEW o AS SELECT 1"], teardown: ["DROP VIEW o"], pullsDataFrom: [], pushesDataTo: [] } },
    ],
  },
  {
    name: "plainView.create / plainView.drop / plainView.modify (an app without views has no plainViews)",
    from: { ...infra({}), plainViews: { Old: { name: "Old", selectStatement: "SELECT 1", sourceTables: [] }, Daily: { name: "Daily", selectStatement: "SELECT 1 FROM A", sourceTables: ["A"] } } },
    to: { ...infra({}), plainViews: { New: { name: "New", selectStatement: "SELECT 3", sourceTables: [] }, Daily: { name: "Daily", selectStatement: "SELECT 2 FROM A", sourceTables: ["A"] } } },
    expected: [
      { kind: "plainView.modify", before: { name: "Daily", selectStatement: "SELECT 1 FROM A", sourceTables: ["A"] }, after: { name: "Daily", selectStatement: "SELECT 2 FROM A", sourceTables: ["A"] } },
      { kind: "plainView.create", view: { name: "New", selectStatement: "SELECT 3", sourceTables: [] } },
      { kind: "plainView.drop", view: { name: "Old", selectStatement: "SELECT 1", sourceTables: [] } },
    ],
  },
  {
    name: "topic.create / topic.drop / topic.modify",
    from: infra({ topics: [topic("Events"), topic("Gone")] }),
    to: infra({ topics: [topic("Events", { partitions: 4 }), topic("Clicks")] }),
    expected: [
      { kind: "topic.create", topic: topic("Clicks") },
      { kind: "topic.modify", before: topic("Events"), after: topic("Events", { partitions: 4 }) },
      { kind: "topic.drop", topic: topic("Gone") },
    ],
  },
  {
    name: "api.create / api.drop / api.modify",
    from: infra({ apis: [api("ingest/A"), api("ingest/B")] }),
    to: infra({ apis: [api("ingest/A", { version: "2" }), api("ingest/C")] }),
    expected: [
      { kind: "api.modify", before: api("ingest/A"), after: api("ingest/A", { version: "2" }) },
      { kind: "api.drop", api: api("ingest/B") },
      { kind: "api.create", api: api("ingest/C") },
    ],
  },
  {
    name: "workflow.create / workflow.drop / workflow.modify",
    from: infra({ workflows: [workflow("Backfill"), workflow("Cleanup")] }),
    to: infra({ workflows: [workflow("Backfill", { paused: true }), workflow("Report", { schedule: "@every 1h" })] }),
    expected: [
      { kind: "workflow.modify", before: workflow("Backfill"), after: workflow("Backfill", { paused: true }) },
      { kind: "workflow.drop", workflow: workflow("Cleanup") },
      { kind: "workflow.create", workflow: workflow("Report", { schedule: "@every 1h" }) },
    ],
  },
  {
    name: "process.create / process.drop / process.modify",
    from: infra({ processes: [syncProcess("P1", "T", "A"), syncProcess("P2", "T", "B")] }),
    to: infra({ processes: [syncProcess("P1", "T", "C"), syncProcess("P3", "U", "B")] }),
    expected: [
      { kind: "process.modify", before: syncProcess("P1", "T", "A"), after: syncProcess("P1", "T", "C") },
      { kind: "process.drop", process: syncProcess("P2", "T", "B") },
      { kind: "process.create", process: syncProcess("P3", "U", "B") },
    ],
  },
  {
    name: "components come in COMPONENT_KINDS order, then by name",
    from: infra(),
    to: infra({
      workflows: [workflow("W")],
      apis: [api("ingest/A")],
      processes: [syncProcess("P", "T", "B")],
      views: [view("V", ["B"], "C")],
      topics: [topic("T")],
      tables: [table("C", [["x", "String"]]), table("B", [["x", "String"]])],
    }),
    expected: [
      { kind: "table.create", table: table("B", [["x", "String"]]) },
      { kind: "table.create", table: table("C", [["x", "String"]]) },
      { kind: "topic.create", topic: topic("T") },
      { kind: "view.create", view: view("V", ["B"], "C") },
      { kind: "process.create", process: syncProcess("P", "T", "B") },
      { kind: "api.create", api: api("ingest/A") },
      { kind: "workflow.create", workflow: workflow("W") },
    ],
  },
  {
    name: "within a table: renames, drops, modifications, moves, adds, then table settings",
    from: infra({ tables: [table("T", [["a", "Int32"], ["b", "String"], ["c", "String"], ["d", "String"]], { ttl: "x" })] }),
    to: infra({
      tables: [table("T", [["new", "String"], ["d", "String"], ["a", "Int64"], ["bb", "String"]], { orderBy: ["new"], ttl: "y", engine: { kind: "AggregatingMergeTree" } })],
    }),
    options: { renames: { columns: [{ table: "T", from: "b", to: "bb" }] } },
    expected: [
      { kind: "table.renameColumn", table: "T", from: "b", to: "bb" },
      { kind: "table.dropColumn", table: "T", column: { name: "c", type: "String" } },
      { kind: "table.modifyColumn", table: "T", before: { name: "a", type: "Int32" }, after: { name: "a", type: "Int64" } },
      { kind: "table.moveColumn", table: "T", column: "d", after: null, before: "bb" },
      { kind: "table.addColumn", table: "T", column: { name: "new", type: "String" }, after: null },
      { kind: "table.setEngine", table: "T", before: { kind: "MergeTree" }, after: { kind: "AggregatingMergeTree" } },
      { kind: "table.setOrderBy", table: "T", before: ["a"], after: ["new"] },
      { kind: "table.setTtl", table: "T", before: "x", after: "y" },
    ],
  },
  {
    name: "a column hint may name the table by its old name when the table is renamed too",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("People", [["id", "String"], ["name", "String"], ["years", "UInt8"]])] }),
    options: { renames: { tables: [{ from: "Users", to: "People" }], columns: [{ table: "Users", from: "age", to: "years" }] } },
    expected: [
      { kind: "table.rename", from: "Users", to: "People" },
      { kind: "table.renameColumn", table: "People", from: "age", to: "years" },
    ],
  },
  {
    name: "a table may be renamed and a new one created under its old name",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, name: "People" }, table("Users", [["id", "UUID"]])] }),
    options: { renames: { tables: [{ from: "Users", to: "People" }] } },
    expected: [
      { kind: "table.rename", from: "Users", to: "People" },
      { kind: "table.create", table: table("Users", [["id", "UUID"]]) },
    ],
  },
  {
    name: "names that are Object.prototype members are ordinary names",
    from: infra({ tables: [table("constructor", [["x", "String"]])] }),
    to: infra({ tables: [table("toString", [["x", "String"]])] }),
    expected: [
      { kind: "table.drop", table: table("constructor", [["x", "String"]]) },
      { kind: "table.create", table: table("toString", [["x", "String"]]) },
    ],
  },
];

for (const row of rows) {
  test(`diff: ${row.name}`, (t) => {
    const changes = diff(row.from, row.to, row.options);
    t.deepEqual(changes, row.expected);
    t.is(canonicalJson(withoutKeptPrimaryKeys(applyChanges(row.from, changes), row.to)), canonicalJson(row.to));
    t.deepEqual(diff(row.to, row.to), []);
  });
}

test("diff: the table rows cover every change kind (but those only the planner writes)", (t) => {
  const covered = new Set<ChangeKind>([...rows.flatMap((r) => r.expected.map((c) => c.kind)), ...PLANNER_CHANGE_KINDS]);
  t.deepEqual(
    CHANGE_KINDS.filter((k) => !covered.has(k)),
    [],
  );
});

test("diff: the primary key an in-place ORDER BY extension leaves is no change when the declaration has none", (t) => {
  const extended = infra({ tables: [{ ...users, orderBy: ["id", "name"], primaryKey: ["id"] }] });
  t.deepEqual(diff(extended, infra({ tables: [{ ...users, orderBy: ["id", "name"] }] })), []);
  // What applyChanges records for the extension is that state.
  const before = infra({ tables: [{ ...users, orderBy: ["id"] }] });
  t.deepEqual(applyChanges(before, [{ kind: "table.setOrderBy", table: "Users", before: ["id"], after: ["id", "name"] }]), extended);
});

test("diff: of equal maps is empty, and of two empty maps too", (t) => {
  t.deepEqual(diff(emptyInfraMap(), emptyInfraMap()), []);
  const map = infra({ tables: [users], views: [view("V", ["Users"], "Out")], topics: [topic("T")] });
  t.deepEqual(diff(map, structuredClone(map)), []);
});

test("diff: settings and engine compare by content, not key order", (t) => {
  const a = infra({ tables: [{ ...users, settings: { a: "1", b: "2" }, engine: { kind: "ReplacingMergeTree", ver: "v", isDeleted: "d" } }] });
  const b = infra({ tables: [{ ...users, settings: { b: "2", a: "1" }, engine: { isDeleted: "d", ver: "v", kind: "ReplacingMergeTree" } }] });
  t.deepEqual(diff(a, b), []);
});

test("diff: is deterministic whatever the key order of the records", (t) => {
  const a = infra({ tables: [table("B", [["x", "String"]]), table("A", [["x", "String"]])], topics: [topic("Z"), topic("Y")] });
  const b = infra({ tables: [table("A", [["x", "String"]]), table("B", [["x", "String"]])], topics: [topic("Y"), topic("Z")] });
  t.deepEqual(diff(emptyInfraMap(), a), diff(emptyInfraMap(), b));
});

test("diff: does not modify its inputs", (t) => {
  const from = infra({ tables: [users] });
  const to = infra({ tables: [table("People", [["age", "UInt8"], ["id", "String"], ["full", "String"]])] });
  const before = [canonicalJson(from), canonicalJson(to)];
  diff(from, to, { renames: { tables: [{ from: "Users", to: "People" }], columns: [{ table: "People", from: "name", to: "full" }] } });
  t.deepEqual([canonicalJson(from), canonicalJson(to)], before);
});

const hintErrors: readonly { name: string; from: InfraMap; to: InfraMap; options: DiffOptions; message: string }[] = [
  {
    name: "table hint: from missing",
    from: infra(),
    to: infra({ tables: [users] }),
    options: { renames: { tables: [{ from: "Accounts", to: "Users" }] } },
    message: "table rename Accounts -> Users: there is no table Accounts in the current state",
  },
  {
    name: "table hint: to missing",
    from: infra({ tables: [users] }),
    to: infra(),
    options: { renames: { tables: [{ from: "Users", to: "People" }] } },
    message: "table rename Users -> People: there is no table People in the desired state",
  },
  {
    name: "table hint: to still exists",
    from: infra({ tables: [users, { ...users, name: "People" }] }),
    to: infra({ tables: [{ ...users, name: "People" }] }),
    options: { renames: { tables: [{ from: "Users", to: "People" }] } },
    message: "table rename Users -> People: a table People already exists in the current state",
  },
  {
    name: "table hint: twice the same source",
    from: infra({ tables: [users] }),
    to: infra({ tables: [{ ...users, name: "P" }, { ...users, name: "Q" }] }),
    options: { renames: { tables: [{ from: "Users", to: "P" }, { from: "Users", to: "Q" }] } },
    message: "table rename Users -> Q: table Users is renamed twice",
  },
  {
    name: "column hint: unknown table",
    from: infra({ tables: [users] }),
    to: infra({ tables: [users] }),
    options: { renames: { columns: [{ table: "Nope", from: "name", to: "full" }] } },
    message: "column rename Nope.name -> full: table Nope is not in both the current and the desired state",
  },
  {
    name: "column hint: from missing",
    from: infra({ tables: [users] }),
    to: infra({ tables: [users] }),
    options: { renames: { columns: [{ table: "Users", from: "email", to: "full" }] } },
    message: "column rename Users.email -> full: table Users has no column email in the current state",
  },
  {
    name: "column hint: to missing",
    from: infra({ tables: [users] }),
    to: infra({ tables: [users] }),
    options: { renames: { columns: [{ table: "Users", from: "name", to: "full" }] } },
    message: "column rename Users.name -> full: table Users has no column full in the desired state",
  },
  {
    name: "column hint: to still exists",
    from: infra({ tables: [users] }),
    to: infra({ tables: [table("Users", [["id", "String"], ["age", "UInt8"]])] }),
    options: { renames: { columns: [{ table: "Users", from: "name", to: "age" }] } },
    message: "column rename Users.name -> age: table Users already has a column age",
  },
];

for (const row of hintErrors) {
  test(`diff: rename hint error, ${row.name}`, (t) => {
    const error = t.throws(() => diff(row.from, row.to, row.options), { message: row.message });
    t.is((error as { code?: string } | undefined)?.code, "RENAME_HINT_INVALID");
  });
}

test("diff: property, applyChanges(a, diff(a, b)) is b and diff(b, b) is empty, for random pairs", (t) => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = new Random(seed);
    const a = randomInfraMap(r);
    const b = seed % 2 === 0 ? randomInfraMap(r) : mutateInfraMap(r, a).to;
    const changes = diff(a, b);
    const applied = applyChanges(a, changes);
    t.is(canonicalJson(withoutKeptPrimaryKeys(applied, b)), canonicalJson(b), `seed ${seed}`);
    t.deepEqual(diff(applied, b), [], `seed ${seed}: nothing left to do`);
    t.deepEqual(diff(b, b), [], `seed ${seed}`);
    t.deepEqual(diff(a, b), changes, `seed ${seed}: deterministic`);
  }
});

test("diff: property, maps hashed keeping their entries' texts (the planner's known-equal tables are skipped) diff as unhashed copies do, with and without hints", (t) => {
  let skipped = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const r = new Random(seed * 104729);
    const a = randomInfraMap(r);
    const { to: b, renames } = seed % 2 === 0 ? mutateInfraMap(r, a) : { to: randomInfraMap(r), renames: undefined };
    const options: DiffOptions = renames ? { renames } : {};
    // Plain copies share no object with a and b, so nothing is known of their entries.
    const expected = diff(structuredClone(a), structuredClone(b), options);
    hashKeepingEntries(a);
    hashKeepingEntries(b);
    skipped += Object.keys(b.tables).filter((n) => a.tables[n] !== undefined && knownEqualEntries(n, a.tables[n]!, b.tables[n]!) === true).length;
    t.deepEqual(diff(a, b, options), expected, `seed ${seed}`);
    // An equal copy of the current state, hashed too: every table is known equal, nothing to do.
    const same = structuredClone(a);
    hashKeepingEntries(same);
    t.true(Object.keys(a.tables).every((n) => knownEqualEntries(n, a.tables[n]!, same.tables[n]!) === true), `seed ${seed}: equal copies are known equal`);
    t.deepEqual(diff(a, same), [], `seed ${seed}: equal copies`);
  }
  t.true(skipped > 10, `the generator leaves some tables unchanged (${skipped} known equal)`);
});

test("diff: a table known equal by its entry text but renamed by a hint is still renamed", (t) => {
  const from = infra({ tables: [users] });
  const to = infra({ tables: [{ ...users, name: "People" }], views: [] });
  hashKeepingEntries(from);
  hashKeepingEntries(to);
  t.deepEqual(diff(from, to, { renames: { tables: [{ from: "Users", to: "People" }], columns: [] } }), [{ kind: "table.rename", from: "Users", to: "People" }]);
  const renamedColumn = infra({ tables: [{ ...users, columns: users.columns.map((c) => (c.name === "age" ? { ...c, name: "years" } : c)) }] });
  hashKeepingEntries(renamedColumn);
  t.deepEqual(diff(from, renamedColumn, { renames: { tables: [], columns: [{ table: "Users", from: "age", to: "years" }] } }), [{ kind: "table.renameColumn", table: "Users", from: "age", to: "years" }]);
});

test("diff: property, the same with rename hints", (t) => {
  let renamed = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const r = new Random(seed * 7919);
    const a = randomInfraMap(r);
    const { to: b, renames } = mutateInfraMap(r, a);
    const changes = diff(a, b, { renames });
    renamed += changes.filter((c) => c.kind === "table.rename" || c.kind === "table.renameColumn").length;
    t.is(canonicalJson(withoutKeptPrimaryKeys(applyChanges(a, changes), b)), canonicalJson(b), `seed ${seed}`);
    t.is(
      changes.filter((c) => c.kind === "table.rename" || c.kind === "table.renameColumn").length,
      renames.tables.length + renames.columns.length,
      `seed ${seed}: every hint is a rename`,
    );
  }
  t.true(renamed > 50, "the generator produces renames");
});
