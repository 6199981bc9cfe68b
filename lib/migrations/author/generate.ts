import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { LoadedConfig } from "../../config/config.js";
import type { ColumnRename, DiffOptions, TableRename } from "../../diff/diff.js";
import { renameHints, type RenameResolver, type RenameSuggestion } from "../../diff/rename-suggestions.js";
import { InvalidInputError } from "../../errors.js";
import { checkTopicChanges } from "../../engines/stream/topic-spec.js";
import type { ExtractedApp } from "../../extract/extract-app.js";
import { learnSqlResources } from "../../engines/olap/sql-resource-policy.js";
import { planAgainst, extractProject, extractProjectChecked, type PlanOptions, type PlanReport } from "../../project/plan-project.js";
import { readCommittedState, type CommittedState } from "../files/committed-state.js";
import { readDraft, type MigrationFile } from "../files/read.js";
import { defaultSlug, renderMigration, slugify, timestampId } from "../files/render.js";

export type GenerateResult =
  | { readonly kind: "no-changes"; readonly report: PlanReport }
  | { readonly kind: "written"; readonly id: string; readonly path: string; readonly report: PlanReport; readonly accepted: readonly RenameSuggestion[] }
  | { readonly kind: "empty"; readonly id: string; readonly path: string };

export interface GenerateOptions {
  readonly name?: string;
  readonly now?: Date;
  readonly toolVersion: string;
  /** `--rename old:new`: explicit renames, checked against the state and the code. */
  readonly renames?: DiffOptions["renames"];
  /** `--safe-type-change`: narrowing type changes as new column + backfill + swap. */
  readonly safeTypeChanges?: boolean;
  /** `--backfill-views`: new materialized views are backfilled from their sources. */
  readonly backfillNewViews?: boolean;
  /** `--reorder-columns`: existing columns move into the declared order. */
  readonly reorderColumns?: boolean;
  /**
   * Asked about each drop + add that looks like a rename (the CLI prompts on a terminal).
   * Without it nothing is guessed: the drop stays, and needs an approval as always.
   */
  readonly resolveRename?: RenameResolver;
  /** `--empty`: a file with no steps, starting and ending at the committed state, for hand-written `sql`/`check` steps. */
  readonly empty?: boolean;
}

/**
 * `moose migrate generate`: the plan from the committed sequence to the code,
 * written as a new migration file. Nothing is written when there is no change.
 */
export async function generateMigration(config: LoadedConfig, options: GenerateOptions): Promise<GenerateResult> {
  if (options.empty) return writeEmpty(config, options);
  const app = await extractProjectChecked(config);
  const { state, hash, count, newest } = committedState(config);
  // What the committed SQL resources' teardowns drop decides their steps' risks.
  await learnSqlResources(state);
  const stamp = nextTimestamp(options.now ?? new Date(), newest);
  // Renames answered in `moose dev` live in its draft: finalising it keeps them renames (not a drop + add).
  const fromDraft = draftRenames(config, hash);
  const renames = fromDraft.tables.length + fromDraft.columns.length > 0 ? renameHints([], { tables: [...(options.renames?.tables ?? []), ...fromDraft.tables], columns: [...(options.renames?.columns ?? []), ...fromDraft.columns] }) : options.renames;
  const planOptions: PlanOptions = {
    rebuildSuffix: stamp,
    ...(renames ? { renames } : {}),
    ...(options.safeTypeChanges ? { safeTypeChanges: true } : {}),
    ...(options.backfillNewViews ? { backfillNewViews: true } : {}),
    ...(options.reorderColumns ? { reorderColumns: true } : {}),
  };
  let report = planAgainst(app, state, { kind: "migrations", count }, planOptions, hash);
  const accepted: RenameSuggestion[] = [];
  if (options.resolveRename) {
    for (const s of report.suggestions) if (await options.resolveRename(s)) accepted.push(s);
    if (accepted.length > 0) report = planAgainst(app, state, { kind: "migrations", count }, { ...planOptions, renames: renameHints(accepted, options.renames) }, hash);
  }
  // Topic changes no stream engine can carry out are refused before a file is written.
  checkTopicChanges(report.changes, config.streaming);
  if (report.plan.steps.length === 0) return { kind: "no-changes", report };
  const slug = options.name === undefined ? defaultSlug(report.plan) : slugify(options.name);
  if (slug === "") throw new InvalidInputError("USAGE", `--name ${JSON.stringify(options.name)} has no letters or digits to name the file with`);
  const id = `${stamp}_${slug}`;
  const dir = config.paths.migrationsDir;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}.ts`);
  if (existsSync(path)) throw new InvalidInputError("MIGRATION_EXISTS", `${relative(config.projectDir, path)} already exists; wait a second or pass another --name`);
  writeFileSync(path, renderMigration({ id, plan: report.plan, parent: report.fromHash, result: report.resultHash, toolVersion: options.toolVersion }));
  return { kind: "written", id, path, report, accepted };
}

/**
 * `generate --empty`: a skeleton for hand-written steps. `parent` and `result` are both the
 * committed state, which `sql` and `check` steps leave as it is; the code is not read.
 */
function writeEmpty(config: LoadedConfig, options: GenerateOptions): GenerateResult {
  const { hash, newest } = committedState(config);
  const stamp = nextTimestamp(options.now ?? new Date(), newest);
  const slug = slugify(options.name ?? "manual");
  if (slug === "") throw new InvalidInputError("USAGE", `--name ${JSON.stringify(options.name)} has no letters or digits to name the file with`);
  const id = `${stamp}_${slug}`;
  const text = renderMigration({
    id,
    plan: { steps: [] },
    parent: hash,
    result: hash,
    toolVersion: options.toolVersion,
    imports: ["check", "sql"],
    notes: [
      "Hand-written: add sql(\"…\") steps to `up` (one statement each; { approveDataLoss: true } on one that deletes data) and check(\"SELECT …\", { message: \"…\" }) steps whose rows stop the deploy; put each sql step's reverse in `down`.",
      "Steps that change declared objects belong in the code: change app/index.ts and run `moose migrate generate`.",
    ],
  });
  const dir = config.paths.migrationsDir;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}.ts`);
  if (existsSync(path)) throw new InvalidInputError("MIGRATION_EXISTS", `${relative(config.projectDir, path)} already exists; wait a second or pass another --name`);
  writeFileSync(path, text);
  return { kind: "empty", id, path };
}

/**
 * The renames of `moose dev`'s draft (`migrations/.draft.ts`) when it starts where the
 * committed files end; none otherwise (a draft of another history says nothing here).
 */
function draftRenames(config: LoadedConfig, committedHash: string): { tables: TableRename[]; columns: ColumnRename[] } {
  const none = { tables: [], columns: [] };
  let draft: MigrationFile | undefined;
  try {
    draft = readDraft(config.paths.migrationsDir);
  } catch {
    return none;
  }
  if (!draft || draft.parent !== committedHash) return none;
  const tables: TableRename[] = [];
  const columns: ColumnRename[] = [];
  for (const { step } of draft.up) {
    const [a, b, c] = step.args;
    if (step.op === "renameTable" && typeof a === "string" && typeof b === "string") tables.push({ from: a, to: b });
    if (step.op === "renameColumn" && typeof a === "string" && typeof b === "string" && typeof c === "string") columns.push({ table: a, from: b, to: c });
  }
  return { tables, columns };
}

/**
 * The state the committed migration files lead to, replayed offline (only the files after
 * the state cached in the state folder, see {@link readCommittedState}), and the newest
 * file's timestamp.
 */
export function committedState(config: LoadedConfig): CommittedState {
  return readCommittedState(config.paths.migrationsDir, relative(config.projectDir, config.paths.migrationsDir) || ".", config.paths.stateDir);
}

/**
 * The new file's timestamp: now, but always after the newest committed file.
 * Files order by name, so two migrations generated within one second (or on a
 * machine whose clock is behind) would otherwise sort by slug, not by history.
 */
export function nextTimestamp(now: Date, newest: string | undefined): string {
  const stamp = timestampId(now);
  if (newest === undefined || stamp > newest) return stamp;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(newest)!;
  const next = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]) + 1));
  return timestampId(next);
}

/** Code versus the state the committed migration files lead to (read once by the caller when it needs it too). */
export function planCommitted(config: LoadedConfig, options: PlanOptions = {}, app: ExtractedApp = extractProject(config), committed: CommittedState = committedState(config)): PlanReport {
  const { state, hash, count } = committed;
  return planAgainst(app, state, { kind: "migrations", count }, options, hash);
}

/**
 * {@link planCommitted} on the checked app, with the committed SQL resources' statements read
 * by ClickHouse's parser first (their teardowns decide the risk of dropping or replacing them).
 */
export async function planCommittedChecked(config: LoadedConfig, options: PlanOptions = {}): Promise<PlanReport> {
  const app = await extractProjectChecked(config);
  await learnSqlResources(committedState(config).state);
  return planCommitted(config, options, app);
}
