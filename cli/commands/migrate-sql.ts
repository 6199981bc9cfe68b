import { ExitCode } from "../../lib/errors.js";
import { findMigration } from "../../lib/migrations/author/rebase.js";
import { migrationSql, sqlTarget } from "../../lib/migrations/review/sql-preview.js";
import { replayMigrations } from "../../lib/migrations/files/sequence.js";
import { projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import { migrationSqlJson, writeMigrationSql } from "../present/sql.js";
import type { MigrateSqlArgs } from "./migrate-sql.args.js";

export async function run(args: MigrateSqlArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = await loadProject(io);
    const files = projectMigrations(config);
    const file = findMigration(files, args.id);
    const target = await sqlTarget(config, args.serverVersion);
    // Statements are written against the state before the migration: the files before it are replayed.
    const replay = replayMigrations(files.slice(0, files.indexOf(file) + 1));
    const sql = await migrationSql(replay.migrations.at(-1)!, target);
    if (json) io.stdout.write(JSON.stringify({ ok: true, ...(migrationSqlJson(target, [sql]) as object) }, null, 2) + "\n");
    else writeMigrationSql(io, target, [sql]);
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}
