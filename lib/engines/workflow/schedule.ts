import type { ScheduleDescription, ScheduleOptions, ScheduleOptionsAction, ScheduleSpec, ScheduleSpecDescription } from "@temporalio/client";
import { InvalidInputError } from "../../errors.js";
import type { Workflow } from "../../model/infra-map.js";

/**
 * How a declared `Workflow` maps onto a Temporal schedule and back. Pure: no I/O,
 * so the engine and its tests share one definition of the mapping.
 *
 * Two memos carry what Temporal cannot give back as written:
 * - the schedule's own memo (`moose: { managedBy, workflow }`) marks ownership. It is
 *   set at creation and never changes (UpdateSchedule has no memo field).
 * - the scheduled action's memo (`moose: { schedule, timeout }`) keeps the cron string
 *   and timeout as the user wrote them. A real server compiles `cron_string` into
 *   `structured_calendar` and drops the text, and a timeout comes back in milliseconds;
 *   without this memo `"0 3 * * *"` or `"60m"` could not be introspected back
 *   unchanged. The action memo is replaced by every UpdateSchedule, so it follows the
 *   schedule. (Each started run also carries it, which doubles as provenance.)
 */

/** Written into the schedule memo so that introspection only reports schedules this tool created. */
export const MANAGED_BY = "moose-migrate";
/** The memo key both memos use. */
export const MEMO_KEY = "moose";
/** Schedule ids are `<prefix><workflow name>`. */
export const DEFAULT_SCHEDULE_ID_PREFIX = "moose-";
export const DEFAULT_TASK_QUEUE = "moose";

export interface ScheduleMapping {
  readonly idPrefix: string;
  readonly taskQueue: string;
}

/** The schedule memo: who owns the schedule and which workflow it runs. */
export interface OwnerMemo {
  readonly managedBy: typeof MANAGED_BY;
  readonly workflow: string;
}

/** The action memo: the declaration as written. */
export interface DeclarationMemo {
  readonly schedule: string;
  readonly timeout?: string;
}

export function scheduleIdFor(name: string, mapping: ScheduleMapping): string {
  return `${mapping.idPrefix}${name}`;
}

/** Whether a schedule memo (as the client decodes it) says moose-migrate owns the schedule. */
export function ownerOf(memo: Record<string, unknown> | undefined): OwnerMemo | undefined {
  const value = memo?.[MEMO_KEY];
  if (value === null || typeof value !== "object") return undefined;
  const { managedBy, workflow } = value as Record<string, unknown>;
  return managedBy === MANAGED_BY && typeof workflow === "string" ? { managedBy, workflow } : undefined;
}

const EVERY = /^@every\s+(\S+)$/;

/**
 * The schedule spec for a declared schedule: `@every <duration>` becomes an interval
 * spec, anything else a cron expression that Temporal parses (5-field crons and
 * Temporal's `@daily`-style shortcuts alike). A cron Temporal does not accept is
 * rejected by the server, not here, so the server's own grammar is the one enforced.
 *
 * @example specFor({ name: "w", schedule: "@every 15m", retries: 0, paused: false }) // { intervals: [{ every: 900000 }] }
 */
export function specFor(workflow: Workflow): ScheduleSpec {
  const schedule = scheduleOf(workflow);
  const every = EVERY.exec(schedule);
  if (every) return { intervals: [{ every: parseDuration(every[1] ?? "", `workflow "${workflow.name}": schedule "${schedule}"`) }] };
  return { cronExpressions: [schedule] };
}

/**
 * What each scheduled run starts: workflow type = the workflow's name on `taskQueue`.
 * `retries` counts retries, so Temporal's `maximumAttempts` is `retries + 1`; mapping
 * it directly would turn `retries: 0` into Temporal's 0, which means *unlimited*.
 * `timeout` bounds each run (`workflowRunTimeout`), so that a timed-out attempt can
 * still be retried; an execution timeout would cover all attempts together.
 */
export function actionFor(workflow: Workflow, mapping: ScheduleMapping): ScheduleOptionsAction {
  const schedule = scheduleOf(workflow);
  if (!Number.isInteger(workflow.retries) || workflow.retries < 0) {
    throw new InvalidInputError("WORKFLOW_RETRIES_INVALID", `workflow "${workflow.name}": retries must be a whole number ≥ 0, got ${workflow.retries}`);
  }
  const memo: DeclarationMemo = workflow.timeout === undefined ? { schedule } : { schedule, timeout: workflow.timeout };
  return {
    type: "startWorkflow",
    workflowType: workflow.name,
    taskQueue: mapping.taskQueue,
    args: [],
    retry: { maximumAttempts: workflow.retries + 1 },
    ...(workflow.timeout === undefined
      ? {}
      : { workflowRunTimeout: parseDuration(workflow.timeout, `workflow "${workflow.name}": timeout`) }),
    memo: { [MEMO_KEY]: memo },
  };
}

/** Everything `ScheduleClient.create` needs for a scheduled workflow. */
export function scheduleOptionsFor(workflow: Workflow, mapping: ScheduleMapping): ScheduleOptions {
  const owner: OwnerMemo = { managedBy: MANAGED_BY, workflow: workflow.name };
  return {
    scheduleId: scheduleIdFor(workflow.name, mapping),
    spec: specFor(workflow),
    action: actionFor(workflow, mapping),
    memo: { [MEMO_KEY]: owner },
    state: { paused: workflow.paused },
  };
}

function scheduleOf(workflow: Workflow): string {
  const schedule = workflow.schedule?.trim();
  if (schedule === undefined || schedule === "") {
    throw new InvalidInputError("WORKFLOW_SCHEDULE_INVALID", `workflow "${workflow.name}" has no schedule, so it has no Temporal schedule`);
  }
  return schedule;
}

/**
 * A schedule described by Temporal, as our `Workflow`. What was written is taken from
 * the action memo when it still agrees with what Temporal holds; where the two visibly
 * disagree (someone edited the schedule outside moose-migrate) Temporal wins, so the
 * drift shows up in a diff.
 */
export function workflowFromDescription(name: string, description: Pick<ScheduleDescription, "spec" | "action" | "state">): Workflow {
  const written = declarationOf(description.action.memo);
  const schedule = scheduleFromSpec(description.spec, written?.schedule);
  const retries = retriesFrom(description.action.retry?.maximumAttempts);
  const timeout = timeoutFrom(description.action.workflowRunTimeout, written?.timeout);
  return {
    name,
    ...(schedule === undefined ? {} : { schedule }),
    retries,
    ...(timeout === undefined ? {} : { timeout }),
    paused: description.state.paused,
  };
}

function declarationOf(memo: Record<string, unknown> | undefined): DeclarationMemo | undefined {
  const value = memo?.[MEMO_KEY];
  if (value === null || typeof value !== "object") return undefined;
  const { schedule, timeout } = value as Record<string, unknown>;
  if (typeof schedule !== "string") return undefined;
  return typeof timeout === "string" ? { schedule, timeout } : { schedule };
}

function scheduleFromSpec(spec: ScheduleSpecDescription, written: string | undefined): string | undefined {
  const intervals = spec.intervals ?? [];
  const calendars = spec.calendars ?? [];
  const [interval] = intervals;
  const onlyInterval = interval !== undefined && intervals.length === 1 && calendars.length === 0 && !interval.offset;
  const writtenEvery = written === undefined ? null : EVERY.exec(written);
  if (written !== undefined) {
    if (writtenEvery) {
      if (onlyInterval && durationOrUndefined(writtenEvery[1] ?? "") === interval.every) return written;
    } else if (calendars.length > 0) {
      // A cron string comes back compiled into calendars; its text cannot be compared
      // with them without re-implementing Temporal's cron parser, so the memo is trusted.
      return written;
    }
  }
  if (onlyInterval) return `@every ${formatDuration(interval.every)}`;
  if (calendars.length === 1 && intervals.length === 0) {
    const cron = cronFromCalendar(calendars[0]!);
    if (cron !== undefined) return cron;
  }
  if (calendars.length === 0 && intervals.length === 0) return undefined;
  // Not expressible as one cron or interval: a text no declaration equals, so a diff
  // against the code proposes putting the declared schedule back.
  return `calendar ${JSON.stringify({ calendars, intervals })}`;
}

function retriesFrom(maximumAttempts: number | undefined): number {
  if (maximumAttempts === undefined) return 0; // no retry policy: Temporal does not retry workflows
  if (maximumAttempts === 0) return -1; // unlimited, which only an edit outside moose-migrate can set
  return maximumAttempts - 1;
}

function timeoutFrom(runTimeout: string | number | undefined, written: string | undefined): string | undefined {
  if (runTimeout === undefined) return undefined;
  const ms = typeof runTimeout === "number" ? runTimeout : durationOrUndefined(runTimeout);
  if (ms === undefined) return String(runTimeout);
  if (written !== undefined && durationOrUndefined(written) === ms) return written;
  return formatDuration(ms);
}

type CalendarDescription = NonNullable<ScheduleSpecDescription["calendars"]>[number];
const MONTH_NAMES = ["JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"];
const DAY_NAMES = ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"];

/** A 5-field cron for a calendar that has one (second 0, any year), else undefined. */
export function cronFromCalendar(calendar: CalendarDescription): string | undefined {
  const seconds = calendar.second;
  if (seconds.length !== 1 || seconds[0]?.start !== 0 || seconds[0].end !== 0) return undefined;
  if (calendar.year.length > 0) return undefined;
  const field = (ranges: ReadonlyArray<{ start: number; end: number; step: number }>, min: number, max: number): string => {
    if (ranges.length === 0) return "*";
    if (ranges.length === 1 && ranges[0]!.start === min && ranges[0]!.end === max && ranges[0]!.step === 1) return "*";
    return ranges
      .map((r) => (r.start === r.end ? `${r.start}` : `${r.start}-${r.end}${r.step === 1 ? "" : `/${r.step}`}`))
      .join(",");
  };
  const months = calendar.month.map((r) => ({ start: MONTH_NAMES.indexOf(r.start) + 1, end: MONTH_NAMES.indexOf(r.end) + 1, step: r.step }));
  const days = calendar.dayOfWeek.map((r) => ({ start: DAY_NAMES.indexOf(r.start), end: DAY_NAMES.indexOf(r.end), step: r.step }));
  return [field(calendar.minute, 0, 59), field(calendar.hour, 0, 23), field(calendar.dayOfMonth, 1, 31), field(months, 1, 12), field(days, 0, 6)].join(" ");
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in a duration written like `90s`, `15m`, `1h30m`, `2d` (units ms, s, m,
 * h, d; parts may repeat in any order). `what` names the value in the error.
 *
 * @example parseDuration("1h30m", "timeout") // 5400000
 */
export function parseDuration(text: string, what: string): number {
  const ms = durationOrUndefined(text);
  if (ms === undefined) {
    throw new InvalidInputError("WORKFLOW_DURATION_INVALID", `${what}: "${text}" is not a duration`, {
      hint: 'write a positive number with a unit (ms, s, m, h, d), e.g. "30s", "15m", "1h30m"',
    });
  }
  return ms;
}

function durationOrUndefined(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(amount) * (UNIT_MS[unit ?? ""] ?? NaN);
  total = Math.round(total);
  return Number.isFinite(total) && total > 0 ? total : undefined;
}

/** A duration as the shortest `XhYmZs` text (`5400000` → `1h30m`); days are written as hours. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000], ["ms", 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === "" ? "0s" : out;
}
