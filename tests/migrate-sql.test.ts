import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config/config.js";
import { projectLedger } from "../lib/project/engines.js";
import { runCli, tempDir } from "./helpers/cli.js";

/**
 * `moose migrate sql`, the SQL `migrate generate` prints and `moose plan --sql`: computed
 * offline, and exactly what deploy then runs (compared with the statements the ledger
 * records per step). Embedded chDB always; the ClickHouse 18.16 server with CLICKHOUSE_URL.
 * chDB opens one data directory per process: the tests that deploy are serial.
 */

const APP = `import { OlapTable, Stream } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
}

export const usersTable = new OlapTable<UserSchema>("Users", { orderByFields: ["id"] });
export const userEvents = new Stream<UserSchema>("UserEvents");
`;

async function project(app = APP, config?: string): Promise<string> {
  const root = tempDir("sql");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), app);
  if (config !== undefined) writeFileSync(join(dir, "moose.config.toml"), config);
  return dir;
}

function edit(dir: string, from: string, to: string): void {
  const path = join(dir, "app/index.ts");
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`app has no ${from}`);
  writeFileSync(path, text.replace(from, to));
}

type SqlDoc = { ok: boolean; target: { version: string; source: string }; migrations: Array<{ id: string; steps: Array<{ step: string; line: number; statements: string[] }> }> };

async function sqlOf(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, id: string, extra: string[] = []): Promise<SqlDoc> {
  const r = await runCli(dir, ["migrate", "sql", id, "--json", ...extra]);
  t.is(r.code, 0, r.stdout + r.stderr);
  return JSON.parse(r.stdout) as SqlDoc;
}

async function generate(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, name: string, extra: string[] = []): Promise<{ id: string; stdout: string }> {
  const g = await runCli(dir, ["migrate", "generate", "--name", name, ...extra]);
  t.is(g.code, 0, g.stdout + g.stderr);
  const id = /Wrote migrations\/(\d{14}_[a-z0-9_]+)\.ts/.exec(g.stdout)?.[1];
  if (!id) throw new Error(g.stdout);
  return { id, stdout: g.stdout };
}

/** The statements the ledger recorded for each step of `id`, as deploy ran them. */
async function ledgerStatements(dir: string, id: string): Promise<string[][]> {
  const config = await loadConfig(dir, {});
  const ledger = await projectLedger(config, "test");
  try {
    return (await ledger.steps(id)).map((s) => [...s.statements]);
  } finally {
    await ledger.close();
  }
}

/** A sequence that exercises fused statements (a new column appended to ORDER BY) and a rename. */
async function threeMigrations(t: Parameters<typeof generate>[0], dir: string, extra: string[] = []): Promise<string[]> {
  const ids = [(await generate(t, dir, "create", extra)).id];
  edit(dir, "  email: string;\n", "  email: string;\n  region: string;\n");
  edit(dir, 'orderByFields: ["id"]', 'orderByFields: ["id", "region"]');
  ids.push((await generate(t, dir, "region", extra)).id);
  edit(dir, "  name: string;\n", "  fullName: string;\n");
  ids.push((await generate(t, dir, "rename", ["--rename", "Users.name:fullName", ...extra])).id);
  return ids;
}

test.serial("embedded: the SQL migrate sql prints offline is, step for step, what deploy runs and records", async (t) => {
  const dir = await project();
  const ids = await threeMigrations(t, dir);
  const offline = await Promise.all(ids.map((id) => sqlOf(t, dir, id)));
  t.is(offline[0]!.target.source, "embedded");
  t.regex(offline[0]!.target.version, /^\d+\.\d+\./);
  // The fused ALTER: the addColumn step runs nothing of its own, the ORDER BY step adds the column.
  t.deepEqual(offline[1]!.migrations[0]!.steps.map((s) => s.statements), [
    [],
    ["ALTER TABLE `local`.`Users` ADD COLUMN `region` String AFTER `email`, MODIFY ORDER BY (`id`, `region`)"],
    ["-- stream engine: topic.modify UserEvents"],
  ]);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  for (const [k, id] of ids.entries()) {
    t.deepEqual(await ledgerStatements(dir, id), offline[k]!.migrations[0]!.steps.map((s) => s.statements), id);
  }
  // After deploy the SQL is still shown the same way (nothing depends on the ledger).
  t.deepEqual(await sqlOf(t, dir, ids[2]!), offline[2]);
});

test("generate prints the new file's SQL; migrate sql prints it again; plan --sql shows the same statements before the file exists", async (t) => {
  const dir = await project();
  await generate(t, dir, "create");
  edit(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  const plan = await runCli(dir, ["plan", "--sql", "--json"]);
  t.is(plan.code, 0, plan.stderr);
  const planned = (JSON.parse(plan.stdout) as { sql: SqlDoc }).sql.migrations[0]!.steps.map((s) => s.statements);
  const g = await generate(t, dir, "age");
  const again = await runCli(dir, ["migrate", "sql", g.id]);
  t.is(again.code, 0, again.stderr);
  // The text generate printed between the plan and "Wrote …" is the text migrate sql prints.
  t.true(g.stdout.includes(`\n${again.stdout}\nWrote migrations/${g.id}.ts\n`), g.stdout + "\n---\n" + again.stdout);
  t.regex(again.stdout, /^SQL for ClickHouse \d+\.\d+[.\d]* \(the embedded engine\):\n\d{14}_age\n  1\. addColumn\("Users", …\)  migrations\/\d{14}_age\.ts:\d+\n     ALTER TABLE `local`\.`Users` ADD COLUMN `age` Nullable\(Float64\) AFTER `email`\n/);
  t.deepEqual((await sqlOf(t, dir, g.id)).migrations[0]!.steps.map((s) => s.statements), planned);
  // A unique prefix (the timestamp) names the file; the file name works too.
  t.deepEqual(await sqlOf(t, dir, g.id.slice(0, 14)), await sqlOf(t, dir, `migrations/${g.id}.ts`));
});

test("the target version decides the SQL: a rename is RENAME COLUMN on 26.x and refused on 18.16, naming file, line and step", async (t) => {
  const dir = await project();
  const [, , rename] = await threeMigrations(t, dir);
  const modern = await sqlOf(t, dir, rename!, ["--server-version", "24.8"]);
  t.deepEqual(modern.target, { version: "24.8", source: "flag" });
  t.deepEqual(modern.migrations[0]!.steps[0]!.statements, ["ALTER TABLE `local`.`Users` RENAME COLUMN `name` TO `fullName`"]);
  const old = await runCli(dir, ["migrate", "sql", rename!, "--server-version", "18.16.1"]);
  t.is(old.code, 3, old.stdout);
  t.regex(old.stderr, new RegExp(`^error\\[UNSUPPORTED_BY_SERVER\\]: migrations/${rename}\\.ts:\\d+:\\d+: step 1 of ${rename}, renameColumn\\("Users", …\\): .*18\\.16\\.1`));
  // The config key says the same without the flag; generate warns (the file is still written).
  const config = readFileSync(join(dir, "moose.config.toml"), "utf8");
  writeFileSync(join(dir, "moose.config.toml"), config.replace("[clickhouse_config]", '[clickhouse_config]\nserver_version = "18.16.1"'));
  const viaConfig = await runCli(dir, ["migrate", "sql", rename!]);
  t.is(viaConfig.code, 3);
  t.regex(viaConfig.stderr, /step 1 of .*RENAME COLUMN/);
  edit(dir, "  email: string;\n", "  mail: string;\n");
  const g = await runCli(dir, ["migrate", "generate", "--rename", "Users.email:mail"]);
  t.is(g.code, 0, g.stderr);
  t.regex(g.stderr, /^warning: ClickHouse 18\.16\.1 \(clickhouse_config\.server_version\) would refuse this migration at deploy: error\[UNSUPPORTED_BY_SERVER\]: migrations\/\d{14}_[a-z0-9_]+\.ts:\d+:\d+: step 1 of/);
});

test("bad versions and ids are usage or config errors naming what to do", async (t) => {
  const dir = await project();
  const bad = await runCli(dir, ["migrate", "sql", "x", "--server-version", "latest"]);
  t.is(bad.code, 2);
  await generate(t, dir, "create");
  const badFlag = await runCli(dir, ["migrate", "sql", "2", "--server-version", "latest"]);
  t.is(badFlag.code, 2);
  t.regex(badFlag.stderr, /error\[USAGE\]: --server-version "latest" is not a ClickHouse version\n  hint: .*"24\.8"/);
  const missing = await runCli(dir, ["migrate", "sql", "1999"]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /error\[MIGRATION_NOT_FOUND\]: no migration "1999".*\n  hint: name one of: \d{14}_create/);
  t.is((await runCli(dir, ["plan", "--server-version", "24.8"])).code, 2);
  writeFileSync(join(dir, "moose.config.toml"), '[clickhouse_config]\nserver_version = "new"\n');
  const badConfig = await runCli(dir, ["migrate", "sql", "2"]);
  t.is(badConfig.code, 2);
  t.regex(badConfig.stderr, /error\[CONFIG_INVALID\]: clickhouse_config\.server_version "new" is not a ClickHouse version/);
});

const url = process.env["CLICKHOUSE_URL"];
const server = url ? test.serial : test.skip;
if (!url) console.log("migrate-sql: CLICKHOUSE_URL is not set; skipping the offline-vs-deploy comparison on a ClickHouse server");

server("ClickHouse server: SQL written offline for its version is what deploy runs there", async (t) => {
  const { hostname, port } = new URL(url!);
  const version = (await (await fetch(`${url}/?query=${encodeURIComponent("SELECT version()")}`)).text()).trim();
  const database = `moose_sql_${process.pid}_${Date.now().toString(36)}`;
  const dir = await project(
    APP.replace('import { OlapTable, Stream } from "moose-migrate";', 'import { OlapTable } from "moose-migrate";').replace(/export const userEvents.*\n/, ""),
    `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\nserver_version = "${version}"\n`,
  );
  const ids = [(await generate(t, dir, "create")).id];
  edit(dir, "  email: string;\n", "  email: string;\n  region: string;\n");
  edit(dir, 'orderByFields: ["id"]', 'orderByFields: ["id", "region"]');
  ids.push((await generate(t, dir, "region")).id);
  const offline = await Promise.all(ids.map((id) => sqlOf(t, dir, id)));
  t.deepEqual(offline[0]!.target, { version, source: "config" });
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  for (const [k, id] of ids.entries()) t.deepEqual(await ledgerStatements(dir, id), offline[k]!.migrations[0]!.steps.map((s) => s.statements), id);
});

server("ClickHouse 18.16: a safe type change it cannot run is refused at deploy naming the file, line and step; nothing is run", async (t) => {
  const { hostname, port } = new URL(url!);
  const database = `moose_sql_safe_${process.pid}_${Date.now().toString(36)}`;
  const dir = await project(
    'import { OlapTable, type Int64 } from "moose-migrate";\ninterface Score {\n  id: string;\n  score: Int64;\n}\nexport const scores = new OlapTable<Score>("Scores");\n',
    `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`,
  );
  await generate(t, dir, "create");
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);
  edit(dir, "type Int64 }", "type Int8 }");
  edit(dir, "score: Int64;", "score: Int8;");
  const { id } = await generate(t, dir, "narrow", ["--safe-type-change"]);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3, d.stdout + d.stderr);
  t.regex(d.stderr, new RegExp(`^error\\[UNSUPPORTED_BY_SERVER\\]: migrations/${id}\\.ts:\\d+:\\d+: step \\d of ${id}, [a-zA-Z]+\\("Scores", …\\): .*18\\.16`));
  t.deepEqual(await ledgerStatements(dir, id), []);
  const dry = await runCli(dir, ["migrate", "deploy", "--dry-run"]);
  t.is(dry.code, 3);
  t.regex(dry.stderr, new RegExp(`migrations/${id}\\.ts:\\d+:\\d+: step \\d of ${id}`));
});

test.serial("embedded: a Replicated table (moose-lib's ReplicatedAggregatingMergeTreeTest) keeps its declared engine in the migration, is created without replication on the embedded engine (the statement says why) (on a server it is created as declared: tests/fidelity-engines)", async (t) => {
  const dir = await project(`import { OlapTable, ClickHouseEngines } from "moose-migrate";

interface Agg {
  id: string;
  n: number;
}

export const agg = new OlapTable<Agg>("ReplicatedAggregatingMergeTreeTest", { orderByFields: ["id"], engine: ClickHouseEngines.ReplicatedAggregatingMergeTree });
`);
  const g = await runCli(dir, ["migrate", "generate", "--name", "replicated"]);
  t.is(g.code, 0, g.stderr);
  t.notRegex(g.stderr, /would refuse/);
  const [file] = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts"));
  t.regex(readFileSync(join(dir, "migrations", file!), "utf8"), /engine: \{ kind: "AggregatingMergeTree", replicated: \{\} \}/);
  const id = file!.replace(/\.ts$/, "");
  const preview = await runCli(dir, ["migrate", "sql", id]);
  t.regex(preview.stdout, /ENGINE = AggregatingMergeTree \/\* declared ReplicatedAggregatingMergeTree: the embedded engine is one node and runs no replicas \*\//);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  const [statements] = await ledgerStatements(dir, id);
  t.regex(statements!.join("\n"), /ENGINE = AggregatingMergeTree \/\* declared ReplicatedAggregatingMergeTree: the embedded engine is one node and runs no replicas \*\//);
  const q = await runCli(dir, ["query", "SELECT engine FROM system.tables WHERE name = 'ReplicatedAggregatingMergeTreeTest'"]);
  t.is(q.code, 0, q.stderr);
  t.regex(q.stdout, /AggregatingMergeTree/);
  const status = await runCli(dir, ["migrate", "status"]);
  t.is(status.code, 0, status.stdout + status.stderr);
});
