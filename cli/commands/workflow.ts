import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { LoadedConfig } from "../../lib/config/config.js";
import { devWorkflow } from "../../lib/dev/client.js";
import { workflowStateFile } from "../../lib/dev/infra.js";
import { runningDevInstance } from "../../lib/dev/instance.js";
import type { WorkflowAnswer, WorkflowRequest } from "../../lib/dev/workflow-control.js";
import type { RunStatus, WorkflowListing, WorkflowRun } from "../../lib/engines/workflow/embedded.js";
import { EngineError, ExitCode, InvalidInputError } from "../../lib/errors.js";
import { extractProject } from "../../lib/project/plan-project.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import { renderTable } from "../present/table.js";
import type {
  WorkflowCancelArgs,
  WorkflowHistoryArgs,
  WorkflowListArgs,
  WorkflowPauseArgs,
  WorkflowResumeArgs,
  WorkflowRunArgs,
  WorkflowStatusArgs,
  WorkflowTerminateArgs,
  WorkflowUnpauseArgs,
} from "./workflow.args.js";

/** `moose workflow run`: the run id, at once (the run goes on in dev; `status` follows it). */
export const runWorkflow = (args: WorkflowRunArgs, io: CliIO) =>
  command(io, args.json, { action: "run", name: args.name, ...inputOf(args.input) }, (a) => a.runs!.map((r) => `▶ workflow ${r.workflow} started: run ${r.id}\n  follow it: moose workflow status ${r.workflow} --id ${r.id}\n`).join(""));

export const resumeWorkflow = (args: WorkflowResumeArgs, io: CliIO) =>
  command(io, args.json, { action: "resume", name: args.name, from: args.from, ...inputOf(args.input) }, (a) => a.runs!.map((r) => `▶ workflow ${r.workflow} started at task ${args.from}: run ${r.id}\n`).join(""));

export const listWorkflows = (args: WorkflowListArgs, io: CliIO) => command(io, args.json, { action: "list" }, (a) => listingText(a.workflows ?? []));

export const workflowHistory = (args: WorkflowHistoryArgs, io: CliIO) =>
  command(io, args.json, { action: "history", ...(args.status ? { status: args.status as RunStatus } : {}), limit: args.limit }, (a) => historyText(a.runs ?? []));

export const workflowStatus = (args: WorkflowStatusArgs, io: CliIO) =>
  command(io, args.json, { action: "status", name: args.name, ...(args.id ? { id: args.id } : {}) }, (a) => statusText(a.runs![0]!, args.verbose));

export const cancelWorkflow = (args: WorkflowCancelArgs, io: CliIO) => command(io, args.json, { action: "cancel", name: args.name }, stoppedText);
export const terminateWorkflow = (args: WorkflowTerminateArgs, io: CliIO) => command(io, args.json, { action: "terminate", name: args.name }, stoppedText);
export const pauseWorkflow = (args: WorkflowPauseArgs, io: CliIO) =>
  command(io, args.json, { action: "pause", name: args.name }, (a) => `⏸ workflow ${a.schedule!.name}: schedule "${a.schedule!.schedule}" paused\n`);
export const unpauseWorkflow = (args: WorkflowUnpauseArgs, io: CliIO) =>
  command(io, args.json, { action: "unpause", name: args.name }, (a) => `▶ workflow ${a.schedule!.name}: schedule "${a.schedule!.schedule}" unpaused\n`);

function inputOf(text: string | undefined): { input?: unknown } {
  if (text === undefined) return {};
  try {
    return { input: JSON.parse(text) as unknown };
  } catch (error) {
    throw new InvalidInputError("WORKFLOW_INPUT_INVALID", `--input is not JSON: ${(error as Error).message}`, { hint: `quote it for the shell: --input '{"day": 14}'` });
  }
}

/** One command: the running dev answers; list, history and status also read the saved state without it. */
async function command(io: CliIO, json: boolean, request: WorkflowRequest | (() => WorkflowRequest), text: (answer: WorkflowAnswer) => string): Promise<number> {
  try {
    const config = await loadProject(io);
    const req = typeof request === "function" ? request() : request;
    const dev = runningDevInstance(config.paths.stateDir);
    const answer = dev ? await devWorkflow(dev, req) : await offline(config, req);
    io.stdout.write(json ? JSON.stringify({ ok: true, ...answer }, null, 2) + "\n" : text(answer));
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}

/** Without a running dev: what the embedded engine saved, and the workflows the code declares. */
async function offline(config: LoadedConfig, request: WorkflowRequest): Promise<WorkflowAnswer> {
  const file = workflowStateFile(config);
  if (request.action !== "list" && request.action !== "history" && request.action !== "status") {
    throw new EngineError("DEV_NOT_RUNNING", `moose workflow ${request.action} needs the running moose dev: workflows run inside it`, {
      hint: "start moose dev in this project (another terminal), then run the command again",
    });
  }
  const { EmbeddedWorkflowEngine } = await import("../../lib/engines/workflow/embedded.js");
  // The engine reads the saved state; nothing is scheduled or run (it is never attached to an app).
  const engine = new EmbeddedWorkflowEngine({ stateFile: file, projectDir: config.projectDir, log: () => undefined });
  try {
    if (request.action === "list") {
      const declared = Object.fromEntries(Object.values(extractProject(config).map.workflows).map((w) => [w.name, w.schedule === undefined ? {} : { schedule: w.schedule }]));
      return { workflows: engine.list(declared) };
    }
    if (request.action === "history") return { runs: engine.history({ ...(request.status ? { status: request.status } : {}), ...(request.limit ? { limit: request.limit } : {}) }) };
    if (!existsSync(file)) {
      throw new InvalidInputError("WORKFLOW_RUN_NOT_FOUND", `workflow "${request.name}" has not run in this project (no ${relative(config.projectDir, file)})`, {
        hint: `start moose dev, then: moose workflow run ${request.name}`,
      });
    }
    return { runs: [engine.status(request.name, request.id)] };
  } finally {
    await engine.close();
  }
}

function listingText(workflows: readonly WorkflowListing[]): string {
  if (workflows.length === 0) return "No workflows declared.\n";
  return renderTable(
    ["name", "schedule", "state", "next run", "last run"],
    workflows.map((w) => [
      w.name,
      w.schedule ?? "(on demand)",
      !w.declared ? "not in the app" : w.paused ? "paused" : w.schedule !== undefined && !w.scheduled ? "schedule not applied" : "ready",
      w.nextRunAt ?? "",
      w.lastRun ? `${w.lastRun.status} ${w.lastRun.startedAt} (${w.lastRun.id.slice(0, 8)})` : "",
    ]),
  );
}

function historyText(runs: readonly WorkflowRun[]): string {
  if (runs.length === 0) return "No runs.\n";
  return renderTable(
    ["run", "workflow", "status", "started", "ended", "trigger"],
    runs.map((r) => [r.id.slice(0, 8), r.workflow, r.status, r.startedAt, r.endedAt ?? "", r.trigger]),
  );
}

function statusText(run: WorkflowRun, verbose: boolean): string {
  const lines = [
    `workflow ${run.workflow} run ${run.id}: ${run.status}${run.attempts > 1 ? ` (attempt ${run.attempts})` : ""}`,
    `  started ${run.startedAt}${run.endedAt ? `, ended ${run.endedAt}` : ""} (${run.trigger})`,
    ...(run.error && run.status !== "completed" ? [`  error: ${run.error}`] : []),
    ...run.tasks.map((t) => `  ${t.status === "completed" ? "✓" : t.status === "running" ? "…" : "✗"} ${t.name}: ${t.status}${t.attempts > 1 ? `, ${t.attempts} attempts` : ""}${t.error && t.status !== "completed" ? ` (${t.error})` : ""}`),
    ...(verbose && run.results ? [`  results: ${JSON.stringify(run.results)}`] : []),
  ];
  return lines.join("\n") + "\n";
}

function stoppedText(answer: WorkflowAnswer): string {
  return (answer.runs ?? []).map((r) => `■ workflow ${r.workflow} run ${r.id}: ${r.status}\n`).join("");
}
