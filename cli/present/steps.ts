import type { CliIO } from "../io.js";

/** A dry run's steps: number, step builder, then each statement indented under it. */
export function writePlannedSteps(
  io: CliIO,
  id: string,
  steps: ReadonlyArray<{ readonly index: number; readonly description: string; readonly statements: readonly string[]; readonly dataLoss?: string }>,
): void {
  io.stdout.write(`${id} (dry run)\n`);
  for (const s of steps) {
    io.stdout.write(`  ${s.index + 1}. ${s.description}${s.dataLoss !== undefined ? `  ⚠ ${s.dataLoss}` : ""}\n`);
    for (const sql of s.statements) io.stdout.write(`     ${sql.replace(/\n/g, "\n     ")}\n`);
  }
}
