import { rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { InvalidInputError, InvalidInputErrors } from "../lib/errors.js";
import { AppExtractor, extractApp } from "../lib/extract/extract-app.js";
import type { Column, Table } from "../lib/model/infra-map.js";
import { errorsOf, extractFixture, fixtureApp, once, tempApp, writeFile, type ErrorView } from "./helpers/extract-apps.js";

// Each fixture app is extracted once and shared by the tests that read it: one
// extraction costs about half a second, a test per mapping does not.
const mapping = once(() => extractFixture("type-mapping"));
const typeErrors = once(() => errorsOf(() => extractFixture("type-errors")));
const declarationErrors = once(() => errorsOf(() => extractFixture("declaration-errors")));

function table(name: string): Table {
  const t = mapping().map.tables[name];
  if (!t) throw new Error(`fixture table ${name} not extracted`);
  return t;
}

function column(name: string): Column {
  const c = table("Everything").columns.find((col) => col.name === name);
  if (!c) throw new Error(`Everything has no column ${name}`);
  return c;
}

const columnsOf = (name: string): Array<[string, string]> => table(name).columns.map((c) => [c.name, c.type]);

// ---------------------------------------------------------------------------
// Type mappings: one row per rule of lib/extract/type-mapper.ts, each read from the
// `Everything` interface of fixtures/apps/type-mapping/app/index.ts.

const MAPPINGS: ReadonlyArray<readonly [field: string, declared: string, clickhouse: string]> = [
  ["text", "string", "String"],
  ["amount", "number", "Float64"],
  ["active", "boolean", "Bool"],
  ["seenAt", "Date", "DateTime('UTC')"],
  ["nickname", "nickname?: string", "Nullable(String)"],
  ["middleName", "string | undefined", "Nullable(String)"],
  ["score", "number | null", "Nullable(Float64)"],
  ["optionalTags", "optionalTags?: string[] (arrays are never Nullable)", "Array(String)"],
  ["values", "number[]", "Array(Float64)"],
  ["maybeLabels", "(string | null)[]", "Array(Nullable(String))"],
  ["address", "nested interface (with an optional field)", "Nested(street String, zip Nullable(Float64))"],
  ["optionalAddress", "optionalAddress?: Address (Nested is never Nullable)", "Nested(street String, zip Nullable(Float64))"],
  ["point", "Point & ClickHouseNamedTuple", "Tuple(x Float64, y Float64)"],
  ["counts", "Record<string, number>", "Map(String, Float64)"],
  ["payload", "Record<string, any>", "JSON"],
  ["status", '"active" | "inactive" | "banned"', "LowCardinality(String)"],
  ["tier", 'tier?: "free" | "pro"', "LowCardinality(Nullable(String))"],
  ["color", "string enum", "Enum8('red' = 1, 'green' = 2, 'blue' = 3)"],
  ["level", "numeric enum", "Enum8('Low' = 1, 'Mid' = 5, 'High' = 10)"],
  ["wide", "numeric enum with a value above 127", "Enum16('Small' = 1, 'Large' = 300)"],
  ["i8", "Int8", "Int8"],
  ["i16", "Int16", "Int16"],
  ["i32", "Int32", "Int32"],
  ["i64", "Int64", "Int64"],
  ["u8", "UInt8", "UInt8"],
  ["u16", "UInt16", "UInt16"],
  ["u32", "UInt32", "UInt32"],
  ["u64", "UInt64", "UInt64"],
  ["f32", "Float32", "Float32"],
  ["f64", "Float64", "Float64"],
  ["uuid", "UUID", "UUID"],
  ["day", "DateOnly", "Date"],
  ["at", "DateTime", "DateTime('UTC')"],
  ["atMillis", "DateTime64<3>", "DateTime64(3)"],
  ["price", "Decimal<10, 2>", "Decimal(10, 2)"],
  ["country", "LowCardinality<string>", "LowCardinality(String)"],
  ["createdAt", 'WithDefault<Date, "now()">', "DateTime('UTC')"],
  ["id", "Key<string>", "String"],
  ["forced", 'ClickHouseType<number, "UInt16">', "UInt16"],
  ["precise", "Date & ClickHousePrecision<6>", "DateTime64(6)"],
  ["money", "string & ClickHousePrecision<18> & ClickHouseScale<4>", "Decimal(18, 4)"],
  ["label", "string & ClickHouseDefault<\"'none'\">", "String"],
  ["document", "{ title: string } & ClickHouseJson (its fields are typed paths)", "JSON(title String)"],
  ["tagInt32", 'number & tags.Type<"int32">', "Int32"],
  ["tagUint64", 'number & tags.Type<"uint64">', "UInt64"],
  ["tagFloat", 'number & tags.Type<"float">', "Float32"],
  ["tagUuid", 'string & tags.Format<"uuid">', "UUID"],
  ["tagDateTime", 'string & tags.Format<"date-time">', "DateTime64(9)"],
  ["tagIpv4", 'string & tags.Format<"ipv4">', "IPv4"],
  ["imported", "interface imported from another file", "Nested(source String, count Float64)"],
];

for (const [field, declared, clickhouse] of MAPPINGS) {
  test(`maps ${declared} to ${clickhouse}`, (t) => {
    t.is(column(field).type, clickhouse);
  });
}

test("every field of the mapping fixture is covered by a row", (t) => {
  t.deepEqual(
    table("Everything").columns.map((c) => c.name).sort(),
    MAPPINGS.map(([field]) => field).sort(),
  );
});

test("columns keep the interface's declaration order", (t) => {
  t.deepEqual(
    table("Everything").columns.map((c) => c.name),
    ["id", "text", "amount", "active", "seenAt", "nickname", "middleName", "score", "optionalTags", "values", "maybeLabels", "address", "optionalAddress", "point", "counts", "payload", "status", "tier", "color", "level", "wide", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "uuid", "day", "at", "atMillis", "price", "country", "createdAt", "forced", "precise", "money", "label", "document", "tagInt32", "tagUint64", "tagFloat", "tagUuid", "tagDateTime", "tagIpv4", "imported"],
  );
  t.deepEqual(columnsOf("Ordered"), [
    ["zeta", "String"],
    ["alpha", "Float64"],
    ["mike", "Bool"],
    ["bravo", "DateTime('UTC')"],
  ]);
});

test("WithDefault<Date, \"now()\"> and ClickHouseDefault give the column a DEFAULT", (t) => {
  t.deepEqual(column("createdAt"), { name: "createdAt", type: "DateTime('UTC')", default: "now()" });
  t.deepEqual(column("label"), { name: "label", type: "String", default: "'none'" });
  t.false("default" in column("seenAt"));
});

test("Key<string> fields are the default ORDER BY; without keys the table is ordered by tuple()", (t) => {
  t.deepEqual(table("Everything").orderBy, ["id"]);
  t.deepEqual(table("ExtendedRow").orderBy, ["id"]);
  t.deepEqual(table("AliasRow").orderBy, []);
});

test("a type alias of an object type", (t) => {
  t.deepEqual(columnsOf("AliasRow"), [
    ["name", "String"],
    ["total", "Float64"],
  ]);
});

test("an intersection of object types", (t) => {
  t.deepEqual(columnsOf("IntersectionRow"), [
    ["left", "String"],
    ["right", "Float64"],
  ]);
  t.deepEqual(columnsOf("MixedRow"), [
    ["id", "String"],
    ["createdAt", "DateTime('UTC')"],
    ["extra", "String"],
  ]);
});

test("extends: the interface's own fields come first, then the inherited ones, as Moose creates them (moose-lib reads getPropertiesOfType)", (t) => {
  t.deepEqual(columnsOf("ExtendedRow"), [
    ["name", "String"],
    ["id", "String"],
    ["createdAt", "DateTime('UTC')"],
  ]);
  t.deepEqual(columnsOf("DeepRow"), [
    ["deep", "Bool"],
    ["name", "String"],
    ["id", "String"],
    ["createdAt", "DateTime('UTC')"],
  ]);
});

test("generic interfaces are instantiated with their type arguments", (t) => {
  t.deepEqual(columnsOf("GenericRow"), [
    ["value", "Float64"],
    ["label", "String"],
  ]);
  t.deepEqual(columnsOf("NestedGenericRow"), [
    ["value", "Nested(value Bool, label String)"],
    ["label", "String"],
  ]);
});

test("a record type imported from another file", (t) => {
  t.deepEqual(columnsOf("ImportedRow"), [
    ["source", "String"],
    ["count", "Float64"],
  ]);
  t.true(mapping().files.some((f) => f.endsWith(join("app", "shared.ts"))));
});

test("the mapping fixture extracts without warnings", (t) => {
  t.deepEqual(mapping().warnings, []);
  t.deepEqual(mapping().locations["tables:Everything"], { file: join("app", "index.ts"), line: 120, column: 27 });
});

// ---------------------------------------------------------------------------
// Unsupported field types: fixtures/apps/type-errors. Every bad field is reported in
// one pass, each at its own declaration and with its property path.

const SUPPORTED_HINT =
  "use string, number, boolean, Date, arrays, nested objects, Record<string, T>, string-literal unions, enums, or a helper type such as Int32, UInt64, Float32, Decimal<P, S>, DateTime64<P>, LowCardinality<string>, UUID";

function errorAt(errors: readonly ErrorView[], at: string): ErrorView | undefined {
  return errors.find((e) => e.located.startsWith(`${at}: `));
}

const TYPE_ERRORS: ReadonlyArray<readonly [title: string, located: string, hint: string]> = [
  ["any", "app/index.ts:17:3: Unsupported.anything: `any` cannot be stored in a ClickHouse column", SUPPORTED_HINT],
  ["unknown", "app/index.ts:18:3: Unsupported.mystery: `unknown` cannot be stored in a ClickHouse column", SUPPORTED_HINT],
  ["a function type", "app/index.ts:19:3: Unsupported.callback: a function type cannot be stored in a ClickHouse column", SUPPORTED_HINT],
  ["symbol", "app/index.ts:20:3: Unsupported.token: `symbol` cannot be stored in a ClickHouse column", SUPPORTED_HINT],
  [
    "a string | number union",
    "app/index.ts:21:3: Unsupported.either: the union `string | number` cannot be stored in a ClickHouse column",
    "use a single type, a string-literal union, or an enum",
  ],
  ["object", "app/index.ts:22:3: Unsupported.blob: `object` cannot be stored in a ClickHouse column", "declare the fields of the object"],
  [
    "an optional ClickHouseNamedTuple",
    "app/index.ts:23:3: Unsupported.where: an optional nested object (ClickHouse has no Nullable(Tuple)) cannot be stored in a ClickHouse column",
    "make the nested object required, or make its fields optional",
  ],
  ["any inside a nested object (path and position of the inner field)", "app/index.ts:12:3: Unsupported.inner.deep: `any` cannot be stored in a ClickHouse column", SUPPORTED_HINT],
  ["unknown as an array element", "app/index.ts:25:3: Unsupported.list[]: `unknown` cannot be stored in a ClickHouse column", SUPPORTED_HINT],
];

for (const [title, located, hint] of TYPE_ERRORS) {
  test(`refuses ${title}`, (t) => {
    const at = located.slice(0, located.indexOf(": "));
    t.deepEqual(errorAt(typeErrors(), at), { code: "UNSUPPORTED_TYPE", located, hint });
  });
}

test("type errors: every bad field is reported, sorted by position, and nothing else", (t) => {
  const expected = TYPE_ERRORS.map(([, located]) => located).sort((a, b) => {
    const line = (s: string) => Number(s.split(":")[1]);
    return line(a) - line(b);
  });
  t.deepEqual(
    typeErrors().map((e) => e.located),
    expected,
  );
});

test("the thrown error summarises the first error and counts the rest", (t) => {
  const err = t.throws(() => extractFixture("type-errors"), { instanceOf: InvalidInputErrors });
  t.is(err?.code, "UNSUPPORTED_TYPE");
  t.is(err?.exit, "invalidInput");
  t.is(err?.message, "app/index.ts:12:3: Unsupported.inner.deep: `any` cannot be stored in a ClickHouse column (and 8 more)");
});

// ---------------------------------------------------------------------------
// Declarations that cannot be planned: fixtures/apps/declaration-errors.

const STATIC_HINT = "write it as a literal (string, number, boolean, array or object literal), a `const` holding one, or an enum member";
const TOP_LEVEL_HINT = 'declare infrastructure at the top level of a module, e.g. `export const events = new OlapTable<Event>("Events")`';

const DECLARATION_ERRORS: ReadonlyArray<readonly [title: string, error: ErrorView]> = [
  [
    "a table name computed by a function call",
    { code: "NOT_STATIC", located: "app/index.ts:17:48: the name of this OlapTable cannot be read without running the app: `tableName()`", hint: STATIC_HINT },
  ],
  [
    "a config that cannot be read statically",
    { code: "NOT_STATIC", located: "app/index.ts:18:68: the config of this OlapTable cannot be read without running the app: `tableConfig()`", hint: STATIC_HINT },
  ],
  [
    "new OlapTable inside a function",
    { code: "NOT_STATIC", located: "app/index.ts:21:10: new OlapTable(...) inside a function cannot be planned: how often it runs is only known at run time", hint: TOP_LEVEL_HINT },
  ],
  [
    "new OlapTable inside a loop",
    { code: "NOT_STATIC", located: "app/index.ts:24:3: new OlapTable(...) inside a loop cannot be planned: how often it runs is only known at run time", hint: TOP_LEVEL_HINT },
  ],
  [
    "an invalid table name",
    { code: "INVALID_NAME", located: 'app/index.ts:27:42: "my table" is not a valid table name: use a letter or `_` followed by letters, digits and `_`', hint: undefined },
  ],
  [
    "an invalid topic name",
    { code: "INVALID_NAME", located: 'app/index.ts:28:41: "bad topic!" is not a valid topic name: use letters, digits, `.`, `_` and `-`, at most 249 characters', hint: undefined },
  ],
  [
    "orderByFields naming a field the record does not have",
    { code: "INVALID_CONFIG", located: 'app/index.ts:32:58: orderByFields names "nope", which is not a field of BadOrder (fields: id, version)', hint: undefined },
  ],
  [
    "a ReplacingMergeTree ver naming a field the record does not have",
    { code: "INVALID_CONFIG", located: 'app/index.ts:33:100: ver names "nope", which is not a field of BadVer', hint: undefined },
  ],
  [
    "a CollapsingMergeTree without sign",
    { code: "INVALID_CONFIG", located: "app/index.ts:34:52: sign is required for CollapsingMergeTree: the Int8 field holding 1 or -1", hint: undefined },
  ],
  [
    "a stream destination that is not a table",
    { code: "INVALID_CONFIG", located: "app/index.ts:37:57: destination refers to a Stream, but needs a table", hint: undefined },
  ],
  [
    "a declaration without its type argument",
    {
      code: "MISSING_SCHEMA",
      located: "app/index.ts:39:24: new OlapTable(...) needs its record type: write new OlapTable<YourSchema>(...)",
      hint: "pass the interface describing the rows as the type argument",
    },
  ],
];

for (const [title, error] of DECLARATION_ERRORS) {
  test(`refuses ${title}`, (t) => {
    const at = error.located.slice(0, error.located.indexOf(": "));
    t.deepEqual(errorAt(declarationErrors(), at), error);
  });
}

test("declaration errors: all are reported in one pass, sorted by position, and nothing else", (t) => {
  t.deepEqual(
    declarationErrors().map((e) => e.located),
    DECLARATION_ERRORS.map(([, e]) => e.located),
  );
});

test("a name declared in two files names the first declaration", (t) => {
  t.deepEqual(errorsOf(() => extractFixture("duplicate-names")), [
    {
      code: "DUPLICATE_NAME",
      located: 'app/index.ts:8:22: table "Users" is declared twice (first at app/legacy.ts:8:28)',
      hint: "give each object a unique name, or a version",
    },
  ]);
});

test("when a declaration cannot be read, the TypeScript errors of its file are reported too, with their TS code and position", (t) => {
  const hint = "fix the TypeScript error; the last good state is kept until then";
  t.deepEqual(errorsOf(() => extractFixture("typescript-error")), [
    { code: "TYPESCRIPT_ERROR", located: "app/index.ts:8:7: TS2322: Type 'string' is not assignable to type 'number'.", hint },
    // On the bad orderByFields' line, the extractor's error replaces TypeScript's.
    {
      code: "INVALID_CONFIG",
      located: 'app/index.ts:11:50: orderByFields names "nope", which is not a field of Rows (fields: id, count)',
      hint: undefined,
    },
  ]);
});

test("planning does not type-check code it does not read: a type error beside valid declarations does not stop it", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable } from "moose-migrate";',
      "interface Row { id: string }",
      'const limit: number = "ten";',
      'export const rows = new OlapTable<Row>("Rows");',
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const app = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.deepEqual(app.map.tables["Rows"]?.columns, [{ name: "id", type: "String" }]);
  t.deepEqual(app.warnings, []);
});

test("a record field typed with a Node.js global (Buffer) is refused at the field, saying planning reads no Node.js types", (t) => {
  const dir = tempApp({
    "app/index.ts": ['import { OlapTable } from "moose-migrate";', "interface Row { id: string; data: Buffer }", 'export const rows = new OlapTable<Row>("Rows");', ""].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })), [
    {
      code: "UNSUPPORTED_TYPE",
      located: "app/index.ts:2:29: Row.data: `Buffer`, a name no declaration of the app or its imports defines, cannot be stored in a ClickHouse column",
      hint: "planning reads the app and what it imports, not Node.js's global types or uninstalled packages: declare the field with a type it can store (string holds any bytes), or import `Buffer` from an installed package",
    },
  ]);
});

test("a misspelt type name in a record is reported as TypeScript reports it", (t) => {
  const dir = tempApp({
    "app/index.ts": ['import { OlapTable } from "moose-migrate";', 'import type { Row } from "./row";', 'export const rows = new OlapTable<Row>("Rows");', ""].join("\n"),
    "app/row.ts": "export interface Row {\n  id: string;\n  at: Dat;\n}\n",
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })), [
    { code: "TYPESCRIPT_ERROR", located: `${join("app", "row.ts")}:3:7: TS2552: Cannot find name 'Dat'. Did you mean 'Date'?`, hint: "fix the TypeScript error; the last good state is kept until then" },
  ]);
});

test("an option the library does not declare is refused, with the closest option, in nested objects too", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { IngestPipeline, OlapTable, Stream } from "moose-migrate";',
      "interface Row { id: string; at: Date }",
      'export const rows = new OlapTable<Row>("Rows", { oderByFields: ["id"] });',
      'export const events = new Stream<Row>("Events", { retentionPeriod: 60, paralelism: 2 });',
      'export const pipe = new IngestPipeline<Row>("Pipe", { table: { orderByFields: ["id"], partitionby: "toYYYYMM(at)" }, stream: true, ingestApi: true });',
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const errors = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
  t.deepEqual(
    errors.map((e) => e.located),
    [
      "app/index.ts:3:50: oderByFields is not an option of OlapTable; did you mean orderByFields?",
      "app/index.ts:4:72: paralelism is not an option of Stream; did you mean parallelism?",
      "app/index.ts:5:87: partitionby is not an option of IngestPipeline; did you mean partitionBy?",
    ],
  );
  t.true(errors.every((e) => e.code === "INVALID_CONFIG"));
  t.regex(errors[0]!.hint ?? "", /^OlapTable options here: .*orderByFields, orderByExpression, partitionBy/);
});

test("a stream or ingest API whose destination declares other fields is refused (the types would not have checked)", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { IngestApi, OlapTable, Stream } from "moose-migrate";',
      "interface Row { id: string; at: Date; n: number }",
      "interface Other { id: string; at: string; extra: boolean }",
      'export const table = new OlapTable<Other>("T");',
      'export const stream = new Stream<Row>("S", { destination: table as never });',
      'export const same = new Stream<Other>("Same", { destination: table });',
      'export const api = new IngestApi<Row>("in", { destination: same as never });',
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })), [
    {
      code: "RECORD_MISMATCH",
      located: "app/index.ts:5:23: stream S sends its records to table T, but their fields differ: table T has extra, which stream S does not; stream S has n, which table T does not; at is DateTime('UTC') in stream S and String in table T",
      hint: "declare both with the same record type (new Stream<T>(..., { destination: table }) with table an OlapTable<T>)",
    },
    {
      code: "RECORD_MISMATCH",
      located: "app/index.ts:7:20: ingest API ingest/in sends its records to topic Same, but their fields differ: topic Same has extra, which ingest API ingest/in does not; ingest API ingest/in has n, which topic Same does not; at is DateTime('UTC') in ingest API ingest/in and String in topic Same",
      hint: "declare both with the same record type (new Stream<T>(..., { destination: table }) with table an OlapTable<T>)",
    },
  ]);
});

test("a materialized view writing to a table of other fields is refused", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { MaterializedView, OlapTable, sql } from "moose-migrate";',
      "interface Src { id: string; n: number }",
      "interface Daily { id: string; total: number }",
      'export const src = new OlapTable<Src>("Src");',
      'export const daily = new OlapTable<Src>("Daily");',
      "export const mv = new MaterializedView<Daily>({",
      '  materializedViewName: "Daily_MV",',
      "  targetTable: daily as never,",
      "  selectStatement: sql`SELECT id, sum(n) AS total FROM ${src} GROUP BY id`,",
      "  selectTables: [src],",
      "});",
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(
    errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })).map((e) => e.located),
    ["app/index.ts:6:19: materialized view Daily_MV sends its records to table Daily, but their fields differ: table Daily has n, which materialized view Daily_MV does not; materialized view Daily_MV has total, which table Daily does not"],
  );
});

test("an engine's own option on a table of another engine is refused", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { ClickHouseEngines, OlapTable } from "moose-migrate";',
      "interface Row { id: string; version: number; sign: number }",
      'export const a = new OlapTable<Row>("A", { orderByFields: ["id"], ver: "version" });',
      'export const b = new OlapTable<Row>("B", { engine: ClickHouseEngines.ReplacingMergeTree, orderByFields: ["id"], sign: "sign" });',
      'export const c = new OlapTable<Row>("C", { engine: ClickHouseEngines.ReplacingMergeTree, orderByFields: ["id"], ver: "version" });',
      "",
    ].join("\n"),
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(
    errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })).map((e) => e.located),
    [
      "app/index.ts:3:67: ver is an option of ReplacingMergeTree, ReplicatedReplacingMergeTree, VersionedCollapsingMergeTree and ReplicatedVersionedCollapsingMergeTree only; this table's engine is MergeTree",
      "app/index.ts:4:113: sign is an option of CollapsingMergeTree, ReplicatedCollapsingMergeTree, VersionedCollapsingMergeTree and ReplicatedVersionedCollapsingMergeTree only; this table's engine is ReplacingMergeTree",
    ],
  );
});

test("a missing main file is an input error naming the file", (t) => {
  const dir = tempApp({});
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const err = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }), { instanceOf: InvalidInputError });
  t.is(err?.code, "MAIN_FILE_NOT_FOUND");
  t.is(err?.message, "main file app/index.ts does not exist");
  t.is(err?.hint, "create it, or point `[moose] main_file` in moose.config.toml at your app's entry file");
});

// ---------------------------------------------------------------------------
// Imports

test("a runtime-only import that is not installed is a warning, not an error", (t) => {
  const app = extractFixture("runtime-import");
  t.deepEqual(app.warnings, [
    "app/index.ts:2:23: cannot find module '@moose-fixtures/fake-data' (ignored for planning; install it before `moose dev` runs the code that imports it)",
  ]);
  t.deepEqual(Object.keys(app.map.tables), ["Users"]);
  t.deepEqual(Object.keys(app.map.topics), ["UserEvents"]);
  t.deepEqual(app.map.processes, { UserEvents_to_Users: { name: "UserEvents_to_Users", sourceTopic: "UserEvents", targetTable: "Users" } });
});

test("imports of @514labs/moose-lib are planned against our library, with a one-time warning", (t) => {
  const extractor = new AppExtractor({ projectDir: fixtureApp("moose-lib-import"), mainFile: "app/index.ts" });
  const first = extractor.extract();
  t.deepEqual(first.warnings, ["imports of @514labs/moose-lib are planned against moose-migrate's declaration library"]);
  t.deepEqual(first.map.tables["Users"]?.columns, [
    { name: "id", type: "String" },
    { name: "name", type: "String" },
    { name: "email", type: "String" },
  ]);
  t.deepEqual(first.map.tables["Users"]?.orderBy, ["id"]);
  t.truthy(first.map.topics["UserEvents"]);
  const second = extractor.extract();
  t.deepEqual(second.warnings, []);
  t.deepEqual(second.map, first.map);
});

// ---------------------------------------------------------------------------
// Dev mode: one extractor, re-extracted after each save.

test("dev mode: an AppExtractor picks up edits, reports a broken save, and recovers", (t) => {
  const dir = tempApp({
    "app/index.ts": ['import { OlapTable } from "moose-migrate";', 'import type { User } from "./schema";', "", 'export const users = new OlapTable<User>("Users");', ""].join("\n"),
    "app/schema.ts": "export interface User {\n  id: string;\n  name: string;\n}\n",
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const schemaFile = join(dir, "app", "schema.ts");
  let clock = Date.now() / 1000;
  // A save changes size and mtime; move the clock on so even a same-second save is seen.
  const save = (text: string) => {
    writeFile(schemaFile, text);
    clock += 10;
    utimesSync(schemaFile, clock, clock);
  };
  const names = (app: { map: { tables: Readonly<Record<string, Table>> } }) => app.map.tables["Users"]?.columns.map((c) => `${c.name} ${c.type}`);
  const extractor = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts" });

  t.deepEqual(names(extractor.extract()), ["id String", "name String"]);

  save("export interface User {\n  id: string;\n  name: string;\n  age: number;\n}\n");
  t.deepEqual(names(extractor.extract()), ["id String", "name String", "age Float64"]);

  save("export interface User {\n  id: string;\n  name: string;\n  age: numbr;\n}\n");
  t.deepEqual(errorsOf(() => extractor.extract()), [
    {
      code: "TYPESCRIPT_ERROR",
      located: `${join("app", "schema.ts")}:4:8: TS2552: Cannot find name 'numbr'. Did you mean 'number'?`,
      hint: "fix the TypeScript error; the last good state is kept until then",
    },
  ]);

  save("export interface User {\n  id: string;\n  name: string;\n  age: number;\n  email: string;\n}\n");
  t.deepEqual(names(extractor.extract()), ["id String", "name String", "age Float64", "email String"]);
});

// ---------------------------------------------------------------------------
// API endpoint paths, as the original Moose serves them.

test("API paths: name, version, and a custom path that already ends with its version", (t) => {
  const dir = tempApp({
    "app/index.ts": `import { Api, ConsumptionApi, IngestApi, OlapTable } from "moose-migrate";
interface Row { id: string }
interface Params { limit?: number }
const handler = async () => [];
export const rows = new OlapTable<Row>("Rows");
export const plain = new Api<Params>("plain", handler);
export const versioned = new ConsumptionApi<Params>("metrics", handler, { version: "v2" });
export const custom = new Api<Params>("custom", handler, { path: "v2/custom" });
export const both = new Api<Params>("both", handler, { path: "/both/v3/", version: "v3" });
export const appended = new Api<Params>("appended", handler, { path: "reports", version: "1.0" });
export const ingest = new IngestApi<Row>("Rows", { destination: rows, version: "1.0" });
`,
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { apis } = extractApp({ projectDir: dir, mainFile: "app/index.ts" }).map;
  t.deepEqual(Object.keys(apis).sort(), ["api/both/v3", "api/metrics/v2", "api/plain", "api/reports/1.0", "api/v2/custom", "ingest/Rows/1.0"]);
  t.deepEqual(apis["api/plain"], { name: "api/plain", kind: "consumption", columns: [{ name: "limit", type: "Nullable(Float64)" }] });
  t.is(apis["api/both/v3"]?.version, "v3");
  t.is(apis["ingest/Rows/1.0"]?.destination, "Rows");
});

const RECURSIVE_SCHEMAS: ReadonlyArray<readonly [string, string]> = [
  ["a record containing itself", "interface Row { id: string; parent: Row }"],
  ["an optional self reference", "interface Row { id: string; parent?: Row }"],
  ["an array of itself (a tree)", "interface Row { id: string; children: Row[] }"],
  ["two records containing each other", "interface Row { id: string; other: Other }\ninterface Other { back: Row }"],
  ["a generic that grows at every level", "interface Deep<T> { value: T; next: Deep<T[]> }\ninterface Row { id: string; deep: Deep<string> }"],
];

for (const [what, schema] of RECURSIVE_SCHEMAS) {
  test(`a recursive schema is an UNSUPPORTED_TYPE error naming the field, not a stack overflow: ${what}`, (t) => {
    const dir = tempApp({
      "app/index.ts": ['import { OlapTable } from "moose-migrate";', schema, 'export const rows = new OlapTable<Row>("Rows");', ""].join("\n"),
    });
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const errors = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
    t.is(errors.length, 1, JSON.stringify(errors));
    t.is(errors[0]?.code, "UNSUPPORTED_TYPE");
    t.regex(errors[0]?.located ?? "", /app\/index\.ts:\d+:\d+: Row\.\S+: a (recursive type|type nested more than 32 levels deep)/);
    t.regex(errors[0]?.hint ?? "", /JSON/);
  });
}

test("a project folder whose path holds a backslash is refused by name, not read as an empty app", (t) => {
  const parent = tempApp({});
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, "my\\app");
  writeFile(join(dir, "app/index.ts"), 'import { OlapTable } from "moose-migrate";\ninterface Row { id: string }\nexport const rows = new OlapTable<Row>("Rows");\n');
  const error = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })) as InvalidInputError;
  t.is(error.code, "PROJECT_PATH_UNSUPPORTED");
  t.regex(error.message, /contains a backslash, which TypeScript reads as a folder separator/);
});
