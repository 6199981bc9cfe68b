import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `moose migrate status`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateStatusCommand = defineCommand({
  command: "status",
  describe: "applied / pending / failed / edited / drift",
  options: { json: JSON_OPTION },
});

export type MigrateStatusArgs = Args<typeof migrateStatusCommand>;
