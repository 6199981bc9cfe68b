import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Task, Workflow as DeclaredWorkflow } from "../lib/dsl/workflow.js";
import { cronMatches, nextFiring, scheduleTimer } from "../lib/engines/workflow/cron.js";
import { EmbeddedWorkflowEngine, type WorkflowRun } from "../lib/engines/workflow/embedded.js";
import { MooseError } from "../lib/errors.js";
import type { Workflow } from "../lib/model/infra-map.js";
import { tempDir } from "./helpers/cli.js";

/**
 * The embedded workflow engine on its own: the app's Task/Workflow objects run with
 * moose-lib's semantics (onComplete chains with the result as input, task and workflow
 * retries, timeouts, cancel with onCancel), schedules are applied from workflow.*
 * changes, fire, pause, and survive a new engine on the same state file.
 */

function engine(lines: string[] = [], file = join(tempDir("wf"), "workflows.json")): EmbeddedWorkflowEngine {
  return new EmbeddedWorkflowEngine({ stateFile: file, projectDir: "/nowhere", log: (l) => lines.push(l), retryDelayMs: 5, tickMs: 20 });
}

function attach(e: EmbeddedWorkflowEngine, ...workflows: DeclaredWorkflow[]): void {
  const byName = Object.fromEntries(workflows.map((w) => [w.name, w]));
  e.attach(() => byName);
}

async function runToEnd(e: EmbeddedWorkflowEngine, name: string, input?: unknown): Promise<WorkflowRun> {
  const started = e.start(name, input);
  if (started.status !== "running") throw new Error(`a run starts as running, got ${started.status}`);
  return (await e.settled(started.id))!;
}

const wf = (fields: Partial<Workflow> & { name: string }): Workflow => ({ retries: 0, paused: false, ...fields });

test("a run goes through onComplete tasks, each getting the previous result (dates revived), and records every result", async (t) => {
  const seen: unknown[] = [];
  const last = new Task<{ n: number; at: Date }, void>("last", {
    run: async ({ input }) => {
      seen.push(["last", input.n, input.at instanceof Date ? input.at.toISOString() : typeof input.at]);
    },
  });
  const second = new Task<number, { n: number; at: Date }>("second", {
    run: async ({ input }) => ({ n: input * 2, at: new Date("2026-01-02T03:04:05.000Z") }),
    onComplete: [last],
  });
  const first = new Task<null, number>("first", {
    run: async ({ input, state }) => {
      seen.push(["first", input, typeof state]);
      return 21;
    },
    onComplete: [second],
  });
  const e = engine();
  t.teardown(() => e.close());
  attach(e, new DeclaredWorkflow("chain", { startingTask: first }));
  const run = await runToEnd(e, "chain", { day: 14 });
  t.is(run.status, "completed");
  t.deepEqual(run.results, [21, { n: 42, at: "2026-01-02T03:04:05.000Z" }, null]);
  t.deepEqual(seen, [
    ["first", { day: 14 }, "object"],
    ["last", 42, "2026-01-02T03:04:05.000Z"],
  ]);
  t.deepEqual(run.tasks.map((x) => [x.name, x.status, x.attempts]), [
    ["first", "completed", 1],
    ["second", "completed", 1],
    ["last", "completed", 1],
  ]);
  // No input given: the starting task gets {} (as moose-lib passes it).
  let given: unknown;
  attach(e, new DeclaredWorkflow("noInput", { startingTask: new Task<null, void>("only", { run: async ({ input }) => void (given = input) }) }));
  await runToEnd(e, "noInput");
  t.deepEqual(given, {});
});

test("a failing task is retried `retries` times with backoff; out of retries the run fails with the error, and the workflow is retried as a whole", async (t) => {
  let calls = 0;
  const flaky = new Task<null, string>("flaky", {
    run: async () => {
      calls++;
      if (calls < 3) throw new Error(`attempt ${calls} failed`);
      return "ok";
    },
    retries: 2,
  });
  const lines: string[] = [];
  const e = engine(lines);
  t.teardown(() => e.close());
  attach(e, new DeclaredWorkflow("flaky", { startingTask: flaky, retries: 0 }));
  const ok = await runToEnd(e, "flaky");
  t.is(ok.status, "completed");
  t.is(ok.tasks[0]!.attempts, 3);
  // The failure names the .ts position of the task's throw (source maps are on, as in dev).
  t.true(lines.some((l) => /^✗ workflow flaky task flaky attempt 1\/3 failed: \/\S+\/workflow-embedded\.test\.ts:\d+:\d+: Error: attempt 1 failed$/.test(l)), lines.join("\n"));

  let tries = 0;
  const broken = new Task<null, void>("broken", {
    run: async () => {
      tries++;
      throw new TypeError("no such row");
    },
    retries: 1,
  });
  attach(e, new DeclaredWorkflow("broken", { startingTask: broken, retries: 1 }));
  const failed = await runToEnd(e, "broken");
  t.is(failed.status, "failed");
  // 2 workflow attempts × 2 task attempts.
  t.is(tries, 4);
  t.is(failed.attempts, 2);
  t.regex(failed.error!, /^task broken failed after 2 attempts: \/\S+\/workflow-embedded\.test\.ts:\d+:\d+: TypeError: no such row$/);
  t.deepEqual(failed.tasks.map((x) => [x.name, x.status, x.attempts]), [
    ["broken", "failed", 2],
    ["broken", "failed", 2],
  ]);
});

test("a task over its timeout times out (and is retried); a workflow over its timeout ends timed_out", async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  let slowCalls = 0;
  const slow = new Task<null, void>("slow", {
    run: async () => {
      slowCalls++;
      await new Promise((r) => setTimeout(r, 300));
    },
    timeout: "50ms",
    retries: 1,
  });
  attach(e, new DeclaredWorkflow("slowTask", { startingTask: slow, retries: 0 }));
  const run = await runToEnd(e, "slowTask");
  t.is(run.status, "failed");
  t.is(slowCalls, 2);
  t.deepEqual([run.tasks[0]!.status, run.tasks[0]!.error], ["timed_out", 'task "slow" timed out after 50ms']);

  const long = new Task<null, void>("long", { run: () => new Promise((r) => setTimeout(r, 500)), timeout: "never" });
  attach(e, new DeclaredWorkflow("slowWorkflow", { startingTask: long, timeout: "80ms", retries: 0 }));
  const timedOut = await runToEnd(e, "slowWorkflow");
  t.is(timedOut.status, "timed_out");
  t.is(timedOut.error, 'workflow "slowWorkflow" timed out after 80ms');
});

test("cancel stops a running run and calls the task's onCancel; terminate does not; a second cancel says nothing runs", async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const cancelled: unknown[] = [];
  const wait = new Task<null, void>("wait", {
    run: () => new Promise((r) => setTimeout(r, 10_000).unref()),
    onCancel: async ({ input }) => void cancelled.push(input),
  });
  attach(e, new DeclaredWorkflow("waiting", { startingTask: wait }));
  const started = e.start("waiting", { job: 1 });
  await new Promise((r) => setTimeout(r, 50));
  const [stopped] = await e.stop("waiting", "cancel");
  t.is(stopped!.status, "cancelled");
  t.deepEqual(cancelled, [{ job: 1 }]);
  t.is(e.status("waiting").id, started.id);
  await t.throwsAsync(e.stop("waiting", "cancel"), { instanceOf: MooseError, message: 'workflow "waiting" has no running run to cancel' });

  e.start("waiting");
  await new Promise((r) => setTimeout(r, 50));
  const [terminated] = await e.stop("waiting", "terminate");
  t.is(terminated!.status, "terminated");
  t.is(cancelled.length, 1);
});

test("unknown workflows and tasks are errors with a suggestion; resume starts at the named task", async (t) => {
  const e = engine();
  t.teardown(() => e.close());
  const order: string[] = [];
  const b = new Task<null, void>("load", { run: async () => void order.push("load") });
  const a = new Task<null, null>("extract", { run: async () => (order.push("extract"), null), onComplete: [b] });
  attach(e, new DeclaredWorkflow("etl", { startingTask: a }));
  const missing = t.throws(() => e.start("elt"), { instanceOf: MooseError });
  t.is(missing!.message, 'no workflow "elt" in the app (did you mean "etl"?)');
  t.is((missing as MooseError).code, "WORKFLOW_NOT_FOUND");
  const task = t.throws(() => e.start("etl", undefined, { from: "lod" }), { instanceOf: MooseError });
  t.is(task!.message, 'workflow "etl" has no task "lod" (did you mean "load"?)');
  const resumed = await e.settled(e.start("etl", undefined, { from: "load" }).id);
  t.is(resumed!.trigger, "resume");
  t.deepEqual(order, ["load"]);
  t.deepEqual(e.history({ limit: 5 }).map((r) => [r.workflow, r.status]), [["etl", "completed"]]);
});

test("schedules: workflow.* changes create, update and drop them; a due schedule starts runs; paused ones do not; all survive a new engine", async (t) => {
  const file = join(tempDir("wf"), "workflows.json");
  const lines: string[] = [];
  const e = engine(lines, file);
  let runs = 0;
  attach(e, new DeclaredWorkflow("tick", { startingTask: new Task<null, void>("count", { run: async () => void runs++ }) }));
  const every = wf({ name: "tick", schedule: "@every 100ms" });
  await e.apply({ kind: "workflow.create", workflow: every });
  // Re-applying the same create (a migration re-run after a crash) is adopted; different settings are refused.
  await e.apply({ kind: "workflow.create", workflow: every });
  await t.throwsAsync(e.apply({ kind: "workflow.create", workflow: { ...every, retries: 2 } }), { instanceOf: MooseError, message: /WORKFLOW_SCHEDULE_EXISTS|other settings/ });
  await t.throwsAsync(e.apply({ kind: "workflow.create", workflow: wf({ name: "bad", schedule: "0 25 * * *" }) }), {
    instanceOf: MooseError,
    message: 'workflow "bad": schedule "0 25 * * *" is not a schedule: "25" is outside 0–23 in the hour field',
  });
  await new Promise((r) => setTimeout(r, 700));
  t.true(runs >= 3, `runs: ${runs}`);
  t.true(e.history({ limit: 100 }).every((r) => r.trigger === "schedule"));

  e.setPaused("tick", true);
  await new Promise((r) => setTimeout(r, 150));
  const paused = runs;
  await new Promise((r) => setTimeout(r, 400));
  t.is(runs, paused, "a paused schedule starts nothing");
  t.deepEqual(await e.introspect(), { tick: { ...every, paused: true } });
  t.throws(() => e.setPaused("nothing", true), { message: 'no workflow "nothing" in the app' });

  await e.apply({ kind: "workflow.modify", before: { ...every, paused: true }, after: { ...every, schedule: "0 3 * * *", paused: true } });
  await e.apply({ kind: "workflow.modify", before: wf({ name: "ghost", schedule: "@every 1h" }), after: wf({ name: "ghost", schedule: "@every 2h" }) }).then(
    () => t.fail("modify of a missing schedule"),
    (error: MooseError) => t.is(error.code, "WORKFLOW_SCHEDULE_NOT_FOUND"),
  );
  await e.close();

  // A second engine on the same file: the schedule is there (introspected as applied), and so is the history.
  const again = engine([], file);
  t.teardown(() => again.close());
  t.deepEqual(await again.introspect(), { tick: { ...every, schedule: "0 3 * * *", paused: true } });
  t.true(again.history({ limit: 100 }).length >= 3);
  await again.apply({ kind: "workflow.drop", workflow: every });
  t.deepEqual(await again.introspect(), {});
  // An on-demand workflow has no schedule: create and drop change nothing.
  await again.apply({ kind: "workflow.create", workflow: wf({ name: "onDemand" }) });
  t.deepEqual(await again.introspect(), {});
});

test("a run that was going when the process stopped is recorded as terminated by the next engine", async (t) => {
  const file = join(tempDir("wf"), "workflows.json");
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      schedules: {},
      runs: [{ id: "r1", workflow: "w", trigger: "manual", status: "running", startedAt: "2026-01-01T00:00:00.000Z", attempts: 1, tasks: [{ name: "a", status: "running", attempts: 1, startedAt: "2026-01-01T00:00:00.000Z" }] }],
    }),
  );
  const e = engine([], file);
  t.teardown(() => e.close());
  const [run] = e.history();
  t.like(run, { id: "r1", status: "terminated", error: "moose dev stopped while the run was going" });
  t.is(run!.tasks[0]!.status, "terminated");
  t.like((JSON.parse(readFileSync(file, "utf8")) as { runs: WorkflowRun[] }).runs[0], { status: "terminated" });
  writeFileSync(file, "{ not json");
  t.throws(() => engine([], file), { instanceOf: MooseError, message: /is not readable/ });
});

test("cron schedules: fields, ranges, steps, names, shortcuts, and when they fire next (UTC)", (t) => {
  const next = (schedule: string, after: string) => new Date(nextFiring(scheduleTimer("w", schedule), Date.parse(after))!).toISOString();
  t.is(next("0 3 * * *", "2026-12-03T14:05:00Z"), "2026-12-04T03:00:00.000Z");
  t.is(next("*/15 * * * *", "2026-12-03T14:05:00Z"), "2026-12-03T14:15:00.000Z");
  t.is(next("@hourly", "2026-12-03T14:05:00Z"), "2026-12-03T15:00:00.000Z");
  t.is(next("@daily", "2026-12-03T14:05:00Z"), "2026-12-04T00:00:00.000Z");
  t.is(next("30 9 * * MON-FRI", "2026-12-04T10:00:00Z"), "2026-12-07T09:30:00.000Z");
  t.is(next("0 0 29 FEB *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
  t.is(next("0 12 * * 7", "2026-12-03T00:00:00Z"), "2026-12-06T12:00:00.000Z");
  // Both day fields restricted: either day fires (the 1st, or any Friday).
  t.is(next("0 0 1 * 5", "2026-12-02T00:00:00Z"), "2026-12-04T00:00:00.000Z");
  t.is(next("@every 90s", "2026-12-03T14:05:00Z"), "2026-12-03T14:06:30.000Z");
  t.is(nextFiring(scheduleTimer("w", "0 0 31 2 *"), Date.parse("2026-01-01T00:00:00Z")), undefined);
  const timer = scheduleTimer("w", "5,10-12 * * * *");
  if (timer.kind !== "cron") return t.fail();
  t.deepEqual([5, 10, 11, 12, 13].map((m) => cronMatches(timer, new Date(Date.UTC(2026, 0, 1, 0, m)))), [true, true, true, true, false]);
  for (const [schedule, message] of [
    ["* * * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4"],
    ["61 * * * *", '"61" is outside 0–59 in the minute field'],
    ["* * * FOO *", '"FOO" is outside 1–12 in the month field'],
    ["5-1 * * * *", "range 5-1 runs backwards in the minute field"],
    ["*/0 * * * *", "step 0 in the minute field"],
  ]) {
    const error = t.throws(() => scheduleTimer("w", schedule!), { instanceOf: MooseError });
    t.is(error!.message, `workflow "w": schedule "${schedule}" is not a schedule: ${message}`);
    t.is((error as MooseError).code, "WORKFLOW_SCHEDULE_INVALID");
  }
});
