import test from "ava";
import { randomUUID } from "node:crypto";
import { ServerHttp, type ServerHttpOptions } from "../lib/engines/olap/server-http.js";

// The server connection's HTTP transport (lib/engines/olap/server-http.ts) against the ClickHouse
// server named by CLICKHOUSE_URL (CI: Debian's 18.16).
const url = process.env.CLICKHOUSE_URL;
const serverTest = url ? test : test.skip;

if (!url) {
  test("server transport tests need CLICKHOUSE_URL", (t) => {
    t.log("CLICKHOUSE_URL is not set: skipped (see tests/olap-server.test.ts).");
    t.pass();
  });
}

function transport(options: Partial<ServerHttpOptions> = {}): ServerHttp {
  const u = new URL(url ?? "http://127.0.0.1:8123");
  return new ServerHttp({
    url: `${u.protocol}//${u.host}`,
    user: decodeURIComponent(u.username) || "default",
    password: decodeURIComponent(u.password),
    application: "moose-migrate-test",
    requestTimeoutMs: 30_000,
    idleSocketTtlMs: 1500,
    ...options,
  });
}

/** The client port of the connection that carried this request, as the server saw it. */
async function clientPort(http: ServerHttp): Promise<string> {
  const queryId = `transport-${randomUUID()}`;
  const port = await http.send({ sql: `SELECT port FROM system.processes WHERE query_id = '${queryId}' FORMAT TSV`, settings: {}, queryId });
  return port.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

serverTest("sequential requests share one kept-alive connection; one idle for the time to live is not reused", async (t) => {
  const kept = transport({ idleSocketTtlMs: 5000 });
  const retired = transport({ idleSocketTtlMs: 200 });
  try {
    const first = await clientPort(kept);
    t.true(/^\d+$/.test(first) && first !== "0", first);
    t.is(await clientPort(kept), first);
    await sleep(500);
    t.is(await clientPort(kept), first, "idle 500 ms, under its 5 s time to live: reused");

    const before = await clientPort(retired);
    await sleep(500);
    t.not(await clientPort(retired), before, "idle 500 ms, past its 200 ms time to live: a new connection");
  } finally {
    kept.close();
    retired.close();
  }
});

serverTest("a connection the server closed after its keep-alive timeout is never reused (no ECONNRESET)", async (t) => {
  // The server closes an idle connection after keep_alive_timeout (3 s on 18.16's default config).
  const http = transport();
  try {
    const before = await clientPort(http);
    await sleep(3500);
    t.not(await clientPort(http), before);
  } finally {
    http.close();
  }
});

serverTest("bodies are sent whole with their byte length: multi-byte text and a statement too long for a URL", async (t) => {
  const http = transport();
  try {
    t.is(await http.send({ sql: "SELECT 'héllo ✓ 🦆' FORMAT TSV", settings: {} }), "héllo ✓ 🦆\n");
    t.is((await http.send({ sql: `SELECT length('${"é".repeat(100_000)}') FORMAT TSV`, settings: {} })).trim(), "200000");
  } finally {
    http.close();
  }
});

serverTest("an INSERT's rows go in the body with the statement in the URL; settings and the database reach the server", async (t) => {
  const database = `moose_transport_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const root = transport();
  await root.send({ sql: `CREATE DATABASE ${database}`, settings: {} });
  const http = transport({ database });
  try {
    await http.send({ sql: "CREATE TABLE t (id UInt64, s String) ENGINE = MergeTree ORDER BY id", settings: {} });
    await http.send({ sql: "INSERT INTO t FORMAT JSONEachRow", data: `${JSON.stringify({ id: 1, s: "a\nb" })}\n${JSON.stringify({ id: 2, s: "ü" })}\n`, settings: {} });
    t.is(await http.send({ sql: "SELECT id, s FROM t ORDER BY id FORMAT JSONEachRow", settings: { output_format_json_quote_64bit_integers: 1 } }), '{"id":"1","s":"a\\nb"}\n{"id":"2","s":"ü"}\n');
    t.is((await http.send({ sql: "SELECT currentDatabase() FORMAT TSV", settings: {} })).trim(), database);
  } finally {
    http.close();
    await root.send({ sql: `DROP DATABASE IF EXISTS ${database}`, settings: {} });
    root.close();
  }
});

serverTest("a failed statement rejects with ClickHouse's own error text; an unreachable server with the socket's code", async (t) => {
  const http = transport();
  try {
    const error = await t.throwsAsync(http.send({ sql: "SELECT * FROM moose_no_such_database.no_such_table", settings: {} }));
    t.regex(error?.message ?? "", /moose_no_such_database.*doesn't exist|UNKNOWN_DATABASE|Database moose_no_such_database/);
    const setting = await t.throwsAsync(http.send({ sql: "SELECT 1", settings: { moose_no_such_setting: 1 } }));
    t.regex(setting?.message ?? "", /moose_no_such_setting/);
  } finally {
    http.close();
  }
  const closed = new ServerHttp({ url: "http://127.0.0.1:1", user: "default", password: "", application: "t", requestTimeoutMs: 5000, idleSocketTtlMs: 1500 });
  const refused = await t.throwsAsync(closed.send({ sql: "SELECT 1", settings: {} }));
  t.is((refused as NodeJS.ErrnoException | undefined)?.code, "ECONNREFUSED");
  closed.close();
});
