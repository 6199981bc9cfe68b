import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { runCli, tempDir } from "./helpers/cli.js";

/**
 * File-system shapes a project can be found in — a file where a folder belongs, a folder
 * where a file belongs, a symbolic link to itself — are each an `error[CODE]` naming the
 * path, exit 2, never a raw ENOTDIR/EISDIR/ELOOP or "does not exist". (EACCES/EPERM map to
 * PATH_NOT_READABLE the same way; root, which runs the tests, is never refused, so that
 * case is not exercised here.) Serial: chDB opens one data directory per process.
 */

async function freshProject(): Promise<string> {
  const root = tempDir("paths");
  const init = await runCli(root, ["init", "p"]);
  if (init.code !== 0) throw new Error(init.stderr);
  return join(root, "p");
}

const cases: ReadonlyArray<{ readonly name: string; readonly break: (dir: string) => void; readonly args: readonly string[]; readonly code: string; readonly names: RegExp }> = [
  { name: "migrations is a file", break: (d) => (rmSync(join(d, "migrations"), { recursive: true, force: true }), writeFileSync(join(d, "migrations"), "x")), args: ["migrate", "status"], code: "PATH_NOT_A_FOLDER", names: /the migrations folder migrations/ },
  { name: "a migration file is a folder", break: (d) => mkdirSync(join(d, "migrations", "20260101000000_x.ts"), { recursive: true }), args: ["migrate", "status"], code: "PATH_IS_A_FOLDER", names: /migrations\/20260101000000_x\.ts is a folder/ },
  { name: "the main file is a folder", break: (d) => (rmSync(join(d, "app", "index.ts")), mkdirSync(join(d, "app", "index.ts"))), args: ["plan"], code: "PATH_IS_A_FOLDER", names: /main file app\/index\.ts is a folder/ },
  { name: "the main file is a link to itself", break: (d) => (rmSync(join(d, "app", "index.ts")), symlinkSync("index.ts", join(d, "app", "index.ts"))), args: ["plan"], code: "PATH_SYMLINK_LOOP", names: /main file app\/index\.ts is a symbolic link/ },
  { name: "the app folder is a file", break: (d) => (renameSync(join(d, "app"), join(d, "app.old")), writeFileSync(join(d, "app"), "x")), args: ["plan"], code: "PATH_NOT_A_FOLDER", names: /main file app\/index\.ts/ },
];

for (const c of cases) {
  test.serial(`${c.name}: error[${c.code}] naming the path, exit 2`, async (t) => {
    const dir = await freshProject();
    c.break(dir);
    const r = await runCli(dir, c.args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, new RegExp(`error\\[${c.code}\\]`));
    t.regex(r.stderr, c.names);
    t.notRegex(r.stderr, /ENOTDIR|EISDIR|ELOOP|does not exist/);
  });
}
