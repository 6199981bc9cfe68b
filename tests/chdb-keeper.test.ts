import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { EMBEDDED_KEEPER_LIMITS } from "../lib/engines/olap/capabilities.js";

/**
 * Why the embedded engine still refuses Replicated engines and S3Queue
 * (EMBEDDED_KEEPER_LIMITS), checked on the installed chDB in real, separate processes:
 * chDB is given the server config moose would write (an in-memory Keeper, `<macros>`,
 * even an interserver port) and each limit is shown to hold. The day a chDB release
 * lifts one, its test fails: then the capability can be turned on for the embedded engine.
 */

const chdb = pathToFileURL(createRequire(import.meta.url).resolve("chdb")).href;

const KEEPER_CONFIG = [
  "<clickhouse>",
  "  <zookeeper><implementation>testkeeper</implementation></zookeeper>",
  "  <macros><shard>01</shard><replica>r1</replica></macros>",
  "  <interserver_http_host>127.0.0.1</interserver_http_host>",
  "  <interserver_http_port>9009</interserver_http_port>",
  "</clickhouse>",
  "",
].join("\n");

interface Project {
  readonly dataDir: string;
  readonly config: string;
  readonly dir: string;
}

/** A project folder with the data directory and the config where the embedded engine keeps them (`.moose/`). */
function project(t: { teardown(fn: () => void): void }): Project {
  const dir = mkdtempSync(join(tmpdir(), "moose-chdb-keeper-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, ".moose"), { recursive: true });
  const config = join(dir, ".moose", "clickhouse-keeper.xml");
  writeFileSync(config, KEEPER_CONFIG);
  return { dataDir: join(dir, ".moose", "clickhouse"), config, dir };
}

/**
 * Runs `body` (an async function body with `open(dir)`, `q(session, sql)` and `out`) in a
 * process of its own and returns what it put in `out`, with its stderr (chDB prints why an open failed there). The process ends by SIGKILL: chDB's
 * exit hook waits for a Replicated table's restarting thread, which never finishes.
 */
function inProcess(p: Project, body: string): Record<string, unknown> {
  const script = join(p.dir, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    [
      `import { Session } from ${JSON.stringify(chdb)};`,
      `const open = (dir) => new Session(dir, { connectionArgs: [${JSON.stringify(`--config-file=${p.config}`)}] });`,
      "const q = async (s, sql) => { try { return { ok: (await s.queryAsync(sql, { format: 'TSV' })).text().trim() }; } catch (e) { return { error: String(e.message).split('\\n')[0] }; } };",
      "const out = {};",
      "try {",
      body,
      "} catch (e) { out.thrown = String(e.message).split('\\n')[0]; }",
      "process.stdout.write(JSON.stringify(out) + '\\n', () => process.kill(process.pid, 'SIGKILL'));",
    ].join("\n"),
  );
  const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 120_000 });
  const line = run.stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`probe printed nothing (signal ${run.signal}, status ${run.status}): ${run.stderr.slice(0, 2000)}`);
  return { ...(JSON.parse(line) as Record<string, unknown>), stderr: run.stderr };
}

const DATA = (p: Project): string => JSON.stringify(p.dataDir);

test("chDB creates a Replicated table with an in-memory Keeper but never activates it: read-only, INSERT fails, also after a restart and SYSTEM RESTORE REPLICA", (t) => {
  const p = project(t);
  const first = inProcess(
    p,
    `const s = open(${DATA(p)});
     out.create = await q(s, "CREATE TABLE default.r (id UInt32) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/r', '{replica}') ORDER BY id");
     out.macros = await q(s, "SELECT macro, substitution FROM system.macros ORDER BY macro");
     // The restarting thread retries every few hundred ms; two seconds is several tries.
     await new Promise((r) => setTimeout(r, 2000));
     out.replicas = await q(s, "SELECT table, is_readonly FROM system.replicas");
     out.insert = await q(s, "INSERT INTO default.r SETTINGS insert_keeper_max_retries = 0 VALUES (1)");`,
  );
  t.deepEqual(first.create, { ok: "" }, "CREATE succeeds: the Keeper is there");
  t.deepEqual(first.macros, { ok: "replica\tr1\nshard\t01" });
  t.deepEqual(first.replicas, { ok: "r\t1" }, "still read-only after several activation attempts");
  t.regex(String((first.insert as { error?: string }).error), /TABLE_IS_READ_ONLY/);

  // Killed and started again: the in-memory Keeper is empty; RESTORE REPLICA writes the metadata back, and the replica still cannot activate.
  const second = inProcess(
    p,
    `const s = open(${DATA(p)});
     out.before = await q(s, "INSERT INTO default.r SETTINGS insert_keeper_max_retries = 0 VALUES (1)");
     out.restore = await q(s, "SYSTEM RESTORE REPLICA default.r");
     await new Promise((r) => setTimeout(r, 2000));
     out.replicas = await q(s, "SELECT table, is_readonly FROM system.replicas");
     out.after = await q(s, "INSERT INTO default.r SETTINGS insert_keeper_max_retries = 0 VALUES (1)");`,
  );
  t.regex(String((second.before as { error?: string }).error), /metadata was not found in zookeeper.*TABLE_IS_READ_ONLY/);
  t.deepEqual(second.restore, { ok: "" });
  t.deepEqual(second.replicas, { ok: "r\t1" });
  t.regex(String((second.after as { error?: string }).error), /TABLE_IS_READ_ONLY/);
  t.regex(EMBEDDED_KEEPER_LIMITS.replication, /never activates a replica.*TABLE_IS_READ_ONLY/);
});

const S3QUEUE = "CREATE TABLE default.q (a String) ENGINE = S3Queue('https://moose-probe.s3.amazonaws.com/in/*.json', NOSIGN, 'JSONEachRow') SETTINGS mode = 'unordered'";

test("chDB keeps an S3Queue table across a killed process, but only in the process's first embedded ClickHouse: after any close, CREATE fails and the data directory no longer opens", (t) => {
  const p = project(t);
  const first = inProcess(
    p,
    `const s = open(${DATA(p)});
     out.create = await q(s, ${JSON.stringify(S3QUEUE)});
     s.close();
     // The same data directory, opened again in the same process.
     try { const again = open(${DATA(p)}); out.reopen = await q(again, "SELECT name FROM system.tables WHERE database = 'default'"); } catch (e) { out.reopen = { error: String(e.message).split('\\n')[0], cause: String(e.cause?.message ?? "") }; }`,
  );
  t.deepEqual(first.create, { ok: "" }, "created in the process's first embedded ClickHouse");
  t.regex(String((first.reopen as { error?: string }).error), /^Failed to create connection for path/, "the same data directory, opened again in the same process");
  t.regex(String(first.stderr), /Load job 'startup table default\.q' failed: .*Shutdown was called/);

  // A new process (the old one was killed): the table is there.
  const second = inProcess(p, `const s = open(${DATA(p)}); out.tables = await q(s, "SELECT name, engine FROM system.tables WHERE database = 'default'");`);
  t.deepEqual(second.tables, { ok: "q\tS3Queue" });

  // A new process whose first embedded ClickHouse was the SQL parser's (a temporary directory, closed first).
  const third = inProcess(
    p,
    `const parser = new Session(); parser.query("SELECT 1"); parser.close();
     try { const s = open(${DATA(p)}); out.tables = await q(s, "SELECT name FROM system.tables WHERE database = 'default'"); } catch (e) { out.open = String(e.message).split('\\n')[0]; }`,
  );
  t.regex(String(third.open), /^Failed to create connection for path/);
  t.regex(String(third.stderr), /Load job 'startup table default\.q' failed: .*Shutdown was called/);

  // And creating one after that fails with chDB's own words.
  const other = project(t);
  const fourth = inProcess(
    other,
    `const parser = new Session(); parser.query("SELECT 1"); parser.close();
     const s = open(${JSON.stringify(other.dataDir)});
     out.create = await q(s, ${JSON.stringify(S3QUEUE)});
     out.replicated = await q(s, "CREATE TABLE default.r (id UInt32) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default/r', '{replica}') ORDER BY id");`,
  );
  t.regex(String((fourth.create as { error?: string }).error), /Shutdown was called/);
  t.deepEqual(fourth.replicated, { ok: "" }, "the Keeper itself still answers: S3Queue's own state is what is gone");
  t.regex(EMBEDDED_KEEPER_LIMITS.s3Queue, /Shutdown was called/);
});
