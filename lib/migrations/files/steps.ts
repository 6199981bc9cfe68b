import type { Change } from "../../diff/change.js";
import { assertNever, InvalidInputError } from "../../errors.js";
import { canonicalJson, plainViewsOf, sqlResourcesOf, type InfraMap, type SqlResource, type Table, type TableEngine, type TableConstraint, type TableIndex, type TableProjection } from "../../model/infra-map.js";
import type { Approval, RebuildDefinition, Step } from "./api.js";

/**
 * Converting between plan changes and file steps. A step names what it
 * touches; replay fills in the rest (a dropped table's definition) from the
 * state it applies to, so files stay short and readable.
 */
export function stepOf(change: Change, approveDataLoss: boolean | undefined): Step {
  const approval: Approval[] = approveDataLoss === undefined ? [] : [{ approveDataLoss }];
  const c = change;
  switch (c.kind) {
    case "table.create":
      return { op: "createTable", args: [c.table] };
    case "table.drop":
      return { op: "dropTable", args: [c.table.name, ...approval] };
    case "table.rename":
      return { op: "renameTable", args: [c.from, c.to] };
    case "table.addColumn":
      return { op: "addColumn", args: [c.table, { ...c.column, after: c.after }] };
    case "table.dropColumn":
      return { op: "dropColumn", args: [c.table, c.column.name, ...approval] };
    case "table.renameColumn":
      return { op: "renameColumn", args: [c.table, c.from, c.to] };
    case "table.modifyColumn":
      return { op: "modifyColumn", args: [c.table, c.after, ...approval] };
    case "table.moveColumn":
      return { op: "moveColumn", args: [c.table, c.column, { after: c.after }] };
    case "table.setOrderBy":
      return { op: "setOrderBy", args: [c.table, c.after] };
    case "table.setEngine":
      return { op: "setEngine", args: [c.table, c.after, ...approval] };
    case "table.setPartitionBy":
      return { op: "setPartitionBy", args: [c.table, c.after ?? null] };
    case "table.setTtl":
      return { op: "setTtl", args: [c.table, c.after ?? null, ...approval] };
    case "table.setSettings":
      return { op: "setSettings", args: [c.table, c.after] };
    case "table.setPrimaryKey":
      return { op: "setPrimaryKey", args: [c.table, c.after ?? null] };
    case "table.setSampleBy":
      return { op: "setSampleBy", args: [c.table, c.after ?? null] };
    case "table.setIndexes":
      return { op: "setIndexes", args: [c.table, c.after] };
    case "table.setConstraints":
      return { op: "setConstraints", args: [c.table, c.after] };
    case "table.setProjections":
      return { op: "setProjections", args: [c.table, c.after] };
    case "table.setLifeCycle":
      return { op: "setLifeCycle", args: [c.table, c.after] };
    case "table.rebuild": {
      const options = { ...(c.keepOldAs !== undefined ? { keepOldAs: c.keepOldAs } : {}), ...(approval[0] ?? {}) };
      return { op: "rebuildTable", args: [c.before.name, rebuildDefinition(c.before, c.after), ...(Object.keys(options).length > 0 ? [options] : [])] };
    }
    case "table.backfillColumn":
      return { op: "backfillColumn", args: [c.table, c.column, c.convertFrom !== undefined ? { convertFrom: c.convertFrom } : { expression: c.expression ?? "" }] };
    case "table.copyRows":
      return { op: "copyRows", args: [c.from, c.to, c.columns] };
    case "view.backfill":
      return { op: "backfillView", args: [c.view.name] };
    case "view.create":
      return { op: "createView", args: [c.view] };
    case "view.drop":
      return { op: "dropView", args: [c.view.name, ...approval] };
    case "view.modify":
      return { op: "modifyView", args: [c.after, ...approval] };
    case "plainView.create":
      return { op: "createPlainView", args: [c.view] };
    case "plainView.drop":
      return { op: "dropPlainView", args: [c.view.name] };
    case "sqlResource.create":
      return { op: "createSqlResource", args: [c.resource] };
    case "sqlResource.drop":
      return { op: "dropSqlResource", args: [c.resource.name, ...approval] };
    case "sqlResource.modify":
      return { op: "modifySqlResource", args: [c.after, ...approval] };
    case "plainView.modify":
      return { op: "modifyPlainView", args: [c.after] };
    case "topic.create":
      return { op: "createTopic", args: [c.topic] };
    case "topic.drop":
      return { op: "deleteTopic", args: [c.topic.name, ...approval] };
    case "topic.modify":
      return { op: "alterTopic", args: [c.after, ...approval] };
    case "api.create":
      return { op: "createApi", args: [c.api] };
    case "api.drop":
      return { op: "dropApi", args: [c.api.name] };
    case "api.modify":
      return { op: "modifyApi", args: [c.after] };
    case "workflow.create":
      return { op: "createWorkflow", args: [c.workflow] };
    case "workflow.drop":
      return { op: "dropWorkflow", args: [c.workflow.name] };
    case "workflow.modify":
      return { op: "modifyWorkflow", args: [c.after] };
    case "process.create":
      return { op: "createProcess", args: [c.process] };
    case "process.drop":
      return { op: "dropProcess", args: [c.process.name] };
    case "process.modify":
      return { op: "modifyProcess", args: [c.after] };
    default:
      return assertNever(c, "change kind");
  }
}

/** Where a step came from, for error messages. */
export interface StepOrigin {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The change a structured step makes to `state`, or `null` for `sql(...)`
 * steps, which do not change the tracked state. Throws when the step does not
 * fit the state (a table that does not exist, ...).
 */
export function changeOf(step: Step, state: InfraMap, origin: StepOrigin): Change | null {
  const a = step.args;
  const str = (i: number, what: string): string => {
    const v = a[i];
    if (typeof v !== "string") throw bad(origin, `${step.op}: argument ${i + 1} (${what}) must be a string`);
    return v;
  };
  const obj = <T>(i: number, what: string): T => {
    const v = a[i];
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad(origin, `${step.op}: argument ${i + 1} (${what}) must be an object`);
    return v as T;
  };
  const table = (name: string) => {
    const t = state.tables[name];
    if (!t) throw bad(origin, `${step.op}: there is no table ${name} at this point of the migration sequence`);
    return t;
  };
  const existing = <T>(coll: Readonly<Record<string, T>>, name: string, what: string): T => {
    const v = coll[name];
    if (!v) throw bad(origin, `${step.op}: there is no ${what} ${name} at this point of the migration sequence`);
    return v;
  };
  switch (step.op) {
    case "sql":
      str(0, "statement");
      return null;
    case "check":
      str(0, "query");
      return null;
    case "rebuildTable": {
      const t = table(str(0, "table name"));
      const def = obj<RebuildDefinition>(1, "definition");
      const options = a[2] === undefined ? {} : obj<{ keepOldAs?: unknown }>(2, "options");
      if (options.keepOldAs !== undefined && typeof options.keepOldAs !== "string") throw bad(origin, "rebuildTable: keepOldAs must be the name to keep the previous table under");
      if (def.orderBy !== undefined && (!Array.isArray(def.orderBy) || !def.orderBy.every((x) => typeof x === "string"))) throw bad(origin, "rebuildTable: orderBy must be an array of expressions");
      const after: { -readonly [K in keyof Table]: Table[K] } = { ...t };
      if (def.engine !== undefined) after.engine = def.engine as TableEngine;
      if (def.orderBy !== undefined) after.orderBy = def.orderBy;
      if (def.partitionBy === null) delete after.partitionBy;
      else if (typeof def.partitionBy === "string") after.partitionBy = def.partitionBy;
      if (def.primaryKey === null) delete after.primaryKey;
      else if (Array.isArray(def.primaryKey)) after.primaryKey = def.primaryKey;
      if (def.sampleBy === null) delete after.sampleBy;
      else if (typeof def.sampleBy === "string") after.sampleBy = def.sampleBy;
      return { kind: "table.rebuild", before: t, after, ...(typeof options.keepOldAs === "string" ? { keepOldAs: options.keepOldAs } : {}) };
    }
    case "backfillColumn": {
      const source = obj<{ convertFrom?: unknown; expression?: unknown }>(2, "source");
      if (typeof source.convertFrom === "string") return { kind: "table.backfillColumn", table: str(0, "table name"), column: str(1, "column name"), convertFrom: source.convertFrom };
      if (typeof source.expression === "string") return { kind: "table.backfillColumn", table: str(0, "table name"), column: str(1, "column name"), expression: source.expression };
      throw bad(origin, "backfillColumn: argument 3 must be { convertFrom: \"column\" } or { expression: \"SQL\" }");
    }
    case "copyRows": {
      const v = a[2];
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw bad(origin, "copyRows: argument 3 must be an array of column names");
      return { kind: "table.copyRows", from: str(0, "source table"), to: str(1, "target table"), columns: v as string[] };
    }
    case "backfillView":
      return { kind: "view.backfill", view: existing(state.views, str(0, "view name"), "materialized view") };
    case "createTable":
      return { kind: "table.create", table: obj(0, "table") };
    case "dropTable":
      return { kind: "table.drop", table: table(str(0, "table name")) };
    case "renameTable":
      return { kind: "table.rename", from: str(0, "old name"), to: str(1, "new name") };
    case "addColumn": {
      const { after, ...column } = obj<{ after: string | null; name: string; type: string; default?: string }>(1, "column");
      return { kind: "table.addColumn", table: str(0, "table name"), column, after: after ?? null };
    }
    case "dropColumn": {
      const t = table(str(0, "table name"));
      const name = str(1, "column name");
      const column = t.columns.find((c) => c.name === name);
      if (!column) throw bad(origin, `dropColumn: table ${t.name} has no column ${name} at this point of the migration sequence`);
      return { kind: "table.dropColumn", table: t.name, column };
    }
    case "renameColumn":
      return { kind: "table.renameColumn", table: str(0, "table name"), from: str(1, "old name"), to: str(2, "new name") };
    case "modifyColumn": {
      const t = table(str(0, "table name"));
      const after = obj<{ name: string; type: string; default?: string }>(1, "column");
      const before = t.columns.find((c) => c.name === after.name);
      if (!before) throw bad(origin, `modifyColumn: table ${t.name} has no column ${after.name} at this point of the migration sequence`);
      return { kind: "table.modifyColumn", table: t.name, before, after };
    }
    case "moveColumn": {
      const t = table(str(0, "table name"));
      const name = str(1, "column name");
      const index = t.columns.findIndex((c) => c.name === name);
      if (index < 0) throw bad(origin, `moveColumn: table ${t.name} has no column ${name}`);
      const position = obj<{ after: string | null }>(2, "position");
      return { kind: "table.moveColumn", table: t.name, column: name, after: position.after ?? null, before: index === 0 ? null : t.columns[index - 1]!.name };
    }
    case "setOrderBy": {
      const t = table(str(0, "table name"));
      const v = a[1];
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw bad(origin, "setOrderBy: argument 2 must be an array of expressions");
      return { kind: "table.setOrderBy", table: t.name, before: t.orderBy, after: v as string[] };
    }
    case "setEngine": {
      const t = table(str(0, "table name"));
      return { kind: "table.setEngine", table: t.name, before: t.engine, after: obj(1, "engine") };
    }
    case "setPartitionBy": {
      const t = table(str(0, "table name"));
      const v = a[1];
      return { kind: "table.setPartitionBy", table: t.name, ...(t.partitionBy !== undefined ? { before: t.partitionBy } : {}), ...(typeof v === "string" ? { after: v } : {}) };
    }
    case "setTtl": {
      const t = table(str(0, "table name"));
      const v = a[1];
      return { kind: "table.setTtl", table: t.name, ...(t.ttl !== undefined ? { before: t.ttl } : {}), ...(typeof v === "string" ? { after: v } : {}) };
    }
    case "setSettings": {
      const t = table(str(0, "table name"));
      return { kind: "table.setSettings", table: t.name, before: t.settings, after: obj(1, "settings") };
    }
    case "setPrimaryKey": {
      const t = table(str(0, "table name"));
      const v = a[1];
      if (v !== null && (!Array.isArray(v) || !v.every((x) => typeof x === "string"))) throw bad(origin, "setPrimaryKey: argument 2 must be an array of expressions, or null");
      return { kind: "table.setPrimaryKey", table: t.name, ...(t.primaryKey !== undefined ? { before: t.primaryKey } : {}), ...(v !== null ? { after: v as string[] } : {}) };
    }
    case "setSampleBy": {
      const t = table(str(0, "table name"));
      const v = a[1];
      return { kind: "table.setSampleBy", table: t.name, ...(t.sampleBy !== undefined ? { before: t.sampleBy } : {}), ...(typeof v === "string" ? { after: v } : {}) };
    }
    case "setIndexes": {
      const t = table(str(0, "table name"));
      const v = a[1];
      if (!Array.isArray(v)) throw bad(origin, "setIndexes: argument 2 must be an array of { name, expression, type, granularity }");
      return { kind: "table.setIndexes", table: t.name, before: t.indexes ?? [], after: v as TableIndex[] };
    }
    case "setConstraints": {
      const t = table(str(0, "table name"));
      const v = a[1];
      if (!Array.isArray(v) || !v.every((c) => typeof c === "object" && c !== null && typeof c.name === "string" && (c.type === "CHECK" || c.type === "ASSUME") && typeof c.expression === "string")) {
        throw bad(origin, 'setConstraints: argument 2 must be an array of { name, type: "CHECK" | "ASSUME", expression }');
      }
      return { kind: "table.setConstraints", table: t.name, before: t.constraints ?? [], after: v as TableConstraint[] };
    }
    case "setProjections": {
      const t = table(str(0, "table name"));
      const v = a[1];
      if (!Array.isArray(v)) throw bad(origin, "setProjections: argument 2 must be an array of { name, body }");
      return { kind: "table.setProjections", table: t.name, before: t.projections ?? [], after: v as TableProjection[] };
    }
    case "setLifeCycle": {
      const t = table(str(0, "table name"));
      return { kind: "table.setLifeCycle", table: t.name, before: t.lifeCycle, after: str(1, "life cycle") as typeof t.lifeCycle };
    }
    case "createView":
      return { kind: "view.create", view: obj(0, "view") };
    case "dropView":
      return { kind: "view.drop", view: existing(state.views, str(0, "view name"), "materialized view") };
    case "modifyView": {
      const after = obj<{ name: string }>(0, "view") as Extract<Change, { kind: "view.modify" }>["after"];
      return { kind: "view.modify", before: existing(state.views, after.name, "materialized view"), after };
    }
    case "createPlainView":
      return { kind: "plainView.create", view: obj(0, "view") };
    case "dropPlainView":
      return { kind: "plainView.drop", view: existing(plainViewsOf(state), str(0, "view name"), "view") };
    case "modifyPlainView": {
      const after = obj<{ name: string }>(0, "view") as Extract<Change, { kind: "plainView.modify" }>["after"];
      return { kind: "plainView.modify", before: existing(plainViewsOf(state), after.name, "view"), after };
    }
    case "createSqlResource":
      return { kind: "sqlResource.create", resource: sqlResourceArg(obj<Record<string, unknown>>(0, "SQL resource"), "createSqlResource", origin) };
    case "dropSqlResource":
      return { kind: "sqlResource.drop", resource: existing(sqlResourcesOf(state), str(0, "SQL resource name"), "SQL resource") };
    case "modifySqlResource": {
      const after = sqlResourceArg(obj<Record<string, unknown>>(0, "SQL resource"), "modifySqlResource", origin);
      return { kind: "sqlResource.modify", before: existing(sqlResourcesOf(state), after.name, "SQL resource"), after };
    }
    case "createTopic":
      return { kind: "topic.create", topic: obj(0, "topic") };
    case "deleteTopic":
      return { kind: "topic.drop", topic: existing(state.topics, str(0, "topic name"), "topic") };
    case "alterTopic": {
      const after = obj(0, "topic") as Extract<Change, { kind: "topic.modify" }>["after"];
      return { kind: "topic.modify", before: existing(state.topics, after.name, "topic"), after };
    }
    case "createApi":
      return { kind: "api.create", api: obj(0, "api") };
    case "dropApi":
      return { kind: "api.drop", api: existing(state.apis, str(0, "API path"), "API endpoint") };
    case "modifyApi": {
      const after = obj(0, "api") as Extract<Change, { kind: "api.modify" }>["after"];
      return { kind: "api.modify", before: existing(state.apis, after.name, "API endpoint"), after };
    }
    case "createWorkflow":
      return { kind: "workflow.create", workflow: obj(0, "workflow") };
    case "dropWorkflow":
      return { kind: "workflow.drop", workflow: existing(state.workflows, str(0, "workflow name"), "workflow") };
    case "modifyWorkflow": {
      const after = obj(0, "workflow") as Extract<Change, { kind: "workflow.modify" }>["after"];
      return { kind: "workflow.modify", before: existing(state.workflows, after.name, "workflow"), after };
    }
    case "createProcess":
      return { kind: "process.create", process: obj(0, "process") };
    case "dropProcess":
      return { kind: "process.drop", process: existing(state.processes, str(0, "process name"), "process") };
    case "modifyProcess": {
      const after = obj(0, "process") as Extract<Change, { kind: "process.modify" }>["after"];
      return { kind: "process.modify", before: existing(state.processes, after.name, "process"), after };
    }
    default:
      return assertNever(step.op, "migration step");
  }
}

/** Only what a rebuild changes, so the step reads as the change. */
function rebuildDefinition(before: Table, after: Table): RebuildDefinition {
  const out: { -readonly [K in keyof RebuildDefinition]: RebuildDefinition[K] } = {};
  if (canonicalJson(before.engine) !== canonicalJson(after.engine)) out.engine = after.engine;
  if (canonicalJson(before.orderBy) !== canonicalJson(after.orderBy)) out.orderBy = after.orderBy;
  if (before.partitionBy !== after.partitionBy) out.partitionBy = after.partitionBy ?? null;
  if (canonicalJson(before.primaryKey) !== canonicalJson(after.primaryKey)) out.primaryKey = after.primaryKey ?? null;
  if (before.sampleBy !== after.sampleBy) out.sampleBy = after.sampleBy ?? null;
  return out;
}

/** The approval written on a step, if any. */
export function approvalOf(step: Step): boolean {
  return step.args.some((a) => a !== null && typeof a === "object" && !Array.isArray(a) && (a as Approval).approveDataLoss === true);
}

function bad(origin: StepOrigin, message: string): InvalidInputError {
  return new InvalidInputError("MIGRATION_STEP_INVALID", message, { position: origin });
}

/** `dropColumn("Users", …)`: a step as messages name it; an object argument by its name. */
export function stepLabel(step: Step): string {
  const first = step.args[0];
  const shown = first !== null && typeof first === "object" && "name" in first ? (first as { name: unknown }).name : first;
  return `${step.op}(${JSON.stringify(shown)?.slice(0, 80) ?? ""}${step.args.length > 1 ? ", …" : ""})`;
}

/** A SQL resource written in a file: statements are arrays of strings (edited by hand, so checked here). */
function sqlResourceArg(v: Record<string, unknown>, op: string, origin: StepOrigin): SqlResource {
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === "string");
  if (typeof v.name !== "string" || !strings(v.setup) || !strings(v.teardown) || !strings(v.pullsDataFrom ?? []) || !strings(v.pushesDataTo ?? [])) {
    throw bad(origin, `${op}: argument 1 must be { name, setup: ["CREATE …"], teardown: ["DROP …"], pullsDataFrom: [names], pushesDataTo: [names] }`);
  }
  return {
    name: v.name,
    setup: v.setup as string[],
    teardown: v.teardown as string[],
    pullsDataFrom: (v.pullsDataFrom ?? []) as string[],
    pushesDataTo: (v.pushesDataTo ?? []) as string[],
  };
}
