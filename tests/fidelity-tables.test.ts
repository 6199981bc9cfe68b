import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { diff } from "../lib/diff/diff.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { MooseError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { emptyInfraMap, type Table } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { applyToEngine, createChanges, mapOf, olapPart, uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * moose-lib's table options `indexes`, `projections`, `primaryKeyExpression` and
 * `sampleByExpression`, planned end to end: extracted, created, changed (indexes and
 * projections by ALTER with MATERIALIZE; primary key and SAMPLE BY by a rebuild that
 * keeps the rows) and introspected back without drift.
 */
const dataDir = mkdtempSync(join(tmpdir(), "moose-fidelity-tables-"));
const engines: OlapEngine[] = [];

async function embedded(prefix: string): Promise<OlapEngine> {
  const engine = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) });
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

const events: Table = {
  name: "events",
  columns: [
    { name: "id", type: "UInt64" },
    { name: "user", type: "String" },
    { name: "at", type: "DateTime" },
  ],
  orderBy: ["id", "cityHash64(user)", "at"],
  primaryKey: ["id", "cityHash64(user)"],
  sampleBy: "cityHash64(user)",
  indexes: [
    { name: "idx_at", expression: "at", type: "minmax", granularity: 1 },
    { name: "idx_user", expression: "user", type: "bloom_filter(0.01)", granularity: 4 },
  ],
  projections: [{ name: "by_user", body: "SELECT user, count() GROUP BY user" }],
  engine: { kind: "MergeTree" },
  settings: {},
  lifeCycle: "FULLY_MANAGED",
};

test("extraction reads indexes, projections, primaryKeyExpression and sampleByExpression as moose-lib declares them", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, Key } from "@514labs/moose-lib";',
      "interface Event { id: Key<number>; user: string; at: Date }",
      'export const events = new OlapTable<Event>("events", {',
      '  orderByExpression: "(id, cityHash64(user), at)",',
      '  primaryKeyExpression: "(id, cityHash64(user))",',
      '  sampleByExpression: "cityHash64(user)",',
      '  indexes: [{ name: "idx_user", expression: "user", type: "bloom_filter", arguments: ["0.01"], granularity: 4 }, { name: "idx_at", expression: "at", type: "minmax" }],',
      '  projections: [{ name: "by_user", body: "SELECT user, count() GROUP BY user" }],',
      "});",
      'export const plain = new OlapTable<Event>("plain", { orderByFields: ["id", "at"], primaryKeyExpression: "(id, at)" });',
      'export const bad = new OlapTable<Event>("bad", { orderByFields: ["id", "at"], primaryKeyExpression: "at" });',
    ].join("\n"),
  });
  const errors = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
  t.deepEqual(errors.map((e) => e.located), [
    "app/index.ts:11:79: primaryKeyExpression is (at), which does not start the ORDER BY (id, at); ClickHouse needs the primary key to be a prefix of the sorting key",
  ]);
  const fixed = tempApp({
    "app/index.ts": [
      'import { OlapTable, Key, UInt64 } from "@514labs/moose-lib";',
      "interface Event { id: Key<UInt64>; user: string; at: Date }",
      'export const events = new OlapTable<Event>("events", {',
      '  orderByExpression: "(id, cityHash64(user), at)",',
      '  primaryKeyExpression: "(id, cityHash64(user))",',
      '  sampleByExpression: "cityHash64(user)",',
      '  indexes: [{ name: "idx_user", expression: "user", type: "bloom_filter", arguments: ["0.01"], granularity: 4 }, { name: "idx_at", expression: "at", type: "minmax" }],',
      '  projections: [{ name: "by_user", body: "SELECT user, count() GROUP BY user" }],',
      "});",
      'export const plain = new OlapTable<Event>("plain", { orderByFields: ["id", "at"], primaryKeyExpression: "(id, at)" });',
    ].join("\n"),
  });
  const { map } = extractApp({ projectDir: fixed, mainFile: "app/index.ts" });
  const { columns: _c, orderBy: _o, ...rest } = map.tables.events!;
  const { columns: _ec, orderBy: _eo, ...expected } = events;
  t.deepEqual(rest, expected);
  t.deepEqual(map.tables.events!.orderBy, ["(id, cityHash64(user), at)"]);
  // A primary key that is the whole ORDER BY is ClickHouse's default: not modelled.
  t.is(map.tables.plain!.primaryKey, undefined);
});

test("embedded: the table is created with all four and introspects back exactly", async (t) => {
  const engine = await embedded("parts");
  const map = mapOf([events]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
});

test("embedded: indexes and projections change by ALTER (built for existing rows); primary key and SAMPLE BY by a rebuild keeping the rows", async (t) => {
  const engine = await embedded("partchanges");
  const from = mapOf([events]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(from));
  await engine.execute("INSERT INTO events SELECT number, toString(number % 7), now() FROM numbers(1000)");
  const alterOnly = mapOf([
    {
      ...events,
      indexes: [{ name: "idx_user", expression: "user", type: "set(100)", granularity: 2 }],
      projections: [{ name: "by_at", body: "SELECT at, count() GROUP BY at" }],
    },
  ]);
  const steps = plan(diff(from, alterOnly), { from, to: alterOnly }).steps;
  t.deepEqual(steps.map((s) => s.change.kind), ["table.setIndexes", "table.setProjections"]);
  const { statements } = await applyToEngine(engine, from, steps.map((s) => s.change));
  t.true(statements.flat().some((s) => s.includes("MATERIALIZE PROJECTION `by_at`")));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(alterOnly));
  const [counted] = await engine.query("SELECT count() AS n FROM system.projection_parts WHERE database = currentDatabase() AND table = 'events' AND name = 'by_at' AND active");
  t.true(Number(counted?.n) > 0, "the new projection is built for the rows already stored");

  const rekeyed = mapOf([{ ...alterOnly.tables.events!, primaryKey: ["id"], sampleBy: undefined } as Table].map(({ sampleBy: _s, ...t }) => t as Table));
  const rebuild = plan(diff(alterOnly, rekeyed), { from: alterOnly, to: rekeyed }).steps;
  t.deepEqual(rebuild.map((s) => s.change.kind), ["table.rebuild"]);
  await applyToEngine(engine, alterOnly, rebuild.map((s) => s.change));
  const live = await engine.introspect();
  t.deepEqual(live.tables.events, rekeyed.tables.events);
  t.deepEqual(await engine.query("SELECT count() AS n FROM events"), [{ n: "1000" }]);
});

test("ClickHouse 18.16 refuses indexes and projections naming its version; SAMPLE BY and PRIMARY KEY it has", (t) => {
  const capabilities = capabilitiesFor("18.16.1");
  const create = (table: Table) => statementsFor({ kind: "table.create", table }, { database: "db", capabilities });
  const { indexes: _i, projections: _p, ...keysOnly } = events;
  t.deepEqual(create(keysOnly as Table)[0]?.split("\n").slice(-3), ["ORDER BY (`id`, cityHash64(user), `at`)", "PRIMARY KEY (`id`, cityHash64(user))", "SAMPLE BY cityHash64(user)"]);
  const index = t.throws(() => create({ ...keysOnly, indexes: events.indexes } as Table), { instanceOf: MooseError });
  t.is(index?.message, "cannot give table events the index idx_at: ClickHouse 18.16.1 does not support data-skipping indexes (ClickHouse 21.1+)");
  const projection = t.throws(() => create({ ...keysOnly, projections: events.projections } as Table), { instanceOf: MooseError });
  t.is(projection?.message, "cannot give table events the projection by_user: ClickHouse 18.16.1 does not support projections (ClickHouse 25.1+ here)");
});

const serverTest = process.env.CLICKHOUSE_URL ? test : test.skip;

serverTest("server: PRIMARY KEY and SAMPLE BY are created and introspected back", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_parts"));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  const caps = await engine.capabilities();
  const { indexes: _i, projections: _p, ...keysOnly } = events;
  const table = { ...keysOnly, ...(caps.skippingIndexes ? { indexes: events.indexes } : {}), ...(caps.projections ? { projections: events.projections } : {}) } as Table;
  const map = mapOf([table]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
});

const versioned: Table = {
  name: "vcollapsing",
  columns: [
    { name: "id", type: "String" },
    { name: "sign", type: "Int8" },
    { name: "version", type: "UInt32" },
  ],
  orderBy: ["id"],
  engine: { kind: "VersionedCollapsingMergeTree", sign: "sign", version: "version" },
  settings: {},
  lifeCycle: "FULLY_MANAGED",
};

test("VersionedCollapsingMergeTree: extracted from sign and ver, created and introspected back on chDB", async (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, ClickHouseEngines, Key, Int8, UInt32 } from "@514labs/moose-lib";',
      "interface Row { id: Key<string>; sign: Int8; version: UInt32 }",
      'export const rows = new OlapTable<Row>("vcollapsing", { engine: ClickHouseEngines.VersionedCollapsingMergeTree, sign: "sign", ver: "version", orderByFields: ["id"] });',
    ].join("\n"),
  });
  t.deepEqual(extractApp({ projectDir: dir, mainFile: "app/index.ts" }).map.tables.vcollapsing, versioned);
  const engine = await embedded("vcollapsing");
  const map = mapOf([versioned]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
});

serverTest("server: VersionedCollapsingMergeTree is created and introspected back", async (t) => {
  const config = serverConfigFromEnv(uniqueDatabase("moose_vcollapsing"));
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const engine = await openOlapEngine(config);
  engines.push(engine);
  const map = mapOf([versioned]);
  await applyToEngine(engine, emptyInfraMap(), createChanges(map));
  t.deepEqual(olapPart(await engine.introspect()), olapPart(map));
});
