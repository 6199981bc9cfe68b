import test from "ava";
import type { ScheduleDescription } from "@temporalio/client";
import {
  actionFor,
  cronFromCalendar,
  formatDuration,
  parseDuration,
  scheduleOptionsFor,
  specFor,
  workflowFromDescription,
} from "../lib/engines/workflow/schedule.js";
import { MooseError } from "../lib/errors.js";
import type { Workflow } from "../lib/model/infra-map.js";

const mapping = { idPrefix: "moose-", taskQueue: "moose" };
const wf = (fields: Partial<Workflow> = {}): Workflow => ({ name: "w", retries: 0, paused: false, ...fields });

for (const [text, ms] of [
  ["30s", 30_000],
  ["15m", 900_000],
  ["1h", 3_600_000],
  ["1h30m", 5_400_000],
  ["2d", 172_800_000],
  ["250ms", 250],
  ["1.5h", 5_400_000],
] as const) {
  test(`parseDuration("${text}") = ${ms}`, (t) => t.is(parseDuration(text, "x"), ms));
}

for (const text of ["", "1", "h", "1 hour", "-5m", "0s", "1w"]) {
  test(`parseDuration rejects ${JSON.stringify(text)}`, (t) => {
    const err = t.throws(() => parseDuration(text, 'workflow "w": timeout'));
    t.true(err instanceof MooseError);
    t.is((err as MooseError).code, "WORKFLOW_DURATION_INVALID");
    t.is(err?.message, `workflow "w": timeout: "${text}" is not a duration`);
  });
}

for (const [ms, text] of [
  [3_600_000, "1h"],
  [5_400_000, "1h30m"],
  [86_400_000, "24h"],
  [90_000, "1m30s"],
  [1_500, "1s500ms"],
] as const) {
  test(`formatDuration(${ms}) = "${text}"`, (t) => t.is(formatDuration(ms), text));
}

test("specFor: @every is an interval, anything else a cron expression for the server to parse", (t) => {
  t.deepEqual(specFor(wf({ schedule: "@every 1h30m" })), { intervals: [{ every: 5_400_000 }] });
  t.deepEqual(specFor(wf({ schedule: " 0 3 * * * " })), { cronExpressions: ["0 3 * * *"] });
  t.deepEqual(specFor(wf({ schedule: "@daily" })), { cronExpressions: ["@daily"] });
});

test("actionFor: retries count retries, not attempts; timeout bounds each run", (t) => {
  t.deepEqual(actionFor(wf({ schedule: "@hourly", retries: 0 }), mapping), {
    type: "startWorkflow",
    workflowType: "w",
    taskQueue: "moose",
    args: [],
    retry: { maximumAttempts: 1 },
    memo: { moose: { schedule: "@hourly" } },
  });
  const action = actionFor(wf({ schedule: "@hourly", retries: 2, timeout: "45m" }), mapping);
  t.deepEqual(action.retry, { maximumAttempts: 3 });
  t.is(action.workflowRunTimeout, 2_700_000);
  t.deepEqual(action.memo, { moose: { schedule: "@hourly", timeout: "45m" } });
  const err = t.throws(() => actionFor(wf({ schedule: "@hourly", retries: -1 }), mapping));
  t.is((err as MooseError).code, "WORKFLOW_RETRIES_INVALID");
});

test("scheduleOptionsFor: id prefix, ownership memo, initial paused state", (t) => {
  const options = scheduleOptionsFor(wf({ name: "nightly", schedule: "0 3 * * *", paused: true }), { idPrefix: "proj-a-", taskQueue: "q" });
  t.is(options.scheduleId, "proj-a-nightly");
  t.deepEqual(options.memo, { moose: { managedBy: "moose-migrate", workflow: "nightly" } });
  t.deepEqual(options.state, { paused: true });
});

const everyDay3am = {
  second: [{ start: 0, end: 0, step: 1 }],
  minute: [{ start: 0, end: 0, step: 1 }],
  hour: [{ start: 3, end: 3, step: 1 }],
  dayOfMonth: [{ start: 1, end: 31, step: 1 }],
  month: [{ start: "JANUARY", end: "DECEMBER", step: 1 }],
  year: [],
  dayOfWeek: [{ start: "MONDAY", end: "FRIDAY", step: 1 }],
} as const;

test("cronFromCalendar renders a compiled 5-field cron", (t) => {
  t.is(cronFromCalendar(everyDay3am as never), "0 3 * * 1-5");
  t.is(cronFromCalendar({ ...everyDay3am, minute: [{ start: 0, end: 59, step: 15 }] } as never), "0-59/15 3 * * 1-5");
  t.is(cronFromCalendar({ ...everyDay3am, second: [{ start: 30, end: 30, step: 1 }] } as never), undefined);
});

type Described = Pick<ScheduleDescription, "spec" | "action" | "state">;
const described = (over: { spec?: object; action?: object; paused?: boolean }): Described =>
  ({
    spec: over.spec ?? { calendars: [everyDay3am], intervals: [] },
    action: { type: "startWorkflow", workflowType: "w", taskQueue: "moose", ...over.action },
    state: { paused: over.paused ?? false },
  }) as never;

test("workflowFromDescription: the memo gives the text as written when it agrees with Temporal", (t) => {
  t.deepEqual(
    workflowFromDescription(
      "w",
      described({ action: { retry: { maximumAttempts: 4 }, workflowRunTimeout: 3_600_000, memo: { moose: { schedule: "0 3 * * MON-FRI", timeout: "60m" } } } }),
    ),
    { name: "w", schedule: "0 3 * * MON-FRI", retries: 3, timeout: "60m", paused: false },
  );
});

test("workflowFromDescription: without a memo, or against it, Temporal's values win", (t) => {
  t.deepEqual(workflowFromDescription("w", described({ paused: true })), { name: "w", schedule: "0 3 * * 1-5", retries: 0, paused: true });
  t.deepEqual(
    workflowFromDescription(
      "w",
      described({
        spec: { calendars: [], intervals: [{ every: 600_000, offset: 0 }] },
        action: { retry: { maximumAttempts: 0 }, workflowRunTimeout: 5_400_000, memo: { moose: { schedule: "@every 15m", timeout: "1h" } } },
      }),
    ),
    { name: "w", schedule: "@every 10m", retries: -1, timeout: "1h30m", paused: false },
  );
  t.is(
    workflowFromDescription("w", described({ spec: { calendars: [], intervals: [{ every: 900_000, offset: 0 }] }, action: { memo: { moose: { schedule: "0 3 * * *" } } } })).schedule,
    "@every 15m",
    "a cron memo over an interval spec is stale",
  );
});
