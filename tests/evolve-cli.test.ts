import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers/cli.js";

/**
 * The new commands end to end: the CLI's commands in temp projects on embedded
 * ClickHouse, run in this process (serially: chDB opens one data directory per process).
 */

const APP = `import { OlapTable, type Key } from "moose-migrate";

interface UserSchema {
  id: Key<string>;
  mail: string;
  name: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

async function project(app = APP): Promise<string> {
  const root = tempDir("evolve-cli");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), app);
  return dir;
}

const ok = (t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }) => t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
const newest = (dir: string) => readFileSync(join(dir, "migrations", readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort().at(-1)!), "utf8");
const rows = async (dir: string, sql: string) => JSON.parse((await runCli(dir, ["query", sql, "--format", "json"])).stdout) as unknown[];

test.serial("renames from the command line and from the code keep the values; rollback undoes the newest migration", async (t) => {
  const dir = await project();
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "users"]));
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  ok(t, await runCli(dir, ["query", "INSERT INTO Users VALUES ('u1', 'ada@example.com', 'Ada')", "--write"]));

  writeFileSync(join(dir, "app/index.ts"), APP.replace("  mail: string;", "  email: string;"));
  const plan = await runCli(dir, ["plan"]);
  t.regex(plan.stdout, /Possible renames[\s\S]*\? Users\.mail → email \(String\)\s+keep the data: moose migrate generate --rename Users\.mail:email/);
  const bad = await runCli(dir, ["migrate", "generate", "--rename", "Users.mail"]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /error\[USAGE\]: --rename "Users\.mail" is not old:new/);
  ok(t, await runCli(dir, ["migrate", "generate", "--rename", "Users.mail:email", "--non-interactive"]));
  t.regex(newest(dir), /renameColumn\("Users", "mail", "email"\)/);
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.deepEqual(await rows(dir, "SELECT id, email FROM Users"), [{ id: "u1", email: "ada@example.com" }]);

  // The hint in the code: renamedColumns on the table's config.
  writeFileSync(
    join(dir, "app/index.ts"),
    APP.replace("  mail: string;", "  contact: string;").replace('new OlapTable<UserSchema>("Users")', 'new OlapTable<UserSchema>("Users", { renamedColumns: { contact: "email" } })'),
  );
  ok(t, await runCli(dir, ["migrate", "generate", "--name", "contact"]));
  t.regex(newest(dir), /renameColumn\("Users", "email", "contact"\)/);
  ok(t, await runCli(dir, ["migrate", "deploy"]));
  t.deepEqual(await rows(dir, "SELECT id, contact FROM Users"), [{ id: "u1", contact: "ada@example.com" }]);
  // Left in the code after it was applied, the hint plans nothing.
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");

  const back = await runCli(dir, ["migrate", "rollback"]);
  ok(t, back);
  t.regex(back.stdout, /Rolled back \d{14}_contact: its file is pending again/);
  t.deepEqual(await rows(dir, "SELECT id, email FROM Users"), [{ id: "u1", email: "ada@example.com" }]);
  t.is((await runCli(dir, ["migrate", "status"])).code, 4, "the rolled-back migration is pending again");
});

test.serial("baseline adopts an existing table; the next migration only adds what the code has on top", async (t) => {
  const dir = await project();
  ok(t, await runCli(dir, ["query", "CREATE TABLE Users (id String, mail String, name String) ENGINE = MergeTree ORDER BY id", "--write"]));
  ok(t, await runCli(dir, ["query", "INSERT INTO Users VALUES ('u1', 'a@x', 'A')", "--write"]));
  const base = await runCli(dir, ["migrate", "baseline"]);
  ok(t, base);
  t.regex(base.stdout, /Wrote migrations\/\d{14}_baseline\.ts, recorded as applied \(nothing was run\)\.\nAdopted from the database:\n  table Users\n/);
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");
  const again = await runCli(dir, ["migrate", "baseline"]);
  t.is(again.code, 3);
  t.regex(again.stderr, /error\[BASELINE_NOT_FIRST\]/);
  const rollback = await runCli(dir, ["migrate", "rollback"]);
  t.is(rollback.code, 3);
  t.regex(rollback.stderr, /error\[ROLLBACK_IRREVERSIBLE\]: .*_baseline\.ts cannot be rolled back: it is a baseline/);
  t.deepEqual(await rows(dir, "SELECT id FROM Users"), [{ id: "u1" }]);
});

test.serial("at a terminal, generate asks whether a drop + add is a rename; the answer decides the file", async (t) => {
  for (const [answer, expected] of [
    ["y", /renameColumn\("Users", "mail", "email"\)/],
    ["n", /dropColumn\("Users", "mail"[\s\S]*addColumn\("Users", \{ name: "email"/],
  ] as const) {
    const dir = await project();
    ok(t, await runCli(dir, ["migrate", "generate", "--name", "users"]));
    writeFileSync(join(dir, "app/index.ts"), APP.replace("  mail: string;", "  email: string;"));
    const r = await runCli(dir, ["migrate", "generate", "--name", "contact"], {}, [answer]);
    ok(t, r);
    t.regex(r.stdout, /Users\.mail was removed and Users\.email added \(both String\)\.\n  Rename mail to email, keeping the data\? \[Y\/n\] [yn]\n  → (rename|drop and add)/);
    t.regex(newest(dir), expected);
  }
});
