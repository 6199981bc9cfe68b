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
  // The embedded engine cannot report rows while a statement runs (its session runs one query at a time): a spinner only.
  t.notRegex(d.stdout, / rows/);
  // The spinner line is cleared before the step's own line.
  t.regex(d.stdout, /\r\u001b\[K {2}\u001b\[32m✓\u001b\[39m 1\/1 sql\("SELECT sleep\(2\)"\)/);

  const plain = coloursFor({ isTTY: true, env: { NO_COLOR: "1" } });
  t.false(plain.enabled);
  t.is(plain.green("✓"), "✓");
  t.true(coloursFor({ isTTY: false, env: { FORCE_COLOR: "1" } }).enabled);
  t.false(coloursFor({ isTTY: true, env: { TERM: "dumb" } }).enabled);
  t.false(coloursFor({ isTTY: false, env: {} }).enabled);
});

const serverUrl = process.env["CLICKHOUSE_URL"];
if (!serverUrl) console.log("run-progress: CLICKHOUSE_URL is not set; skipping the rows-copied progress on a ClickHouse server (.ci/run sets it)");
const onServer = serverUrl ? test.serial : test.skip;

onServer("on a terminal, a long row copy on a server (18.16) shows rows read / the server's estimate while it runs", async (t) => {
  t.timeout(240_000);
  const dir = await initProject("progress-srv", `import { OlapTable } from "moose-migrate";

interface Row {
  id: string;
  n: number;
}

export const big = new OlapTable<Row>("Big", { orderByFields: ["id"] });
export const copy = new OlapTable<Row>("BigCopy", { orderByFields: ["id"] });
`);
  const u = new URL(serverUrl!);
  const database = `moose_progress_${process.pid}_${Date.now().toString(36)}`;
  writeFileSync(join(dir, "moose.config.toml"), `[clickhouse_config]\nengine = "server"\nhost = "${u.hostname}"\nhost_port = ${u.port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  t.teardown(() => fetch(`${serverUrl}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${database}`)}`, { method: "POST" }).then(() => undefined));
  t.is((await runCli(dir, ["migrate", "generate", "--name", "tables"])).code, 0);
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);
  const rows = 6_000_000;
  const fill = await runCli(dir, ["query", `INSERT INTO Big SELECT toString(number), number FROM numbers(${rows})`, "--write"]);
  t.is(fill.code, 0, fill.stderr);
  t.is((await runCli(dir, ["migrate", "generate", "--empty", "--name", "copy"])).code, 0);
  const file = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_copy.ts"))[0]!;
  const path = join(dir, "migrations", file);
  // A plain hand-written copy: deploy stages it (exactly once) and it reads every row of Big.
  writeFileSync(path, readFileSync(path, "utf8").replace("  up: [\n", '  up: [\n    sql("INSERT INTO BigCopy SELECT id, n FROM Big"),\n'));
  const t0 = Date.now();
  const d = await runCli(dir, ["migrate", "deploy"], {}, []);
  const ms = Date.now() - t0;
  t.is(d.code, 0, d.stderr);
  // eslint-disable-next-line no-control-regex
  const lines = [...d.stdout.matchAll(/\r\u001b\[K {2}\u001b\[33m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[39m 1\/1 sql\("INSERT INTO BigCopy[^\r]*?\u001b\[2m[\d.]+ s\u001b\[22m ([\d,]+) \/ ([\d,]+) rows \((\d+)%\)/g)];
  t.log(`copy of ${rows.toLocaleString("en-US")} rows took ${ms} ms; ${lines.length} progress frames, last: ${lines.at(-1)?.slice(1).join(" ") ?? "none"}`);
  t.true(lines.length > 0, d.stdout.slice(0, 2000));
  const read = lines.map((m) => Number(m[1]!.replace(/,/g, "")));
  t.true(read.every((r, i) => i === 0 || r >= read[i - 1]!), "rows read never go back");
  t.true(lines.every((m) => Number(m[2]!.replace(/,/g, "")) >= rows * 0.9), "the total is the server's estimate of every row of Big");
  t.regex(d.stdout, /\r\u001b\[K {2}\u001b\[32m✓\u001b\[39m 1\/1 sql\("INSERT INTO BigCopy/);
  const [copied] = JSON.parse((await runCli(dir, ["query", "SELECT count() AS n FROM BigCopy", "--format", "json"])).stdout) as Array<{ n: string }>;
  t.is(Number(copied!.n), rows);
});

onServer("on a terminal, a backfill on 18.16 (a mutation waited for) shows parts rewritten / parts to rewrite while it runs", async (t) => {
  t.timeout(240_000);
  const dir = await initProject("progress-mut", `import { OlapTable } from "moose-migrate";

interface Row {
  id: string;
  n: number;
}

export const big = new OlapTable<Row>("Big", { orderByFields: ["id"] });
`);
  const u = new URL(serverUrl!);
  const database = `moose_progress_m_${process.pid}_${Date.now().toString(36)}`;
  writeFileSync(join(dir, "moose.config.toml"), `[clickhouse_config]\nengine = "server"\nhost = "${u.hostname}"\nhost_port = ${u.port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  t.teardown(() => fetch(`${serverUrl}/?query=${encodeURIComponent(`DROP DATABASE IF EXISTS ${database}`)}`, { method: "POST" }).then(() => undefined));
  t.is((await runCli(dir, ["migrate", "generate", "--name", "tables"])).code, 0);
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 0);
  // Several parts (one per INSERT, merges stopped), so the mutation has parts to count off.
  t.is((await runCli(dir, ["query", "SYSTEM STOP MERGES Big", "--write"])).code, 0);
  const parts = 8;
  for (let i = 0; i < parts; i++) {
    const fill = await runCli(dir, ["query", `INSERT INTO Big SELECT toString(number), number FROM numbers(${i * 1_000_000}, 1000000)`, "--write"]);
    t.is(fill.code, 0, fill.stderr);
  }
  t.is((await runCli(dir, ["query", "SYSTEM START MERGES Big", "--write"])).code, 0);
  t.is((await runCli(dir, ["migrate", "generate", "--empty", "--name", "backfill"])).code, 0);
  const file = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith("_backfill.ts"))[0]!;
  const path = join(dir, "migrations", file);
  // A mutation that takes a while per part: every row's n rewritten from a hash of the row.
  writeFileSync(
    path,
    readFileSync(path, "utf8")
      .replace("  up: [\n", '  up: [\n    backfillColumn("Big", "n", { expression: "n + length(toString(sipHash64(id, n, toString(n), reverse(id))))" }),\n')
      .replace(/import \{ ([^}]*) \} from "moose-migrate\/migration";/, (_m, names: string) => `import { ${names}, backfillColumn } from "moose-migrate/migration";`),
  );
  const d = await runCli(dir, ["migrate", "deploy"], {}, []);
  t.is(d.code, 0, d.stderr + d.stdout.slice(0, 2000));
  // eslint-disable-next-line no-control-regex
  const frames = [...d.stdout.matchAll(/\r\u001b\[K {2}\u001b\[33m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[39m 1\/1 backfillColumn[^\r]*? (\d+) \/ (\d+) parts \((\d+)%\)/g)];
  t.log(`${frames.length} progress frames, last: ${frames.at(-1)?.slice(1).join(" ") ?? "none"}`);
  t.true(frames.length > 0, d.stdout.slice(0, 3000));
  t.true(frames.every((m) => Number(m[2]) >= 1 && Number(m[2]) <= parts), "the total is the parts the mutation had to rewrite");
  const done = frames.map((m) => Number(m[1]));
  t.true(done.every((x, i) => i === 0 || x >= done[i - 1]!), "parts done never go back");
  t.notRegex(d.stdout, / rows \(/, "a mutation is not counted in rows");
  const [sum] = JSON.parse((await runCli(dir, ["query", "SELECT count() AS c, countIf(n > number) AS bumped FROM (SELECT n, toUInt64(id) AS number FROM Big)", "--format", "json"])).stdout) as Array<{ c: string; bumped: string }>;
  t.is(Number(sum!.c), parts * 1_000_000);
  t.is(Number(sum!.bumped), parts * 1_000_000, "every row was rewritten");
});

test("rowsText: rows / estimate with a share that stays below 100% until the step ends", async (t) => {
  const { rowsText } = await import("../cli/present/run-progress.js");
  t.is(rowsText({ rows: 1_234_567, total: 5_000_000 }), "1,234,567 / 5,000,000 rows (24%)");
  t.is(rowsText({ rows: 5_000_000, total: 5_000_000 }), "5,000,000 / 5,000,000 rows (99%)");
  t.is(rowsText({ rows: 6_000_000, total: 5_000_000 }), "6,000,000 / 6,000,000 rows (99%)");
  t.is(rowsText({ rows: 10, total: 0 }), "10 rows");
  t.is(rowsText({ rows: 3, total: 8, unit: "parts" }), "3 / 8 parts (37%)");
});
