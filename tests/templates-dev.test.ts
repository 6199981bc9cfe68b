import test, { type ExecutionContext } from "ava";
import { createClient } from "@clickhouse/client";
import { cpSync, existsSync, symlinkSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectRedis } from "../lib/runtime/redis.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";

/**
 * Moose's three public templates (fixtures/moose-templates: app code, moose.config.toml and
 * package.json as they are in 514-labs/moosestack) under the real `moose dev` binary, on
 * the embedded engines: records posted to /ingest/Foo go through the template's transform
 * (which uses MooseCache) to Bar, its materialized view's table BarAggregated and, for the
 * record the transform throws on, the dead-letter table FooDeadLetter; the template's APIs
 * answer from the data (and from MooseCache on a repeated call), and the Express and
 * Fastify web apps answer at their mount paths. The templates enable workflows and point
 * [temporal_config] at localhost:7233, where nothing answers here: dev runs them in its
 * embedded workflow engine, and `moose workflow run generator` runs the template's tasks.
 */
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = join(REPO, "fixtures", "moose-templates");

type Template = "typescript" | "typescript-express" | "typescript-fastify";

/** A free loopback port (for the ClickHouse HTTP interface dev serves at host_port, and an unused Redis address). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function templateProject(t: ExecutionContext, template: Template): Promise<string> {
  const dir = join(tempDir(`tpl-${template}`), template);
  cpSync(join(FIXTURES, template), dir, { recursive: true });
  // The app's packages (express, fastify, @faker-js/faker) are this repository's devDependencies.
  if (!existsSync(join(dir, "node_modules"))) symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  // The template's own moose.config.toml, unchanged.
  const plan = await runCli(dir, ["plan"]);
  t.is(plan.code, 0, plan.stderr);
  return dir;
}

/** The variables each project's dev runs with: other commands must see the same addresses. */
const envOf = new Map<string, Record<string, string>>();

async function query<T>(dir: string, sql: string): Promise<T[]> {
  const r = await runCli(dir, ["query", sql, "--format", "json"], envOf.get(dir) ?? {});
  if (r.code !== 0) throw new Error(`moose query failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

/** Polls until `done` holds for the rows (the transform and the syncs run in the background). */
async function eventually<T>(dir: string, sql: string, done: (rows: T[]) => boolean, timeoutMs = 30_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await query<T>(dir, sql);
    if (done(rows) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until anything printed so far matches (the consumers print concurrently with the other lines). */
async function printed(dev: DevProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(dev.text);
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`moose dev did not print ${pattern}; output:\n${dev.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const post = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

// 2023-11-14 22:13:20 UTC and 2023-11-15 22:13:20 UTC; 1728000000 is the template's "throw" value.
const FOO = [
  { primaryKey: "a", timestamp: 1700000000, optionalText: "hello" },
  { primaryKey: "b", timestamp: 1700086400 },
  { primaryKey: "dead", timestamp: 1728000000.0, optionalText: "boom" },
];

interface Started {
  readonly dir: string;
  readonly dev: DevProcess;
  readonly url: string;
  /** Where dev serves ClickHouse's HTTP interface (the config's host, on a free host_port). */
  readonly clickhouseUrl: string;
}

/** Starts dev on the template, posts the records, and checks Bar, BarAggregated and FooDeadLetter. */
async function startAndIngest(t: ExecutionContext, template: Template, env: Record<string, string> = {}, devArgs: readonly string[] = []): Promise<Started> {
  const dir = await templateProject(t, template);
  // A key prefix of its own: a Redis the config points at may be shared with other runs.
  const chPort = await freePort();
  const devEnv: Record<string, string> = {
    // Only addresses are overridden (Moose's MOOSE_<SECTION>__<KEY> variables); the file is the template's.
    MOOSE_HTTP_SERVER_CONFIG__MANAGEMENT_PORT: String(await freePort()),
    // Several dev servers may run at once: the direct connection on a port of its own.
    MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: String(chPort),
    // A key prefix of its own: the Redis the config points at may be shared with other runs.
    MOOSE_REDIS_CONFIG__KEY_PREFIX: `t${process.pid}${template.length}${Date.now()}`,
    ...env,
  };
  envOf.set(dir, devEnv);
  const dev = new DevProcess(dir, devArgs, devEnv);
  t.teardown(() => void dev.stop());
  const url = await dev.url();
  // No Temporal answers at the template's localhost:7233: the workflows run embedded.
  await dev.waitFor(/workflows embedded \(nothing answers at localhost:7233\); state in \.moose\/workflows\.json/);
  await dev.waitFor(/✓ applied \d+ steps? in/, 120_000);

  const ingest = await post(`${url}/ingest/Foo`, FOO);
  t.is(ingest.status, 200, await ingest.clone().text());

  const bar = await eventually<{ primaryKey: string; utcTimestamp: string; hasText: boolean; textLength: number }>(
    dir,
    "SELECT primaryKey, toString(utcTimestamp) AS utcTimestamp, hasText, textLength FROM Bar ORDER BY primaryKey",
    (rows) => rows.length >= 2,
  );
  t.deepEqual(bar, [
    { primaryKey: "a", utcTimestamp: "2023-11-14 22:13:20", hasText: true, textLength: 5 },
    { primaryKey: "b", utcTimestamp: "2023-11-15 22:13:20", hasText: false, textLength: 0 },
  ]);
  const daily = await query<{ dayOfMonth: unknown; totalRows: unknown; rowsWithText: unknown; maxTextLength: unknown }>(
    dir,
    "SELECT dayOfMonth, sum(totalRows) AS totalRows, sum(rowsWithText) AS rowsWithText, max(maxTextLength) AS maxTextLength FROM BarAggregated GROUP BY dayOfMonth ORDER BY dayOfMonth",
  );
  t.deepEqual(
    daily.map((r) => [Number(r.dayOfMonth), Number(r.totalRows), Number(r.rowsWithText), Number(r.maxTextLength)]),
    [
      [14, 1, 1, 5],
      [15, 1, 0, 0],
    ],
  );
  const dead = await eventually<{ errorMessage: string; errorType: string; source: string; original: string }>(
    dir,
    "SELECT errorMessage, errorType, source, toJSONString(originalRecord) AS original FROM FooDeadLetter",
    (rows) => rows.length >= 1,
  );
  t.is(dead.length, 1);
  t.like(dead[0], { errorMessage: "blah", errorType: "Error", source: "transform" });
  const original = JSON.parse(dead[0]!.original) as Record<string, unknown>;
  t.like(original, { primaryKey: "dead", optionalText: "boom" });
  // The JSON column gives 64-bit integers as text.
  t.is(Number(original.timestamp), 1728000000);
  t.is(Number(original.__sourcePartition), 0);

  // The failure is in the terminal with the template's file and line; the runtime goes on.
  const failure = await printed(dev, /transform Foo → Bar failed on record Foo\/0@\d+: .*\n/);
  t.regex(failure, /app\/ingest\/transforms\.ts:\d+:\d+: Error: blah; sent to FooDeadLetterQueue/);
  // The consumers ran: the stream's (printFooEvent) and the dead-letter queue's (deadLetter.asTyped()).
  await printed(dev, /Primary Key: dead/);
  await printed(dev, /primaryKey: 'dead'/);
  return { dir, dev, url, clickhouseUrl: `http://localhost:${chPort}` };
}

/** The template's API (`GET /api/bar`): rows from BarAggregated, then the same answer from MooseCache. */
async function checkBarApi(t: ExecutionContext, started: Started): Promise<void> {
  const { dir, url } = started;
  const first = await fetch(`${url}/api/bar?orderBy=totalRows&limit=5`);
  t.is(first.status, 200, await first.clone().text());
  const rows = (await first.json()) as Array<{ dayOfMonth: unknown; totalRows: unknown }>;
  t.deepEqual(rows.map((r) => [Number(r.dayOfMonth), Number(r.totalRows)]).sort(), [
    [14, 1],
    [15, 1],
  ]);
  const bad = await fetch(`${url}/api/bar?orderBy=nope`);
  t.is(bad.status, 400);

  // A record for another day: the table changes, the cached answer (same parameters) does not.
  t.is((await post(`${url}/ingest/Foo`, { primaryKey: "c", timestamp: 1700172800 })).status, 200);
  await eventually(dir, "SELECT primaryKey FROM Bar", (r) => r.length >= 3);
  const cached = (await (await fetch(`${url}/api/bar?orderBy=totalRows&limit=5`)).json()) as unknown[];
  t.is(cached.length, 2, "served from MooseCache");
  const fresh = (await (await fetch(`${url}/api/bar?orderBy=totalRows&limit=6`)).json()) as unknown[];
  t.is(fresh.length, 3, "another cache key: a new query");

  // The transform's own cache: the same primaryKey again is answered from it.
  t.is((await post(`${url}/ingest/Foo`, { primaryKey: "a", timestamp: 1700000000, optionalText: "hello" })).status, 200);
  // The cached Bar of "a" goes on to the table like any other: a second row for day 14, in an insert of its own.
  t.is((await eventually(dir, "SELECT primaryKey FROM Bar", (r) => r.length >= 4)).length, 4);

  // The same rows through the direct connection, with the config's user and password.
  const client = createClient({ url: started.clickhouseUrl, username: "panda", password: "pandapass", database: "local" });
  try {
    const direct = await client.query({ query: "SELECT primaryKey, count() AS n FROM Bar GROUP BY primaryKey ORDER BY primaryKey", format: "JSONEachRow" });
    t.deepEqual(((await direct.json()) as Array<{ primaryKey: string; n: unknown }>).map((r) => [r.primaryKey, Number(r.n)]), [
      ["a", 2],
      ["b", 1],
      ["c", 1],
    ]);
  } finally {
    await client.close();
  }
}

/** Whether nothing listens on a loopback port. */
async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "localhost", () => server.close(() => resolve(true)));
  });
}

test.serial("typescript template under moose dev: ingest → transform → Bar, BarAggregated, FooDeadLetter; /api/bar and /api/bar/1 with MooseCache; moose workflow run generator", async (t) => {
  // The template's workflow posts to http://localhost:4000/ingest/Foo (its config's port): dev listens there when it can.
  const on4000 = await portFree(4000);
  const started = await startAndIngest(t, "typescript", {}, on4000 ? ["--port", "4000"] : []);
  await checkBarApi(t, started);
  await printed(started.dev, /Using cached result for a/);
  const v1 = await fetch(`${started.url}/api/bar/1?orderBy=rowsWithText`);
  t.is(v1.status, 200, await v1.clone().text());
  const v1Rows = (await v1.json()) as Array<{ dayOfMonth: unknown; rowsWithText: unknown; metadata: unknown }>;
  t.deepEqual(v1Rows[0]?.metadata, { version: "1.0", queryParams: { orderBy: "rowsWithText", limit: 5, startDay: 1, endDay: 31 } });
  t.deepEqual(v1Rows.map((r) => [Number(r.dayOfMonth), Number(r.rowsWithText)]).sort(), [
    [14, 1],
    [14, 1],
    [15, 0],
    [16, 0],
  ]);

  // The template's workflow, run by the embedded engine: task ingest posts 1,000 Foo records (to port 4000) and
  // writes progress rows to FooWorkflow; its onComplete task notifyComplete gets the count and prints it.
  const { dir, dev } = started;
  const env = envOf.get(dir)!;
  const listed = await runCli(dir, ["workflow", "list", "--json"], env);
  t.is(listed.code, 0, listed.stderr);
  t.like((JSON.parse(listed.stdout) as { workflows: unknown[] }).workflows[0], { name: "generator", declared: true, scheduled: false, paused: false });
  const ran = await runCli(dir, ["workflow", "run", "generator"], env);
  t.is(ran.code, 0, ran.stderr);
  const runId = /started: run (\S+)/.exec(ran.stdout)![1]!;
  const done = await printed(dev, new RegExp(`✓ workflow generator run ${runId} completed in \\d+ ms`), 120_000);
  t.truthy(done);
  const ingested = Number(/✅ Workflow completed! Successfully ingested (\d+) records/.exec(dev.text)![1]);
  const wfStatus = await runCli(dir, ["workflow", "status", "generator", "--json"], env);
  t.is(wfStatus.code, 0, wfStatus.stderr);
  const run = (JSON.parse(wfStatus.stdout) as { runs: Array<{ id: string; status: string; tasks: Array<{ name: string; status: string }>; results: unknown[] }> }).runs[0]!;
  t.like(run, { id: runId, status: "completed", results: [ingested, null] });
  t.deepEqual(run.tasks.map((x) => [x.name, x.status]), [
    ["ingest", "completed"],
    ["notifyComplete", "completed"],
  ]);
  // The task does not await its inserts: they may land just after the run ends.
  const progress = await eventually<{ message: string }>(
    dir,
    "SELECT message FROM FooWorkflow WHERE success ORDER BY toUInt32(splitByChar(' ', message)[2])",
    (rows) => rows.length >= 10,
  );
  t.deepEqual(progress.map((r) => r.message), Array.from({ length: 10 }, (_, i) => `Ingested ${i * 100} records`));
  const failures = await eventually<{ n: unknown }>(dir, "SELECT count() AS n FROM FooWorkflow WHERE NOT success", (rows) => Number(rows[0]?.n) >= 1000 - ingested);
  t.is(Number(failures[0]!.n), 1000 - ingested);
  if (on4000) {
    // Dev had the template's port: every record reached Bar through the transform.
    t.is(ingested, 1000);
    t.is((await eventually(dir, "SELECT primaryKey FROM Bar", (r) => r.length >= 1004, 60_000)).length, 1004);
  }
  // Read without dev: the saved history answers.
  await dev.stop();
  const history = await runCli(dir, ["workflow", "history", "--json"], env);
  t.is(history.code, 0, history.stderr);
  t.like((JSON.parse(history.stdout) as { runs: unknown[] }).runs[0], { id: runId, status: "completed", trigger: "manual" });
  const offline = await runCli(dir, ["workflow", "run", "generator"], env);
  t.is(offline.code, 1);
  t.regex(offline.stderr, /error\[DEV_NOT_RUNNING\]: moose workflow run needs the running moose dev: workflows run inside it/);

  // Reading commands without dev: nothing answers at the config's localhost:host_port, so they read the data dev keeps.
  const note = /note: moose dev is not running: reading the data it keeps in \.moose\/clickhouse \(dev serves it at localhost:\d+ while it runs\)/;
  const ls = await runCli(dir, ["ls", "--json", "--type", "table"], env);
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stderr, note);
  const tables = (JSON.parse(ls.stdout) as { declared: { tables: Array<{ name: string; state: string; live: boolean }> } }).declared.tables;
  t.deepEqual(tables.map((x) => [x.name, x.state, x.live]).sort(), [
    ["Bar", "applied", true],
    ["BarAggregated", "applied", true],
    ["FooDeadLetter", "applied", true],
    ["FooWorkflow", "applied", true],
  ]);
  const count = await runCli(dir, ["query", "SELECT count() AS n FROM FooWorkflow", "--format", "json"], env);
  t.is(count.code, 0, count.stderr);
  t.is(Number((JSON.parse(count.stdout) as Array<{ n: unknown }>)[0]!.n), 10 + (1000 - ingested));
  const status = await runCli(dir, ["migrate", "status"], env);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stderr, note);
});

test.serial("typescript-express template under moose dev: the data flows, /api/bar answers, the Express WebApp answers at /express", async (t) => {
  // Nothing answers at this Redis address: dev keeps the cache in-process (and says so).
  const noRedis = `redis://127.0.0.1:${await freePort()}`;
  const started = await startAndIngest(t, "typescript-express", { MOOSE_REDIS_CONFIG__URL: noRedis });
  await printed(started.dev, /MooseCache: no Redis answers at redis:\/\/127\.0\.0\.1:\d+ \(\[redis_config\]\); the cache is in-process for this dev session/);
  await checkBarApi(t, started);
  const { url, dev } = started;
  const health = await fetch(`${url}/express/health`);
  t.is(health.status, 200);
  t.like(await health.json(), { status: "ok", service: "bar-express-api" });
  await printed(dev, /\[bar-express\.ts\] GET \/health/);
  const q = await fetch(`${url}/express/query?limit=2`);
  t.is(q.status, 200, await q.clone().text());
  const body = (await q.json()) as { success: boolean; count: number; data: Array<{ dayOfMonth: unknown; totalRows: unknown }> };
  t.true(body.success);
  t.is(body.count, 2);
  const data = await post(`${url}/express/data`, { orderBy: "maxTextLength", limit: 10 });
  t.is(data.status, 200, await data.clone().text());
  const dataBody = (await data.json()) as { success: boolean; params: unknown; data: Array<{ dayOfMonth: unknown; maxTextLength: unknown }> };
  t.deepEqual(dataBody.params, { orderBy: "maxTextLength", limit: 10, startDay: 1, endDay: 31 });
  t.deepEqual(dataBody.data.map((r) => [Number(r.dayOfMonth), Number(r.maxTextLength)]).sort(), [
    [14, 5],
    [14, 5],
    [15, 0],
    [16, 0],
  ]);
  // No JWT is configured: the template's guard answers 401.
  t.is((await fetch(`${url}/express/protected`)).status, 401);
  t.is((await fetch(`${url}/express/nothing-here`)).status, 404);
});

test.serial("typescript-fastify template under moose dev: the data flows, /api/bar answers, the Fastify WebApp answers at /fastify", async (t) => {
  const started = await startAndIngest(t, "typescript-fastify");
  await checkBarApi(t, started);
  const { url } = started;
  const health = await fetch(`${url}/fastify/health`);
  t.is(health.status, 200, await health.clone().text());
  t.like(await health.json(), { status: "ok", service: "bar-fastify-api" });
  const q = await fetch(`${url}/fastify/query?limit=1`);
  t.is(q.status, 200, await q.clone().text());
  const body = (await q.json()) as { success: boolean; count: number };
  t.true(body.success);
  t.is(body.count, 1);
  const data = await post(`${url}/fastify/data`, { orderBy: "totalRows", startDay: 15 });
  t.is(data.status, 200, await data.clone().text());
  const dataBody = (await data.json()) as { data: Array<{ dayOfMonth: unknown; totalRows: unknown }> };
  t.deepEqual(dataBody.data.map((r) => [Number(r.dayOfMonth), Number(r.totalRows)]).sort(), [
    [15, 1],
    [16, 1],
  ]);
});

const REDIS_URL = process.env.REDIS_URL;
(REDIS_URL ? test.serial : test.skip)("typescript template with MooseCache on Redis (REDIS_URL): the transform's and the API's cache entries are in Redis", async (t) => {
  const prefix = `tr${process.pid}${Date.now()}`;
  const started = await startAndIngest(t, "typescript", { MOOSE_REDIS_CONFIG__URL: REDIS_URL!, MOOSE_REDIS_CONFIG__KEY_PREFIX: prefix });
  await printed(started.dev, /MooseCache: Redis at redis:\/\//);
  await checkBarApi(t, started);
  const redis = await connectRedis(REDIS_URL!);
  t.teardown(() => redis.close());
  const bar = await redis.command(["GET", `${prefix}::moosecache::processed:b`]);
  t.like(JSON.parse(String(bar)) as object, { primaryKey: "b", hasText: false, textLength: 0 });
  const api = await redis.command(["GET", `${prefix}::moosecache::bar:totalRows:5:1:31`]);
  t.is((JSON.parse(String(api)) as unknown[]).length, 2);
  const ttl = Number(await redis.command(["TTL", `${prefix}::moosecache::bar:totalRows:5:1:31`]));
  t.true(ttl > 3500 && ttl <= 3600, `TTL ${ttl}`);
});
