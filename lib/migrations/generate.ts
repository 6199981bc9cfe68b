import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import { InvalidInputError } from "../errors.js";
import { planAgainst, extractProject, type PlanReport } from "../project/plan-project.js";
import { readMigrations } from "./read.js";
import { defaultSlug, renderMigration, slugify, timestampId } from "./render.js";
import { replayMigrations } from "./sequence.js";
import { checkTopicChanges } from "../engines/stream/topic-spec.js";

export type GenerateResult =
  | { readonly kind: "no-changes"; readonly report: PlanReport }
  | { readonly kind: "written"; readonly id: string; readonly path: string; readonly report: PlanReport };

export interface GenerateOptions {
  readonly name?: string;
  readonly now?: Date;
  readonly toolVersion: string;
}

/**
 * `moose migrate generate`: the plan from the committed sequence to the code,
 * written as a new migration file. Nothing is written when there is no change.
 */
export function generateMigration(config: LoadedConfig, options: GenerateOptions): GenerateResult {
  const report = planCommitted(config);
  if (report.plan.steps.length === 0) return { kind: "no-changes", report };
  checkTopicChanges(report.changes, config.streaming);
  const slug = options.name === undefined ? defaultSlug(report.plan) : slugify(options.name);
  if (slug === "") throw new InvalidInputError("USAGE", `--name ${JSON.stringify(options.name)} has no letters or digits to name the file with`);
  const id = `${timestampId(options.now ?? new Date())}_${slug}`;
  const dir = config.paths.migrationsDir;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}.ts`);
  if (existsSync(path)) throw new InvalidInputError("MIGRATION_EXISTS", `${relative(config.projectDir, path)} already exists; wait a second or pass another --name`);
  writeFileSync(path, renderMigration({ id, plan: report.plan, parent: report.fromHash, result: report.toHash, toolVersion: options.toolVersion }));
  return { kind: "written", id, path, report };
}

/** Code versus the state the committed migration files lead to. */
export function planCommitted(config: LoadedConfig): PlanReport {
  const files = readMigrations(config.paths.migrationsDir, relative(config.projectDir, config.paths.migrationsDir) || ".");
  const replay = replayMigrations(files);
  return planAgainst(extractProject(config), replay.state, { kind: "migrations", count: files.length });
}
