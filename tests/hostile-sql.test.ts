import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { MooseError } from "../lib/errors.js";
import { runQuery } from "../lib/project/query.js";
import { readOnlyQuery } from "../lib/runtime/api-utils.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * Hostile input against the read-only promise, on the embedded engine and (when
 * CLICKHOUSE_URL is set, as in CI) on the ClickHouse server: `moose query` without
 * --write, and API handlers — written correctly and with the classic bug of pasting a
 * request value into the SQL. Every case names its exact outcome and then checks that the
 * table is intact, no file was written and no file content came back.
 */

const SECRET = "moose-canary-7f3a9c";
const dir = mkdtempSync(join(tmpdir(), "moose-hostile-sql-"));
const canary = join(dir, "canary.txt");
writeFileSync(canary, `${SECRET}\n`);
const outfile = (name: string) => join(dir, `out-${name}.txt`);
const ROWS = 3;

interface Target {
  readonly name: "embedded" | "server";
  readonly olap: Promise<OlapEngine>;
}

const database = `hostile_${process.pid}_${Date.now().toString(36)}`;
const targets: Target[] = [{ name: "embedded", olap: prepare(openOlapEngine({ engine: "embedded", dataDir: join(dir, "chdb"), database })) }];
const server = serverConfigFromEnv(database);
if (server) targets.push({ name: "server", olap: prepare(openOlapEngine(server)) });

async function prepare(opening: Promise<OlapEngine>): Promise<OlapEngine> {
  const olap = await opening;
  await olap.execute("CREATE TABLE IF NOT EXISTS Users (id String, name String, email String) ENGINE = MergeTree ORDER BY id");
  await olap.execute("CREATE TABLE IF NOT EXISTS Other (id String) ENGINE = MergeTree ORDER BY id");
  await olap.insertJsonRows(
    "Users",
    Array.from({ length: ROWS }, (_, i) => ({ id: `u${i}`, name: `n${i}`, email: `e${i}@x` })),
  );
  return olap;
}

test.after.always(async () => {
  for (const t of targets) {
    const olap = await t.olap;
    if (t.name === "server") await olap.execute(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    await olap.close();
  }
});

async function intact(t: ExecutionContext, olap: OlapEngine): Promise<void> {
  const [row] = await olap.query<{ n: string; names: string }>("SELECT toString(count()) AS n, arrayStringConcat(groupArray(name), ',') AS names FROM Users");
  t.is(row?.n, String(ROWS), "Users still has its rows");
  t.false(row?.names.includes("x") ?? true, "no value of Users was overwritten");
  const [tables] = await olap.query<{ n: string }>(`SELECT toString(count()) AS n FROM system.tables WHERE database = '${database}'`);
  t.is(tables?.n, "2", "no table was created or dropped");
}

function leaks(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes(SECRET) || /root:x:0:0/.test(JSON.stringify(value ?? null));
}

/** Runs `attempt`; the outcome is "ok" or the error's code. Checks nothing leaked and the table is intact. */
async function outcome(t: ExecutionContext, olap: OlapEngine, attempt: () => Promise<unknown>, files: readonly string[] = []): Promise<string> {
  let result: string;
  try {
    const rows = await attempt();
    t.false(leaks(rows), "no file content in the answer");
    result = "ok";
  } catch (error) {
    t.false(leaks(error instanceof Error ? error.message : error), "no file content in the error");
    result = error instanceof MooseError ? error.code : `thrown: ${String(error)}`;
  }
  await intact(t, olap);
  for (const f of files) t.false(existsSync(f), `${f} was not written`);
  return result;
}

// --- moose query without --write -------------------------------------------------------

interface Case {
  readonly sql: string;
  /** The exact outcome: "ok" or the error code; per engine where the engines differ. */
  readonly expect: string | { readonly embedded: string; readonly server: string };
  readonly files?: readonly string[];
}

const multi = "SQL_MULTI_STATEMENT";
const writes = "QUERY_WRITES";
const readOnly = "QUERY_READ_ONLY";

const QUERY_CASES: readonly Case[] = [
  // More than one statement: refused by ClickHouse's parser before anything runs.
  { sql: "SELECT 1; DROP TABLE Users", expect: multi },
  { sql: "SELECT 1;DROP TABLE Users", expect: multi },
  { sql: "SELECT 1 ; TRUNCATE TABLE Users", expect: multi },
  { sql: "SELECT 1;\nDROP TABLE Users", expect: multi },
  { sql: "SELECT 1 /* a */; DROP TABLE Users", expect: multi },
  { sql: "SELECT 1 -- a\n; DROP TABLE Users", expect: multi },
  { sql: "SELECT ';'; DROP TABLE Users", expect: multi },
  { sql: "SELECT 1;; DROP TABLE Users", expect: multi },
  { sql: "INSERT INTO Users VALUES ('a', 'b', 'c'); DROP TABLE Users", expect: multi },
  { sql: "INSERT INTO Users VALUES ('a;', 'b', 'c');TRUNCATE TABLE Users", expect: multi },
  { sql: "SELECT 1; INSERT INTO Users VALUES ('x', 'x', 'x')", expect: multi },
  { sql: "EXPLAIN AST SELECT 1; DROP TABLE Users", expect: multi },
  { sql: "SHOW TABLES; DROP TABLE Users", expect: multi },
  { sql: "DESCRIBE TABLE Users; TRUNCATE TABLE Users", expect: multi },
  { sql: "SELECT 1; ALTER TABLE Users DELETE WHERE 1", expect: multi },
  { sql: "SELECT 1; SELECT * FROM file('/etc/passwd', 'LineAsString')", expect: multi },
  { sql: "SELECT `a;b` FROM Users", expect: multi },
  { sql: "SELECT 1 UNION ALL SELECT 2; DROP TABLE Users", expect: multi },
  // Writes without --write: refused from ClickHouse's AST.
  { sql: "DROP TABLE Users", expect: writes },
  { sql: "DROP TABLE IF EXISTS Users SYNC", expect: writes },
  { sql: "TRUNCATE TABLE Users", expect: writes },
  { sql: "ALTER TABLE Users DELETE WHERE 1", expect: writes },
  { sql: "ALTER TABLE Users UPDATE name = 'x' WHERE 1", expect: writes },
  { sql: "ALTER TABLE Users DROP COLUMN email", expect: writes },
  { sql: "INSERT INTO Users VALUES ('x', 'x', 'x')", expect: writes },
  { sql: "INSERT INTO Users SELECT * FROM Users", expect: writes },
  { sql: "CREATE TABLE Evil (a UInt8) ENGINE = Memory", expect: writes },
  { sql: "RENAME TABLE Users TO Users2", expect: writes },
  { sql: "DETACH TABLE Users", expect: writes },
  { sql: "DELETE FROM Users WHERE 1", expect: writes },
  { sql: "OPTIMIZE TABLE Users FINAL", expect: writes },
  { sql: "SYSTEM STOP MERGES", expect: writes },
  { sql: "KILL QUERY WHERE 1", expect: writes },
  { sql: "SET readonly = 0", expect: writes },
  { sql: "CREATE VIEW Evil AS SELECT 1", expect: writes },
  { sql: "INSERT INTO FUNCTION file('evil.csv', 'CSV', 'a String') SELECT 'a'", expect: writes },
  { sql: "DROP DATABASE IF EXISTS system", expect: writes },
  // Files: INTO OUTFILE is refused from the AST (the embedded engine would write it).
  { sql: `SELECT * FROM Users INTO OUTFILE '${outfile("q1")}'`, expect: "QUERY_WRITES_FILE", files: [outfile("q1")] },
  { sql: `SELECT * FROM Users INTO OUTFILE '${outfile("q2")}' FORMAT CSV`, expect: "QUERY_WRITES_FILE", files: [outfile("q2")] },
  { sql: `SELECT 1 UNION ALL SELECT 2 INTO OUTFILE '${outfile("q3")}'`, expect: "QUERY_WRITES_FILE", files: [outfile("q3")] },
  { sql: `WITH 1 AS x SELECT x INTO OUTFILE '${outfile("q4")}' TRUNCATE`, expect: "QUERY_WRITES_FILE", files: [outfile("q4")] },
  // Reads that reach outside: the engine's read-only mode refuses them.
  { sql: `SELECT * FROM file('${canary}', 'LineAsString')`, expect: readOnly },
  { sql: "SELECT * FROM file('/etc/passwd', 'LineAsString')", expect: readOnly },
  { sql: "SELECT * FROM url('http://127.0.0.1:8123/?query=SELECT+1', 'TSV', 'a String')", expect: readOnly },
  { sql: "SELECT * FROM remote('127.0.0.1:9000', system.one)", expect: readOnly },
  { sql: "SELECT * FROM mysql('127.0.0.1:3306', 'db', 't', 'u', 'p')", expect: readOnly },
  { sql: "SELECT * FROM executable('cat /etc/passwd', 'TSV', 'a String')", expect: { embedded: readOnly, server: readOnly } },
  { sql: "SELECT * FROM postgresql('127.0.0.1:5432', 'db', 't', 'u', 'p')", expect: readOnly },
  { sql: "SELECT * FROM sqlite('/etc/passwd', 't')", expect: readOnly },
  { sql: "SELECT * FROM jdbc('a', 'b', 'c')", expect: readOnly },
  { sql: "SELECT * FROM hdfs('hdfs://127.0.0.1:9000/x', 'TSV', 'a String')", expect: readOnly },
  // Settings: a query's own SETTINGS that change a value are refused in read-only mode on both engines.
  { sql: "SELECT count() FROM Users SETTINGS readonly = 0", expect: readOnly },
  { sql: "SELECT count() FROM Users SETTINGS max_result_rows = 1", expect: readOnly },
  // Setting a value to what it already is passes in read-only mode: nothing changes.
  { sql: "SELECT count() FROM Users SETTINGS max_result_rows = 0", expect: "ok" },
  // Legitimate reads still work.
  { sql: "SELECT count() FROM Users", expect: "ok" },
  { sql: "SELECT * FROM Users WHERE name = ';'", expect: "ok" },
  { sql: "SELECT 'a;b' AS s;", expect: "ok" },
  { sql: "SHOW TABLES", expect: "ok" },
  { sql: "DESCRIBE TABLE Users", expect: "ok" },
  { sql: "EXISTS TABLE Users", expect: "ok" },
  { sql: "SELECT name FROM system.tables WHERE database = currentDatabase()", expect: "ok" },
  // ClickHouse 18.16 forbids every table function in read-only mode, even pure ones.
  { sql: "SELECT * FROM numbers(3)", expect: { embedded: "ok", server: readOnly } },
];

for (const target of targets) {
  for (const c of QUERY_CASES) {
    test(`[${target.name}] moose query ${JSON.stringify(c.sql)}`, async (t) => {
      const olap = await target.olap;
      const expected = typeof c.expect === "string" ? c.expect : c.expect[target.name];
      t.is(await outcome(t, olap, () => runQuery(olap, c.sql).then((r) => r.rows), c.files), expected);
    });
  }
}

// --- API handlers ---------------------------------------------------------------------

/** A handler with the classic bug: the request value pasted into the SQL text. */
const pasted = (value: string) => `SELECT id, name FROM Users WHERE id = '${value}'`;

const api = "API_QUERY_REFUSED";

const HANDLER_CASES: ReadonlyArray<{ readonly value: string; readonly expect: string | { readonly embedded: string; readonly server: string } }> = [
  { value: "u1", expect: "ok" },
  { value: "x' OR 1 = 1 --", expect: "ok" }, // reads more of its own table: contained
  { value: "x'; DROP TABLE Users; --", expect: multi },
  { value: "x'; TRUNCATE TABLE Users --", expect: multi },
  { value: "x'; INSERT INTO Users VALUES ('x', 'x', 'x') --", expect: multi },
  { value: "x' UNION ALL SELECT line, '' FROM file('/etc/passwd', 'LineAsString') --", expect: api },
  { value: `x' UNION ALL SELECT line, '' FROM file('${canary}', 'LineAsString') --`, expect: api },
  { value: "x' UNION ALL SELECT a, '' FROM url('http://127.0.0.1:8123/?query=SELECT+1', 'TSV', 'a String') --", expect: api },
  { value: "x' UNION ALL SELECT a, '' FROM s3('http://127.0.0.1:9/b/k', 'TSV', 'a String') --", expect: api },
  { value: "x' UNION ALL SELECT toString(dummy), '' FROM remote('127.0.0.1:9000', system.one) --", expect: api },
  { value: "x' UNION ALL SELECT a, '' FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p') --", expect: api },
  { value: "x' UNION ALL SELECT a, '' FROM executable('id', 'TSV', 'a String') --", expect: api },
  { value: "x' UNION ALL SELECT id, '' FROM merge(currentDatabase(), '^Users$') --", expect: api },
  { value: "x' UNION ALL SELECT name, '' FROM system.tables --", expect: api },
  { value: "x' UNION ALL SELECT name, '' FROM system.users --", expect: api },
  { value: "x' UNION ALL SELECT id, '' FROM default.Users --", expect: api },
  { value: "x' AND file('/etc/passwd') != '' --", expect: api },
  { value: "x' AND dictGetString('d', 'a', toUInt64(1)) != '' --", expect: api },
  { value: `x' INTO OUTFILE '${outfile("api1")}' --`, expect: api },
  { value: "x' SETTINGS readonly = 0 --", expect: api },
  { value: "x' SETTINGS max_result_rows = 0, max_execution_time = 0 --", expect: api },
  { value: "x' FORMAT TSV --", expect: api },
  { value: "x' UNION ALL SELECT id, name FROM Users SETTINGS readonly = 2 --", expect: api },
  { value: "x' UNION ALL SELECT * FROM (SELECT line, '' FROM file('/etc/passwd', 'LineAsString')) --", expect: api },
  { value: "x' UNION ALL SELECT id, name FROM view(SELECT line AS id, '' AS name FROM file('/etc/passwd', 'LineAsString')) --", expect: api },
  { value: "x' AND id IN (SELECT a FROM url('http://127.0.0.1:1/', 'TSV', 'a String')) --", expect: api },
  { value: "x' UNION ALL SELECT a, '' FROM postgresql('127.0.0.1:5432', 'd', 't', 'u', 'p') --", expect: api },
  { value: "x' UNION ALL SELECT toString(number), '' FROM numbers(2) --", expect: { embedded: "ok", server: "API_QUERY_REFUSED" } },
  { value: "x' UNION ALL SELECT a, '' FROM input('a String') --", expect: api },
  { value: "x' UNION ALL SELECT toString(dummy), '' FROM cluster('default', system.one) --", expect: api },
];

for (const target of targets) {
  for (const [i, c] of HANDLER_CASES.entries()) {
    test(`[${target.name}] API handler pasting ${JSON.stringify(c.value)}`, async (t) => {
      const olap = await target.olap;
      const query = readOnlyQuery(olap);
      const expected = typeof c.expect === "string" ? c.expect : c.expect[target.name];
      const got = await outcome(t, olap, () => query(pasted(c.value)), [outfile(`api${i}`), outfile("api1")]);
      // On the server, 18.16 forbids every table function in read-only mode: the engine refuses what the tree let through.
      t.is(got === "OLAP_READ_ONLY" && target.name === "server" ? api : got, expected);
    });
  }
}

const DIRECT_WRITES = [
  "INSERT INTO Users (id) VALUES ({id:String})",
  "ALTER TABLE Users DELETE WHERE 1",
  "ALTER TABLE Users UPDATE name = 'x' WHERE 1",
  "TRUNCATE TABLE Users",
  "DROP TABLE Users",
  "CREATE TABLE Evil (a UInt8) ENGINE = Memory",
  "OPTIMIZE TABLE Users FINAL",
  "KILL QUERY WHERE 1",
  "SELECT * FROM {t:Identifier}",
  "SHOW TABLES",
];

for (const target of targets) {
  for (const sql of DIRECT_WRITES) {
    test(`[${target.name}] API handler query() refuses ${JSON.stringify(sql)}`, async (t) => {
      const olap = await target.olap;
      const query = readOnlyQuery(olap);
      const params = sql.includes("{id:String}") ? { id: "sneaky" } : sql.includes("{t:Identifier}") ? { t: "system.users" } : {};
      t.is(await outcome(t, olap, () => query(sql, params)), api);
    });
  }
}

for (const target of targets) {
  test(`[${target.name}] a handler with bound parameters still answers, values with quotes and semicolons included`, async (t) => {
    const olap = await target.olap;
    const query = readOnlyQuery(olap);
    if (target.name === "server" && (await olap.capabilities()).queryParameters === false) {
      t.is(await outcome(t, olap, () => query("SELECT id FROM Users WHERE id = {id:String}", { id: "u1" })), "UNSUPPORTED_BY_SERVER");
      return;
    }
    for (const id of ["u1", "x'; DROP TABLE Users; --", "'; SELECT * FROM file('/etc/passwd') --", "{p0:String}"]) {
      const rows = await query<{ id: string }>("SELECT id FROM Users WHERE id = {id:String}", { id });
      t.deepEqual(rows, id === "u1" ? [{ id: "u1" }] : []);
    }
    await intact(t, olap);
  });
}
