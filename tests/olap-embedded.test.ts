import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import type { Change } from "../lib/diff/change.js";
import { diff } from "../lib/diff/diff.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { rebuildTableStatements } from "../lib/engines/olap/sql/rebuild.js";
import { MooseError } from "../lib/errors.js";
import { applyChanges } from "../lib/model/apply-change.js";
import { emptyInfraMap, type InfraMap } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { table, view } from "./helpers/model-builders.js";
import { probeCapabilities } from "./helpers/olap-probes.js";
import {
  allTables,
  allViews,
  applyToEngine,
  createChanges,
  dims,
  events,
  joinView,
  mapOf,
  olapPart,
  totals,
  totalsView,
  uniqueDatabase,
} from "./helpers/olap-fixtures.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

// chDB holds one data directory per process (ava runs each file in its own process);
// every test gets its own database in it.
const dataDir = mkdtempSync(join(tmpdir(), "moose-olap-embedded-"));
const engines: OlapEngine[] = [];

async function open(prefix = "t"): Promise<OlapEngine> {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
  engines.push(engine);
  return engine;
}

/** Creates `map`'s tables and views on a fresh database and returns the engine. */
async function deployed(map: InfraMap, prefix = "t"): Promise<OlapEngine> {
  const engine = await open(prefix);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  return engine;
}

async function rows(engine: OlapEngine, sql: string): Promise<Array<Record<string, unknown>>> {
  return engine.query(sql);
}

test.after.always(async () => {
  for (const engine of engines) await engine.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("embedded engine reports a 26.x version and the capabilities that go with it", async (t) => {
  const engine = await open();
  t.is(engine.kind, "embedded");
  const version = await engine.version();
  t.regex(version, /^\d+\.\d+\.\d+/);
  const caps = await engine.capabilities();
  t.is(caps.version, version);
  t.true(caps.json && caps.boolType && caps.renameColumn && caps.modifyQuery && caps.exchangeTables && caps.nestedUnflattened);
  t.true(caps.readonlySettings.includes("index_granularity"));
});

test("the capability table matches what chDB really runs, flag by flag", async (t) => {
  const engine = await open("caps");
  const report = await probeCapabilities(engine);
  t.log(report.text);
  t.deepEqual(report.rows.filter((r) => r.capability !== r.server).map((r) => `${r.flag}: ${r.why}`), []);
});

test("round trip: every column type, engine, key, TTL, setting and view introspects back exactly", async (t) => {
  const map = mapOf(allTables, allViews);
  const engine = await deployed(map, "roundtrip");
  const got = await engine.introspect();
  t.deepEqual(got.skipped, []);
  t.deepEqual(olapPart(got), olapPart(map));
});

test("round trip: each table on its own database", async (t) => {
  for (const one of allTables) {
    const map = mapOf([one]);
    const engine = await deployed(map, "single");
    t.deepEqual((await engine.introspect()).tables, map.tables, one.name);
  }
});

test("diff == push: applying diff(A, B) on a database built from A introspects as B", async (t) => {
  const a = mapOf([events, totals, dims, table("gone", [["id", "String"]])], [totalsView]);
  const b = mapOf(
    [
      table("events", [["id", "UInt64"], ["v", "Float64"], ["ts", "DateTime"], ["country", "LowCardinality(String)", "'??'"]], { orderBy: ["id"], ttl: "ts + toIntervalDay(7)" }),
      totals,
      table("dims", [["id", "UInt64"], ["name", "Nullable(String)"]]),
      table("fresh", [["id", "String"], ["at", "DateTime64(3)"]], { orderBy: [] }),
    ],
    [{ ...totalsView, selectStatement: "SELECT id, sum(v) * 2 AS total FROM events GROUP BY id" }, joinViewOn("fresh_join")],
  );
  const engine = await deployed(a, "diffpush");
  const steps = plan(diff(a, b), { from: a, to: b }).steps.map((s) => s.change);
  await applyToEngine(engine, a, steps);
  t.deepEqual(olapPart(await engine.introspect()), olapPart(b));
});

function joinViewOn(name: string) {
  return { ...joinView, name, targetTable: "fresh", selectStatement: "SELECT toString(e.id) AS id, now64(3) AS at FROM events AS e INNER JOIN dims AS d ON e.id = d.id", sourceTables: ["dims", "events"] };
}

test("addColumn: old rows read NULL or the default, Nested stays Nested, FIRST and AFTER place the column", async (t) => {
  const base = mapOf([table("people", [["id", "UInt64"], ["name", "String"]])]);
  const engine = await deployed(base, "add");
  await engine.execute("INSERT INTO people (id, name) VALUES (1, 'ann'), (2, 'bob')");
  const changes: Change[] = [
    { kind: "table.addColumn", table: "people", column: { name: "nick", type: "Nullable(String)" }, after: "id" },
    { kind: "table.addColumn", table: "people", column: { name: "tenant", type: "String", default: "'acme'" }, after: null },
    { kind: "table.addColumn", table: "people", column: { name: "age", type: "UInt8" }, after: "name" },
    { kind: "table.addColumn", table: "people", column: { name: "pets", type: "Nested(kind String, n UInt8)" }, after: "age" },
    { kind: "table.addColumn", table: "people", column: { name: "score", type: "Float64", default: "id * 1.5" }, after: "pets" },
  ];
  const { expected } = await applyToEngine(engine, base, changes);
  t.deepEqual((await engine.introspect()).tables, expected.tables);
  t.deepEqual(expected.tables.people?.columns.map((c) => c.name), ["tenant", "id", "nick", "name", "age", "pets", "score"]);
  t.deepEqual(await rows(engine, "SELECT tenant, id, nick, name, age, length(pets) AS pets, score FROM people ORDER BY id"), [
    { tenant: "acme", id: "1", nick: null, name: "ann", age: 0, pets: "0", score: 1.5 },
    { tenant: "acme", id: "2", nick: null, name: "bob", age: 0, pets: "0", score: 3 },
  ]);
});

test("modifyColumn: widening keeps values; defaults are added, changed and removed", async (t) => {
  const base = mapOf([table("m", [["id", "UInt64"], ["n", "Int32"], ["f", "Float32"], ["d", "Decimal(10, 2)"], ["e", "Enum8('a' = 1, 'b' = 2)"], ["s", "String", "'x'"], ["k", "String"]])]);
  const engine = await deployed(base, "modify");
  await engine.execute("INSERT INTO m (id, n, f, d, e, s, k) VALUES (1, -2147483648, 1.5, 12345678.91, 'b', 'one', 'kk'), (2, 2147483647, -0.25, -0.01, 'a', 'two', 'll')");
  const col = (name: string) => base.tables.m?.columns.find((c) => c.name === name) as { name: string; type: string; default?: string };
  const changes: Change[] = [
    { kind: "table.modifyColumn", table: "m", before: col("n"), after: { name: "n", type: "Int64" } },
    { kind: "table.modifyColumn", table: "m", before: col("f"), after: { name: "f", type: "Float64" } },
    { kind: "table.modifyColumn", table: "m", before: col("d"), after: { name: "d", type: "Decimal(18, 2)" } },
    { kind: "table.modifyColumn", table: "m", before: col("e"), after: { name: "e", type: "Enum8('a' = 1, 'b' = 2, 'c' = 3)" } },
    { kind: "table.modifyColumn", table: "m", before: col("s"), after: { name: "s", type: "Nullable(String)", default: "'x'" } },
    { kind: "table.modifyColumn", table: "m", before: col("k"), after: { name: "k", type: "String", default: "'new'" } },
  ];
  const { expected } = await applyToEngine(engine, base, changes);
  t.deepEqual((await engine.introspect()).tables, expected.tables);
  t.deepEqual(await rows(engine, "SELECT n, f, toString(d) AS d, e, s, k FROM m ORDER BY id"), [
    { n: "-2147483648", f: 1.5, d: "12345678.91", e: "b", s: "one", k: "kk" },
    { n: "2147483647", f: -0.25, d: "-0.01", e: "a", s: "two", k: "ll" },
  ]);

  // Change a default, then remove one while changing the type.
  const next: Change[] = [
    { kind: "table.modifyColumn", table: "m", before: { name: "k", type: "String", default: "'new'" }, after: { name: "k", type: "String", default: "concat('id-', toString(id))" } },
    { kind: "table.modifyColumn", table: "m", before: { name: "s", type: "Nullable(String)", default: "'x'" }, after: { name: "s", type: "LowCardinality(Nullable(String))" } },
  ];
  const second = await applyToEngine(engine, expected, next);
  t.deepEqual((await engine.introspect()).tables, second.expected.tables);
  await engine.execute("INSERT INTO m (id) VALUES (3)");
  t.deepEqual(await rows(engine, "SELECT s, k FROM m WHERE id = 3"), [{ s: null, k: "id-3" }]);
});

test("dropColumn, renameColumn and moveColumn keep the other values", async (t) => {
  const base = mapOf([table("r", [["id", "UInt64"], ["a", "String"], ["b", "String", "'dflt'"], ["c", "Int32"]])]);
  const engine = await deployed(base, "cols");
  await engine.execute("INSERT INTO r VALUES (1, 'a1', 'b1', 10)");
  const changes: Change[] = [
    { kind: "table.dropColumn", table: "r", column: { name: "c", type: "Int32" } },
    { kind: "table.renameColumn", table: "r", from: "a", to: "alpha" },
    { kind: "table.moveColumn", table: "r", column: "b", after: null, before: "alpha" },
    { kind: "table.moveColumn", table: "r", column: "id", after: "alpha", before: "b" },
  ];
  const { expected, statements } = await applyToEngine(engine, base, changes);
  t.deepEqual(statements[2], ["ALTER TABLE `" + engine.database + "`.`r` MODIFY COLUMN `b` String FIRST"]);
  t.deepEqual((await engine.introspect()).tables, expected.tables);
  t.deepEqual(expected.tables.r?.columns, [{ name: "b", type: "String", default: "'dflt'" }, { name: "alpha", type: "String" }, { name: "id", type: "UInt64" }]);
  t.deepEqual(await rows(engine, "SELECT * FROM r"), [{ b: "b1", alpha: "a1", id: "1" }]);
});

test("setOrderBy: new columns appended to ORDER BY are added in the same ALTER; trailing ones can be dropped; the rest needs a rebuild", async (t) => {
  const base = mapOf([table("o", [["a", "String"], ["b", "Int32"]], { orderBy: ["a"] })]);
  const engine = await deployed(base, "orderby");
  await engine.execute("INSERT INTO o VALUES ('x', 1), ('y', 2)");
  const grow: Change[] = [
    { kind: "table.addColumn", table: "o", column: { name: "y", type: "String" }, after: "b" },
    { kind: "table.addColumn", table: "o", column: { name: "z", type: "UInt32" }, after: "y" },
    { kind: "table.setOrderBy", table: "o", before: ["a"], after: ["a", "y", "intHash32(z)"] },
  ];
  const grown = await applyToEngine(engine, base, grow);
  t.deepEqual(grown.statements.map((s) => s.length), [0, 0, 1]);
  t.deepEqual((await engine.introspect()).tables, grown.expected.tables);
  t.deepEqual(await rows(engine, "SELECT a, b, y, z FROM o ORDER BY a"), [
    { a: "x", b: 1, y: "", z: 0 },
    { a: "y", b: 2, y: "", z: 0 },
  ]);

  const shrink: Change[] = [{ kind: "table.setOrderBy", table: "o", before: ["a", "y", "intHash32(z)"], after: ["a", "y"] }];
  const shrunk = await applyToEngine(engine, grown.expected, shrink);
  t.deepEqual((await engine.introspect()).tables, shrunk.expected.tables);

  // Dropping below the primary key (the ORDER BY at creation) is ClickHouse's to refuse, atomically.
  const belowKey = await t.throwsAsync(applyToEngine(engine, shrunk.expected, [{ kind: "table.setOrderBy", table: "o", before: ["a", "y"], after: [] }]));
  t.is((belowKey as MooseError).code, "OLAP_QUERY_FAILED");
  t.regex((belowKey as MooseError).message, /Primary key must be a prefix of the sorting key/);
  const reorder = await t.throwsAsync(applyToEngine(engine, shrunk.expected, [{ kind: "table.setOrderBy", table: "o", before: ["a", "y"], after: ["y", "a"] }]));
  t.is((reorder as MooseError).code, "NEEDS_REBUILD");
  const existing = await t.throwsAsync(applyToEngine(engine, shrunk.expected, [{ kind: "table.setOrderBy", table: "o", before: ["a", "y"], after: ["a", "y", "b"] }]));
  t.is((existing as MooseError).code, "NEEDS_REBUILD");
  t.deepEqual((await engine.introspect()).tables, shrunk.expected.tables);
});

test("setTtl, setSettings, rename, drop and lifeCycle", async (t) => {
  const base = mapOf([table("life", [["id", "String"], ["ts", "DateTime"]], { settings: { merge_with_ttl_timeout: "7200" } })]);
  const engine = await deployed(base, "tablelevel");
  const changes: Change[] = [
    { kind: "table.setTtl", table: "life", after: "ts + toIntervalDay(30)" },
    { kind: "table.setTtl", table: "life", before: "ts + toIntervalDay(30)", after: "ts + toIntervalMonth(1)" },
    { kind: "table.setSettings", table: "life", before: { merge_with_ttl_timeout: "7200" }, after: { merge_with_ttl_timeout: "3600", min_bytes_for_wide_part: "0" } },
    { kind: "table.setLifeCycle", table: "life", before: "FULLY_MANAGED", after: "DELETION_PROTECTED" },
  ];
  const first = await applyToEngine(engine, base, changes);
  const withLifeCycle = { ...first.expected.tables, life: { ...(first.expected.tables.life as (typeof first.expected.tables)[string]), lifeCycle: "FULLY_MANAGED" as const } };
  t.deepEqual((await engine.introspect()).tables, withLifeCycle, "introspection reports FULLY_MANAGED; the caller overlays lifeCycle");

  const more: Change[] = [
    { kind: "table.setTtl", table: "life", before: "ts + toIntervalMonth(1)" },
    { kind: "table.setSettings", table: "life", before: { merge_with_ttl_timeout: "3600", min_bytes_for_wide_part: "0" }, after: { min_bytes_for_wide_part: "0" } },
    { kind: "table.rename", from: "life", to: "life2" },
  ];
  const second = await applyToEngine(engine, first.expected, more);
  const got = await engine.introspect();
  t.deepEqual(Object.keys(got.tables), ["life2"]);
  t.deepEqual(got.tables.life2, { ...second.expected.tables.life2, lifeCycle: "FULLY_MANAGED" } as typeof got.tables.life2);

  const frozen = await t.throwsAsync(applyToEngine(engine, second.expected, [{ kind: "table.setSettings", table: "life2", before: {}, after: { index_granularity: "1024" } }]));
  t.is((frozen as MooseError).code, "NEEDS_REBUILD");
  await applyToEngine(engine, second.expected, [{ kind: "table.drop", table: second.expected.tables.life2 as never }]);
  t.deepEqual((await engine.introspect()).tables, {});
});

test("views: the view feeds its target; MODIFY QUERY swaps the SELECT; a new target re-creates it; drop", async (t) => {
  const base = mapOf([events, totals, dims, table("totals2", [["id", "UInt64"], ["total", "Float64"]])], [totalsView]);
  const engine = await deployed(base, "views");
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 1.5, now()), (1, 2, now()), (2, 10, now())");
  t.deepEqual(await rows(engine, "SELECT id, sum(total) AS total FROM totals GROUP BY id ORDER BY id"), [{ id: "1", total: 3.5 }, { id: "2", total: 10 }]);

  const doubled = { ...totalsView, selectStatement: "SELECT id, sum(v) * 2 AS total FROM events GROUP BY id" };
  const modified = await applyToEngine(engine, base, [{ kind: "view.modify", before: totalsView, after: doubled }]);
  t.true(modified.statements[0]?.[0]?.includes("MODIFY QUERY"));
  t.deepEqual((await engine.introspect()).views, modified.expected.views);
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (3, 1, now())");
  t.deepEqual(await rows(engine, "SELECT sum(total) AS total FROM totals WHERE id = 3"), [{ total: 2 }]);

  const retargeted = { ...doubled, targetTable: "totals2" };
  const moved = await applyToEngine(engine, modified.expected, [{ kind: "view.modify", before: doubled, after: retargeted }]);
  t.deepEqual((await engine.introspect()).views, moved.expected.views);
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (4, 1, now())");
  t.deepEqual(await rows(engine, "SELECT id, total FROM totals2"), [{ id: "4", total: 2 }]);

  const dropped = await applyToEngine(engine, moved.expected, [{ kind: "view.drop", view: retargeted }]);
  t.deepEqual((await engine.introspect()).views, dropped.expected.views);
  t.deepEqual(dropped.expected.views, {});
});

test("introspect lists what the model cannot express in skipped, and leaves it out", async (t) => {
  const engine = await deployed(mapOf([events]), "skipped");
  await engine.execute("CREATE TABLE log_table (x String) ENGINE = Log");
  await engine.execute("CREATE TABLE computed (x String, y String MATERIALIZED upper(x)) ENGINE = MergeTree ORDER BY x");
  await engine.execute("CREATE TABLE sampled (x UInt64) ENGINE = MergeTree ORDER BY x SAMPLE BY x");
  await engine.execute("CREATE MATERIALIZED VIEW inner_mv ENGINE = MergeTree ORDER BY id AS SELECT id FROM events");
  await engine.execute("CREATE VIEW plain_view AS SELECT id FROM events");
  const got = await engine.introspect();
  // MATERIALIZED columns and SAMPLE BY are modelled.
  t.deepEqual(Object.keys(got.tables), ["computed", "events", "sampled"]);
  t.is(got.tables.sampled?.sampleBy, "x");
  t.deepEqual(got.tables.computed?.columns[1], { name: "y", type: "String", materialized: "upper(x)" });
  // A view without TO is modelled with its inner storage; its inner table belongs to it.
  t.deepEqual(Object.keys(got.views), ["inner_mv"]);
  t.deepEqual(got.views["inner_mv"]?.inner, { engine: { kind: "MergeTree" }, orderBy: ["id"] });
  const reasons = Object.fromEntries(got.skipped.map((s) => [s.name, `${s.engine}: ${s.reason}`]));
  t.regex(reasons.log_table ?? "", /^Log: engine Log is not one moose manages/);
  // A plain view is modelled too (moose-lib's View).
  t.deepEqual(got.plainViews, { plain_view: { name: "plain_view", selectStatement: "SELECT id FROM events", sourceTables: ["events"] } });
  t.is(reasons.plain_view, undefined);
  t.false(got.skipped.some((s) => s.name.startsWith(".inner")));
});

test("normalize returns ClickHouse's spelling, so declarations compare equal to introspection", async (t) => {
  const declared = mapOf(
    [
      table("n_events", [["id", "UInt64"], ["v", "Float64"], ["ts", "DateTime"], ["note", "String", "concat( 'a' ,'b' )"]], {
        orderBy: ["(id, toDate(ts))"],
        ttl: "ts + INTERVAL 1 DAY",
        partitionBy: "toYYYYMM( ts )",
        settings: { index_granularity: "8192" },
        lifeCycle: "DELETION_PROTECTED",
      }),
      table("n_totals", [["id", "UInt64"], ["total", "Float64"]]),
    ],
    [view("n_mv", ["n_events"], "n_totals", { selectStatement: "select id, sum(v) total from n_events group by id" })],
  );
  const engine = await open("normalize");
  const normal = await engine.normalize(declared);
  t.deepEqual(normal.tables.n_events, {
    name: "n_events",
    columns: [{ name: "id", type: "UInt64" }, { name: "v", type: "Float64" }, { name: "ts", type: "DateTime" }, { name: "note", type: "String", default: "concat('a', 'b')" }],
    orderBy: ["id", "toDate(ts)"],
    engine: { kind: "MergeTree" },
    partitionBy: "toYYYYMM(ts)",
    ttl: "ts + toIntervalDay(1)",
    settings: {},
    lifeCycle: "DELETION_PROTECTED",
  });
  t.is(normal.views.n_mv?.selectStatement, "SELECT id, sum(v) AS total FROM n_events GROUP BY id");
  // The scratch database is gone and nothing leaked into the managed one.
  t.deepEqual(await engine.query("SELECT name FROM system.databases WHERE name LIKE '\\_moose\\_normalize%'"), []);
  t.deepEqual((await engine.introspect()).tables, {});
  // Deploying the declaration then introspecting gives the normalized form.
  await applyToEngine(engine, emptyInfraMap(), createChanges(declared));
  const live = await engine.introspect();
  t.deepEqual(diff({ ...emptyInfraMap(), ...olapPart(normal) }, { ...emptyInfraMap(), tables: overlay(live.tables, declared), views: overlay(live.views, declared) }), []);
});

function overlay<T extends { readonly name: string; readonly lifeCycle: string }>(objects: Record<string, T>, declared: InfraMap): Record<string, T> {
  return Object.fromEntries(
    Object.entries(objects).map(([name, o]) => [name, { ...o, lifeCycle: (declared.tables[name] ?? declared.views[name])?.lifeCycle ?? o.lifeCycle }]),
  );
}

test("query binds parameters; failures are EngineErrors that carry ClickHouse's message and the statement", async (t) => {
  const engine = await deployed(mapOf([events]), "query");
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 1, now()), (2, 2, now())");
  t.deepEqual(await engine.query<{ n: string }>("SELECT count() AS n FROM events WHERE id >= {min:UInt64} AND {label:String} = 'it''s'", { min: 2, label: "it's" }), [{ n: "1" }]);
  const error = (await t.throwsAsync(engine.execute("ALTER TABLE events DROP COLUMN nope"))) as MooseError;
  t.is(error.code, "OLAP_QUERY_FAILED");
  t.is(error.exit, "failure");
  t.regex(error.message, /nope/);
  t.deepEqual(error.details, ["statement: ALTER TABLE events DROP COLUMN nope"]);
});

test("statements refused by the capability table never reach the engine", async (t) => {
  const engine = await deployed(mapOf([events]), "refused");
  const caps = { ...(await engine.capabilities()), version: "18.16.1", renameColumn: false };
  const error = t.throws(() => statementsFor({ kind: "table.renameColumn", table: "events", from: "v", to: "value" }, { database: engine.database, capabilities: caps })) as MooseError;
  t.is(error.code, "UNSUPPORTED_BY_SERVER");
  t.deepEqual((await engine.introspect()).tables, mapOf([events]).tables);
});

test("a second data directory in the same process is refused with OLAP_EMBEDDED_BUSY", async (t) => {
  await open("busy");
  const other = mkdtempSync(join(tmpdir(), "moose-olap-other-"));
  try {
    const error = (await t.throwsAsync(openOlapEngine({ engine: "embedded", dataDir: other, database: "x" }))) as MooseError;
    t.is(error.code, "OLAP_EMBEDDED_BUSY");
    t.regex(error.message, /one (active )?data directory per process/);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test("applyChanges and the engine agree over a long random-ish sequence on one table", async (t) => {
  let state = mapOf([table("seq", [["id", "UInt64"], ["a", "String"]], { orderBy: ["id"] })]);
  const engine = await deployed(state, "seq");
  const steps: Change[][] = [
    [{ kind: "table.addColumn", table: "seq", column: { name: "b", type: "Array(Nullable(String))" }, after: "a" }],
    [{ kind: "table.addColumn", table: "seq", column: { name: "c", type: "Map(String, Float64)" }, after: "b" }],
    [{ kind: "table.renameColumn", table: "seq", from: "b", to: "bb" }],
    [{ kind: "table.moveColumn", table: "seq", column: "c", after: "id", before: "bb" }],
    [{ kind: "table.modifyColumn", table: "seq", before: { name: "a", type: "String" }, after: { name: "a", type: "LowCardinality(String)", default: "'z'" } }],
    [{ kind: "table.setSettings", table: "seq", before: {}, after: { merge_with_ttl_timeout: "100" } }],
    [{ kind: "table.dropColumn", table: "seq", column: { name: "bb", type: "Array(Nullable(String))" } }],
    [
      { kind: "table.addColumn", table: "seq", column: { name: "k", type: "Date32" }, after: "a" },
      { kind: "table.setOrderBy", table: "seq", before: ["id"], after: ["id", "k"] },
    ],
  ];
  for (const changes of steps) {
    const { expected } = await applyToEngine(engine, state, changes);
    state = expected;
    t.deepEqual((await engine.introspect()).tables, state.tables, changes.map((c) => c.kind).join(", "));
  }
  t.deepEqual(applyChanges(mapOf([]), createChanges(state)).tables, state.tables);
});

test("rebuildTableStatements changes engine, ORDER BY and PARTITION BY keeping rows and the views that feed the table", async (t) => {
  const base = mapOf([events, totals], [totalsView]);
  const engine = await deployed(base, "rebuild");
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 1, '2024-01-01 00:00:00'), (2, 2, '2024-02-01 00:00:00')");
  const caps = await engine.capabilities();
  const newEvents = { ...events, engine: { kind: "ReplacingMergeTree" as const }, orderBy: ["id", "ts"], partitionBy: "toYYYYMM(ts)", columns: [...events.columns, { name: "src", type: "String", default: "'old'" }] };
  const newTotals = { ...totals, orderBy: ["id", "total"], engine: { kind: "MergeTree" as const } };
  for (const sql of [...rebuildTableStatements(events, newEvents, { database: engine.database, capabilities: caps }), ...rebuildTableStatements(totals, newTotals, { database: engine.database, capabilities: caps })]) {
    await engine.execute(sql);
  }
  const got = await engine.introspect();
  t.deepEqual(got.tables, mapOf([newEvents, newTotals]).tables);
  t.deepEqual(got.views, base.views);
  t.deepEqual(await engine.query("SELECT id, v, src FROM events ORDER BY id"), [{ id: "1", v: 1, src: "old" }, { id: "2", v: 2, src: "old" }]);
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (3, 3, now())");
  t.deepEqual(await engine.query("SELECT id, total FROM totals ORDER BY id"), [{ id: "1", total: 1 }, { id: "2", total: 2 }, { id: "3", total: 3 }]);
});
