import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/**
 * `moose workflow …`, Moose's workflow commands: they act on the workflow engine of the
 * running `moose dev` (the embedded one); list, history and status also answer from its
 * saved state when dev is not running.
 */
const NAME = { name: { type: "string", demandOption: true, describe: "the workflow's name (new Workflow(name, …))" } } as const;

export const workflowRunCommand = defineCommand({
  command: "run <name>",
  describe: "start a run of a workflow (in the running moose dev)",
  positionals: NAME,
  options: { input: { type: "string", alias: "i", describe: "the starting task's input, as JSON" }, json: JSON_OPTION },
});
export type WorkflowRunArgs = Args<typeof workflowRunCommand>;

export const workflowResumeCommand = defineCommand({
  command: "resume <name>",
  describe: "start a run of a workflow at one of its tasks",
  positionals: NAME,
  options: {
    from: { type: "string", demandOption: true, describe: "the task to start at" },
    input: { type: "string", alias: "i", describe: "that task's input, as JSON" },
    json: JSON_OPTION,
  },
});
export type WorkflowResumeArgs = Args<typeof workflowResumeCommand>;

export const workflowListCommand = defineCommand({
  command: "list",
  describe: "the declared workflows, their schedules and last runs",
  options: { json: JSON_OPTION },
});
export type WorkflowListArgs = Args<typeof workflowListCommand>;

export const workflowHistoryCommand = defineCommand({
  command: "history",
  describe: "the latest runs, newest first",
  options: {
    status: { type: "string", alias: "s", choices: ["running", "completed", "failed", "cancelled", "terminated", "timed_out"], describe: "only runs with this status" },
    limit: { type: "number", alias: "l", default: 10, describe: "at most this many runs" },
    json: JSON_OPTION,
  },
});
export type WorkflowHistoryArgs = Args<typeof workflowHistoryCommand>;

export const workflowStatusCommand = defineCommand({
  command: "status <name>",
  describe: "a run's status and its tasks (the latest run unless --id)",
  positionals: NAME,
  options: {
    id: { type: "string", describe: "the run id (or its first characters)" },
    verbose: { type: "boolean", default: false, describe: "show each task's result" },
    json: JSON_OPTION,
  },
});
export type WorkflowStatusArgs = Args<typeof workflowStatusCommand>;

export const workflowCancelCommand = defineCommand({
  command: "cancel <name>",
  describe: "stop a workflow's running runs, calling the running task's onCancel",
  positionals: NAME,
  options: { json: JSON_OPTION },
});
export type WorkflowCancelArgs = Args<typeof workflowCancelCommand>;

export const workflowTerminateCommand = defineCommand({
  command: "terminate <name>",
  describe: "stop a workflow's running runs at once (no onCancel)",
  positionals: NAME,
  options: { json: JSON_OPTION },
});
export type WorkflowTerminateArgs = Args<typeof workflowTerminateCommand>;

export const workflowPauseCommand = defineCommand({
  command: "pause <name>",
  describe: "pause a workflow's schedule",
  positionals: NAME,
  options: { json: JSON_OPTION },
});
export type WorkflowPauseArgs = Args<typeof workflowPauseCommand>;

export const workflowUnpauseCommand = defineCommand({
  command: "unpause <name>",
  describe: "unpause a workflow's schedule",
  positionals: NAME,
  options: { json: JSON_OPTION },
});
export type WorkflowUnpauseArgs = Args<typeof workflowUnpauseCommand>;
