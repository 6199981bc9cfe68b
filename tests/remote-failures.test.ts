import test from "ava";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { InvalidInputError, MooseError } from "../lib/errors.js";
import { emptyInfraMap, hashInfraMap } from "../lib/model/infra-map.js";
import { fetchRemoteState, inframapUrl } from "../lib/remote/fetch-state.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { freePort } from "./helpers/prod-instance.js";

/**
 * Every way `moose plan --url` can fail, each against a server this test runs
 * (or a port nothing listens on), through the CLI's parser and command in this
 * process: the code, the message and the exit code. The happy path against a real `moose prod` is in
 * prod-e2e.test.ts.
 */

let project = "";
test.before(async () => {
  const root = tempDir("remote");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  project = join(root, "p");
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Array<{ close(): unknown }> = [];
const sockets = new Set<Socket>();
test.after.always(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  servers.push(server);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as AddressInfo).port;
}

async function http(handler: Handler): Promise<string> {
  return `http://127.0.0.1:${await listen(createHttpServer(handler))}`;
}

/** A server that answers like `moose prod` would, with a fixed status and body. */
function mooseLike(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", "x-moose-migrate": "0.1.0", ...headers });
    res.end(JSON.stringify(body));
  };
}

const plan = (url: string, extra: readonly string[] = [], env: Record<string, string | undefined> = {}) => runCli(project, ["plan", "--url", url, ...extra], env);

test("inframapUrl: base URLs, base paths and the endpoint itself", (t) => {
  t.is(inframapUrl("http://h:4000").toString(), "http://h:4000/admin/inframap");
  t.is(inframapUrl("https://h/moose/").toString(), "https://h/moose/admin/inframap");
  t.is(inframapUrl("https://h/admin/inframap?x=1#y").toString(), "https://h/admin/inframap");
  for (const bad of ["h:4000", "ftp://h", "not a url", "https://u:p@h"]) {
    t.throws(() => inframapUrl(bad), { instanceOf: InvalidInputError, message: /--url/ }, bad);
  }
});

test("a malformed --url is invalid input (exit 2)", async (t) => {
  const r = await plan("localhost:4000");
  t.is(r.code, 2);
  t.regex(r.stderr, /error\[REMOTE_URL_INVALID\]: --url localhost:4000 has no http:\/\/ or https:\/\/ in front\n  hint: e\.g\. --url http:\/\/localhost:4000/);
});

test("nothing listening: unreachable, connection refused (exit 1)", async (t) => {
  const port = await freePort();
  const r = await plan(`http://127.0.0.1:${port}`);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`error\\[REMOTE_UNREACHABLE\\]: cannot reach http://127\\.0\\.0\\.1:${port}/admin/inframap: connection refused \\(ECONNREFUSED\\)\\n  hint: check the URL and port`));
  t.is(r.stdout, "");
});

test("an unknown host name: unreachable (exit 1)", async (t) => {
  const r = await plan("http://moose-instance.invalid:4000");
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_UNREACHABLE\]: cannot reach http:\/\/moose-instance\.invalid:4000\/admin\/inframap: (its host name does not resolve \((ENOTFOUND|EAI_AGAIN)\)|.*)/);
});

test("a server that accepts and never answers: timeout after --timeout (exit 1)", async (t) => {
  const port = await listen(createTcpServer(() => {}));
  const started = Date.now();
  const r = await plan(`http://127.0.0.1:${port}`, ["--timeout", "0.5"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_TIMEOUT\]: http:\/\/127\.0\.0\.1:\d+\/admin\/inframap did not answer within 0\.5 s\n  hint: .*--timeout <seconds>/);
  t.true(Date.now() - started < 20_000);
});

test("--timeout must be a positive number (exit 2)", async (t) => {
  const r = await plan("http://127.0.0.1:1", ["--timeout", "0"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /--timeout 0 must be a positive number of seconds/);
});

test("401 without a token says none was sent and where one comes from (exit 2)", async (t) => {
  const url = await http(mooseLike(401, { error: "missing bearer token: send `Authorization: Bearer <token>`" }, { "www-authenticate": "Bearer" }));
  const r = await plan(url);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_UNAUTHORIZED\]: http:\/\/127\.0\.0\.1:\d+\/admin\/inframap refused the request \(HTTP 401\): missing bearer token.*; no token was sent\n  hint: pass the admin bearer token with --token <token> or the MOOSE_ADMIN_TOKEN environment variable/);
});

test("401/403 with a token name where the token came from (exit 2), and never print it", async (t) => {
  const url401 = await http(mooseLike(401, { error: "invalid bearer token" }));
  const fromFlag = await plan(url401, ["--token", "s3cret-flag"]);
  t.is(fromFlag.code, 2);
  t.regex(fromFlag.stderr, /error\[REMOTE_UNAUTHORIZED\]: .* refused the token from --token \(HTTP 401\): invalid bearer token/);
  const fromEnv = await plan(url401, [], { MOOSE_ADMIN_TOKEN: "s3cret-env" });
  t.is(fromEnv.code, 2);
  t.regex(fromEnv.stderr, /refused the token from the MOOSE_ADMIN_TOKEN environment variable \(HTTP 401\)/);
  const url403 = await http(mooseLike(403, { error: "forbidden" }));
  const forbidden = await plan(url403, ["--token", "s3cret-flag"]);
  t.is(forbidden.code, 2);
  t.regex(forbidden.stderr, /refused the token from --token \(HTTP 403\): forbidden/);
  for (const r of [fromFlag, fromEnv, forbidden]) t.false(/s3cret/.test(r.stdout + r.stderr));
});

test("--token wins over MOOSE_ADMIN_TOKEN, and is sent as a bearer token", async (t) => {
  const seen: Array<string | undefined> = [];
  const url = await http((req, res) => {
    seen.push(req.headers.authorization);
    mooseLike(401, { error: "invalid bearer token" })(req, res);
  });
  await plan(url, ["--token", "from-flag"], { MOOSE_ADMIN_TOKEN: "from-env" });
  await plan(url, [], { MOOSE_ADMIN_TOKEN: "from-env" });
  t.deepEqual(seen, ["Bearer from-flag", "Bearer from-env"]);
});

test("an instance with the admin API disabled says how to enable it (exit 2)", async (t) => {
  const url = await http(mooseLike(401, { error: "admin API disabled: set [authentication] admin_api_key (moose generate hash-token)" }));
  const r = await plan(url, ["--token", "t"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /refused the request \(HTTP 401\): admin API disabled: set \[authentication\] admin_api_key \(moose generate hash-token\)\n  hint: on the instance, set \[authentication\] admin_api_key/);
});

test("429 says why the instance refuses and when to retry (exit 1)", async (t) => {
  const url = await http(mooseLike(429, { error: "too many failed admin authentications" }, { "retry-after": "42" }));
  const r = await plan(url, ["--token", "t"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /error\[REMOTE_RATE_LIMITED\]: .* is refusing admin requests for now: too many failed admin authentications; retry in 42 s/);
  // The shared budget of all addresses (not this address's failures) is named as the instance names it.
  const shared = await http(mooseLike(429, { error: "too many admin token checks waiting" }, { "retry-after": "5" }));
  const s = await plan(shared, ["--token", "t"]);
  t.regex(s.stderr, /is refusing admin requests for now: too many admin token checks waiting; retry in 5 s/);
});

test("a plain web server is not a moose instance (exit 1)", async (t) => {
  const url = await http((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<html><body>hello</body></html>");
  });
  const r = await plan(url, ["--token", "t"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_NOT_MOOSE\]: http:\/\/127\.0\.0\.1:\d+\/admin\/inframap is not a moose-migrate instance this version can plan against: it answered HTTP 200 without the x-moose-migrate header every moose-migrate response carries\n  hint: point --url at a `moose prod` instance/);
});

test("a moose header with the wrong document, an unknown InfraMap version or a wrong hash is refused (exit 1)", async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ hello: "world" }, /its answer lacks version, hash and inframap/],
    [{ version: "9.0.0", hash: "sha256:x", inframap: { version: 99 } }, /its inframap is not one this version reads: unsupported InfraMap version 99[\s\S]*hint: moose-migrate 9\.0\.0 serves it/],
    [{ version: "0.1.0", hash: "sha256:0000", inframap: emptyInfraMap() }, /its inframap does not match the hash it sent \(sha256:0000\)/],
  ];
  for (const [body, message] of cases) {
    const r = await plan(await http(mooseLike(200, body)), ["--token", "t"]);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, /error\[REMOTE_NOT_MOOSE\]/);
    t.regex(r.stderr, message);
  }
  const text = await plan(await http((_q, res) => (res.writeHead(200, { "x-moose-migrate": "0.1.0" }), res.end("not json"))), ["--token", "t"]);
  t.regex(text.stderr, /REMOTE_NOT_MOOSE.*its answer is not JSON/);
});

test("a moose instance without the admin endpoint, a server error, a redirect", async (t) => {
  const notFound = await plan(await http(mooseLike(404, { error: "not found" })), ["--token", "t"]);
  t.is(notFound.code, 1);
  t.regex(notFound.stderr, /error\[REMOTE_NO_ADMIN_API\]: .* is moose-migrate 0\.1\.0 but has no admin state endpoint \(HTTP 404\)/);
  const failing = await plan(await http(mooseLike(500, { error: "could not read the state: OLAP_UNREACHABLE" })), ["--token", "t"]);
  t.is(failing.code, 1);
  t.regex(failing.stderr, /error\[REMOTE_SERVER_ERROR\]: .* failed to report its state: HTTP 500: could not read the state: OLAP_UNREACHABLE/);
  const moved = await plan(await http((_q, res) => (res.writeHead(301, { location: "https://moose.example.com/admin/inframap" }), res.end())), ["--token", "t"]);
  t.is(moved.code, 2);
  t.regex(moved.stderr, /error\[REMOTE_REDIRECTED\]: .* answered 301 redirecting to https:\/\/moose\.example\.com\/admin\/inframap\n  hint: pass the instance's own URL: --url https:\/\/moose\.example\.com/);
});

test("https against a plain-HTTP port is a TLS error saying the port does not speak TLS (exit 1)", async (t) => {
  const url = await http(mooseLike(200, {}));
  const r = await plan(url.replace("http:", "https:"), ["--token", "t"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_TLS\]: TLS with https:\/\/127\.0\.0\.1:\d+\/admin\/inframap failed: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\)\n  hint: the port does not speak TLS: use http:\/\//);
});

test("a self-signed certificate is a TLS error saying how to trust it (exit 1)", async (t) => {
  const dir = tempDir("tls");
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
  } catch {
    t.log("openssl is not installed: skipped");
    t.pass();
    return;
  }
  const server = createHttpsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, mooseLike(200, {}));
  const port = await listen(server as unknown as Server);
  const r = await plan(`https://127.0.0.1:${port}`, ["--token", "t"]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /error\[REMOTE_TLS\]: TLS with https:\/\/127\.0\.0\.1:\d+\/admin\/inframap failed: self[- ]signed certificate.*\n  hint: the instance's certificate is not trusted here: .*NODE_EXTRA_CA_CERTS/);
});

test("library: failures are MooseErrors with codes; a good answer is parsed and its hash checked", async (t) => {
  const port = await freePort();
  const e = await t.throwsAsync(fetchRemoteState(`http://127.0.0.1:${port}`), { instanceOf: MooseError });
  t.is(e?.code, "REMOTE_UNREACHABLE");
  t.is(e?.exit, "failure");
  const map = emptyInfraMap();
  const url = await http(mooseLike(200, { version: "0.1.0", hash: hashInfraMap(map), inframap: map, migrations: { applied: ["a"], pending: [], issues: [] }, drift: [], driftChecked: true }));
  const state = await fetchRemoteState(url, { token: "t" });
  t.deepEqual(state.inframap, map);
  t.is(state.serverVersion, "0.1.0");
  t.deepEqual(state.migrations.applied, ["a"]);
});

test("against an instance with nothing applied, the whole app is new; drift and pending are warned about on stderr", async (t) => {
  const map = emptyInfraMap();
  const url = await http(
    mooseLike(200, {
      version: "0.1.0",
      hash: hashInfraMap(map),
      inframap: map,
      migrations: { applied: [], pending: ["20260101000000_create_users"], issues: [] },
      drift: ["table Extra exists in the database but no applied migration creates it"],
      driftChecked: true,
    }),
  );
  const r = await plan(url, [], { MOOSE_ADMIN_TOKEN: "t" });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, "Infrastructure Changes:\n New Components\n  + Users (OLAP Table)\n  + UserEvents (Streaming Topic)\n");
  t.regex(r.stderr, /warning: .* has 1 committed migration\(s\) not yet deployed: 20260101000000_create_users/);
  t.regex(r.stderr, /warning:   table Extra exists in the database but no applied migration creates it/);
  const json = await plan(url, ["--json"], { MOOSE_ADMIN_TOKEN: "t" });
  t.is(json.code, 0);
  const doc = JSON.parse(json.stdout) as { ok: boolean; source: { kind: string; url: string }; steps: unknown[]; remote: { version: string; drift: string[] } };
  t.true(doc.ok);
  t.deepEqual(doc.source, { kind: "remote", url: `${url}/admin/inframap` });
  t.is(doc.steps.length, 2);
  t.is(doc.remote.version, "0.1.0");
  t.is(doc.remote.drift.length, 1);
});

test("--json failures are one JSON document on stdout", async (t) => {
  const port = await freePort();
  const r = await plan(`http://127.0.0.1:${port}`, ["--json"]);
  t.is(r.code, 1);
  const doc = JSON.parse(r.stdout) as { ok: boolean; errors: Array<{ code: string; hint: string }> };
  t.false(doc.ok);
  t.is(doc.errors[0]?.code, "REMOTE_UNREACHABLE");
});
