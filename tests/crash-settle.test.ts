import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { MooseError } from "../lib/errors.js";
import { effectsForSteps, effectText, executeStep } from "../lib/migrations/apply/execute.js";
import { replayMigrations } from "../lib/migrations/files/sequence.js";
import { hashInfraMap } from "../lib/model/infra-map.js";
import { embeddedProjects, EvolveProject, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";
import { executable } from "../lib/migrations/apply/execute.js";

/**
 * A deploy that died mid-step, reproduced exactly: the ledger says what a killed run
 * leaves (the migration `running`, the step marked started, sometimes its statement
 * already run), and its lock is gone. A plain `deploy` then settles that step from the
 * live database — recorded as done, run again, or refused with the way forward — and
 * nothing runs twice. Embedded ClickHouse and a real SQLite ledger.
 */

const projects = embeddedProjects("crash");

const USERS = table("Users", [
  ["id", "String"],
  ["name", "String"],
]);

async function project(): Promise<EvolveProject> {
  const p = await projects.open();
  const olap = p.olap;
  p.generate(infra({ tables: [USERS] }), undefined, {}, "create");
  const report = await p.deploy();
  if (!report.ok) throw new Error(JSON.stringify(report.migrations));
  await olap.execute("INSERT INTO Users VALUES ('u1', 'Ada'), ('u2', 'Bob')");
  return p;
}

/**
 * What a run killed during step `index` of the newest migration leaves: the earlier steps
 * recorded, step `index` marked started, and (when `ran`) its statements executed.
 */
async function killedAt(p: EvolveProject, index: number, ran: boolean): Promise<string> {
  const replay = replayMigrations(p.files());
  const m = replay.migrations.at(-1)!;
  const id = m.file.id;
  const steps = executable(m);
  const effects = await effectsForSteps(steps, { database: p.olap.database, capabilities: await p.olap.capabilities(), state: m.before, run: { migrationId: id, direction: "up" } }, false);
  await p.ledger.begin({ id, fileName: m.file.fileName, checksum: m.file.checksum, checksumAlgorithm: m.file.checksumAlgorithm, parentHash: m.file.parent, resultHash: m.file.result, stepsTotal: steps.length });
  for (let i = 0; i < index; i++) {
    await executeStep(effects[i]!, { olap: p.olap });
    await p.ledger.stepDone(id, i, effects[i]!.map(effectText));
  }
  await p.ledger.stepStarted(id, index, effects[index]!.map(effectText));
  if (ran) await executeStep(effects[index]!, { olap: p.olap });
  // The killed process held no lock any more (same host, its process gone: taken over at once).
  return id;
}

async function refusal(t: ExecutionContext, work: Promise<unknown>): Promise<MooseError> {
  const error = await t.throwsAsync(work);
  if (!(error instanceof MooseError)) throw new Error(`not a MooseError: ${String(error)}`);
  return error;
}

/** Writes a hand-written migration (no model change) with the given steps. */
function handWritten(p: EvolveProject, slug: string, up: string): void {
  const hash = hashInfraMap(p.state());
  const id = `20991231${String(p.files().length).padStart(6, "0")}_${slug}`;
  writeFileSync(
    join(p.migrationsDir, `${id}.ts`),
    `import { migration, sql, check } from "moose-migrate/migration";\nexport default migration({\n  parent: "${hash}",\n  result: "${hash}",\n  up: [${up}],\n  down: null,\n});\n`,
  );
}

test("killed after a DDL step ran but before it was recorded: plain deploy records it as done and runs the rest once", async (t) => {
  const p = await project();
  p.generate(infra({ tables: [{ ...USERS, columns: [...USERS.columns, { name: "age", type: "Nullable(Int64)" }, { name: "city", type: "Nullable(String)" }] }] }), undefined, {}, "two");
  const id = await killedAt(p, 0, true);
  t.is((await p.ledger.get(id))?.status, "running");
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.deepEqual(report.migrations.at(-1), { id, status: "applied", stepsRun: 1, resumedFrom: 1 }, "step 1 settled as done, only step 2 ran");
  t.deepEqual(await p.drift(), []);
  t.is((await p.ledger.get(id))?.attempts, 2);
});

test("killed after a DDL step was marked started but before it ran: plain deploy runs it", async (t) => {
  const p = await project();
  p.generate(infra({ tables: [{ ...USERS, columns: [...USERS.columns, { name: "age", type: "Nullable(Int64)" }] }] }), undefined, {}, "age");
  const id = await killedAt(p, 0, false);
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.deepEqual(report.migrations.at(-1), { id, status: "applied", stepsRun: 1, resumedFrom: 0 });
  t.deepEqual(await p.drift(), []);
});

test("killed in a DDL step that left the table neither before nor after: STEP_INTERRUPTED with the differences, nothing more runs", async (t) => {
  const p = await project();
  p.generate(infra({ tables: [{ ...USERS, columns: [...USERS.columns, { name: "age", type: "Nullable(Int64)" }] }] }), undefined, {}, "age");
  await killedAt(p, 0, false);
  await p.olap.execute("ALTER TABLE Users ADD COLUMN age String");
  const error = await refusal(t, p.deploy());
  t.is(error.code, "STEP_INTERRUPTED");
  t.regex(error.message, /step 1 of \d{14}_age was interrupted, and the live database is neither as before it nor as after it/);
  t.true(error.details.some((d) => /age/.test(d)), error.details.join("\n"));
});

test("killed in a hand-written INSERT: plain deploy refuses STEP_UNCERTAIN naming the way forward; the row is never inserted twice", async (t) => {
  const p = await project();
  handWritten(p, "seed", "sql(\"INSERT INTO Users VALUES ('u3', 'Cy')\")");
  const id = await killedAt(p, 0, true);
  const error = await refusal(t, p.deploy());
  t.is(error.code, "STEP_UNCERTAIN");
  t.regex(error.hint ?? "", /moose migrate resolve --applied/);
  t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 3, "the INSERT ran once");
  t.is((await p.ledger.get(id))?.status, "running", "nothing recorded");
});

test("killed in a hand-written INSERT before it started: plain deploy runs it once", async (t) => {
  const p = await project();
  handWritten(p, "seed", "sql(\"INSERT INTO Users VALUES ('u3', 'Cy')\"), sql(\"INSERT INTO Users VALUES ('u4', 'Di')\")");
  const replay = replayMigrations(p.files());
  const m = replay.migrations.at(-1)!;
  // Killed between begin and the first step's start mark.
  await p.ledger.begin({ id: m.file.id, fileName: m.file.fileName, checksum: m.file.checksum, checksumAlgorithm: m.file.checksumAlgorithm, parentHash: m.file.parent, resultHash: m.file.result, stepsTotal: 2 });
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 4);
});

test("killed in a step that only reads: plain deploy runs it again and finishes", async (t) => {
  const p = await project();
  handWritten(p, "checks", "check(\"SELECT id FROM Users WHERE id = ''\"), sql(\"SELECT count() FROM Users\"), sql(\"INSERT INTO Users VALUES ('u3', 'Cy')\")");
  await killedAt(p, 1, true);
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.is((await fingerprint(p.olap, "Users", ["id"])).rows, 3);
});

test("lost state is noticed: with nothing pending, deploy refuses STATE_LOST when applied objects are gone, never 'up to date'", async (t) => {
  const p = await project();
  const { deploy } = await import("../lib/migrations/apply/deploy.js");
  const run = () => deploy(p.files(), p.ledger, async () => ({ olap: p.olap, close: async () => {} }), { verifyUpToDate: true });
  t.true((await run()).ok, "up to date while the table is there");
  await p.olap.execute("DROP TABLE Users");
  const error = await refusal(t, run());
  t.is(error.code, "STATE_LOST");
  t.deepEqual(error.details, ["table Users is missing from the database"]);
  t.regex(error.hint ?? "", /restore it from a backup/);
});

// A SqlResource's setup is raw DDL: the objects it creates tell before from after.
const RESOURCE = {
  name: "Recent",
  setup: ["CREATE TABLE recent_ids (id String) ENGINE = MergeTree ORDER BY id", "CREATE VIEW recent_names AS SELECT name FROM Users"],
  teardown: ["DROP TABLE recent_names", "DROP TABLE recent_ids"],
  pullsDataFrom: ["Users"],
  pushesDataTo: [],
};

test("killed after a SqlResource's setup ran: plain deploy records it as done (its objects exist), nothing runs twice", async (t) => {
  const p = await project();
  p.generate({ ...infra({ tables: [USERS] }), sqlResources: { Recent: RESOURCE } }, undefined, {}, "recent");
  const id = await killedAt(p, 0, true);
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.deepEqual(report.migrations.at(-1), { id, status: "applied", stepsRun: 0, resumedFrom: 1 });
  t.deepEqual(await p.drift(), []);
});

test("killed before a SqlResource's setup ran: plain deploy runs it", async (t) => {
  const p = await project();
  p.generate({ ...infra({ tables: [USERS] }), sqlResources: { Recent: RESOURCE } }, undefined, {}, "recent");
  const id = await killedAt(p, 0, false);
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.deepEqual(report.migrations.at(-1), { id, status: "applied", stepsRun: 1, resumedFrom: 0 });
  t.deepEqual(await p.olap.query("SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name IN ('recent_ids', 'recent_names')"), [{ n: "2" }]);
});

test("killed half-way through a SqlResource's setup: STEP_INTERRUPTED saying what exists, nothing more runs", async (t) => {
  const p = await project();
  p.generate({ ...infra({ tables: [USERS] }), sqlResources: { Recent: RESOURCE } }, undefined, {}, "recent");
  await killedAt(p, 0, false);
  await p.olap.execute(RESOURCE.setup[0]!);
  const error = await refusal(t, p.deploy());
  t.is(error.code, "STEP_INTERRUPTED");
  t.deepEqual(error.details, ["1 of the 2 objects its setup creates exist"]);
});
