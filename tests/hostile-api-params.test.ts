import test, { type ExecutionContext } from "ava";
import { formatQueryParams } from "@clickhouse/client-common";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiHelpers } from "../lib/dsl/runtime.js";
import type { OlapTable } from "../lib/dsl/olap-table.js";
import { declareParameterType, sql, toQuery, type ParameterDialect, type Sql } from "../lib/dsl/sql.js";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { MooseError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import type { InfraMap } from "../lib/model/infra-map.js";
import { createApiUtils, readOnlyQuery } from "../lib/runtime/api-utils.js";
import { loadApp, type LoadedApp } from "../lib/runtime/load-app.js";
import { createApiRoutes } from "../lib/server/api-routes.js";
import { startHttpServer, type RunningHttpServer } from "../lib/server/server.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * Request values against the `sql` template: every value a request can carry (repeated
 * keys, type names, SQL, quotes, backticks, NUL, megabytes, numbers at the edges, dates,
 * booleans, union values, and JSON shaped like a column, a table or a fragment) is bound
 * as a typed parameter or refused; none becomes SQL text. Each case states its exact
 * outcome: the SQL text, the bound parameters, and what chDB (or the HTTP API running the
 * fixture app's handlers) answers; the tables are checked intact after each.
 *
 * With CLICKHOUSE_URL (Debian's 18.16 in CI), the server part: 18.16 has no query
 * parameters, so a parameterised query is refused before anything is sent, and the types
 * and value texts of the 18.16 dialect are checked to be ones that server reads.
 */

const PROJECT = fileURLToPath(new URL("../../fixtures/runtime/hostile-params/", import.meta.url));
const SECRET = "moose-secret-token-4d1e";
const dir = mkdtempSync(join(tmpdir(), "moose-hostile-params-"));

const ITEMS = [
  { id: "i1", name: "alpha", tags: ["a", "x"], score: 1.5, rank: 1, active: true, at: "2024-01-01T00:00:00Z" },
  { id: "i2", name: "beta", tags: ["b"], score: 2.5, rank: 2, active: false, at: "2024-02-01T00:00:00Z" },
  { id: "i3", name: "gamma", tags: ["a", "b"], score: 2 ** 53, rank: "18446744073709551615", active: true, at: "2024-03-01T00:00:00Z" },
  { id: "i4", name: "it's `odd`", tags: ["Array(String)"], score: -0.5, rank: 0, active: false, at: "2024-04-01T00:00:00Z" },
];

interface World {
  readonly state: InfraMap;
  readonly olap: OlapEngine;
  readonly app: LoadedApp;
  readonly server: RunningHttpServer;
  readonly items: OlapTable<Record<string, unknown>>;
}
let world: World | undefined;
const closers: Array<() => Promise<void>> = [];

test.before(async () => {
  const { map: state } = extractApp({ projectDir: PROJECT, mainFile: "app/index.ts" });
  const olap = await openOlapEngine({ engine: "embedded", dataDir: join(dir, "clickhouse"), database: "local" });
  closers.push(() => olap.close());
  const ctx = { database: olap.database, capabilities: await olap.capabilities() };
  for (const table of Object.values(state.tables)) {
    for (const statement of statementsFor({ kind: "table.create", table }, ctx)) await olap.execute(statement);
  }
  await olap.insertJsonRows("Items", ITEMS);
  await olap.insertJsonRows("Secrets", [{ id: "s1", token: SECRET }]);
  const app = await loadApp(join(PROJECT, "app", "index.ts"));
  const log = (): void => undefined;
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, log, routes: () => [createApiRoutes({ getState: () => state, app: () => app, olap, log })] });
  closers.push(() => server.close());
  world = { state, olap, app, server, items: app.exports.items as OlapTable<Record<string, unknown>> };
});

test.after.always(async () => {
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
});

function w(): World {
  if (world === undefined) throw new Error("test.before did not finish");
  return world;
}

/** The rows, the secret and the table list are as the fixture made them. */
async function intact(t: ExecutionContext, olap: OlapEngine = w().olap, tables = ["Items", "Secrets"]): Promise<void> {
  const names = await olap.query<{ name: string }>("SELECT name FROM Items ORDER BY name");
  t.deepEqual(names.map((r) => r.name), ["alpha", "beta", "gamma", "it's `odd`"], "Items keeps its rows");
  const [secrets] = await olap.query<{ token: string }>("SELECT any(token) AS token FROM Secrets");
  t.is(secrets?.token, SECRET, "Secrets keeps its row");
  const listed = await olap.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name");
  t.deepEqual(listed.map((r) => r.name), tables, "no table was created or dropped");
}

const BIGINT_JSON = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? `${v}n` : v);
/** Parameters as the fixture's handlers report them: bigints as `<digits>n`. */
const asReported = (params: Record<string, unknown>): unknown => JSON.parse(JSON.stringify(params, BIGINT_JSON));

const V18 = capabilitiesFor("18.16.1");
const CHDB: ParameterDialect = { boolType: true, dateTime64: true };

// ---------------------------------------------------------------------------
// toQuery: what is inlined, what is bound, and what chDB reads back

interface BindCase {
  readonly name: string;
  /** Builds the query (the fixture app's `items` table is at hand). */
  readonly query: (items: OlapTable<Record<string, unknown>>) => Sql;
  readonly dialect?: ParameterDialect;
  readonly text: string;
  readonly params: Record<string, unknown>;
  /** The rows chDB answers through a handler's read-only query; left out where the text reads no column `v`. */
  readonly rows?: ReadonlyArray<Record<string, unknown>>;
  /** Request values that must not appear in the SQL text. */
  readonly absent?: readonly string[];
}

const MEGABYTE = "'`\\".repeat(350_000);
const when = new Date(Date.UTC(2024, 0, 31, 12, 0, 0, 250));

const BIND_CASES: BindCase[] = [
  { name: "?tags=a: a one-value array binds Array(String)", query: () => sql`SELECT ${["a"]} AS v`, text: "SELECT {p0:Array(String)} AS v", params: { p0: ["a"] }, rows: [{ v: ["a"] }] },
  { name: "?tags=a&tags=b: two values bind Array(String), the first is no type", query: () => sql`SELECT ${["a", "b"]} AS v`, text: "SELECT {p0:Array(String)} AS v", params: { p0: ["a", "b"] }, rows: [{ v: ["a", "b"] }], absent: ["{p0:a}"] },
  {
    name: 'a plain ["Array(String)", x] pair is an array of two strings, not a [type, value]',
    query: () => sql`SELECT ${["Array(String)", "x"]} AS v`,
    text: "SELECT {p0:Array(String)} AS v",
    params: { p0: ["Array(String)", "x"] },
    rows: [{ v: ["Array(String)", "x"] }],
  },
  {
    name: "a type name closing the placeholder is a value",
    query: () => sql`SELECT ${["String) UNION ALL SELECT token FROM Secrets --", "x"]} AS v`,
    text: "SELECT {p0:Array(String)} AS v",
    params: { p0: ["String) UNION ALL SELECT token FROM Secrets --", "x"] },
    rows: [{ v: ["String) UNION ALL SELECT token FROM Secrets --", "x"] }],
    absent: ["UNION", "Secrets"],
  },
  {
    name: "SQL in a string is a String value",
    query: () => sql`SELECT ${"x' UNION ALL SELECT token FROM Secrets --"} AS v`,
    text: "SELECT {p0:String} AS v",
    params: { p0: "x' UNION ALL SELECT token FROM Secrets --" },
    rows: [{ v: "x' UNION ALL SELECT token FROM Secrets --" }],
    absent: ["UNION"],
  },
  {
    name: "a placeholder in a string is a String value",
    query: () => sql`SELECT ${"{p1:Identifier}"} AS v, ${"b"} AS w`,
    text: "SELECT {p0:String} AS v, {p1:String} AS w",
    params: { p0: "{p1:Identifier}", p1: "b" },
    rows: [{ v: "{p1:Identifier}", w: "b" }],
  },
  { name: "backticks and a statement break", query: () => sql`SELECT ${"`; DROP TABLE Items; --"} AS v`, text: "SELECT {p0:String} AS v", params: { p0: "`; DROP TABLE Items; --" }, rows: [{ v: "`; DROP TABLE Items; --" }], absent: ["DROP"] },
  { name: "quotes and backslashes", query: () => sql`SELECT ${"a'b\"c\\'d"} AS v`, text: "SELECT {p0:String} AS v", params: { p0: "a'b\"c\\'d" }, rows: [{ v: "a'b\"c\\'d" }] },
  { name: "NUL, tab and newline", query: () => sql`SELECT ${"a\0b\tc\nd"} AS v`, text: "SELECT {p0:String} AS v", params: { p0: "a\0b\tc\nd" }, rows: [{ v: "a\0b\tc\nd" }] },
  { name: "a megabyte of quotes and backslashes", query: () => sql`SELECT length(${MEGABYTE}) AS v`, text: "SELECT length({p0:String}) AS v", params: { p0: MEGABYTE }, rows: [{ v: "1050000" }] },
  { name: "2^53 - 1 is the largest Int64 bound as a number", query: () => sql`SELECT ${Number.MAX_SAFE_INTEGER} AS v`, text: "SELECT {p0:Int64} AS v", params: { p0: 9007199254740991 }, rows: [{ v: "9007199254740991" }] },
  { name: "2^53 binds Float64 through its exact digits", query: () => sql`SELECT ${2 ** 53} AS v`, text: "SELECT {p0:Float64} AS v", params: { p0: 9007199254740992n }, rows: [{ v: 9007199254740992 }] },
  { name: "-2^53 binds Float64", query: () => sql`SELECT ${-(2 ** 53)} AS v`, text: "SELECT {p0:Float64} AS v", params: { p0: -9007199254740992n }, rows: [{ v: -9007199254740992 }] },
  { name: "1e300 binds Float64", query: () => sql`SELECT ${1e300} AS v`, text: "SELECT {p0:Float64} AS v", params: { p0: BigInt(1e300) }, rows: [{ v: 1e300 }] },
  { name: "-0 binds Int64 0", query: () => sql`SELECT ${-0} AS v`, text: "SELECT {p0:Int64} AS v", params: { p0: 0 }, rows: [{ v: "0" }] },
  { name: "a fraction binds Float64", query: () => sql`SELECT ${0.1} AS v`, text: "SELECT {p0:Float64} AS v", params: { p0: 0.1 }, rows: [{ v: 0.1 }] },
  { name: "the largest UInt64 as a bigint binds UInt64", query: () => sql`SELECT ${2n ** 64n - 1n} AS v`, text: "SELECT {p0:UInt64} AS v", params: { p0: 18446744073709551615n }, rows: [{ v: "18446744073709551615" }] },
  { name: "a negative bigint binds Int64", query: () => sql`SELECT ${-(2n ** 63n)} AS v`, text: "SELECT {p0:Int64} AS v", params: { p0: -9223372036854775808n }, rows: [{ v: "-9223372036854775808" }] },
  { name: "true binds Bool", query: () => sql`SELECT ${true} AS v`, text: "SELECT {p0:Bool} AS v", params: { p0: true }, rows: [{ v: true }] },
  { name: "false binds UInt8 0 for a server without Bool (18.16)", query: () => sql`SELECT ${false} AS v`, dialect: V18, text: "SELECT {p0:UInt8} AS v", params: { p0: 0 }, rows: [{ v: 0 }] },
  { name: "a Date binds DateTime64(3, 'UTC') as UTC text", query: () => sql`SELECT ${when} AS v`, text: "SELECT {p0:DateTime64(3, 'UTC')} AS v", params: { p0: "2024-01-31 12:00:00.250" }, rows: [{ v: "2024-01-31 12:00:00.250" }] },
  { name: "a Date binds DateTime('UTC') without DateTime64 (18.16)", query: () => sql`SELECT ${when} AS v`, dialect: V18, text: "SELECT {p0:DateTime('UTC')} AS v", params: { p0: "2024-01-31 12:00:00" }, rows: [{ v: "2024-01-31 12:00:00" }] },
  { name: "an empty array binds Array(String)", query: () => sql`SELECT ${[]} AS v`, text: "SELECT {p0:Array(String)} AS v", params: { p0: [] }, rows: [{ v: [] }] },
  { name: "whole numbers bind Array(Int64)", query: () => sql`SELECT ${[1, 2]} AS v`, text: "SELECT {p0:Array(Int64)} AS v", params: { p0: [1, 2] }, rows: [{ v: ["1", "2"] }] },
  { name: "whole numbers and fractions bind Array(Float64)", query: () => sql`SELECT ${[1, 2.5]} AS v`, text: "SELECT {p0:Array(Float64)} AS v", params: { p0: [1, 2.5] }, rows: [{ v: [1, 2.5] }] },
  { name: "nested arrays bind Array(Array(Int64)), an empty one included", query: () => sql`SELECT ${[[1], [2, 3], []]} AS v`, text: "SELECT {p0:Array(Array(Int64))} AS v", params: { p0: [[1], [2, 3], []] }, rows: [{ v: [["1"], ["2", "3"], []] }] },
  { name: "an empty inner array takes its siblings' type", query: () => sql`SELECT ${[[], ["x"]]} AS v`, text: "SELECT {p0:Array(Array(String))} AS v", params: { p0: [[], ["x"]] }, rows: [{ v: [[], ["x"]] }] },
  { name: "null in an array binds Array(Nullable(String))", query: () => sql`SELECT ${[null, "a"]} AS v`, text: "SELECT {p0:Array(Nullable(String))} AS v", params: { p0: [null, "a"] }, rows: [{ v: [null, "a"] }] },
  { name: "null binds Nullable(String)", query: () => sql`SELECT ${null} AS v`, text: "SELECT {p0:Nullable(String)} AS v", params: { p0: null }, rows: [{ v: null }] },
  { name: "booleans in an array bind Array(UInt8) for 18.16", query: () => sql`SELECT ${[true, false]} AS v`, dialect: V18, text: "SELECT {p0:Array(UInt8)} AS v", params: { p0: [1, 0] }, rows: [{ v: [1, 0] }] },
  {
    name: "Dates in an array bind Array(DateTime64(3, 'UTC'))",
    query: () => sql`SELECT ${[when, new Date(0)]} AS v`,
    text: "SELECT {p0:Array(DateTime64(3, 'UTC'))} AS v",
    params: { p0: ["2024-01-31 12:00:00.250", "1970-01-01 00:00:00.000"] },
    rows: [{ v: ["2024-01-31 12:00:00.250", "1970-01-01 00:00:00.000"] }],
  },
  {
    name: "tables, columns, fragments, joins and raw text are inlined; only values are bound",
    query: (items) =>
      sql`SELECT ${sql.join([items.columns.id, items.columns.name])} FROM ${items} WHERE ${sql.fragment`${items.columns.score} > ${0}`} AND ${sql.raw("1 = 1")} ORDER BY ${items.columns.id} LIMIT ${1}`,
    text: "SELECT `id`, `name` FROM `Items` WHERE `score` > {p0:Int64} AND 1 = 1 ORDER BY `id` LIMIT {p1:Int64}",
    params: { p0: 0, p1: 1 },
    rows: [{ id: "i1", name: "alpha" }],
  },
  {
    name: "sql.join of request values binds each",
    query: () => sql`SELECT [${sql.join(["a", "`b`"])}] AS v`,
    text: "SELECT [{p0:String}, {p1:String}] AS v",
    params: { p0: "a", p1: "`b`" },
    rows: [{ v: ["a", "`b`"] }],
  },
  {
    name: "parameters are numbered through nested fragments",
    query: () => sql`SELECT ${1} + ${sql`${2} + ${sql`${3}`}`} AS v`,
    text: "SELECT {p0:Int64} + {p1:Int64} + {p2:Int64} AS v",
    params: { p0: 1, p1: 2, p2: 3 },
    rows: [{ v: "6" }],
  },
  { name: "sql.typed binds the type its author chose", query: () => sql`SELECT ${sql.typed("Array(UInt32)", [1, 2])} AS v`, text: "SELECT {p0:Array(UInt32)} AS v", params: { p0: [1, 2] }, rows: [{ v: [1, 2] }] },
  {
    name: "an array declared Array(Float64) by the API binds Float64 whatever the request sent",
    query: () => {
      const ranks = [1, 2];
      declareParameterType(ranks, "Array(Float64)");
      return sql`SELECT ${ranks} AS v`;
    },
    text: "SELECT {p0:Array(Float64)} AS v",
    params: { p0: [1, 2] },
    rows: [{ v: [1, 2] }],
  },
  {
    name: "an empty array declared Array(Int64) binds Array(Int64)",
    query: () => {
      const ids: number[] = [];
      declareParameterType(ids, "Array(Int64)");
      return sql`SELECT ${ids} AS v`;
    },
    text: "SELECT {p0:Array(Int64)} AS v",
    params: { p0: [] },
    rows: [{ v: [] }],
  },
  {
    name: "64-bit digits declared Array(UInt64) bind as exact integers",
    query: () => {
      const ranks = [1, "18446744073709551615"];
      declareParameterType(ranks, "Array(UInt64)");
      return sql`SELECT ${ranks} AS v`;
    },
    text: "SELECT {p0:Array(UInt64)} AS v",
    params: { p0: [1, 18446744073709551615n] },
    rows: [{ v: ["1", "18446744073709551615"] }],
  },
  {
    name: "an empty array declared Array(Bool) binds Array(UInt8) for 18.16",
    query: () => {
      const flags: boolean[] = [];
      declareParameterType(flags, "Array(Bool)");
      return sql`SELECT ${flags} AS v`;
    },
    dialect: V18,
    text: "SELECT {p0:Array(UInt8)} AS v",
    params: { p0: [] },
    rows: [{ v: [] }],
  },
  {
    name: "a declared type outside the grammar is ignored",
    query: () => {
      const tags = ["a"];
      declareParameterType(tags, "Array(String)} UNION ALL SELECT 1 --");
      return sql`SELECT ${tags} AS v`;
    },
    text: "SELECT {p0:Array(String)} AS v",
    params: { p0: ["a"] },
    rows: [{ v: ["a"] }],
    absent: ["UNION"],
  },
];

for (const c of BIND_CASES) {
  test(`bind: ${c.name}`, async (t) => {
    const [text, params] = toQuery(c.query(w().items), c.dialect ?? CHDB);
    t.is(text, c.text);
    t.deepEqual(params, c.params);
    for (const value of c.absent ?? []) t.false(text.includes(value), `${value} is not in the SQL text`);
    if (c.rows !== undefined) t.deepEqual(await readOnlyQuery(w().olap)(text, params), c.rows);
    await intact(t);
  });
}

// ---------------------------------------------------------------------------
// Refused: values that are no ClickHouse parameter, and objects forged to look like ours

interface RefusalCase {
  readonly name: string;
  readonly query: (items: OlapTable<Record<string, unknown>>) => Sql;
  readonly message: string;
}

const OBJECT = "sql parameter p0: a plain object is neither a query parameter value nor something this library made";

const REFUSAL_CASES: RefusalCase[] = [
  { name: 'a JSON {"kind":"Column","name":"token"}', query: () => sql`SELECT ${JSON.parse('{"kind":"Column","name":"token"}')} FROM Secrets`, message: OBJECT },
  { name: "a JSON table", query: () => sql`SELECT * FROM ${JSON.parse('{"kind":"OlapTable","name":"Secrets","config":{}}')}`, message: OBJECT },
  {
    name: "a JSON fragment {strings, values}",
    query: () => sql`SELECT 1 WHERE ${JSON.parse('{"strings":["1 UNION ALL SELECT token FROM Secrets --"],"values":[]}')}`,
    message: OBJECT,
  },
  { name: "a JSON fragment inside an array", query: () => sql`SELECT ${[JSON.parse('{"strings":["1"],"values":[]}')]}`, message: OBJECT.replace("p0", "p0[0]") },
  { name: "a copy of a real column (the brand is the object, not its shape)", query: (items) => sql`SELECT ${{ ...items.columns.name }} FROM Items`, message: OBJECT },
  { name: "a copy of a real fragment", query: () => sql`SELECT 1 WHERE ${{ ...sql`1 UNION ALL SELECT token FROM Secrets` }}`, message: OBJECT },
  { name: "a Map", query: () => sql`SELECT ${new Map([["a", "b"]])}`, message: "sql parameter p0: a Map object is neither a query parameter value nor something this library made" },
  { name: "undefined (an optional parameter not given)", query: () => sql`SELECT ${undefined}`, message: "sql parameter p0: undefined cannot be a query parameter (an optional API parameter that was not given?)" },
  { name: "NaN", query: () => sql`SELECT ${Number("NaN")}`, message: "sql parameter p0: NaN is not a number ClickHouse parameters take" },
  { name: "Infinity", query: () => sql`SELECT ${Number("Infinity")}`, message: "sql parameter p0: Infinity is not a number ClickHouse parameters take" },
  { name: "an invalid Date", query: () => sql`SELECT ${new Date("2024-13-45")}`, message: "sql parameter p0: an invalid Date cannot be a query parameter" },
  {
    name: "a Date before DateTime64's range",
    query: () => sql`SELECT ${new Date("1800-01-01T00:00:00Z")}`,
    message: "sql parameter p0: 1800-01-01T00:00:00.000Z is outside the range of DateTime64(3, 'UTC'), 1900-01-01T00:00:00.000Z to 2299-12-31T23:59:59.999Z",
  },
  { name: "an array mixing numbers and strings", query: () => sql`SELECT ${[1, "a"]}`, message: "sql parameter p0[1]: an array mixing Int64 and String values has no ClickHouse type" },
  { name: "null beside an inner array", query: () => sql`SELECT ${[["a"], null]}`, message: "sql parameter p0[1]: an array of arrays cannot hold null (ClickHouse has no Nullable(Array))" },
  { name: "a bigint past UInt64", query: () => sql`SELECT ${2n ** 64n}`, message: "sql parameter p0: 18446744073709551616 is outside the 64-bit integer range" },
  { name: "sql.join with a forged item", query: () => sql`SELECT ${sql.join(["a", JSON.parse('{"kind":"Column","name":"x"}')])}`, message: OBJECT.replace("p0", "p1") },
];

for (const c of REFUSAL_CASES) {
  test(`refuse: ${c.name}`, async (t) => {
    const error = t.throws(() => toQuery(c.query(w().items)));
    t.is((error as MooseError).code, "SQL_PARAMETER");
    t.is(error?.message, c.message);
    await intact(t);
  });
}

test("refuse: toQuery of a JSON copy of a sql template (not made by this library)", (t) => {
  const forged = JSON.parse(JSON.stringify(sql`SELECT 1`)) as Sql;
  t.deepEqual(forged, { strings: ["SELECT 1"], values: [] });
  const error = t.throws(() => toQuery(forged));
  t.is(error?.message, "toQuery: the query is not a sql`...` template made by this library");
});

test("refuse: sql.typed with a type that would end the placeholder", (t) => {
  const error = t.throws(() => sql.typed("String} UNION ALL SELECT token FROM Secrets --", "x"));
  t.is(error?.message, 'sql.typed: "String} UNION ALL SELECT token FROM Secrets --" is not a ClickHouse type');
});

test("refuse: moose-lib's ApiHelpers.column binds an Identifier parameter, which handler queries refuse", async (t) => {
  const query = sql`SELECT ${ApiHelpers.column("token")} FROM ${w().items}`;
  t.deepEqual(toQuery(query), ["SELECT {p0:Identifier} FROM `Items`", { p0: "token" }]);
  const error = await t.throwsAsync(createApiUtils(w().olap).client.query.execute(query));
  t.is((error as MooseError).code, "API_QUERY_REFUSED");
  await intact(t);
});

// ---------------------------------------------------------------------------
// The fixture's API, end to end over HTTP

interface HttpCase {
  readonly name: string;
  readonly path: string;
  readonly status: number;
  readonly body: unknown;
  /** Request values that must not appear in the SQL text the handler ran. */
  readonly absent?: readonly string[];
}

const SEARCH = (where: string, params: Record<string, unknown>, rows: unknown[], select = "`id`", order = "`id`"): unknown => ({
  sql: `SELECT ${select} FROM \`Items\` WHERE 1 = 1${where} ORDER BY ${order}, \`id\` LIMIT {p${Object.keys(params).length}:Int64}`,
  params: { ...params, [`p${Object.keys(params).length}`]: 100 },
  rows,
});
const ids = (...list: string[]): unknown[] => list.map((id) => ({ id }));
const invalid = (path: string, reason: string, api = "search"): unknown => ({ error: `invalid query parameters for GET /api/${api}`, errors: [{ path, reason }] });
// Node's HTTP server takes 16 KiB of request head: 4,500 characters are 10,500 once encoded.
const LONG = "x'`".repeat(1500);
const q = encodeURIComponent;

const HTTP_CASES: HttpCase[] = [
  { name: "?tags=a binds Array(String)", path: "/api/search?tags=a", status: 200, body: SEARCH(" AND hasAny(`tags`, {p0:Array(String)})", { p0: ["a"] }, ids("i1", "i3")) },
  { name: "?tags= (empty) is one empty tag", path: "/api/search?tags=", status: 200, body: SEARCH(" AND hasAny(`tags`, {p0:Array(String)})", { p0: [""] }, []) },
  { name: "?tags=a&tags=b binds Array(String)", path: "/api/search?tags=a&tags=b", status: 200, body: SEARCH(" AND hasAny(`tags`, {p0:Array(String)})", { p0: ["a", "b"] }, ids("i1", "i2", "i3")) },
  {
    name: "?tags=Array(String) is a tag",
    path: `/api/search?tags=${q("Array(String)")}&tags=x`,
    status: 200,
    body: SEARCH(" AND hasAny(`tags`, {p0:Array(String)})", { p0: ["Array(String)", "x"] }, ids("i1", "i4")),
  },
  {
    name: "a tag closing the placeholder and reading Secrets is a tag",
    path: `/api/search?tags=${q("String)} UNION ALL SELECT token FROM Secrets --")}&tags=b`,
    status: 200,
    body: SEARCH(" AND hasAny(`tags`, {p0:Array(String)})", { p0: ["String)} UNION ALL SELECT token FROM Secrets --", "b"] }, ids("i2", "i3")),
    absent: ["UNION", "Secrets"],
  },
  { name: "a name with a quote and a comment", path: `/api/search?name=${q("' OR 1=1 --")}`, status: 200, body: SEARCH(" AND `name` = {p0:String}", { p0: "' OR 1=1 --" }, []), absent: ["OR 1=1"] },
  { name: "a name with a quote and backticks matches its row", path: `/api/search?name=${q("it's `odd`")}`, status: 200, body: SEARCH(" AND `name` = {p0:String}", { p0: "it's `odd`" }, ids("i4")) },
  { name: "a name with NUL", path: "/api/search?name=alpha%00", status: 200, body: SEARCH(" AND `name` = {p0:String}", { p0: "alpha\0" }, []) },
  { name: "a 4,500-character name", path: `/api/search?name=${q(LONG)}`, status: 200, body: SEARCH(" AND `name` = {p0:String}", { p0: LONG }, []) },
  {
    name: "?minScore=2^53 binds Float64 through its digits",
    path: "/api/search?minScore=9007199254740992",
    status: 200,
    body: SEARCH(" AND `score` >= {p0:Float64}", { p0: "9007199254740992n" }, ids("i3")),
  },
  { name: "?minScore=-0 binds Int64 0", path: "/api/search?minScore=-0", status: 200, body: SEARCH(" AND `score` >= {p0:Int64}", { p0: 0 }, ids("i1", "i2", "i3")) },
  { name: "?minScore=NaN is a 400", path: "/api/search?minScore=NaN", status: 400, body: invalid("minScore", 'expected Float64 (a number), got the string "NaN"') },
  { name: "?minScore=Infinity is a 400", path: "/api/search?minScore=Infinity", status: 400, body: invalid("minScore", 'expected Float64 (a number), got the string "Infinity"') },
  {
    name: "?ranks= with a UInt64 past 2^53 binds Array(UInt64) exactly",
    path: "/api/search?ranks=1&ranks=18446744073709551615",
    status: 200,
    body: SEARCH(" AND has({p0:Array(UInt64)}, `rank`)", { p0: [1, "18446744073709551615n"] }, ids("i1", "i3")),
  },
  { name: "?ranks=0 binds the declared Array(UInt64)", path: "/api/search?ranks=0", status: 200, body: SEARCH(" AND has({p0:Array(UInt64)}, `rank`)", { p0: [0] }, ids("i4")) },
  {
    name: "?ranks=-1 is a 400",
    path: "/api/search?ranks=-1",
    status: 400,
    body: invalid("ranks[0]", "expected UInt64 (an integer from 0 to 18446744073709551615, as a number or a string), got the number -1"),
  },
  { name: "?active=true binds Bool", path: "/api/search?active=true", status: 200, body: SEARCH(" AND `active` = {p0:Bool}", { p0: true }, ids("i1", "i3")) },
  { name: "?active=0 binds Bool false", path: "/api/search?active=0", status: 200, body: SEARCH(" AND `active` = {p0:Bool}", { p0: false }, ids("i2", "i4")) },
  { name: "?active=yes is a 400", path: "/api/search?active=yes", status: 400, body: invalid("active", 'expected Bool (true or false), got the string "yes"') },
  {
    name: "?since= binds DateTime64(3, 'UTC')",
    path: "/api/search?since=2024-02-15T01:00:00%2B01:00",
    status: 200,
    body: SEARCH(" AND `at` >= {p0:DateTime64(3, 'UTC')}", { p0: "2024-02-15 00:00:00.000" }, ids("i3", "i4")),
  },
  {
    name: "?since=2024-13-01 is a 400",
    path: "/api/search?since=2024-13-01",
    status: 400,
    body: invalid("since", "expected DateTime('UTC') (an ISO 8601 date-time such as 2024-01-31T12:00:00Z), got the string \"2024-13-01\""),
  },
  { name: "?orderBy=name picks the column", path: "/api/search?orderBy=name", status: 200, body: SEARCH("", {}, ids("i1", "i2", "i3", "i4"), "`id`", "`name`") },
  { name: "?orderBy=score picks the column", path: "/api/search?orderBy=score", status: 200, body: SEARCH("", {}, ids("i4", "i1", "i2", "i3"), "`id`", "`score`") },
  { name: "?orderBy=bogus is a 400 naming the values", path: "/api/search?orderBy=bogus", status: 400, body: invalid("orderBy", 'expected one of "id", "name", "score", got the string "bogus"') },
  {
    name: "?orderBy= with a backtick and SQL is a 400",
    path: `/api/search?orderBy=${q("name` FROM Secrets --")}`,
    status: 400,
    body: invalid("orderBy", 'expected one of "id", "name", "score", got the string "name` FROM Secrets --"'),
  },
  { name: "?orderBy twice is a 400", path: "/api/search?orderBy=id&orderBy=name", status: 400, body: invalid("orderBy", "expected one value, got 2 (repeat a parameter only for arrays)") },
  {
    name: "?fields=name&fields=score picks the columns",
    path: "/api/search?fields=name&fields=score&limit=2",
    status: 200,
    body: { sql: "SELECT `name`, `score` FROM `Items` WHERE 1 = 1 ORDER BY `id`, `id` LIMIT {p0:Int64}", params: { p0: 2 }, rows: [{ name: "alpha", score: 1.5 }, { name: "beta", score: 2.5 }] },
  },
  { name: "?fields=token is a 400 at its index", path: "/api/search?fields=id&fields=token", status: 400, body: invalid("fields[1]", 'expected one of "id", "name", "score", got the string "token"') },
  { name: "an undeclared parameter is a 400", path: "/api/search?table=Secrets", status: 400, body: invalid("table", "unknown parameter; expected parameters: tags, name, minScore, ranks, active, since, orderBy, fields, limit") },
  {
    name: 'a JSON {"kind":"Column"} in a parameter is refused, not inlined',
    path: `/api/probe?doc=${q('{"kind":"Column","name":"token"}')}`,
    status: 500,
    body: { error: `the handler of api/probe failed: ${OBJECT}` },
  },
  {
    name: "a JSON {strings, values} in a parameter is refused, not inlined",
    path: `/api/probe?doc=${q('{"strings":["1 UNION ALL SELECT token FROM Secrets --"],"values":[]}')}`,
    status: 500,
    body: { error: `the handler of api/probe failed: ${OBJECT}` },
  },
  {
    name: 'a JSON {"kind":"OlapTable"} map is refused, not inlined',
    path: `/api/probe?labels=${q('{"kind":"OlapTable","name":"Secrets"}')}`,
    status: 500,
    body: { error: `the handler of api/probe failed: ${OBJECT}` },
  },
  { name: "no object: NULL is bound", path: "/api/probe", status: 200, body: { sql: "SELECT {p0:Nullable(String)} AS v FROM `Items` LIMIT 1", params: { p0: null }, rows: [{ v: null }] } },
  {
    name: "every kind a handler computes binds and reads back",
    path: "/api/kinds",
    status: 200,
    body: {
      sql: "SELECT {p0:String} AS s, {p1:Int64} AS i, {p2:Float64} AS f, {p3:Bool} AS b, {p4:DateTime64(3, 'UTC')} AS d, {p5:Array(Float64)} AS af, {p6:Array(Array(String))} AS nested, {p7:Array(Nullable(String))} AS an, {p8:Nullable(String)} AS n, {p9:UInt64} AS u",
      params: { p0: "s", p1: -7, p2: 1.5, p3: true, p4: "2024-01-31 12:00:00.250", p5: [1, 2.5], p6: [[], ["x"]], p7: [null, "a"], p8: null, p9: "18446744073709551615n" },
      rows: [{ s: "s", i: "-7", f: 1.5, b: true, d: "2024-01-31 12:00:00.250", af: [1, 2.5], nested: [[], ["x"]], an: [null, "a"], n: null, u: "18446744073709551615" }],
    },
  },
  { name: "a bigint past UInt64 from a handler is a 500 naming it", path: "/api/kinds?big=18446744073709551616", status: 500, body: { error: "the handler of api/kinds failed: sql parameter p9: 18446744073709551616 is outside the 64-bit integer range" } },
];

for (const c of HTTP_CASES) {
  test(`http: ${c.name}`, async (t) => {
    const res = await fetch(`${w().server.url}${c.path}`);
    const body = (await res.json()) as { sql?: string };
    t.is(res.status, c.status);
    t.deepEqual(body, c.body);
    t.false(JSON.stringify(body).includes(SECRET), "the secret never comes back");
    for (const value of c.absent ?? []) t.false(body.sql?.includes(value) ?? false, `${value} is not in the SQL text`);
    await intact(t);
  });
}

test("the API's union parameters carry their values in the state (what the server checks)", (t) => {
  const columns = w().state.apis["api/search"]?.columns ?? [];
  t.deepEqual(
    columns.filter((c) => c.oneOf !== undefined),
    [
      { name: "orderBy", type: "LowCardinality(Nullable(String))", oneOf: ["id", "name", "score"] },
      { name: "fields", type: "Array(LowCardinality(String))", oneOf: ["id", "name", "score"] },
    ],
  );
  t.deepEqual(w().state.tables.Items?.columns.filter((c) => c.oneOf !== undefined), [], "table columns never carry values");
});

// ---------------------------------------------------------------------------
// The ClickHouse server (CI: Debian's 18.16)

const serverTest = process.env.CLICKHOUSE_URL ? test : test.skip;

const SERVER_SHAPES: ReadonlyArray<readonly [string, unknown, unknown]> = [
  ["a string with quotes, backslashes, tab and NUL", "it's `odd`\\\t\0", "it's `odd`\\\t\0"],
  ["a one-value array", ["a"], ["a"]],
  ["a type name in an array", ["Array(String)", "String) UNION ALL SELECT 1 --"], ["Array(String)", "String) UNION ALL SELECT 1 --"]],
  ["an Int64", -7, "-7"],
  ["2^53 as Float64", 2 ** 53, 9007199254740992],
  ["a UInt64 bigint", 2n ** 64n - 1n, "18446744073709551615"],
  ["a boolean (UInt8)", true, 1],
  ["a Date (DateTime('UTC'))", when, "2024-01-31 12:00:00"],
  ["null", null, null],
  ["nested arrays", [[1], [2, 3], []], [["1"], ["2", "3"], []]],
  ["an array with null", [null, "a"], [null, "a"]],
  ["booleans in an array", [true, false], [1, 0]],
];

/**
 * The 18.16 server, opened with its own database holding an Items and a Secrets table;
 * closed and dropped by the test.
 */
async function openServer(t: ExecutionContext): Promise<{ olap: OlapEngine; database: string }> {
  const database = `moose_params_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const config = serverConfigFromEnv(database);
  if (!config) throw new Error("CLICKHOUSE_URL is not set");
  const olap = await openOlapEngine(config);
  t.teardown(async () => {
    await olap.execute(`DROP DATABASE IF EXISTS \`${database}\``);
    await olap.close();
  });
  // The columns 18.16 has (no Bool): what the checks here read.
  await olap.execute("CREATE TABLE Items (id String, name String, tags Array(String)) ENGINE = MergeTree ORDER BY id");
  await olap.execute("CREATE TABLE Secrets (id String, token String) ENGINE = MergeTree ORDER BY id");
  await olap.insertJsonRows("Items", ITEMS.map(({ id, name, tags }) => ({ id, name, tags })));
  await olap.insertJsonRows("Secrets", [{ id: "s1", token: SECRET }]);
  return { olap, database };
}

serverTest("server: a query with parameters is refused before it is sent (no query parameters before 19.11); one without runs", async (t) => {
  const { olap } = await openServer(t);
  const caps = await olap.capabilities();
  t.false(caps.queryParameters);
  const utils = createApiUtils(olap);
  const error = await t.throwsAsync(utils.client.query.execute(sql`SELECT ${w().items.columns.id} FROM ${w().items} WHERE hasAny(${w().items.columns.tags}, ${["a", "b"]})`));
  t.is((error as MooseError).code, "UNSUPPORTED_BY_SERVER");
  t.is(error?.message, `cannot bind query parameters p0: ClickHouse ${caps.version} has no query parameters ({name:Type}, ClickHouse 19.11+)`);
  const rows = await (await utils.client.query.execute(sql`SELECT ${w().items.columns.id} FROM ${w().items} ORDER BY ${w().items.columns.id}`)).json();
  t.deepEqual(rows, ids("i1", "i2", "i3", "i4"));
  await intact(t, olap);
});

for (const [name, value, expected] of SERVER_SHAPES) {
  serverTest(`server: the 18.16 type and value text of ${name} are read by the server`, async (t) => {
    const { olap, database } = await openServer(t);
    const [text, params] = toQuery(sql`SELECT ${value} AS v`, await olap.capabilities());
    const type = /^SELECT \{p0:(.*)\} AS v$/.exec(text)?.[1];
    t.truthy(type);
    // What a server with query parameters does with `param_p0`: parse the value text as the
    // type, by TSV rules. A table column of that type, fed the same text, is read the same way.
    await olap.execute(`CREATE TABLE probe (v ${type}) ENGINE = Memory`);
    const textValue = formatQueryParams({ value: params.p0 });
    const url = new URL(process.env.CLICKHOUSE_URL as string);
    const insert = new URL(`${url.protocol}//${url.host}/`);
    insert.searchParams.set("database", database);
    insert.searchParams.set("query", "INSERT INTO probe FORMAT TabSeparated");
    const res = await fetch(insert, { method: "POST", body: `${textValue}\n`, headers: { "X-ClickHouse-User": decodeURIComponent(url.username) || "default", "X-ClickHouse-Key": decodeURIComponent(url.password) } });
    t.is(res.status, 200, await res.text());
    t.deepEqual(await olap.query("SELECT v FROM probe"), [{ v: expected }]);
    await intact(t, olap, ["Items", "Secrets", "probe"]);
  });
}
