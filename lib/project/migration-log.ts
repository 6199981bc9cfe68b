import { appendFileSync, mkdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { MooseError } from "../errors.js";
import type { MigrationFile } from "../migrations/files/read.js";
import { MIGRATION_FILE } from "../migrations/files/read.js";
import type { RunEvent, UnitOutcome } from "../migrations/apply/runner.js";
import { stepLabel, stepOf } from "../migrations/files/steps.js";
import type { CycleResult } from "../dev/session.js";
import type { Plan } from "../plan/plan.js";

/**
 * Deploys, rollbacks, each step's result and every error, as structured lines in the project
 * log (`moose.log_file`), whichever command ran them (`migrate deploy`, `migrate rollback`,
 * `moose dev`). A line is the time, then `key=value` pairs (logfmt; a value with spaces,
 * quotes or `=` is a JSON string): `moose logs` prints them, `moose logs --json` reads them
 * back ({@link parseLogLine}).
 *
 * @example
 * 2026-12-03T11:00:00.000Z level=info event=step.done command=deploy migration=20261203105900_add_age step=1 steps=2 call="addColumn(\"Users\", …)" ms=12
 */
export type LogCommand = "deploy" | "rollback" | "dev";

export type LogValue = string | number | boolean;

export interface MigrationLog {
  /** A runner event (start, step done or skipped, done). */
  event(e: RunEvent): void;
  /** What the command's run came to: per migration applied / failed (with its step and error) / not run. */
  outcome(migration: string, outcome: UnitOutcome | { readonly id: string; readonly status: string }): void;
  /** An error that stopped the command (a refusal before any step, an engine failure). */
  error(error: unknown): void;
  /**
   * One `moose dev` save: a `save.step` line per step it ran, then one `save.<result>` line
   * (`save.applied`, `save.unchanged`, `save.invalid`, `save.failed`, `save.waiting`, `save.held`,
   * `save.stale`) with the files that changed and the timings.
   */
  save(files: string, result: CycleResult, totalMs: number): void;
}

/** Formats one line (without the time). */
export function logfmt(fields: Readonly<Record<string, LogValue | undefined>>): string {
  return Object.entries(fields)
    .filter((e): e is [string, LogValue] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" && (v === "" || /[\s"=\\]/.test(v)) ? JSON.stringify(v) : String(v)}`)
    .join(" ");
}

/**
 * One log line as data: `{ time, level, event, … }` for a structured line, `{ time, message }`
 * for a plain one (what `moose dev` writes about saves and requests).
 */
export function parseLogLine(line: string): Record<string, LogValue> {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(line);
  if (!m) return { message: line };
  const [, time, rest] = m as unknown as [string, string, string];
  if (!rest.startsWith("level=")) return { time, message: rest };
  const out: Record<string, LogValue> = { time };
  const token = /([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)\s*/gy;
  let t: RegExpExecArray | null;
  while ((t = token.exec(rest)) !== null) {
    const [, key, raw] = t as unknown as [string, string, string];
    if (raw.startsWith('"') && !/^"(?:[^"\\]|\\.)*"$/.test(raw)) return { time, message: rest };
    out[key] = raw.startsWith('"') ? (JSON.parse(raw) as string) : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === "true" || raw === "false" ? raw === "true" : raw;
    if (token.lastIndex >= rest.length) break;
  }
  // A line that does not read back as pairs to its end is kept whole rather than half-read.
  return token.lastIndex >= rest.length || rest.length === 0 ? out : { time, message: rest };
}

/**
 * A log for one command's run. Writing never fails the command: a log that cannot be written
 * (a full disk, a read-only folder) is not a reason to stop a deploy half-way.
 */
export function migrationLog(path: string, command: LogCommand, files: readonly MigrationFile[]): MigrationLog {
  const labels = new Map(files.map((f) => [f.id, { up: f.up.map((l) => stepLabel(l.step)), down: (f.down ?? []).map((l) => stepLabel(l.step)) }]));
  const call = (direction: "deploy" | "rollback", id: string, index: number) => (direction === "deploy" ? labels.get(id)?.up : labels.get(id)?.down)?.[index];
  const totals = new Map<string, number>();
  const write = (level: "info" | "error", fields: Record<string, LogValue | undefined>) => {
    try {
      mkdirSync(dirname(path), { recursive: true });
      appendFileSync(path, `${new Date().toISOString()} ${logfmt({ level, ...fields, command })}\n`);
    } catch {
      // See above: the command's own output still says what happened.
    }
  };
  return {
    event(e) {
      switch (e.kind) {
        case "start":
          totals.set(e.id, e.steps);
          write("info", { event: `${e.direction}.start`, migration: e.id, steps: e.steps, resume_from: e.resumeFrom > 0 ? e.resumeFrom + 1 : undefined });
          return;
        case "step-start":
          return;
        case "step-done":
          write("info", { event: "step.done", direction: e.direction, migration: e.id, step: e.index + 1, steps: totals.get(e.id), call: call(e.direction, e.id, e.index), ms: Math.round(e.ms), statements: e.statements.length });
          return;
        case "step-skipped":
          write("info", { event: "step.skipped", direction: e.direction, migration: e.id, step: e.index + 1, steps: totals.get(e.id), call: call(e.direction, e.id, e.index) });
          return;
        case "done":
          write("info", { event: `${e.direction}.done`, migration: e.id, ms: Math.round(e.ms) });
          return;
      }
    },
    outcome(migration, o) {
      if (o.status === "failed" && "failedStep" in o) {
        const direction = command === "rollback" ? "rollback" : "deploy";
        write("error", { event: "step.failed", direction, migration, step: o.failedStep + 1, steps: totals.get(migration), call: call(direction, migration, o.failedStep), code: o.code, error: o.error });
      } else if (o.status === "not-run") write("info", { event: "migration.not_run", migration, reason: "an earlier migration failed" });
    },
    save(files, result, totalMs) {
      const base = { files, extract_ms: Math.round(result.extractMs) };
      const label = (plan: Plan, i: number) => (plan.steps[i] ? stepLabel(stepOf(plan.steps[i]!.change, undefined)) : undefined);
      const risky = (plan: Plan) => plan.steps.filter((s) => s.risk.losesData).length;
      switch (result.kind) {
        case "applied":
          result.stepMs.forEach((ms, i) =>
            write("info", { event: "save.step", migration: ".draft", step: i + 1, steps: result.plan.steps.length, call: label(result.plan, i), risk: result.plan.steps[i]?.risk.code, ms: Math.round(ms) }),
          );
          write("info", {
            event: "save.applied",
            ...base,
            migration: ".draft",
            steps: result.plan.steps.length,
            ms: Math.round(totalMs),
            apply_ms: Math.round(result.applyMs),
            draft: result.draft ?? "none",
            adopted: result.adopted.length > 0 ? result.adopted.join(",") : undefined,
          });
          return;
        case "unchanged":
          write("info", { event: "save.unchanged", ...base, ms: Math.round(totalMs) });
          return;
        case "invalid":
          for (const e of result.errors) write("error", { event: "save.invalid", ...base, code: e.code, error: e.located });
          return;
        case "failed":
          write("error", {
            event: "save.failed",
            ...base,
            migration: ".draft",
            step: result.failedStep + 1,
            steps: result.plan.steps.length,
            call: label(result.plan, result.failedStep),
            applied: result.applied,
            error: result.error,
            ms: Math.round(totalMs),
          });
          return;
        case "needs-approval":
          write("info", { event: "save.waiting", ...base, steps: result.plan.steps.length, losing: risky(result.plan), reason: "data loss not confirmed; nothing applied" });
          return;
        case "held":
          write("info", { event: "save.held", ...base, steps: result.plan.steps.length, reason: "held back by life cycles" });
          return;
        case "stale-answer":
          write("info", { event: "save.stale", ...base, reason: "the code changed while the question was open; nothing applied" });
          return;
      }
    },
    error(error) {
      const e = error instanceof MooseError ? error : undefined;
      const file = e?.position?.file;
      const text = e ? [e.message, ...e.details].join("\n") : "";
      const id = file && MIGRATION_FILE.test(basename(file)) ? basename(file, ".ts") : files.find((f) => text.includes(f.id))?.id;
      write("error", {
        event: `${command}.error`,
        migration: id,
        code: e?.code ?? "INTERNAL",
        error: e ? e.located : error instanceof Error ? error.message : String(error),
        details: e && e.details.length > 0 ? e.details.join("; ") : undefined,
      });
    },
  };
}
