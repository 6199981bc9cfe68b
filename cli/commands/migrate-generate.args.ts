import { type Args, defineCommand } from "../command-spec.js";
import { SERVER_VERSION_OPTION } from "./migrate-sql.args.js";

/** `moose migrate generate`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateGenerateCommand = defineCommand({
  command: "generate",
  describe: "write the pending changes as a migration file in migrations/",
  options: {
    name: { type: "string", describe: "slug for the file name (default: describes the change)" },
    rename: { type: "string", array: true, describe: "a rename, not a drop + add: Old:New (table) or Table.old:new (column); repeatable" },
    "safe-type-change": { type: "boolean", default: false, describe: "write narrowing type changes as new column + backfill + swap, keeping the old values" },
    "backfill-views": { type: "boolean", default: false, describe: "backfill new materialized views from the rows their sources hold" },
    "reorder-columns": { type: "boolean", default: false, describe: "move existing columns into the declared order (otherwise order alone is not a change)" },
    "server-version": SERVER_VERSION_OPTION,
    empty: { type: "boolean", default: false, describe: "write a migration with no steps, for hand-written sql(...) and check(...) steps (the code is not read)" },
    "non-interactive": { type: "boolean", default: false, describe: "never ask (rename suggestions are printed, not applied)" },
  },
});

export type MigrateGenerateArgs = Args<typeof migrateGenerateCommand>;
