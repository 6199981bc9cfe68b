import { createServer, type Server, type Socket } from "node:net";
import test from "ava";
import { Connection, ScheduleClient } from "@temporalio/client";
import { MooseError } from "../lib/errors.js";
import { serverAndEngine, TEST_TIMEOUTS, workflow } from "./helpers/temporal-engine.js";
import { durationMs, memoValues, startTemporalTestServer } from "./helpers/temporal-test-server.js";
import { openWorkflowEngine } from "../lib/engines/workflow/open.js";

const UNREACHABLE_TAIL = "(workflows are enabled in [features]; start Temporal or set workflows = false)";

async function rejection(promise: Promise<unknown>): Promise<MooseError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MooseError) return err;
    throw err;
  }
  throw new Error("expected a rejection");
}

// ---- create -------------------------------------------------------------------------

test("create sends CreateSchedule with the cron, workflow type, task queue, retry policy, run timeout and ownership memo", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  t.deepEqual(
    server.requests.map((r) => r.method),
    ["GetSystemInfo", "DescribeNamespace"],
    "opening checks the server and the namespace, nothing else",
  );
  server.clearRequests();

  await engine.apply({ kind: "workflow.create", workflow: workflow("nightly_rollup", { schedule: "0 3 * * *", retries: 3, timeout: "1h" }) });

  t.deepEqual(server.requests.map((r) => r.method), ["CreateSchedule"]);
  t.is(server.requests[0]?.namespaceHeader, "default");
  const req = server.requestsOf("CreateSchedule")[0]!;
  t.is(req.namespace, "default");
  t.is(req.scheduleId, "moose-nightly_rollup");
  t.truthy(req.requestId, "a request id, so that the server can deduplicate a retried create");
  t.deepEqual(req.schedule.spec.cronString, ["0 3 * * *"]);
  t.is(req.schedule.spec.interval, undefined);
  const start = req.schedule.action.startWorkflow;
  t.is(start.workflowType.name, "nightly_rollup");
  t.deepEqual(start.taskQueue, { name: "moose", kind: "TASK_QUEUE_KIND_NORMAL" });
  t.is(start.retryPolicy.maximumAttempts, 4, "3 retries = 4 attempts (0 would mean unlimited to Temporal)");
  t.is(durationMs(start.workflowRunTimeout), 3_600_000);
  t.is(start.workflowExecutionTimeout, undefined);
  t.deepEqual(memoValues(start.memo), { moose: { schedule: "0 3 * * *", timeout: "1h" } });
  t.deepEqual(memoValues(req.memo), { moose: { managedBy: "moose-migrate", workflow: "nightly_rollup" } });
  t.not(req.schedule.state?.paused, true);
  t.true(server.schedules().has("moose-nightly_rollup"));
});

test("create of a paused @every workflow sends an interval spec and paused state, on the configured task queue", async (t) => {
  const { server, engine } = await serverAndEngine(t, { engine: { taskQueue: "etl" } });
  server.clearRequests();
  await engine.apply({ kind: "workflow.create", workflow: workflow("poller", { schedule: "@every 15m", paused: true }) });

  const req = server.requestsOf("CreateSchedule")[0]!;
  t.is(req.schedule.spec.cronString, undefined);
  t.is(req.schedule.spec.interval.length, 1);
  t.is(durationMs(req.schedule.spec.interval[0].interval), 15 * 60_000);
  t.true(req.schedule.state.paused);
  t.is(req.schedule.action.startWorkflow.taskQueue.name, "etl");
  t.is(req.schedule.action.startWorkflow.retryPolicy.maximumAttempts, 1, "retries 0 = exactly one attempt");
  t.is(req.schedule.action.startWorkflow.workflowRunTimeout, undefined);
});

test("a workflow without a schedule has no Temporal schedule: create, drop and modify send nothing", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  server.clearRequests();
  const onDemand = workflow("backfill", { retries: 2 });
  await engine.apply({ kind: "workflow.create", workflow: onDemand });
  await engine.apply({ kind: "workflow.modify", before: onDemand, after: { ...onDemand, retries: 5 } });
  await engine.apply({ kind: "workflow.drop", workflow: onDemand });
  t.deepEqual(server.requests, []);
});

test("create retries a call the server answered UNAVAILABLE, with the same request id", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  server.failNext("CreateSchedule", 14, "frontend is restarting");
  await engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "*/5 * * * *" }) });
  const creates = server.requestsOf("CreateSchedule");
  t.is(creates.length, 2);
  t.is(creates[0]!.requestId, creates[1]!.requestId);
  t.is(server.schedules().size, 1);
});

// ---- introspect ---------------------------------------------------------------------

test("introspect gives back the declared workflows, pages through ListSchedules and ignores schedules it does not own", async (t) => {
  const { server, engine } = await serverAndEngine(t, { server: { listPageSize: 2 } });
  const declared = {
    nightly: workflow("nightly", { schedule: "0 3 * * *", retries: 3, timeout: "1h" }),
    poller: workflow("poller", { schedule: "@every 90s", timeout: "90m", paused: true }),
    weekdays: workflow("weekdays", { schedule: "30 8 * * 1-5", retries: 1 }),
  };
  for (const w of Object.values(declared)) await engine.apply({ kind: "workflow.create", workflow: w });
  await engine.apply({ kind: "workflow.create", workflow: workflow("on_demand") });

  // Someone else's schedules in the namespace: one with our prefix but no ownership memo, one without.
  const connection = await Connection.connect({ address: server.address, connectTimeout: TEST_TIMEOUTS.connectTimeoutMs });
  t.teardown(() => connection.close());
  const foreign = new ScheduleClient({ connection, namespace: "default" });
  for (const scheduleId of ["moose-handmade", "reports-daily"]) {
    await foreign.create({ scheduleId, spec: { cronExpressions: ["0 1 * * *"] }, action: { type: "startWorkflow", workflowType: "x", taskQueue: "q" } });
  }

  server.clearRequests();
  t.deepEqual(await engine.introspect(), declared);
  t.is(server.requestsOf("ListSchedules").length, 3, "5 schedules in pages of 2");
  t.deepEqual(
    server.requestsOf("DescribeSchedule").map((r) => r.scheduleId),
    ["moose-nightly", "moose-poller", "moose-weekdays"],
    "only owned schedules are described",
  );
  // The server kept no cron text: what came back was read through the action memo.
  t.is(server.schedules().get("moose-nightly")?.schedule.spec.cronString, undefined);
});

test("introspect reports edits made outside moose-migrate as drift", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  await engine.apply({ kind: "workflow.create", workflow: workflow("poller", { schedule: "@every 15m", retries: 2, timeout: "1h" }) });
  const stored = server.schedules().get("moose-poller")!;
  stored.schedule.spec.interval = [{ interval: { seconds: 600 } }];
  stored.schedule.action.startWorkflow.retryPolicy = { maximumAttempts: 0 };
  stored.schedule.action.startWorkflow.workflowRunTimeout = { seconds: 5400 };
  stored.schedule.state.paused = true;
  t.deepEqual(await engine.introspect(), { poller: { name: "poller", schedule: "@every 10m", retries: -1, timeout: "1h30m", paused: true } });
});

// ---- modify -------------------------------------------------------------------------

test("modify of cron, retries and timeout sends one UpdateSchedule and keeps the schedule's paused state and policies", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const before = workflow("nightly", { schedule: "0 3 * * *", retries: 3, timeout: "1h", paused: true });
  await engine.apply({ kind: "workflow.create", workflow: before });
  server.clearRequests();

  const after = { ...before, schedule: "15 4 * * *", retries: 5, timeout: "2h" };
  await engine.apply({ kind: "workflow.modify", before, after });

  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "UpdateSchedule"]);
  const req = server.requestsOf("UpdateSchedule")[0]!;
  t.is(req.scheduleId, "moose-nightly");
  t.deepEqual(req.schedule.spec.cronString, ["15 4 * * *"]);
  t.is(req.schedule.spec.structuredCalendar, undefined, "the old compiled calendar is not sent back alongside the new cron");
  const start = req.schedule.action.startWorkflow;
  t.is(start.workflowType.name, "nightly");
  t.is(start.workflowId, "moose-nightly-workflow", "the workflow id the schedule had is kept");
  t.is(start.retryPolicy.maximumAttempts, 6);
  t.is(durationMs(start.workflowRunTimeout), 2 * 3_600_000);
  t.deepEqual(memoValues(start.memo), { moose: { schedule: "15 4 * * *", timeout: "2h" } });
  t.true(req.schedule.state.paused, "update does not unpause");
  t.is(req.schedule.policies.overlapPolicy, "SCHEDULE_OVERLAP_POLICY_SKIP");
  t.deepEqual(await engine.introspect(), { nightly: after });
});

test("pausing and unpausing send PatchSchedule only; changing both updates then patches", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const running = workflow("w", { schedule: "0 * * * *" });
  await engine.apply({ kind: "workflow.create", workflow: running });

  server.clearRequests();
  const paused = { ...running, paused: true };
  await engine.apply({ kind: "workflow.modify", before: running, after: paused });
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "PatchSchedule"]);
  t.deepEqual(server.requestsOf("PatchSchedule")[0]!.patch, { pause: "paused by moose-migrate" });
  t.deepEqual((await engine.introspect()).w, paused);

  server.clearRequests();
  const resumedDaily = { ...running, schedule: "@daily" };
  await engine.apply({ kind: "workflow.modify", before: paused, after: resumedDaily });
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "UpdateSchedule", "PatchSchedule"]);
  t.deepEqual(server.requestsOf("PatchSchedule")[0]!.patch, { unpause: "unpaused by moose-migrate" });
  t.deepEqual((await engine.introspect()).w, resumedDaily);
});

test("modify that adds a schedule creates it; one that removes it deletes it", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const onDemand = workflow("w", { retries: 1 });
  const scheduled = { ...onDemand, schedule: "@every 1h" };
  server.clearRequests();
  await engine.apply({ kind: "workflow.modify", before: onDemand, after: scheduled });
  t.deepEqual(server.requests.map((r) => r.method), ["CreateSchedule"]);
  t.true(server.schedules().has("moose-w"));

  server.clearRequests();
  await engine.apply({ kind: "workflow.modify", before: scheduled, after: onDemand });
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "DeleteSchedule"]);
  t.is(server.schedules().size, 0);
});

// ---- drop ---------------------------------------------------------------------------

test("drop deletes the schedule; dropping it again succeeds without a DeleteSchedule", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const w = workflow("w", { schedule: "0 0 * * 0" });
  await engine.apply({ kind: "workflow.create", workflow: w });
  server.clearRequests();

  await engine.apply({ kind: "workflow.drop", workflow: w });
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "DeleteSchedule"]);
  t.is(server.requestsOf("DeleteSchedule")[0]!.scheduleId, "moose-w");
  t.is(server.schedules().size, 0);

  server.clearRequests();
  await engine.apply({ kind: "workflow.drop", workflow: w });
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule"], "the schedule is gone: the wanted state holds");
  t.deepEqual(await engine.introspect(), {});
});

// ---- already exists / not found / not ours ------------------------------------------

test("create of a schedule that exists and equals the declaration adopts it; one that differs is WORKFLOW_SCHEDULE_EXISTS", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const w = workflow("nightly", { schedule: "0 3 * * *", retries: 3, timeout: "1h" });
  await engine.apply({ kind: "workflow.create", workflow: w });

  server.clearRequests();
  await engine.apply({ kind: "workflow.create", workflow: w });
  t.deepEqual(server.requests.map((r) => r.method), ["CreateSchedule", "DescribeSchedule"], "ALREADY_EXISTS, then compared and adopted");

  const err = await rejection(engine.apply({ kind: "workflow.create", workflow: { ...w, schedule: "0 4 * * *" } }));
  t.is(err.code, "WORKFLOW_SCHEDULE_EXISTS");
  t.is(err.exit, "failure");
  t.is(
    err.message,
    `cannot create the schedule for workflow "nightly": schedule "moose-nightly" already exists in Temporal namespace "default" at ${server.address} and its settings differ from the declaration`,
  );
  t.regex(err.hint ?? "", /temporal schedule delete --schedule-id moose-nightly/);
  t.deepEqual((await engine.introspect()).nightly, w, "the existing schedule is untouched");
});

test("create over a schedule moose-migrate did not create is WORKFLOW_SCHEDULE_EXISTS; modify and drop of it are refused", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const connection = await Connection.connect({ address: server.address, connectTimeout: TEST_TIMEOUTS.connectTimeoutMs });
  t.teardown(() => connection.close());
  await new ScheduleClient({ connection, namespace: "default" }).create({
    scheduleId: "moose-w",
    spec: { cronExpressions: ["0 3 * * *"] },
    action: { type: "startWorkflow", workflowType: "w", taskQueue: "moose" },
  });
  const w = workflow("w", { schedule: "0 3 * * *" });

  const exists = await rejection(engine.apply({ kind: "workflow.create", workflow: w }));
  t.is(exists.code, "WORKFLOW_SCHEDULE_EXISTS");
  t.regex(exists.message, /schedule "moose-w" already exists .* and moose-migrate did not create it$/);

  server.clearRequests();
  const drop = await rejection(engine.apply({ kind: "workflow.drop", workflow: w }));
  t.is(drop.code, "WORKFLOW_SCHEDULE_NOT_OWNED");
  t.is(drop.exit, "refused");
  const modify = await rejection(engine.apply({ kind: "workflow.modify", before: w, after: { ...w, schedule: "0 4 * * *" } }));
  t.is(modify.code, "WORKFLOW_SCHEDULE_NOT_OWNED");
  t.deepEqual(server.requests.map((r) => r.method), ["DescribeSchedule", "DescribeSchedule"], "nothing was updated or deleted");
  t.true(server.schedules().has("moose-w"));
});

test("modify of a schedule that no longer exists is WORKFLOW_SCHEDULE_NOT_FOUND", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const before = workflow("gone", { schedule: "0 3 * * *" });
  for (const after of [{ ...before, schedule: "0 4 * * *" }, { ...before, paused: true }]) {
    const err = await rejection(engine.apply({ kind: "workflow.modify", before, after }));
    t.is(err.code, "WORKFLOW_SCHEDULE_NOT_FOUND");
    t.is(err.message, `cannot update the schedule for workflow "gone": schedule "moose-gone" does not exist in Temporal namespace "default" at ${server.address}`);
  }
  t.deepEqual(server.requestsOf("UpdateSchedule"), []);
  t.deepEqual(server.requestsOf("PatchSchedule"), []);
});

// ---- invalid input ------------------------------------------------------------------

test("a cron the server rejects is WORKFLOW_SCHEDULE_INVALID; a bad duration fails before any request", async (t) => {
  const { server, engine } = await serverAndEngine(t);
  const bad = await rejection(engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "0 25 * * *" }) }));
  t.is(bad.code, "WORKFLOW_SCHEDULE_INVALID");
  t.is(bad.exit, "invalidInput");
  t.regex(bad.message, /^Temporal rejected schedule "0 25 \* \* \*" of workflow "w": invalid cron string/);

  server.clearRequests();
  const duration = await rejection(engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "@every soon" }) }));
  t.is(duration.code, "WORKFLOW_DURATION_INVALID");
  t.is(duration.message, 'workflow "w": schedule "@every soon": "soon" is not a duration');
  const timeout = await rejection(engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "@hourly", timeout: "an hour" }) }));
  t.is(timeout.code, "WORKFLOW_DURATION_INVALID");
  t.deepEqual(server.requests, []);
});

test("changes for other engines are refused loudly", async (t) => {
  const { engine } = await serverAndEngine(t);
  const err = await rejection(engine.apply({ kind: "topic.drop", topic: { name: "t", partitions: 1, config: {}, columns: [], lifeCycle: "FULLY_MANAGED" } }));
  t.is(err.code, "NOT_A_WORKFLOW_CHANGE");
  t.is(err.message, "topic.drop is not this engine's business: the workflow engine applies workflow.* changes only");
});

// ---- unreachable --------------------------------------------------------------------

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test.serial("a closed port is TEMPORAL_UNAVAILABLE at once, saying where and what to do", async (t) => {
  const port = await closedPort();
  const started = Date.now();
  const err = await rejection(openWorkflowEngine({ address: `127.0.0.1:${port}`, namespace: "default", connectTimeoutMs: 3_000 }));
  const elapsed = Date.now() - started;
  t.is(err.code, "TEMPORAL_UNAVAILABLE");
  t.is(err.exit, "failure");
  t.is(err.message, `Temporal at 127.0.0.1:${port} is unreachable: connect ECONNREFUSED 127.0.0.1:${port} ${UNREACHABLE_TAIL}`);
  t.true(elapsed < 3_000, `refused connections fail without waiting for the connect timeout (took ${elapsed} ms)`);
});

test.serial("a port that accepts but never answers gRPC is TEMPORAL_UNAVAILABLE after the connect timeout", async (t) => {
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        silent.close(() => resolve());
      }),
  );
  const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;

  const started = Date.now();
  const err = await rejection(openWorkflowEngine({ address, namespace: "default", connectTimeoutMs: 1_500 }));
  const elapsed = Date.now() - started;
  t.is(err.code, "TEMPORAL_UNAVAILABLE");
  t.true(err.message.startsWith(`Temporal at ${address} is unreachable: `));
  t.true(err.message.endsWith(UNREACHABLE_TAIL));
  t.true(elapsed >= 1_400 && elapsed < 10_000, `bounded by the connect timeout (took ${elapsed} ms)`);
});

test.serial("a request the server does not answer in time is TEMPORAL_UNAVAILABLE when its deadline passes", async (t) => {
  const { server, engine } = await serverAndEngine(t, { engine: { requestTimeoutMs: 1_500 } });
  server.stallNext("CreateSchedule");
  const started = Date.now();
  const err = await rejection(engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "@hourly" }) }));
  const elapsed = Date.now() - started;
  t.is(err.code, "TEMPORAL_UNAVAILABLE");
  t.regex(err.message, /is unreachable: no answer before the deadline/);
  t.true(elapsed < 10_000, `took ${elapsed} ms`);
});

test.serial("Temporal going away after opening makes the next change TEMPORAL_UNAVAILABLE", async (t) => {
  const { server, engine } = await serverAndEngine(t, { engine: { requestTimeoutMs: 5_000 } });
  await server.close();
  const started = Date.now();
  const err = await rejection(engine.apply({ kind: "workflow.create", workflow: workflow("w", { schedule: "@hourly" }) }));
  t.is(err.code, "TEMPORAL_UNAVAILABLE");
  t.true(err.message.startsWith(`Temporal at ${server.address} is unreachable: `));
  t.true(Date.now() - started < 15_000);
});

test("an unknown namespace is TEMPORAL_NAMESPACE_NOT_FOUND when opening", async (t) => {
  const server = await startTemporalTestServer();
  t.teardown(() => server.close());
  const err = await rejection(openWorkflowEngine({ address: server.address, namespace: "analytics", ...TEST_TIMEOUTS }));
  t.is(err.code, "TEMPORAL_NAMESPACE_NOT_FOUND");
  t.is(err.message, `Temporal namespace "analytics" does not exist at ${server.address}`);
  t.deepEqual(server.requestsOf("DescribeNamespace"), [{ namespace: "analytics" }]);
});

test("a closed engine refuses further work", async (t) => {
  const { engine } = await serverAndEngine(t);
  await engine.close();
  await engine.close();
  t.is((await rejection(engine.introspect())).code, "WORKFLOW_ENGINE_CLOSED");
});

test("the config's default spelling, localhost:<port>, connects (IPv6 and IPv4 are both tried)", async (t) => {
  const server = await startTemporalTestServer();
  t.teardown(() => server.close());
  const port = server.address.split(":")[1];
  const engine = await openWorkflowEngine({ address: `localhost:${port}`, namespace: "default", ...TEST_TIMEOUTS });
  t.teardown(() => engine.close());
  t.deepEqual(await engine.introspect(), {});
});

test.serial("a closed localhost port is TEMPORAL_UNAVAILABLE naming the refused connection", async (t) => {
  const port = await closedPort();
  const err = await rejection(openWorkflowEngine({ address: `localhost:${port}`, namespace: "default", connectTimeoutMs: 3_000 }));
  t.is(err.code, "TEMPORAL_UNAVAILABLE");
  t.regex(err.message, new RegExp(`^Temporal at localhost:${port} is unreachable: connect ECONNREFUSED .*:${port} \\(workflows are enabled`));
});
