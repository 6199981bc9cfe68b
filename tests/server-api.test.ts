import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { type StreamEngine } from "../lib/engines/stream/engine.js";
import { EngineError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import type { InfraMap } from "../lib/model/infra-map.js";
import { createApiUtils } from "../lib/runtime/api-utils.js";
import { loadApp, type LoadedApp } from "../lib/runtime/load-app.js";
import { createApiRoutes, type ApiRoutesOptions } from "../lib/server/api-routes.js";
import { startHttpServer, type RunningHttpServer } from "../lib/server/server.js";
import { startSyncs, type SyncManager } from "../lib/server/sync.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

// The fixture app is extracted (as `moose plan` reads it) for the state, and run (as
// `moose dev` runs it) for the handlers: the routes the state names must find their handlers.
const PROJECT = fileURLToPath(new URL("../../fixtures/runtime/basic/", import.meta.url));

// chDB holds one data directory per process (ava runs each file in its own process).
const dir = mkdtempSync(join(tmpdir(), "moose-server-api-"));
const logs: string[] = [];
const log = (line: string): void => {
  logs.push(line);
};

interface World {
  readonly state: InfraMap;
  readonly olap: OlapEngine;
  readonly streams: StreamEngine;
  readonly app: LoadedApp;
  readonly server: RunningHttpServer;
  readonly syncs: SyncManager;
}
let world: World | undefined;
const closers: Array<() => Promise<void>> = [];

test.before(async () => {
  const { map: state } = extractApp({ projectDir: PROJECT, mainFile: "app/index.ts" });
  const olap = await openOlapEngine({ engine: "embedded", dataDir: join(dir, "clickhouse"), database: "local" });
  closers.push(() => olap.close());
  const streams = await openStreamEngine({ engine: "embedded", dataDir: join(dir, "streams"), messageTimeoutMs: 1000, retentionMs: 600_000, replicationFactor: 1 });
  closers.push(() => streams.close());
  const ctx = { database: olap.database, capabilities: await olap.capabilities() };
  for (const table of Object.values(state.tables)) {
    for (const sql of statementsFor({ kind: "table.create", table }, ctx)) await olap.execute(sql);
  }
  for (const topic of Object.values(state.topics)) await streams.apply({ kind: "topic.create", topic });
  const app = await loadApp(join(PROJECT, "app", "index.ts"));
  const syncs = startSyncs({ getState: () => state, streams, olap, stateDir: join(dir, "state"), log, pollIntervalMs: 50 });
  closers.push(() => syncs.stop());
  const server = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    log,
    routes: () => [createApiRoutes({ getState: () => state, app: () => app, olap, streams, log })],
  });
  closers.push(() => server.close());
  world = { state, olap, streams, app, server, syncs };
});

test.after.always(async () => {
  for (const close of closers.reverse()) await close();
  rmSync(dir, { recursive: true, force: true });
});

function w(): World {
  if (world === undefined) throw new Error("test.before did not finish");
  return world;
}

function post(path: string, body: unknown, server = w().server): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
}

async function json(res: Response): Promise<unknown> {
  return res.json();
}

/** Another server on the same engines, with its own state and app (tests that change them don't disturb the others). */
async function serverWith(t: ExecutionContext, options: Partial<ApiRoutesOptions>): Promise<RunningHttpServer> {
  const { state, olap, streams, app } = w();
  const routes = createApiRoutes({ getState: () => state, app: () => app, olap, streams, log, ...options });
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, routes: () => [routes] });
  t.teardown(() => server.close());
  return server;
}

// ---------------------------------------------------------------------------
// Ingest

test("POST /ingest/events inserts the rows straight into the table", async (t) => {
  const res = await post("/ingest/events", [
    { id: "direct-1", kind: "click", at: "2024-01-31T12:00:00Z", count: 3 },
    { id: "direct-2", kind: "view", at: "2024-01-31T14:00:00+02:00", count: 4294967295 },
  ]);
  t.is(res.status, 200);
  t.deepEqual(await json(res), { inserted: 2 });
  const rows = await w().olap.query("SELECT id, kind, toString(at) AS at, count FROM Events WHERE id LIKE 'direct-%' ORDER BY id");
  t.deepEqual(rows, [
    { id: "direct-1", kind: "click", at: "2024-01-31 12:00:00", count: 3 },
    { id: "direct-2", kind: "view", at: "2024-01-31 12:00:00", count: 4294967295 },
  ]);
});

test("one bad row refuses the whole request: 400 with every error, nothing written", async (t) => {
  const res = await post("/ingest/events", [
    { id: "atomic-1", kind: "click", at: "2024-01-31T12:00:00Z", count: 1 },
    { id: "atomic-2", kind: 5, at: "2024-01-31T12:00:00Z", count: -1 },
    { id: "atomic-3", kind: "view", count: 1, extra: true },
  ]);
  t.is(res.status, 400);
  t.deepEqual(await json(res), {
    error: "4 invalid values in the body of POST /ingest/events; nothing was written",
    errors: [
      { path: "[1].kind", reason: "expected String (a string), got the number 5" },
      { path: "[1].count", reason: "expected UInt32 (an integer from 0 to 4294967295), got the number -1" },
      { path: "[2].extra", reason: "unknown field; expected fields: id, kind, at, count" },
      { path: "[2].at", reason: "required field is missing (DateTime('UTC'))" },
    ],
  });
  t.deepEqual(await w().olap.query("SELECT count() AS n FROM Events WHERE id LIKE 'atomic-%'"), [{ n: "0" }]);
});

test("POST /ingest/Users goes to the topic, and the sync writes it to the table", async (t) => {
  const { streams, syncs, olap } = w();
  const res = await post("/ingest/Users", [
    { id: "flow-1", name: "Ada", age: 36, tags: ["math"], address: { street: "Main St", zip: "1000" }, signedUpAt: "2024-01-31T12:00:00Z" },
    { id: "flow-2", name: "Bob", tags: [], address: [{ street: "A", zip: "1" }, { street: "B", zip: "2" }], signedUpAt: "2024-02-01T00:00:00.5Z" },
  ]);
  t.deepEqual(await json(res), { inserted: 2 });
  const produced = [];
  for (const p of await streams.offsets("Users")) {
    const read = await streams.readFrom("Users", p.partition, p.low, 1000);
    produced.push(...read.records.map((r) => r.value as { id: string }).filter((v) => v.id.startsWith("flow-")));
  }
  t.is(produced.length, 2);
  await syncs.flush();
  const rows = await olap.query("SELECT id, name, age, tags, address, toString(signedUpAt) AS at FROM Users WHERE id LIKE 'flow-%' ORDER BY id");
  t.deepEqual(rows, [
    { id: "flow-1", name: "Ada", age: 36, tags: ["math"], address: [{ street: "Main St", zip: "1000" }], at: "2024-01-31 12:00:00" },
    { id: "flow-2", name: "Bob", age: null, tags: [], address: [{ street: "A", zip: "1" }, { street: "B", zip: "2" }], at: "2024-02-01 00:00:00" },
  ]);
});

test("an invalid body for a topic endpoint produces nothing", async (t) => {
  const { streams } = w();
  const res = await post("/ingest/Users", { id: "nope", name: "x", tags: "a", address: {}, signedUpAt: "2024-01-31" });
  t.is(res.status, 400);
  t.deepEqual(await json(res), {
    error: "3 invalid values in the body of POST /ingest/Users; nothing was written",
    errors: [
      { path: "tags", reason: 'expected Array(String) (an array), got the string "a"' },
      { path: "address.street", reason: "required field is missing (String)" },
      { path: "address.zip", reason: "required field is missing (String)" },
    ],
  });
  // Other tests produce to Users meanwhile: look for this body's record rather than compare offsets.
  for (const p of await streams.offsets("Users")) {
    const { records } = await streams.readFrom("Users", p.partition, p.low, 10_000);
    t.false(records.some((r) => (r.value as { id?: unknown }).id === "nope"), `partition ${p.partition}`);
  }
});

test("bad JSON is a 400 and a GET on an ingest route is a 405", async (t) => {
  const { server } = w();
  const bad = await fetch(`${server.url}/ingest/events`, { method: "POST", body: "{" });
  t.is(bad.status, 400);
  t.regex(((await json(bad)) as { error: string }).error, /^request body is not valid JSON/);
  const get = await fetch(`${server.url}/ingest/events`);
  t.is(get.status, 405);
  t.is(get.headers.get("allow"), "POST");
});

test("a body over the limit is a 413", async (t) => {
  const server = await serverWith(t, { maxBodyBytes: 100 });
  const res = await post("/ingest/events", Array.from({ length: 10 }, (_, i) => ({ id: `big-${i}`, kind: "view", at: "2024-01-31T12:00:00Z", count: i })), server);
  t.is(res.status, 413);
});

test("an ingest endpoint to a topic without a stream engine answers 503", async (t) => {
  const server = await serverWith(t, { streams: undefined });
  const res = await post("/ingest/Foo", { primaryKey: "a", timestamp: 1, count: 1 }, server);
  t.is(res.status, 503);
  t.deepEqual(await json(res), { error: "ingest/Foo delivers to topic Foo, but no stream engine is running (features.streaming_engine)" });
});

// ---------------------------------------------------------------------------
// Consumption

test("GET /api/users types the query parameters and runs the app's handler on the table", async (t) => {
  const { syncs } = w();
  const users = [
    { id: "api-1", name: "Young", age: 20, tags: ["api-test"], address: [], signedUpAt: "2024-01-01T00:00:00Z" },
    { id: "api-2", name: "Old", age: 40, tags: ["api-test", "x"], address: [], signedUpAt: "2024-01-01T00:00:00Z" },
    { id: "api-3", name: "Older", age: 50, tags: ["api-test"], address: [], signedUpAt: "2024-01-01T00:00:00Z" },
  ];
  t.is((await post("/ingest/Users", users)).status, 200);
  await syncs.flush();
  const res = await fetch(`${w().server.url}/api/users?minAge=30&tag=api-test&tag=other&limit=10`);
  t.is(res.status, 200);
  t.deepEqual(await json(res), [
    { id: "api-2", name: "Old", age: 40 },
    { id: "api-3", name: "Older", age: 50 },
  ]);
  const limited = await fetch(`${w().server.url}/api/users?minAge=30&tag=api-test&limit=1`);
  t.deepEqual(await json(limited), [{ id: "api-2", name: "Old", age: 40 }]);
});

test("a handler using moose-lib's client.query.execute(sql`...`) gets bound parameters", async (t) => {
  const res = await fetch(`${w().server.url}/api/bar/1?orderBy=rowsWithText&limit=3&tags=a&tags=b&withText=true`);
  t.is(res.status, 200);
  t.deepEqual(await json(res), { rows: [{ totalRows: "0", positive: "0", orderBy: "rowsWithText", lim: "3" }], tags: ["a", "b"], withText: true });
});

test("invalid query parameters are a 400 naming each", async (t) => {
  const { server } = w();
  const bad = await fetch(`${server.url}/api/users?minAge=old&limit=2&limit=3&nope=1`);
  t.is(bad.status, 400);
  t.deepEqual(await json(bad), {
    error: "invalid query parameters for GET /api/users",
    errors: [
      { path: "nope", reason: "unknown parameter; expected parameters: minAge, tag, limit" },
      { path: "limit", reason: "expected one value, got 2 (repeat a parameter only for arrays)" },
    ],
  });
  const missing = await fetch(`${server.url}/api/users`);
  t.deepEqual(await json(missing), { error: "invalid query parameters for GET /api/users", errors: [{ path: "minAge", reason: "required field is missing (Float64)" }] });
  const notNumber = await fetch(`${server.url}/api/users?minAge=old`);
  t.deepEqual(await json(notNumber), {
    error: "invalid query parameters for GET /api/users",
    errors: [{ path: "minAge", reason: 'expected Float64 (a number), got the string "old"' }],
  });
});

test("a handler that throws is a 500 and the server stays up; handlers cannot write", async (t) => {
  const { server } = w();
  const broken = await fetch(`${server.url}/api/broken`);
  t.is(broken.status, 500);
  t.deepEqual(await json(broken), { error: "the handler of api/broken failed: the broken handler broke" });
  t.true(logs.some((l) => l.startsWith("GET /api/broken: the handler threw: Error: the broken handler broke")));
  const writer = await fetch(`${server.url}/api/writer`);
  t.is(writer.status, 500);
  t.deepEqual(await json(writer), { error: 'the handler of api/writer failed: an API handler may only read; client.query.command("TRUNCATE TABLE Users") was refused' });
  t.is((await fetch(`${server.url}/health`)).status, 200);
  t.is((await fetch(`${server.url}/api/tools/echo?n=2`)).status, 200);
  t.deepEqual(await json(await fetch(`${server.url}/api/tools/echo?n=2.5`)), { n: 2.5 });
});

test("a handler's query() reads with bound parameters and refuses writes, as ClickHouse parses them", async (t) => {
  const { query } = createApiUtils(w().olap);
  t.deepEqual(await query("SELECT {n:UInt8} + 1 AS m", { n: 1 }), [{ m: 2 }]);
  t.deepEqual(await query("SELECT 1 AS one;"), [{ one: 1 }]);
  const error = await t.throwsAsync(query("INSERT INTO Events (id) VALUES ({id:String})", { id: "sneaky" }));
  t.is((error as { code?: string }).code, "API_QUERY_REFUSED");
  t.is(error?.message, "the API handler's query refused: ClickHouse parses it as InsertQuery, not as a SELECT");
  await t.throwsAsync(query("ALTER TABLE Events DELETE WHERE 1"), { message: /ClickHouse parses it as AlterQuery/ });
  t.deepEqual(await w().olap.query("SELECT count() AS n FROM Events WHERE id = 'sneaky'"), [{ n: "0" }]);
});

test("with the app not loaded, consumption APIs answer 503 with the load error; ingest still works", async (t) => {
  const loadError = new EngineError("APP_LOAD_FAILED", "cannot load the app: syntax error in app/index.ts:4:46: ')' expected.");
  const server = await serverWith(t, { app: () => undefined, appError: () => loadError });
  const res = await fetch(`${server.url}/api/tools/echo?n=1`);
  t.is(res.status, 503);
  t.deepEqual(await json(res), { error: "GET /api/tools/echo has no handler: the app failed to load: cannot load the app: syntax error in app/index.ts:4:46: ')' expected." });
  const ingest = await post("/ingest/events", { id: "noapp-1", kind: "view", at: "2024-01-31T12:00:00Z", count: 1 }, server);
  t.deepEqual(await json(ingest), { inserted: 1 });

  const starting = await serverWith(t, { app: () => undefined });
  t.deepEqual(await json(await fetch(`${starting.url}/api/tools/echo?n=1`)), { error: "GET /api/tools/echo has no handler: the app is not loaded yet" });
});

test("routes follow the state: an API leaves and comes back without a restart", async (t) => {
  const full = w().state;
  let state: InfraMap = full;
  const server = await serverWith(t, { getState: () => state });
  const row = { id: "routes-1", kind: "view", at: "2024-01-31T12:00:00Z", count: 1 };
  t.is((await post("/ingest/events", row, server)).status, 200);

  const { ["ingest/events"]: _gone, ["api/tools/echo"]: _alsoGone, ...rest } = full.apis;
  state = { ...full, apis: rest };
  const gone = await post("/ingest/events", row, server);
  t.is(gone.status, 404);
  t.deepEqual(await json(gone), { error: "no route for POST /ingest/events" });
  t.is((await fetch(`${server.url}/api/tools/echo?n=1`)).status, 404);
  t.is((await fetch(`${server.url}/api/users?minAge=1`)).status, 200);

  state = full;
  t.is((await post("/ingest/events", row, server)).status, 200);
  t.is((await fetch(`${server.url}/api/tools/echo?n=1`)).status, 200);

  // In the state but not in the code (a migration ahead of the app): 503, not a crash.
  state = { ...full, apis: { ...full.apis, "api/ghost": { name: "api/ghost", kind: "consumption", columns: [] } } };
  const ghost = await fetch(`${server.url}/api/ghost`);
  t.is(ghost.status, 503);
  t.deepEqual(await json(ghost), {
    error: "GET /api/ghost has no handler: the app declares no API at api/ghost (the applied migrations have it: generate and deploy a migration, or restore the API in the code)",
  });
});

test("/health and 404 on the API server", async (t) => {
  const { server } = w();
  t.deepEqual(await json(await fetch(`${server.url}/health`)), { status: "ok" });
  const res = await fetch(`${server.url}/api/nope`);
  t.is(res.status, 404);
  t.deepEqual(await json(res), { error: "no route for GET /api/nope" });
  t.is((await fetch(`${server.url}/api/users?minAge=1`, { method: "POST" })).status, 405);
});
