import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `moose migrate check`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateCheckCommand = defineCommand({
  command: "check",
  describe: "for CI: exit 0 when the committed migrations capture the code and are intact and approved (offline)",
  options: { json: JSON_OPTION },
});

export type MigrateCheckArgs = Args<typeof migrateCheckCommand>;
