import type { EmbeddedWorkflowEngine, RunStatus, WorkflowListing, WorkflowRun } from "../engines/workflow/embedded.js";
import { assertNever, EngineError, InvalidInputError } from "../errors.js";
import type { Workflow } from "../model/infra-map.js";

/** What `moose workflow <command>` asks the running dev for. */
export type WorkflowRequest =
  | { readonly action: "run"; readonly name: string; readonly input?: unknown }
  | { readonly action: "resume"; readonly name: string; readonly from: string; readonly input?: unknown }
  | { readonly action: "list" }
  | { readonly action: "history"; readonly status?: RunStatus; readonly limit?: number }
  | { readonly action: "status"; readonly name: string; readonly id?: string }
  | { readonly action: "cancel" | "terminate"; readonly name: string }
  | { readonly action: "pause" | "unpause"; readonly name: string };

/** Its answer: the runs started, stopped or asked about, the listing, or the schedule as it now is. */
export interface WorkflowAnswer {
  readonly runs?: readonly WorkflowRun[];
  readonly workflows?: readonly WorkflowListing[];
  readonly schedule?: Workflow;
}

export const RUN_STATUSES: readonly RunStatus[] = ["running", "completed", "failed", "cancelled", "terminated", "timed_out"];

/**
 * Answers one request from the embedded engine; `temporal` is the address dev uses
 * instead when it connected to a real Temporal, which runs no task code of this tool's.
 */
export async function answerWorkflowRequest(engine: EmbeddedWorkflowEngine | undefined, temporal: string | undefined, request: WorkflowRequest): Promise<WorkflowAnswer> {
  if (engine === undefined) {
    throw new EngineError(
      "WORKFLOWS_NOT_EMBEDDED",
      temporal === undefined
        ? "workflows are off in this project ([features] workflows = false): there is nothing to run"
        : `moose dev uses the Temporal at ${temporal}, where moose-migrate runs no worker for the app's tasks`,
      {
        hint: temporal === undefined
          ? "set workflows = true in [features] and restart moose dev"
          : "use Temporal's own CLI there (temporal workflow list), or stop that Temporal and restart moose dev to run the workflows embedded",
      },
    );
  }
  switch (request.action) {
    case "run":
      return { runs: [engine.start(request.name, request.input)] };
    case "resume":
      return { runs: [engine.start(request.name, request.input, { from: request.from })] };
    case "list":
      return { workflows: engine.list() };
    case "history":
      if (request.status !== undefined && !RUN_STATUSES.includes(request.status)) {
        throw new InvalidInputError("WORKFLOW_STATUS_UNKNOWN", `no run status "${String(request.status)}"`, { hint: `one of ${RUN_STATUSES.join(", ")}` });
      }
      return { runs: engine.history({ ...(request.status ? { status: request.status } : {}), ...(request.limit ? { limit: request.limit } : {}) }) };
    case "status":
      return { runs: [engine.status(request.name, request.id)] };
    case "cancel":
    case "terminate":
      return { runs: await engine.stop(request.name, request.action) };
    case "pause":
    case "unpause":
      return { schedule: engine.setPaused(request.name, request.action === "pause") };
    default:
      return assertNever(request, "workflow request");
  }
}
