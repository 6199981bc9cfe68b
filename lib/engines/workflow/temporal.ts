import { hostname } from "node:os";
import { ScheduleAlreadyRunning, ScheduleClient, ScheduleNotFoundError, type Connection, type ScheduleDescription } from "@temporalio/client";
import type { Change } from "../../diff/change.js";
import { EngineError, InvalidInputError, MooseError, RefusedError } from "../../errors.js";
import { canonicalJson, type Workflow } from "../../model/infra-map.js";
import { temporalError } from "./connect.js";
import { actionFor, DEFAULT_SCHEDULE_ID_PREFIX, DEFAULT_TASK_QUEUE, ownerOf, scheduleIdFor, scheduleOptionsFor, specFor, workflowFromDescription, type ScheduleMapping } from "./schedule.js";
import type { WorkflowEngine, WorkflowEngineConfig } from "./engine.js";

/**
 * The SDK turns the server's INVALID_ARGUMENT "Invalid schedule spec: ..." into a bare
 * TypeError; only CreateSchedule and UpdateSchedule can get one, so only they map it.
 */
function rejectedSpec(err: unknown, workflow: Workflow): unknown {
  if (!(err instanceof TypeError) || err instanceof MooseError) return err;
  return new InvalidInputError("WORKFLOW_SCHEDULE_INVALID", `Temporal rejected schedule "${workflow.schedule}" of workflow "${workflow.name}": ${err.message}`, {
    cause: err,
    hint: 'write a cron expression ("0 3 * * *") or "@every <duration>" ("@every 15m")',
  });
}

export class TemporalWorkflowEngine implements WorkflowEngine {
  readonly address: string;
  readonly namespace: string;
  private readonly schedules: ScheduleClient;
  private readonly mapping: ScheduleMapping;
  private readonly requestTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly connection: Connection,
    config: WorkflowEngineConfig,
  ) {
    this.address = config.address;
    this.namespace = config.namespace;
    this.mapping = { idPrefix: config.scheduleIdPrefix ?? DEFAULT_SCHEDULE_ID_PREFIX, taskQueue: config.taskQueue ?? DEFAULT_TASK_QUEUE };
    this.requestTimeoutMs = config.requestTimeoutMs ?? 15_000;
    this.schedules = new ScheduleClient({ connection, namespace: config.namespace, identity: `moose-migrate ${process.pid}@${hostname()}` });
  }

  async apply(change: Change): Promise<void> {
    this.assertOpen();
    switch (change.kind) {
      case "workflow.create":
        return this.run(`creating the schedule for workflow "${change.workflow.name}"`, () => this.create(change.workflow));
      case "workflow.drop":
        return this.run(`deleting the schedule for workflow "${change.workflow.name}"`, () => this.drop(change.workflow));
      case "workflow.modify":
        return this.run(`updating the schedule for workflow "${change.after.name}"`, () => this.modify(change.before, change.after));
      default:
        throw new EngineError("NOT_A_WORKFLOW_CHANGE", `${change.kind} is not this engine's business: the workflow engine applies workflow.* changes only`);
    }
  }

  async introspect(): Promise<Record<string, Workflow>> {
    this.assertOpen();
    return this.run("listing schedules", async () => {
      const out: Record<string, Workflow> = {};
      const prefix = this.mapping.idPrefix;
      for await (const summary of this.schedules.list({ pageSize: 100 })) {
        if (!summary.scheduleId.startsWith(prefix)) continue;
        const owner = ownerOf(summary.memo);
        if (owner === undefined) continue;
        const description = await this.describe(summary.scheduleId);
        if (description === undefined) continue; // deleted since it was listed
        out[owner.workflow] = workflowFromDescription(owner.workflow, description);
      }
      return out;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }

  private async create(workflow: Workflow): Promise<void> {
    if (workflow.schedule === undefined) return;
    const options = scheduleOptionsFor(workflow, this.mapping);
    try {
      await this.schedules.create(options);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw rejectedSpec(err, workflow);
      const existing = await this.describe(options.scheduleId);
      if (existing !== undefined && ownerOf(existing.memo)?.workflow === workflow.name && this.matches(existing, workflow)) return;
      const whose = existing !== undefined && ownerOf(existing.memo) === undefined ? "moose-migrate did not create it" : "its settings differ from the declaration";
      throw new EngineError(
        "WORKFLOW_SCHEDULE_EXISTS",
        `cannot create the schedule for workflow "${workflow.name}": schedule "${options.scheduleId}" already exists in Temporal namespace "${this.namespace}" at ${this.address} and ${whose}`,
        { cause: err, hint: `delete it (temporal schedule delete --schedule-id ${options.scheduleId}) or rename the workflow` },
      );
    }
  }

  private async drop(workflow: Workflow): Promise<void> {
    if (workflow.schedule === undefined) return;
    const id = scheduleIdFor(workflow.name, this.mapping);
    const existing = await this.describe(id);
    if (existing === undefined) return;
    this.assertOwned(id, workflow.name, existing);
    try {
      await this.schedules.getHandle(id).delete();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
  }

  private async modify(before: Workflow, after: Workflow): Promise<void> {
    if (before.name !== after.name) {
      throw new EngineError("WORKFLOW_RENAME_UNSUPPORTED", `workflow.modify cannot rename "${before.name}" to "${after.name}": drop one and create the other`);
    }
    if (before.schedule === undefined && after.schedule === undefined) return;
    if (before.schedule === undefined) return this.create(after);
    if (after.schedule === undefined) return this.drop(before);

    const id = scheduleIdFor(after.name, this.mapping);
    const handle = this.schedules.getHandle(id);
    const definitionChanged = before.schedule !== after.schedule || before.retries !== after.retries || before.timeout !== after.timeout;
    // Built before any request, so a bad duration fails without touching Temporal.
    const spec = specFor(after);
    const action = actionFor(after, this.mapping);
    try {
      if (definitionChanged) {
        // UpdateSchedule replaces spec, action, policies and state as a whole; the SDK
        // describes first and we keep policies and state as they are. Pausing is left
        // to PatchSchedule below so that it is recorded with a note, like a manual pause.
        await handle.update((current) => {
          this.assertOwned(id, after.name, current);
          return {
            spec,
            action: { ...action, workflowId: current.action.workflowId, args: current.action.args ?? [] },
            policies: current.policies,
            state: {
              paused: current.state.paused,
              ...(current.state.note === undefined ? {} : { note: current.state.note }),
              ...(current.state.remainingActions === undefined ? {} : { remainingActions: current.state.remainingActions }),
            },
          };
        });
      } else {
        this.assertOwned(id, after.name, await handle.describe());
      }
      if (before.paused !== after.paused) {
        if (after.paused) await handle.pause("paused by moose-migrate");
        else await handle.unpause("unpaused by moose-migrate");
      }
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw rejectedSpec(err, after);
      throw new EngineError(
        "WORKFLOW_SCHEDULE_NOT_FOUND",
        `cannot update the schedule for workflow "${after.name}": schedule "${id}" does not exist in Temporal namespace "${this.namespace}" at ${this.address}`,
        { cause: err, hint: "it was deleted outside moose-migrate; create it again (e.g. apply the workflow's create step) before updating it" },
      );
    }
  }

  private async describe(id: string): Promise<ScheduleDescription | undefined> {
    try {
      return await this.schedules.getHandle(id).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
  }

  private matches(existing: ScheduleDescription, workflow: Workflow): boolean {
    const action = existing.action;
    if (action.workflowType !== workflow.name || action.taskQueue !== this.mapping.taskQueue) return false;
    return canonicalJson(workflowFromDescription(workflow.name, existing)) === canonicalJson({ ...workflow, schedule: workflow.schedule?.trim() });
  }

  private assertOwned(id: string, name: string, description: ScheduleDescription): void {
    if (ownerOf(description.memo)?.workflow === name) return;
    throw new RefusedError(
      "WORKFLOW_SCHEDULE_NOT_OWNED",
      `schedule "${id}" in Temporal namespace "${this.namespace}" at ${this.address} was not created by moose-migrate for workflow "${name}"; leaving it alone`,
      { hint: "delete or rename it in Temporal, or set a different schedule id prefix" },
    );
  }

  /** One operation under one deadline, its failures as our errors. */
  private async run<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.connection.withDeadline(Date.now() + this.requestTimeoutMs, fn);
    } catch (err) {
      throw temporalError(err, { address: this.address, namespace: this.namespace, doing });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EngineError("WORKFLOW_ENGINE_CLOSED", `the workflow engine for ${this.address} is closed`);
  }
}
