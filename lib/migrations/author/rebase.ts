import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../../config/config.js";
import { InvalidInputError, MooseError, RefusedError } from "../../errors.js";
import { applyChange } from "../../model/apply-change.js";
import { hashInfraMap } from "../../model/infra-map.js";
import { projectMigrations } from "../../project/engines.js";
import { nextTimestamp } from "./generate.js";
import { readMigrationText, type MigrationFile } from "../files/read.js";
import { replayMigrations } from "../files/sequence.js";
import { changeOf } from "../files/steps.js";
import { stepLabel } from "../files/steps.js";
import { type LedgerView } from "../apply/status.js";

export interface RebaseResult {
  readonly from: string;
  readonly to: string;
  readonly path: string;
  readonly parent: string;
  readonly result: string;
  /** The migration it now follows. */
  readonly after: string | undefined;
}

/**
 * Finds a migration by id, file name or a unique prefix of its id.
 *
 * @example findMigration(files, "20261203104506").id // "20261203104506_first"
 */
export function findMigration(files: readonly MigrationFile[], wanted: string): MigrationFile {
  const w = wanted.replace(/\.ts$/, "").replace(/^.*\//, "");
  const exact = files.find((f) => f.id === w);
  const matches = exact ? [exact] : files.filter((f) => f.id.startsWith(w));
  if (matches.length === 1) return matches[0]!;
  throw new InvalidInputError(
    matches.length === 0 ? "MIGRATION_NOT_FOUND" : "MIGRATION_AMBIGUOUS",
    matches.length === 0 ? `no migration ${JSON.stringify(wanted)}` : `${JSON.stringify(wanted)} names ${matches.length} migrations: ${matches.map((f) => f.id).join(", ")}`,
    { hint: files.length === 0 ? "there are no migrations yet: moose migrate generate writes one" : `name one of: ${files.slice(-5).map((f) => f.id).join(", ")}${files.length > 5 ? ", …" : ""} (moose migrate status lists them)` },
  );
}

/**
 * `moose migrate rebase <id>`: after a merge brought two migrations generated from the same
 * state, moves the one not yet applied after all the others, like `git rebase`: its steps —
 * generated and hand-written, with their approvals — are kept as written and replayed on the
 * merged history (a step that no longer fits is a conflict, naming it), its `parent` and
 * `result` hashes are computed anew and it gets a timestamp after the newest migration.
 * A migration the local ledger records as applied or started is refused.
 */
export function rebaseMigration(config: LoadedConfig, wanted: string, ledger: LedgerView, now: Date = new Date()): RebaseResult {
  const files = projectMigrations(config);
  const file = findMigration(files, wanted);
  const record = ledger.records.find((r) => r.id === file.id);
  if (record) {
    throw new RefusedError("REBASE_APPLIED", `${file.displayPath} is recorded as ${record.status} in this project's ledger: rebasing it would change an applied migration's hashes`, {
      hint: `rebase the other branch's migration instead; if both were deployed somewhere, see "Team branches" in the README`,
    });
  }
  const others = files.filter((f) => f !== file);
  const base = replayMigrations(others);
  let state = base.state;
  for (const { step, origin } of file.up) {
    try {
      const change = changeOf(step, state, origin);
      if (change) state = applyChange(state, change);
    } catch (error) {
      const message = error instanceof MooseError || error instanceof Error ? error.message : String(error);
      throw new RefusedError("REBASE_CONFLICT", `${stepLabel(step)} no longer applies after ${others.at(-1)?.id ?? "the other migrations"}: ${message}`, {
        position: { file: file.displayPath, line: origin.line, column: origin.column },
        hint: "the other branch changed the same object: delete this file, run `moose migrate generate` on the merged code, and copy its hand-written steps into the new file",
      });
    }
  }
  const parent = base.hash;
  const result = hashInfraMap(state);
  const slug = file.id.slice(15);
  const newest = others.at(-1)?.id.slice(0, 14);
  const id = `${nextTimestamp(now, newest)}_${slug}`;
  const text = readFileSync(file.path, "utf8")
    .replace(`// Migration ${file.id}\n`, `// Migration ${id}\n`)
    .replace(`parent: "${file.parent}"`, `parent: "${parent}"`)
    .replace(`result: "${file.result}"`, `result: "${result}"`);
  const path = join(dirname(file.path), `${id}.ts`);
  // Read back as deploy reads it, and replayed after the others, before anything is written.
  const rebased = readMigrationText(text, `${id}.ts`, path, join(dirname(file.displayPath), `${id}.ts`));
  if (rebased.parent !== parent || rebased.result !== result) {
    throw new InvalidInputError("REBASE_UNREADABLE", `${file.displayPath}'s parent and result could not be rewritten (are they written as generated?)`, {
      hint: `set parent: "${parent}" and result: "${result}" by hand and rename the file to ${id}.ts`,
    });
  }
  replayMigrations([...others, rebased]);
  const temp = `${path}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
  if (path !== file.path) unlinkSync(file.path);
  return { from: file.id, to: id, path, parent, result, after: others.at(-1)?.id };
}
