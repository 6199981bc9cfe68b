import { type Args, defineCommand, JSON_OPTION, seconds } from "../command-spec.js";

/** `moose migrate deploy`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateDeployCommand = defineCommand({
  command: "deploy",
  describe: "apply the committed migrations that have not run yet",
  options: {
    "dry-run": { type: "boolean", default: false, describe: "print each pending step with its SQL, apply nothing" },
    "allow-out-of-order": { type: "boolean", default: false, describe: "apply pending files older than the newest applied one" },
    "lock-timeout": { type: "number", default: 0, describe: "seconds to wait for another deploy's lock", coerce: seconds("lock-timeout") },
    "resume-running": { type: "boolean", default: false, describe: "resume a migration whose deploy process died mid-step (check that step first)" },
    json: JSON_OPTION,
  },
});

export type MigrateDeployArgs = Args<typeof migrateDeployCommand>;
