import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `moose migrate rebase <id>`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateRebaseCommand = defineCommand({
  command: "rebase <id>",
  describe: "move a migration not yet applied after the others (after a merge of two branches): new hashes and timestamp, same steps",
  positionals: {
    id: { type: "string", demandOption: true, describe: "the migration: its id, file name or a unique prefix" },
  },
  options: { json: JSON_OPTION },
});

export type MigrateRebaseArgs = Args<typeof migrateRebaseCommand>;
