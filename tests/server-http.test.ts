import test, { type ExecutionContext } from "ava";
import { request } from "node:http";
import { EngineError } from "../lib/errors.js";
import { HttpError, MOOSE_MIGRATE_VERSION, VERSION_HEADER, readJsonBody, sendJson, startHttpServer, type HttpServerOptions, type RouteHandler, type RunningHttpServer } from "../lib/server/server.js";

async function serve(t: ExecutionContext, routes: HttpServerOptions["routes"], log?: (line: string) => void): Promise<RunningHttpServer> {
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, routes, ...(log ? { log } : {}) });
  t.teardown(() => server.close());
  return server;
}

/** A route answering `GET <path>` with `body`. */
function fixed(path: string, body: unknown): RouteHandler {
  return async (req, res, url) => {
    if (url.pathname !== path) return false;
    sendJson(res, 200, body);
    return true;
  };
}

test("GET /health answers ok with the version header, and unknown routes are 404 JSON", async (t) => {
  const server = await serve(t, () => []);
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const health = await fetch(`${server.url}/health`);
  t.is(health.status, 200);
  t.is(health.headers.get(VERSION_HEADER), MOOSE_MIGRATE_VERSION);
  t.regex(MOOSE_MIGRATE_VERSION, /^\d+\.\d+\.\d+/);
  t.deepEqual(await health.json(), { status: "ok" });

  const missing = await fetch(`${server.url}/nope?x=1`, { method: "POST" });
  t.is(missing.status, 404);
  t.is(missing.headers.get(VERSION_HEADER), MOOSE_MIGRATE_VERSION);
  t.is(missing.headers.get("content-type"), "application/json; charset=utf-8");
  t.deepEqual(await missing.json(), { error: "no route for POST /nope" });
});

test("routes are read per request, so endpoints come and go without a restart", async (t) => {
  let routes: RouteHandler[] = [];
  const server = await serve(t, () => routes);
  t.is((await fetch(`${server.url}/a`)).status, 404);
  routes = [fixed("/a", { a: 1 })];
  t.deepEqual(await (await fetch(`${server.url}/a`)).json(), { a: 1 });
  routes = [fixed("/b", { b: 2 }), fixed("/a", { first: true }), fixed("/a", { second: true })];
  t.deepEqual(await (await fetch(`${server.url}/a`)).json(), { first: true });
  routes = [];
  t.is((await fetch(`${server.url}/a`)).status, 404);
});

test("a route that throws gets a 500 with the message, is logged, and the server stays up", async (t) => {
  const lines: string[] = [];
  const boom: RouteHandler = async () => {
    throw new Error("kaput");
  };
  const server = await serve(t, () => [boom], (line) => lines.push(line));
  const res = await fetch(`${server.url}/x`);
  t.is(res.status, 500);
  t.is(res.headers.get(VERSION_HEADER), MOOSE_MIGRATE_VERSION);
  t.deepEqual(await res.json(), { error: "internal error while answering GET /x: kaput" });
  t.is(lines.length, 1);
  t.regex(lines[0] ?? "", /^GET \/x failed: Error: kaput/);
  t.is((await fetch(`${server.url}/health`)).status, 200);
});

test("an HttpError answers with its status, body and headers", async (t) => {
  const route: RouteHandler = async () => {
    throw new HttpError(409, "taken", { id: "a" }, { "retry-after": "3" });
  };
  const server = await serve(t, () => [route]);
  const res = await fetch(`${server.url}/x`);
  t.is(res.status, 409);
  t.is(res.headers.get("retry-after"), "3");
  t.deepEqual(await res.json(), { error: "taken", id: "a" });
});

test("readJsonBody: 413 over the limit, 400 for bad JSON with its position, 400 when empty", async (t) => {
  const echo: RouteHandler = async (req, res) => {
    sendJson(res, 200, { got: await readJsonBody(req, 64) });
    return true;
  };
  const server = await serve(t, () => [echo]);
  const post = (body: string) => fetch(`${server.url}/echo`, { method: "POST", body, headers: { "content-type": "application/json" } });

  t.deepEqual(await (await post('{"a":[1,2]}')).json(), { got: { a: [1, 2] } });

  const big = await post(JSON.stringify({ a: "x".repeat(100) }));
  t.is(big.status, 413);
  t.deepEqual(await big.json(), { error: "request body of 108 bytes is larger than the limit of 64 bytes" });

  const bad = await post('{"a": 1,}');
  t.is(bad.status, 400);
  const badBody = (await bad.json()) as { error: string };
  t.regex(badBody.error, /^request body is not valid JSON: .*position 8/);

  const empty = await post("");
  t.is(empty.status, 400);
  t.deepEqual(await empty.json(), { error: "request body is empty; send JSON" });
});

test("readJsonBody stops a chunked body that grows past the limit", async (t) => {
  const echo: RouteHandler = async (req, res) => {
    sendJson(res, 200, { got: await readJsonBody(req, 1024) });
    return true;
  };
  const server = await serve(t, () => [echo]);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${server.url}/echo`, { method: "POST", headers: { "transfer-encoding": "chunked" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    for (let i = 0; i < 4; i++) req.write("x".repeat(512));
    req.end();
  });
  t.is(status, 413);
});

test("BigInt values are sent as strings", async (t) => {
  const server = await serve(t, () => [fixed("/big", { n: 2n ** 64n })]);
  t.deepEqual(await (await fetch(`${server.url}/big`)).json(), { n: "18446744073709551616" });
});

test("close() ends keep-alive connections and resolves; the port is free again", async (t) => {
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, routes: () => [] });
  // fetch keeps the connection alive; close must not wait for it to time out.
  t.is((await fetch(`${server.url}/health`)).status, 200);
  const started = Date.now();
  await server.close();
  t.true(Date.now() - started < 2000);
  await t.throwsAsync(fetch(`${server.url}/health`));
  const again = await startHttpServer({ host: "127.0.0.1", port: server.port, routes: () => [] });
  await again.close();
  t.pass();
});

test("a port in use is an EngineError HTTP_LISTEN_FAILED", async (t) => {
  const first = await serve(t, () => []);
  const error = await t.throwsAsync(startHttpServer({ host: "127.0.0.1", port: first.port, routes: () => [] }), { instanceOf: EngineError });
  t.is(error?.code, "HTTP_LISTEN_FAILED");
  t.is(error?.message, `cannot listen on 127.0.0.1:${first.port}: EADDRINUSE`);
});
