import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose ls`: its flags and help text, as the parser declares them and `run` receives them. */
export const lsCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.ls,
  options: {
    json: JSON_OPTION,
    type: { type: "string", choices: ["table", "view", "topic", "api", "workflow", "process"], describe: "only objects of this kind" },
  },
});

export type LsArgs = Args<typeof lsCommand>;
