import test from "ava";
import type { Change } from "../lib/diff/change.js";
import { type OlapCapabilities, type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { rebuildTableStatements } from "../lib/engines/olap/sql/rebuild.js";
import { MooseError } from "../lib/errors.js";
import { emptyInfraMap, type Table } from "../lib/model/infra-map.js";
import { table } from "./helpers/model-builders.js";
import { allTables, applyToEngine, createChanges, events, mapOf, olapPart, portableTypes, totals, totalsView, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { probeCapabilities } from "./helpers/olap-probes.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

// Runs against the ClickHouse server named by CLICKHOUSE_URL (CI: Debian's 18.16, started by
// tests/helpers/olap-server-setup.sh). Each test uses its own database and drops it at the end.
const url = process.env.CLICKHOUSE_URL;
const serverTest = url ? test : test.skip;

if (!url) {
  test("server adapter tests need CLICKHOUSE_URL", (t) => {
    t.log("CLICKHOUSE_URL is not set: the ClickHouse server adapter tests are skipped.");
    t.log("Run `bash tests/helpers/olap-server-setup.sh` and `export CLICKHOUSE_URL=http://127.0.0.1:8123` to run them.");
    t.pass();
  });
}

const engines: OlapEngine[] = [];

async function open(prefix: string): Promise<OlapEngine> {
  const config = serverConfigFromEnv(uniqueDatabase(`moose_${prefix}`));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  return engine;
}

test.after.always(async () => {
  for (const engine of engines) {
    try {
      await engine.execute(`DROP DATABASE IF EXISTS \`${engine.database}\``);
    } finally {
      await engine.close();
    }
  }
});

/** Whether the server can hold `t` according to its capabilities (statementsFor does not refuse it). */
function supported(t: Table, capabilities: OlapCapabilities): boolean {
  try {
    statementsFor({ kind: "table.create", table: t }, { database: "x", capabilities });
    return true;
  } catch (error) {
    if (error instanceof MooseError && error.code === "UNSUPPORTED_BY_SERVER") return false;
    throw error;
  }
}

serverTest("the capability table matches what the server really runs", async (t) => {
  const engine = await open("caps");
  const caps = await engine.capabilities();
  const report = await probeCapabilities(engine, queryParametersOverHttp);
  for (const row of report.rows) {
    // A flag that says yes and fails would break a migration half-way: never allowed.
    t.false(row.capability && !row.server, `${row.flag}: the capability table says yes but ClickHouse ${caps.version} refused: ${row.why}`);
  }
  t.log(report.text);
  if (report.conservative.length > 0) t.log(`conservative (refused by us, accepted by the server): ${report.conservative.join(", ")}`);
  if (caps.version.startsWith("18.16.")) t.deepEqual(report.conservative, [], "18.16 is verified flag by flag");
});

/** The server's own answer, bypassing the adapter (which refuses parameters up front where the table says no). */
async function queryParametersOverHttp(e: OlapEngine): Promise<void> {
  const config = serverConfigFromEnv(e.database) as NonNullable<ReturnType<typeof serverConfigFromEnv>>;
  const base = `${config.useSsl ? "https" : "http"}://${config.host}:${config.port}`;
  const response = await fetch(`${base}/?param_x=7`, {
    method: "POST",
    body: "SELECT {x:UInt8} + 1",
    headers: { "X-ClickHouse-User": config.user, "X-ClickHouse-Key": config.password },
  });
  const text = (await response.text()).trim();
  if (text !== "8") throw new Error(text);
}

serverTest("round trip: what the server supports introspects back as normalize() says, and tables as declared", async (t) => {
  const engine = await open("roundtrip");
  const caps = await engine.capabilities();
  const tables = allTables.filter((x) => supported(x, caps));
  t.true(tables.includes(portableTypes));
  const map = mapOf(tables, [totalsView]);
  const normal = await engine.normalize(map);
  t.deepEqual(normal.skipped, []);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  const got = await engine.introspect();
  t.deepEqual(got.skipped, []);
  t.deepEqual(olapPart(got), olapPart(normal));
  // Everything but old servers' spelling of expressions comes back exactly as declared.
  for (const [name, declared] of Object.entries(map.tables)) {
    const live = got.tables[name];
    const strip = (x: Table | undefined) => x && { ...x, columns: x.columns.map((c) => ({ name: c.name, type: c.type })) };
    t.deepEqual(strip(live), strip(declared), name);
  }
  t.is(got.views.totals_mv?.targetTable, "totals");
  t.deepEqual(got.views.totals_mv?.sourceTables, ["events"]);
  t.is(got.views.totals_mv?.selectStatement.replace(/\s+/g, " "), totalsView.selectStatement);
});

serverTest("ALTERs the server supports keep the data and introspect as applyChanges says", async (t) => {
  const engine = await open("alter");
  const base = mapOf([table("people", [["id", "UInt64"], ["name", "String"], ["n", "Int32"]], { orderBy: ["id"] }), events, totals], [totalsView]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(base));
  await engine.execute("INSERT INTO people (id, name, n) VALUES (1, 'ann', -5), (2, 'bob', 7)");
  const changes: Change[] = [
    { kind: "table.addColumn", table: "people", column: { name: "nick", type: "Nullable(String)" }, after: "name" },
    { kind: "table.addColumn", table: "people", column: { name: "tenant", type: "String", default: "'acme'" }, after: "n" },
    { kind: "table.modifyColumn", table: "people", before: { name: "n", type: "Int32" }, after: { name: "n", type: "Int64" } },
    { kind: "table.addColumn", table: "people", column: { name: "region", type: "String" }, after: "tenant" },
    { kind: "table.setOrderBy", table: "people", before: ["id"], after: ["id", "region"] },
    { kind: "view.modify", before: totalsView, after: { ...totalsView, selectStatement: "SELECT id, max(v) AS total FROM events GROUP BY id" } },
    { kind: "table.dropColumn", table: "people", column: { name: "nick", type: "Nullable(String)" } },
    { kind: "table.rename", from: "people", to: "persons" },
  ];
  const { expected } = await applyToEngine(engine, base, changes);
  const got = await engine.introspect();
  t.deepEqual(got.tables, (await engine.normalize({ tables: expected.tables, views: {} })).tables);
  t.deepEqual(got.tables.persons?.columns.map((c) => `${c.name} ${c.type}`), ["id UInt64", "name String", "n Int64", "tenant String", "region String"]);
  t.deepEqual(got.tables.persons?.orderBy, ["id", "region"]);
  t.deepEqual(await engine.query("SELECT id, name, n, tenant, region FROM persons ORDER BY id"), [
    { id: "1", name: "ann", n: "-5", tenant: "acme", region: "" },
    { id: "2", name: "bob", n: "7", tenant: "acme", region: "" },
  ]);
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 4, now())");
  t.deepEqual(await engine.query("SELECT id, total FROM totals"), [{ id: "1", total: 4 }]);
  await applyToEngine(engine, expected, [{ kind: "view.drop", view: expected.views.totals_mv as never }, { kind: "table.drop", table: expected.tables.persons as Table }]);
  const after = await engine.introspect();
  t.deepEqual(Object.keys(after.tables).sort(), ["events", "totals"]);
  t.deepEqual(after.views, {});
});

serverTest("what the server cannot run is refused with its version before anything is sent", async (t) => {
  const engine = await open("refuse");
  const caps = await engine.capabilities();
  const ctx = { database: engine.database, capabilities: caps };
  const state = mapOf([table("t", [["a", "String"], ["b", "Int32", "1"]])]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(state));
  const attempts: Array<[keyof OlapCapabilities, Change]> = [
    ["renameColumn", { kind: "table.renameColumn", table: "t", from: "a", to: "c" }],
    ["addColumnFirst", { kind: "table.addColumn", table: "t", column: { name: "z", type: "String" }, after: null }],
    ["moveColumn", { kind: "table.moveColumn", table: "t", column: "b", after: null, before: "a" }],
    ["removeColumnDefault", { kind: "table.modifyColumn", table: "t", before: { name: "b", type: "Int32", default: "1" }, after: { name: "b", type: "Int32" } }],
    ["ttl", { kind: "table.setTtl", table: "t", after: "toDate('2100-01-01')" }],
    ["modifySetting", { kind: "table.setSettings", table: "t", before: {}, after: { parts_to_throw_insert: "1000" } }],
    ["boolType", { kind: "table.addColumn", table: "t", column: { name: "flag", type: "Bool" }, after: "b" }],
    ["json", { kind: "table.addColumn", table: "t", column: { name: "doc", type: "JSON" }, after: "b" }],
  ];
  let refused = 0;
  for (const [flag, change] of attempts) {
    if (caps[flag]) {
      t.notThrows(() => statementsFor(change, { ...ctx, state }), flag);
      continue;
    }
    const error = t.throws(() => statementsFor(change, { ...ctx, state })) as MooseError;
    t.is(error.code, "UNSUPPORTED_BY_SERVER", flag);
    t.true(error.message.includes(`ClickHouse ${caps.version} does not support`), error.message);
    refused += 1;
  }
  t.log(`ClickHouse ${caps.version}: ${refused} of ${attempts.length} changes refused up front`);
  // Nothing reached the server.
  t.deepEqual((await engine.introspect()).tables, (await engine.normalize(state)).tables);
  if (!caps.queryParameters) {
    const error = (await t.throwsAsync(engine.query("SELECT {x:UInt8} AS x", { x: 1 }))) as MooseError;
    t.is(error.code, "UNSUPPORTED_BY_SERVER");
  } else {
    t.deepEqual(await engine.query("SELECT {x:UInt8} AS x", { x: 1 }), [{ x: 1 }]);
  }
});

serverTest("rebuildTableStatements keeps rows and views on the server", async (t) => {
  const base = mapOf([events, totals], [totalsView]);
  const engine = await open("rebuild");
  await applyToEngine(engine, emptyInfraMap(), createChanges(base));
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (1, 1, now()), (2, 2, now())");
  const caps = await engine.capabilities();
  const ctx = { database: engine.database, capabilities: caps };
  const newEvents = { ...events, engine: { kind: "ReplacingMergeTree" as const }, orderBy: ["id", "ts"] };
  const newTotals = { ...totals, orderBy: ["id", "total"], engine: { kind: "MergeTree" as const } };
  for (const sql of [...rebuildTableStatements(events, newEvents, ctx), ...rebuildTableStatements(totals, newTotals, ctx)]) await engine.execute(sql);
  const got = await engine.introspect();
  t.deepEqual(got.tables, (await engine.normalize(mapOf([newEvents, newTotals]))).tables);
  t.deepEqual(Object.keys(got.views), ["totals_mv"]);
  t.deepEqual(await engine.query("SELECT id, v FROM events ORDER BY id"), [{ id: "1", v: 1 }, { id: "2", v: 2 }]);
  await engine.execute("INSERT INTO events (id, v, ts) VALUES (3, 3, now())");
  t.deepEqual(await engine.query("SELECT id, total FROM totals ORDER BY id"), [{ id: "1", total: 1 }, { id: "2", total: 2 }, { id: "3", total: 3 }]);
});

test("an unreachable server is an EngineError OLAP_UNREACHABLE naming the URL", async (t) => {
  const error = (await t.throwsAsync(
    openOlapEngine({ engine: "server", host: "127.0.0.1", port: 1, nativePort: 9000, database: "x", user: "default", password: "", useSsl: false }),
  )) as MooseError;
  t.is(error.code, "OLAP_UNREACHABLE");
  t.is(error.message, "cannot reach ClickHouse at http://127.0.0.1:1: ECONNREFUSED");
});
