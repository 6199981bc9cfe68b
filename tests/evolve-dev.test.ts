import test, { type ExecutionContext } from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config/config.js";
import { DevSession } from "../lib/dev/session.js";
import type { RenameSuggestion } from "../lib/diff/rename-suggestions.js";
import { openDeployEngines, projectLedger } from "../lib/project/engines.js";
import { runCli, tempDir } from "./helpers/cli.js";

/** A fresh `moose init` project with its engines and ledger open in this process (closed after the test). */
async function devProject(t: ExecutionContext, prefix: string) {
  const root = tempDir(prefix);
  const init = await runCli(root, ["init", "p"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "p");
  const config = await loadConfig(dir, {});
  const engines = await openDeployEngines(config, { streams: false, workflows: false });
  const ledger = await projectLedger(config, "0.1.0-test");
  t.teardown(async () => {
    await engines.close();
    await ledger.close();
  });
  return { dir, config, engines, ledger };
}

/**
 * `moose dev`'s rename resolver, in process: the session asks about a drop + add that
 * looks like a rename; yes applies RENAME COLUMN (the values stay), no leaves the drop,
 * which waits for confirmation as before. Each suggestion is asked once.
 */
test.serial("dev: the rename resolver turns a drop + add into a rename; declined, the drop waits for approval", async (t) => {
  const { dir, config, engines, ledger } = await devProject(t, "evolve-dev");
  const asked: RenameSuggestion[] = [];
  let answer = true;
  let confirmations = 0;
  const session = new DevSession({
    config,
    engines,
    ledger,
    toolVersion: "0.1.0-test",
    confirmDataLoss: async () => {
      confirmations += 1;
      return false;
    },
    resolveRename: async (s) => {
      asked.push(s);
      return answer;
    },
  });
  await session.start();
  // Topics go to the embedded log; only the table matters here.
  const app = join(dir, "app/index.ts");
  writeFileSync(app, readFileSync(app, "utf8").replace(/export const userEvents[^\n]*\n/, ""));
  const first = await session.cycle();
  t.is(first.kind, "applied", JSON.stringify(first).slice(0, 2000));
  await engines.olap.execute("INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')");
  // Committed: the draft then holds only what changes after this.
  const generated = await runCli(dir, ["migrate", "generate", "--name", "users"]);
  t.is(generated.code, 0, generated.stderr);
  const adopted = await session.cycle();
  t.true(adopted.kind === "applied" && adopted.adopted.length === 1, JSON.stringify(adopted).slice(0, 500));

  writeFileSync(app, readFileSync(app, "utf8").replace("email: string;", "mail: string;"));
  const renamed = await session.cycle();
  t.is(renamed.kind, "applied", JSON.stringify({ asked, renamed }).slice(0, 3000));
  if (renamed.kind === "applied") t.deepEqual(renamed.plan.steps.map((s) => s.change.kind), ["table.renameColumn"]);
  t.deepEqual(asked, [{ kind: "column", table: "Users", from: "email", to: "mail", type: "String" }]);
  t.deepEqual(await engines.olap.query("SELECT id, mail FROM Users"), [{ id: "u1", mail: "ada@example.com" }]);
  // The draft carries the rename, not a drop and an add.
  t.regex(readFileSync(join(dir, "migrations/.draft.ts"), "utf8"), /renameColumn\("Users", "email", "mail"\)/);

  answer = false;
  writeFileSync(app, readFileSync(app, "utf8").replace("mail: string;", "contact: string;"));
  const declined = await session.cycle();
  t.is(declined.kind, "needs-approval");
  t.is(confirmations, 1);
  t.deepEqual(await engines.olap.query("SELECT id, mail FROM Users"), [{ id: "u1", mail: "ada@example.com" }], "nothing applied");
  // Asked once: the next save does not ask again.
  await session.cycle();
  t.is(asked.length, 2);
});

test.serial("dev: a 'yes' to a drop is re-checked against the code after the answer; a declaration restored meanwhile is not dropped", async (t) => {
  const { dir, config, engines, ledger } = await devProject(t, "evolve-dev-stale");
  const app = join(dir, "app/index.ts");
  writeFileSync(app, readFileSync(app, "utf8").replace(/export const userEvents[^\n]*\n/, ""));
  const original = readFileSync(app, "utf8");
  const session = new DevSession({
    config,
    engines,
    ledger,
    toolVersion: "0.1.0-test",
    // While the question is open, the developer puts the field back, then answers yes.
    confirmDataLoss: async () => {
      writeFileSync(app, original);
      return true;
    },
  });
  await session.start();
  t.is((await session.cycle()).kind, "applied");
  await engines.olap.execute("INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')");
  writeFileSync(app, original.replace("  email: string;\n", ""));
  const answered = await session.cycle();
  t.is(answered.kind, "stale-answer");
  t.deepEqual(await engines.olap.query("SELECT id, email FROM Users"), [{ id: "u1", email: "ada@example.com" }], "the column and its values are still there");
  t.is((await session.cycle()).kind, "unchanged", "the code as it is now needs nothing");
});

test.serial("dev: a rename answered in dev stays a rename when `migrate generate` (no terminal) finalises the draft", async (t) => {
  const { dir, config, engines, ledger } = await devProject(t, "evolve-dev-final");
  const session = new DevSession({ config, engines, ledger, toolVersion: "0.1.0-test", confirmDataLoss: async () => false, resolveRename: async () => true });
  await session.start();
  const app = join(dir, "app/index.ts");
  writeFileSync(app, readFileSync(app, "utf8").replace(/export const userEvents[^\n]*\n/, ""));
  t.is((await session.cycle()).kind, "applied");
  t.is((await runCli(dir, ["migrate", "generate", "--name", "users"])).code, 0);
  t.is((await session.cycle()).kind, "applied");
  await engines.olap.execute("INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')");
  writeFileSync(app, readFileSync(app, "utf8").replace("email: string;", "mail: string;"));
  t.is((await session.cycle()).kind, "applied");
  const generated = await runCli(dir, ["migrate", "generate", "--name", "mail", "--non-interactive"]);
  t.is(generated.code, 0, generated.stderr);
  const file = readFileSync(join(dir, "migrations", (await import("node:fs")).readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_mail.ts"))[0]!), "utf8");
  t.regex(file, /renameColumn\("Users", "email", "mail"\)/);
  t.notRegex(file, /dropColumn/);
  const adopted = await session.cycle();
  t.true(adopted.kind === "applied" && adopted.adopted.length === 1, JSON.stringify(adopted).slice(0, 500));
  t.deepEqual(await engines.olap.query("SELECT id, mail FROM Users"), [{ id: "u1", mail: "ada@example.com" }]);
});
