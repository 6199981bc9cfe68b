import { InvalidInputError } from "../../errors.js";
import { parseDuration } from "./schedule.js";

/**
 * When a declared schedule fires, for the embedded workflow engine (Temporal computes
 * this itself). Pure: no clock is read here.
 *
 * - `@every <duration>`: every `duration` after the previous firing (or the start).
 * - a 5-field cron (`minute hour day-of-month month day-of-week`, in UTC as Temporal
 *   reads them): `*`, `a`, `a-b`, `*\/n`, `a-b/n`, lists, month and day names, 7 = Sunday;
 *   when both day fields are restricted a day matching either fires (classic cron).
 * - Temporal's shortcuts `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 *   `@midnight`, `@hourly`.
 */
export type ScheduleTimer =
  | { readonly kind: "every"; readonly ms: number }
  | { readonly kind: "cron"; readonly fields: readonly CronField[]; readonly domRestricted: boolean; readonly dowRestricted: boolean };

type CronField = ReadonlySet<number>;

const SHORTCUTS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/** minute, hour, day of month, month, day of week: bounds and names. */
const FIELDS: ReadonlyArray<{ readonly name: string; readonly min: number; readonly max: number; readonly names?: readonly string[]; readonly offset?: number }> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS, offset: 1 },
  { name: "day of week", min: 0, max: 7, names: DAYS, offset: 0 },
];

/**
 * Reads a workflow's schedule; `WORKFLOW_SCHEDULE_INVALID` names the workflow and the
 * part that is wrong, as a Temporal server rejects the schedule.
 *
 * @example scheduleTimer("generator", "@every 5s") // { kind: "every", ms: 5000 }
 */
export function scheduleTimer(workflow: string, schedule: string): ScheduleTimer {
  const text = schedule.trim();
  const every = /^@every\s+(\S+)$/.exec(text);
  if (every) return { kind: "every", ms: parseDuration(every[1] ?? "", `workflow "${workflow}": schedule "${schedule}"`) };
  const expanded = SHORTCUTS[text.toLowerCase()] ?? text;
  const parts = expanded.split(/\s+/);
  const invalid = (why: string) =>
    new InvalidInputError("WORKFLOW_SCHEDULE_INVALID", `workflow "${workflow}": schedule "${schedule}" is not a schedule: ${why}`, {
      hint: 'write a 5-field cron expression ("0 3 * * *"), a shortcut ("@daily") or "@every <duration>" ("@every 15m")',
    });
  if (parts.length !== 5) throw invalid(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${parts.length}`);
  const fields = parts.map((part, i) => {
    const spec = FIELDS[i]!;
    const values = new Set<number>();
    for (const item of part.split(",")) {
      const m = /^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m) throw invalid(`"${item}" in the ${spec.name} field`);
      const step = m[2] === undefined ? 1 : Number(m[2]);
      if (step < 1) throw invalid(`step 0 in the ${spec.name} field`);
      let from = spec.min;
      let to = spec.max === 7 ? 6 : spec.max;
      if (m[1] !== "*") {
        const [a, b] = m[1]!.split("-");
        from = value(a!, spec, invalid);
        to = b === undefined ? (m[2] === undefined ? from : spec.max) : value(b, spec, invalid);
        if (to < from) throw invalid(`range ${m[1]} runs backwards in the ${spec.name} field`);
      }
      for (let v = from; v <= to; v += step) values.add(spec.max === 7 && v === 7 ? 0 : v);
    }
    return values;
  });
  return { kind: "cron", fields, domRestricted: parts[2] !== "*", dowRestricted: parts[4] !== "*" };
}

function value(text: string, spec: (typeof FIELDS)[number], invalid: (why: string) => Error): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + (spec.offset ?? 0) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < spec.min || n > spec.max) throw invalid(`"${text}" is outside ${spec.min}–${spec.max} in the ${spec.name} field`);
  return n;
}

/** Whether a cron timer fires in the UTC minute that `at` falls in. */
export function cronMatches(timer: Extract<ScheduleTimer, { kind: "cron" }>, at: Date): boolean {
  const [minute, hour, dom, month, dow] = timer.fields as [CronField, CronField, CronField, CronField, CronField];
  if (!minute.has(at.getUTCMinutes()) || !hour.has(at.getUTCHours()) || !month.has(at.getUTCMonth() + 1)) return false;
  const domOk = dom.has(at.getUTCDate());
  const dowOk = dow.has(at.getUTCDay());
  if (timer.domRestricted && timer.dowRestricted) return domOk || dowOk;
  return domOk && dowOk;
}

/**
 * The first firing strictly after `after` (ms since the epoch): for `@every`, one period
 * after it; for a cron, the next matching whole minute (searched up to 4 years ahead,
 * enough for `0 0 29 2 *`). Undefined when a cron never matches (`0 0 31 2 *`).
 */
export function nextFiring(timer: ScheduleTimer, after: number): number | undefined {
  if (timer.kind === "every") return after + timer.ms;
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  const limit = after + 4 * 366 * 86_400_000;
  while (t <= limit) {
    const at = new Date(t);
    if (cronMatches(timer, at)) return t;
    // Skip whole hours / days that cannot match, so a yearly cron is found quickly.
    const [minute, hour] = timer.fields as [CronField, CronField];
    if (!hour.has(at.getUTCHours())) t = Math.floor(t / 3_600_000) * 3_600_000 + 3_600_000;
    else if (!minute.has(at.getUTCMinutes())) t += 60_000;
    else t += 60_000;
  }
  return undefined;
}
