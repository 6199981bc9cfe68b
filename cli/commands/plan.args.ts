import { type Args, checkedNumber, defineCommand, JSON_OPTION } from "../command-spec.js";
import { TOP_LEVEL_COMMANDS } from "../help.js";
import { SERVER_VERSION_OPTION } from "./migrate-sql.args.js";

/** `moose plan`: its flags and help text, as the parser declares them and `run` receives them. */
export const planCommand = defineCommand({
  ...TOP_LEVEL_COMMANDS.plan,
  options: {
    json: JSON_OPTION,
    sql: { type: "boolean", default: false, describe: "also print the SQL each step would run at deploy (offline; see --server-version)" },
    "server-version": SERVER_VERSION_OPTION,
    url: { type: "string", describe: "plan against a running production instance (moose prod)" },
    token: { type: "string", describe: "admin bearer token for --url (or MOOSE_ADMIN_TOKEN)" },
    timeout: {
      type: "number",
      describe: "seconds to wait for the --url instance (default 10)",
      coerce: checkedNumber("timeout", "a positive number of seconds", (n) => Number.isFinite(n) && n > 0),
    },
  },
});

export type PlanArgs = Args<typeof planCommand>;
