import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `moose migrate baseline`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateBaselineCommand = defineCommand({
  command: "baseline",
  describe: "adopt an existing database: write a baseline migration of the declared objects it has, recorded as applied",
  options: {
    name: { type: "string", default: "baseline", describe: "slug for the file name" },
    json: JSON_OPTION,
  },
});

export type MigrateBaselineArgs = Args<typeof migrateBaselineCommand>;
