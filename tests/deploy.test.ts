import test from "ava";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openLedger } from "../lib/ledger/index.js";
import { BIN, runCli, tempDir } from "./helpers/cli.js";
import { queryRows } from "./helpers/ledger-sqlite.js";

/**
 * End-to-end: the CLI's commands in temp projects, on embedded ClickHouse (chDB) and
 * a real SQLite ledger, run in this process. chDB opens one data directory per
 * process, so the tests (each with its own project) run serially. The concurrency
 * test runs real processes.
 */

const TABLES_ONLY = `import { OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

async function project(app = TABLES_ONLY): Promise<string> {
  const root = tempDir("deploy");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), app);
  return dir;
}

const files = (dir: string) => readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort();
const ledgerPath = (dir: string) => join(dir, ".moose", "ledger.sqlite");

function editApp(dir: string, from: string, to: string): void {
  const path = join(dir, "app/index.ts");
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`app has no ${from}`);
  writeFileSync(path, text.replace(from, to));
}

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }): void {
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
}

/** Generate and deploy; returns the deploy's output. */
async function ship(t: Parameters<typeof ok>[0], dir: string, name: string): Promise<string> {
  ok(t, await runCli(dir, ["migrate", "generate", "--name", name]));
  const d = await runCli(dir, ["migrate", "deploy"]);
  ok(t, d);
  return d.stdout;
}

test.serial("seed walkthrough: Users → add Analytics → add age; old rows read NULL; ledger rows; engine matches code after every deploy", async (t) => {
  const dir = await project();
  t.regex(await ship(t, dir, "create users"), /Applying \d{14}_create_users\n  ✓ 1\/1 createTable\("Users"\)  \d+ ms\n/);
  ok(t, await runCli(dir, ["query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')", "--write"]));
  const status1 = await runCli(dir, ["migrate", "status"]);
  t.is(status1.code, 0, status1.stdout + status1.stderr);
  t.regex(status1.stdout, /Up to date\./);

  editApp(dir, 'export const usersTable', 'interface AnalyticsSchema {\n  event: string;\n  at: Date;\n}\nexport const analyticsTable = new OlapTable<AnalyticsSchema>("Analytics");\nexport const usersTable');
  t.is((await runCli(dir, ["plan"])).stdout, "Infrastructure Changes:\n New Components\n  + Analytics (OLAP Table)\n");
  await ship(t, dir, "add analytics");
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);

  editApp(dir, "  email: string;\n", "  email: string;\n  age: number;\n");
  t.regex((await runCli(dir, ["plan"])).stdout, /~ Users \(Schema Update\)\n      \+ age Float64\n/);
  await ship(t, dir, "add age to users");
  const rows = JSON.parse((await runCli(dir, ["query", "SELECT id, age FROM Users", "--format", "json"])).stdout) as unknown[];
  // A required number column is non-Nullable Float64: existing rows read its default, 0.
  t.deepEqual(rows, [{ id: "u1", age: 0 }]);
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");
  const status = await runCli(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0);
  const doc = JSON.parse(status.stdout) as { verdict: string; drift: string[]; migrations: Array<{ state: string }> };
  t.is(doc.verdict, "ok");
  t.deepEqual(doc.drift, []);
  t.deepEqual(doc.migrations.map((m) => m.state), ["applied", "applied", "applied"]);

  const ledger = await queryRows<Record<string, unknown>>(ledgerPath(dir), "SELECT * FROM migrations ORDER BY id");
  t.deepEqual(ledger.map((r) => r["id"]), files(dir).map((f) => f.replace(/\.ts$/, "")));
  for (const r of ledger) {
    t.is(r["status"], "applied");
    t.is(r["steps_applied"], r["steps_total"]);
    t.is(r["checksum_algorithm"], "sha256-lf-nobom");
    t.regex(String(r["checksum"]), /^[0-9a-f]{64}$/);
    t.regex(String(r["parent_hash"]), /^sha256:[0-9a-f]{64}$/);
    t.is(r["error"], null);
    t.truthy(r["finished_at"]);
    t.is(r["tool_version"], "0.1.0");
  }
  // Each migration starts where the previous one ended.
  t.is(ledger[1]?.["parent_hash"], ledger[0]?.["result_hash"]);
  t.is(ledger[2]?.["parent_hash"], ledger[1]?.["result_hash"]);
});

test.serial("an optional field added later reads NULL for existing rows", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  ok(t, await runCli(dir, ["query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'a@x')", "--write"]));
  editApp(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  await ship(t, dir, "add age");
  t.deepEqual(JSON.parse((await runCli(dir, ["query", "SELECT id, age FROM Users", "--format", "json"])).stdout), [{ id: "u1", age: null }]);
});

test.serial("dry run prints each pending step with its SQL and applies nothing", async (t) => {
  const dir = await project();
  ok(t, await runCli(dir, ["migrate", "generate"]));
  const d = await runCli(dir, ["migrate", "deploy", "--dry-run"]);
  ok(t, d);
  t.regex(d.stdout, /\(dry run\)\n  1\. createTable\n     CREATE TABLE `local`\.`Users`/);
  t.regex(d.stdout, /Dry run: nothing was applied\./);
  t.is((await runCli(dir, ["migrate", "status"])).code, 4);
  t.deepEqual(await queryRows(ledgerPath(dir), "SELECT id FROM migrations"), []);
});

test.serial("an applied migration edited afterwards is refused, naming the file (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  const path = join(dir, "migrations", files(dir)[0]!);
  writeFileSync(path, readFileSync(path, "utf8").replace("// Changes:", "// Changes (edited):"));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, /error\[MIGRATION_EDITED\]: migration migrations\/\d{14}_create\.ts was edited after it was applied/);
  const s = await runCli(dir, ["migrate", "status"]);
  t.is(s.code, 3);
  t.regex(s.stdout, /_create\s+edited\s+checksum/);
});

test.serial("an applied migration whose file was removed is refused (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  unlinkSync(join(dir, "migrations", files(dir)[0]!));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, /error\[MIGRATION_REMOVED\]: migration \d{14}_create\.ts was applied \(applied\) but its file is no longer in the migrations folder/);
});

test.serial("an applied migration whose file was renamed is refused naming both names, and migrate check reports it (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  const old = files(dir)[0]!;
  const renamed = old.replace("_create.ts", "_create_users.ts");
  renameSync(join(dir, "migrations", old), join(dir, "migrations", renamed));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, new RegExp(`error\\[MIGRATION_RENAMED\\]: migration ${old.replace(".", "\\.")} was applied, and is now named ${renamed.replace(".", "\\.")}`));
  t.regex(d.stderr, new RegExp(`rename it back to ${old.replace(".", "\\.")}`));
  const c = await runCli(dir, ["migrate", "check", "--json"]);
  t.not(c.code, 0);
  t.regex(c.stdout, /"code":\s*"MIGRATION_RENAMED"/);
});

test.serial("a pending migration older than the newest applied one is refused unless allowed (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  editApp(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  await ship(t, dir, "add age");
  const [first, second] = files(dir);
  const firstText = readFileSync(join(dir, "migrations", first!), "utf8");
  const result = /result: "(sha256:[0-9a-f]{64})"/.exec(firstText)![1]!;
  // A data-only migration between the two, as a merge from another branch would bring it.
  const between = `${first!.slice(0, 14)}_zz_backfill.ts`;
  t.true(between < second!);
  writeFileSync(
    join(dir, "migrations", between),
    `import { migration, sql } from "moose-migrate/migration";\nexport default migration({\n  parent: "${result}",\n  result: "${result}",\n  up: [sql("SELECT 1")],\n  down: [],\n});\n`,
  );
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3, d.stderr);
  t.regex(d.stderr, /error\[MIGRATION_OUT_OF_ORDER\]: migrations\/\d{14}_zz_backfill\.ts is older than the newest applied migration/);
  ok(t, await runCli(dir, ["migrate", "deploy", "--allow-out-of-order"]));
});

test.serial("drift: a live change outside migrations stops the next migration touching it (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  ok(t, await runCli(dir, ["query", "ALTER TABLE Users ADD COLUMN hack String", "--write"]));
  const s = await runCli(dir, ["migrate", "status"]);
  t.is(s.code, 3);
  t.regex(s.stdout, /table Users has a column hack String that no migration added/);
  editApp(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  ok(t, await runCli(dir, ["migrate", "generate"]));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, /error\[DRIFT\]: the live database differs from what \d{14}_add_age_to_users\.ts expects; nothing of it was applied\n  table Users has an? .*hack String/);
});

test.serial("a step failing mid-migration is recorded exactly; the re-run resumes at that step", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  editApp(dir, "  email: string;\n", "  email: string;\n  age?: number;\n  city?: string;\n");
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "two columns"]));
  const path = join(dir, "migrations", files(dir)[1]!);
  // A hand-written check between the two steps, failing until a marker row exists.
  const text = readFileSync(path, "utf8").replace(
    /(    addColumn\("Users", \{ name: "city")/,
    '    sql("SELECT throwIf(count() = 0, \'marker missing\') FROM system.one WHERE (SELECT count() FROM Users WHERE id = \'marker\') > 0"),\n$1',
  );
  writeFileSync(path, text);
  const failed = await runCli(dir, ["migrate", "deploy"]);
  t.is(failed.code, 1);
  t.regex(failed.stderr, /error\[STEP_FAILED\]: \d{14}_two_columns: step 2 \(sql\(.*\)\) failed after 1 applied step\(s\): .*marker missing/);
  const [rec] = await queryRows<Record<string, unknown>>(ledgerPath(dir), "SELECT * FROM migrations WHERE id LIKE '%two_columns'");
  t.is(rec?.["status"], "partially_applied");
  t.is(rec?.["steps_applied"], 1);
  t.is(rec?.["failed_step"], 1);
  t.regex(String(rec?.["error"]), /marker missing/);
  const status = await runCli(dir, ["migrate", "status"]);
  t.is(status.code, 1, status.stdout + status.stderr);
  t.regex(status.stdout, /_two_columns\s+partially_applied\s+step 2: .*marker missing/);

  ok(t, await runCli(dir, ["query", "INSERT INTO Users (id, name, email) VALUES ('marker', '', '')", "--write"]));
  const resumed = await runCli(dir, ["migrate", "deploy"]);
  ok(t, resumed);
  t.regex(resumed.stdout, /resuming at step 2 of 3\)\n  · 1\/3 [a-zA-Z]+\(.*\) already applied\n  ✓ 2\/3 /);
  const steps = await queryRows<Record<string, unknown>>(ledgerPath(dir), "SELECT step_index, status FROM migration_steps WHERE migration_id LIKE '%two_columns' ORDER BY step_index");
  t.deepEqual(steps.map((s) => [s["step_index"], s["status"]]), [
    [0, "applied"],
    [1, "applied"],
    [2, "applied"],
  ]);
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);
});

test.serial("a destructive step without approval applies nothing and says how to approve (exit 3)", async (t) => {
  const dir = await project();
  await ship(t, dir, "create");
  ok(t, await runCli(dir, ["query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'a@x')", "--write"]));
  editApp(dir, "  email: string;\n", "");
  ok(t, await runCli(dir, ["migrate", "generate"]));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, /error\[DESTRUCTIVE_NOT_APPROVED\]: \d{14}_drop_email_from_users\.ts would lose data and does not approve it; nothing of it was applied\n  migrations\/\d{14}_drop_email_from_users\.ts:\d+: dropColumn\("Users", …\) drops a column and its data\n  hint: .*approveDataLoss: true/);
  t.is((await queryRows(ledgerPath(dir), "SELECT id FROM migrations")).length, 1);
  t.deepEqual(JSON.parse((await runCli(dir, ["query", "SELECT email FROM Users", "--format", "json"])).stdout), [{ email: "a@x" }]);
  const path = join(dir, "migrations", files(dir)[1]!);
  writeFileSync(path, readFileSync(path, "utf8").replace("{ approveDataLoss: false }", "{ approveDataLoss: true }"));
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.regex((await runCli(dir, ["query", "SELECT name FROM system.columns WHERE table = 'Users' AND database = 'local'", "--format", "json"])).stdout, /^(?![\s\S]*email)/);
});

test.serial("20 concurrent deploys apply each migration exactly once", async (t) => {
  const dir = await project();
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "one"]));
  editApp(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "two"]));
  editApp(dir, "  age?: number;\n", "  age?: number;\n  city?: string;\n");
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "three"]));
  const runs = await Promise.all(
    Array.from({ length: 20 }, () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, "migrate", "deploy", "--json", "--lock-timeout", "300"], { cwd: dir });
        let out = "";
        child.stdout.on("data", (c) => (out += c));
        child.stderr.on("data", (c) => (out += c));
        child.on("close", (code) => resolve({ code, out }));
      }),
    ),
  );
  for (const r of runs) t.is(r.code, 0, r.out);
  const applied = runs.flatMap((r) => (JSON.parse(r.out) as { migrations: Array<{ id: string; status: string }> }).migrations.filter((m) => m.status === "applied").map((m) => m.id));
  t.deepEqual(applied.sort(), files(dir).map((f) => f.replace(/\.ts$/, "")).sort());
  const rows = await queryRows<Record<string, unknown>>(ledgerPath(dir), "SELECT id, status, attempts FROM migrations ORDER BY id");
  t.deepEqual(rows.map((r) => [r["status"], r["attempts"]]), [
    ["applied", 1],
    ["applied", 1],
    ["applied", 1],
  ]);
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);
});

test.serial("a stale lock names its holder; moose migrate unlock clears it", async (t) => {
  const dir = await project();
  ok(t, await runCli(dir, ["migrate", "generate"]));
  const ledger = await openLedger(ledgerPath(dir));
  t.true((await ledger.acquireLock("ghost-host:4242:dead", 3_600_000)).acquired);
  await ledger.close();
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 1);
  t.regex(d.stderr, /error\[DEPLOY_LOCKED\]: another deploy holds the migration lock: ghost-host:4242:dead, since \d{4}-\d\d-\d\dT[\d:.]+Z \(expires .*\)\n  hint: .*moose migrate unlock/);
  const u = await runCli(dir, ["migrate", "unlock"]);
  ok(t, u);
  t.regex(u.stdout, /Released the migration lock held by ghost-host:4242:dead since /);
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.is((await runCli(dir, ["migrate", "unlock"])).stdout, "The migration lock was not held.\n");
});
