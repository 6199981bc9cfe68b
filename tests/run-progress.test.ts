import test from "ava";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { coloursFor } from "../cli/present/colour.js";
import { runCli, initProject } from "./helpers/cli.js";

/**
 * Deploy and rollback output: each step by number and name (the kind is in the name, so a
 * table and a topic called the same read differently) with its time; colours and a
 * spinner for a long step on a terminal only, NO_COLOR honoured. Embedded chDB: serial.
 */

const APP = `import { OlapTable, Stream } from "moose-migrate";

interface Thing {
  id: string;
}

export const table = new OlapTable<Thing>("Things");
export const topic = new Stream<Thing>("Things");
`;

async function project(): Promise<string> {
  return initProject("progress", APP);
}

// eslint-disable-next-line no-control-regex
const ESC = /\u001b\[/;

test.serial("a table and a topic of the same name are two named steps with times, plain when not on a terminal", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate", "--name", "things"])).code, 0);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, /^Applying \d{14}_things\n  ✓ 1\/2 createTable\("Things"\)  \d+ ms\n  ✓ 2\/2 createTopic\("Things"\)  \d+ ms\n  applied in \d+ ms\n/);
  t.notRegex(d.stdout, ESC);
  const r = await runCli(dir, ["migrate", "rollback", "--accept-data-loss"]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Rolling back \d{14}_things\n  ✓ 1\/2 deleteTopic\("Things", …\)  \d+ ms\n  ✓ 2\/2 dropTable\("Things", …\)  \d+ ms\n/);
});

test.serial("on a terminal: colours, and a spinner with the elapsed time for a step that runs over a second, cleared when it ends; NO_COLOR drops the colours", async (t) => {
  const dir = await project();
  t.is((await runCli(dir, ["migrate", "generate", "--name", "things"])).code, 0);
  t.is((await runCli(dir, ["migrate", "generate", "--empty", "--name", "slow"])).code, 0);
  const slow = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_slow.ts"))[0]!;
  const path = join(dir, "migrations", slow);
  writeFileSync(path, readFileSync(path, "utf8").replace("  up: [\n", '  up: [\n    sql("SELECT sleep(2)"),\n'));
  const d = await runCli(dir, ["migrate", "deploy"], {}, []);
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, /\u001b\[32m✓\u001b\[39m 1\/2 createTable\("Things"\)/);
  t.regex(d.stdout, /\r\u001b\[K  \u001b\[33m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[39m 1\/1 sql\("SELECT sleep\(2\)"\) \u001b\[2m1\.\d s\u001b\[22m/);
  // The spinner line is cleared before the step's own line.
  t.regex(d.stdout, /\r\u001b\[K {2}\u001b\[32m✓\u001b\[39m 1\/1 sql\("SELECT sleep\(2\)"\)/);

  const plain = coloursFor({ isTTY: true, env: { NO_COLOR: "1" } });
  t.false(plain.enabled);
  t.is(plain.green("✓"), "✓");
  t.true(coloursFor({ isTTY: false, env: { FORCE_COLOR: "1" } }).enabled);
  t.false(coloursFor({ isTTY: true, env: { TERM: "dumb" } }).enabled);
  t.false(coloursFor({ isTTY: false, env: {} }).enabled);
});
