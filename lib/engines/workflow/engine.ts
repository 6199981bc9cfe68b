import type { Change } from "../../diff/change.js";
import type { Workflow } from "../../model/infra-map.js";


export interface WorkflowEngineConfig {
  /** Temporal frontend `host:port` (`[temporal_config] address`). */
  readonly address: string;
  readonly namespace: string;
  /** Task queue the scheduled runs are started on, where moose's worker listens. Default `moose`. */
  readonly taskQueue?: string;
  /** Schedule ids are `<prefix><workflow name>`. Default `moose-`; two projects sharing a namespace need different prefixes. */
  readonly scheduleIdPrefix?: string;
  /** How long opening may take before Temporal counts as unreachable. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Deadline for each operation (one change, one introspection). Default 15000. */
  readonly requestTimeoutMs?: number;
}

/**
 * Temporal schedules for the InfraMap's workflows, through `@temporalio/client`.
 *
 * - A workflow **with** a `schedule` is one schedule, id `moose-<name>`, whose action
 *   starts workflow type `<name>` on the task queue. A workflow **without** one runs on
 *   demand and has nothing in Temporal to migrate: its create and drop are no-ops, and
 *   a modify that adds or removes the schedule creates or deletes it.
 * - `workflow.create` when the schedule already exists: adopted (nothing sent) if this
 *   tool owns it and it already equals the declaration, so re-running a migration
 *   whose first attempt died before being recorded succeeds; otherwise
 *   `WORKFLOW_SCHEDULE_EXISTS` naming the schedule.
 * - `workflow.drop` of a missing schedule succeeds: the wanted end state holds.
 * - `workflow.modify` of a missing schedule is `WORKFLOW_SCHEDULE_NOT_FOUND`: the live
 *   state is not what the ledger says, and recreating it silently would hide that.
 * - Schedules this tool did not create (no ownership memo) are never updated or deleted
 *   (`WORKFLOW_SCHEDULE_NOT_OWNED`) and never introspected.
 * - Temporal unreachable (refused, no answer in time) is `TEMPORAL_UNAVAILABLE`, raised by
 *   {@link openWorkflowEngine} before anything is applied.
 */
export interface WorkflowEngine {
  readonly address: string;
  readonly namespace: string;
  /** Applies one `workflow.*` change; any other kind is a programming error and throws. */
  apply(change: Change): Promise<void>;
  /**
   * The scheduled workflows this tool manages in the namespace, keyed by name. Reads
   * ListSchedules, which a real server serves from its visibility store: a schedule
   * created a moment ago may take a second to be listed.
   */
  introspect(): Promise<Record<string, Workflow>>;
  close(): Promise<void>;
}
