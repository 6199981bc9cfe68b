import { rmSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { extractApp } from "../lib/extract/extract-app.js";
import type { Column, Table } from "../lib/model/infra-map.js";
import { errorsOf, extractFixture, once, tempApp } from "./helpers/extract-apps.js";

/**
 * moose-lib declarations beyond what the template apps use: fixtures/apps/moose-lib-compat
 * (planned) and fixtures/apps/moose-lib-errors (refused). Both import `@514labs/moose-lib`
 * and `typia`, neither installed. Each fixture is extracted once.
 */
const compat = once(() => extractFixture("moose-lib-compat"));
const refused = once(() => errorsOf(() => extractFixture("moose-lib-errors")));

function table(name: string): Table {
  const t = compat().map.tables[name];
  if (!t) throw new Error(`fixture table ${name} not extracted (tables: ${Object.keys(compat().map.tables).join(", ")})`);
  return t;
}

function column(tableName: string, name: string): Column {
  const c = table(tableName).columns.find((x) => x.name === name);
  if (!c) throw new Error(`${tableName} has no column ${name}`);
  return c;
}

// ---------------------------------------------------------------------------
// Column types written the moose-lib way (interface Reading).

const READING_TYPES: ReadonlyArray<readonly [field: string, declared: string, clickhouse: string]> = [
  ["id", "Key<string>", "String"],
  ["at", 'string & tags.Format<"date-time">', "DateTime64(9)"],
  ["atMicros", "DateTime64String<6>", "DateTime64(6)"],
  ["day", 'string & tags.Format<"date">', "Date32"],
  ["shortDay", 'string & tags.Format<"date"> & ClickHouseByteSize<2>', "Date"],
  ["small", 'number & ClickHouseInt<"int16">', "Int16"],
  ["count", 'number & tags.Type<"uint32"> & tags.Minimum<1>', "UInt32"],
  ["price", "string & ClickHouseDecimal<12, 3>", "Decimal(12, 3)"],
  ["email", 'string & tags.Format<"email">', "String"],
  ["hash", "FixedString<16>", "FixedString(16)"],
  ["region", "string & LowCardinality", "LowCardinality(String)"],
  ["blob", 'string & ClickHouseCodec<"ZSTD(3)">', "String"],
  ["debug", "string & ClickHouseTTL<...>", "String"],
  ["where", "ClickHousePoint", "Point"],
  [
    "attributes",
    '{ source: string; weight?: number } & ClickHouseJson<256, 16, ["internal.trace"], ["^tmp_"]>',
    "JSON(max_dynamic_types=16, max_dynamic_paths=256, source String, weight Nullable(Float64), SKIP `internal.trace`, SKIP REGEXP '^tmp_')",
  ],
  ["claims", "JWT<Claims>", "Nested(sub String, scope Nullable(String))"],
];

for (const [field, declared, clickhouse] of READING_TYPES) {
  test(`maps ${declared} to ${clickhouse}`, (t) => {
    t.is(column("Readings_2_0", field).type, clickhouse);
  });
}

test("every field of Reading is covered by a row", (t) => {
  t.deepEqual(
    table("Readings_2_0").columns.map((c) => c.name),
    READING_TYPES.map(([field]) => field),
  );
});

const AGGREGATE_TYPES: ReadonlyArray<readonly [field: string, declared: string, clickhouse: string]> = [
  ["readings", 'number & Aggregated<"count", []>', "AggregateFunction(count)"],
  ["visitors", 'string & Aggregated<"uniqExact", [string]>', "AggregateFunction(uniqExact, String)"],
  ["p90", 'number & Aggregated<"quantiles(0.5, 0.9)", [number]>', "AggregateFunction(quantiles(0.5, 0.9), Float64)"],
  ["peak", 'number & SimpleAggregated<"max", number>', "SimpleAggregateFunction(max, Float64)"],
];

for (const [field, declared, clickhouse] of AGGREGATE_TYPES) {
  test(`maps ${declared} to ${clickhouse}`, (t) => {
    t.is(column("DailyStats", field).type, clickhouse);
  });
}

// ---------------------------------------------------------------------------
// Tables, views, topics and endpoints.

test("OlapTable.withMergeTree and withReplacingMergeTree: engine, ORDER BY and version suffix", (t) => {
  t.deepEqual(table("Readings_2_0").engine, { kind: "MergeTree" });
  t.deepEqual(table("Readings_2_0").orderBy, ["id", "at"]);
  t.deepEqual(table("LatestReadings").engine, { kind: "ReplacingMergeTree", ver: "at" });
  t.deepEqual(table("LatestReadings").orderBy, ["id"]);
});

test("MaterializedView targetTable { name, engine, orderByFields } creates the target from T", (t) => {
  t.deepEqual(table("DailyStats").engine, { kind: "AggregatingMergeTree" });
  t.deepEqual(table("DailyStats").orderBy, ["day"]);
  t.deepEqual(compat().map.views["DailyStats_MV"], {
    name: "DailyStats_MV",
    selectStatement:
      "SELECT toDate(`at`) AS day, countState() AS readings, uniqExactState(`id`) AS visitors,\n    quantilesState(0.5, 0.9)(`small`) AS p90, max(`count`) AS peak FROM `Readings_2_0` GROUP BY day",
    sourceTables: ["Readings_2_0"],
    targetTable: "DailyStats",
    lifeCycle: "FULLY_MANAGED",
  });
});

test("sql templates: aggregate columns read as fnMerge(`x`), nested fragments and sql.statement are inlined", (t) => {
  t.is(
    compat().map.views["DailyReport_MV"]?.selectStatement,
    "SELECT `day` AS day, countMerge(`readings`) AS readings, uniqExactMerge(`visitors`) AS visitors, quantilesMerge(0.5, 0.9)(`p90`) AS p90 FROM `DailyStats` GROUP BY day",
  );
  t.deepEqual(compat().map.views["DailyReport_MV"]?.sourceTables, ["DailyStats"]);
});

const DEAD_LETTER_COLUMNS = [
  { name: "originalRecord", type: "JSON" },
  { name: "errorMessage", type: "String" },
  { name: "errorType", type: "String" },
  { name: "failedAt", type: "DateTime('UTC')" },
  { name: "source", type: "String" },
];

test("IngestPipeline: version suffixes, deadLetterQueue: true, stream options and a custom ingest path", (t) => {
  const { map } = compat();
  t.deepEqual(table("Events_1_1").orderBy, ["id", "name"]);
  t.like(map.topics["Events_1_1"], { partitions: 4, retentionMs: 3_600_000 });
  t.deepEqual(map.topics["EventsDeadLetterQueue_1_1"]?.columns, DEAD_LETTER_COLUMNS);
  t.is(map.topics["EventsDeadLetterQueue_1_1"]?.retentionMs, 604_800_000);
  // A path starting with `ingest/` is not prefixed again; the version is appended.
  t.like(map.apis["ingest/collect/events/1.1"], { kind: "ingest", destination: "Events_1_1", version: "1.1" });
  t.deepEqual(Object.keys(map.processes), ["Events_1_1_to_Events_1_1"]);
});

test("DeadLetterQueue<T> carries moose-lib's fixed dead-letter columns whatever T is", (t) => {
  t.deepEqual(compat().map.topics["EventsDLQ"]?.columns, DEAD_LETTER_COLUMNS);
});

test("IngestApi with a custom path that already ends with its version", (t) => {
  t.like(compat().map.apis["ingest/audit/v2"], { kind: "ingest", destination: "Audit", version: "v2" });
});

test("ClickHouseCodec and ClickHouseTTL columns keep their codec and TTL", (t) => {
  t.deepEqual(column("Readings_2_0", "blob"), { name: "blob", type: "String", codec: "ZSTD(3)" });
  t.deepEqual(column("Readings_2_0", "debug"), { name: "debug", type: "String", ttl: "toDateTime(at) + INTERVAL 1 DAY" });
});

test("ClickHouseMaterialized and ClickHouseAlias columns are MATERIALIZED and ALIAS columns", (t) => {
  t.deepEqual(table("Computed").columns, [
    { name: "id", type: "String" },
    { name: "at", type: "DateTime('UTC')" },
    { name: "day", type: "DateTime('UTC')", materialized: "toDate(at)" },
    { name: "label", type: "String", alias: "concat(id, '!')" },
  ]);
});

test("View is a plain view; SqlResource is a SQL resource; nothing else is declared", (t) => {
  const { map } = compat();
  t.deepEqual(map.plainViews, {
    RecentReadings: { name: "RecentReadings", selectStatement: "SELECT * FROM `Readings_2_0` WHERE at > now() - INTERVAL 1 HOUR", sourceTables: ["Readings_2_0"] },
  });
  t.deepEqual(map.sqlResources, {
    ReadingsDictionary: {
      name: "ReadingsDictionary",
      setup: ["CREATE DICTIONARY IF NOT EXISTS d (id String) PRIMARY KEY id SOURCE(NULL()) LAYOUT(FLAT()) LIFETIME(0)"],
      teardown: ["DROP DICTIONARY IF EXISTS d"],
      pullsDataFrom: [],
      pushesDataTo: [],
    },
  });
  t.deepEqual(Object.keys(map.tables).sort(), ["Computed", "DailyReport", "DailyStats", "Events_1_1", "LatestReadings", "Readings_2_0"]);
  t.deepEqual(Object.keys(map.views).sort(), ["DailyReport_MV", "DailyStats_MV"]);
  t.deepEqual(Object.keys(map.topics).sort(), ["Audit", "EventsDLQ", "EventsDeadLetterQueue_1_1", "Events_1_1"]);
});

test("warnings: redirected imports (SqlResource is planned: no warning)", (t) => {
  t.deepEqual(compat().warnings, [
    "imports of @514labs/moose-lib are planned against moose-migrate's declaration library",
    "typia is not installed: its type tags are read from moose-migrate's copy of them",
  ]);
});

// ---------------------------------------------------------------------------
// Refused: fixtures/apps/moose-lib-errors.

test("refuses what moose-lib accepts but cannot be planned (or would fail in ClickHouse)", (t) => {
  t.deepEqual(refused(), [
    {
      code: "INVALID_COLUMN",
      located: "app/index.ts:12:3: Computed.day: a column has one of ClickHouseDefault, ClickHouseMaterialized and ClickHouseAlias, not ClickHouseDefault and ClickHouseMaterialized",
      hint: "keep the one that says how the value is computed",
    },
    {
      code: "INVALID_COLUMN",
      located: "app/index.ts:13:3: Computed.label: a ClickHouseAlias column is computed when read and cannot be a Key<>",
      hint: "key the table by the columns the alias is computed from",
    },
    {
      code: "INVALID_CONFIG",
      located:
        "app/index.ts:16:64: orderByFields must start with KeyNotFirst's Key<> fields (id), in that order: ClickHouse needs the primary key to be a prefix of the sorting key",
      hint: undefined,
    },
    {
      code: "INVALID_CONFIG",
      located:
        'app/index.ts:20:3: materializedViewName is "Rollup", the name of its target table too; ClickHouse needs different names for the view and the table it writes to',
      hint: undefined,
    },
    {
      code: "INVALID_CONFIG",
      located: 'app/index.ts:26:60: database is "my-db"; a database name is a letter or `_` followed by letters, digits and `_` (or leave database out for clickhouse_config.db_name)',
      hint: undefined,
    },
    {
      code: "INVALID_CONFIG",
      located: 'app/index.ts:27:107: type must be "CHECK" (every INSERT is checked) or "ASSUME" (the optimizer may rely on it)',
      hint: undefined,
    },
    {
      code: "DECLARATION_NOT_FOLLOWED",
      located:
        "app/lost.ts:3:21: new OlapTable(...) declares infrastructure, but OlapTable is imported from '@514labs/moose-lib/dist/not-a-module', which planning cannot resolve, so the declaration would be left out of the plan",
      hint: "import the class from '@514labs/moose-lib' (or 'moose-migrate'), or install the package that provides it",
    },
  ]);
});

// ---------------------------------------------------------------------------
// An installed typia is used as it is.

test("typia installed in the app is resolved normally, without the redirect warning", (t) => {
  const dir = tempApp({
    "node_modules/typia/package.json": JSON.stringify({ name: "typia", version: "9.6.1", types: "index.d.ts" }),
    "node_modules/typia/index.d.ts":
      'export declare namespace tags {\n  type Type<V extends string> = { "typia.tag"?: { target: "number"; kind: "type"; value: V } };\n}\n',
    "app/index.ts": [
      'import { OlapTable } from "moose-migrate";',
      'import { tags } from "typia";',
      "interface Row { n: number & tags.Type<\"uint64\"> }",
      'export const rows = new OlapTable<Row>("Rows");',
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = extractApp({ projectDir: dir, mainFile: join("app", "index.ts") });
  t.deepEqual(app.warnings, []);
  t.deepEqual(app.map.tables["Rows"]?.columns, [{ name: "n", type: "UInt64" }]);
});
