import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { MooseError } from "../lib/errors.js";
import { guardMigrationSql } from "../lib/migrations/apply/sql-guard.js";
import { migrationStatus } from "../lib/migrations/apply/status.js";
import { hashInfraMap, type Column, type InfraMap, type Table } from "../lib/model/infra-map.js";
import { moose, tempDir } from "./helpers/cli.js";
import { EvolveProject, fingerprint } from "./helpers/evolve.js";
import { infra, table, view } from "./helpers/model-builders.js";
import { uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * Hand-written SQL in migration files and expressions pasted into DDL, written by an
 * attacker (or a tired reviewer): every case is read by ClickHouse's parser before the
 * deploy runs anything, and either refused with an exact code — the table keeps its
 * rows, no file is written, the ledger records nothing — or, where the file approves the
 * loss, runs and shows `⚠`. Embedded ClickHouse always; the ClickHouse server too when
 * CLICKHOUSE_URL is set (CI).
 */

const dataDir = mkdtempSync(join(tmpdir(), "moose-hostile-migrations-"));
const opened: Array<{ close(): Promise<void> }> = [];

/** Server databases the tests made, dropped at the end. */
const serverDatabases: Array<{ olap: OlapEngine; database: string }> = [];

test.after.always(async () => {
  for (const { olap, database } of serverDatabases) await olap.execute(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
  for (const o of opened.reverse()) await o.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const USERS: Table = table("Users", [
  ["id", "String"],
  ["name", "String"],
  ["email", "String"],
]);

interface Target {
  readonly name: "embedded" | "server";
  open(prefix: string): Promise<OlapEngine>;
}

const targets: Target[] = [{ name: "embedded", open: (prefix) => openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase(prefix) }) }];
if (serverConfigFromEnv("probe")) {
  targets.push({
    name: "server",
    open: async (prefix) => {
      const database = uniqueDatabase(prefix);
      const olap = await openOlapEngine(serverConfigFromEnv(database)!);
      serverDatabases.push({ olap, database });
      return olap;
    },
  });
}

/** A project whose Users table exists with three rows. */
async function usersProject(target: Target, prefix: string): Promise<{ p: EvolveProject; before: { rows: number; checksum: string } }> {
  const olap = await target.open(prefix);
  const p = await EvolveProject.open(olap);
  opened.push(p, olap);
  p.generate(infra({ tables: [USERS] }), undefined, {}, "create_users");
  const created = await p.deploy();
  if (!created.ok) throw new Error(JSON.stringify(created.migrations));
  await olap.execute("INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com'), ('u2', 'Bob', 'bob@example.com'), ('u3', 'Cy', 'cy@example.com')");
  return { p, before: await fingerprint(olap, "Users", ["id", "name", "email"]) };
}

let clock = Date.UTC(2026, 11, 1, 0, 0, 0);

/** Writes a hand-written migration that changes nothing in the model (parent = result). */
function handWritten(p: EvolveProject, up: string, slug = "hand"): string {
  const hash = hashInfraMap(p.state());
  clock += 60_000;
  const id = `${new Date(clock).toISOString().replace(/\D/g, "").slice(0, 14)}_${slug}`;
  writeFileSync(
    join(p.migrationsDir, `${id}.ts`),
    `import { migration, sql, check } from "moose-migrate/migration";\n\nexport default migration({\n  parent: "${hash}",\n  result: "${hash}",\n  up: [\n    ${up},\n  ],\n  down: null,\n});\n`,
  );
  return id;
}

async function refusedCode(t: ExecutionContext, work: Promise<unknown>): Promise<MooseError> {
  const error = await t.throwsAsync(work);
  if (!(error instanceof MooseError)) throw new Error(`not a MooseError: ${String(error)}`);
  return error;
}

/** Nothing of a refused deploy ran: the rows are the same, the file is not in the ledger. */
async function intact(t: ExecutionContext, p: EvolveProject, before: { rows: number; checksum: string }, id: string): Promise<void> {
  t.deepEqual(await fingerprint(p.olap, "Users", ["id", "name", "email"]), before);
  const applied = (await p.ledger.list()).map((r) => r.id);
  t.false(applied.includes(id), `${id} was recorded`);
}

interface HandCase {
  readonly title: string;
  /** The step(s) as written in the file's `up` list. */
  readonly up: string;
  readonly code: string;
  /** Part of the message or details that names what was found. */
  readonly says?: RegExp;
  /** A file the statement would have written. */
  readonly writes?: string;
}

const outfile = join(dataDir, "outfile.tsv");

const HAND_CASES: readonly HandCase[] = [
  // Destructive statements without approval.
  { title: "sql DROP TABLE", up: 'sql("DROP TABLE Users")', code: "DESTRUCTIVE_NOT_APPROVED", says: /drops `Users`/ },
  { title: "sql DROP TABLE IF EXISTS … SYNC", up: 'sql("DROP TABLE IF EXISTS Users SYNC")', code: "DESTRUCTIVE_NOT_APPROVED", says: /drops/ },
  { title: "sql TRUNCATE", up: 'sql("TRUNCATE TABLE Users")', code: "DESTRUCTIVE_NOT_APPROVED", says: /truncates `Users`/ },
  { title: "sql ALTER … DELETE", up: 'sql("ALTER TABLE Users DELETE WHERE 1")', code: "DESTRUCTIVE_NOT_APPROVED", says: /ALTER DELETE/ },
  { title: "sql ALTER … UPDATE", up: "sql(\"ALTER TABLE Users UPDATE name = '' WHERE 1\")", code: "DESTRUCTIVE_NOT_APPROVED", says: /ALTER UPDATE/ },
  { title: "sql ALTER … DROP COLUMN", up: 'sql("ALTER TABLE Users DROP COLUMN email")', code: "DESTRUCTIVE_NOT_APPROVED", says: /DROP COLUMN/ },
  { title: "sql ALTER … CLEAR COLUMN", up: 'sql("ALTER TABLE Users CLEAR COLUMN email")', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "sql ALTER … MODIFY COLUMN (retype)", up: 'sql("ALTER TABLE Users MODIFY COLUMN name UInt8")', code: "DESTRUCTIVE_NOT_APPROVED", says: /MODIFY COLUMN/ },
  { title: "sql ALTER … RENAME COLUMN", up: 'sql("ALTER TABLE Users RENAME COLUMN email TO mail")', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "sql ALTER … DROP PARTITION", up: 'sql("ALTER TABLE Users DROP PARTITION tuple()")', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "sql ALTER … MODIFY TTL", up: "sql(\"ALTER TABLE Users MODIFY TTL toDateTime('2000-01-01') DELETE\")", code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "sql ALTER with a safe and a losing command", up: 'sql("ALTER TABLE Users ADD COLUMN age Int32, DROP COLUMN email")', code: "DESTRUCTIVE_NOT_APPROVED", says: /DROP COLUMN/ },
  { title: "sql lightweight DELETE", up: 'sql("DELETE FROM Users WHERE 1")', code: "DESTRUCTIVE_NOT_APPROVED", says: /deletes rows/ },
  { title: "sql RENAME TABLE", up: 'sql("RENAME TABLE Users TO Users_gone")', code: "DESTRUCTIVE_NOT_APPROVED", says: /renames/ },
  { title: "sql EXCHANGE TABLES", up: 'sql("EXCHANGE TABLES Users AND Other")', code: "DESTRUCTIVE_NOT_APPROVED", says: /renames or exchanges/ },
  { title: "sql DETACH TABLE", up: 'sql("DETACH TABLE Users")', code: "DESTRUCTIVE_NOT_APPROVED", says: /detaches/ },
  { title: "sql CREATE OR REPLACE TABLE", up: 'sql("CREATE OR REPLACE TABLE Users (id String) ENGINE = Memory")', code: "DESTRUCTIVE_NOT_APPROVED", says: /replaces/ },
  { title: "sql OPTIMIZE … DEDUPLICATE", up: 'sql("OPTIMIZE TABLE Users FINAL DEDUPLICATE")', code: "DESTRUCTIVE_NOT_APPROVED", says: /duplicate/ },
  { title: "sql DROP DATABASE", up: 'sql("DROP DATABASE IF EXISTS other")', code: "DESTRUCTIVE_NOT_APPROVED", says: /drops/ },
  { title: "sql with a comment before DROP", up: 'sql("/* harmless */ DROP TABLE Users")', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "sql lowercase drop", up: 'sql("drop table Users")', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "approval false is no approval", up: 'sql("TRUNCATE TABLE Users", { approveDataLoss: false })', code: "DESTRUCTIVE_NOT_APPROVED" },
  { title: "a safe INSERT before an unapproved DROP runs neither", up: 'sql("INSERT INTO Users VALUES (\'u9\', \'Eve\', \'eve@example.com\')"),\n    sql("DROP TABLE Users")', code: "DESTRUCTIVE_NOT_APPROVED" },
  // More than one statement, anywhere.
  { title: "sql SELECT; DROP", up: 'sql("SELECT 1; DROP TABLE Users")', code: "SQL_MULTI_STATEMENT" },
  { title: "sql INSERT VALUES; DROP", up: "sql(\"INSERT INTO Users VALUES ('a', 'b', 'c'); DROP TABLE Users\")", code: "SQL_MULTI_STATEMENT" },
  { title: "sql with a line comment then ; DROP", up: 'sql("SELECT 1 -- note\\n; DROP TABLE Users")', code: "SQL_MULTI_STATEMENT" },
  { title: "sql approved but two statements", up: 'sql("TRUNCATE TABLE Users; DROP TABLE Users", { approveDataLoss: true })', code: "SQL_MULTI_STATEMENT" },
  { title: "sql reverse with two statements", up: 'sql("SELECT 1", { reverse: "SELECT 1; DROP TABLE Users" })', code: "SQL_MULTI_STATEMENT" },
  { title: "check SELECT; DROP", up: 'check("SELECT 1 WHERE 0; DROP TABLE Users")', code: "SQL_MULTI_STATEMENT" },
  { title: "check with a string holding ; then a real ;", up: "check(\"SELECT ';' WHERE 0; TRUNCATE TABLE Users\")", code: "SQL_MULTI_STATEMENT" },
  // check() is one read-only SELECT.
  { title: "check DROP", up: 'check("DROP TABLE Users")', code: "CHECK_INVALID" },
  { title: "check TRUNCATE", up: 'check("TRUNCATE TABLE Users")', code: "CHECK_INVALID" },
  { title: "check INSERT … SELECT", up: 'check("INSERT INTO Users SELECT * FROM Users")', code: "CHECK_INVALID" },
  { title: "check ALTER … DELETE", up: 'check("ALTER TABLE Users DELETE WHERE 1")', code: "CHECK_INVALID" },
  { title: "check INTO OUTFILE", up: `check(${JSON.stringify(`SELECT * FROM Users INTO OUTFILE '${outfile}'`)})`, code: "CHECK_INVALID", writes: outfile },
  { title: "check file()", up: "check(\"SELECT count() FROM file('/etc/passwd', 'LineAsString')\")", code: "CHECK_INVALID" },
  { title: "check url()", up: "check(\"SELECT count() FROM url('http://127.0.0.1:1/x', 'TSV', 'a String')\")", code: "CHECK_INVALID" },
  { title: "check remote()", up: "check(\"SELECT count() FROM remote('127.0.0.1:9000', system.one)\")", code: "CHECK_INVALID" },
  { title: "check SETTINGS readonly = 0", up: 'check("SELECT count() FROM Users SETTINGS readonly = 0")', code: "CHECK_INVALID" },
  // Not SQL at all.
  { title: "sql syntax error", up: 'sql("SELEC 1")', code: "SQL_SYNTAX" },
  { title: "sql empty", up: 'sql("")', code: "SQL_EMPTY" },
  { title: "sql only a comment", up: 'sql("-- nothing")', code: "SQL_EMPTY" },
];

for (const target of targets) {
  for (const c of HAND_CASES) {
    test(`[${target.name}] migration file: ${c.title} → ${c.code}`, async (t) => {
      const { p, before } = await usersProject(target, "hm");
      const id = handWritten(p, c.up);
      const error = await refusedCode(t, p.deploy());
      t.is(error.code, c.code, error.message);
      const text = [error.message, ...(error.details ?? [])].join("\n");
      t.regex(text + (error.position ? `\n${error.position.file}:${error.position.line}` : ""), new RegExp(`${id}\\.ts:\\d+`), "names the file and line");
      if (c.says) t.regex(text, c.says);
      if (c.writes) t.false(existsSync(c.writes), "no file written");
      await intact(t, p, before, id);
    });
  }

  test(`[${target.name}] an approved TRUNCATE runs, after ⚠ in the dry run`, async (t) => {
    const { p } = await usersProject(target, "hm");
    const id = handWritten(p, 'sql("TRUNCATE TABLE Users", { approveDataLoss: true })');
    const dry = await (await import("../lib/migrations/apply/deploy.js")).deploy(p.files(), p.ledger, async () => ({ olap: p.olap, close: async () => {} }), { dryRun: true });
    const planned = JSON.stringify(dry);
    t.regex(planned, /truncates `Users`/);
    t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 3, "the dry run ran nothing");
    const status = await migrationStatus(p.files(), await p.ledger.list());
    t.is(status.rows.find((r) => r.id === id)?.detail, "⚠ approved data loss: step 1 sql: truncates `Users`");
    const report = await p.deploy();
    t.true(report.ok, JSON.stringify(report.migrations));
    t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 0);
    t.true((await p.ledger.list()).some((r) => r.id === id));
  });

  test(`[${target.name}] a refused second file stops the first one too: nothing of the run starts`, async (t) => {
    const { p, before } = await usersProject(target, "hm");
    const first = handWritten(p, "sql(\"INSERT INTO Users VALUES ('u9', 'Eve', 'eve@example.com')\")", "insert");
    const second = handWritten(p, 'sql("DROP TABLE Users")', "drop");
    const error = await refusedCode(t, p.deploy());
    t.is(error.code, "DESTRUCTIVE_NOT_APPROVED");
    await intact(t, p, before, first);
    await intact(t, p, before, second);
    unlinkSync(join(p.migrationsDir, `${second}.ts`));
    const report = await p.deploy();
    t.true(report.ok);
    t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 4, "the INSERT runs once the DROP is gone");
  });

  test(`[${target.name}] legitimate hand-written steps still run: INSERT … SELECT, a reading check, a string holding ;`, async (t) => {
    const { p } = await usersProject(target, "hm");
    handWritten(p, "sql(\"INSERT INTO Users SELECT concat(id, 'b'), name, email FROM Users\"),\n    check(\"SELECT count() AS n FROM Users HAVING n != 6\"),\n    sql(\"SELECT ';' AS semicolon_in_a_string\")");
    const report = await p.deploy();
    t.true(report.ok, JSON.stringify(report.migrations));
    t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 6);
  });
}

// --- Expressions pasted into DDL --------------------------------------------------------

interface DdlCase {
  readonly title: string;
  readonly desired: (base: InfraMap) => InfraMap;
  readonly code: string;
}

const withUsers = (patch: Partial<Table>, columns?: Column[]): InfraMap =>
  infra({ tables: [{ ...USERS, ...(columns ? { columns } : {}), ...patch }] });
const withAge = (dflt: string): InfraMap => withUsers({}, [...USERS.columns, { name: "age", type: "Int64", default: dflt }]);
const ts = (patch: Partial<Table>): InfraMap =>
  withUsers(patch, [...USERS.columns, { name: "ts", type: "DateTime", default: "now()" }]);

const DDL_CASES: readonly DdlCase[] = [
  { title: "column DEFAULT ending in ; DROP TABLE", desired: () => withAge("0; DROP TABLE Users"), code: "SQL_MULTI_STATEMENT" },
  { title: "column DEFAULT adding a column", desired: () => withAge("0, evil String"), code: "SQL_EXPRESSION_INVALID" },
  { title: "column DEFAULT ending in a line comment", desired: () => withAge("0 --"), code: "SQL_EXPRESSION_INVALID" },
  { title: "column DEFAULT with a FROM clause", desired: () => withAge("0 FROM Users"), code: "SQL_EXPRESSION_INVALID" },
  { title: "column DEFAULT that is a statement", desired: () => withAge("DROP TABLE Users"), code: "SQL_SYNTAX" },
  { title: "column DEFAULT closing the column list", desired: () => withAge("0) ENGINE = Memory AS SELECT 1 --"), code: "SQL_SYNTAX" },
  { title: "TTL ending in ; DROP TABLE", desired: () => ts({ ttl: "ts + INTERVAL 1 DAY; DROP TABLE Users" }), code: "SQL_MULTI_STATEMENT" },
  { title: "TTL smuggling a second ALTER command", desired: () => ts({ ttl: "ts + INTERVAL 1 DAY, DROP COLUMN email" }), code: "SQL_SYNTAX" },
  { title: "TTL with SETTINGS", desired: () => ts({ ttl: "ts + INTERVAL 1 DAY SETTINGS mutations_sync = 2" }), code: "SQL_EXPRESSION_INVALID" },
  { title: "ORDER BY entry ending in ; DROP TABLE", desired: () => withUsers({ orderBy: ["id; DROP TABLE Users"] }), code: "SQL_MULTI_STATEMENT" },
  { title: "ORDER BY entry closing the clause", desired: () => withUsers({ orderBy: ["id) SETTINGS index_granularity = 1 --"] }), code: "SQL_SYNTAX" },
  { title: "PARTITION BY ending in ; DROP TABLE", desired: () => withUsers({ partitionBy: "id; DROP TABLE Users" }), code: "SQL_MULTI_STATEMENT" },
  { title: "PARTITION BY with two expressions", desired: () => withUsers({ partitionBy: "id, name" }), code: "SQL_EXPRESSION_INVALID" },
  {
    title: "view SELECT ending in ; DROP TABLE",
    desired: () => ({ ...infra({ tables: [USERS, { ...USERS, name: "Copy" }], views: [view("V", ["Users"], "Copy", { selectStatement: "SELECT * FROM Users; DROP TABLE Users" })] }) }),
    code: "SQL_MULTI_STATEMENT",
  },
  {
    title: "view SELECT that is a DROP",
    desired: () => ({ ...infra({ tables: [USERS, { ...USERS, name: "Copy" }], views: [view("V", ["Users"], "Copy", { selectStatement: "DROP TABLE Users" })] }) }),
    code: "SQL_EXPRESSION_INVALID",
  },
  {
    title: "view SELECT INTO OUTFILE",
    desired: () => ({ ...infra({ tables: [USERS, { ...USERS, name: "Copy" }], views: [view("V", ["Users"], "Copy", { selectStatement: `SELECT * FROM Users INTO OUTFILE '${outfile}'` })] }) }),
    code: "SQL_EXPRESSION_INVALID",
  },
];

for (const target of targets) {
  for (const c of DDL_CASES) {
    test(`[${target.name}] DDL expression: ${c.title} → ${c.code}`, async (t) => {
      const { p, before } = await usersProject(target, "hd");
      const g = p.generate(c.desired(p.state()), undefined, {}, "hostile");
      if (!g) throw new Error("nothing generated");
      // A reviewer approved the TTL's deletions: the expression is what is refused.
      if (g.text.includes("approveDataLoss: false")) p.approve(g.id);
      const error = await refusedCode(t, p.deploy());
      t.is(error.code, c.code, error.message);
      t.true(error.position?.file.endsWith(`${g.id}.ts`), `names the file: ${JSON.stringify(error.position)}`);
      t.true((error.position?.line ?? 0) > 0, "names the line");
      t.false(existsSync(outfile), "no file written");
      await intact(t, p, before, g.id);
    });
  }
}

test("a backfillColumn expression with a second statement is refused (hand-edited file)", async (t) => {
  const { p, before } = await usersProject(targets[0]!, "hb");
  const g = p.generate(withAge("0"), undefined, {}, "age");
  if (!g) throw new Error("nothing generated");
  p.edit(g.id, /(\n  \],\n  down:)/, '\n    backfillColumn("Users", "age", { expression: "1; DROP TABLE Users" }),$1');
  const error = await refusedCode(t, p.deploy());
  t.is(error.code, "SQL_MULTI_STATEMENT");
  await intact(t, p, before, g.id);
});

test("guardMigrationSql reports each approved loss by step for ⚠ and refuses unapproved ones together", async (t) => {
  const at = (line: number) => ({ line, column: 5 });
  const step = (op: string, ...args: unknown[]) => ({ op, args }) as never;
  const losses = await guardMigrationSql(
    [
      { step: step("sql", "SELECT 1"), origin: at(3) },
      { step: step("sql", "DROP TABLE Users", { approveDataLoss: true }), origin: at(4) },
      { step: step("sql", "ALTER TABLE Users DELETE WHERE id = 'x'", { approveDataLoss: true }), origin: at(5) },
    ] as never,
    [null, null, null],
    "migrations/x.ts",
    "x",
  );
  t.deepEqual([...losses.entries()], [
    [1, "drops `Users`"],
    [2, "ALTER DELETE can drop, delete, overwrite or move data"],
  ]);
  const error = await refusedCode(
    t,
    guardMigrationSql(
      [
        { step: step("sql", "TRUNCATE TABLE A"), origin: at(3) },
        { step: step("sql", "SELECT 1"), origin: at(4) },
        { step: step("sql", "DROP TABLE B"), origin: at(5) },
      ] as never,
      [null, null, null],
      "migrations/x.ts",
      "x would lose data",
    ),
  );
  t.is(error.code, "DESTRUCTIVE_NOT_APPROVED");
  t.deepEqual(
    error.details?.map((d) => d.split(": ")[0]),
    ["migrations/x.ts:3", "migrations/x.ts:5"],
  );
});

// --- The app itself ---------------------------------------------------------------------

test("an app whose column default hides `; DROP TABLE` cannot generate a migration: exit 2 naming app/index.ts and the line", (t) => {
  const root = tempDir("hostile-app");
  const init = moose(root, ["init", "p"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "p");
  writeFileSync(
    join(dir, "app/index.ts"),
    [
      'import { OlapTable, type ClickHouseDefault } from "moose-migrate";',
      "",
      "interface UserSchema {",
      "  id: string;",
      '  name: string & ClickHouseDefault<"\'x\'; DROP TABLE Users">;',
      "}",
      "",
      'export const usersTable = new OlapTable<UserSchema>("Users");',
      "",
    ].join("\n"),
  );
  const r = moose(dir, ["migrate", "generate"]);
  t.is(r.code, 2, r.stdout + r.stderr);
  t.regex(r.stderr, /SQL_MULTI_STATEMENT/);
  t.regex(r.stderr, /app\/index\.ts:\d+/);
  t.false(existsSync(join(dir, "migrations")) && moose(dir, ["migrate", "status"]).stdout.includes("pending"), "no migration written");
});
