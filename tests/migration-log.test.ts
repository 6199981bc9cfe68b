import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { logfmt, parseLogLine } from "../lib/project/migration-log.js";
import { runCli, initProject } from "./helpers/cli.js";
import { DevProcess } from "./helpers/dev-process.js";

/**
 * Deploys, rollbacks, step results and errors in the project log as structured lines
 * naming the migration, whichever command ran them; `moose logs --json` reads them back.
 * Embedded chDB: serial.
 */

const APP = `import { OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

async function project(): Promise<string> {
  return initProject("log", APP);
}

type Line = Record<string, string | number | boolean>;

async function logLines(dir: string): Promise<Line[]> {
  const r = await runCli(dir, ["logs", "--json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line);
}

const newest = (dir: string) => readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort().at(-1)!.slice(0, -3);

test("log lines are logfmt and read back: quoted values, numbers, plain lines as messages", (t) => {
  const line = `2026-12-03T11:00:00.000Z ${logfmt({ level: "error", event: "step.failed", call: 'sql("SELECT 1 = 2")', step: 2, ok: false, empty: "" })}`;
  t.is(line, '2026-12-03T11:00:00.000Z level=error event=step.failed call="sql(\\"SELECT 1 = 2\\")" step=2 ok=false empty=""');
  t.deepEqual(parseLogLine(line), { time: "2026-12-03T11:00:00.000Z", level: "error", event: "step.failed", call: 'sql("SELECT 1 = 2")', step: 2, ok: false, empty: "" });
  t.deepEqual(parseLogLine("2026-12-03T11:00:00.000Z ⟳ app/index.ts"), { time: "2026-12-03T11:00:00.000Z", message: "⟳ app/index.ts" });
  t.deepEqual(parseLogLine('2026-12-03T11:00:00.000Z level=info x="unterminated'), { time: "2026-12-03T11:00:00.000Z", message: 'level=info x="unterminated' });
});

test.serial("deploy, a failed step, a refusal and a rollback are each logged with the migration id and the command", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate", "--name", "init"])).code, 0);
  const init = newest(dir);
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);
  let lines = await logLines(dir);
  t.like(lines[0], { level: "info", event: "deploy.start", command: "deploy", migration: init, steps: 1 });
  t.like(lines[1], { level: "info", event: "step.done", command: "deploy", direction: "deploy", migration: init, step: 1, steps: 1, call: 'createTable("Users")', statements: 1 });
  t.is(typeof lines[1]!.ms, "number");
  t.like(lines[2], { event: "deploy.done", migration: init, command: "deploy" });

  t.is((await runCli(dir, ["migrate", "rollback", "--accept-data-loss"])).code, 0);
  const rolled = (await logLines(dir)).filter((l) => l.command === "rollback");
  t.like(rolled[0], { event: "rollback.start", migration: init });
  t.like(rolled[1], { event: "step.done", direction: "rollback", migration: init, call: 'dropTable("Users", …)' });
  t.like(rolled.at(-1), { event: "rollback.done", migration: init });
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);

  t.is((await runCli(dir, ["migrate", "generate", "--empty", "--name", "boom"])).code, 0);
  const boom = newest(dir);
  const path = join(dir, "migrations", `${boom}.ts`);
  writeFileSync(path, readFileSync(path, "utf8").replace("  up: [\n", '  up: [\n    sql("TRUNCATE TABLE Users"),\n'));
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 3);
  const refused = (await logLines(dir)).at(-1);
  t.like(refused, { level: "error", event: "deploy.error", command: "deploy", code: "DESTRUCTIVE_NOT_APPROVED", migration: boom });

  writeFileSync(path, readFileSync(path, "utf8").replace('    sql("TRUNCATE TABLE Users"),\n', "    sql(\"SELECT 1\"),\n    sql(\"SELECT throwIf(1, 'boom')\"),\n"));
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 1);
  lines = await logLines(dir);
  const failed = lines.find((l) => l.event === "step.failed");
  t.like(failed, { level: "error", command: "deploy", migration: boom, step: 2, steps: 2, call: "sql(\"SELECT throwIf(1, 'boom')\")" });
  t.regex(String(failed?.error), /boom/);
  // The text form is the same lines, for people and --filter.
  const text = await runCli(dir, ["logs", "--filter", "event=deploy.start"]);
  t.regex(text.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z level=info event=deploy\\.start migration=${init} steps=1 command=deploy\\n`));
});

test.serial("moose dev logs the deploy of committed migrations it runs at start, as command=dev", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate", "--name", "init"])).code, 0);
  const init = newest(dir);
  const dev = new DevProcess(dir);
  t.teardown(() => void dev.stop());
  await dev.url();
  await dev.waitFor(/The database matches the code\./);
  await dev.stop();
  const lines = await logLines(dir);
  t.like(lines.find((l) => l.event === "step.done"), { command: "dev", migration: init, call: 'createTable("Users")', step: 1 });
  t.like(lines.find((l) => l.event === "deploy.done"), { command: "dev", migration: init });
});

test.serial("moose dev logs every save: a save.step line per step and save.applied / save.unchanged / save.invalid with files and timings", async (t) => {
  const dir = await project();
  const dev = new DevProcess(dir);
  t.teardown(() => void dev.stop());
  await dev.url();
  await dev.waitFor(/✓ applied 1 step/);
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age: number;\n"));
  await dev.waitFor(/✓ applied 1 step/);
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age: number;\n") + "// a comment only\n");
  await dev.waitFor(/No changes/);
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age: nmber;\n"));
  await dev.waitFor(/the app has errors/);
  await dev.stop();

  const lines = await logLines(dir);
  const saves = lines.filter((l) => String(l.event).startsWith("save."));
  t.deepEqual(saves.map((l) => l.event), ["save.step", "save.applied", "save.step", "save.applied", "save.unchanged", "save.invalid"]);
  t.like(saves[0], { level: "info", command: "dev", migration: ".draft", step: 1, steps: 1, call: 'createTable("Users")', risk: "ADD_OBJECT" });
  t.like(saves[1], { command: "dev", files: "start", steps: 1, draft: "migrations/.draft.ts" });
  t.like(saves[2], { call: 'addColumn("Users", …)', risk: "ADD_COLUMN" });
  t.like(saves[3], { files: "app/index.ts", steps: 1, migration: ".draft" });
  for (const l of [saves[1]!, saves[3]!]) for (const k of ["ms", "extract_ms", "apply_ms"]) t.is(typeof l[k], "number", `${k} in ${JSON.stringify(l)}`);
  t.like(saves[4], { files: "app/index.ts" });
  t.like(saves[5], { level: "error", files: "app/index.ts" });
  t.regex(String(saves[5]!.error), /^app\/index\.ts:6:\d+: /);
  t.is(typeof saves[5]!.code, "string");
  // The text form keeps them greppable.
  const text = await runCli(dir, ["logs", "--filter", "event=save.applied"]);
  t.is(text.stdout.trim().split("\n").length, 2);
});
