import test from "ava";
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { runCli, initProject, editFile } from "./helpers/cli.js";
import { timestampId } from "../lib/migrations/files/render.js";

/**
 * Waits until a migration generated now gets an id after `file`'s: generate moves an id that
 * would not sort after the newest file one second on, so a fixed sleep is not enough.
 */
async function laterThan(file: string): Promise<void> {
  while (timestampId(new Date()) <= file.slice(0, 14)) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Team branches: two branches each generate a migration from the same state and are
 * merged. The fork is named (MIGRATION_FORKED), `moose migrate rebase` moves the one not
 * applied after the other, and the out-of-order hint never says to delete an applied file.
 * Deploys run on embedded chDB, so the tests are serial.
 */

const APP = `import { OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

async function project(): Promise<string> {
  return initProject("rebase", APP);
}

const edit = editFile;

const files = (dir: string) => readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort();

async function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, args: string[]): Promise<string> {
  const r = await runCli(dir, args);
  t.is(r.code, 0, `moose ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Branch "ours" adds a column and a hand-written step (generated first, so older); branch
 * "theirs" adds a table and is deployed here first. Then the merge brings ours back in.
 */
async function forkedProject(t: Parameters<typeof ok>[0]): Promise<{ dir: string; ours: string; theirs: string; outside: string }> {
  const dir = await project();
  await ok(t, dir, ["migrate", "generate", "--name", "base"]);
  await ok(t, dir, ["migrate", "deploy"]);
  edit(dir, "app/index.ts", "  name: string;\n", "  name: string;\n  age?: number;\n");
  await ok(t, dir, ["migrate", "generate", "--name", "ours"]);
  const ours = files(dir).at(-1)!;
  edit(dir, `migrations/${ours}`, "  up: [\n", '  up: [\n    sql("SELECT 1"),\n');
  const outside = join(dir, ours);
  renameSync(join(dir, "migrations", ours), outside);
  edit(dir, "app/index.ts", "  age?: number;\n", "");
  edit(dir, "app/index.ts", "export const usersTable", 'interface Event {\n  id: string;\n}\nexport const events = new OlapTable<Event>("Events");\nexport const usersTable');
  await laterThan(ours);
  await ok(t, dir, ["migrate", "generate", "--name", "theirs"]);
  const theirs = files(dir).at(-1)!;
  await ok(t, dir, ["migrate", "deploy"]);
  // The merge: both files, and the code of both branches.
  renameSync(outside, join(dir, "migrations", ours));
  edit(dir, "app/index.ts", "  name: string;\n", "  name: string;\n  age?: number;\n");
  return { dir, ours: ours.slice(0, -3), theirs: theirs.slice(0, -3), outside };
}

test.serial("a fork is named with both files; rebase moves the unapplied one after the other, keeping its steps; deploy and check then pass", async (t) => {
  const { dir, ours, theirs } = await forkedProject(t);
  const plan = await runCli(dir, ["plan"]);
  t.is(plan.code, 3);
  t.regex(plan.stderr, new RegExp(`^error\\[MIGRATION_FORKED\\]: migrations/${theirs}\\.ts:1:1: ${ours}\\.ts and ${theirs}\\.ts both start from the state after \\d{14}_base \\([0-9a-f]{12}\\): they were generated on two branches and merged\\n`));
  t.regex(plan.stderr, /hint: re-base the one that has not been deployed onto the other: `moose migrate rebase <its id>`/);
  t.notRegex(plan.stderr, /delete/);
  const deploy = await runCli(dir, ["migrate", "deploy"]);
  t.is(deploy.code, 3);
  t.regex(deploy.stderr, /MIGRATION_FORKED/);
  // The applied one cannot be rebased.
  const refused = await runCli(dir, ["migrate", "rebase", theirs]);
  t.is(refused.code, 3);
  t.regex(refused.stderr, /^error\[REBASE_APPLIED\]: migrations\/.* is recorded as applied/);
  const before = readFileSync(join(dir, "migrations", `${ours}.ts`), "utf8");
  const r = await runCli(dir, ["migrate", "rebase", ours.slice(0, 14), "--json"]);
  t.is(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { from: string; to: string; after: string; path: string };
  t.is(doc.from, ours);
  t.is(doc.after, theirs);
  t.true(doc.to > theirs && doc.to.endsWith("_ours"));
  t.deepEqual(files(dir), [files(dir)[0]!, `${theirs}.ts`, `${doc.to}.ts`]);
  const after = readFileSync(join(dir, doc.path), "utf8");
  // Only the id and the two hashes changed: steps, the hand-written one included, are as written.
  const strip = (s: string) => s.replace(/\d{14}_ours/g, "ID").replace(/sha256:[0-9a-f]{64}/g, "H");
  t.is(strip(after), strip(before));
  t.regex(after, /sql\("SELECT 1"\)/);
  t.is((await runCli(dir, ["migrate", "check"])).code, 0);
  t.regex(await ok(t, dir, ["migrate", "deploy"]), new RegExp(`Applying ${doc.to}`));
  t.is((await runCli(dir, ["plan"])).stdout, "No changes: the infrastructure matches the code.\n");
});

test.serial("both branches changing the same object is a conflict naming the step; nothing is written", async (t) => {
  const dir = await project();
  await ok(t, dir, ["migrate", "generate", "--name", "base"]);
  edit(dir, "app/index.ts", "  name: string;\n", "  name: string;\n  age?: number;\n");
  await ok(t, dir, ["migrate", "generate", "--name", "ours"]);
  const ours = files(dir).at(-1)!;
  renameSync(join(dir, "migrations", ours), join(dir, ours));
  edit(dir, "app/index.ts", "  age?: number;\n", "  age: string;\n");
  await laterThan(ours);
  await ok(t, dir, ["migrate", "generate", "--name", "theirs"]);
  renameSync(join(dir, ours), join(dir, "migrations", ours));
  const before = files(dir);
  const r = await runCli(dir, ["migrate", "rebase", ours]);
  t.is(r.code, 3);
  t.regex(r.stderr, new RegExp(`^error\\[REBASE_CONFLICT\\]: migrations/${ours}:\\d+:\\d+: addColumn\\("Users", …\\) no longer applies after \\d{14}_theirs: `));
  t.deepEqual(files(dir), before);
});

test.serial("an out-of-order file is named with the rebase command, never with advice to delete the applied one", async (t) => {
  const dir = await project();
  await ok(t, dir, ["migrate", "generate", "--name", "base"]);
  await ok(t, dir, ["migrate", "deploy"]);
  // A hand-written migration on one branch (it keeps the state, so the chain still replays) ...
  await ok(t, dir, ["migrate", "generate", "--empty", "--name", "manual"]);
  const manual = files(dir).at(-1)!;
  renameSync(join(dir, "migrations", manual), join(dir, manual));
  // ... while another branch's migration was generated and deployed here.
  edit(dir, "app/index.ts", "  name: string;\n", "  name: string;\n  age?: number;\n");
  await laterThan(manual);
  await ok(t, dir, ["migrate", "generate", "--name", "age"]);
  const age = files(dir).at(-1)!.slice(0, -3);
  await ok(t, dir, ["migrate", "deploy"]);
  renameSync(join(dir, manual), join(dir, "migrations", manual));
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 3);
  t.regex(d.stderr, new RegExp(`error\\[MIGRATION_OUT_OF_ORDER\\]: .*\\n  hint: .*\`moose migrate rebase ${manual.slice(0, -3)}\` moves it after ${age}`));
  t.notRegex(d.stderr, /delete/);
  const check = await runCli(dir, ["migrate", "check", "--json"]);
  t.is(check.code, 3);
  t.like((JSON.parse(check.stdout) as { findings: unknown[] }).findings[0], { code: "MIGRATION_OUT_OF_ORDER", migration: manual.slice(0, -3) });
  await ok(t, dir, ["migrate", "rebase", manual]);
  await ok(t, dir, ["migrate", "deploy"]);
  t.is((await runCli(dir, ["migrate", "check"])).code, 0);
});
