// Crash trial: SIGKILLs `moose migrate deploy` at random moments, then runs a plain
// `moose migrate deploy` and checks the outcome. `node scripts/crash-trial.mjs [--runs N]`
// (after `npm run build`); embedded engine. Each run copies one prepared project (3 pending
// migrations: a table, two added columns, a hand-written INSERT and a read), kills its deploy
// after a random delay within the time a whole deploy takes, deploys again, and classifies:
//   finished   — the second deploy exit 0, `migrate status` exit 0, the INSERT's row there once;
//   uncertain  — the second deploy refused STEP_UNCERTAIN (killed inside the INSERT: a person decides);
//   inconsistent — anything else (a duplicate row, a lost step, a status that is not clean).
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../dist/cli/bin.js", import.meta.url));
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 30);
const moose = (cwd, args) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" } });

const work = mkdtempSync(join(tmpdir(), "moose-crash-trial-"));
moose(work, ["init", "p"]);
const template = join(work, "p");
const app = join(template, "app/index.ts");
const base = 'import { OlapTable } from "moose-migrate";\ninterface UserSchema { id: string; name: string }\nexport const usersTable = new OlapTable<UserSchema>("Users");\n';
writeFileSync(app, base);
moose(template, ["migrate", "generate", "--name", "create"]);
writeFileSync(app, base.replace("name: string }", "name: string; age?: number; city?: string }"));
moose(template, ["migrate", "generate", "--name", "columns"]);
const files = readdirSync(join(template, "migrations")).filter((f) => f.endsWith(".ts")).sort();
const result = /result: "(sha256:[0-9a-f]{64})"/.exec(readFileSync(join(template, "migrations", files.at(-1)), "utf8"))[1];
writeFileSync(
  join(template, "migrations", `${Number(files.at(-1).slice(0, 14)) + 1}_seed.ts`),
  `import { migration, sql } from "moose-migrate/migration";\nexport default migration({\n  parent: "${result}",\n  result: "${result}",\n  up: [sql("SELECT count() FROM Users"), sql("INSERT INTO Users (id, name) VALUES ('u1', 'Ada')"), sql("SELECT count() FROM Users")],\n  down: null,\n});\n`,
);

// How long a whole deploy takes here: kills land within it.
const probe = join(work, "probe");
cpSync(template, probe, { recursive: true });
const t0 = Date.now();
moose(probe, ["migrate", "deploy"]);
const span = Date.now() - t0;

const counts = { finished: 0, uncertain: 0, inconsistent: 0, notKilled: 0 };
for (let i = 0; i < runs; i++) {
  const dir = join(work, `run${i}`);
  cpSync(template, dir, { recursive: true });
  // Most of a deploy's time is start-up; half the kills land in its second half, where the steps run.
  const delay = Math.floor(i % 2 === 0 ? Math.random() * span : span * (0.6 + 0.4 * Math.random()));
  const exited = await new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "migrate", "deploy"], { cwd: dir, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), delay);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve(signal === null);
    });
  });
  if (exited) counts.notKilled++;
  const again = moose(dir, ["migrate", "deploy"]);
  const status = moose(dir, ["migrate", "status"]);
  const rows = moose(dir, ["query", "SELECT count() AS n FROM Users WHERE id = 'u1'", "--format", "json"]);
  const n = rows.status === 0 ? Number(JSON.parse(rows.stdout)[0]?.n) : NaN;
  if (again.status === 0 && status.status === 0 && n === 1) counts.finished++;
  else if (/STEP_UNCERTAIN/.test(again.stderr) && n <= 1) counts.uncertain++;
  else {
    counts.inconsistent++;
    process.stderr.write(`run ${i} (kill at ${delay} ms): deploy ${again.status} ${again.stderr.trim()} | status ${status.status} | rows ${n}\n`);
  }
  rmSync(dir, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ runs, deploySpanMs: span, ...counts })}\n`);
process.exit(counts.inconsistent === 0 ? 0 : 1);
