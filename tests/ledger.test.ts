import test from "ava";
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sqlite3 from "sqlite3";
import { EngineError, InvalidInputError, RefusedError } from "../lib/errors.js";
import { checksumOf } from "../lib/ledger/checksum.js";
import { openLedger, type Ledger, type OpenLedgerOptions } from "../lib/ledger/ledger.js";
import { defaultLockOwner } from "../lib/ledger/lock-owner.js";
import { LEDGER_SCHEMA_VERSION } from "../lib/ledger/schema.js";
import { execSql, manualClock, queryRows, sampleMigration, tempDir } from "./helpers/ledger-sqlite.js";
import type { WorkerReport } from "./helpers/ledger-worker.js";

const ID = "20261126031500_add_age_to_users";

/** Opens a ledger in a fresh temp folder (in a sub-folder that does not exist yet) and cleans up after the test. */
async function fresh(t: { teardown: (fn: () => Promise<void>) => void }, options: OpenLedgerOptions = {}) {
  const { dir, cleanup } = await tempDir();
  const path = join(dir, "state", "ledger.sqlite");
  const opened: Ledger[] = [];
  const open = async (more: OpenLedgerOptions = {}) => {
    const ledger = await openLedger(path, { toolVersion: "9.9.9-test", host: "test-host", ...options, ...more });
    opened.push(ledger);
    return ledger;
  };
  t.teardown(async () => {
    for (const ledger of opened) await ledger.close();
    await cleanup();
  });
  return { dir, path, ledger: await open(), open };
}

async function refusal(t: { fail: (m: string) => void }, promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as RefusedError;
  }
  t.fail("expected a rejection");
  throw new Error("unreachable");
}

// ---------------------------------------------------------------- checksum

const sha256 = (text: string) => checksumOf(text).checksum;

test("checksumOf hashes the text as sha256 hex and names its algorithm", (t) => {
  t.deepEqual(checksumOf("abc"), {
    algorithm: "sha256-lf-nobom",
    checksum: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  });
  t.is(sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

for (const [title, a, b] of [
  ["CRLF line endings", "up();\r\ndown();\r\n", "up();\ndown();\n"],
  ["lone CR line endings", "up();\rdown();\r", "up();\ndown();\n"],
  ["mixed line endings", "a\r\nb\rc\n", "a\nb\nc\n"],
  ["a leading BOM", "\uFEFFup();\n", "up();\n"],
  ["a BOM and CRLF", "\uFEFFup();\r\n", "up();\n"],
] as const) {
  test(`checksum ignores ${title}`, (t) => {
    t.is(sha256(a), sha256(b));
  });
}

for (const [title, a, b] of [
  ["a changed statement", "ADD COLUMN age Float64\n", "ADD COLUMN age Float32\n"],
  ["a BOM that is not leading", "a\uFEFFb\n", "ab\n"],
  ["a missing final newline", "up();\n", "up();"],
  ["two BOMs (only one is stripped)", "\uFEFF\uFEFFx", "x"],
  ["trailing whitespace", "up(); \n", "up();\n"],
] as const) {
  test(`checksum sees ${title}`, (t) => {
    t.not(sha256(a), sha256(b));
  });
}

// ---------------------------------------------------------------- schema & file

test("openLedger creates the folder, the schema tables and a WAL-mode file", async (t) => {
  const clock = manualClock();
  const { path, ledger, open } = await fresh(t, { now: clock.now });
  t.is(ledger.path, path);
  t.is(await ledger.schemaVersion(), LEDGER_SCHEMA_VERSION);
  const tables = await queryRows<{ name: string }>(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  t.deepEqual(
    tables.map((r) => r.name),
    ["ledger_meta", "ledger_schema", "migrate_lock", "migration_steps", "migrations"],
  );
  t.deepEqual(await queryRows(path, "SELECT * FROM ledger_schema"), [
    { version: 1, description: "migrations, migration_steps and migrate_lock", applied_at: clock.iso(), tool_version: "9.9.9-test" },
    { version: 2, description: "ledger_meta: what this file is (the mirror of a target's ledger)", applied_at: clock.iso(), tool_version: "9.9.9-test" },
  ]);
  t.deepEqual(await queryRows(path, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);

  // Opening again neither re-creates nor re-records anything.
  const again = await open();
  t.is(await again.schemaVersion(), LEDGER_SCHEMA_VERSION);
  t.is((await queryRows(path, "SELECT * FROM ledger_schema")).length, 2);
});

test("a ledger written by a newer schema version is refused, not touched", async (t) => {
  const { path, ledger } = await fresh(t);
  await ledger.close();
  await execSql(path, "INSERT INTO ledger_schema VALUES (99, 'from the future', '2030-01-01T00:00:00.000Z', '99.0.0')");
  const error = await refusal(t, openLedger(path));
  t.true(error instanceof RefusedError);
  t.is(error.code, "LEDGER_SCHEMA_TOO_NEW");
  t.regex(error.message, /schema version 99, newer than the 2/);
});

test("LEDGER_UNAVAILABLE names the path and the OS error when the file cannot be opened", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const aFile = join(dir, "not-a-folder");
  await writeFile(aFile, "x");

  const underAFile = join(aFile, "ledger.sqlite");
  const e1 = await refusal(t, openLedger(underAFile));
  t.true(e1 instanceof EngineError);
  t.is(e1.code, "LEDGER_UNAVAILABLE");
  t.true(e1.message.includes(underAFile));
  t.regex(e1.message, /ENOTDIR|EEXIST/);

  const aFolder = join(dir, "a-folder");
  await mkdir(aFolder);
  const e2 = await refusal(t, openLedger(aFolder));
  t.is(e2.code, "LEDGER_UNAVAILABLE");
  t.regex(e2.message, /EISDIR/);
  t.true(e2.message.includes(aFolder));

  const garbage = join(dir, "garbage.sqlite");
  await writeFile(garbage, "this is not a SQLite database, just some text that is long enough to have a header".repeat(20));
  const e3 = await refusal(t, openLedger(garbage));
  t.true(e3 instanceof EngineError);
  t.is(e3.code, "LEDGER_UNAVAILABLE");
  t.regex(e3.message, /SQLITE_NOTADB/);
});

// ---------------------------------------------------------------- recording a run

test("begin, stepDone and complete record every field, in the API and in the rows", async (t) => {
  const clock = manualClock("2026-11-26T03:15:00.000Z");
  const { path, ledger } = await fresh(t, { now: clock.now });
  const m = sampleMigration(ID, 2);

  const begun = await ledger.begin(m);
  const expectedRunning = {
    id: ID,
    fileName: `${ID}.ts`,
    checksum: m.checksum,
    checksumAlgorithm: "sha256-lf-nobom",
    parentHash: `sha256:parent-of-${ID}`,
    resultHash: `sha256:result-of-${ID}`,
    status: "running",
    stepsApplied: 0,
    stepsTotal: 2,
    error: null,
    failedStep: null,
    startedAt: "2026-11-26T03:15:00.000Z",
    finishedAt: null,
    durationMs: null,
    attempts: 1,
    toolVersion: "9.9.9-test",
    host: "test-host",
  };
  t.deepEqual(begun, expectedRunning);
  t.true(Object.isFrozen(begun));

  clock.advance(1500);
  const afterFirst = await ledger.stepDone(ID, 0, ["ALTER TABLE `Users` ADD COLUMN `age` Nullable(Float64)"]);
  t.is(afterFirst.stepsApplied, 1);
  t.is(afterFirst.status, "running");
  clock.advance(250);
  await ledger.stepDone(ID, 1, ["ALTER TABLE `Users` UPDATE `age` = 0 WHERE `age` IS NULL", "OPTIMIZE TABLE `Users`"]);
  t.deepEqual(await ledger.stepsDone(ID), [0, 1]);
  clock.advance(250);
  const done = await ledger.complete(ID);

  const expectedApplied = {
    ...expectedRunning,
    status: "applied",
    stepsApplied: 2,
    finishedAt: "2026-11-26T03:15:02.000Z",
    durationMs: 2000,
  };
  t.deepEqual(done, expectedApplied);
  t.deepEqual(await ledger.list(), [expectedApplied]);
  t.deepEqual(await ledger.get(ID), expectedApplied);
  t.is(await ledger.get("20990101000000_nope"), undefined);

  // The same, seen through a separate connection.
  t.deepEqual(await queryRows(path, "SELECT * FROM migrations"), [
    {
      id: ID,
      file_name: `${ID}.ts`,
      checksum: m.checksum,
      checksum_algorithm: "sha256-lf-nobom",
      parent_hash: `sha256:parent-of-${ID}`,
      result_hash: `sha256:result-of-${ID}`,
      status: "applied",
      steps_applied: 2,
      steps_total: 2,
      error: null,
      failed_step: null,
      started_at: "2026-11-26T03:15:00.000Z",
      finished_at: "2026-11-26T03:15:02.000Z",
      duration_ms: 2000,
      attempts: 1,
      tool_version: "9.9.9-test",
      host: "test-host",
    },
  ]);
  t.deepEqual(await queryRows(path, "SELECT * FROM migration_steps ORDER BY step_index"), [
    {
      migration_id: ID,
      step_index: 0,
      status: "applied",
      statements: JSON.stringify(["ALTER TABLE `Users` ADD COLUMN `age` Nullable(Float64)"]),
      started_at: "2026-11-26T03:15:00.000Z",
      finished_at: "2026-11-26T03:15:01.500Z",
      error: null,
    },
    {
      migration_id: ID,
      step_index: 1,
      status: "applied",
      statements: JSON.stringify(["ALTER TABLE `Users` UPDATE `age` = 0 WHERE `age` IS NULL", "OPTIMIZE TABLE `Users`"]),
      started_at: "2026-11-26T03:15:01.500Z",
      finished_at: "2026-11-26T03:15:01.750Z",
      error: null,
    },
  ]);
  t.deepEqual(await ledger.steps(ID), [
    {
      migrationId: ID,
      index: 0,
      status: "applied",
      statements: ["ALTER TABLE `Users` ADD COLUMN `age` Nullable(Float64)"],
      startedAt: "2026-11-26T03:15:00.000Z",
      finishedAt: "2026-11-26T03:15:01.500Z",
      error: null,
    },
    {
      migrationId: ID,
      index: 1,
      status: "applied",
      statements: ["ALTER TABLE `Users` UPDATE `age` = 0 WHERE `age` IS NULL", "OPTIMIZE TABLE `Users`"],
      startedAt: "2026-11-26T03:15:01.500Z",
      finishedAt: "2026-11-26T03:15:01.750Z",
      error: null,
    },
  ]);
});

test("without options a record names this package's version and this host", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const ledger = await openLedger(join(dir, "ledger.sqlite"));
  t.teardown(() => ledger.close());
  const pkg = JSON.parse(await readFile(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8")) as { version: string };
  const record = await ledger.begin(sampleMigration(ID, 0));
  t.is(record.toolVersion, pkg.version);
  t.is(record.host, hostname());
  t.true(Math.abs(Date.parse(record.startedAt) - Date.now()) < 60_000);
});

test("list() orders by id, i.e. by the timestamp prefix, not by insertion", async (t) => {
  const { ledger } = await fresh(t);
  for (const id of ["20261126031500_b", "20250101000000_a", "20270101000000_c"]) {
    await ledger.begin(sampleMigration(id, 0));
    await ledger.complete(id);
  }
  t.deepEqual(
    (await ledger.list()).map((r) => r.id),
    ["20250101000000_a", "20261126031500_b", "20270101000000_c"],
  );
});

test("a failed step is recorded; a resumed run starts at it and clears the error on completion", async (t) => {
  const clock = manualClock("2026-11-26T03:15:00.000Z");
  const { path, ledger, open } = await fresh(t, { now: clock.now });
  const m = sampleMigration(ID, 3);
  await ledger.begin(m);
  clock.advance(100);
  await ledger.stepDone(ID, 0, ["CREATE TABLE a (x Int8) ENGINE = Memory"]);
  clock.advance(100);
  const failed = await ledger.stepFailed(ID, 1, "Code: 44. DB::Exception: Cannot add column `age`", ["ALTER TABLE a ADD COLUMN age Int8"]);
  t.like(failed, {
    status: "partially_applied",
    stepsApplied: 1,
    error: "Code: 44. DB::Exception: Cannot add column `age`",
    failedStep: 1,
    finishedAt: "2026-11-26T03:15:00.200Z",
    durationMs: 200,
    attempts: 1,
  });
  t.deepEqual(await queryRows(path, "SELECT step_index, status, statements, error FROM migration_steps ORDER BY step_index"), [
    { step_index: 0, status: "applied", statements: '["CREATE TABLE a (x Int8) ENGINE = Memory"]', error: null },
    { step_index: 1, status: "failed", statements: '["ALTER TABLE a ADD COLUMN age Int8"]', error: "Code: 44. DB::Exception: Cannot add column `age`" },
  ]);
  t.deepEqual(
    await queryRows(path, "SELECT status, steps_applied, error, failed_step FROM migrations"),
    [{ status: "partially_applied", steps_applied: 1, error: "Code: 44. DB::Exception: Cannot add column `age`", failed_step: 1 }],
  );

  // Another process (another ledger connection, another host) resumes it.
  await ledger.close();
  clock.advance(60_000);
  const other = await open({ host: "other-host", toolVersion: "9.9.10-test" });
  const resumed = await other.begin(m);
  t.like(resumed, {
    status: "running",
    stepsApplied: 1,
    error: "Code: 44. DB::Exception: Cannot add column `age`",
    failedStep: 1,
    startedAt: "2026-11-26T03:16:00.200Z",
    finishedAt: null,
    durationMs: null,
    attempts: 2,
    host: "other-host",
    toolVersion: "9.9.10-test",
  });
  t.deepEqual(await other.stepsDone(ID), [0]);

  clock.advance(100);
  await other.stepDone(ID, 1, ["ALTER TABLE a ADD COLUMN age Int16"]);
  t.like(await other.get(ID), { status: "running", stepsApplied: 2, error: "Code: 44. DB::Exception: Cannot add column `age`", failedStep: 1 });
  clock.advance(100);
  await other.stepDone(ID, 2, []);
  clock.advance(100);
  const completed = await other.complete(ID);
  t.like(completed, { status: "applied", stepsApplied: 3, error: null, failedStep: null, durationMs: 300, attempts: 2 });
  t.deepEqual(await queryRows(path, "SELECT step_index, status, statements, error FROM migration_steps ORDER BY step_index"), [
    { step_index: 0, status: "applied", statements: '["CREATE TABLE a (x Int8) ENGINE = Memory"]', error: null },
    { step_index: 1, status: "applied", statements: '["ALTER TABLE a ADD COLUMN age Int16"]', error: null },
    { step_index: 2, status: "applied", statements: "[]", error: null },
  ]);
  t.deepEqual(await queryRows(path, "SELECT status, error, failed_step FROM migrations"), [{ status: "applied", error: null, failed_step: null }]);
});

test("a failure before any step applied leaves status failed", async (t) => {
  const { ledger } = await fresh(t);
  await ledger.begin(sampleMigration(ID, 2));
  const failed = await ledger.stepFailed(ID, 0, "connection refused");
  t.like(failed, { status: "failed", stepsApplied: 0, failedStep: 0, error: "connection refused" });
  t.deepEqual(await ledger.stepsDone(ID), []);
  t.like((await ledger.steps(ID))[0], { index: 0, status: "failed", statements: [], error: "connection refused" });
});

test("stepStarted marks the step in flight; a run left running is resumed only on request", async (t) => {
  const { ledger, open } = await fresh(t);
  const m = sampleMigration(ID, 2);
  await ledger.begin(m);
  await ledger.stepDone(ID, 0, ["a"]);
  await ledger.stepStarted(ID, 1, ["b"]);
  t.like((await ledger.steps(ID))[1], { status: "running", statements: ["b"], finishedAt: null });
  await ledger.close(); // the deploy process dies here

  const next = await open();
  const error = await refusal(t, next.begin(m));
  t.true(error instanceof RefusedError);
  t.is(error.code, "LEDGER_MIGRATION_RUNNING");
  t.regex(error.message, /1 of 2 steps applied/);

  const resumed = await next.begin(m, { resumeRunning: true });
  t.like(resumed, { status: "running", attempts: 2, stepsApplied: 1 });
  t.deepEqual(await next.stepsDone(ID), [0]);
  await next.stepDone(ID, 1, ["b"]);
  t.like(await next.complete(ID), { status: "applied" });
});

test("stepDone times a step from its stepStarted or the step before it in this attempt; complete: true finishes in the same write", async (t) => {
  const clock = manualClock("2026-11-26T03:15:00.000Z");
  const { path, ledger } = await fresh(t, { now: clock.now });
  const m = sampleMigration(ID, 3);
  await ledger.begin(m);
  clock.advance(100);
  await ledger.stepDone(ID, 0, ["a"]);
  clock.advance(100);
  await ledger.stepStarted(ID, 1, ["b1", "b2"]);
  clock.advance(100);
  await ledger.stepFailed(ID, 1, "boom");
  clock.advance(1000);
  await ledger.begin(m);
  clock.advance(100);

  // Completing with a step missing is refused, and the step it came with is not recorded either.
  const incomplete = await refusal(t, ledger.stepDone(ID, 1, ["b1", "b2"], { complete: true }));
  t.is(incomplete.code, "LEDGER_STEPS_INCOMPLETE");
  t.regex(incomplete.message, /2 of 3 steps are applied \(missing: 2\)/);
  t.like(await ledger.get(ID), { status: "running", stepsApplied: 1, error: "boom" });
  t.like((await ledger.steps(ID))[1], { status: "failed", finishedAt: "2026-11-26T03:15:00.300Z" });

  await ledger.stepDone(ID, 1, ["b1", "b2"]);
  clock.advance(100);
  await ledger.stepStarted(ID, 2, ["c"]);
  clock.advance(100);
  const done = await ledger.stepDone(ID, 2, ["c"], { complete: true });
  t.like(done, { status: "applied", stepsApplied: 3, error: null, failedStep: null, startedAt: "2026-11-26T03:15:01.300Z", finishedAt: "2026-11-26T03:15:01.600Z", durationMs: 300, attempts: 2 });
  t.deepEqual(await ledger.get(ID), done);
  t.deepEqual(await queryRows(path, "SELECT step_index, status, started_at, finished_at, error FROM migration_steps ORDER BY step_index"), [
    { step_index: 0, status: "applied", started_at: "2026-11-26T03:15:00.000Z", finished_at: "2026-11-26T03:15:00.100Z", error: null },
    // Step 0 finished in the first attempt: step 1 of the second one starts when that attempt does.
    { step_index: 1, status: "applied", started_at: "2026-11-26T03:15:01.300Z", finished_at: "2026-11-26T03:15:01.400Z", error: null },
    { step_index: 2, status: "applied", started_at: "2026-11-26T03:15:01.500Z", finished_at: "2026-11-26T03:15:01.600Z", error: null },
  ]);
});

// ---------------------------------------------------------------- refusals

test("begin refuses a file whose checksum differs from the recorded one (failed or applied)", async (t) => {
  const { ledger } = await fresh(t);
  const original = sampleMigration(ID, 2, "export default migration({ up: [addColumn('Users', 'age')] });\n");
  const edited = sampleMigration(ID, 2, "export default migration({ up: [addColumn('Users', 'age2')] });\n");
  const sameButCrlf = sampleMigration(ID, 2, "\uFEFFexport default migration({ up: [addColumn('Users', 'age')] });\r\n");

  await ledger.begin(original);
  await ledger.stepFailed(ID, 0, "boom");
  const before = await ledger.get(ID);

  const onFailed = await refusal(t, ledger.begin(edited));
  t.true(onFailed instanceof RefusedError);
  t.is(onFailed.code, "LEDGER_CHECKSUM_MISMATCH");
  t.is(onFailed.exit, "refused");
  t.true(onFailed.message.includes(`recorded as failed with checksum sha256-lf-nobom:${original.checksum}`));
  t.true(onFailed.message.includes(`now has checksum sha256-lf-nobom:${edited.checksum}`));
  t.regex(onFailed.hint ?? "", /restore the file/);
  t.deepEqual(await ledger.get(ID), before, "the refused begin changed nothing");

  // Line endings and a BOM are not an edit: this resumes.
  t.like(await ledger.begin(sameButCrlf), { status: "running", attempts: 2 });
  await ledger.stepDone(ID, 0, []);
  await ledger.stepDone(ID, 1, []);
  await ledger.complete(ID);

  const onApplied = await refusal(t, ledger.begin(edited));
  t.is(onApplied.code, "LEDGER_CHECKSUM_MISMATCH");
  t.regex(onApplied.hint ?? "", /applied migration must not be edited/);
  const again = await refusal(t, ledger.begin(original));
  t.is(again.code, "LEDGER_ALREADY_APPLIED");
});

test("begin refuses a resume whose step count changed", async (t) => {
  const { ledger } = await fresh(t);
  await ledger.begin(sampleMigration(ID, 2));
  await ledger.stepFailed(ID, 0, "boom");
  const error = await refusal(t, ledger.begin(sampleMigration(ID, 3)));
  t.is(error.code, "LEDGER_STEPS_MISMATCH");
});

test("step and completion guards", async (t) => {
  const { ledger } = await fresh(t);
  const codeOf = async (p: Promise<unknown>) => (await refusal(t, p)).code;

  t.is(await codeOf(ledger.stepDone("20990101000000_unknown", 0, [])), "LEDGER_UNKNOWN_MIGRATION");
  t.is(await codeOf(ledger.begin({ ...sampleMigration(ID), fileName: "20990101000000_other.ts" })), "LEDGER_INVALID_ARGUMENT");
  t.is(await codeOf(ledger.begin({ ...sampleMigration(ID), stepsTotal: -1 })), "LEDGER_INVALID_ARGUMENT");
  t.is(await codeOf(ledger.begin({ ...sampleMigration(ID), checksum: "" })), "LEDGER_INVALID_ARGUMENT");
  t.deepEqual(await ledger.list(), [], "invalid begins wrote nothing");

  await ledger.begin(sampleMigration(ID, 2));
  t.is(await codeOf(ledger.stepDone(ID, 2, [])), "LEDGER_STEP_OUT_OF_RANGE");
  t.is(await codeOf(ledger.stepDone(ID, -1, [])), "LEDGER_STEP_OUT_OF_RANGE");
  t.is(await codeOf(ledger.stepDone(ID, 0, "SELECT 1" as unknown as string[])), "LEDGER_INVALID_ARGUMENT");
  await ledger.stepDone(ID, 0, []);
  t.is(await codeOf(ledger.stepDone(ID, 0, [])), "LEDGER_STEP_ALREADY_APPLIED");
  t.is(await codeOf(ledger.stepFailed(ID, 0, "late")), "LEDGER_STEP_ALREADY_APPLIED");
  const incomplete = await refusal(t, ledger.complete(ID));
  t.is(incomplete.code, "LEDGER_STEPS_INCOMPLETE");
  t.regex(incomplete.message, /1 of 2 steps are applied \(missing: 1\)/);
  await ledger.stepDone(ID, 1, []);
  await ledger.complete(ID);
  t.is(await codeOf(ledger.stepDone(ID, 1, [])), "LEDGER_NOT_RUNNING");
  t.is(await codeOf(ledger.complete(ID)), "LEDGER_NOT_RUNNING");
  t.is(await codeOf(ledger.discardFailed(ID)), "LEDGER_NOT_DISCARDABLE");

  const invalid = await refusal(t, ledger.acquireLock("", 1000));
  t.true(invalid instanceof InvalidInputError);
  t.is(await codeOf(ledger.acquireLock("me", 0)), "LEDGER_INVALID_ARGUMENT");

  await ledger.close();
  await ledger.close(); // idempotent
  t.is(await codeOf(ledger.list()), "LEDGER_CLOSED");
});

test("discardFailed forgets a failed record so an edited file can run", async (t) => {
  const { path, ledger } = await fresh(t);
  await ledger.begin(sampleMigration(ID, 2, "v1"));
  await ledger.stepDone(ID, 0, ["x"]);
  await ledger.stepFailed(ID, 1, "boom");
  t.like(await ledger.discardFailed(ID), { status: "partially_applied" });
  t.deepEqual(await queryRows(path, "SELECT count(*) AS n FROM migration_steps"), [{ n: 0 }]);
  t.like(await ledger.begin(sampleMigration(ID, 2, "v2")), { status: "running", attempts: 1, stepsApplied: 0, error: null });
});

// ---------------------------------------------------------------- lock

test("a deploy waiting for a held lock learns it from a read: a writer holding SQLite's write lock does not stall it", async (t) => {
  const { path, ledger: holder, open } = await fresh(t, { busyTimeoutMs: 200 });
  const waiter = await open();
  const ownerA = "host-a:101:aaaa";
  t.true((await holder.acquireLock(ownerA, 60_000)).acquired);
  // Another process mid-write (the holder's own ledger write, say): SQLite's write lock is taken.
  const writer = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (error) => (error ? reject(error) : resolve(opened)));
  });
  t.teardown(() => new Promise<void>((resolve) => writer.close(() => resolve())));
  await new Promise<void>((resolve, reject) => writer.exec("BEGIN IMMEDIATE", (error) => (error ? reject(error) : resolve())));
  const polled = await waiter.acquireLock("host-b:202:bbbb", 60_000);
  t.like(polled, { acquired: false, holder: { owner: ownerA } });
  // A free lock has to be written: taking it still waits for the write lock, up to the busy timeout.
  await new Promise<void>((resolve, reject) => writer.exec("ROLLBACK", (error) => (error ? reject(error) : resolve())));
  t.true(await holder.releaseLock(ownerA));
  await new Promise<void>((resolve, reject) => writer.exec("BEGIN IMMEDIATE", (error) => (error ? reject(error) : resolve())));
  t.is((await refusal(t, waiter.acquireLock("host-b:202:bbbb", 60_000))).code, "LEDGER_BUSY");
  await new Promise<void>((resolve, reject) => writer.exec("ROLLBACK", (error) => (error ? reject(error) : resolve())));
  t.like(await waiter.acquireLock("host-b:202:bbbb", 60_000), { acquired: true, holder: { owner: "host-b:202:bbbb" } });
});

test("the migrate lock: holder info, re-entry, renew, expiry takeover, release, forceUnlock", async (t) => {
  const clock = manualClock("2026-11-26T03:15:00.000Z");
  const { path, ledger: a, open } = await fresh(t, { now: clock.now });
  const b = await open(); // a second connection, as a second process would have
  const [ownerA, ownerB] = ["host-a:101:aaaa", "host-b:202:bbbb"];

  t.is(await a.lockHolder(), undefined);
  const first = await a.acquireLock(ownerA, 60_000);
  const heldByA = { owner: ownerA, acquiredAt: "2026-11-26T03:15:00.000Z", expiresAt: "2026-11-26T03:16:00.000Z" };
  t.deepEqual(first, { acquired: true, holder: heldByA });

  clock.advance(10_000);
  t.deepEqual(await b.acquireLock(ownerB, 60_000), { acquired: false, holder: heldByA });
  t.deepEqual(await b.lockHolder(), heldByA);
  t.deepEqual(await queryRows(path, "SELECT * FROM migrate_lock"), [
    { name: "migrate", owner: ownerA, acquired_at: "2026-11-26T03:15:00.000Z", expires_at: "2026-11-26T03:16:00.000Z" },
  ]);

  // The holder may acquire again (same owner); it only moves the expiry.
  t.deepEqual(await a.acquireLock(ownerA, 60_000), { acquired: true, holder: { ...heldByA, expiresAt: "2026-11-26T03:16:10.000Z" } });
  clock.advance(10_000);
  t.deepEqual(await a.renewLock(ownerA, 30_000), { renewed: true, holder: { ...heldByA, expiresAt: "2026-11-26T03:15:50.000Z" } });
  t.false(await b.releaseLock(ownerB), "B cannot release A's lock");
  t.deepEqual(await b.lockHolder(), { ...heldByA, expiresAt: "2026-11-26T03:15:50.000Z" });

  // A's process dies; its lock expires and B takes it over.
  clock.advance(30_000);
  const takeover = await b.acquireLock(ownerB, 60_000);
  const heldByB = { owner: ownerB, acquiredAt: "2026-11-26T03:15:50.000Z", expiresAt: "2026-11-26T03:16:50.000Z" };
  t.deepEqual(takeover, { acquired: true, holder: heldByB, takenOverFrom: { ...heldByA, expiresAt: "2026-11-26T03:15:50.000Z" } });
  t.deepEqual(await a.renewLock(ownerA, 60_000), { renewed: false, holder: heldByB }, "A learns it lost the lock");
  t.false(await a.releaseLock(ownerA));
  t.deepEqual(await a.lockHolder(), heldByB);

  t.true(await b.releaseLock(ownerB));
  t.is(await a.lockHolder(), undefined);
  t.deepEqual(await a.renewLock(ownerA, 1000), { renewed: false, holder: undefined });

  // `moose migrate unlock`
  await b.acquireLock(ownerB, 60_000);
  t.deepEqual(await a.forceUnlock(), { ...heldByB, expiresAt: "2026-11-26T03:16:50.000Z" });
  t.is(await a.forceUnlock(), undefined);
  t.deepEqual(await queryRows(path, "SELECT * FROM migrate_lock"), []);
  t.like(await a.acquireLock(ownerA, 1000), { acquired: true });
});

test("defaultLockOwner names host, pid and a random part", (t) => {
  const owner = defaultLockOwner();
  t.regex(owner, new RegExp(`^.+:${process.pid}:[0-9a-f]{8}$`));
  t.not(owner, defaultLockOwner());
});

test("many acquireLock calls at once from several connections: exactly one wins", async (t) => {
  const { ledger, open } = await fresh(t);
  const ledgers = [ledger, await open(), await open(), await open()];
  const attempts = Array.from({ length: 40 }, (_, i) => ledgers[i % ledgers.length]!.acquireLock(`owner-${i}`, 60_000));
  const results = await Promise.all(attempts);
  const winners = results.filter((r) => r.acquired);
  t.is(winners.length, 1);
  const winner = winners[0]!.holder.owner;
  for (const r of results) t.is(r.holder.owner, winner);
});

// ---------------------------------------------------------------- many processes

const WORKER = fileURLToPath(new URL("./helpers/ledger-worker.js", import.meta.url));
const IDS = ["20260101000000_a", "20260102000000_b", "20260103000000_c", "20260104000000_d", "20260105000000_e"];

interface WorkerRun {
  readonly code: number | null;
  readonly output: string;
  readonly report: WorkerReport | undefined;
}

/** Starts `count` workers, waits until every one has opened the ledger, then lets them all go at once. */
async function runWorkers(ledgerPath: string, markerDir: string, count: number, perHold: number): Promise<WorkerRun[]> {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, [WORKER, ledgerPath, markerDir, String(perHold), ...IDS], { stdio: ["pipe", "pipe", "pipe"] }),
  );
  const runs = children.map(
    (child) =>
      new Promise<WorkerRun>((resolve) => {
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.on("close", (code) => {
          const last = output.trim().split("\n").at(-1) ?? "";
          let report: WorkerReport | undefined;
          try {
            report = JSON.parse(last) as WorkerReport;
          } catch {
            report = undefined;
          }
          resolve({ code, output, report });
        });
      }),
  );
  // A worker that dies while opening never says ready; its exit ends the wait too.
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          let seen = "";
          const onData = (chunk: Buffer) => {
            seen += chunk.toString();
            if (seen.includes("ready\n")) resolve();
          };
          child.stdout.on("data", onData);
          child.on("exit", () => resolve());
        }),
    ),
  );
  for (const child of children) child.stdin.end("go\n");
  return Promise.all(runs);
}

function checkRuns(t: import("ava").ExecutionContext, runs: readonly WorkerRun[]) {
  for (const run of runs) {
    t.is(run.code, 0, run.output);
    t.notRegex(run.output, /SQLITE_BUSY|LEDGER_BUSY|database is locked/);
    t.is(run.report?.error, undefined);
    t.is(run.report?.overlaps, 0, "a worker found another inside the lock");
  }
  // Every hold, of every process, on one timeline: each must end before the next begins.
  const holds = runs
    .flatMap((run) => (run.report?.holds ?? []).map((h) => ({ ...h, pid: run.report?.pid })))
    .sort((x, y) => x.acquiredAt - y.acquiredAt || x.releasedAt - y.releasedAt);
  for (let i = 1; i < holds.length; i++) {
    const previous = holds[i - 1]!;
    const current = holds[i]!;
    t.true(current.acquiredAt >= previous.releasedAt, `pid ${current.pid} acquired at ${current.acquiredAt} while pid ${previous.pid} held the lock until ${previous.releasedAt}`);
  }
  return holds;
}

async function checkLedger(t: import("ava").ExecutionContext, path: string) {
  t.deepEqual(await queryRows(path, "SELECT id, status, steps_applied, attempts, error FROM migrations ORDER BY id"), IDS.map((id) => ({ id, status: "applied", steps_applied: 2, attempts: 1, error: null })));
  t.deepEqual(await queryRows(path, "SELECT migration_id, count(*) AS n FROM migration_steps WHERE status = 'applied' GROUP BY migration_id ORDER BY migration_id"), IDS.map((id) => ({ migration_id: id, n: 2 })));
  t.deepEqual(await queryRows(path, "SELECT * FROM migrate_lock"), [], "the last holder released the lock");
  t.deepEqual(await queryRows(path, "SELECT version FROM ledger_schema"), [{ version: 1 }, { version: 2 }], "the schema was created once");
}

test("20 processes deploying at once on a new ledger: each migration applied exactly once, one lock holder at a time", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const path = join(dir, "concurrent", "ledger.sqlite");
  const runs = await runWorkers(path, dir, 20, 0);
  const holds = checkRuns(t, runs);
  t.is(holds.length, 20, "every process held the lock once");
  const applied = holds.flatMap((h) => h.applied);
  t.deepEqual([...applied].sort(), IDS, "each migration applied by exactly one process");
  await checkLedger(t, path);
  t.log(`lock attempts: ${runs.reduce((n, r) => n + (r.report?.lockAttempts ?? 0), 0)}`);
});

test("20 processes each applying one migration per lock hold: handed over cleanly, each applied exactly once", async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const path = join(dir, "ledger.sqlite");
  // An existing ledger this time, so the workers do not also race to create the schema.
  await (await openLedger(path)).close();
  const runs = await runWorkers(path, dir, 20, 1);
  const holds = checkRuns(t, runs);
  const applied = holds.flatMap((h) => h.applied);
  t.deepEqual([...applied].sort(), IDS, "each migration applied by exactly one process");
  await checkLedger(t, path);
  t.log(`holds: ${holds.length}, applying processes: ${new Set(holds.filter((h) => h.applied.length > 0).map((h) => h.pid)).size}`);
});

test("a lock held by a process of this host that is gone is taken over at once, naming it; another host's waits for its expiry", async (t) => {
  const { hostname } = await import("node:os");
  const { ledger } = await fresh(t, { host: hostname() });
  // A pid far above any this machine hands out: no such process.
  const dead = `${hostname()}:4194303:killed`;
  t.true((await ledger.acquireLock(dead, 3_600_000)).acquired);
  const taken = await ledger.acquireLock(`${hostname()}:${process.pid}:next`, 60_000);
  t.true(taken.acquired);
  t.is(taken.acquired && taken.takenOverFrom?.owner, dead);
  t.true(await ledger.releaseLock(`${hostname()}:${process.pid}:next`));
  t.true((await ledger.acquireLock("other-host:4194303:x", 3_600_000)).acquired);
  t.false((await ledger.acquireLock(`${hostname()}:${process.pid}:next`, 60_000)).acquired, "another host's pid says nothing here");
});
