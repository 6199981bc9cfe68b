import test from "ava";
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../lib/model/infra-map.js";
import { readMigrations, readMigrationText } from "../lib/migrations/files/read.js";
import { nextTimestamp } from "../lib/migrations/author/generate.js";
import { replayMigrations } from "../lib/migrations/files/sequence.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { InvalidInputErrors, MooseError } from "../lib/errors.js";
import { runCli, tempDir } from "./helpers/cli.js";

// The commands run in this process. None opens an engine, so the tests run concurrently.

/** A project from `moose init`, with `app/index.ts` replaced. */
async function project(app?: string): Promise<string> {
  const root = tempDir("mig");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  if (app) writeFileSync(join(dir, "app/index.ts"), app);
  return dir;
}

function migrationFiles(dir: string): string[] {
  return readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort();
}

/** Rewrites the app, changing mtime and size so the extractor sees it. */
function edit(dir: string, from: string, to: string): void {
  const path = join(dir, "app/index.ts");
  writeFileSync(path, readFileSync(path, "utf8").replace(from, to));
}

test("generate writes a reviewable file, replay reproduces the code's state, and a second generate finds nothing", async (t) => {
  const dir = await project();
  const g = await runCli(dir, ["migrate", "generate"]);
  t.is(g.code, 0, g.stderr);
  t.regex(g.stdout, /Wrote migrations\/\d{14}_create_table_users_and_1_more\.ts\n$/);
  const [first] = migrationFiles(dir);
  t.truthy(first);
  const text = readFileSync(join(dir, "migrations", first!), "utf8");
  t.snapshot(text.replace(/\d{14}/g, "<timestamp>"), "first migration file");

  const files = readMigrations(join(dir, "migrations"));
  const replay = replayMigrations(files);
  const code = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.is(canonicalJson(replay.state), canonicalJson(code.map));

  const again = await runCli(dir, ["migrate", "generate"]);
  t.is(again.code, 0);
  t.is(again.stdout, "No changes: the code matches the state of the committed migrations; nothing written.\n");
  t.is(migrationFiles(dir).length, 1);
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");
});

test("adding a field gives add_age_to_users with addColumn after email and a reverse dropColumn", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  edit(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  const plan = await runCli(dir, ["plan"]);
  t.true(plan.stdout.includes("  ~ Users (Schema Update)\n      + age Nullable(Float64)\n"), plan.stdout);
  const g = await runCli(dir, ["migrate", "generate", "--name", "Add age to users"]);
  t.is(g.code, 0, g.stderr);
  const second = migrationFiles(dir)[1]!;
  t.regex(second, /^\d{14}_add_age_to_users\.ts$/);
  const text = readFileSync(join(dir, "migrations", second), "utf8");
  t.true(text.includes('addColumn("Users", { name: "age", type: "Nullable(Float64)", after: "email" }),'), text);
  t.true(text.includes('dropColumn("Users", "age", { approveDataLoss: true }),'), text);
  const replay = replayMigrations(readMigrations(join(dir, "migrations")));
  t.deepEqual(
    replay.state.tables["Users"]?.columns.map((c) => c.name),
    ["id", "name", "email", "age"],
  );
});

test("removing a field writes an unapproved dropColumn and names the data at risk", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  edit(dir, "  email: string;\n", "");
  const plan = await runCli(dir, ["plan"]);
  t.regex(plan.stdout, /      - email String  ⚠ drops a column and its data\n/);
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  const text = readFileSync(join(dir, "migrations", migrationFiles(dir)[1]!), "utf8");
  t.true(text.includes("//   ⚠ drop email from Users: drops a column and its data\n"), text);
  t.true(text.includes('    dropColumn("Users", "email", { approveDataLoss: false }),\n'), text);
  t.true(text.includes("// ⚠ DROP_COLUMN: drops a column and its data. Set approveDataLoss: true to run this step."), text);
});

test("rendering is deterministic: the same change gives byte-identical files (timestamp aside)", async (t) => {
  const a = await project();
  const b = await project();
  t.is((await runCli(a, ["migrate", "generate", "--name", "x"])).code, 0);
  t.is((await runCli(b, ["migrate", "generate", "--name", "x"])).code, 0);
  const ta = readFileSync(join(a, "migrations", migrationFiles(a)[0]!), "utf8").replace(/\d{14}/g, "T");
  const tb = readFileSync(join(b, "migrations", migrationFiles(b)[0]!), "utf8").replace(/\d{14}/g, "T");
  t.is(ta, tb);
});

test("an edited step that changes the result is refused with both hashes and the fix (exit 3)", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  const path = join(dir, "migrations", migrationFiles(dir)[0]!);
  writeFileSync(path, readFileSync(path, "utf8").replace('{ name: "email", type: "String" }', '{ name: "email", type: "Nullable(String)" }'));
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 3);
  t.regex(r.stderr, /error\[MIGRATION_RESULT_MISMATCH\]: migrations\/\d{14}_create_table_users_and_1_more\.ts:1:1: \d{14}_create_table_users_and_1_more\.ts's steps produce state [0-9a-f]{12}, but the file records result [0-9a-f]{12}\n  hint: if you edited its steps on purpose/);
});

test("a removed earlier migration breaks the chain and is refused (exit 3)", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  edit(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  unlinkSync(join(dir, "migrations", migrationFiles(dir)[0]!));
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 3);
  t.regex(r.stderr, /error\[MIGRATION_CHAIN_BROKEN\]: migrations\/\d{14}_add_age_to_users_and_1_more\.ts:1:1: .* expects to start from state [0-9a-f]{12}, but the migrations before it produce [0-9a-f]{12}/);
});

test("steps must be literal calls of known builders; errors carry file:line:column", (t) => {
  const base = `import { migration, createTable } from "moose-migrate/migration";\nexport default migration({\n  parent: "sha256:${"0".repeat(64)}",\n  result: "sha256:${"1".repeat(64)}",\n`;
  const err = (text: string): MooseError => {
    try {
      readMigrationText(text, "20260101000000_x.ts", "migrations/20260101000000_x.ts");
    } catch (e) {
      return e instanceof InvalidInputErrors ? (e.errors[0] as MooseError) : (e as MooseError);
    }
    throw new Error("no error");
  };
  const notLiteral = err(base + "  up: [createTable(makeTable())],\n  down: null,\n});\n");
  t.is(notLiteral.code, "MIGRATION_NOT_LITERAL");
  t.deepEqual(notLiteral.position, { file: "migrations/20260101000000_x.ts", line: 5, column: 20 });
  const unknown = err(base + "  up: [dropEverything()],\n  down: null,\n});\n");
  t.is(unknown.code, "MIGRATION_STEP_INVALID");
  t.deepEqual(unknown.position, { file: "migrations/20260101000000_x.ts", line: 5, column: 8 });
  const syntax = err(base + "  up: [,\n");
  t.is(syntax.code, "MIGRATION_SYNTAX");
  const ok = readMigrationText(base + '  up: [sql("SELECT 1")],\n  down: null,\n});\n', "20260101000000_x.ts", "p");
  t.deepEqual(ok.up.map((s) => s.step), [{ op: "sql", args: ["SELECT 1"] }]);
  t.is(ok.down, null);
});

test("a misnamed .ts file in migrations/ is an error, not silently skipped", async (t) => {
  const dir = await project();
  writeFileSync(join(dir, "migrations", "add-users.ts"), "export {};\n");
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error\[MIGRATION_NAME_INVALID\]: migrations\/add-users\.ts is not named like a migration/);
});

test("a new migration always sorts after the newest committed one, even within the same second", (t) => {
  const now = new Date(Date.UTC(2026, 10, 26, 4, 30, 0));
  t.is(nextTimestamp(now, undefined), "20261126043000");
  t.is(nextTimestamp(now, "20261126042959"), "20261126043000");
  t.is(nextTimestamp(now, "20261126043000"), "20261126043001");
  t.is(nextTimestamp(now, "20261231235959"), "20270101000000");
});

test("the reverse of creating a table that holds no rows (S3, Kafka) drops it without an approval; a MergeTree table's reverse keeps it", async (t) => {
  const dir = await project(
    [
      'import { OlapTable, ClickHouseEngines, Key } from "@514labs/moose-lib";',
      "interface Row { id: Key<string>; amount: number }",
      'export const kept = new OlapTable<Row>("Kept", { orderByFields: ["id"] });',
      'export const s3 = new OlapTable<Row>("S3Public", { engine: ClickHouseEngines.S3, path: "https://public-test-bucket.s3.amazonaws.com/data/file.csv", format: "CSV", compression: "auto" });',
      'export const kafka = new OlapTable<Row>("KafkaSource", { engine: ClickHouseEngines.Kafka, brokerList: "127.0.0.1:9", topicList: "In", groupName: "g", format: "JSONEachRow" });',
    ].join("\n"),
  );
  const g = await runCli(dir, ["migrate", "generate"]);
  t.is(g.code, 0, g.stderr);
  const text = readFileSync(join(dir, "migrations", migrationFiles(dir)[0]!), "utf8");
  const down = text.slice(text.indexOf("down:"));
  t.true(down.includes('dropTable("Kept", { approveDataLoss: true })'), down);
  t.true(down.includes('dropTable("S3Public")'), down);
  t.true(down.includes('dropTable("KafkaSource")'), down);
  t.false(/dropTable\("(S3Public|KafkaSource)", \{/.test(down), down);
  // The file as written replays to the code's state.
  t.is(canonicalJson(replayMigrations(readMigrations(join(dir, "migrations"))).state), canonicalJson(extractApp({ projectDir: dir, mainFile: "app/index.ts" }).map));
});
