import test from "ava";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { openLedger } from "../lib/ledger/index.js";
import { openTargetLedger } from "../lib/ledger/target.js";
import { BIN, moose, mooseAsync, tempDir } from "./helpers/cli.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { diff } from "../lib/diff/diff.js";
import { plan } from "../lib/plan/plan.js";
import { renderMigration } from "../lib/migrations/files/render.js";
import { emptyInfraMap, hashInfraMap } from "../lib/model/infra-map.js";
import { table } from "./helpers/model-builders.js";
import { queryRows } from "./helpers/ledger-sqlite.js";

/**
 * The ledger and the lock kept in a ClickHouse server target: runners with fresh
 * checkouts (no `.moose/`) agree on what is applied, never apply a migration twice, and
 * take over a lock whose holder died. Real CLI processes against the real server CI
 * starts (Debian's clickhouse-server 18.16); skipped, with a line saying so, without
 * CLICKHOUSE_URL.
 */

const url = process.env["CLICKHOUSE_URL"];
const run = url ? test : test.skip;
/** For tests that time a child process or use the ledger in this process (knex gives up acquiring its connection after 60 s): the other tests' spawnSync calls block this process's event loop. */
const runSerial = url ? test.serial : test.skip;
if (!url) console.log("ledger-target: CLICKHOUSE_URL is not set; skipping the ledger-in-the-target suite (.ci/run sets it)");

const APP = `import { OlapTable } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
`;

const databases: string[] = [];

test.after.always(async () => {
  if (!url) return;
  const olap = await admin("default");
  for (const db of databases) await olap.execute(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
  await olap.close();
});

function admin(database: string): Promise<OlapEngine> {
  return openOlapEngine(serverConfigFromEnv(database)!);
}

/** A project (runner A's checkout) on a database of its own. */
function project(): { dir: string; database: string } {
  const database = `moose_ledger_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  databases.push(database);
  const root = tempDir("ledger-target");
  const init = moose(root, ["init", "p"]);
  if (init.code !== 0) throw new Error(init.stderr);
  const dir = join(root, "p");
  const { hostname, port } = new URL(url!);
  writeFileSync(join(dir, "moose.config.toml"), `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  writeFileSync(join(dir, "app/index.ts"), APP);
  return { dir, database };
}

/** Another runner: a fresh clone of `dir` (what the repository holds; no `.moose/`). */
function freshClone(dir: string): string {
  const clone = join(tempDir("ledger-clone"), "p");
  cpSync(dir, clone, { recursive: true });
  rmSync(join(clone, ".moose"), { recursive: true, force: true });
  return clone;
}

function ok(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { code: number; stdout: string; stderr: string }): string {
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Appends a hand-written migration (no change to the model) whose step is `up`. */
function handWritten(dir: string, name: string, up: string): void {
  const files = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts")).sort();
  const last = readFileSync(join(dir, "migrations", files.at(-1)!), "utf8");
  const result = /result: "(sha256:[0-9a-f]{64})"/.exec(last)![1]!;
  const stamp = String(Number(files.at(-1)!.slice(0, 14)) + 1);
  writeFileSync(
    join(dir, "migrations", `${stamp}_${name}.ts`),
    `import { migration, sql } from "moose-migrate/migration";\nexport default migration({\n  parent: "${result}",\n  result: "${result}",\n  up: [${up}],\n  down: null,\n});\n`,
  );
}

run("deployed from runner A, a fresh clone sees it applied: status is up to date, deploy does nothing, and its next deploy is seen by A", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);

  const b = freshClone(dir);
  const status = moose(b, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  const doc = JSON.parse(status.stdout) as { verdict: string; drift: string[]; migrations: Array<{ state: string }> };
  t.deepEqual(doc.migrations.map((m) => m.state), ["applied"]);
  t.deepEqual(doc.drift, [], "the ledger's own tables are not drift");
  t.regex(ok(t, moose(b, ["migrate", "deploy"])), /No pending migrations: the database is up to date\./);

  writeFileSync(join(b, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age?: number;\n"));
  ok(t, moose(b, ["migrate", "generate", "--name", "add age"]));
  t.regex(ok(t, moose(b, ["migrate", "deploy"])), /1 migration applied\./);
  // A pulls B's file: A's old mirror is refreshed from the target.
  for (const f of readdirSync(join(b, "migrations"))) cpSync(join(b, "migrations", f), join(dir, "migrations", f));
  t.regex(ok(t, moose(dir, ["migrate", "status"])), /_add_age\s+applied[\s\S]*Up to date\./);
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /No pending migrations/);

  // The records are plain SQL in the target.
  const olap = await admin(database);
  const rows = await olap.query<{ op: string; migration_id: string }>("SELECT op, migration_id FROM _moose_ledger ORDER BY seq");
  await olap.close();
  t.deepEqual(
    rows.map((r) => `${r.op} ${r.migration_id.replace(/^\d{14}_/, "")}`),
    ["begin create_users", "step_started create_users", "step_done create_users", "begin add_age", "step_started add_age", "step_done add_age"],
  );
});

run("two fresh runners deploy the same pending migration at once: its INSERT runs exactly once, the other waits and finds it applied", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  handWritten(dir, "seed", "sql(\"INSERT INTO Users (id, name) VALUES ('u1', 'Ada')\"), sql(\"SELECT sleep(1)\")");
  const runners = [freshClone(dir), freshClone(dir), freshClone(dir)];
  const results = await Promise.all(runners.map((r) => mooseAsync(r, ["migrate", "deploy", "--lock-timeout", "60"])));
  for (const r of results) t.is(r.code, 0, r.stdout + r.stderr);
  t.is(results.filter((r) => /1 migration applied\./.test(r.stdout)).length, 1, results.map((r) => r.stdout).join("\n---\n"));
  t.is(results.filter((r) => /No pending migrations/.test(r.stdout)).length, 2);
  const olap = await admin(database);
  t.deepEqual(await olap.query("SELECT id FROM Users"), [{ id: "u1" }], "the INSERT ran once");
  await olap.close();
});

run("without --lock-timeout the runner that finds the lock held exits DEPLOY_LOCKED naming the holder", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  const olap = await admin(database);
  // Another host's runner holds the lock with a fresh heartbeat.
  await olap.execute("CREATE TABLE _moose_lock_1 ENGINE = Log AS SELECT 'acquire' AS event, 'ci-runner-7:4242:abc' AS owner, 'ci-runner-7' AS host, toUInt32(4242) AS pid, now() AS at");
  const r = moose(freshClone(dir), ["migrate", "deploy"]);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(r.stderr, /error\[DEPLOY_LOCKED\]: another deploy holds the migration lock: ci-runner-7:4242:abc/);
  t.deepEqual(await olap.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name = 'Users'"), [], "nothing was applied");
  // `moose migrate unlock` from yet another clone releases it; the deploy then runs.
  const unlock = moose(freshClone(dir), ["migrate", "unlock"]);
  t.is(unlock.code, 0, unlock.stdout + unlock.stderr);
  t.regex(unlock.stdout, /ci-runner-7:4242:abc/);
  t.regex(ok(t, moose(freshClone(dir), ["migrate", "deploy"])), /1 migration applied\./);
  await olap.close();
});

runSerial("a runner SIGKILLed while holding the lock: on the same host the next runner takes the lock over at once", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  handWritten(dir, "slow", 'sql("SELECT 1"), sql("SELECT sleep(3)")');
  const a = freshClone(dir);
  const child = spawn(process.execPath, [BIN, "migrate", "deploy"], { cwd: a, env: { ...process.env, FORCE_COLOR: "0" } });
  await new Promise<void>((resolve) => {
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
      // In step 2 (3 s of sleep) once step 1 is recorded.
      if (out.includes("✓ 1/")) resolve();
    });
  });
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  const olap = await admin(database);
  const [held] = await olap.query<{ n: string }>("SELECT toString(count()) AS n FROM system.tables WHERE database = currentDatabase() AND name LIKE '\\\\_moose\\\\_lock\\\\_%'");
  t.is(held?.n, "1", "the killed runner left its lock behind");
  // Not DEPLOY_LOCKED: the holder's process is gone. Plain deploy settles the interrupted read and finishes.
  const r = moose(freshClone(dir), ["migrate", "deploy"]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /_slow \(resuming at step 2 of 2\)[\s\S]*1 migration applied\./);
  t.regex(r.stderr, /note: took over the migration lock from [^ ]+:\d+:\w+ \(held since .*\): its process is gone or stopped renewing it/);
  await olap.close();
});

/** Writes `count` committed single-step migrations, each creating table `Kill<k>` (generated as `migrate generate` would). */
function createTableMigrations(dir: string, count: number): string[] {
  const migrations = join(dir, "migrations");
  rmSync(migrations, { recursive: true, force: true });
  mkdirSync(migrations, { recursive: true });
  let state = emptyInfraMap();
  const ids: string[] = [];
  for (let k = 1; k <= count; k++) {
    const next = { ...state, tables: { ...state.tables, [`Kill${k}`]: table(`Kill${k}`, [["id", "String"], ["v", "Int64"]]) } };
    const id = `${20260101000000 + k}_create_kill_${k}`;
    writeFileSync(join(migrations, `${id}.ts`), renderMigration({ id, plan: plan(diff(state, next), { from: state, to: next }), parent: hashInfraMap(state), result: hashInfraMap(next), toolVersion: "test" }));
    ids.push(id);
    state = next;
  }
  return ids;
}

runSerial("SIGKILLed at random points of a deploy of single-step migrations (the ledger's INSERT and its local mirror's write overlap there): plain deploys from the same checkout finish it, every migration applied once, and the checkout and a fresh clone read the same ledger", async (t) => {
  const { dir, database } = project();
  const ids = createTableMigrations(dir, 40);
  // A seeded walk through the kill points, so that a failure names one that can be run again.
  let seed = Number(process.env["MOOSE_KILL_SEED"] ?? Date.now() % 100_000) || 1;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  t.log(`MOOSE_KILL_SEED=${seed}`);
  const kills: string[] = [];
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, [BIN, "migrate", "deploy"], { cwd: dir, env: { ...process.env, FORCE_COLOR: "0" } });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    // Once this run has applied a migration or two, at a random moment within a few handoffs.
    const applied = () => (out.match(/✓ /g) ?? []).length;
    const target = 1 + Math.floor(random() * 3);
    const until = Date.now() + 60_000;
    while (applied() < target && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, Math.floor(random() * 25)));
    child.kill("SIGKILL");
    const code = await exited;
    if (code === 0) break; // it finished before the kill: nothing left to interrupt
    // Where the kill landed: the target's ledger (a fresh clone reads only that) against this checkout's mirror.
    // (status exits non-zero while a migration is left running: only its JSON is read)
    const inTarget = JSON.parse(moose(freshClone(dir), ["migrate", "status", "--json"]).stdout) as { migrations: Array<{ state: string }> };
    const [mirror] = await queryRows<{ n: number }>(join(dir, ".moose", "ledger.sqlite"), "SELECT count(*) AS n FROM migrations WHERE status = 'applied'");
    const targetApplied = inTarget.migrations.filter((m) => m.state === "applied").length;
    kills.push(`round ${round}: after ${applied()} ✓ lines, applied ${targetApplied} in the target, ${mirror?.n} in the mirror`);
    t.notRegex(out, /LEDGER_UNREADABLE|LEDGER_SCHEMA|STEP_UNCERTAIN/, out);
  }
  t.log(kills.join("; "));
  const finish = moose(dir, ["migrate", "deploy"]);
  t.is(finish.code, 0, finish.stdout + finish.stderr);
  const olap = await admin(database);
  try {
    const tables = await olap.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'Kill%' ORDER BY name");
    t.is(tables.length, ids.length, "every table exists");
    // Each migration is recorded applied, in the target and in this checkout's mirror alike.
    const status = (d: string) => {
      const r = moose(d, ["migrate", "status", "--json"]);
      t.is(r.code, 0, r.stdout + r.stderr);
      return JSON.parse(r.stdout) as { migrations: Array<{ id: string; state: string }>; drift: unknown[] };
    };
    const here = status(dir);
    const clone = status(freshClone(dir));
    t.deepEqual(here.migrations.map((m) => [m.id, m.state]), ids.map((id) => [id, "applied"]));
    t.deepEqual(clone.migrations, here.migrations, "a fresh clone (the target's ledger alone) reads what the killed checkout reads");
    t.deepEqual(here.drift, []);
    // Exactly one step_done per migration in the target's log: no step was recorded as run twice.
    const done = await olap.query<{ migration_id: string; n: string }>("SELECT migration_id, toString(count()) AS n FROM _moose_ledger WHERE op = 'step_done' GROUP BY migration_id HAVING count() > 1");
    t.deepEqual(done, [], "no step recorded done twice");
    t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /No pending migrations|up to date|nothing to/i);
  } finally {
    await olap.close();
  }
});

runSerial("a holder on another host whose heartbeat stopped is taken over after the lock's time to live", async (t) => {
  const { database } = project();
  const olap = await admin(database);
  await olap.execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
  const dir = tempDir("ledger-ttl");
  const ledger = await openTargetLedger(await admin(database), await openLedger(join(dir, "ledger.sqlite")), { host: "runner-b" });
  await olap.execute("CREATE TABLE _moose_lock_1 ENGINE = Log AS SELECT 'acquire' AS event, 'runner-a:1:x' AS owner, 'runner-a' AS host, toUInt32(1) AS pid, now() - 5 AS at");
  const fresh = await ledger.acquireLock("runner-b:2:y", 60_000);
  t.false(fresh.acquired, "a heartbeat 5 s old is alive for a 60 s lock");
  const stale = await ledger.acquireLock("runner-b:2:y", 2_000);
  t.true(stale.acquired, "5 s without a heartbeat is stale for a 2 s lock");
  t.is(stale.acquired && stale.takenOverFrom?.owner, "runner-a:1:x");
  t.deepEqual(
    (await olap.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '\\\\_moose\\\\_lock%' ORDER BY name")).map((r) => r.name),
    ["_moose_lock_2"],
    "the old generation is dropped",
  );
  t.false((await ledger.renewLock("runner-a:1:x", 60_000)).renewed, "the old holder has lost it");
  t.true((await ledger.renewLock("runner-b:2:y", 60_000)).renewed);
  t.true(await ledger.releaseLock("runner-b:2:y"));
  t.is(await ledger.lockHolder(), undefined);
  await ledger.close();
  await olap.close();
});

runSerial("a project deployed before the ledger moved to the target: its local records are uploaded once, with a notice", async (t) => {
  const { dir, database } = project();
  // The old layout: deploy recorded in .moose/ledger.sqlite only.
  const local = await openLedger(join(dir, ".moose", "ledger.sqlite"));
  await local.adopt({ id: "20260101000000_old", fileName: "20260101000000_old.ts", checksum: "c", checksumAlgorithm: "sha256-lf", parentHash: "sha256:a", resultHash: "sha256:b", stepsTotal: 1 });
  await local.close();
  const olap = await admin(database);
  await olap.execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
  const first = await openTargetLedger(await admin(database), await openLedger(join(dir, ".moose", "ledger.sqlite")));
  t.deepEqual(first.notices.length, 1);
  t.regex(first.notices[0]!, /uploaded 1 migration record from .* to _moose_ledger/);
  await first.close();
  const again = await openTargetLedger(await admin(database), await openLedger(join(dir, ".moose", "ledger.sqlite")));
  t.deepEqual(again.notices, [], "uploaded once");
  t.deepEqual((await again.list()).map((r) => r.id), ["20260101000000_old"]);
  await again.close();
  // A local record the target lacks (written to the mirror behind the target's back) is reported, not pushed.
  const mirror = await openLedger(join(dir, ".moose", "ledger.sqlite"));
  await mirror.adopt({ id: "20260102000000_local_only", fileName: "20260102000000_local_only.ts", checksum: "c", checksumAlgorithm: "sha256-lf", parentHash: "sha256:b", resultHash: "sha256:b", stepsTotal: 0 });
  await mirror.close();
  const third = await openTargetLedger(await admin(database), await openLedger(join(dir, ".moose", "ledger.sqlite")));
  t.is(third.notices.length, 1);
  t.regex(third.notices[0]!, /has a record of 20260102000000_local_only .* the target's ledger lacks; the target wins/);
  t.deepEqual((await third.list()).map((r) => r.id), ["20260101000000_old"]);
  await third.close();
  t.deepEqual(
    (await olap.query<{ migration_id: string }>("SELECT DISTINCT migration_id FROM _moose_ledger")).map((r) => r.migration_id),
    ["20260101000000_old"],
  );
  await olap.close();
});

run("rollback, baseline and resolve from fresh clones read and write the target's ledger", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age?: number;\n"));
  ok(t, moose(dir, ["migrate", "generate", "--name", "add age"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  // Rolled back from one fresh clone: another sees it pending.
  // Undoing the added column drops it: refused until told.
  const refused = moose(freshClone(dir), ["migrate", "rollback"]);
  t.is(refused.code, 3, refused.stdout + refused.stderr);
  t.regex(refused.stderr, /error\[ROLLBACK_LOSES_DATA\]/);
  t.regex(ok(t, moose(freshClone(dir), ["migrate", "rollback", "--accept-data-loss"])), /Rolled back \d{14}_add_age/);
  const status = moose(freshClone(dir), ["migrate", "status"]);
  t.is(status.code, 4, status.stdout + status.stderr);
  t.regex(status.stdout, /_add_age\s+pending/);
  // A baseline on a database with applied history is refused from a fresh clone as from the first.
  const baseline = moose(freshClone(dir), ["migrate", "baseline"]);
  t.is(baseline.code, 3, baseline.stdout + baseline.stderr);
  t.regex(baseline.stderr, /BASELINE_NOT_FIRST/);
  // Finished by hand and resolved from a fresh clone: every clone sees it applied.
  const olap = await admin(database);
  await olap.execute("ALTER TABLE Users ADD COLUMN age Nullable(Float64)");
  await olap.close();
  const id = readdirSync(join(dir, "migrations")).find((f) => f.endsWith("_add_age.ts"))!.replace(/\.ts$/, "");
  ok(t, moose(freshClone(dir), ["migrate", "resolve", "--applied", id]));
  t.regex(ok(t, moose(freshClone(dir), ["migrate", "status"])), /_add_age\s+applied[\s\S]*Up to date\./);
});

run("the target's _moose_ledger stores two columns, seq and record (one JSON object); the plain-SQL columns are ALIAS columns read out of it", async (t) => {
  const { dir, database } = project();
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(dir, ["migrate", "deploy"]));
  const olap = await admin(database);
  const columns = await olap.query<{ name: string; default_kind: string }>(
    "SELECT name, default_kind FROM system.columns WHERE database = currentDatabase() AND table = '_moose_ledger'",
  );
  t.deepEqual(columns.filter((c) => c.default_kind === "").map((c) => c.name), ["seq", "record"], "a new part of 18.16 holds two files per stored column");
  t.deepEqual(columns.filter((c) => c.default_kind === "ALIAS").map((c) => c.name), ["at", "op", "migration_id", "step_index", "host", "tool_version"]);
  const rows = await olap.query<{ at: string; op: string; step_index: number | string; tool_version: string; record: string }>(
    "SELECT at, op, step_index, tool_version, record FROM _moose_ledger ORDER BY seq",
  );
  await olap.close();
  t.deepEqual(rows.map((r) => `${r.op} ${r.step_index}`), ["begin -1", "step_started 0", "step_done 0"]);
  for (const row of rows) {
    t.false(Number.isNaN(Date.parse(row.at)), row.at);
    const record = JSON.parse(row.record) as { v: number; op: string; migration: { id: string; toolVersion: string }; step: { statements: string[] } | null };
    t.is(record.v, 1);
    t.is(record.op, row.op, "the ALIAS reads the record's own field");
    t.regex(record.migration.id, /^\d{14}_create_users$/);
    t.is(row.tool_version, record.migration.toolVersion);
  }
  const done = JSON.parse(rows[2]!.record) as { step: { statements: string[] } };
  t.regex(done.step.statements.join("\n"), /CREATE TABLE/);
});

run("a target deployed by an earlier moose-migrate (nine stored columns) keeps that layout: read and written as it is, seen by fresh clones", async (t) => {
  const { dir, database } = project();
  const root = await admin("default");
  await root.execute(`CREATE DATABASE IF NOT EXISTS \`${database}\``);
  await root.close();
  const olap = await admin(database);
  await olap.execute(
    "CREATE TABLE _moose_ledger (seq UInt64, at String, op String, migration_id String, step_index Int32, migration String, step String, host String, tool_version String) ENGINE = MergeTree ORDER BY seq",
  );
  ok(t, moose(dir, ["migrate", "generate", "--name", "create users"]));
  t.regex(ok(t, moose(dir, ["migrate", "deploy"])), /1 migration applied\./);
  writeFileSync(join(dir, "app/index.ts"), APP.replace("  name: string;\n", "  name: string;\n  age?: number;\n"));
  ok(t, moose(dir, ["migrate", "generate", "--name", "add age"]));
  t.regex(ok(t, moose(freshClone(dir), ["migrate", "deploy"])), /1 migration applied\./);
  t.regex(ok(t, moose(freshClone(dir), ["migrate", "status"])), /_create_users\s+applied[\s\S]*_add_age\s+applied[\s\S]*Up to date\./);
  const rows = await olap.query<{ op: string; migration: string; step: string }>("SELECT op, migration, step FROM _moose_ledger ORDER BY seq");
  const columns = await olap.query<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '_moose_ledger'");
  await olap.close();
  t.false(columns.some((c) => c.name === "record"), "the table is not altered");
  t.is(rows.length, 6);
  for (const row of rows) t.regex((JSON.parse(row.migration) as { id: string }).id, /^\d{14}_(create_users|add_age)$/);
  t.deepEqual(rows.map((r) => r.step === ""), [true, false, false, true, false, false], "a begin row has no step record, as the first layout wrote it");
});

run("a ledger row edited by hand is refused naming its seq; a row of a newer record format asks for a newer moose-migrate; a _moose_ledger moose did not make is never written", async (t) => {
  const broken = project();
  ok(t, moose(broken.dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(broken.dir, ["migrate", "deploy"]));
  let olap = await admin(broken.database);
  await olap.execute("INSERT INTO _moose_ledger (seq, record) VALUES (100, '{\"v\":1,\"op\":\"begin\",')");
  await olap.close();
  const unreadable = moose(freshClone(broken.dir), ["migrate", "status"]);
  t.not(unreadable.code, 0);
  t.regex(unreadable.stderr, /LEDGER_UNREADABLE[\s\S]*the row with seq 100 is not a record moose-migrate wrote/);
  t.regex(unreadable.stderr, /SELECT \* FROM _moose_ledger WHERE seq = 100/);

  const newer = project();
  ok(t, moose(newer.dir, ["migrate", "generate", "--name", "create users"]));
  ok(t, moose(newer.dir, ["migrate", "deploy"]));
  olap = await admin(newer.database);
  await olap.execute("INSERT INTO _moose_ledger (seq, record) VALUES (100, '{\"v\":3,\"op\":\"begin\",\"migration_id\":\"x\",\"step_index\":-1}')");
  await olap.close();
  const tooNew = moose(freshClone(newer.dir), ["migrate", "deploy"]);
  t.not(tooNew.code, 0);
  t.regex(tooNew.stderr, /LEDGER_SCHEMA_TOO_NEW[\s\S]*seq 100[\s\S]*record format 3/);

  const foreign = project();
  const root = await admin("default");
  await root.execute(`CREATE DATABASE IF NOT EXISTS \`${foreign.database}\``);
  await root.close();
  olap = await admin(foreign.database);
  await olap.execute("CREATE TABLE _moose_ledger (x String) ENGINE = Log");
  ok(t, moose(foreign.dir, ["migrate", "generate", "--name", "create users"]));
  const refused = moose(foreign.dir, ["migrate", "deploy"]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /LEDGER_UNREADABLE[\s\S]*neither a record nor a migration column/);
  const left = await olap.query<{ n: string | number; users: string | number }>(
    "SELECT (SELECT count() FROM _moose_ledger) AS n, (SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'Users') AS users",
  );
  await olap.close();
  t.deepEqual([Number(left[0]!.n), Number(left[0]!.users)], [0, 0], "nothing written, nothing deployed");
});

/** A single-step migration record to begin, named `n`. */
function single(n: number): { id: string; fileName: string; checksum: string; checksumAlgorithm: string; parentHash: string; resultHash: string; stepsTotal: number } {
  const id = `2026120400000${n}_m${n}`;
  return { id, fileName: `${id}.ts`, checksum: `sha256:${String(n).repeat(64).slice(0, 64)}`, checksumAlgorithm: "sha256-v1", parentHash: `p${n}`, resultHash: `p${n + 1}`, stepsTotal: 1 };
}

runSerial("a chain of single-step migrations: the target's rows are the mirror's records, written beside the mirror's own write, and read back equal by a fresh runner", async (t) => {
  const { database } = project();
  const olap = await admin(database);
  await olap.execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
  const ledger = await openTargetLedger(await admin(database), await openLedger(join(tempDir("ledger-chain"), "ledger.sqlite"), { role: "mirror" }));
  await ledger.begin(single(1));
  await ledger.stepStarted(single(1).id, 0, ["CREATE TABLE t1 (x UInt8) ENGINE = Memory"]);
  for (let n = 1; n <= 4; n++) {
    const { completed, begun } = await ledger.completeAndBegin(single(n).id, 0, [`CREATE TABLE t${n} (x UInt8) ENGINE = Memory`], {
      migration: single(n + 1),
      step: { index: 0, statements: [`CREATE TABLE t${n + 1} (x UInt8) ENGINE = Memory`] },
    });
    t.is(completed.status, "applied");
    t.is(begun?.id, single(n + 1).id);
  }
  await ledger.stepDone(single(5).id, 0, ["CREATE TABLE t5 (x UInt8) ENGINE = Memory"], { complete: true });
  const ops = await olap.query<{ op: string }>("SELECT op FROM _moose_ledger ORDER BY seq");
  t.deepEqual(
    ops.map((r) => r.op),
    ["begin", "step_started", ...Array.from({ length: 4 }, () => ["step_done", "begin", "step_started"]).flat(), "step_done"],
    "the records the INSERT was sent with were the mirror's: nothing was written again",
  );
  const mine = { migrations: await ledger.list(), steps: await Promise.all([1, 2, 3, 4, 5].map((n) => ledger.steps(single(n).id))) };
  const fresh = await openTargetLedger(await admin(database), await openLedger(join(tempDir("ledger-chain-b"), "ledger.sqlite"), { role: "mirror" }));
  t.deepEqual({ migrations: await fresh.list(), steps: await Promise.all([1, 2, 3, 4, 5].map((n) => fresh.steps(single(n).id))) }, mine);
  t.true(mine.migrations.every((m) => m.status === "applied" && m.stepsApplied === 1 && m.durationMs !== null));
  await fresh.close();
  await ledger.close();
  await olap.close();
});

/**
 * A target ledger in a fresh database whose first single-step migration was handed on to the
 * second (its step started): the state the next handoff predicts from. `file` is its mirror.
 */
async function handedOnce(name: string): Promise<{ database: string; olap: Awaited<ReturnType<typeof admin>>; file: string; ledger: Awaited<ReturnType<typeof openTargetLedger>> }> {
  const { database } = project();
  const olap = await admin(database);
  await olap.execute("CREATE DATABASE IF NOT EXISTS `" + database + "`");
  const file = join(tempDir(name), "ledger.sqlite");
  const ledger = await openTargetLedger(await admin(database), await openLedger(file, { role: "mirror" }));
  await ledger.begin(single(1));
  await ledger.stepStarted(single(1).id, 0, ["SELECT 1"]);
  await ledger.completeAndBegin(single(1).id, 0, ["SELECT 1"], { migration: single(2), step: { index: 0, statements: ["SELECT 2"] } });
  return { database, olap, file, ledger };
}

runSerial("when the mirror writes other records than the INSERT beside it was sent with, the mirror's are written to the target again and win", async (t) => {
  const { database, olap, file, ledger } = await handedOnce("ledger-diverge");
  // Behind the target ledger's back (nothing in moose does this: the lock keeps writers
  // apart), another connection to the mirror records migration 3: the mirror will not begin it.
  const other = await openLedger(file, { role: "mirror", host: "elsewhere" });
  await other.adopt(single(3));
  await other.close();
  const { completed, begun } = await ledger.completeAndBegin(single(2).id, 0, ["SELECT 2"], { migration: single(3), step: { index: 0, statements: ["SELECT 3"] } });
  t.is(completed.status, "applied");
  t.is(begun, undefined, "the mirror found migration 3 recorded and began nothing");
  const ops = await olap.query<{ op: string; migration_id: string }>("SELECT op, migration_id FROM _moose_ledger ORDER BY seq");
  t.deepEqual(ops.slice(-2).map((r) => r.op), ["republish", "republish"], "migration 3's record (and 2's) written again from the mirror");
  const formats = await olap.query<{ op: string; v: number | string }>("SELECT op, visitParamExtractUInt(record, 'v') AS v FROM _moose_ledger ORDER BY seq");
  t.deepEqual(
    [...new Set(formats.map((r) => `${r.op}:${Number(r.v)}`))].sort(),
    ["begin:1", "republish:2", "step_done:1", "step_started:1"],
    "republish rows are record format 2: a moose-migrate that knows only format 1 asks to be upgraded rather than misread them",
  );
  const fresh = await openTargetLedger(await admin(database), await openLedger(join(tempDir("ledger-diverge-b"), "ledger.sqlite"), { role: "mirror" }));
  const three = await fresh.get(single(3).id);
  t.is(three?.status, "applied", "the adopted record, not the running one the INSERT carried");
  t.is(three?.host, "elsewhere");
  t.deepEqual(await fresh.steps(single(3).id), [], "no step of it was started");
  t.deepEqual(await fresh.get(single(2).id), await ledger.get(single(2).id));
  await fresh.close();
  await ledger.close();
  await olap.close();
});

runSerial("when the mirror refuses a handoff the INSERT beside it already wrote, the target is given the mirror's records back and the mirror's error is reported", async (t) => {
  const { database, olap, file, ledger } = await handedOnce("ledger-refused");
  // Behind the target ledger's back, another connection records migration 2's step as failed:
  // the mirror will refuse to record it applied.
  const other = await openLedger(file, { role: "mirror", host: "elsewhere" });
  await other.stepFailed(single(2).id, 0, "failed elsewhere", ["SELECT 2"]);
  await other.close();
  const error = await t.throwsAsync(ledger.completeAndBegin(single(2).id, 0, ["SELECT 2"], { migration: single(3), step: { index: 0, statements: ["SELECT 3"] } }));
  t.truthy(error?.message, "the mirror's refusal is what the caller sees");
  const fresh = await openTargetLedger(await admin(database), await openLedger(join(tempDir("ledger-refused-b"), "ledger.sqlite"), { role: "mirror" }));
  t.is((await fresh.get(single(2).id))?.status, "failed", "the mirror's record, not the applied one the INSERT carried");
  t.is((await fresh.get(single(2).id))?.error, "failed elsewhere");
  t.is(await fresh.get(single(3).id), undefined, "migration 3, begun only by the INSERT, is gone");
  t.deepEqual(await fresh.list(), await ledger.list());
  await fresh.close();
  await ledger.close();
  await olap.close();
});
