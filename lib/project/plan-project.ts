import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import { keepColumnOrder } from "../plan/column-order.js";
import { diff, type DiffOptions } from "../diff/diff.js";
import type { Change } from "../diff/change.js";
import { suggestRenames, type RenameSuggestion } from "../diff/rename-suggestions.js";
import { AppExtractor, type ExtractedApp, type RenameHints } from "../extract/extract-app.js";
import { applyChange } from "../model/apply-change.js";
import { emptyInfraMap, hashKeepingEntries, type InfraMap } from "../model/infra-map.js";
import { allowOptimization } from "../extract/tiering.cjs";
import { planWithResult, type Plan } from "../plan/plan.js";
import { checkMapSql } from "../engines/olap/statement-policy.js";

/** Where the "current" side of a plan came from. */
export type StateSource = { readonly kind: "empty" } | { readonly kind: "migrations"; readonly count: number } | { readonly kind: "remote"; readonly url: string };

export interface PlanReport {
  readonly source: StateSource;
  readonly from: InfraMap;
  readonly to: InfraMap;
  readonly fromHash: string;
  /** Hash of the code's map. */
  readonly toHash: string;
  /**
   * The state after the plan's steps: the code's map, unless life cycles hold changes back
   * or the plan keeps data on the side (a safe type change keeps the old column).
   */
  readonly result: InfraMap;
  readonly resultHash: string;
  readonly changes: readonly Change[];
  readonly plan: Plan;
  /** Drops and adds that look like renames and were not declared as such. */
  readonly suggestions: readonly RenameSuggestion[];
  readonly app: ExtractedApp;
}

export interface PlanOptions {
  /** Renames from the command line (`generate --rename`); invalid ones are errors. */
  readonly renames?: DiffOptions["renames"];
  /** Suffix of the name a rebuild keeps the previous table under (the migration's timestamp). */
  readonly rebuildSuffix?: string;
  readonly safeTypeChanges?: boolean;
  readonly backfillNewViews?: boolean;
  /**
   * Move existing columns into the declared order. Without it, the columns a table (topic,
   * API) already has keep their order and only new ones follow the declaration: order
   * alone is not worth a migration (see `keepColumnOrder`).
   */
  readonly reorderColumns?: boolean;
}

/** Changes from which a plan is a long job for V8's optimizing compiler to pay for (see `allowOptimization`). */
const LONG_PLAN = 200;

/**
 * Code versus current state: the one planner behind `plan`, `dev`,
 * `migrate generate` and `plan --url`. Rename hints declared in the code apply where
 * the current state still has the old name; explicit `options.renames` must fit.
 * `currentHash` is `hashInfraMap(current)`, when the caller knows it already.
 */
export function planAgainst(app: ExtractedApp, current: InfraMap, source: StateSource, options: PlanOptions = {}, currentHash: string = hashKeepingEntries(current)): PlanReport {
  // Hashed before the comparison: the diff skips tables known to be equal (`knownEqualEntries`).
  const toHash = hashKeepingEntries(app.map);
  const fromCode = applicableHints(app.renames, current);
  const renames = {
    tables: [...fromCode.tables, ...(options.renames?.tables ?? [])],
    columns: [...fromCode.columns, ...(options.renames?.columns ?? [])],
  };
  const desired = options.reorderColumns ? app.map : keepColumnOrder(app.map, current, renames);
  const changes = diff(current, desired, { renames });
  // Planning, rendering and checking hundreds of steps is a long job (tiering.cts): a first
  // generate at 1,000 tables ran 2.4 s with the optimizing compiler off, 1.8 s with it on.
  if (changes.length >= LONG_PLAN) allowOptimization();
  const planned = planWithResult(changes, {
    from: current,
    to: desired,
    ...(options.rebuildSuffix !== undefined ? { rebuildSuffix: options.rebuildSuffix } : {}),
    ...(options.safeTypeChanges ? { safeTypeChanges: true } : {}),
    ...(options.backfillNewViews ? { backfillNewViews: true } : {}),
  });
  const p = planned.plan;
  const result = planned.result ?? p.steps.reduce((state, s) => applyChange(state, s.change), current);
  return {
    source,
    from: current,
    to: app.map,
    fromHash: currentHash,
    toHash,
    result,
    // Usually the plan reaches the code's state (nothing held back), made of entries hashed above.
    resultHash: result === app.map ? toHash : hashKeepingEntries(result),
    changes,
    plan: p,
    suggestions: suggestRenames(changes),
    app,
  };
}

/**
 * Code hints that can apply to `current`: the old name is still there. A hint naming an
 * object the state never had (a fresh database, a typo) is left out rather than refused,
 * since it stays in the code for good.
 */
export function applicableHints(hints: RenameHints | undefined, current: InfraMap): { tables: RenameHints["tables"][number][]; columns: RenameHints["columns"][number][] } {
  const has = (name: string) => Object.prototype.hasOwnProperty.call(current.tables, name);
  const tables = (hints?.tables ?? []).filter((h) => has(h.from) && !has(h.to));
  const oldName = new Map(tables.map((h) => [h.to, h.from]));
  const columns = (hints?.columns ?? []).filter((h) => {
    const name = oldName.get(h.table) ?? h.table;
    const table = has(name) ? current.tables[name] : undefined;
    return table !== undefined && table.columns.some((c) => c.name === h.from) && !table.columns.some((c) => c.name === h.to);
  });
  return { tables, columns };
}

/** Extracts the project's app. */
export function extractProject(config: LoadedConfig): ExtractedApp {
  return new AppExtractor({ projectDir: config.projectDir, mainFile: config.paths.mainFile, topicRetentionMs: config.streaming.retentionMs, database: config.olap.database, clusters: (config.olap.clusters ?? []).map((c) => c.name), cacheDir: config.paths.stateDir }).extract();
}

/**
 * Extracts the project's app and has ClickHouse's parser read every SQL text it declares
 * (defaults, keys, TTLs, view queries): each must be one expression (or one SELECT), so
 * nothing planned from it can carry a second statement (`SQL_MULTI_STATEMENT`,
 * `SQL_EXPRESSION_INVALID`, with the declaration's file:line).
 */
export async function extractProjectChecked(config: LoadedConfig): Promise<ExtractedApp> {
  const app = extractProject(config);
  await checkAppSql(app, config.projectDir);
  return app;
}

/**
 * See {@link extractProjectChecked}. Texts found good are remembered in
 * `.moose/sql-checked` (sha256 of parser, grammar and text), so a command whose texts
 * were all read before does not load ClickHouse's parser; deploy reads every statement
 * it runs again, whatever this file says.
 */
export async function checkAppSql(app: ExtractedApp, projectDir: string | undefined): Promise<void> {
  if (projectDir === undefined) return checkMapSql(app.map, (key) => app.locations[key]);
  const file = join(projectDir, ".moose", "sql-checked");
  // Read once per process: `moose dev` checks on every save and must not read the file each time.
  let known = checkedByFile.get(file);
  if (known === undefined) checkedByFile.set(file, (known = new Set(readLines(file))));
  const before = known.size;
  try {
    await checkMapSql(app.map, (key) => app.locations[key], known);
  } finally {
    if (known.size > before) writeLines(file, [...known].slice(-20_000));
  }
}

const checkedByFile = new Map<string, Set<string>>();

function readLines(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => /^[0-9a-f]{64}$/.test(l));
  } catch {
    return [];
  }
}

/** Best effort: a cache that cannot be written only costs the next command a parse. */
function writeLines(file: string, lines: readonly string[]): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, lines.join("\n") + "\n");
    renameSync(temp, file);
  } catch {
    // not fatal
  }
}

/**
 * `moose plan` on a local project. Until migrations are recorded the current
 * state is empty: every declared object is new.
 */
export function planProject(config: LoadedConfig): PlanReport {
  return planAgainst(extractProject(config), emptyInfraMap(), { kind: "empty" });
}
