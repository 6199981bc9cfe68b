import type { LoadedConfig } from "../config/config.js";
import { diff } from "../diff/diff.js";
import type { Change } from "../diff/change.js";
import { AppExtractor, type ExtractedApp } from "../extract/extract-app.js";
import { emptyInfraMap, hashInfraMap, type InfraMap } from "../model/infra-map.js";
import { plan, type Plan } from "../plan/plan.js";

/** Where the "current" side of a plan came from. */
export type StateSource = { readonly kind: "empty" } | { readonly kind: "migrations"; readonly count: number } | { readonly kind: "remote"; readonly url: string };

export interface PlanReport {
  readonly source: StateSource;
  readonly from: InfraMap;
  readonly to: InfraMap;
  readonly fromHash: string;
  readonly toHash: string;
  readonly changes: readonly Change[];
  readonly plan: Plan;
  readonly app: ExtractedApp;
}

/**
 * Code versus current state: the one planner behind `plan`, `dev`,
 * `migrate generate` and `plan --url`.
 */
export function planAgainst(app: ExtractedApp, current: InfraMap, source: StateSource): PlanReport {
  const changes = diff(current, app.map);
  return {
    source,
    from: current,
    to: app.map,
    fromHash: hashInfraMap(current),
    toHash: hashInfraMap(app.map),
    changes,
    plan: plan(changes, { from: current, to: app.map }),
    app,
  };
}

/** Extracts the project's app. */
export function extractProject(config: LoadedConfig): ExtractedApp {
  return new AppExtractor({ projectDir: config.projectDir, mainFile: config.paths.mainFile }).extract();
}

/**
 * `moose plan` on a local project. Until migrations are recorded the current
 * state is empty: every declared object is new.
 */
export function planProject(config: LoadedConfig): PlanReport {
  return planAgainst(extractProject(config), emptyInfraMap(), { kind: "empty" });
}
