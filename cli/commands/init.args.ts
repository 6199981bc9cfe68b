import { type Args, defineCommand } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose init`: its flags and help text, as the parser declares them and `run` receives them. */
export const initCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.init,
  positionals: {
    dir: { type: "string", default: ".", describe: "folder to create the project in" },
  },
  options: {},
});

export type InitArgs = Args<typeof initCommand>;
