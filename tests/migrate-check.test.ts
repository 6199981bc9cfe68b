import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, initProject, editFile } from "./helpers/cli.js";

/**
 * `moose migrate check` and `moose migrate lint` (CI commands, offline) and
 * `moose migrate generate --empty`. Only the ledger-edit test deploys (embedded chDB):
 * it is serial; the others open no engine.
 */

const APP = `import { MaterializedView, OlapTable, sql, type Int64, type Int8 } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
  email: string;
  score: Int64;
}
interface Daily {
  id: string;
  total: number;
}

export const usersTable = new OlapTable<UserSchema>("Users", { orderByFields: ["id"] });
export const daily = new OlapTable<Daily>("Daily", { orderByFields: ["id"] });
export const dailyMv = new MaterializedView<Daily>({
  materializedViewName: "Daily_MV",
  targetTable: daily,
  selectStatement: sql\`SELECT id, count() AS total FROM \${usersTable} GROUP BY id\`,
  selectTables: [usersTable],
});
`;

type Finding = { code: string; severity: string; message: string; migration?: string; position?: { file: string; line: number }; step?: string; details?: string[] };
type CheckDoc = { ok: boolean; migrations: number; pending: string[]; ledger: string; findings: Finding[] };
type LintDoc = { ok: boolean; target: { version: string; source: string }; migrations: string[]; findings: Finding[] };

async function project(app = APP): Promise<string> {
  return initProject("check", app);
}

const edit = editFile;

const newest = (dir: string): string => readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort().at(-1)!;

async function gen(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, ...args: string[]): Promise<string> {
  const g = await runCli(dir, ["migrate", "generate", "--non-interactive", ...args]);
  t.is(g.code, 0, g.stdout + g.stderr);
  return `migrations/${newest(dir)}`;
}

async function check(dir: string): Promise<{ code: number; doc: CheckDoc }> {
  const r = await runCli(dir, ["migrate", "check", "--json"]);
  return { code: r.code, doc: JSON.parse(r.stdout) as CheckDoc };
}

test("check: exit 0 when the migrations capture the code; exit 3 naming each change when the code moved on", async (t) => {
  const dir = await project();
  const before = await runCli(dir, ["migrate", "check"]);
  t.is(before.code, 3);
  t.regex(before.stderr, /^error\[UNCAPTURED_CHANGES\]: the code has 3 changes that no committed migration captures\n  create table Daily\n  create table Users\n  create view Daily_MV\n  hint: run `moose migrate generate` and commit the file\n$/);
  await gen(t, dir, "--name", "init");
  const ok = await runCli(dir, ["migrate", "check"]);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, "OK: 1 migration capture the code; 1 pending (no local ledger: every file is treated as pending).\n");
  edit(dir, "app/index.ts", "  email: string;\n", "  email: string;\n  age?: number;\n");
  const moved = await check(dir);
  t.is(moved.code, 3);
  t.deepEqual(moved.doc.findings.map((f) => [f.code, f.details]), [["UNCAPTURED_CHANGES", ["add age to Users"]]]);
});

test("check: a pending migration with an unapproved data-loss step fails (file:line), approving it passes", async (t) => {
  const dir = await project();
  await gen(t, dir, "--name", "init");
  edit(dir, "app/index.ts", "  email: string;\n", "");
  const file = await gen(t, dir, "--name", "drop email");
  const r = await runCli(dir, ["migrate", "check"]);
  t.is(r.code, 3);
  t.regex(r.stderr, new RegExp(`error\\[DESTRUCTIVE_NOT_APPROVED\\]: .*would lose data and does not approve it\\n  ${file.replace(/\//g, "\\/")}:\\d+: dropColumn\\("Users", …\\) drops a column and its data`));
  edit(dir, file, "{ approveDataLoss: false }", "{ approveDataLoss: true }");
  t.is((await check(dir)).code, 0);
});

test("check: an edited step is refused by its hashes; hand-written SQL that deletes needs its approval", async (t) => {
  const dir = await project();
  const first = await gen(t, dir, "--name", "init");
  const manual = await gen(t, dir, "--empty", "--name", "cleanup");
  edit(dir, manual, "  up: [\n", '  up: [\n    sql("TRUNCATE TABLE Users"),\n');
  const unapproved = await check(dir);
  t.is(unapproved.code, 3);
  t.deepEqual(unapproved.doc.findings.map((f) => f.code), ["DESTRUCTIVE_NOT_APPROVED"]);
  edit(dir, manual, 'sql("TRUNCATE TABLE Users")', 'sql("TRUNCATE TABLE Users", { approveDataLoss: true })');
  t.is((await check(dir)).code, 0);
  edit(dir, first, 'name: "email", type: "String"', 'name: "email", type: "LowCardinality(String)"');
  const edited = await check(dir);
  t.is(edited.code, 3);
  t.is(edited.doc.findings[0]?.code, "MIGRATION_RESULT_MISMATCH");
});

test.serial("check: an applied file edited afterwards is found through the local ledger (checksum)", async (t) => {
  const dir = await project();
  const first = await gen(t, dir, "--name", "init");
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stderr);
  const clean = await check(dir);
  t.deepEqual([clean.code, clean.doc.ledger, clean.doc.pending], [0, "local", []]);
  // An approval flipped or a comment changed: the hashes hold, the checksum does not.
  edit(dir, first, "// Changes:", "// Changes (reviewed):");
  const edited = await check(dir);
  t.is(edited.code, 3);
  t.like(edited.doc.findings[0], { code: "MIGRATION_EDITED", migration: first.slice("migrations/".length, -3), position: { file: first, line: 1 } });
});

test("generate --empty writes a skeleton that replays and that deploy's reader accepts", async (t) => {
  const dir = await project();
  await gen(t, dir, "--name", "init");
  const r = await runCli(dir, ["migrate", "generate", "--empty", "--name", "Backfill scores"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Wrote migrations\/\d{14}_backfill_scores\.ts \(no steps: add sql\(\.\.\.\) and check\(\.\.\.\) steps to it\)\n$/);
  const text = readFileSync(join(dir, "migrations", newest(dir)), "utf8");
  t.regex(text, /import \{ migration, check, sql \} from "moose-migrate\/migration";/);
  t.regex(text, /  up: \[\n  \],\n  down: \[\n  \],\n/);
  const [, parent, result] = /parent: "(sha256:[0-9a-f]+)",\n  result: "(sha256:[0-9a-f]+)"/.exec(text) ?? [];
  t.is(parent, result);
  t.is((await check(dir)).code, 0);
  t.is((await runCli(dir, ["migrate", "generate", "--empty", "--safe-type-change"])).code, 2);
});

test("lint: codes for data loss (error until approved), narrowing types, rebuilds and view re-creates (by target version)", async (t) => {
  const dir = await project();
  await gen(t, dir, "--name", "init");
  edit(dir, "app/index.ts", "  name: string;\n", "");
  edit(dir, "app/index.ts", "  score: Int64;", "  score: Int8;");
  edit(dir, "app/index.ts", 'new OlapTable<Daily>("Daily", { orderByFields: ["id"] })', 'new OlapTable<Daily>("Daily", { orderByFields: ["total", "id"] })');
  edit(dir, "app/index.ts", "count() AS total", "toFloat64(count()) AS total");
  const file = await gen(t, dir, "--name", "risky");
  const lint = async (...extra: string[]) => {
    const r = await runCli(dir, ["migrate", "lint", "--json", ...extra]);
    return { code: r.code, doc: JSON.parse(r.stdout) as LintDoc };
  };
  const modern = await lint("--server-version", "25.8");
  t.is(modern.code, 3);
  t.deepEqual(modern.doc.migrations.length, 2);
  const codes = (doc: LintDoc) => doc.findings.map((f) => `${f.severity} ${f.code} ${f.step}`).sort();
  t.deepEqual(codes(modern.doc), [
    'error DATA_LOSS dropColumn("Users", …)',
    'warning DATA_LOSS modifyColumn("Users", …)',
    'warning NARROWING_TYPE modifyColumn("Users", …)',
    'warning REBUILD rebuildTable("Daily", …)',
  ].sort());
  t.true(modern.doc.findings.every((f) => f.position?.file === file || f.position === undefined));
  // ClickHouse before 25.1 has no MODIFY QUERY without a flag: the view is dropped and created again.
  const old = await lint("--server-version", "24.8");
  t.true(codes(old.doc).includes('warning VIEW_RECREATE modifyView("Daily_MV")'), codes(old.doc).join("\n"));
  const text = await runCli(dir, ["migrate", "lint", "--server-version", "24.8"]);
  t.regex(text.stderr, new RegExp(`^error\\[DATA_LOSS\\]: ${file}:\\d+:\\d+: dropColumn\\("Users", …\\): DROP_COLUMN: drop name from Users: not approved`));
  t.regex(text.stdout, /Linted 2 migrations for ClickHouse 24\.8 \(--server-version\): 1 error\(s\), \d+ warning\(s\)\.\n$/);
  edit(dir, file, "{ approveDataLoss: false }", "{ approveDataLoss: true }");
  t.is((await lint(file.slice("migrations/".length, -3))).code, 0);
});
