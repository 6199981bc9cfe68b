import { randomUUID } from "node:crypto";
import type { Change } from "../../diff/change.js";
import type { Task, Workflow as DeclaredWorkflow } from "../../dsl/workflow.js";
import { EngineError, InvalidInputError } from "../../errors.js";
import { closestName } from "../../config/suggest.js";
import { canonicalJson, type Workflow } from "../../model/infra-map.js";
import { describeAppError } from "../../runtime/load-app.js";
import { nextFiring, scheduleTimer, type ScheduleTimer } from "./cron.js";
import type { WorkflowEngine } from "./engine.js";
import { readWorkflowState, writeWorkflowState, type EmbeddedWorkflowState, type RunStatus, type TaskRun, type WorkflowRun } from "./embedded-store.js";
import { parseDuration } from "./schedule.js";

export type { RunStatus, TaskRun, WorkflowRun } from "./embedded-store.js";

export interface EmbeddedWorkflowOptions {
  /** `<state_dir>/workflows.json`: schedules and the latest runs. */
  readonly stateFile: string;
  /** App file positions in errors are relative to this folder. */
  readonly projectDir: string;
  /** Lines for the dev terminal: runs starting and ending, task failures with their .ts position. */
  readonly log: (line: string) => void;
  /** Delay before a failed task's first retry, doubled for each further one (Temporal's default: 1 s). */
  readonly retryDelayMs?: number;
  /** How often the scheduler looks for due schedules. Default 1000 ms. */
  readonly tickMs?: number;
}

/** A declared workflow as `moose workflow list` shows it. */
export interface WorkflowListing {
  readonly name: string;
  /** In the app as loaded (its task code can run). */
  readonly declared: boolean;
  readonly schedule?: string;
  /** A schedule exists (the workflow's migration created it). */
  readonly scheduled: boolean;
  readonly paused: boolean;
  readonly nextRunAt?: string;
  readonly lastRun?: Pick<WorkflowRun, "id" | "status" | "startedAt">;
}

/** Why a run was stopped from outside: `cancel` runs the task's `onCancel`, `terminate` does not. */
type StopReason = "cancel" | "terminate" | "shutdown";

class Stopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`run ${reason === "cancel" ? "cancelled" : "terminated"}`);
  }
}

class TimedOut extends Error {}

/** A task chain failed after its retries; the error is already recorded on the task. */
class TaskFailed extends Error {}

interface Active {
  readonly run: WorkflowRun;
  readonly abort: AbortController;
  /** Settles when the run has ended and is recorded. */
  readonly done: Promise<void>;
}

/**
 * The workflow engine `moose dev` runs in-process when `[temporal_config]` points at
 * loopback and no Temporal answers there (as Moose starts Temporal in Docker). It is both
 * the target of the migrations' `workflow.*` changes (schedules, kept in
 * `<state_dir>/workflows.json`, introspected back like Temporal's) and the worker: the
 * app's `Workflow` / `Task` declarations run in this process, with moose-lib's semantics:
 *
 * - a run starts at `startingTask` (or, resumed, at a named task) with the given input
 *   (`{}` when none, as moose-lib passes it); each task's result is the input of each of
 *   its `onComplete` tasks, run one after the other;
 * - a task is tried `retries + 1` times (default retries 3), each attempt bounded by its
 *   `timeout` (default `1h`, `"never"` for none), with 1 s, 2 s, 4 s … between attempts;
 * - the workflow is tried `retries + 1` times as a whole (default 3), each attempt bounded
 *   by the workflow's `timeout`;
 * - a schedule (`@every`, cron, Temporal's `@daily` shortcuts, UTC) starts a run when due
 *   unless the previous run is still going (Temporal's default overlap policy, skip);
 *   firings missed while dev was stopped are not caught up;
 * - cancel stops the run and calls the running task's `onCancel`; terminate just stops it.
 *
 * JavaScript cannot interrupt a function: a task that timed out or was cancelled keeps
 * running in the background until it returns; its result is ignored.
 */
export class EmbeddedWorkflowEngine implements WorkflowEngine {
  readonly address = "embedded";
  readonly namespace = "default";
  private readonly state: EmbeddedWorkflowState;
  private readonly active = new Map<string, Active>();
  private declared: () => Readonly<Record<string, DeclaredWorkflow>> | undefined = () => undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly timers = new Map<string, { readonly text: string; readonly timer: ScheduleTimer }>();
  /** Schedules do not fire for times before this engine started: no catch-up after a restart. */
  private readonly openedAt = Date.now();
  private closed = false;

  constructor(private readonly options: EmbeddedWorkflowOptions) {
    this.state = readWorkflowState(options.stateFile);
    // A run still marked running was cut off when the previous process stopped.
    let interrupted = false;
    for (const run of this.state.runs) {
      if (run.status !== "running") continue;
      run.status = "terminated";
      run.endedAt ??= new Date().toISOString();
      run.error = "moose dev stopped while the run was going";
      for (const task of run.tasks) if (task.status === "running") task.status = "terminated";
      interrupted = true;
    }
    if (interrupted) this.save();
  }

  // ---------------------------------------------------------------------------
  // Migrations: schedules

  async apply(change: Change): Promise<void> {
    this.assertOpen();
    switch (change.kind) {
      case "workflow.create":
        return this.create(change.workflow);
      case "workflow.drop":
        delete this.state.schedules[change.workflow.name];
        this.timers.delete(change.workflow.name);
        this.save();
        return;
      case "workflow.modify": {
        const { before, after } = change;
        if (before.name !== after.name) {
          throw new EngineError("WORKFLOW_RENAME_UNSUPPORTED", `workflow.modify cannot rename "${before.name}" to "${after.name}": drop one and create the other`);
        }
        if (after.schedule === undefined) {
          delete this.state.schedules[after.name];
          this.save();
          return;
        }
        const existing = this.state.schedules[after.name];
        if (before.schedule === undefined) return this.create(after);
        if (existing === undefined) {
          throw new EngineError("WORKFLOW_SCHEDULE_NOT_FOUND", `cannot update the schedule for workflow "${after.name}": the embedded workflow engine has none`, {
            hint: `it was removed from ${this.options.stateFile}; create it again (e.g. apply the workflow's create step) before updating it`,
          });
        }
        this.checkSchedule(after);
        // As with Temporal: a pause made outside the migrations (moose workflow pause) stays unless the change is the pause.
        const paused = before.paused !== after.paused ? after.paused : existing.workflow.paused;
        this.state.schedules[after.name] = { ...existing, workflow: { ...after, paused } };
        this.save();
        return;
      }
      default:
        throw new EngineError("NOT_A_WORKFLOW_CHANGE", `${change.kind} is not this engine's business: the workflow engine applies workflow.* changes only`);
    }
  }

  async introspect(): Promise<Record<string, Workflow>> {
    this.assertOpen();
    return Object.fromEntries(Object.entries(this.state.schedules).map(([name, s]) => [name, s.workflow]));
  }

  private create(workflow: Workflow): void {
    if (workflow.schedule === undefined) return;
    this.checkSchedule(workflow);
    const existing = this.state.schedules[workflow.name];
    if (existing !== undefined) {
      if (canonicalJson(existing.workflow) === canonicalJson(workflow)) return;
      throw new EngineError("WORKFLOW_SCHEDULE_EXISTS", `cannot create the schedule for workflow "${workflow.name}": the embedded workflow engine has one with other settings`, {
        hint: `drop it first, or delete ${this.options.stateFile} to start over`,
      });
    }
    this.state.schedules[workflow.name] = { workflow, createdAt: Date.now() };
    this.save();
  }

  /** A schedule, retries and timeout the engine can run, checked before anything is stored. */
  private checkSchedule(workflow: Workflow): void {
    if (workflow.schedule !== undefined) scheduleTimer(workflow.name, workflow.schedule);
    if (workflow.timeout !== undefined) parseDuration(workflow.timeout, `workflow "${workflow.name}": timeout`);
    if (!Number.isInteger(workflow.retries) || workflow.retries < 0) {
      throw new InvalidInputError("WORKFLOW_RETRIES_INVALID", `workflow "${workflow.name}": retries must be a whole number ≥ 0, got ${workflow.retries}`);
    }
  }

  // ---------------------------------------------------------------------------
  // The worker and the scheduler

  /**
   * Where the app's declarations come from (the loaded app, replaced on every reload);
   * starts the scheduler.
   */
  attach(declared: () => Readonly<Record<string, DeclaredWorkflow>> | undefined): void {
    this.declared = declared;
    if (this.ticker === undefined && !this.closed) {
      this.ticker = setInterval(() => this.tick(), this.options.tickMs ?? 1_000);
      this.ticker.unref();
    }
  }

  /**
   * Starts a run of `name` and returns it as recorded at its start (status `running`).
   * `from` starts at that task instead of `startingTask` (`moose workflow resume`).
   */
  start(name: string, input?: unknown, options: { readonly from?: string; readonly trigger?: WorkflowRun["trigger"] } = {}): WorkflowRun {
    this.assertOpen();
    const declaration = this.declaration(name);
    const startingTask = declaration.config.startingTask;
    if (startingTask === undefined) {
      throw new InvalidInputError("WORKFLOW_NO_STARTING_TASK", `workflow "${name}" has no startingTask: there is nothing to run`, { hint: "set startingTask in its declaration" });
    }
    let first: Task<any, any> = startingTask;
    if (options.from !== undefined) {
      const tasks = tasksOf(startingTask);
      const found = tasks.get(options.from);
      if (found === undefined) {
        const near = closestName(options.from, [...tasks.keys()]);
        throw new InvalidInputError("WORKFLOW_TASK_NOT_FOUND", `workflow "${name}" has no task "${options.from}"${near ? ` (did you mean "${near}"?)` : ""}`, {
          hint: `its tasks: ${[...tasks.keys()].join(", ")}`,
        });
      }
      first = found;
    }
    const run: WorkflowRun = {
      id: randomUUID(),
      workflow: name,
      trigger: options.trigger ?? (options.from === undefined ? "manual" : "resume"),
      status: "running",
      startedAt: new Date().toISOString(),
      attempts: 0,
      tasks: [],
    };
    this.state.runs.push(run);
    this.save();
    const abort = new AbortController();
    const snapshot = structuredClone(run);
    this.options.log(`▶ workflow ${name} run ${run.id} started (${run.trigger})`);
    const done = this.execute(run, declaration, first, input === undefined || input === null ? {} : input, abort.signal).finally(() => {
      this.active.delete(run.id);
      this.save();
    });
    this.active.set(run.id, { run, abort, done });
    return snapshot;
  }

  /** Waits until a run has ended (tests, and dev's shutdown). */
  async settled(id: string): Promise<WorkflowRun | undefined> {
    await this.active.get(id)?.done;
    return this.state.runs.find((r) => r.id === id);
  }

  /** Stops the workflow's running runs; `cancel` calls the running task's `onCancel` first. */
  async stop(name: string, reason: "cancel" | "terminate"): Promise<WorkflowRun[]> {
    this.assertOpen();
    const running = [...this.active.values()].filter((a) => a.run.workflow === name);
    if (running.length === 0) {
      throw new InvalidInputError("WORKFLOW_NOT_RUNNING", `workflow "${name}" has no running run to ${reason}`, { hint: "moose workflow history lists its runs" });
    }
    for (const a of running) a.abort.abort(new Stopped(reason));
    await Promise.all(running.map((a) => a.done));
    return running.map((a) => structuredClone(a.run));
  }

  /** Pauses or unpauses the workflow's schedule (not the declaration: a diff shows it as drift, as with Temporal). */
  setPaused(name: string, paused: boolean): Workflow {
    this.assertOpen();
    const stored = this.state.schedules[name];
    if (stored === undefined) {
      this.declaration(name);
      throw new InvalidInputError("WORKFLOW_NOT_SCHEDULED", `workflow "${name}" has no schedule to ${paused ? "pause" : "unpause"}`, {
        hint: "only workflows with a schedule (applied by their migration) can be paused; an on-demand workflow runs only when started",
      });
    }
    this.state.schedules[name] = { ...stored, workflow: { ...stored.workflow, paused }, ...(paused ? {} : { lastFiredAt: Date.now() }) };
    this.save();
    this.options.log(`${paused ? "⏸" : "▶"} workflow ${name}: schedule ${paused ? "paused" : "unpaused"}`);
    return this.state.schedules[name]!.workflow;
  }

  /**
   * The declared and scheduled workflows. `declared` replaces the loaded app's
   * declarations (a command reading the state while dev is not running passes the
   * workflows the code declares).
   */
  list(declared: Readonly<Record<string, { readonly schedule?: string }>> = this.declaredSchedules()): WorkflowListing[] {
    const names = new Set([...Object.keys(declared), ...Object.keys(this.state.schedules)]);
    return [...names].sort().map((name) => {
      const stored = this.state.schedules[name];
      const schedule = stored?.workflow.schedule ?? declared[name]?.schedule;
      const last = this.latest(name);
      const next = stored && !stored.workflow.paused ? this.nextDue(name) : undefined;
      return {
        name,
        declared: declared[name] !== undefined,
        ...(schedule === undefined ? {} : { schedule }),
        scheduled: stored !== undefined,
        paused: stored?.workflow.paused ?? false,
        ...(next === undefined ? {} : { nextRunAt: new Date(next).toISOString() }),
        ...(last ? { lastRun: { id: last.id, status: last.status, startedAt: last.startedAt } } : {}),
      };
    });
  }

  /** Runs, newest first. */
  history(filter: { readonly status?: RunStatus; readonly limit?: number; readonly workflow?: string } = {}): WorkflowRun[] {
    return this.state.runs
      .filter((r) => (filter.status === undefined || r.status === filter.status) && (filter.workflow === undefined || r.workflow === filter.workflow))
      .reverse()
      .slice(0, filter.limit ?? 10)
      .map((r) => structuredClone(r));
  }

  /** One run: by id, else the workflow's latest. */
  status(name: string, id?: string): WorkflowRun {
    const run = id === undefined ? this.latest(name) : this.state.runs.find((r) => r.id === id || r.id.startsWith(id));
    if (run === undefined || run.workflow !== name) {
      if (id === undefined) this.declarationOrScheduled(name);
      throw new InvalidInputError("WORKFLOW_RUN_NOT_FOUND", id === undefined ? `workflow "${name}" has not run yet` : `workflow "${name}" has no run ${id}`, {
        hint: id === undefined ? `start it: moose workflow run ${name}` : "moose workflow history lists the runs",
      });
    }
    return structuredClone(run);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    const running = [...this.active.values()];
    for (const a of running) a.abort.abort(new Stopped("shutdown"));
    await Promise.all(running.map((a) => a.done));
  }

  // ---------------------------------------------------------------------------

  private declaredSchedules(): Record<string, { readonly schedule?: string }> {
    return Object.fromEntries(
      Object.entries(this.declared() ?? {}).map(([name, w]) => [name, w.config.schedule === undefined ? {} : { schedule: w.config.schedule }]),
    );
  }

  private latest(name: string): WorkflowRun | undefined {
    for (let i = this.state.runs.length - 1; i >= 0; i--) if (this.state.runs[i]!.workflow === name) return this.state.runs[i];
    return undefined;
  }

  private declaration(name: string): DeclaredWorkflow {
    const declared = this.declared() ?? {};
    const found = declared[name];
    if (found !== undefined) return found;
    const near = closestName(name, Object.keys(declared));
    throw new InvalidInputError("WORKFLOW_NOT_FOUND", `no workflow "${name}" in the app${near ? ` (did you mean "${near}"?)` : ""}`, {
      hint: Object.keys(declared).length > 0 ? `declared workflows: ${Object.keys(declared).join(", ")}` : "declare one with new Workflow(name, { startingTask }) and export it from the main file",
    });
  }

  private declarationOrScheduled(name: string): void {
    if (this.state.schedules[name] === undefined) this.declaration(name);
  }

  private timerOf(name: string, schedule: string): ScheduleTimer {
    const cached = this.timers.get(name);
    if (cached?.text === schedule) return cached.timer;
    const timer = scheduleTimer(name, schedule);
    this.timers.set(name, { text: schedule, timer });
    return timer;
  }

  private nextDue(name: string): number | undefined {
    const stored = this.state.schedules[name];
    if (stored?.workflow.schedule === undefined) return undefined;
    const base = Math.max(stored.lastFiredAt ?? stored.createdAt, this.openedAt, stored.createdAt);
    return nextFiring(this.timerOf(name, stored.workflow.schedule), base);
  }

  private tick(): void {
    // Before the app has loaded there is no code to run: a due schedule waits for it rather than failing.
    if (this.closed || this.declared() === undefined) return;
    const now = Date.now();
    for (const [name, stored] of Object.entries(this.state.schedules)) {
      if (stored.workflow.paused) continue;
      let due: number | undefined;
      try {
        due = this.nextDue(name);
      } catch (error) {
        continue; // checked when applied; a hand-edited state file is not worth a crash
      }
      if (due === undefined || due > now) continue;
      stored.lastFiredAt = now;
      if ([...this.active.values()].some((a) => a.run.workflow === name)) {
        this.options.log(`⏭ workflow ${name}: schedule fired while the previous run is still going; skipped`);
        this.save();
        continue;
      }
      try {
        this.start(name, undefined, { trigger: "schedule" });
      } catch (error) {
        this.options.log(`✗ workflow ${name}: the schedule could not start a run: ${error instanceof Error ? error.message : String(error)}`);
        this.save();
      }
    }
  }

  private async execute(run: WorkflowRun, declaration: DeclaredWorkflow, first: Task<any, any>, input: unknown, signal: AbortSignal): Promise<void> {
    const retries = declaration.config.retries ?? 3;
    const timeoutMs = declaration.config.timeout === undefined || declaration.config.timeout === "never"
      ? undefined
      : parseDuration(declaration.config.timeout, `workflow "${run.workflow}": timeout`);
    for (let attempt = 1; ; attempt++) {
      run.attempts = attempt;
      const attemptAbort = new AbortController();
      const forward = () => attemptAbort.abort(signal.reason);
      signal.addEventListener("abort", forward, { once: true });
      const results: unknown[] = [];
      try {
        await bounded(this.chain(run, first, input, results, attemptAbort.signal), timeoutMs, attemptAbort, `workflow "${run.workflow}" timed out after ${declaration.config.timeout}`);
        run.status = "completed";
        run.results = results;
        delete run.error;
        this.finish(run);
        return;
      } catch (error) {
        if (error instanceof Stopped) {
          run.status = error.reason === "cancel" ? "cancelled" : "terminated";
          run.error = error.reason === "shutdown" ? "moose dev stopped while the run was going" : `${run.status} by moose workflow ${error.reason}`;
          this.finish(run);
          return;
        }
        const timedOut = error instanceof TimedOut;
        run.error = timedOut || error instanceof TaskFailed ? error.message : describeAppError(error, this.options.projectDir);
        if (attempt > retries) {
          run.status = timedOut ? "timed_out" : "failed";
          this.finish(run);
          return;
        }
        this.options.log(`↻ workflow ${run.workflow} run ${run.id}: attempt ${attempt}/${retries + 1} failed (${run.error}); running it again`);
        this.save();
      } finally {
        signal.removeEventListener("abort", forward);
      }
    }
  }

  private finish(run: WorkflowRun): void {
    run.endedAt = new Date().toISOString();
    const took = Date.parse(run.endedAt) - Date.parse(run.startedAt);
    const mark = run.status === "completed" ? "✓" : "✗";
    this.options.log(`${mark} workflow ${run.workflow} run ${run.id} ${run.status.replace("_", " ")} in ${took} ms${run.error && run.status !== "completed" ? `: ${run.error}` : ""}`);
  }

  /** Runs `task` with retries, then its `onComplete` tasks with its result, depth first. */
  private async chain(run: WorkflowRun, task: Task<any, any>, input: unknown, results: unknown[], signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    const record: TaskRun = { name: task.name, status: "running", attempts: 0, startedAt: new Date().toISOString() };
    run.tasks.push(record);
    this.save();
    const retries = task.config.retries ?? 3;
    const timeout = task.config.timeout ?? "1h";
    const timeoutMs = timeout === "never" ? undefined : parseDuration(timeout, `task "${task.name}" of workflow "${run.workflow}": timeout`);
    let result: unknown;
    for (let attempt = 1; ; attempt++) {
      record.attempts = attempt;
      // Task input crosses a serialization boundary in Moose (Temporal's payloads): the same here, dates revived.
      const given = input === undefined || input === null ? input : (JSON.parse(JSON.stringify(input), reviveDates) as unknown);
      const context = { state: {} as Record<string, unknown>, input: given };
      const attemptAbort = new AbortController();
      const forward = () => attemptAbort.abort(signal.reason);
      signal.addEventListener("abort", forward, { once: true });
      try {
        result = await bounded(
          Promise.resolve().then(() => task.config.run(context as never)),
          timeoutMs,
          attemptAbort,
          `task "${task.name}" timed out after ${timeout}`,
        );
        break;
      } catch (error) {
        if (error instanceof Stopped) {
          record.status = error.reason === "cancel" ? "cancelled" : "terminated";
          record.endedAt = new Date().toISOString();
          if (error.reason === "cancel" && task.config.onCancel) {
            try {
              await task.config.onCancel(context as never);
            } catch (cancelError) {
              this.options.log(`✗ workflow ${run.workflow}: onCancel of task ${task.name} failed: ${describeAppError(cancelError, this.options.projectDir)}`);
            }
          }
          throw error;
        }
        if (signal.aborted) {
          // The workflow's own timeout: the run decides what happens next, not this task's retries.
          record.status = "timed_out";
          record.endedAt = new Date().toISOString();
          throw signal.reason;
        }
        record.error = error instanceof TimedOut ? error.message : describeAppError(error, this.options.projectDir);
        this.options.log(`✗ workflow ${run.workflow} task ${task.name} attempt ${attempt}/${retries + 1} failed: ${record.error}`);
        if (attempt > retries) {
          record.status = error instanceof TimedOut ? "timed_out" : "failed";
          record.endedAt = new Date().toISOString();
          throw new TaskFailed(`task ${task.name} failed after ${attempt} attempt${attempt === 1 ? "" : "s"}: ${record.error}`);
        }
        this.save();
        await sleep((this.options.retryDelayMs ?? 1_000) * 2 ** (attempt - 1), signal);
      } finally {
        signal.removeEventListener("abort", forward);
      }
    }
    record.status = "completed";
    record.endedAt = new Date().toISOString();
    delete record.error;
    // What a task returns travels as JSON in Moose; undefined (a void task) stays undefined.
    results.push(result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown));
    this.save();
    for (const next of task.config.onComplete ?? []) await this.chain(run, next, result, results, signal);
  }

  private save(): void {
    writeWorkflowState(this.options.stateFile, this.state);
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError("WORKFLOW_ENGINE_CLOSED", "the embedded workflow engine is closed");
  }
}

/** The tasks reachable from `first` (through onComplete), by name. */
function tasksOf(first: Task<any, any>): Map<string, Task<any, any>> {
  const out = new Map<string, Task<any, any>>();
  const visit = (task: Task<any, any>): void => {
    if (out.has(task.name)) return;
    out.set(task.name, task);
    for (const next of task.config.onComplete ?? []) visit(next);
  };
  visit(first);
  return out;
}

/** `work`, or a `TimedOut` after `ms`, or the abort reason when `abort` fires first. */
function bounded<T>(work: Promise<T>, ms: number | undefined, abort: AbortController, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = ms === undefined ? undefined : setTimeout(() => {
      const error = new TimedOut(message);
      abort.abort(error);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abort.signal.reason);
    };
    if (abort.signal.aborted) return onAbort();
    abort.signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        clearTimeout(timer);
        abort.signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        abort.signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function reviveDates(_key: string, value: unknown): unknown {
  return typeof value === "string" && ISO_DATE.test(value) ? new Date(value) : value;
}
