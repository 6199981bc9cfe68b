import test from "ava";
import type { Change } from "../lib/diff/change.js";
import { applyChange, applyChanges } from "../lib/model/apply-change.js";
import { canonicalJson, hashInfraMap, hashKeepingEntries, infraMapHasher, knownEqualEntries, type InfraMap, type Table } from "../lib/model/infra-map.js";
import { api, infra, syncProcess, table, topic, view, workflow } from "./helpers/model-builders.js";

const users = table("Users", [
  ["id", "String"],
  ["name", "String"],
  ["age", "UInt8"],
]);
const base = infra({
  tables: [users],
  views: [view("V", ["Users"], "Out")],
  topics: [topic("T")],
  apis: [api("ingest/A")],
  workflows: [workflow("W")],
  processes: [syncProcess("P", "T", "Users")],
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const columnsOf = (map: InfraMap, name: string) => map.tables[name]?.columns.map((c) => c.name);

test("applyChange: adds a column after another, or first", (t) => {
  const after = applyChange(base, { kind: "table.addColumn", table: "Users", column: { name: "email", type: "String" }, after: "id" });
  t.deepEqual(columnsOf(after, "Users"), ["id", "email", "name", "age"]);
  const first = applyChange(base, { kind: "table.addColumn", table: "Users", column: { name: "tenant", type: "String" }, after: null });
  t.deepEqual(columnsOf(first, "Users"), ["tenant", "id", "name", "age"]);
});

test("applyChange: moves a column", (t) => {
  const moved = applyChange(base, { kind: "table.moveColumn", table: "Users", column: "id", after: "age", before: null });
  t.deepEqual(columnsOf(moved, "Users"), ["name", "age", "id"]);
  const back = applyChange(moved, { kind: "table.moveColumn", table: "Users", column: "id", after: null, before: "age" });
  t.is(canonicalJson(back), canonicalJson(base));
});

test("applyChange: renames a table and keeps its contents", (t) => {
  const renamed = applyChange(base, { kind: "table.rename", from: "Users", to: "People" });
  t.deepEqual(Object.keys(renamed.tables), ["People"]);
  t.deepEqual(renamed.tables.People, { ...users, name: "People" });
});

test("applyChange: removing a TTL or PARTITION BY leaves the member out", (t) => {
  const withTtl = applyChange(base, { kind: "table.setTtl", table: "Users", after: "ts + INTERVAL 1 DAY" });
  t.is(withTtl.tables.Users?.ttl, "ts + INTERVAL 1 DAY");
  const without = applyChange(withTtl, { kind: "table.setTtl", table: "Users", before: "ts + INTERVAL 1 DAY" });
  t.false("ttl" in (without.tables.Users ?? {}));
  const partitioned = applyChange(base, { kind: "table.setPartitionBy", table: "Users", after: "age" });
  t.false("partitionBy" in (applyChange(partitioned, { kind: "table.setPartitionBy", table: "Users", before: "age" }).tables.Users ?? {}));
});

test("applyChange: is pure, the input map is never modified", (t) => {
  const frozen = deepFreeze(structuredClone(base));
  const changes: Change[] = [
    { kind: "table.addColumn", table: "Users", column: { name: "x", type: "String" }, after: null },
    { kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } },
    { kind: "table.renameColumn", table: "Users", from: "name", to: "full" },
    { kind: "table.modifyColumn", table: "Users", before: { name: "id", type: "String" }, after: { name: "id", type: "UUID" } },
    { kind: "table.moveColumn", table: "Users", column: "x", after: "id", before: null },
    { kind: "table.setSettings", table: "Users", before: {}, after: { a: "1" } },
    { kind: "table.rename", from: "Users", to: "People" },
    { kind: "view.drop", view: view("V", ["Users"], "Out") },
    { kind: "topic.modify", before: topic("T"), after: topic("T", { partitions: 3 }) },
    { kind: "api.create", api: api("ingest/B") },
    { kind: "workflow.drop", workflow: workflow("W") },
    { kind: "process.modify", before: syncProcess("P", "T", "Users"), after: syncProcess("P", "T", "People") },
  ];
  const result = applyChanges(frozen, changes);
  t.is(canonicalJson(frozen), canonicalJson(base));
  t.deepEqual(columnsOf(result, "People"), ["id", "x", "full"]);
});

test("infraMapHasher: the hash of every state of a replay is hashInfraMap's, with entries reused, renamed, replaced and removed", (t) => {
  const changes: Change[] = [
    { kind: "table.create", table: table("Orders", [["id", "String"]]) },
    { kind: "table.addColumn", table: "Users", column: { name: "x", type: "String" }, after: null },
    { kind: "table.addColumn", table: "Orders", column: { name: "total", type: "Float64", default: "0" }, after: "id" },
    { kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } },
    { kind: "table.renameColumn", table: "Users", from: "name", to: "full" },
    { kind: "table.setSettings", table: "Users", before: {}, after: { a: "1" } },
    { kind: "table.rename", from: "Users", to: "People" },
    { kind: "table.rename", from: "People", to: "Users" },
    { kind: "view.drop", view: view("V", ["Users"], "Out") },
    { kind: "topic.modify", before: topic("T"), after: topic("T", { partitions: 3 }) },
    { kind: "api.create", api: api("ingest/B") },
    { kind: "workflow.drop", workflow: workflow("W") },
    { kind: "process.modify", before: syncProcess("P", "T", "Users"), after: syncProcess("P", "T", "Orders") },
    { kind: "table.drop", table: table("Orders", [["id", "String"], ["total", "Float64"]]) },
  ];
  const hash = infraMapHasher();
  let state: InfraMap = base;
  t.is(hash(state), hashInfraMap(state));
  for (const change of changes) {
    state = applyChange(state, change);
    t.is(hash(state), hashInfraMap(state), change.kind);
  }
  // Shapes it leaves to hashInfraMap: no plain views (left out of the text), names JSON treats specially, unsorted or undefined members.
  t.is(hash({ ...state, plainViews: {} }), hashInfraMap(state));
  t.is(hash({ ...state, sqlResources: {} }), hashInfraMap(state));
  const odd = JSON.parse(`{"__proto__": ${JSON.stringify(users)}, "toJSON": ${JSON.stringify(users)}, "é": ${JSON.stringify(users)}}`) as InfraMap["tables"];
  t.is(hash({ ...state, tables: odd }), hashInfraMap({ ...state, tables: odd }));
  t.is(hash({ ...state, tables: { Z: users, A: { ...users, ttl: undefined } } }), hashInfraMap({ ...state, tables: { A: users, Z: users } }));
  // The same entry object under another key is written with that key.
  t.is(hash({ ...state, tables: { Other: users } }), hashInfraMap({ ...state, tables: { Other: users } }));
});

test("hashKeepingEntries: hashInfraMap's hash; knownEqualEntries answers only for entries it hashed, under their own key", (t) => {
  const a: InfraMap = { ...base, tables: { ...base.tables, Orders: table("Orders", [["id", "String"]]) } };
  const b: InfraMap = structuredClone(a);
  const c: InfraMap = applyChange(b, { kind: "table.addColumn", table: "Orders", column: { name: "total", type: "Float64" }, after: "id" });
  t.is(knownEqualEntries("Orders", a.tables["Orders"]!, b.tables["Orders"]!), undefined, "nothing hashed yet");
  t.true(knownEqualEntries("Orders", a.tables["Orders"]!, a.tables["Orders"]!), "the same object");
  for (const map of [a, b, c]) t.is(hashKeepingEntries(map), hashInfraMap(map));
  t.true(knownEqualEntries("Orders", a.tables["Orders"]!, b.tables["Orders"]!), "equal copies");
  t.false(knownEqualEntries("Orders", a.tables["Orders"]!, c.tables["Orders"]!), "a column more");
  t.true(knownEqualEntries("Users", a.tables["Users"]!, c.tables["Users"]!), "left alone by the change");
  t.is(knownEqualEntries("Other", a.tables["Orders"]!, b.tables["Orders"]!), undefined, "hashed under another key");
  // Members left out of the text (undefined) and key order do not make entries differ.
  const reordered = { ...a, tables: { ...a.tables, Orders: { ttl: undefined, ...Object.fromEntries(Object.entries(a.tables["Orders"]!).reverse()) } as Table } };
  t.is(hashKeepingEntries(reordered), hashInfraMap(a));
  t.true(knownEqualEntries("Orders", a.tables["Orders"]!, reordered.tables["Orders"]!));
  // A map the hasher leaves to hashInfraMap (an odd name) keeps no texts, and still hashes the same.
  const odd = { ...a, tables: { ...a.tables, "7": table("7", [["id", "String"]]) } };
  t.is(hashKeepingEntries(odd), hashInfraMap(odd));
  t.is(knownEqualEntries("7", odd.tables["7"]!, structuredClone(odd.tables["7"]!)), undefined);
});

test("infraMapHasher: tables added one, a few and many at a time, out of order, with names that sort first or that JS orders by number, hash as hashInfraMap does", (t) => {
  const hash = infraMapHasher();
  let state: InfraMap = base;
  const add = (...names: string[]): void => {
    for (const name of names) state = applyChange(state, { kind: "table.create", table: table(name, [["id", "String"]]) });
    t.is(hash(state), hashInfraMap(state), names.join(","));
  };
  add("T5");
  add("T50");
  add("T10", "A", "T9", "Zz");
  add("a", "_", "T500", "T499");
  add(...Array.from({ length: 12 }, (_, i) => `Many${11 - i}`));
  // Integer-like names come first in Object.keys whenever they are added; sorted as text all the same.
  add("42", "7");
  add("T51");
  // The same keys in another order, and fewer keys.
  const reversed = Object.fromEntries(Object.entries(state.tables).reverse());
  t.is(hash({ ...state, tables: reversed }), hashInfraMap(state));
  const { T50: _gone, ...fewer } = state.tables;
  t.is(hash({ ...state, tables: fewer }), hashInfraMap({ ...state, tables: fewer }));
  t.is(hash(state), hashInfraMap(state));
});

test("infraMapHasher: a long replay (texts of many hashing checkpoints) with tables added, changed and dropped anywhere hashes as hashInfraMap does", (t) => {
  const hash = infraMapHasher();
  const wide = (name: string, extra = 0): Table => table(name, Array.from({ length: 12 + extra }, (_, c) => [c === 0 ? "id" : `column_${c}`, c % 2 ? "String" : "Float64"] as [string, string]));
  let state: InfraMap = base;
  // A fixed shuffle: every new name lands somewhere else among the sorted ones.
  const names = Array.from({ length: 300 }, (_, i) => `T${(i * 7919) % 300}`);
  let checked = 0;
  const check = (what: string): void => {
    if (hash(state) !== hashInfraMap(state)) t.fail(what);
    checked++;
  };
  for (const [i, name] of names.entries()) {
    state = applyChange(state, { kind: "table.create", table: wide(name) });
    check(`create ${name}`);
    if (i % 37 === 36) {
      const victim = names[Math.floor(i / 2)]!;
      state = applyChange(state, { kind: "table.addColumn", table: victim, column: { name: `x${i}`, type: "String" }, after: null });
      check(`addColumn ${victim}`);
    }
    if (i % 53 === 52) {
      const victim = names[Math.floor(i / 3)]!;
      if (state.tables[victim]) {
        state = applyChange(state, { kind: "table.drop", table: state.tables[victim]! });
        check(`drop ${victim}`);
        state = applyChange(state, { kind: "table.create", table: wide(victim, 1) });
        check(`re-create ${victim}`);
      }
    }
  }
  // The text spans several checkpoints (one every 32 KiB of it).
  t.true(canonicalJson(state).length > 4 * 32 * 1024);
  t.true(checked > 300);
  // Back to a state seen before, and to the empty map.
  t.is(hash(base), hashInfraMap(base));
  t.is(hash(state), hashInfraMap(state));
});

const errors: readonly { change: Change; message: string }[] = [
  { change: { kind: "table.create", table: users }, message: "cannot create table Users: it already exists" },
  { change: { kind: "table.drop", table: table("Nope", []) }, message: "cannot drop table Nope: there is no table Nope" },
  { change: { kind: "table.rename", from: "Nope", to: "X" }, message: "cannot rename table Nope to X: there is no table Nope" },
  {
    change: { kind: "table.addColumn", table: "Users", column: { name: "age", type: "UInt16" }, after: "name" },
    message: "cannot add column age to table Users: it already has a column age",
  },
  {
    change: { kind: "table.addColumn", table: "Nope", column: { name: "age", type: "UInt16" }, after: null },
    message: "cannot add column age to table Nope: there is no table Nope",
  },
  {
    change: { kind: "table.addColumn", table: "Users", column: { name: "email", type: "String" }, after: "mail" },
    message: "cannot add column email to table Users: it has no column mail to put it after",
  },
  {
    change: { kind: "table.dropColumn", table: "Users", column: { name: "email", type: "String" } },
    message: "cannot drop column email from table Users: it has no column email",
  },
  {
    change: { kind: "table.renameColumn", table: "Users", from: "email", to: "mail" },
    message: "cannot rename column email to mail in table Users: it has no column email",
  },
  {
    change: { kind: "table.renameColumn", table: "Users", from: "name", to: "age" },
    message: "cannot rename column name to age in table Users: it already has a column age",
  },
  {
    change: { kind: "table.modifyColumn", table: "Users", before: { name: "email", type: "String" }, after: { name: "email", type: "UUID" } },
    message: "cannot modify column email of table Users: it has no column email",
  },
  {
    change: { kind: "table.modifyColumn", table: "Users", before: { name: "name", type: "String" }, after: { name: "full", type: "String" } },
    message: "cannot modify column name of table Users: the change would rename it to full; renames are table.renameColumn changes",
  },
  {
    change: { kind: "table.moveColumn", table: "Users", column: "email", after: null, before: "id" },
    message: "cannot move column email of table Users: it has no column email",
  },
  {
    change: { kind: "table.moveColumn", table: "Users", column: "id", after: "mail", before: null },
    message: "cannot move column id of table Users: it has no column mail to put it after",
  },
  {
    change: { kind: "table.moveColumn", table: "Users", column: "id", after: "id", before: null },
    message: "cannot move column id of table Users: a column cannot follow itself",
  },
  { change: { kind: "table.setOrderBy", table: "Nope", before: [], after: ["id"] }, message: "cannot change the ORDER BY of table Nope: there is no table Nope" },
  { change: { kind: "table.setEngine", table: "Nope", before: { kind: "MergeTree" }, after: { kind: "MergeTree" } }, message: "cannot change the engine of table Nope: there is no table Nope" },
  { change: { kind: "table.setPartitionBy", table: "Nope" }, message: "cannot change the PARTITION BY of table Nope: there is no table Nope" },
  { change: { kind: "table.setTtl", table: "Nope" }, message: "cannot change the TTL of table Nope: there is no table Nope" },
  { change: { kind: "table.setSettings", table: "Nope", before: {}, after: {} }, message: "cannot change the settings of table Nope: there is no table Nope" },
  {
    change: { kind: "table.setLifeCycle", table: "Nope", before: "FULLY_MANAGED", after: "DELETION_PROTECTED" },
    message: "cannot change the life cycle of table Nope: there is no table Nope",
  },
  { change: { kind: "view.create", view: view("V", [], "X") }, message: "cannot create materialized view V: it already exists" },
  { change: { kind: "view.drop", view: view("Nope", [], "X") }, message: "cannot drop materialized view Nope: there is no materialized view Nope" },
  {
    change: { kind: "view.modify", before: view("Nope", [], "X"), after: view("Nope", [], "Y") },
    message: "cannot modify materialized view Nope: there is no materialized view Nope",
  },
  {
    change: { kind: "view.modify", before: view("V", ["Users"], "Out"), after: view("W", ["Users"], "Out") },
    message: "cannot modify materialized view V: the change would rename it to W",
  },
  { change: { kind: "topic.create", topic: topic("T") }, message: "cannot create topic T: it already exists" },
  { change: { kind: "topic.drop", topic: topic("Nope") }, message: "cannot drop topic Nope: there is no topic Nope" },
  { change: { kind: "topic.modify", before: topic("Nope"), after: topic("Nope") }, message: "cannot modify topic Nope: there is no topic Nope" },
  { change: { kind: "api.create", api: api("ingest/A") }, message: "cannot create API endpoint ingest/A: it already exists" },
  { change: { kind: "api.drop", api: api("nope") }, message: "cannot drop API endpoint nope: there is no API endpoint nope" },
  { change: { kind: "api.modify", before: api("nope"), after: api("nope") }, message: "cannot modify API endpoint nope: there is no API endpoint nope" },
  { change: { kind: "workflow.create", workflow: workflow("W") }, message: "cannot create workflow W: it already exists" },
  { change: { kind: "workflow.drop", workflow: workflow("Nope") }, message: "cannot drop workflow Nope: there is no workflow Nope" },
  { change: { kind: "workflow.modify", before: workflow("Nope"), after: workflow("Nope") }, message: "cannot modify workflow Nope: there is no workflow Nope" },
  { change: { kind: "process.create", process: syncProcess("P", "T", "X") }, message: "cannot create sync process P: it already exists" },
  { change: { kind: "process.drop", process: syncProcess("Nope", "T", "X") }, message: "cannot drop sync process Nope: there is no sync process Nope" },
  {
    change: { kind: "process.modify", before: syncProcess("Nope", "T", "X"), after: syncProcess("Nope", "T", "Y") },
    message: "cannot modify sync process Nope: there is no sync process Nope",
  },
];

for (const { change, message } of errors) {
  test(`applyChange refuses: ${message}`, (t) => {
    const error = t.throws(() => applyChange(base, change), { message });
    t.like(error, { code: "CHANGE_NOT_APPLICABLE", name: "InvalidInputError", details: [`change kind: ${change.kind}`] });
  });
}

test("applyChange: table.rename refuses a name that is taken", (t) => {
  const map = infra({ tables: [users, { ...users, name: "People" }] });
  t.throws(() => applyChange(map, { kind: "table.rename", from: "Users", to: "People" }), {
    message: "cannot rename table Users to People: a table People already exists",
  });
});

test("applyChanges: says which change did not fit", (t) => {
  const error = t.throws(
    () =>
      applyChanges(base, [
        { kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } },
        { kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } },
      ]),
    { message: "cannot drop column age from table Users: it has no column age" },
  );
  t.deepEqual((error as { details?: readonly string[] } | undefined)?.details, ["change kind: table.dropColumn", "change 2 of 2"]);
});
