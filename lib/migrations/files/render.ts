import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type { Change } from "../../diff/change.js";
import { assertNever } from "../../errors.js";
import { PACKAGE_ROOT } from "../../extract/program.js";
import type { HeldChange, Plan, PlanStep } from "../../plan/plan.js";
import { classifyChange, guardedByPreflight, RISK_CODES } from "../../plan/risk.js";
import { stepOf } from "./steps.js";
import { tsLiteral } from "./ts-literal.js";
import type { Step } from "./api.js";

export const TEMPLATE_DIR = join(PACKAGE_ROOT, "migrations-template");

// Loaded on first render: `moose plan` and `deploy` import this module but never render.
const require = createRequire(import.meta.url);
let compiled: HandlebarsTemplateDelegate | undefined;
function template(): HandlebarsTemplateDelegate {
  if (compiled === undefined) {
    // The package's single-file build of the same version: its main entry loads the same
    // code as some 40 modules, which takes three times as long (18 ms against 6).
    const Handlebars = require("handlebars/dist/handlebars.js") as typeof import("handlebars");
    // The template uses no `@data` variables and only built-in helpers; saying so lets
    // Handlebars skip a data frame per `#each` iteration, of which a 1,000-table file has thousands.
    compiled = Handlebars.compile(readFileSync(join(TEMPLATE_DIR, "migration.ts.hbs"), "utf8"), { strict: true, data: false, knownHelpersOnly: true });
  }
  return compiled;
}

export interface RenderInput {
  readonly id: string;
  readonly plan: Plan;
  readonly parent: string;
  readonly result: string;
  readonly toolVersion: string;
  /** Lines for the header, after the change list (e.g. what a baseline is). */
  readonly notes?: readonly string[];
  /** Step builders to import besides those the steps use (a hand-written skeleton imports `sql` and `check`). */
  readonly imports?: readonly string[];
  /** Why the migration has no `down`, when it must have none whatever its steps (a baseline). */
  readonly irreversible?: string;
}

/**
 * The migration file for a plan. Deterministic: the same plan and hashes give
 * byte-identical text (the id carries the timestamp).
 */
/**
 * The steps whose reverses `down` runs, in the order they must run: the plan's order
 * backwards, except that a view's query is put back only after the tables are renamed
 * back (the old query reads the old names; forward, the renames come first for the same
 * reason, e.g. a table moved to another database and the view that reads it).
 */
function reverseOrder(steps: readonly PlanStep[]): PlanStep[] {
  const backwards = [...steps].reverse();
  const lastRename = backwards.map((s) => s.change.kind).lastIndexOf("table.rename");
  if (lastRename < 0) return backwards;
  const early = (s: PlanStep, i: number): boolean => i < lastRename && s.change.kind === "view.modify";
  return [
    ...backwards.slice(0, lastRename + 1).filter((s, i) => !early(s, i)),
    ...backwards.filter(early),
    ...backwards.slice(lastRename + 1),
  ];
}

export function renderMigration(input: RenderInput): string {
  const ops = new Set<string>();
  const call = (step: Step): string => {
    ops.add(step.op);
    return callText(step, "    ");
  };
  const up = input.plan.steps.map((s) => ({ call: call(stepOf(s.change, s.risk.losesData ? false : undefined)), comments: wrap(stepComment(s), 96) }));
  const reversible = input.irreversible === undefined && input.plan.steps.every((s) => s.reverse !== null);
  const down = reversible ? reverseOrder(input.plan.steps).map((s) => ({ call: call(stepOf(s.reverse!, losesDataOnReverse(s) ? true : undefined)) })) : null;
  return template()({
    id: input.id,
    toolVersion: input.toolVersion,
    summary: input.plan.steps.length === 0 ? ["none generated"] : input.plan.steps.map((s) => describeChange(s.change)),
    notes: (input.notes ?? []).flatMap((n) => wrap(n, 96)),
    irreversible: input.irreversible ?? "at least one step has no reverse.",
    risks: input.plan.steps.filter((s) => s.risk.losesData && !guardedByPreflight(s.change)).map((s) => `${describeChange(s.change)}: ${RISK_CODES[s.risk.code].meaning}`),
    held: (input.plan.held ?? []).flatMap((h) => wrap(`${describeChange(h.change)} (${h.lifeCycle}): ${describeWayForward(h)}`, 92).map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`))),
    imports: [...new Set([...ops, ...(input.imports ?? [])])].sort().join(", "),
    parent: input.parent,
    result: input.result,
    up,
    down,
    hasDown: down !== null,
  });
}

/**
 * Reverse steps are written for rollback. Undoing a create drops what the
 * migration made, so the approval is pre-written there: rolling back is the
 * explicit intent. A table that holds no rows of its own (S3, Kafka, Buffer, …)
 * loses nothing when dropped, so its reverse carries no approval.
 */
function losesDataOnReverse(step: PlanStep): boolean {
  const r = step.reverse;
  return (
    r !== null &&
    ((r.kind === "table.drop" && classifyChange(r).losesData) ||
      r.kind === "table.dropColumn" ||
      r.kind === "topic.drop" ||
      (r.kind === "view.drop" && r.view.inner !== undefined) ||
      ((r.kind === "sqlResource.drop" || r.kind === "sqlResource.modify") && classifyChange(r).losesData))
  );
}

/** What a reviewer should know about a step, beyond the call itself. */
function stepComment(s: PlanStep): string {
  const c = s.change;
  if (guardedByPreflight(c) && c.kind === "table.modifyColumn") {
    return (
      `⚠ ${s.risk.code}: pre-flight: this step first counts the rows of ${c.table}.${c.before.name} that would not convert to ${c.after.type} unchanged ` +
      "and stops, changing nothing, if there are any (showing how many and a few values). approveDataLoss: true converts them to the type's default (or NULL) instead."
    );
  }
  if (c.kind === "table.rebuild") {
    const kept = c.keepOldAs === undefined ? `The previous table is dropped once the copy is verified.` : `The previous table stays as ${c.keepOldAs}; to drop it instead, write approveDataLoss: true in place of keepOldAs.`;
    const lossy = s.risk.code === "REBUILD_TABLE_LOSSY" ? ` ⚠ ${RISK_CODES.REBUILD_TABLE_LOSSY.meaning}: set approveDataLoss: true to run it.` : "";
    return `Rebuild keeping every row: copies ${c.before.name} into a table with the new definition, checks row count and checksum, then swaps the names. ${kept} Stop writers first: rows written during the copy are not carried over.${lossy}`;
  }
  if (s.risk.losesData) return `⚠ ${s.risk.code}: ${RISK_CODES[s.risk.code].meaning}. Set approveDataLoss: true to run this step.`;
  switch (c.kind) {
    case "table.backfillColumn":
      return c.convertFrom !== undefined
        ? `Fills ${c.column} with ${c.convertFrom} converted to the new type; values that do not convert become NULL or the type's default. To convert differently, write { expression: "…SQL…" }.`
        : `Fills ${c.column} with the expression, in every row (a mutation; the step waits for it).`;
    case "table.renameColumn":
      return c.to.endsWith("__moose_old") ? `Keeps the original values of ${c.from} as ${c.to}; a later migration drops it (with an approval) once the new column is checked.` : "";
    case "table.copyRows":
      return `Copies the rows of ${c.from} into ${c.to} (which must be empty), then checks count and checksum. ${c.from} stays as it is.`;
    case "view.backfill":
      return `Runs ${c.view.name}'s SELECT over the rows its sources already hold. Rows inserted while it runs can be counted twice: stop writers first.`;
    default:
      return "";
  }
}

/** The way forward for a held change, in words. */
export function describeWayForward(h: HeldChange): string {
  const name = h.object.replace(/^[a-z]+:/, "");
  switch (h.wayForward) {
    case "manage":
      return `moose never changes an externally managed object; set lifeCycle: LifeCycle.FULLY_MANAGED on ${name} to let it`;
    case "new-version":
      return h.change.kind === "table.drop"
        ? `the table stays. To replace it, declare a new version (version: "2"): moose creates it and copies the rows over. To drop it, restore the declaration with lifeCycle: LifeCycle.FULLY_MANAGED, deploy that, then remove it (the drop needs an approval)`
        : `declare a new version of the table (version: "2") with the change: moose creates it and copies the rows over, and ${name} stays`;
    case "unprotect":
      return `set lifeCycle: LifeCycle.FULLY_MANAGED on ${name} and deploy that first; the change then follows in the next migration`;
    default:
      return h.wayForward satisfies never;
  }
}

/** Splits text into lines of at most `width` characters, at spaces. */
function wrap(text: string, width: number): string[] {
  if (text === "") return [];
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
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
    case "table.setPrimaryKey":
      return `${c.after === undefined ? "remove the separate primary key" : "set primary key"} of ${c.table}`;
    case "table.setSampleBy":
      return `${c.after === undefined ? "remove" : "set"} sample by of ${c.table}`;
    case "table.setIndexes":
      return `change indexes of ${c.table}`;
    case "table.setConstraints":
      return `change constraints of ${c.table}`;
    case "table.setProjections":
      return `change projections of ${c.table}`;
    case "table.setLifeCycle":
      return `set life cycle of ${c.table} to ${c.after}`;
    case "table.rebuild":
      return `rebuild ${c.before.name}`;
    case "table.backfillColumn":
      return `backfill ${c.column} in ${c.table}`;
    case "table.copyRows":
      return `copy rows of ${c.from} to ${c.to}`;
    case "view.backfill":
      return `backfill view ${c.view.name}`;
    case "view.create":
      return `create view ${c.view.name}`;
    case "view.drop":
      return `drop view ${c.view.name}`;
    case "view.modify":
      return `change view ${c.after.name}`;
    case "plainView.create":
      return `create view ${c.view.name}`;
    case "plainView.drop":
      return `drop view ${c.view.name}`;
    case "plainView.modify":
      return `change view ${c.after.name}`;
    case "sqlResource.create":
      return `create SQL resource ${c.resource.name}`;
    case "sqlResource.drop":
      return `drop SQL resource ${c.resource.name}`;
    case "sqlResource.modify":
      return `change SQL resource ${c.after.name}`;
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
