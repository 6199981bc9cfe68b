import test from "ava";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { openLedger } from "../lib/ledger/index.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { queryRows } from "./helpers/ledger-sqlite.js";

/**
 * A mistyped flag or a wrong value stops every command before it does anything:
 * exit 2, what was wrong, and nothing changed (no migration applied or
 * rolled back, no file written, no engine opened, no server started). In this
 * process, on one project: one applied migration, one pending, and an app change
 * not yet generated, so every command has something it would do.
 */

let dir = "";
const ledgerPath = () => join(dir, ".moose", "ledger.sqlite");

test.before(async () => {
  const root = tempDir("usage");
  const init = await runCli(root, ["init", "p"]);
  if (init.code !== 0) throw new Error(init.stderr);
  dir = join(root, "p");
  const edit = (from: string, to: string) => {
    const path = join(dir, "app/index.ts");
    writeFileSync(path, readFileSync(path, "utf8").replace(from, to));
  };
  const step = async (args: string[]) => {
    const r = await runCli(dir, args);
    if (r.code !== 0) throw new Error(`moose ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  };
  await step(["migrate", "generate", "--name", "first"]);
  await step(["migrate", "deploy"]);
  await step(["query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'a@x')", "--write"]);
  edit("  email: string;\n", "  email: string;\n  age?: number;\n");
  await step(["migrate", "generate", "--name", "second"]);
  edit("  age?: number;\n", "  age?: number;\n  city?: string;\n");
});

/** Everything a command could change: the project's files (with their sizes), the ledger, the rows, the lock. */
async function state(): Promise<unknown> {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      // The engines' own files change on every open; the ledger and the rows below say what matters.
      if (name === "node_modules" || relative(dir, path).startsWith(join(".moose", "clickhouse"))) continue;
      const s = statSync(path);
      if (s.isDirectory()) walk(path);
      else files.push(`${relative(dir, path)} ${name.startsWith("ledger.sqlite") ? "" : s.size}`);
    }
  };
  walk(dir);
  const ledger = await queryRows(ledgerPath(), "SELECT id, status, steps_applied, attempts FROM migrations ORDER BY id");
  const rows = await runCli(dir, ["query", "SELECT count() AS n FROM Users", "--format", "json"]);
  const l = await openLedger(ledgerPath());
  try {
    return { files, ledger, rows: rows.stdout, lock: await l.lockHolder() };
  } finally {
    await l.close();
  }
}

const CASES: ReadonlyArray<{ args: string[]; says: RegExp }> = [
  { args: ["init", "q", "--dryrun"], says: /Unknown argument: dryrun\n/ },
  { args: ["plan", "--jsn"], says: /Unknown argument: jsn; did you mean --json\?/ },
  { args: ["ls", "--jsn"], says: /Unknown argument: jsn; did you mean --json\?/ },
  { args: ["ls", "--type", "tabel"], says: /Invalid values:\n  Argument: type, Given: "tabel"/ },
  { args: ["migrate", "generate", "--nme", "third"], says: /Unknown argument: nme; did you mean --name\?/ },
  { args: ["migrate", "baseline", "--nme", "base"], says: /Unknown argument: nme; did you mean --name\?/ },
  { args: ["migrate", "rollback", "--dryrun"], says: /Unknown argument: dryrun; did you mean --dry-run\?/ },
  { args: ["migrate", "deploy", "--dryrun"], says: /Unknown argument: dryrun; did you mean --dry-run\?/ },
  { args: ["migrate", "deploy", "--allow-out-of-oder"], says: /Unknown argument: allow-out-of-oder; did you mean --allow-out-of-order\?/ },
  { args: ["migrate", "status", "--jsn"], says: /Unknown argument: jsn; did you mean --json\?/ },
  { args: ["migrate", "unlock", "--froce"], says: /Unknown argument: froce\n/ },
  { args: ["query", "INSERT INTO Users (id, name, email) VALUES ('u2', 'Bo', 'b@x')", "--write", "--fromat", "json"], says: /Unknown argument: fromat; did you mean --format\?/ },
  { args: ["dev", "--prot", "0"], says: /Unknown argument: prot; did you mean --port\?/ },
  { args: ["logs", "--folow"], says: /Unknown argument: folow; did you mean --follow\?/ },
  { args: ["prod", "--prot", "0"], says: /Unknown argument: prot; did you mean --port\?/ },
  { args: ["generate", "hash-token", "--jsno"], says: /Unknown argument: jsno; did you mean --json\?/ },
  // Wrong values: yargs reads a word given to a number flag as NaN; the parser refuses it.
  { args: ["migrate", "deploy", "--lock-timeout", "soon"], says: /--lock-timeout must be a number of seconds, 0 or more/ },
  { args: ["migrate", "rollback", "--lock-timeout", "-1"], says: /--lock-timeout -1 must be a number of seconds, 0 or more/ },
  { args: ["dev", "--port", "http"], says: /--port must be a port number 0–65535/ },
  { args: ["prod", "--port", "70000"], says: /--port 70000 must be a port number 0–65535/ },
  { args: ["plan", "--url", "http://127.0.0.1:1", "--timeout", "later"], says: /--timeout must be a positive number of seconds/ },
];

for (const { args, says } of CASES) {
  test.serial(`moose ${args.join(" ")}: exit 2 and nothing done`, async (t) => {
    const before = await state();
    const r = await runCli(dir, args);
    t.is(r.code, 2, r.stdout + r.stderr);
    t.is(r.stdout, "");
    t.regex(r.stderr, new RegExp(`^error\\[USAGE\\]: ${says.source}`));
    t.deepEqual(await state(), before);
  });
}

test.serial("a mistyped flag beside a held lock: unlock leaves it held", async (t) => {
  const ledger = await openLedger(ledgerPath());
  t.true((await ledger.acquireLock("ghost-host:4242:dead", 3_600_000)).acquired);
  await ledger.close();
  const r = await runCli(dir, ["migrate", "unlock", "--froce"]);
  t.is(r.code, 2);
  const after = await openLedger(ledgerPath());
  try {
    t.is((await after.lockHolder())?.owner, "ghost-host:4242:dead");
    await after.forceUnlock();
  } finally {
    await after.close();
  }
});

test.serial("the setup left work for every command (so the cases above would show it)", async (t) => {
  t.false(existsSync(join(dir, "..", "q")));
  const status = await runCli(dir, ["migrate", "status"]);
  t.is(status.code, 4, status.stdout);
  t.regex(status.stdout, /_first\s+applied[\s\S]*_second\s+pending/);
  t.regex((await runCli(dir, ["plan"])).stdout, /\+ city Nullable\(String\)/);
});
