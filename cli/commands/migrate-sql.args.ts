import { type Args, defineCommand, JSON_OPTION } from "../command-spec.js";

/** `--server-version`: the ClickHouse version SQL is written for, without connecting (also on `generate` and `plan --sql`). */
export const SERVER_VERSION_OPTION = {
  type: "string",
  describe: "ClickHouse version to write the SQL for, e.g. 24.8 (default: clickhouse_config.server_version, else the embedded engine's)",
} as const;

/** `moose migrate sql <id>`: its flags and help text, as the parser declares them and `run` receives them. */
export const migrateSqlCommand = defineCommand({
  command: "sql <id>",
  describe: "print the SQL each step of a migration runs at deploy (offline: no database)",
  positionals: {
    id: { type: "string", demandOption: true, describe: "the migration: its id, file name or a unique prefix (the timestamp)" },
  },
  options: {
    "server-version": SERVER_VERSION_OPTION,
    json: JSON_OPTION,
  },
});

export type MigrateSqlArgs = Args<typeof migrateSqlCommand>;
