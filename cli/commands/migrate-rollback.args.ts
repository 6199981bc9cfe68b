import { type Args, defineCommand, JSON_OPTION, seconds } from "../command-spec.js";

/** `moose migrate rollback`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateRollbackCommand = defineCommand({
  command: "rollback",
  describe: "undo the newest applied migration (or every one after --to) with its reverse steps",
  options: {
    to: { type: "string", describe: "roll back every migration applied after this id (which stays applied)" },
    "dry-run": { type: "boolean", default: false, describe: "print the reverse steps with their SQL, run nothing" },
    "accept-data-loss": { type: "boolean", default: false, describe: "run reverse steps that lose data (⚠ in --dry-run)" },
    "lock-timeout": { type: "number", default: 0, describe: "seconds to wait for another deploy's lock", coerce: seconds("lock-timeout") },
    json: JSON_OPTION,
  },
});

export type MigrateRollbackArgs = Args<typeof migrateRollbackCommand>;
