import { type Args, defineCommand } from "../command-spec.js";

/** `moose migrate unlock`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateUnlockCommand = defineCommand({
  command: "unlock",
  describe: "clear a stale deploy lock",
  options: {},
});

export type MigrateUnlockArgs = Args<typeof migrateUnlockCommand>;
