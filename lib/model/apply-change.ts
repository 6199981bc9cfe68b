import type { Change } from "../diff/change.js";
import { assertNever, InvalidInputError } from "../errors.js";
import { plainViewsOf, sqlResourcesOf, withPlainViews, withSqlResources, type Column, type InfraMap, type Table } from "./infra-map.js";

/**
 * Applies one change to a map and returns the new map; the input is not touched.
 * This is the inverse view of `diff`: `applyChanges(a, diff(a, b))` is `b`
 * (canonically), which is how migration files are replayed offline.
 *
 * Throws an InvalidInputError (code `CHANGE_NOT_APPLICABLE`) naming the object and the
 * change when the change does not fit the map, e.g.
 * `cannot add column age to table Users: it already has a column age`.
 * Only names are checked; the `before` values a change carries are not compared with the map.
 *
 * @example applyChange(map, { kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } })
 */
export function applyChange(map: InfraMap, change: Change): InfraMap {
  const fail = (message: string): never => {
    throw new InvalidInputError("CHANGE_NOT_APPLICABLE", message, { details: [`change kind: ${change.kind}`] });
  };

  /** Rewrites one existing table; `action` reads like "add column age to". */
  const alterTable = (name: string, action: string, edit: (table: Table, fail: (reason: string) => never) => Table): InfraMap => {
    const table = get(map.tables, name);
    if (!table) return fail(`cannot ${action} table ${name}: there is no table ${name}`);
    return { ...map, tables: withEntry(map.tables, name, edit(table, (reason) => fail(`cannot ${action} table ${name}: ${reason}`))) };
  };

  switch (change.kind) {
    case "table.create": {
      const name = change.table.name;
      if (has(map.tables, name)) fail(`cannot create table ${name}: it already exists`);
      return { ...map, tables: withEntry(map.tables, name, change.table) };
    }
    case "table.drop": {
      const name = change.table.name;
      if (!has(map.tables, name)) fail(`cannot drop table ${name}: there is no table ${name}`);
      return { ...map, tables: withoutEntry(map.tables, name) };
    }
    case "table.rename": {
      const table = get(map.tables, change.from);
      const what = `cannot rename table ${change.from} to ${change.to}`;
      if (!table) return fail(`${what}: there is no table ${change.from}`);
      if (has(map.tables, change.to)) fail(`${what}: a table ${change.to} already exists`);
      return { ...map, tables: withEntry(withoutEntry(map.tables, change.from), change.to, { ...table, name: change.to }) };
    }
    case "table.addColumn":
      return alterTable(change.table, `add column ${change.column.name} to`, (table, failWith) => {
        const { column, after } = change;
        if (findColumn(table, column.name) >= 0) failWith(`it already has a column ${column.name}`);
        const at = after === null ? 0 : findColumn(table, after) + 1;
        if (at === 0 && after !== null) failWith(`it has no column ${after} to put it after`);
        return { ...table, columns: [...table.columns.slice(0, at), column, ...table.columns.slice(at)] };
      });
    case "table.dropColumn":
      return alterTable(change.table, `drop column ${change.column.name} from`, (table, failWith) => {
        if (findColumn(table, change.column.name) < 0) failWith(`it has no column ${change.column.name}`);
        return { ...table, columns: table.columns.filter((c) => c.name !== change.column.name) };
      });
    case "table.renameColumn":
      return alterTable(change.table, `rename column ${change.from} to ${change.to} in`, (table, failWith) => {
        if (findColumn(table, change.from) < 0) failWith(`it has no column ${change.from}`);
        if (findColumn(table, change.to) >= 0) failWith(`it already has a column ${change.to}`);
        return { ...table, columns: table.columns.map((c) => (c.name === change.from ? { ...c, name: change.to } : c)) };
      });
    case "table.modifyColumn":
      return alterTable(change.table, `modify column ${change.before.name} of`, (table, failWith) => {
        if (findColumn(table, change.before.name) < 0) failWith(`it has no column ${change.before.name}`);
        if (change.after.name !== change.before.name) {
          failWith(`the change would rename it to ${change.after.name}; renames are table.renameColumn changes`);
        }
        return { ...table, columns: table.columns.map((c) => (c.name === change.before.name ? change.after : c)) };
      });
    case "table.moveColumn":
      return alterTable(change.table, `move column ${change.column} of`, (table, failWith) => {
        const { column, after } = change;
        const from = findColumn(table, column);
        if (from < 0) failWith(`it has no column ${column}`);
        if (after === column) failWith(`a column cannot follow itself`);
        const moved = table.columns[from] as Column;
        const rest = table.columns.filter((c) => c.name !== column);
        const at = after === null ? 0 : rest.findIndex((c) => c.name === after) + 1;
        if (at === 0 && after !== null) failWith(`it has no column ${after} to put it after`);
        return { ...table, columns: [...rest.slice(0, at), moved, ...rest.slice(at)] };
      });
    case "table.setOrderBy":
      return alterTable(change.table, "change the ORDER BY of", (table) => withOrderBy(table, change.after));
    case "table.setEngine":
      return alterTable(change.table, "change the engine of", (table) => ({ ...table, engine: change.after }));
    case "table.setPartitionBy":
      return alterTable(change.table, "change the PARTITION BY of", (table) => withOptional(table, "partitionBy", change.after));
    case "table.setTtl":
      return alterTable(change.table, "change the TTL of", (table) => withOptional(table, "ttl", change.after));
    case "table.setSettings":
      return alterTable(change.table, "change the settings of", (table) => ({ ...table, settings: change.after }));
    case "table.setPrimaryKey":
      return alterTable(change.table, "change the PRIMARY KEY of", (table) => withOptional(table, "primaryKey", change.after));
    case "table.setSampleBy":
      return alterTable(change.table, "change the SAMPLE BY of", (table) => withOptional(table, "sampleBy", change.after));
    case "table.setIndexes":
      return alterTable(change.table, "change the indexes of", (table) => withOptional(table, "indexes", change.after.length === 0 ? undefined : change.after));
    case "table.setConstraints":
      return alterTable(change.table, "change the constraints of", (table) => withOptional(table, "constraints", change.after.length === 0 ? undefined : change.after));
    case "table.setProjections":
      return alterTable(change.table, "change the projections of", (table) => withOptional(table, "projections", change.after.length === 0 ? undefined : change.after));
    case "table.setLifeCycle":
      return alterTable(change.table, "change the life cycle of", (table) => ({ ...table, lifeCycle: change.after }));
    case "table.rebuild":
      return alterTable(change.before.name, "rebuild", (_table, failWith) => {
        if (change.after.name !== change.before.name) failWith(`a rebuild keeps the name (the change names ${change.after.name}); rename the table as a separate change`);
        return change.after;
      });
    // Data changes: the names they use must exist; the map stays as it is.
    case "table.backfillColumn": {
      const table = get(map.tables, change.table);
      if (!table) return fail(`cannot backfill column ${change.column} of table ${change.table}: there is no table ${change.table}`);
      if (findColumn(table, change.column) < 0) fail(`cannot backfill column ${change.column} of table ${change.table}: it has no column ${change.column}`);
      return map;
    }
    case "table.copyRows": {
      for (const [name, role] of [[change.from, "from"], [change.to, "into"]] as const) {
        const table = get(map.tables, name);
        if (!table) return fail(`cannot copy rows ${role} table ${name}: there is no table ${name}`);
        const missing = change.columns.filter((c) => findColumn(table, c) < 0);
        if (missing.length > 0) fail(`cannot copy rows ${role} table ${name}: it has no column ${missing.join(", ")}`);
      }
      return map;
    }

    case "view.create":
      return { ...map, views: create(map.views, change.view, "materialized view", fail) };
    case "view.drop":
      return { ...map, views: drop(map.views, change.view, "materialized view", fail) };
    case "view.modify":
      return { ...map, views: modify(map.views, change.before, change.after, "materialized view", fail) };
    case "view.backfill":
      if (!has(map.views, change.view.name)) fail(`cannot backfill materialized view ${change.view.name}: there is no materialized view ${change.view.name}`);
      return map;
    case "plainView.create":
      return withPlainViews(map, create(plainViewsOf(map), change.view, "view", fail));
    case "plainView.drop":
      return withPlainViews(map, drop(plainViewsOf(map), change.view, "view", fail));
    case "plainView.modify":
      return withPlainViews(map, modify(plainViewsOf(map), change.before, change.after, "view", fail));
    case "sqlResource.create":
      return withSqlResources(map, create(sqlResourcesOf(map), change.resource, "SQL resource", fail));
    case "sqlResource.drop":
      return withSqlResources(map, drop(sqlResourcesOf(map), change.resource, "SQL resource", fail));
    case "sqlResource.modify":
      return withSqlResources(map, modify(sqlResourcesOf(map), change.before, change.after, "SQL resource", fail));
    case "topic.create":
      return { ...map, topics: create(map.topics, change.topic, "topic", fail) };
    case "topic.drop":
      return { ...map, topics: drop(map.topics, change.topic, "topic", fail) };
    case "topic.modify":
      return { ...map, topics: modify(map.topics, change.before, change.after, "topic", fail) };
    case "api.create":
      return { ...map, apis: create(map.apis, change.api, "API endpoint", fail) };
    case "api.drop":
      return { ...map, apis: drop(map.apis, change.api, "API endpoint", fail) };
    case "api.modify":
      return { ...map, apis: modify(map.apis, change.before, change.after, "API endpoint", fail) };
    case "workflow.create":
      return { ...map, workflows: create(map.workflows, change.workflow, "workflow", fail) };
    case "workflow.drop":
      return { ...map, workflows: drop(map.workflows, change.workflow, "workflow", fail) };
    case "workflow.modify":
      return { ...map, workflows: modify(map.workflows, change.before, change.after, "workflow", fail) };
    case "process.create":
      return { ...map, processes: create(map.processes, change.process, "sync process", fail) };
    case "process.drop":
      return { ...map, processes: drop(map.processes, change.process, "sync process", fail) };
    case "process.modify":
      return { ...map, processes: modify(map.processes, change.before, change.after, "sync process", fail) };
    default:
      return assertNever(change, "change kind");
  }
}

/**
 * Applies changes in order. The error for a change that does not fit says which
 * one it was (`change 3 of 7`) in its details.
 *
 * @example applyChanges(emptyInfraMap(), diff(emptyInfraMap(), desired)) // desired
 */
export function applyChanges(map: InfraMap, changes: readonly Change[]): InfraMap {
  let current = map;
  changes.forEach((change, i) => {
    try {
      current = applyChange(current, change);
    } catch (e) {
      if (e instanceof InvalidInputError && e.code === "CHANGE_NOT_APPLICABLE") {
        throw new InvalidInputError(e.code, e.message, { details: [...e.details, `change ${i + 1} of ${changes.length}`] });
      }
      throw e;
    }
  });
  return current;
}

const has = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key);

/** Own members only: an object called `constructor` must not find Object.prototype's. */
function get<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return has(record, key) ? record[key] : undefined;
}

/** A copy with `key` set; a computed key in a literal defines an own member even for `__proto__`. */
function withEntry<T>(record: Readonly<Record<string, T>>, key: string, value: T): Readonly<Record<string, T>> {
  return { ...record, [key]: value };
}

function withoutEntry<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  const out: Record<string, T> = { ...record };
  delete out[key];
  return out;
}

function findColumn(table: Table, name: string): number {
  return table.columns.findIndex((c) => c.name === name);
}

/** Sets an optional table member, leaving it out entirely when the new value is absent. */
/**
 * ClickHouse's `MODIFY ORDER BY` changes the sorting key, not the primary key: after an
 * in-place extension the primary key is the old sorting key (what introspection reads).
 * A primary key equal to the sorting key is not modelled.
 */
function withOrderBy(table: Table, orderBy: readonly string[]): Table {
  const primaryKey = table.primaryKey ?? (orderBy.length > table.orderBy.length && table.orderBy.length > 0 && table.orderBy.every((e, i) => orderBy[i] === e) ? table.orderBy : undefined);
  const same = primaryKey !== undefined && primaryKey.length === orderBy.length && primaryKey.every((e, i) => orderBy[i] === e);
  return withOptional({ ...table, orderBy }, "primaryKey", same ? undefined : primaryKey);
}

function withOptional<K extends "partitionBy" | "ttl" | "sampleBy" | "primaryKey" | "indexes" | "projections" | "constraints">(table: Table, key: K, value: Table[K] | undefined): Table {
  const out: { -readonly [P in keyof Table]: Table[P] } = { ...table };
  if (value === undefined) delete out[key];
  else out[key] = value as (typeof out)[K];
  return out;
}

type Fail = (message: string) => never;

function create<T extends { readonly name: string }>(record: Readonly<Record<string, T>>, item: T, what: string, fail: Fail) {
  if (has(record, item.name)) fail(`cannot create ${what} ${item.name}: it already exists`);
  return withEntry(record, item.name, item);
}

function drop<T extends { readonly name: string }>(record: Readonly<Record<string, T>>, item: T, what: string, fail: Fail) {
  if (!has(record, item.name)) fail(`cannot drop ${what} ${item.name}: there is no ${what} ${item.name}`);
  return withoutEntry(record, item.name);
}

function modify<T extends { readonly name: string }>(record: Readonly<Record<string, T>>, before: T, after: T, what: string, fail: Fail) {
  if (!has(record, before.name)) fail(`cannot modify ${what} ${before.name}: there is no ${what} ${before.name}`);
  if (after.name !== before.name) fail(`cannot modify ${what} ${before.name}: the change would rename it to ${after.name}`);
  return withEntry(record, after.name, after);
}
