import { type Args, defineCommand } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";

/** `moose query`: its flags and help text, as the parser declares them and `run` receives them. */
export const queryCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.query,
  positionals: {
    sql: { type: "string", demandOption: true },
  },
  options: {
    write: { type: "boolean", default: false, describe: "allow statements that change data or schema" },
    format: { type: "string", choices: ["table", "json"], default: "table" },
  },
});

export type QueryArgs = Args<typeof queryCommand>;
