import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { EngineError } from "../../errors.js";
import type { Workflow } from "../../model/infra-map.js";

/** How a run ended, or that it has not. The words Temporal's status uses, lower-cased. */
export type RunStatus = "running" | "completed" | "failed" | "cancelled" | "terminated" | "timed_out";

export interface TaskRun {
  readonly name: string;
  status: RunStatus;
  attempts: number;
  readonly startedAt: string;
  endedAt?: string;
  /** The last attempt's error: `app/workflows/x.ts:12:7: Error: …`. */
  error?: string;
}

/** One execution of a workflow, as `moose workflow status` and `history` show it. */
export interface WorkflowRun {
  readonly id: string;
  readonly workflow: string;
  readonly trigger: "manual" | "schedule" | "resume";
  status: RunStatus;
  readonly startedAt: string;
  endedAt?: string;
  /** Workflow-level attempts (the whole chain again after a failure, up to `retries + 1`). */
  attempts: number;
  readonly tasks: TaskRun[];
  /** Each task's result, in the order they finished (moose-lib's workflow result). */
  results?: unknown[];
  error?: string;
}

/** A schedule the migrations created, as Temporal would hold it. */
export interface StoredSchedule {
  readonly workflow: Workflow;
  /** ms since the epoch of the last firing, so `@every` keeps its rhythm across a restart. */
  lastFiredAt?: number;
  readonly createdAt: number;
}

/**
 * What the embedded engine keeps in `<state_dir>/workflows.json`: the schedules (what
 * `workflow.*` changes applied: they must survive a restart as the ledger's record of
 * them does) and the latest runs. Written whole, to a temporary file renamed over the
 * old one, so a kill leaves either version.
 */
export interface EmbeddedWorkflowState {
  readonly version: 1;
  schedules: Record<string, StoredSchedule>;
  runs: WorkflowRun[];
}

/** Runs kept in the file, newest last; older ones are forgotten. */
export const KEPT_RUNS = 200;

export function readWorkflowState(file: string): EmbeddedWorkflowState {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, schedules: {}, runs: [] };
    throw new EngineError("WORKFLOW_STATE_UNREADABLE", `cannot read the embedded workflow state ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as Partial<EmbeddedWorkflowState>;
    if (parsed.version !== 1 || typeof parsed.schedules !== "object" || !Array.isArray(parsed.runs)) throw new Error("not a version 1 state file");
    return { version: 1, schedules: parsed.schedules ?? {}, runs: parsed.runs };
  } catch (error) {
    throw new EngineError("WORKFLOW_STATE_UNREADABLE", `the embedded workflow state ${file} is not readable: ${(error as Error).message}`, {
      cause: error,
      hint: "delete it to start over (the workflows' schedules are then created again by the next deploy of their migrations)",
    });
  }
}

export function writeWorkflowState(file: string, state: EmbeddedWorkflowState): void {
  mkdirSync(dirname(file), { recursive: true });
  if (state.runs.length > KEPT_RUNS) state.runs.splice(0, state.runs.length - KEPT_RUNS);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, file);
}
