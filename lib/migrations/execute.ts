import { ownerOf, subjectName } from "../diff/change-meta.js";
import type { Change } from "../diff/change.js";
import { EngineError, RefusedError } from "../errors.js";
import type { OlapCapabilities, OlapEngine } from "../engines/olap/engine.js";
import { checkStatement, parseCheck, statementsForChanges, typeChangeGuard } from "../engines/olap/sql.js";
import type { InfraMap } from "../model/infra-map.js";

/** Engines that carry out non-OLAP changes; each applies the changes of its kind. */
export interface ChangeApplier {
  apply(change: Change): Promise<void>;
}

export interface Engines {
  readonly olap: OlapEngine;
  /** Topics; without it topic steps fail with a clear error. */
  readonly streams?: ChangeApplier;
  /** Temporal schedules; `undefined` when `[features] workflows = false` (steps are recorded, not sent). */
  readonly workflows?: ChangeApplier;
}

/** A step to run: a structured change, or hand-written SQL or a check (`change: null`). */
export interface ExecutableStep {
  readonly change: Change | null;
  /** For `sql(...)` steps: the statement. */
  readonly sql?: string;
  /** For `check(...)` steps: the query whose rows are problems, and what they mean. */
  readonly check?: { readonly query: string; readonly message: string };
  /** The file approves data loss on this step (`approveDataLoss: true`). */
  readonly approved?: boolean;
}

const RECORDED_ONLY = "recorded: the dev and prod servers serve endpoints and run topic-to-table syncs from the recorded state";

/** Changes with no effect outside moose's own state. */
export function isStateOnly(change: Change): boolean {
  return ownerOf(change) === "state";
}

/**
 * What each step will run, as text for the ledger and `--dry-run`: SQL for
 * OLAP changes (converted together, because ClickHouse needs some in one ALTER:
 * a new column and the ORDER BY that appends it), a note for the others.
 */
export function statementsForSteps(
  steps: readonly ExecutableStep[],
  ctx: { readonly database: string; readonly capabilities: OlapCapabilities; readonly state: InfraMap },
  workflowsEnabled: boolean,
): string[][] {
  const indexes: number[] = [];
  const olapChanges: Change[] = [];
  steps.forEach((s, i) => {
    const c = s.change;
    if (c && ownerOf(c) === "olap") {
      indexes.push(i);
      olapChanges.push(c);
    }
  });
  const byChange = statementsForChanges(olapChanges, ctx);
  const out: string[][] = steps.map((s) => {
    const c = s.change;
    if (c === null) return [s.check ? checkStatement(s.check.query, s.check.message) : (s.sql ?? "")];
    if (isStateOnly(c)) return [`-- ${c.kind.startsWith("table.") ? "recorded: life cycles are enforced by moose, not stored in ClickHouse" : RECORDED_ONLY}`];
    if (ownerOf(c) === "stream") return [`-- stream engine: ${c.kind} ${subjectName(c)}`];
    if (ownerOf(c) === "workflow") return [workflowsEnabled ? `-- temporal: ${c.kind} ${subjectName(c)}` : "-- workflows are disabled in [features]: recorded, not sent to Temporal"];
    return [];
  });
  indexes.forEach((stepIndex, k) => {
    const step = steps[stepIndex] as ExecutableStep;
    // A narrowing type change runs behind its pre-flight check (or, approved, its conversion of the rows that do not fit).
    out[stepIndex] = [...typeChangeGuard(step.change as Change, ctx, step.approved ?? false), ...(byChange[k] ?? [])];
  });
  return out;
}

/**
 * Runs one OLAP statement. A check (see `CHECK_MARKER` in the SQL adapter) runs as a
 * read-only query and stops the step with `CHECK_FAILED` when it returns rows, naming them.
 */
export async function runStatement(olap: OlapEngine, sql: string): Promise<void> {
  const check = parseCheck(sql);
  if (!check) {
    await olap.execute(sql);
    return;
  }
  // ClickHouse's read-only mode: a check reads, whatever it says.
  const rows = await olap.readOnlyQuery<Record<string, unknown>>(check.query);
  if (rows.length === 0) return;
  const shown = rows.slice(0, 5).map((r) => (typeof r["problem"] === "string" ? r["problem"] : JSON.stringify(r)));
  const more = rows.length > 5 ? ` (and ${rows.length - 5} more)` : "";
  throw new RefusedError("CHECK_FAILED", `${check.message}: ${shown.join("; ")}${more}`);
}

/** Runs one step's effect on the engines (the statements come from `statementsForSteps`). */
export async function executeStep(step: ExecutableStep, statements: readonly string[], engines: Engines): Promise<void> {
  const c = step.change;
  if (c === null) {
    for (const sql of statements) await runStatement(engines.olap, sql);
    return;
  }
  if (isStateOnly(c)) return;
  if (ownerOf(c) === "stream") {
    if (!engines.streams) throw new EngineError("STREAMS_UNAVAILABLE", `no stream engine is configured to carry out ${c.kind} for ${subjectName(c)}`, { hint: "enable [features] streaming_engine" });
    await engines.streams.apply(c);
    return;
  }
  if (ownerOf(c) === "workflow") {
    if (engines.workflows) await engines.workflows.apply(c);
    return;
  }
  for (const sql of statements) await runStatement(engines.olap, sql);
}
