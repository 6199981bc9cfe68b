import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { diff } from "../lib/diff/diff.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { MooseError } from "../lib/errors.js";
import { emptyInfraMap, type Column, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { applyToEngine, createChanges, mapOf, olapPart, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * Column features of moose-lib (ClickHouseMaterialized, ClickHouseAlias, ClickHouseCodec,
 * ClickHouseTTL) planned end to end: created, changed by ALTER in both directions,
 * introspected back without drift, on chDB (26.x) and on the server named by
 * CLICKHOUSE_URL (CI: 18.16, which refuses codecs and column TTL naming its version).
 */
const dataDir = mkdtempSync(join(tmpdir(), "moose-fidelity-columns-"));
const engines: OlapEngine[] = [];

async function embedded(prefix: string): Promise<OlapEngine> {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
  engines.push(engine);
  return engine;
}

async function server(prefix: string): Promise<OlapEngine> {
  const config = serverConfigFromEnv(uniqueDatabase(`moose_${prefix}`));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  return engine;
}

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

const base: readonly Column[] = [
  { name: "id", type: "String" },
  { name: "at", type: "DateTime" },
];

function computedTable(extra: readonly Column[]): Table {
  return { name: "computed", columns: [...base, ...extra], orderBy: ["id"], engine: { kind: "MergeTree" }, settings: {}, lifeCycle: "FULLY_MANAGED" };
}

/** As ClickHouse prints them back (the TTL's INTERVAL becomes toIntervalDay). */
const declared = computedTable([
  { name: "day", type: "Date", materialized: "toDate(at)" },
  { name: "label", type: "String", alias: "concat(id, '!')" },
  { name: "blob", type: "String", codec: "ZSTD(3)" },
  { name: "debug", type: "String", ttl: "at + toIntervalDay(1)" },
]);

test("embedded: MATERIALIZED, ALIAS, CODEC and column TTL are created, computed and introspected back exactly", async (t) => {
  const engine = await embedded("cols");
  const map = mapOf([declared]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
  // Inserting names only the stored columns; ClickHouse computes the others.
  await engine.execute("INSERT INTO computed (id, at, blob, debug) VALUES ('a', '2026-01-02 03:04:05', 'x', 'y')");
  t.deepEqual(await engine.query("SELECT day, label FROM computed"), [{ day: "2026-01-02", label: "a!" }]);
});

test("embedded: every change of a column's expression, codec and TTL is an ALTER, and so is its reverse", async (t) => {
  const engine = await embedded("colchanges");
  const before = mapOf([declared]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(before));
  const after = mapOf([
    computedTable([
      { name: "day", type: "Date", default: "toDate(at)" },
      { name: "label", type: "String", materialized: "concat(id, '?')" },
      { name: "blob", type: "String", codec: "LZ4" },
      { name: "debug", type: "String", ttl: "at + toIntervalDay(2)" },
    ]),
  ]);
  const bare = mapOf([computedTable([{ name: "day", type: "Date" }, { name: "label", type: "String" }, { name: "blob", type: "String" }, { name: "debug", type: "String" }])]);
  for (const [from, to] of [[before, after], [after, bare], [bare, before]] as const) {
    const steps = plan(diff(from, to), { from, to }).steps;
    t.true(steps.every((s) => s.change.kind === "table.modifyColumn"), JSON.stringify(steps.map((s) => s.change.kind)));
    const { statements } = await applyToEngine(engine, from, steps.map((s) => s.change));
    t.true(statements.flat().every((s) => s.startsWith("ALTER TABLE")), statements.flat().join("\n"));
    t.deepEqual(olapPart(await engine.introspect()), olapPart(to));
  }
});

test("the SQL: one MODIFY COLUMN restates the definition; what is removed is removed by name", (t) => {
  const capabilities = capabilitiesFor("26.7.1");
  const sql = (before: Column, after: Column) => statementsFor({ kind: "table.modifyColumn", table: "T", before, after }, { database: "db", capabilities });
  t.deepEqual(sql({ name: "c", type: "String" }, { name: "c", type: "String", codec: "ZSTD(3)", ttl: "at + INTERVAL 1 DAY" }), [
    "ALTER TABLE `db`.`T` MODIFY COLUMN `c` String CODEC(ZSTD(3)) TTL at + INTERVAL 1 DAY",
  ]);
  t.deepEqual(sql({ name: "c", type: "String", alias: "x", codec: "LZ4", ttl: "y" }, { name: "c", type: "String" }), [
    "ALTER TABLE `db`.`T` MODIFY COLUMN `c` REMOVE ALIAS",
    "ALTER TABLE `db`.`T` MODIFY COLUMN `c` REMOVE CODEC",
    "ALTER TABLE `db`.`T` MODIFY COLUMN `c` REMOVE TTL",
  ]);
  t.deepEqual(sql({ name: "c", type: "String", default: "'a'" }, { name: "c", type: "String", materialized: "upper(id)" }), [
    "ALTER TABLE `db`.`T` MODIFY COLUMN `c` String MATERIALIZED upper(id)",
  ]);
});

test("ClickHouse 18.16 refuses codecs and column TTL by name, before anything is sent", (t) => {
  const capabilities = capabilitiesFor("18.16.1");
  const create = (c: Column) => () => statementsFor({ kind: "table.create", table: computedTable([c]) }, { database: "db", capabilities });
  const codec = t.throws(create({ name: "blob", type: "String", codec: "ZSTD(3)" }), { instanceOf: MooseError });
  t.is(codec?.message, "cannot give column blob of table computed CODEC(ZSTD(3)): ClickHouse 18.16.1 does not support column compression codecs (ClickHouse 19.1+)");
  const ttl = t.throws(create({ name: "debug", type: "String", ttl: "at + INTERVAL 1 DAY" }), { instanceOf: MooseError });
  t.is(ttl?.message, "cannot give column debug of table computed TTL at + INTERVAL 1 DAY: ClickHouse 18.16.1 does not support column TTL (ClickHouse 19.6+)");
});

const serverTest = process.env.CLICKHOUSE_URL ? test : test.skip;

serverTest("server: MATERIALIZED and ALIAS columns are created and introspected back; a codec is refused if the server cannot hold it", async (t) => {
  const engine = await server("cols");
  const caps = await engine.capabilities();
  const computed = computedTable([
    { name: "day", type: "Date", materialized: "toDate(at)" },
    { name: "label", type: "String", alias: "concat(id, '!')" },
  ]);
  const map = mapOf([computed]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
  await engine.execute("INSERT INTO computed (id, at) VALUES ('a', '2026-01-02 03:04:05')");
  t.deepEqual(await engine.query("SELECT toString(day) AS day, label FROM computed"), [{ day: "2026-01-02", label: "a!" }]);
  const withCodec = mapOf([{ ...computed, name: "coded", columns: [...computed.columns, { name: "blob", type: "String", codec: "ZSTD(3)" }] }]);
  if (caps.columnCodec) {
    await applyToEngine(engine, emptyInfraMap(), createChanges(withCodec));
    t.deepEqual((await engine.introspect()).tables.coded, withCodec.tables.coded);
  } else {
    const error = await t.throwsAsync(applyToEngine(engine, emptyInfraMap(), createChanges(withCodec)));
    t.regex(error?.message ?? "", new RegExp(`ClickHouse ${caps.version.replace(/\./g, "\\.")} does not support column compression codecs`));
  }
});

test("rows written by ingest and sync leave MATERIALIZED and ALIAS columns for ClickHouse to compute", async (t) => {
  const { validateRow } = await import("../lib/server/validate.js");
  const columns: Column[] = [...base, { name: "day", type: "Date", materialized: "toDate(at)" }, { name: "label", type: "String", alias: "id" }];
  t.deepEqual(validateRow({ id: "a", at: "2026-01-02 03:04:05", day: "whatever", label: "x" }, columns), { row: { id: "a", at: "2026-01-02 03:04:05" }, errors: [] });
  t.deepEqual(validateRow({ id: "a", at: "2026-01-02 03:04:05" }, columns).errors, []);
});
