import { register } from "./registry.js";

/** What a task's `run` receives: shared `state` and the `input` (the previous task's result). */
export type TaskContext<I> = I extends null ? { state: any; input?: null } : { state: any; input: I };

export interface TaskConfig<I, O> {
  readonly run: (context: TaskContext<I>) => Promise<O> | O;
  /** Tasks started with this task's result when it succeeds. */
  readonly onComplete?: ReadonlyArray<Task<O extends void ? null : O, any>>;
  readonly onCancel?: (context: TaskContext<I>) => Promise<void> | void;
  /** e.g. `"1h"` */
  readonly timeout?: string;
  readonly retries?: number;
}

/** One step of a workflow. Run-time only: its code never affects planning. */
export class Task<I = null, O = void> {
  readonly kind = "Task" as const;
  readonly name: string;
  readonly config: TaskConfig<I, O>;
  constructor(name: string, config: TaskConfig<I, O>) {
    this.name = name;
    this.config = config;
  }
}

export interface WorkflowConfig {
  readonly startingTask?: Task<any, any>;
  /** Cron expression (`"0 * * * *"`) or `@every <duration>`; omit for on-demand workflows. */
  readonly schedule?: string;
  readonly retries?: number;
  /** e.g. `"1h"` */
  readonly timeout?: string;
  /** Create the schedule paused. */
  readonly paused?: boolean;
}

/**
 * A Temporal workflow; with a `schedule` it becomes a Temporal schedule.
 *
 * @example
 * export const nightly = new Workflow("nightly_rollup", { startingTask: rollup, schedule: "0 3 * * *", retries: 3, timeout: "1h" });
 */
export class Workflow {
  readonly kind = "Workflow" as const;
  readonly name: string;
  readonly config: WorkflowConfig;
  constructor(name: string, config: WorkflowConfig = {}) {
    this.name = name;
    this.config = config;
    register(this);
  }
}
