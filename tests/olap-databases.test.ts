import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseRenameFlags } from "../cli/commands/migrate-generate.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { InvalidInputErrors } from "../lib/errors.js";
import { qualifiedName, quoteTableName, tableParts } from "../lib/model/clickhouse-quote.js";
import { moose, tempDir } from "./helpers/cli.js";

/**
 * moose-lib's `database` option: a table outside clickhouse_config.db_name. The model names
 * it `<database>.<table>`, so same-named tables of two databases never meet; its database
 * is created with it; a view reads it across databases; a --rename moves it between
 * databases. Real CLI processes on the embedded engine (chDB 26.x) and, with
 * CLICKHOUSE_URL, on the ClickHouse 18.16 server.
 */

const APP = `import { OlapTable, MaterializedView, Key, sql } from "moose-migrate";
export interface Ev { id: Key<string>; v: number }
export const local = new OlapTable<Ev>("Events", { orderByFields: ["id"] });
export const other = new OlapTable<Ev>("Events", { orderByFields: ["id"], database: "DB_A" });
export const same = new OlapTable<Ev>("Mine", { orderByFields: ["id"], database: "DB_MAIN" });
export interface Cnt { id: string; n: number }
export const counts = new OlapTable<Cnt>("Counts", { orderByFields: ["id"] });
export const mv = new MaterializedView<Cnt>({ materializedViewName: "counts_mv", selectStatement: sql\`SELECT id, v AS n FROM \${other}\`, selectTables: [other], targetTable: counts });
`;

test("a model table name splits into database and table; SQL qualifies it with its own database", (t) => {
  t.deepEqual(tableParts("local", "Events"), { database: "local", table: "Events" });
  t.deepEqual(tableParts("local", "analytics.Events"), { database: "analytics", table: "Events" });
  t.is(qualifiedName("local", "analytics.Events__moose_1a2b3c4d"), "`analytics`.`Events__moose_1a2b3c4d`");
  t.is(quoteTableName("Events"), "`Events`");
  t.is(quoteTableName("analytics.Events"), "`analytics`.`Events`");
});

test("--rename takes tables of other databases: a new name with a database is a table move; db_name is the same as none", (t) => {
  t.deepEqual(parseRenameFlags(["analytics.Events:archive.Events", "Events:analytics.Events", "analytics.Events.v:w", "local.Old:analytics.Old", "Users.mail:email"], "local"), {
    tables: [
      { from: "analytics.Events", to: "archive.Events" },
      { from: "Events", to: "analytics.Events" },
      { from: "Old", to: "analytics.Old" },
    ],
    columns: [
      { table: "analytics.Events", from: "v", to: "w" },
      { table: "Users", from: "mail", to: "email" },
    ],
  });
});

test("extract: database names the table <database>.<table>; db_name itself names no other database; a bad database name is an error at its line", (t) => {
  const root = tempDir("olap-db-extract");
  const init = moose(root, ["init", "p"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP.replace("DB_A", "analytics").replace("DB_MAIN", "local"));
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts", database: "local" });
  t.deepEqual(Object.keys(map.tables).sort(), ["Counts", "Events", "Mine", "analytics.Events"]);
  t.is(map.tables["analytics.Events"]?.name, "analytics.Events");
  t.deepEqual(map.views["counts_mv"]?.sourceTables, ["analytics.Events"]);
  t.is(map.views["counts_mv"]?.selectStatement, "SELECT id, v AS n FROM `analytics`.`Events`");
  writeFileSync(join(dir, "app/index.ts"), APP.replace("DB_A", "ana-lytics").replace("DB_MAIN", "local"));
  const e = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts", database: "local" }), { instanceOf: InvalidInputErrors }) as InvalidInputErrors;
  t.deepEqual(
    e.errors.map((x) => x.located),
    [
      'app/index.ts:4:75: database is "ana-lytics"; a database name is a letter or `_` followed by letters, digits and `_` (or leave database out for clickhouse_config.db_name)',
      "app/index.ts:8:82: selectStatement refers to an object that could not be read (see the other errors)",
    ],
  );
});

test("extract: database in an IngestPipeline's table config names the table too (never dropped); in a view's targetTable object, where moose-lib has no such option, it is an error", (t) => {
  const root = tempDir("olap-db-nested");
  const init = moose(root, ["init", "p"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "p");
  writeFileSync(
    join(dir, "app/index.ts"),
    `import { OlapTable, MaterializedView, IngestPipeline, Key, sql } from "moose-migrate";
export interface Ev { id: Key<string>; v: number }
export const events = new OlapTable<Ev>("Events", { orderByFields: ["id"] });
export interface Cnt { id: string; n: number }
export const mv = new MaterializedView<Cnt>({ materializedViewName: "counts_mv", selectStatement: sql\`SELECT id, v AS n FROM \${events}\`, selectTables: [events], targetTable: { name: "Counts", orderByFields: ["id"] } });
export const pipe = new IngestPipeline<Ev>("Clicks", { table: { orderByFields: ["id"], database: "raw" }, stream: true, ingestApi: true });
`,
  );
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts", database: "local" });
  t.deepEqual(Object.keys(map.tables).sort(), ["Counts", "Events", "raw.Clicks"]);
  t.is(map.processes["Clicks_to_raw.Clicks"]?.targetTable, "raw.Clicks", "the pipeline's stream syncs into the table in its database");
  const app = readFileSync(join(dir, "app/index.ts"), "utf8");
  writeFileSync(join(dir, "app/index.ts"), app.replace('targetTable: { name: "Counts", orderByFields: ["id"] }', 'targetTable: { name: "Counts", orderByFields: ["id"], database: "reports" }'));
  const e = t.throws(() => extractApp({ projectDir: dir, mainFile: "app/index.ts", database: "local" }), { instanceOf: InvalidInputErrors }) as InvalidInputErrors;
  t.regex(e.errors.map((x) => x.located).join("\n"), /app\/index\.ts:5:\d+: database is not an option of MaterializedView/);
});

interface Target {
  readonly label: string;
  readonly config: (database: string) => string | undefined;
}

const targets: Target[] = [{ label: "embedded ClickHouse", config: () => undefined }];
const url = process.env["CLICKHOUSE_URL"];
if (url) {
  const { hostname, port } = new URL(url);
  targets.push({ label: "ClickHouse 18.16 server", config: (db) => `[clickhouse_config]\nengine = "server"\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${db}"\nuser = "default"\npassword = ""\n` });
} else {
  console.log("olap-databases: CLICKHOUSE_URL is not set; the server half is skipped (.ci/run sets it)");
}

for (const target of targets) {
  test.serial(`${target.label}: same-named tables in two databases, a view across databases, a move between databases (rename), rollback, no drift`, (t) => {
    const tag = `${process.pid}_${Date.now().toString(36)}`;
    const main = `moose_dbs_${tag}`;
    const a = `moose_dbs_a_${tag}`;
    const b = `moose_dbs_b_${tag}`;
    const root = tempDir("olap-db");
    t.is(moose(root, ["init", "p"]).code, 0);
    const dir = join(root, "p");
    const config = target.config(main);
    if (config !== undefined) writeFileSync(join(dir, "moose.config.toml"), config);
    const dbMain = config === undefined ? "local" : main;
    writeFileSync(join(dir, "app/index.ts"), APP.replace("DB_A", a).replace("DB_MAIN", dbMain));
    const step = (args: string[]): string => {
      const r = moose(dir, args);
      t.is(r.code, 0, `moose ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    const query = (sql: string): unknown => JSON.parse(step(["query", sql, "--format", "json"]));
    try {
      const plan = step(["migrate", "generate", "--name", "two databases"]);
      t.regex(plan, new RegExp(`\\+ ${a}\\.Events \\(OLAP Table\\)`));
      t.regex(plan, /\+ Events \(OLAP Table\)/);
      t.regex(plan, /\+ Mine \(OLAP Table\)/, "database: db_name is the managed database");
      t.regex(plan, new RegExp(`createTable\\("${a}\\.Events"\\)[^\\n]*\\n\\s+CREATE DATABASE IF NOT EXISTS \`${a}\`\\n\\s+CREATE TABLE \`${a}\`\\.\`Events\``));
      t.regex(plan, new RegExp(`AS SELECT id, v AS n FROM \`${a}\`\\.\`Events\``));
      t.regex(step(["migrate", "deploy"]), /1 migration applied\./);
      step(["query", `INSERT INTO ${a}.Events (id, v) VALUES ('x', 1)`, "--write"]);
      step(["query", "INSERT INTO Events (id, v) VALUES ('y', 2)", "--write"]);
      t.deepEqual(query("SELECT id, n FROM Counts"), [{ id: "x", n: 1 }], "the view reads the other database's table only");
      const status = moose(dir, ["migrate", "status", "--json"]);
      t.is(status.code, 0, status.stdout + status.stderr);
      t.deepEqual((JSON.parse(status.stdout) as { drift: string[] }).drift, []);
      t.is(step(["plan"]), "No changes: the infrastructure matches the code.\n");

      // A column dropped by hand in the other database is drift naming the qualified table.
      step(["query", `ALTER TABLE ${a}.Events ADD COLUMN extra String`, "--write"]);
      const drifted = moose(dir, ["migrate", "status", "--json"]);
      t.is(drifted.code, 3, drifted.stdout + drifted.stderr);
      t.deepEqual((JSON.parse(drifted.stdout) as { drift: string[] }).drift, [`table ${a}.Events has a column extra String that no migration added`]);
      step(["query", `ALTER TABLE ${a}.Events DROP COLUMN extra`, "--write"]);

      // The table moves to database b, keeping its rows; the view follows it.
      writeFileSync(join(dir, "app/index.ts"), APP.replace("DB_A", b).replace("DB_MAIN", dbMain));
      const move = step(["migrate", "generate", "--name", "move", "--rename", `${a}.Events:${b}.Events`]);
      t.regex(move, new RegExp(`CREATE DATABASE IF NOT EXISTS \`${b}\`\\n\\s+RENAME TABLE \`${a}\`\\.\`Events\` TO \`${b}\`\\.\`Events\``));
      t.regex(step(["migrate", "deploy"]), /1 migration applied\./);
      t.deepEqual(query(`SELECT id, v FROM ${b}.Events`), [{ id: "x", v: 1 }]);
      step(["query", `INSERT INTO ${b}.Events (id, v) VALUES ('z', 3)`, "--write"]);
      t.deepEqual(query("SELECT id, n FROM Counts ORDER BY id"), [{ id: "x", n: 1 }, { id: "z", n: 3 }], "the view reads the moved table");
      t.deepEqual((JSON.parse(step(["migrate", "status", "--json"])) as { drift: string[] }).drift, []);
      const files = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_move.ts"));
      t.regex(readFileSync(join(dir, "migrations", files[0]!), "utf8"), new RegExp(`renameTable\\("${a}\\.Events", "${b}\\.Events"\\)`));

      // Rolled back: the table is in database a again, with its rows.
      t.regex(step(["migrate", "rollback"]), /rolled back/i);
      t.deepEqual(query(`SELECT id, v FROM ${a}.Events ORDER BY id`), [{ id: "x", v: 1 }, { id: "z", v: 3 }]);
      t.deepEqual(query(`SELECT name FROM system.tables WHERE database = '${b}'`), []);
    } finally {
      for (const db of [a, b, ...(config === undefined ? [] : [main])]) moose(dir, ["query", `DROP DATABASE IF EXISTS ${db}`, "--write"]);
    }
  });
}
