import { ExitCode, InvalidInputError } from "../../lib/errors.js";
import { migrationSql, sqlTarget } from "../../lib/migrations/sql-preview.js";
import { replayMigrations } from "../../lib/migrations/sequence.js";
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
    const wanted = args.id.replace(/\.ts$/, "").replace(/^.*\//, "");
    const exact = files.filter((f) => f.id === wanted);
    const matches = exact.length > 0 ? exact : files.filter((f) => f.id.startsWith(wanted));
    if (matches.length !== 1) {
      throw new InvalidInputError(
        matches.length === 0 ? "MIGRATION_NOT_FOUND" : "MIGRATION_AMBIGUOUS",
        matches.length === 0 ? `no migration ${JSON.stringify(args.id)} in ${config.paths.migrationsDir}` : `${JSON.stringify(args.id)} names ${matches.length} migrations: ${matches.map((f) => f.id).join(", ")}`,
        { hint: files.length === 0 ? "there are no migrations yet: moose migrate generate writes one" : `name one of: ${files.slice(-5).map((f) => f.id).join(", ")}${files.length > 5 ? ", …" : ""} (moose migrate status lists them)` },
      );
    }
    const target = await sqlTarget(config, args.serverVersion);
    // Statements are written against the state before the migration: the files before it are replayed.
    const replay = replayMigrations(files.slice(0, files.indexOf(matches[0]!) + 1));
    const sql = migrationSql(replay.migrations.at(-1)!, target);
    if (json) io.stdout.write(JSON.stringify({ ok: true, ...(migrationSqlJson(target, [sql]) as object) }, null, 2) + "\n");
    else writeMigrationSql(io, target, [sql]);
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}
