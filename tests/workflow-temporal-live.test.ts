/**
 * The workflow engine against a real Temporal server, when `TEMPORAL_ADDRESS` names one
 * (e.g. `temporal server start-dev` on localhost:7233); `TEMPORAL_NAMESPACE` defaults to
 * `default`. CI has no Temporal and skips this file, saying so.
 *
 * Every run uses its own schedule id prefix, so runs never see each other's schedules
 * and leftovers of an interrupted run are never introspected by the next.
 */
import { randomBytes } from "node:crypto";
import test from "ava";
import { type WorkflowEngine } from "../lib/engines/workflow/engine.js";
import { MooseError } from "../lib/errors.js";
import type { Workflow } from "../lib/model/infra-map.js";
import { openWorkflowEngine } from "../lib/engines/workflow/open.js";

const address = process.env.TEMPORAL_ADDRESS;
const namespace = process.env.TEMPORAL_NAMESPACE ?? "default";
const live = address ? test.serial : test.serial.skip;
if (!address) console.log("workflow-temporal-live: TEMPORAL_ADDRESS is not set; skipping the real Temporal suite (set it to e.g. localhost:7233 to run it)");

const prefix = `moose-test-${randomBytes(4).toString("hex")}-`;
let engine: WorkflowEngine | undefined;

async function open(): Promise<WorkflowEngine> {
  engine ??= await openWorkflowEngine({ address: address!, namespace, scheduleIdPrefix: prefix, connectTimeoutMs: 10_000, requestTimeoutMs: 20_000 });
  return engine;
}

/** ListSchedules reads the visibility store, which lags writes by up to a few seconds. */
async function introspectUntil(predicate: (found: Record<string, Workflow>) => boolean): Promise<Record<string, Workflow>> {
  const e = await open();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = await e.introspect();
    if (predicate(found) || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const nightly: Workflow = { name: "nightly", schedule: "0 3 * * *", retries: 3, timeout: "1h", paused: false };
const poller: Workflow = { name: "poller", schedule: "@every 15m", retries: 0, paused: true };

test.after.always(async () => {
  if (engine === undefined) return;
  try {
    for (const w of [nightly, poller]) await engine.apply({ kind: "workflow.drop", workflow: w });
  } finally {
    await engine.close();
  }
});

live("real Temporal: create, then introspect gives the declarations back", async (t) => {
  const e = await open();
  await e.apply({ kind: "workflow.create", workflow: nightly });
  await e.apply({ kind: "workflow.create", workflow: poller });
  await e.apply({ kind: "workflow.create", workflow: nightly }); // adopted: identical
  t.deepEqual(await introspectUntil((f) => Object.keys(f).length === 2), { nightly, poller });
});

live("real Temporal: modify cron, retries, timeout and pause", async (t) => {
  const e = await open();
  const changed: Workflow = { ...nightly, schedule: "15 4 * * 1-5", retries: 1, timeout: "30m", paused: true };
  await e.apply({ kind: "workflow.modify", before: nightly, after: changed });
  const resumed: Workflow = { ...poller, paused: false };
  await e.apply({ kind: "workflow.modify", before: poller, after: resumed });
  t.deepEqual(
    await introspectUntil((f) => f.nightly?.schedule === changed.schedule && f.poller?.paused === false),
    { nightly: changed, poller: resumed },
  );
});

live("real Temporal: a differing schedule under the same id is WORKFLOW_SCHEDULE_EXISTS; a bad cron is WORKFLOW_SCHEDULE_INVALID", async (t) => {
  const e = await open();
  const exists = await t.throwsAsync(e.apply({ kind: "workflow.create", workflow: { ...poller, schedule: "@every 1h" } }));
  t.true(exists instanceof MooseError);
  t.is((exists as MooseError).code, "WORKFLOW_SCHEDULE_EXISTS");
  const invalid = await t.throwsAsync(e.apply({ kind: "workflow.create", workflow: { name: "broken", schedule: "0 25 * * *", retries: 0, paused: false } }));
  t.is((invalid as MooseError).code, "WORKFLOW_SCHEDULE_INVALID");
});

live("real Temporal: drop deletes, and dropping again succeeds", async (t) => {
  const e = await open();
  for (const w of [nightly, poller]) {
    await e.apply({ kind: "workflow.drop", workflow: w });
    await e.apply({ kind: "workflow.drop", workflow: w });
  }
  t.deepEqual(await introspectUntil((f) => Object.keys(f).length === 0), {});
});
