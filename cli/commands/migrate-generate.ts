import { relative } from "node:path";
import type { ColumnRename, TableRename } from "../../lib/diff/diff.js";
import type { RenameResolver, RenameSuggestion } from "../../lib/diff/rename-suggestions.js";
import type { LoadedConfig } from "../../lib/config/config.js";
import { ExitCode, InvalidInputError, MooseError } from "../../lib/errors.js";
import { replayMigrations } from "../../lib/migrations/files/sequence.js";
import { checkVersion, describeTarget, migrationSql, sqlTarget } from "../../lib/migrations/review/sql-preview.js";
import { readMigrations } from "../../lib/migrations/files/read.js";
import type { InfraMap } from "../../lib/model/infra-map.js";
import { writeMigrationSql } from "../present/sql.js";
import { generateMigration } from "../../lib/migrations/author/generate.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { renderPlanText } from "../present/plan-text.js";
import { loadProject, printWarnings } from "../project.js";
import { VERSION } from "../version.js";
import type { MigrateGenerateArgs } from "./migrate-generate.args.js";

export async function run(args: MigrateGenerateArgs, io: CliIO): Promise<number> {
  try {
    const config = await loadProject(io);
    if (args.serverVersion !== undefined) checkVersion(args.serverVersion, "--server-version");
    const { name } = args;
    if (args.empty && (args.rename?.length || args.safeTypeChange || args.backfillViews)) {
      throw new InvalidInputError("USAGE", "--empty writes a file with no steps; --rename, --safe-type-change and --backfill-views shape generated steps", { hint: "drop those flags, or drop --empty" });
    }
    const renames = parseRenameFlags(args.rename ?? [], config.olap.database);
    const ask = io.isTTY && !args.nonInteractive ? io.ask : undefined;
    const interactive = ask !== undefined;
    const result = await generateMigration(config, {
      toolVersion: VERSION,
      ...(name === undefined ? {} : { name }),
      ...(renames.tables.length + renames.columns.length > 0 ? { renames } : {}),
      ...(args.safeTypeChange ? { safeTypeChanges: true } : {}),
      ...(args.backfillViews ? { backfillNewViews: true } : {}),
      ...(args.reorderColumns ? { reorderColumns: true } : {}),
      ...(ask ? { resolveRename: promptRename(io, ask) } : {}),
      ...(args.empty ? { empty: true } : {}),
    });
    if (result.kind === "empty") {
      io.stdout.write(`Wrote ${relative(io.cwd, result.path)} (no steps: add sql(...) and check(...) steps to it)\n`);
      return ExitCode.success;
    }
    printWarnings(result.report.app.warnings, io);
    const unanswered = result.kind === "written" ? result.report.suggestions : [];
    if (result.kind === "no-changes") {
      io.stdout.write(
        (result.report.plan.held?.length ?? 0) > 0
          ? renderPlanText(result.report.plan)
          : "No changes: the code matches the state of the committed migrations; nothing written.\n",
      );
      return ExitCode.success;
    }
    io.stdout.write(renderPlanText(result.report.plan, interactive ? [] : unanswered));
    await writeSql(config, result.id, result.report.from, args.serverVersion, io);
    io.stdout.write(`\nWrote ${relative(io.cwd, result.path)}\n`);
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io);
  }
}

/**
 * The new file's SQL as deploy will run it on the target's version, read back from the file
 * as deploy reads it, replayed from the committed state it was generated against (`committed`:
 * the files before it are not read again). A step the target cannot run is a warning: the file
 * is written either way.
 */
async function writeSql(config: LoadedConfig, id: string, committed: InfraMap, version: string | undefined, io: CliIO): Promise<void> {
  const target = await sqlTarget(config, version);
  const dir = config.paths.migrationsDir;
  const [file] = readMigrations(dir, relative(config.projectDir, dir) || ".", new Set([`${id}.ts`]));
  const m = file && replayMigrations([file], committed).migrations[0];
  if (!m) return;
  try {
    const sql = await migrationSql(m, target);
    io.stdout.write("\n");
    writeMigrationSql(io, target, [sql]);
  } catch (error) {
    if (!(error instanceof MooseError)) throw error;
    io.stderr.write(`warning: ${describeTarget(target)} would refuse this migration at deploy: error[${error.code}]: ${error.located}\n${error.hint ? `  hint: ${error.hint}\n` : ""}`);
  }
}

/**
 * `--rename Old:New` renames a table, `--rename Table.old:new` a column (the table as
 * the code names it). A table of another database is `db.Table`: `--rename
 * analytics.Events:archive.Events` moves it (a new name with a database is always a
 * table), `--rename analytics.Events.old:new` renames its column. `managed` (db_name) as
 * the database is the same as none. Repeatable.
 *
 * @example parseRenameFlags(["Users.mail:email", "Accounts:Users", "Users:archive.Users"])
 * // { tables: [{ from: "Accounts", to: "Users" }, { from: "Users", to: "archive.Users" }], columns: [{ table: "Users", from: "mail", to: "email" }] }
 */
export function parseRenameFlags(list: readonly string[], managed?: string): { tables: TableRename[]; columns: ColumnRename[] } {
  const tables: TableRename[] = [];
  const columns: ColumnRename[] = [];
  const local = (name: string): string => (managed !== undefined && name.startsWith(`${managed}.`) ? name.slice(managed.length + 1) : name);
  const ident = "[A-Za-z_][A-Za-z0-9_]*";
  for (const item of list) {
    const text = item.trim();
    const table = new RegExp(`^((?:${ident}\\.)?${ident}):(${ident}\\.${ident})$`).exec(text);
    const m = table ? undefined : /^(?:((?:[A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*)\.)?([^.:\s]+):([^.:\s]+)$/.exec(text);
    if (table) {
      tables.push({ from: local(table[1]!), to: local(table[2]!) });
      continue;
    }
    if (!m) {
      throw new InvalidInputError("USAGE", `--rename ${JSON.stringify(item)} is not old:new`, {
        hint: "write --rename OldTable:NewTable for a table, --rename Table.old_column:new_column for a column (a table of another database: db.Table)",
      });
    }
    const [, owner, from, to] = m as unknown as [string, string | undefined, string, string];
    if (owner === undefined) tables.push({ from, to });
    else columns.push({ table: local(owner), from, to });
  }
  return { tables, columns };
}

/** Asks on the terminal whether a drop + add is a rename. */
function promptRename(io: CliIO, ask: NonNullable<CliIO["ask"]>): RenameResolver {
  return async (s: RenameSuggestion) => {
    const what = s.kind === "table" ? `table ${s.from} was removed and ${s.to} added (same columns)` : `${s.table}.${s.from} was removed and ${s.table}.${s.to} added (both ${s.type})`;
    const answer = await ask(`${what}.\n  Rename ${s.from} to ${s.to}, keeping the data? [Y/n] `);
    const yes = !/^n(o)?$/i.test(answer.trim());
    io.stdout.write(yes ? `  → rename\n` : `  → drop and add (the drop needs approveDataLoss in the file)\n`);
    return yes;
  };
}
