import type { Change } from "../../lib/diff/change.js";
import { settingValueLabel, type Column, type SettingValue, type TableEngine, type Topic } from "../../lib/model/infra-map.js";
import type { Plan, PlanStep } from "../../lib/plan/plan.js";
import { guardedByPreflight, RISK_CODES } from "../../lib/plan/risk.js";
import { assertNever } from "../../lib/errors.js";
import type { RenameSuggestion } from "../../lib/diff/rename-suggestions.js";
import { describeChange, describeWayForward } from "../../lib/migrations/files/render.js";
import { describeIntegrationEngine } from "../../lib/engines/olap/integration-engines.js";

/** Words for each component kind, as the seed page prints them. */
const LABELS = {
  table: "OLAP Table",
  view: "Materialized View",
  plainView: "View",
  sqlResource: "SQL Resource",
  topic: "Streaming Topic",
  api: "API Endpoint",
  workflow: "Workflow",
  process: "Background Process",
} as const;
type Kind = keyof typeof LABELS;

interface Entry {
  readonly kind: Kind;
  readonly name: string;
  readonly section: "new" | "modified" | "removed";
  readonly details: string[];
  schema: boolean;
  warning?: string;
}

const WARN = "⚠";

/**
 * The seed page's plan format:
 *
 * ```
 * Infrastructure Changes:
 *  New Components
 *   + Analytics (OLAP Table)
 * 🔄 Modified Components
 *   ~ Users (Schema Update)
 *       + age Nullable(Float64)
 *  Removed Components
 *   - deprecated_process (Background Process)
 * ```
 *
 * Steps that lose data carry a warning mark and say what is lost.
 */
export function renderPlanText(plan: Plan, suggestions: readonly RenameSuggestion[] = []): string {
  const extra = [...heldText(plan), ...suggestionText(suggestions)];
  if (plan.steps.length === 0) {
    return extra.length === 0 ? "No changes: the infrastructure matches the code.\n" : ["No changes can be applied.", ...extra].join("\n") + "\n";
  }
  const entries = new Map<string, Entry>();
  const entry = (kind: Kind, name: string, section: Entry["section"]): Entry => {
    const key = `${section}:${kind}:${name}`;
    let e = entries.get(key);
    if (!e) {
      e = { kind, name, section, details: [], schema: false };
      entries.set(key, e);
    }
    return e;
  };
  for (const step of plan.steps) describe(step, entry, entries);

  const lines = ["Infrastructure Changes:"];
  const sections: Array<[Entry["section"], string, string]> = [
    ["new", " New Components", "+"],
    ["modified", "🔄 Modified Components", "~"],
    ["removed", " Removed Components", "-"],
  ];
  for (const [section, heading, mark] of sections) {
    const list = [...entries.values()].filter((e) => e.section === section);
    if (list.length === 0) continue;
    lines.push(heading);
    for (const e of list) {
      const what = section === "modified" ? (e.schema ? "Schema Update" : "Config Change") : LABELS[e.kind];
      lines.push(`  ${mark} ${e.name} (${what})${e.warning ? `  ${WARN} ${e.warning}` : ""}`);
      for (const d of e.details) lines.push(`      ${d}`);
    }
  }
  const losing = plan.steps.filter((s) => s.risk.losesData && !guardedByPreflight(s.change)).length;
  if (losing > 0) {
    lines.push("", `${WARN} ${losing} step${losing === 1 ? "" : "s"} would lose data; a migration runs them only when its file approves them.`);
  }
  const guarded = plan.steps.filter((s) => guardedByPreflight(s.change)).length;
  if (guarded > 0) {
    lines.push("", `${WARN} ${guarded} type change${guarded === 1 ? " narrows its column" : "s narrow their columns"}: a pre-flight check stops the step, changing nothing, while any row would not convert.`);
  }
  lines.push(...extra);
  return lines.join("\n") + "\n";
}

/** Changes the life cycles hold back, and the way forward for each. */
function heldText(plan: Plan): string[] {
  const held = plan.held ?? [];
  if (held.length === 0) return [];
  return ["", "Held back by life cycles (not applied; the code and the database differ until you act):", ...held.map((h) => `  ! ${describeChange(h.change)} (${h.lifeCycle}): ${describeWayForward(h)}`)];
}

/** Drops and adds that look like renames. */
function suggestionText(suggestions: readonly RenameSuggestion[]): string[] {
  if (suggestions.length === 0) return [];
  const flag = (s: RenameSuggestion) => (s.kind === "table" ? `--rename ${s.from}:${s.to}` : `--rename ${s.table}.${s.from}:${s.to}`);
  return [
    "",
    "Possible renames (planned above as a drop and an add, which loses the data):",
    ...suggestions.map((s) => `  ? ${s.kind === "table" ? `table ${s.from} → ${s.to}` : `${s.table}.${s.from} → ${s.to} (${s.type})`}   keep the data: moose migrate generate ${flag(s)}`),
    "  or declare the hint in the code: `renamedFrom` on the table's config, `renamedColumns: { new: \"old\" }` for columns.",
  ];
}

function warning(step: PlanStep): string | undefined {
  if (guardedByPreflight(step.change)) return "narrows the type: a pre-flight check stops the step while any row would not convert";
  if (step.risk.class !== "destructive") return undefined;
  return RISK_CODES[step.risk.code].meaning;
}

function describe(step: PlanStep, entry: (kind: Kind, name: string, section: Entry["section"]) => Entry, entries: ReadonlyMap<string, Entry>): void {
  const c: Change = step.change;
  const warn = warning(step);
  const detail = (table: string, text: string, schema: boolean) => {
    const e = entry("table", table, "modified");
    e.details.push(warn ? `${text}  ${WARN} ${warn}` : text);
    if (schema) e.schema = true;
  };
  const whole = (kind: Kind, name: string, section: Entry["section"]) => {
    const e = entry(kind, name, section);
    if (warn) e.warning = warn;
    return e;
  };
  switch (c.kind) {
    case "table.create":
      whole("table", c.table.name, "new");
      return;
    case "table.drop":
      whole("table", c.table.name, "removed");
      return;
    case "table.rename":
      detail(c.to, `~ renamed from ${c.from}`, true);
      return;
    case "table.addColumn":
      detail(c.table, `+ ${columnText(c.column)}`, true);
      return;
    case "table.dropColumn":
      detail(c.table, `- ${columnText(c.column)}`, true);
      return;
    case "table.renameColumn":
      detail(c.table, `~ ${c.from} → ${c.to} (rename)`, true);
      return;
    case "table.modifyColumn": {
      const parts: string[] = [];
      if (c.before.type !== c.after.type) parts.push(`${c.before.type} → ${c.after.type}`);
      if (c.before.default !== c.after.default) parts.push(`DEFAULT ${c.before.default ?? "(none)"} → ${c.after.default ?? "(none)"}`);
      detail(c.table, `~ ${c.after.name} ${parts.join(", ")}`, true);
      return;
    }
    case "table.moveColumn":
      detail(c.table, `~ ${c.column} moved ${c.after === null ? "first" : `after ${c.after}`}`, true);
      return;
    case "table.setOrderBy":
      detail(c.table, `~ order by ${orderText(c.before)} → ${orderText(c.after)}`, false);
      return;
    case "table.setEngine":
      detail(c.table, `~ engine ${engineText(c.before)} → ${engineText(c.after)}`, false);
      return;
    case "table.setPartitionBy":
      detail(c.table, `~ partition by ${c.before ?? "(none)"} → ${c.after ?? "(none)"}`, false);
      return;
    case "table.setTtl":
      detail(c.table, `~ ttl ${c.before ?? "(none)"} → ${c.after ?? "(none)"}`, false);
      return;
    case "table.setSettings":
      detail(c.table, `~ settings ${settingsText(c.before)} → ${settingsText(c.after)}`, false);
      return;
    case "table.setPrimaryKey":
      detail(c.table, `~ primary key ${c.before === undefined ? "(the ORDER BY)" : orderText(c.before)} → ${c.after === undefined ? "(the ORDER BY)" : orderText(c.after)}`, false);
      return;
    case "table.setSampleBy":
      detail(c.table, `~ sample by ${c.before ?? "(none)"} → ${c.after ?? "(none)"}`, false);
      return;
    case "table.setIndexes":
      detail(c.table, `~ indexes ${namesText(c.before)} → ${namesText(c.after)}`, false);
      return;
    case "table.setConstraints":
      detail(c.table, `~ constraints ${namesText(c.before)} → ${namesText(c.after)}`, false);
      return;
    case "table.setProjections":
      detail(c.table, `~ projections ${namesText(c.before)} → ${namesText(c.after)}`, false);
      return;
    case "table.setLifeCycle":
      detail(c.table, `~ life cycle ${c.before} → ${c.after}`, false);
      return;
    case "table.rebuild": {
      const parts: string[] = [];
      if (JSON.stringify(c.before.orderBy) !== JSON.stringify(c.after.orderBy)) parts.push(`order by ${orderText(c.before.orderBy)} → ${orderText(c.after.orderBy)}`);
      if (JSON.stringify(c.before.engine) !== JSON.stringify(c.after.engine)) parts.push(`engine ${engineText(c.before.engine)} → ${engineText(c.after.engine)}`);
      if (c.before.partitionBy !== c.after.partitionBy) parts.push(`partition by ${c.before.partitionBy ?? "(none)"} → ${c.after.partitionBy ?? "(none)"}`);
      const kept = c.keepOldAs === undefined ? "the previous table is dropped" : `previous table kept as ${c.keepOldAs}`;
      detail(c.before.name, `~ rebuild keeping every row: ${parts.join(", ")} (${kept})`, false);
      return;
    }
    case "table.backfillColumn":
      detail(c.table, `~ ${c.column} filled ${c.convertFrom !== undefined ? `from ${c.convertFrom}, converted` : "with an expression"}`, false);
      return;
    case "table.copyRows":
      detail(c.to, `~ rows copied from ${c.from} (${c.columns.join(", ")})`, false);
      return;
    case "view.backfill": {
      const e = entries.has(`new:view:${c.view.name}`) ? entry("view", c.view.name, "new") : whole("view", c.view.name, "modified");
      e.details.push("~ backfilled from the rows its sources hold");
      return;
    }
    case "view.create":
      whole("view", c.view.name, "new");
      return;
    case "view.drop":
      whole("view", c.view.name, "removed");
      return;
    case "view.modify": {
      const e = whole("view", c.after.name, "modified");
      if (c.before.selectStatement !== c.after.selectStatement) e.details.push("~ select statement changed");
      if (c.before.targetTable !== c.after.targetTable) e.details.push(`~ target ${c.before.targetTable} → ${c.after.targetTable}`);
      return;
    }
    case "plainView.create":
      whole("plainView", c.view.name, "new");
      return;
    case "plainView.drop":
      whole("plainView", c.view.name, "removed");
      return;
    case "plainView.modify":
      whole("plainView", c.after.name, "modified").details.push("~ select statement changed");
      return;
    case "sqlResource.create":
      whole("sqlResource", c.resource.name, "new");
      return;
    case "sqlResource.drop":
      whole("sqlResource", c.resource.name, "removed");
      return;
    case "sqlResource.modify": {
      const e = whole("sqlResource", c.after.name, "modified");
      if (JSON.stringify(c.before.setup) !== JSON.stringify(c.after.setup)) e.details.push("~ setup changed: the old teardown runs, then the new setup");
      else if (JSON.stringify(c.before.teardown) !== JSON.stringify(c.after.teardown)) e.details.push("~ teardown changed (nothing runs now)");
      if (JSON.stringify([c.before.pullsDataFrom, c.before.pushesDataTo]) !== JSON.stringify([c.after.pullsDataFrom, c.after.pushesDataTo])) e.details.push("~ dependencies changed");
      return;
    }
    case "topic.create":
      whole("topic", c.topic.name, "new");
      return;
    case "topic.drop":
      whole("topic", c.topic.name, "removed");
      return;
    case "topic.modify": {
      const e = whole("topic", c.after.name, "modified");
      topicDetails(c.before, c.after, e);
      return;
    }
    case "api.create":
      whole("api", c.api.name, "new");
      return;
    case "api.drop":
      whole("api", c.api.name, "removed");
      return;
    case "api.modify": {
      const e = whole("api", c.after.name, "modified");
      columnDetails(c.before.columns, c.after.columns, e);
      if (c.before.destination !== c.after.destination) e.details.push(`~ destination ${c.before.destination ?? "(none)"} → ${c.after.destination ?? "(none)"}`);
      return;
    }
    case "workflow.create":
      whole("workflow", c.workflow.name, "new");
      return;
    case "workflow.drop":
      whole("workflow", c.workflow.name, "removed");
      return;
    case "workflow.modify": {
      const e = whole("workflow", c.after.name, "modified");
      const b = c.before;
      const a = c.after;
      if (b.schedule !== a.schedule) e.details.push(`~ schedule ${b.schedule ?? "(none)"} → ${a.schedule ?? "(none)"}`);
      if (b.retries !== a.retries) e.details.push(`~ retries ${b.retries} → ${a.retries}`);
      if (b.timeout !== a.timeout) e.details.push(`~ timeout ${b.timeout ?? "(none)"} → ${a.timeout ?? "(none)"}`);
      if (b.paused !== a.paused) e.details.push(`~ ${a.paused ? "paused" : "resumed"}`);
      return;
    }
    case "process.create":
      whole("process", c.process.name, "new");
      return;
    case "process.drop":
      whole("process", c.process.name, "removed");
      return;
    case "process.modify":
      whole("process", c.after.name, "modified").details.push(`~ ${c.after.sourceTopic} → ${c.after.targetTable}`);
      return;
    default:
      assertNever(c, "change kind");
  }
}

function topicDetails(before: Topic, after: Topic, e: Entry): void {
  if (before.partitions !== after.partitions) e.details.push(`~ partitions ${before.partitions} → ${after.partitions}`);
  if (before.retentionMs !== after.retentionMs) e.details.push(`~ retention ${msText(before.retentionMs)} → ${msText(after.retentionMs)}`);
  if (before.replicationFactor !== after.replicationFactor) e.details.push(`~ replication factor ${before.replicationFactor ?? "(default)"} → ${after.replicationFactor ?? "(default)"}`);
  if (JSON.stringify(before.config) !== JSON.stringify(after.config)) e.details.push(`~ config ${settingsText(before.config)} → ${settingsText(after.config)}`);
  columnDetails(before.columns, after.columns, e);
}

/** Column-level lines for topics and APIs; marks the entry a schema update when any. */
function columnDetails(before: readonly Column[], after: readonly Column[], e: Entry): void {
  const count = e.details.length;
  const old = new Map(before.map((c) => [c.name, c]));
  const now = new Map(after.map((c) => [c.name, c]));
  for (const c of after) {
    const b = old.get(c.name);
    if (!b) e.details.push(`+ ${columnText(c)}`);
    else if (b.type !== c.type || b.default !== c.default) e.details.push(`~ ${c.name} ${b.type} → ${c.type}`);
  }
  for (const c of before) if (!now.has(c.name)) e.details.push(`- ${columnText(c)}`);
  if (e.details.length > count) e.schema = true;
}

function columnText(c: Column): string {
  return c.default === undefined ? `${c.name} ${c.type}` : `${c.name} ${c.type} DEFAULT ${c.default}`;
}

function orderText(fields: readonly string[]): string {
  return fields.length === 0 ? "tuple()" : `(${fields.join(", ")})`;
}

function engineText(e: TableEngine): string {
  switch (e.kind) {
    case "MergeTree":
    case "AggregatingMergeTree":
      return e.kind;
    case "ReplacingMergeTree":
      return `${e.kind}(${[e.ver, e.isDeleted].filter(Boolean).join(", ")})`;
    case "SummingMergeTree":
      return `${e.kind}(${(e.columns ?? []).join(", ")})`;
    case "CollapsingMergeTree":
      return `${e.kind}(${e.sign})`;
    case "VersionedCollapsingMergeTree":
      return `${e.kind}(${e.sign}, ${e.version})`;
    case "Buffer":
    case "Merge":
    case "Kafka":
    case "S3":
    case "S3Queue":
    case "Distributed":
      return describeIntegrationEngine(e);
  }
}

function settingsText(s: Readonly<Record<string, SettingValue>>): string {
  const keys = Object.keys(s).sort();
  return keys.length === 0 ? "{}" : `{ ${keys.map((k) => `${k} = ${settingValueLabel(s[k]!)}`).join(", ")} }`;
}

export function msText(ms: number | undefined): string {
  if (ms === undefined) return "(default)";
  const units: Array<[number, string]> = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function namesText(items: ReadonlyArray<{ readonly name: string }>): string {
  return items.length === 0 ? "(none)" : items.map((i) => i.name).join(", ");
}
