import { type Args, defineCommand, seconds } from "../command-spec.js";

/** `moose migrate resolve`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateResolveCommand = defineCommand({
  command: "resolve",
  describe: "record a migration as applied or rolled back without running it, after a fix by hand",
  options: {
    applied: { type: "string", describe: "record this migration id as applied (the live objects must be as it leaves them)" },
    "rolled-back": { type: "string", describe: "record this failed migration id as rolled back (the live objects must be as it found them)" },
    "lock-timeout": { type: "number", default: 0, describe: "seconds to wait for another deploy's lock", coerce: seconds("lock-timeout") },
  },
});

export type MigrateResolveArgs = Args<typeof migrateResolveCommand>;
