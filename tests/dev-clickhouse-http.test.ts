import test from "ava";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { cpSync, existsSync } from "node:fs";
import { request } from "node:http";
import { Readable } from "node:stream";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { startClickHouseHttp, type ClickHouseHttpServer } from "../lib/dev/clickhouse-http.js";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";
import { freePort } from "./helpers/prod-instance.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

// The ClickHouse HTTP interface moose dev serves from its embedded engine, driven by the official client.

const USER = "panda";
const PASSWORD = "pandapass";

let olap: OlapEngine;
let server: ClickHouseHttpServer;
let client: ClickHouseClient;
let dir: string;

test.before(async () => {
  dir = tempDir("ch-http");
  olap = await openOlapEngine({ engine: "embedded", dataDir: join(dir, "clickhouse"), database: "local", additionalDatabases: ["analytics"] });
  server = await startClickHouseHttp({ host: "127.0.0.1", port: 0, user: USER, password: PASSWORD, olap });
  client = createClient({ url: server.url, username: USER, password: PASSWORD, database: "local" });
});

test.after.always(async () => {
  await client?.close();
  await server?.close();
  await olap?.close();
});

test.serial("@clickhouse/client: ping, DDL, insert JSONEachRow, query in JSONEachRow, JSON, TabSeparated and CSV", async (t) => {
  t.true((await client.ping()).success);
  await client.command({ query: "CREATE TABLE events (id UInt64, name String, at DateTime('UTC')) ENGINE = MergeTree ORDER BY id" });
  await client.insert({
    table: "events",
    values: [
      { id: 1, name: "a;b", at: "2024-01-31 12:00:00" },
      { id: 18446744073709551615n.toString(), name: "big", at: "2024-02-01 00:00:00" },
    ],
    format: "JSONEachRow",
  });
  const rows = await (await client.query({ query: "SELECT id, name FROM events ORDER BY id", format: "JSONEachRow" })).json();
  t.deepEqual(rows, [
    { id: "1", name: "a;b" },
    { id: "18446744073709551615", name: "big" },
  ]);
  const json = await (await client.query({ query: "SELECT count() AS n FROM events", format: "JSON" })).json<{ n: string }>();
  t.deepEqual(json.data, [{ n: "2" }]);
  t.deepEqual(json.meta, [{ name: "n", type: "UInt64" }]);
  t.is(json.rows, 1);
  t.is(await (await client.query({ query: "SELECT id, name FROM events ORDER BY id", format: "TabSeparated" })).text(), "1\ta;b\n18446744073709551615\tbig\n");
  t.is(await (await client.query({ query: "SELECT name FROM events ORDER BY id", format: "CSV" })).text(), '"a;b"\n"big"\n');
  // The statement's FORMAT (appended by the client) applies to EXPLAIN's output too, as on a server.
  const explain = await (await client.query({ query: "EXPLAIN AST SELECT 1", format: "JSONEachRow" })).json<{ explain: string }>();
  t.regex(explain[0]?.explain ?? "", /^SelectWithUnionQuery \(children \d\)$/);
});

test.serial("@clickhouse/client: query parameters, settings, the database option, insert in other formats", async (t) => {
  await client.command({ query: "CREATE TABLE IF NOT EXISTS nums (n UInt32) ENGINE = MergeTree ORDER BY n" });
  await client.insert({ table: "nums", values: [{ n: 1 }, { n: 2 }, { n: 3 }], format: "JSONEachRow" });
  await client.insert({ table: "nums", values: Readable.from([Buffer.from("4\n5\n")], { objectMode: false }), format: "TabSeparated" });
  const above = await (await client.query({ query: "SELECT n FROM nums WHERE n > {min:UInt32} ORDER BY n", query_params: { min: 2 }, format: "JSONEachRow" })).json();
  t.deepEqual(above, [{ n: 3 }, { n: 4 }, { n: 5 }]);
  // A setting for this query only: 64-bit integers as numbers.
  const unquoted = await (await client.query({ query: "SELECT toUInt64(7) AS v", format: "JSONEachRow", clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json();
  t.deepEqual(unquoted, [{ v: 7 }]);
  const quoted = await (await client.query({ query: "SELECT toUInt64(7) AS v", format: "JSONEachRow" })).json();
  t.deepEqual(quoted, [{ v: "7" }], "the setting was for that query only");
  const other = createClient({ url: server.url, username: USER, password: PASSWORD, database: "analytics" });
  t.teardown(() => other.close());
  t.deepEqual(await (await other.query({ query: "SELECT currentDatabase() AS db", format: "JSONEachRow" })).json(), [{ db: "analytics" }]);
  t.deepEqual(await (await client.query({ query: "SELECT currentDatabase() AS db", format: "JSONEachRow" })).json(), [{ db: "local" }]);
});

test.serial("errors carry ClickHouse's code, name and HTTP status", async (t) => {
  const unknown = await t.throwsAsync(client.query({ query: "SELECT * FROM missing_table", format: "JSONEachRow" }));
  t.like(unknown, { code: "60", type: "UNKNOWN_TABLE" });
  const syntax = await t.throwsAsync(client.query({ query: "SELEC 1", format: "JSONEachRow" }));
  t.like(syntax, { code: "62", type: "SYNTAX_ERROR" });
  const wrong = createClient({ url: server.url, username: USER, password: "nope" });
  t.teardown(() => wrong.close());
  const denied = await t.throwsAsync(wrong.query({ query: "SELECT 1", format: "JSONEachRow" }));
  t.like(denied, { code: "516", type: "AUTHENTICATION_FAILED" });

  const auth = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}` };
  const notFound = await fetch(`${server.url}/?query=${encodeURIComponent("SELECT * FROM missing_table")}`, { headers: auth });
  t.is(notFound.status, 404);
  t.is(notFound.headers.get("x-clickhouse-exception-code"), "60");
  t.regex(await notFound.text(), /^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\) \(version 26\.\d+/s);
  const forbidden = await fetch(`${server.url}/?query=SELECT%201&user=${USER}&password=x`);
  t.is(forbidden.status, 403);
});

test.serial("one statement per request, no INTO OUTFILE, GET is read-only, web pages are refused", async (t) => {
  const auth = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}` };
  const post = (body: string | Uint8Array, query = "", headers: Record<string, string> = {}) =>
    fetch(`${server.url}/${query}`, { method: "POST", body, headers: { ...auth, ...headers } });

  const multi = await post("SELECT 1; DROP TABLE events");
  t.is(multi.status, 400);
  t.regex(await multi.text(), /^Code: 62\. DB::Exception: Syntax error \(Multi-statements are not allowed\)/);
  // VALUES data in the body is split at `;` by chDB: checked as a whole.
  const values = await post("(9, 'x', now()); DROP TABLE events", `?query=${encodeURIComponent("INSERT INTO events VALUES")}`);
  t.is(values.status, 400);
  // Other formats read the body to its end: a `;` there is data.
  const csv = await post('10,"p;q","2024-01-01 00:00:00"\n', `?query=${encodeURIComponent("INSERT INTO events FORMAT CSV")}`);
  t.is(csv.status, 200, await csv.clone().text());
  t.deepEqual(await (await client.query({ query: "SELECT name FROM events WHERE id = 10", format: "JSONEachRow" })).json(), [{ name: "p;q" }]);

  const outfile = join(dir, "leak.tsv");
  const refused = await post(`SELECT * FROM events INTO OUTFILE '${outfile}'`);
  t.is(refused.status, 500);
  t.regex(await refused.text(), /INTO OUTFILE is not allowed over HTTP/);
  t.false(existsSync(outfile));

  const readOnlyWrite = await fetch(`${server.url}/?query=${encodeURIComponent("INSERT INTO events VALUES (11, 'r', now())")}`, { headers: auth });
  t.is(readOnlyWrite.status, 403);
  t.is(readOnlyWrite.headers.get("x-clickhouse-exception-code"), "164");
  // One error, as a server writes it (chDB nests it in another of the same code).
  t.regex(await readOnlyWrite.text(), /^Code: 164\. DB::Exception: (?!.*Code: 164)[^\n]*in readonly mode\. \(READONLY\) \(version 26\.[\d.]+\)\n$/);
  const get = await fetch(`${server.url}/?query=${encodeURIComponent("SELECT count() FROM events WHERE id = 11")}`, { headers: auth });
  t.is(await get.text(), "0\n");

  const fromPage = await post("SELECT 1", "", { origin: "https://evil.example" });
  t.is(fromPage.status, 403);
  // A DNS name rebound to 127.0.0.1 arrives with its own Host header (fetch cannot set one: plain http here).
  const rebound = await new Promise<number>((resolve, reject) => {
    const r = request(`${server.url}/?query=SELECT%201`, { headers: { ...auth, host: "attacker.example" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on("error", reject);
    r.end();
  });
  t.is(rebound, 403);

  const gz = await post(gzipSync(Buffer.from("SELECT 40 + 2")), "", { "content-encoding": "gzip" });
  t.is(await gz.text(), "42\n");
  t.is(await (await fetch(`${server.url}/ping`)).text(), "Ok.\n");
});

// ---------------------------------------------------------------- moose dev with a Moose config

const fixtures = fileURLToPath(new URL("../../fixtures/", import.meta.url));

test.serial("moose dev with the typescript template's own config serves ClickHouse at host:host_port", async (t) => {
  const project = join(tempDir("dev-direct"), "app-root");
  cpSync(join(fixtures, "moose-templates/typescript/app"), join(project, "app"), { recursive: true });
  cpSync(join(fixtures, "config/moose-apps/templates_typescript.moose.config.toml"), join(project, "moose.config.toml"));
  const [chPort, managementPort] = [await freePort(), await freePort()];
  const dev = new DevProcess(project, [], {
    MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: String(chPort),
    MOOSE_HTTP_SERVER_CONFIG__MANAGEMENT_PORT: String(managementPort),
    // No Temporal here: the template's workflows are off for this test.
    MOOSE_FEATURES__WORKFLOWS: "false",
  });
  t.teardown(() => void dev.stop());
  await dev.url();
  await dev.waitFor(/✓ applied \d+ steps/);
  t.regex(dev.text, new RegExp(`clickhouse http://localhost:${chPort}  \\(ClickHouse HTTP interface, user panda\\)`));
  t.regex(dev.text, /engines  ClickHouse embedded, data in \.moose\/clickhouse; streams embedded/);
  t.regex(dev.text, /note: moose\.config\.toml:1: language is accepted from Moose and ignored/);
  t.is((await fetch(`http://127.0.0.1:${managementPort}/health`)).status, 200);

  // The config's own user and password, as the app's clients use them.
  const direct = createClient({ url: `http://localhost:${chPort}`, username: "panda", password: "pandapass", database: "local" });
  t.teardown(() => direct.close());
  const tables = await (await direct.query({ query: "SELECT name FROM system.tables WHERE database = 'local' AND name IN ('Bar', 'BarAggregated', 'FooDeadLetter') ORDER BY name", format: "JSONEachRow" })).json();
  t.deepEqual(tables, [{ name: "Bar" }, { name: "BarAggregated" }, { name: "FooDeadLetter" }]);
  await direct.insert({ table: "Bar", values: [{ primaryKey: "k1", utcTimestamp: "2024-01-01 00:00:00", hasText: true, textLength: 3 }], format: "JSONEachRow" });
  t.deepEqual(await (await direct.query({ query: "SELECT primaryKey, textLength FROM Bar", format: "JSONEachRow" })).json(), [{ primaryKey: "k1", textLength: 3 }]);

  // Another moose command reaches the same data through the configured server address (this dev process).
  const status = await runCli(project, ["query", "SELECT count() AS n FROM Bar", "--format", "json"], {
    MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: String(chPort),
  });
  t.is(status.code, 0, status.stderr);
  t.deepEqual(JSON.parse(status.stdout), [{ n: "1" }]);
  t.is(await dev.stop(), 0);
});
