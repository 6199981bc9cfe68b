import { readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import type { Change } from "../diff/change.js";
import { assertNever } from "../errors.js";
import { PACKAGE_ROOT } from "../extract/program.js";
import type { Plan, PlanStep } from "../plan/plan.js";
import { RISK_CODES } from "../plan/risk.js";
import { stepOf } from "./steps.js";
import { tsLiteral } from "./ts-literal.js";
import type { Step } from "../migration/index.js";

export const TEMPLATE_DIR = join(PACKAGE_ROOT, "migrations-template");

let compiled: HandlebarsTemplateDelegate | undefined;
function template(): HandlebarsTemplateDelegate {
  compiled ??= Handlebars.compile(readFileSync(join(TEMPLATE_DIR, "migration.ts.hbs"), "utf8"), { strict: true });
  return compiled;
}

export interface RenderInput {
  readonly id: string;
  readonly plan: Plan;
  readonly parent: string;
  readonly result: string;
  readonly toolVersion: string;
}

/**
 * The migration file for a plan. Deterministic: the same plan and hashes give
 * byte-identical text (the id carries the timestamp).
 */
export function renderMigration(input: RenderInput): string {
  const up = input.plan.steps.map((s) => ({
    call: callText(stepOf(s.change, s.risk.losesData ? false : undefined), "    "),
    comment: s.risk.losesData ? `⚠ ${s.risk.code}: ${RISK_CODES[s.risk.code].meaning}. Set approveDataLoss: true to run this step.` : "",
  }));
  const reversible = input.plan.steps.every((s) => s.reverse !== null);
  const down = reversible
    ? [...input.plan.steps].reverse().map((s) => ({ call: callText(stepOf(s.reverse!, losesDataOnReverse(s) ? true : undefined), "    ") }))
    : null;
  const ops = new Set<string>();
  for (const s of input.plan.steps) {
    ops.add(stepOf(s.change, undefined).op);
    if (reversible) ops.add(stepOf(s.reverse!, undefined).op);
  }
  return template()({
    id: input.id,
    toolVersion: input.toolVersion,
    summary: input.plan.steps.map((s) => describeChange(s.change)),
    risks: input.plan.steps.filter((s) => s.risk.losesData).map((s) => `${describeChange(s.change)}: ${RISK_CODES[s.risk.code].meaning}`),
    imports: [...ops].sort().join(", "),
    parent: input.parent,
    result: input.result,
    up,
    down,
  });
}

/**
 * Reverse steps are written for rollback. Undoing a create drops what the
 * migration made, so the approval is pre-written there: rolling back is the
 * explicit intent.
 */
function losesDataOnReverse(step: PlanStep): boolean {
  const r = step.reverse;
  return r !== null && (r.kind === "table.drop" || r.kind === "table.dropColumn" || r.kind === "topic.drop");
}

function callText(step: Step, indent: string): string {
  return `${step.op}(${step.args.map((a) => tsLiteral(a, indent)).join(", ")})`;
}

/** A short phrase for a change: the header line and the basis of the default slug. */
export function describeChange(c: Change): string {
  switch (c.kind) {
    case "table.create":
      return `create table ${c.table.name}`;
    case "table.drop":
      return `drop table ${c.table.name}`;
    case "table.rename":
      return `rename table ${c.from} to ${c.to}`;
    case "table.addColumn":
      return `add ${c.column.name} to ${c.table}`;
    case "table.dropColumn":
      return `drop ${c.column.name} from ${c.table}`;
    case "table.renameColumn":
      return `rename ${c.from} to ${c.to} in ${c.table}`;
    case "table.modifyColumn":
      return `change ${c.after.name} in ${c.table} from ${c.before.type} to ${c.after.type}${c.before.default !== c.after.default ? ` (default ${c.after.default ?? "none"})` : ""}`;
    case "table.moveColumn":
      return `move ${c.column} in ${c.table} ${c.after === null ? "first" : `after ${c.after}`}`;
    case "table.setOrderBy":
      return `change order by of ${c.table}`;
    case "table.setEngine":
      return `change engine of ${c.table} to ${c.after.kind}`;
    case "table.setPartitionBy":
      return `change partition by of ${c.table}`;
    case "table.setTtl":
      return `${c.after === undefined ? "remove" : "set"} ttl of ${c.table}`;
    case "table.setSettings":
      return `change settings of ${c.table}`;
    case "table.setLifeCycle":
      return `set life cycle of ${c.table} to ${c.after}`;
    case "view.create":
      return `create view ${c.view.name}`;
    case "view.drop":
      return `drop view ${c.view.name}`;
    case "view.modify":
      return `change view ${c.after.name}`;
    case "topic.create":
      return `create topic ${c.topic.name}`;
    case "topic.drop":
      return `delete topic ${c.topic.name}`;
    case "topic.modify":
      return `alter topic ${c.after.name}`;
    case "api.create":
      return `create api ${c.api.name}`;
    case "api.drop":
      return `drop api ${c.api.name}`;
    case "api.modify":
      return `change api ${c.after.name}`;
    case "workflow.create":
      return `create workflow ${c.workflow.name}`;
    case "workflow.drop":
      return `drop workflow ${c.workflow.name}`;
    case "workflow.modify":
      return `change workflow ${c.after.name}`;
    case "process.create":
      return `create sync ${c.process.name}`;
    case "process.drop":
      return `drop sync ${c.process.name}`;
    case "process.modify":
      return `change sync ${c.after.name}`;
    default:
      return assertNever(c, "change kind");
  }
}

/** `add_age_to_users`: the first change, plus how many more. At most 60 characters. */
export function defaultSlug(plan: Plan): string {
  const first = plan.steps[0];
  if (!first) return "empty";
  const base = slugify(describeChange(first.change).replace(/ from \S+ to .*$/, ""));
  const more = plan.steps.length - 1;
  const slug = more > 0 ? `${base}_and_${more}_more` : base;
  return slug.slice(0, 60).replace(/_+$/, "");
}

export function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** `yyyyMMddHHmmss` in UTC. */
export function timestampId(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(now.getUTCFullYear(), 4)}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`;
}
