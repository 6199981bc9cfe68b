import type { MigrationSql, TargetSummary } from "../../lib/migrations/review/sql-preview.js";
import { describeTarget, targetSummary } from "../../lib/migrations/review/sql-preview.js";
import type { CliIO } from "../io.js";

/**
 * A migration's SQL as `migrate sql`, `migrate generate` and `plan --sql` print it: a heading
 * naming the version it is written for, then per step its number, call and line, and each
 * statement indented under it, as deploy will send it.
 */
export function writeMigrationSql(io: CliIO, target: TargetSummary, migrations: readonly MigrationSql[]): void {
  io.stdout.write(`SQL for ${describeTarget(target)}:\n`);
  for (const m of migrations) {
    io.stdout.write(`${m.id}\n`);
    for (const s of m.steps) {
      io.stdout.write(`  ${s.index + 1}. ${s.step}  ${m.file}:${s.line}\n`);
      for (const sql of s.statements) io.stdout.write(`     ${sql.replace(/\n/g, "\n     ")}\n`);
    }
  }
}

/** The same as one JSON value. */
export function migrationSqlJson(target: TargetSummary, migrations: readonly MigrationSql[]): unknown {
  return { target: targetSummary(target), migrations };
}
