import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";
import { SERVER_VERSION_OPTION } from "./migrate-sql.args.js";

/** `moose migrate lint`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateLintCommand = defineCommand({
  command: "lint [ids..]",
  describe: "report risky steps of the pending migrations (or those named), with codes (offline)",
  positionals: {
    ids: { type: "string", array: true, describe: "migration ids or unique prefixes (default: those the local ledger has not applied; all without one)" },
  },
  options: { "server-version": SERVER_VERSION_OPTION, json: JSON_OPTION },
});

export type MigrateLintArgs = Args<typeof migrateLintCommand>;
