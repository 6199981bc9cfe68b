import { type Args, defineCommand } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose logs`: its flags and help text, as the parser declares them and `run` receives them. */
export const logsCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.logs,
  options: {
    follow: { alias: "f", type: "boolean", default: false },
    filter: { type: "string", describe: "only lines containing TEXT" },
    json: { type: "boolean", default: false, describe: "one JSON object per line (JSON Lines): time, level, event, command, migration, step, … or time and message" },
  },
});

export type LogsArgs = Args<typeof logsCommand>;
