import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { rollback } from "../lib/migrations/apply/rollback.js";
import { deploy } from "../lib/migrations/apply/deploy.js";
import type { Ledger } from "../lib/ledger/ledger.js";
import { effectsForSteps, effectText, executeStep } from "../lib/migrations/apply/execute.js";
import { replayMigrations } from "../lib/migrations/files/sequence.js";
import type { OlapConfig } from "../lib/config/config.js";
import { EvolveProject, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";
import { uniqueDatabase } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { executable } from "../lib/migrations/apply/execute.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * A deploy killed between any two statements of its data steps is finished by the next
 * plain `deploy`, with every row written exactly once. The migration under test holds a
 * DDL step, a column backfill, a hand-written `INSERT … SELECT` into a partitioned table
 * (staged, then moved in partition by partition), a `copyRows` into an empty table and a
 * rebuild (new ORDER BY). For every statement index n, a fresh project runs the migration
 * until statement n — which runs or not, both cases — and "dies" there: the ledger keeps
 * what a killed process leaves (the migration running, the step marked started), the
 * lock is free. Plain `deploy` must then finish it, and the tables must match an
 * uninterrupted run row for row (count and checksum), with no staging tables left, no
 * drift and the migration applied. On embedded ClickHouse 26.7 (MOVE PARTITION) and, with
 * CLICKHOUSE_URL, on the 18.16 server (ATTACH PARTITION + marker). A rollback is killed the
 * same way (its ledger write after the kill never happens) and finished by a plain rollback.
 */

const EVENTS = table(
  "Events",
  [
    ["id", "UInt64"],
    ["day", "Date"],
    ["v", "Int64"],
  ],
  { partitionBy: "toYYYYMM(day)" },
);
const ARCHIVE = table("Archive", [
  ["id", "UInt64"],
  ["day", "Date"],
  ["v", "Int64"],
]);
const WITH_W = { ...EVENTS, columns: [...EVENTS.columns, { name: "w", type: "Nullable(Int64)" }] };

class Killed extends Error {}

/** An engine that dies at statement `at`: before running it, or (`ran`) right after. */
function dyingAt(olap: OlapEngine, at: number, ran: boolean): { engine: OlapEngine; count: () => number } {
  let n = 0;
  const engine: OlapEngine = Object.create(olap) as OlapEngine;
  Object.defineProperty(engine, "execute", {
    value: async (sql: string): Promise<void> => {
      if (n === at && !ran) throw new Killed(`killed before statement ${n}`);
      await olap.execute(sql);
      if (n++ === at) throw new Killed(`killed after statement ${at}`);
    },
  });
  for (const m of ["query", "readOnlyQuery", "capabilities", "version", "introspect", "normalize", "insertJsonRows"] as const) {
    Object.defineProperty(engine, m, { value: (olap[m] as (...a: unknown[]) => unknown).bind(olap) });
  }
  Object.defineProperty(engine, "database", { value: olap.database });
  return { engine, count: () => n };
}

/** A project with Events (30 rows over 3 months) and an empty Archive, and the migration under test written but not deployed. */
async function setUp(open: () => Promise<EvolveProject>): Promise<{ p: EvolveProject; id: string }> {
  const p = await open();
  p.generate(infra({ tables: [EVENTS, ARCHIVE] }), undefined, {}, "create");
  const first = await p.deploy();
  if (!first.ok) throw new Error(JSON.stringify(first.migrations));
  await p.olap.execute("INSERT INTO Events SELECT number, toDate('2026-01-01') + number * 3, toInt64(number) * 10 FROM numbers(30)");
  const g = p.generate(infra({ tables: [WITH_W, { ...ARCHIVE, orderBy: ["day", "id"] }] }), undefined, {}, "data");
  if (!g) throw new Error("nothing generated");
  // The generated steps (add column w, rebuild Archive), with the data steps put after the first.
  p.edit(g.id, /import \{ ([^}]*) \}/, "import { $1, backfillColumn, sql, copyRows }");
  const text = p.read(g.id);
  const rebuild = /\n\s*(rebuildTable\([^\n]*\),)/.exec(text)?.[1];
  if (rebuild === undefined) throw new Error(`no rebuild in ${text}`);
  p.edit(g.id, `\n    ${rebuild}`, "");
  const data = [
    `backfillColumn("Events", "w", { expression: "v * 2" }),`,
    `sql("INSERT INTO Events (id, day, v, w) SELECT id + 1000, day, v, v * 3 FROM Events WHERE id % 2 = 0"),`,
    `copyRows("Events", "Archive", ["id", "day", "v"]),`,
    rebuild,
  ];
  p.edit(g.id, /\n  \],\n/, `\n${data.map((d) => `    ${d}\n`).join("")}  ],\n`);
  return { p, id: g.id };
}

/** Runs the newest migration as the runner does, on `olap`; false when it died. */
async function runUntilKilled(p: EvolveProject, olap: OlapEngine): Promise<boolean> {
  const m = replayMigrations(p.files()).migrations.at(-1)!;
  const id = m.file.id;
  const steps = executable(m);
  const effects = await effectsForSteps(steps, { database: olap.database, capabilities: await olap.capabilities(), state: m.before, run: { migrationId: id, direction: "up" } }, false);
  await p.ledger.begin({ id, fileName: m.file.fileName, checksum: m.file.checksum, checksumAlgorithm: m.file.checksumAlgorithm, parentHash: m.file.parent, resultHash: m.file.result, stepsTotal: steps.length });
  for (let i = 0; i < steps.length; i++) {
    await p.ledger.stepStarted(id, i, effects[i]!.map(effectText));
    try {
      await executeStep(effects[i]!, { olap });
    } catch (error) {
      if (error instanceof Killed) return false;
      throw error;
    }
    await p.ledger.stepDone(id, i, effects[i]!.map(effectText), i === steps.length - 1 ? { complete: true } : {});
  }
  return true;
}

interface Outcome {
  readonly events: { rows: number; checksum: string };
  readonly archive: { rows: number; checksum: string };
}

async function outcome(olap: OlapEngine): Promise<Outcome> {
  return { events: await fingerprint(olap, "Events", ["id", "day", "v", "w"]), archive: await fingerprint(olap, "Archive", ["id", "day", "v"]) };
}

async function leftovers(olap: OlapEngine): Promise<string[]> {
  const rows = await olap.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = currentDatabase() AND (startsWith(name, '_moose_stage_') OR startsWith(name, '_moose_ready_') OR startsWith(name, '_moose_mark_') OR like(name, '%\\\\_\\\\_moose\\\\_%'))`);
  return rows.map((r) => r.name).sort();
}

function suite(name: string, config: (database: string) => OlapConfig | undefined): void {
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async (): Promise<EvolveProject> => {
    const olap = await openOlapEngine(config(uniqueDatabase("crashpt"))!);
    const p = await EvolveProject.open(olap);
    opened.push(p, olap);
    return p;
  };
  test.after.always(async () => {
    for (const o of opened.reverse()) {
      if ("database" in o && (o as OlapEngine).kind === "server") await (o as OlapEngine).execute(`DROP DATABASE IF EXISTS \`${(o as OlapEngine).database}\``).catch(() => undefined);
      await o.close();
    }
  });
  const available = config("probe") !== undefined;
  (available ? test.serial : test.skip)(`${name}: killed before or after any statement of DDL, backfill, staged INSERT, copyRows and rebuild steps, plain deploy finishes with every row exactly once`, async (t: ExecutionContext) => {
    t.timeout(20 * 60_000);
    // The uninterrupted run: what every interrupted one must end as.
    const clean = await setUp(open);
    t.true((await clean.p.deploy()).ok);
    const expected = await outcome(clean.p.olap);
    // The rebuild keeps the previous Archive under a name of its own: that table is part of the result.
    const kept = await leftovers(clean.p.olap);
    t.deepEqual(kept, ["Archive__moose_old_20261126031700"]);
    t.is(expected.events.rows, 45, "30 rows + 15 inserted once");
    t.is(expected.archive.rows, 45, "a copy of Events after the insert");
    let points = 0;
    for (let at = 0; ; at++) {
      let finished = false;
      for (const ran of [false, true]) {
        const { p, id } = await setUp(open);
        const dying = dyingAt(p.olap, at, ran);
        finished = await runUntilKilled(p, dying.engine);
        if (finished) break;
        points++;
        const where = `killed ${ran ? "after" : "before"} statement ${at}`;
        const report = await p.deploy();
        t.true(report.ok, `${where}: ${JSON.stringify(report.migrations)}`);
        t.deepEqual(await outcome(p.olap), expected, where);
        t.deepEqual(await leftovers(p.olap), kept, where);
        t.deepEqual(await p.drift(), [], where);
        t.is((await p.ledger.get(id))?.status, "applied", where);
      }
      if (finished) break;
    }
    t.log(`${points} kill points, each finished by a plain deploy`);
    t.true(points >= 20, `${points} kill points`);
  });

  (available ? test.serial : test.skip)(`${name}: a deploy of several migrations writes the ledger once between two migrations, and killed before or after any statement is finished by a plain deploy`, async (t: ExecutionContext) => {
    t.timeout(20 * 60_000);
    const A = table("A", [["id", "UInt64"]]);
    const A2 = { ...A, columns: [...A.columns, { name: "x", type: "Nullable(String)" }] };
    const B = table("B", [["id", "UInt64"]]);
    /** Three pending single-step migrations: create A, add A.x, create B. */
    const pending = async (): Promise<{ p: EvolveProject; ids: string[] }> => {
      const p = await open();
      const ids = [p.generate(infra({ tables: [A] }), undefined, {}, "a")!.id, p.generate(infra({ tables: [A2] }), undefined, {}, "ax")!.id, p.generate(infra({ tables: [A2, B] }), undefined, {}, "b")!.id];
      return { p, ids };
    };
    const clean = await pending();
    const writes: string[] = [];
    const counted = new Proxy(clean.p.ledger, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...a: unknown[]) => {
          if (["begin", "stepStarted", "stepDone", "complete", "completeAndBegin"].includes(String(prop))) writes.push(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, a);
        };
      },
    }) as Ledger;
    const report = await deploy(clean.p.files(), counted, async () => ({ olap: clean.p.olap, close: async () => {} }));
    t.true(report.ok, JSON.stringify(report.migrations));
    // The first migration begins and marks its step started; after that, one write per migration.
    t.deepEqual(writes, ["begin", "stepStarted", "completeAndBegin", "completeAndBegin", "stepDone"]);
    const expected = (await clean.p.olap.introspect()).tables;
    t.deepEqual(Object.keys(expected).sort(), ["A", "B"]);
    const steps = await Promise.all(clean.ids.map((id) => clean.p.ledger.steps(id)));
    t.deepEqual(steps.map((s) => s.map((x) => x.status)), [["applied"], ["applied"], ["applied"]]);
    let points = 0;
    for (let at = 0; ; at++) {
      let finished = false;
      for (const ran of [false, true]) {
        const { p, ids } = await pending();
        const dying = dyingAt(p.olap, at, ran);
        // A dead process records nothing more: the ledger write after the kill never happens.
        const ledger = new Proxy(p.ledger, {
          get(target, prop) {
            if (prop === "stepFailed") return async () => Promise.reject(new Killed("died"));
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }) as Ledger;
        try {
          finished = (await deploy(p.files(), ledger, async () => ({ olap: dying.engine, close: async () => {} }))).ok;
        } catch (error) {
          if (!(error instanceof Killed)) throw error;
        }
        if (finished) break;
        points++;
        const where = `killed ${ran ? "after" : "before"} statement ${at}`;
        // Where it died, the ledger says which migration's step may have run: the one marked started.
        const running = (await p.ledger.list()).filter((r) => r.status === "running").map((r) => r.id);
        t.deepEqual(running, [ids[at]!], where);
        t.deepEqual((await p.ledger.steps(ids[at]!)).map((s) => s.status), ["running"], where);
        const again = await p.deploy();
        t.true(again.ok, `${where}: ${JSON.stringify(again.migrations)}`);
        t.deepEqual((await p.olap.introspect()).tables, expected, where);
        t.deepEqual(await p.drift(), [], where);
        for (const id of ids) t.is((await p.ledger.get(id))?.status, "applied", `${where}: ${id}`);
      }
      if (finished) break;
    }
    t.is(points, 6, "3 statements, each killed before and after");
  });

  (available ? test.serial : test.skip)(`${name}: a rollback killed before or after any statement (a rebuild back, a dropped column) is finished by a plain rollback`, async (t: ExecutionContext) => {
    t.timeout(20 * 60_000);
    /** The project with both migrations applied and rows in both tables; the rollback target is the first. */
    const deployed = async (): Promise<{ p: EvolveProject; first: string; second: string }> => {
      const p = await open();
      const first = p.generate(infra({ tables: [EVENTS, ARCHIVE] }), undefined, {}, "create")!.id;
      if (!(await p.deploy()).ok) throw new Error("create");
      await p.olap.execute("INSERT INTO Events SELECT number, toDate('2026-01-01') + number * 3, toInt64(number) * 10 FROM numbers(30)");
      const second = p.generate(infra({ tables: [WITH_W, { ...ARCHIVE, orderBy: ["day", "id"] }] }), undefined, {}, "data")!.id;
      if (!(await p.deploy()).ok) throw new Error("data");
      await p.olap.execute("INSERT INTO Archive SELECT id, day, v FROM Events");
      return { p, first, second };
    };
    const clean = await deployed();
    const undone = await clean.p.rollback(clean.first);
    t.true(undone.ok, JSON.stringify(undone.migrations));
    const expected = { events: await fingerprint(clean.p.olap, "Events", ["id", "day", "v"]), archive: await fingerprint(clean.p.olap, "Archive", ["id", "day", "v"]) };
    t.is(expected.archive.rows, 30);
    const shapes = async (olap: OlapEngine) => {
      const live = await olap.introspect();
      return { Events: live.tables["Events"], Archive: live.tables["Archive"], tables: Object.keys(live.tables).sort() };
    };
    const expectedShapes = await shapes(clean.p.olap);
    t.false(expectedShapes.Events!.columns.some((c) => c.name === "w"));
    let points = 0;
    for (let at = 0; ; at++) {
      let finished = false;
      for (const ran of [false, true]) {
        const { p, first, second } = await deployed();
        const dying = dyingAt(p.olap, at, ran);
        // A dead process records nothing more: the ledger write after the kill never happens.
        const ledger = new Proxy(p.ledger, {
          get(target, prop) {
            if (prop === "stepFailed") return async () => Promise.reject(new Killed("died"));
            const value: unknown = Reflect.get(target, prop, target);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }) as Ledger;
        try {
          finished = (await rollback(p.files(), ledger, async () => ({ olap: dying.engine, close: async () => {} }), { acceptDataLoss: true, to: first })).ok;
        } catch (error) {
          if (!(error instanceof Killed)) throw error;
        }
        if (finished) break;
        points++;
        const where = `rollback killed ${ran ? "after" : "before"} statement ${at}`;
        const again = await p.rollback(first);
        t.true(again.ok, `${where}: ${JSON.stringify(again.migrations)}`);
        t.deepEqual({ events: await fingerprint(p.olap, "Events", ["id", "day", "v"]), archive: await fingerprint(p.olap, "Archive", ["id", "day", "v"]) }, expected, where);
        t.deepEqual(await shapes(p.olap), expectedShapes, where);
        t.false((await p.ledger.list()).some((r) => r.id === second && r.status === "applied"), where);
      }
      if (finished) break;
    }
    t.log(`${points} kill points, each finished by a plain rollback`);
    t.true(points >= 6, `${points} kill points`);
  });
}

const embeddedDir = mkdtempSync(join(tmpdir(), "moose-crashpt-"));
test.after.always(() => rmSync(embeddedDir, { recursive: true, force: true }));
suite("embedded", (database) => ({ engine: "embedded", dataDir: embeddedDir, database }));
suite("server", (database) => serverConfigFromEnv(database));
