import { InvalidInputError } from "../errors.js";
import {
  plainViewsOf,
  sqlResourcesOf,
  canonicallyEqual,
  knownEqualEntries,
  type Column,
  type InfraMap,
  type Table,
} from "../model/infra-map.js";
import type { Change } from "./change.js";

/** A hint that a table was renamed rather than dropped and created. */
export interface TableRename {
  readonly from: string;
  readonly to: string;
}

/** A hint that a column was renamed. `table` is the table's name in the target map (its old name is accepted too). */
export interface ColumnRename {
  readonly table: string;
  readonly from: string;
  readonly to: string;
}

export interface DiffOptions {
  /**
   * Explicit renames. Without them a renamed table or column shows up as a drop plus
   * an add, which loses its data; resolving the ambiguity (prompt, flag, script) is up
   * to the caller. A hint whose rename already happened (the current state has the new
   * name and not the old one) is ignored: hints stay in the code after the migration
   * that renamed is committed.
   */
  readonly renames?: {
    readonly tables?: readonly TableRename[];
    readonly columns?: readonly ColumnRename[];
  };
}

/**
 * The changes that turn `from` into `to`, as plain data. Pure and deterministic:
 * components come in `COMPONENT_KINDS` order, then by name; table renames come first
 * among tables; within a table the order is renames, drops, modifications, moves,
 * adds, then table-level settings, and applying the list in order with
 * `applyChanges` gives exactly `to`.
 *
 * @example
 * diff(current, desired, { renames: { columns: [{ table: "Users", from: "mail", to: "email" }] } })
 * // [{ kind: "table.renameColumn", table: "Users", from: "mail", to: "email" }, ...]
 *
 * Throws an InvalidInputError (code `RENAME_HINT_INVALID`) when a rename hint does not
 * match the two maps (a hint whose rename already happened is skipped, not an error).
 */
export function diff(from: InfraMap, to: InfraMap, options: DiffOptions = {}): Change[] {
  const tableRenames = checkTableRenames(from, to, options.renames?.tables ?? []);
  const columnRenames = checkColumnRenames(from, to, tableRenames, options.renames?.columns ?? []);
  // Same order as COMPONENT_KINDS.
  return [
    ...diffTables(from, to, tableRenames, columnRenames),
    ...diffSimple(from.topics, to.topics, {
      create: (topic) => ({ kind: "topic.create", topic }),
      drop: (topic) => ({ kind: "topic.drop", topic }),
      modify: (before, after) => ({ kind: "topic.modify", before, after }),
    }),
    ...diffSimple(from.views, to.views, {
      create: (view) => ({ kind: "view.create", view }),
      drop: (view) => ({ kind: "view.drop", view }),
      modify: (before, after) => ({ kind: "view.modify", before, after }),
    }),
    ...diffSimple(plainViewsOf(from), plainViewsOf(to), {
      create: (view) => ({ kind: "plainView.create", view }),
      drop: (view) => ({ kind: "plainView.drop", view }),
      modify: (before, after) => ({ kind: "plainView.modify", before, after }),
    }),
    ...diffSimple(sqlResourcesOf(from), sqlResourcesOf(to), {
      create: (resource) => ({ kind: "sqlResource.create", resource }),
      drop: (resource) => ({ kind: "sqlResource.drop", resource }),
      modify: (before, after) => ({ kind: "sqlResource.modify", before, after }),
    }),
    ...diffSimple(from.processes, to.processes, {
      create: (process) => ({ kind: "process.create", process }),
      drop: (process) => ({ kind: "process.drop", process }),
      modify: (before, after) => ({ kind: "process.modify", before, after }),
    }),
    ...diffSimple(from.apis, to.apis, {
      create: (api) => ({ kind: "api.create", api }),
      drop: (api) => ({ kind: "api.drop", api }),
      modify: (before, after) => ({ kind: "api.modify", before, after }),
    }),
    ...diffSimple(from.workflows, to.workflows, {
      create: (workflow) => ({ kind: "workflow.create", workflow }),
      drop: (workflow) => ({ kind: "workflow.drop", workflow }),
      modify: (before, after) => ({ kind: "workflow.modify", before, after }),
    }),
  ];
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const has = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key);
/** Own members only: a table called `constructor` must not find Object.prototype's. */
const get = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined => (has(record, key) ? record[key] : undefined);
const same = (a: unknown, b: unknown): boolean => canonicallyEqual(a, b);

function invalidHint(message: string): InvalidInputError {
  return new InvalidInputError("RENAME_HINT_INVALID", message, {
    hint: "rename hints name a table (or column) of the current state and its new name in the desired state",
  });
}

/** Validated table renames, old name -> new name. */
function checkTableRenames(from: InfraMap, to: InfraMap, hints: readonly TableRename[]): Map<string, string> {
  const renames = new Map<string, string>();
  const targets = new Set<string>();
  for (const h of hints) {
    const what = `table rename ${h.from} -> ${h.to}`;
    if (!has(from.tables, h.from) && has(from.tables, h.to)) continue;
    if (!has(from.tables, h.from)) throw invalidHint(`${what}: there is no table ${h.from} in the current state`);
    if (!has(to.tables, h.to)) throw invalidHint(`${what}: there is no table ${h.to} in the desired state`);
    if (h.from === h.to) throw invalidHint(`${what}: the names are the same`);
    // Renaming onto a name that is still taken (or swapping names) would need a temporary name.
    if (has(from.tables, h.to)) throw invalidHint(`${what}: a table ${h.to} already exists in the current state`);
    if (renames.has(h.from)) throw invalidHint(`${what}: table ${h.from} is renamed twice`);
    if (targets.has(h.to)) throw invalidHint(`${what}: two tables are renamed to ${h.to}`);
    renames.set(h.from, h.to);
    targets.add(h.to);
  }
  return renames;
}

/** Validated column renames, keyed by the table's new name: old column name -> new. */
function checkColumnRenames(
  from: InfraMap,
  to: InfraMap,
  tableRenames: ReadonlyMap<string, string>,
  hints: readonly ColumnRename[],
): Map<string, Map<string, string>> {
  const oldName = new Map([...tableRenames].map(([o, n]) => [n, o]));
  const result = new Map<string, Map<string, string>>();
  for (const h of hints) {
    const what = `column rename ${h.table}.${h.from} -> ${h.to}`;
    // Accept the table's new name, or its old one when it is renamed too.
    const newTable = tableRenames.get(h.table) ?? h.table;
    const oldTable = oldName.get(newTable) ?? newTable;
    const before = get(from.tables, oldTable);
    const after = get(to.tables, newTable);
    const already = (t: Table | undefined): boolean => !!t && !t.columns.some((c) => c.name === h.from) && t.columns.some((c) => c.name === h.to);
    // Already renamed: in the current table under its old name, or in the table under the hint's name.
    if (already(before) || (!before && already(get(from.tables, h.table)))) continue;
    if (!before || !after) throw invalidHint(`${what}: table ${h.table} is not in both the current and the desired state`);
    if (!before.columns.some((c) => c.name === h.from)) throw invalidHint(`${what}: table ${oldTable} has no column ${h.from} in the current state`);
    if (!after.columns.some((c) => c.name === h.to)) throw invalidHint(`${what}: table ${newTable} has no column ${h.to} in the desired state`);
    if (h.from === h.to) throw invalidHint(`${what}: the names are the same`);
    if (before.columns.some((c) => c.name === h.to)) throw invalidHint(`${what}: table ${oldTable} already has a column ${h.to}`);
    const renames = result.get(newTable) ?? new Map<string, string>();
    if (renames.has(h.from)) throw invalidHint(`${what}: column ${h.from} is renamed twice`);
    if ([...renames.values()].includes(h.to)) throw invalidHint(`${what}: two columns are renamed to ${h.to}`);
    renames.set(h.from, h.to);
    result.set(newTable, renames);
  }
  return result;
}

function diffTables(
  from: InfraMap,
  to: InfraMap,
  tableRenames: ReadonlyMap<string, string>,
  columnRenames: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Change[] {
  const changes: Change[] = [];
  // Old name -> table, under its new name when it is renamed.
  const current = new Map<string, Table>();
  for (const [name, table] of Object.entries(from.tables)) {
    const renamed = tableRenames.get(name);
    current.set(renamed ?? name, renamed === undefined ? table : { ...table, name: renamed });
  }
  for (const [oldName, newName] of [...tableRenames].sort(([a], [b]) => byName(a, b))) {
    changes.push({ kind: "table.rename", from: oldName, to: newName });
  }
  const names = [...new Set([...current.keys(), ...Object.keys(to.tables)])].sort(byName);
  for (const name of names) {
    const before = current.get(name);
    const after = get(to.tables, name);
    if (before && !after) changes.push({ kind: "table.drop", table: before });
    else if (!before && after) changes.push({ kind: "table.create", table: after });
    else if (before && after) {
      const renames = columnRenames.get(name);
      // Most tables of a large app are unchanged, and known so when both maps were hashed keeping their entries' texts.
      if (renames === undefined && knownEqualEntries(name, before, after) === true) continue;
      changes.push(...diffTable(before, after, renames ?? new Map()));
    }
  }
  return changes;
}

/** Changes that turn table `a` into `b` (same name). */
function diffTable(a: Table, b: Table, columnRenames: ReadonlyMap<string, string>): Change[] {
  const table = b.name;
  const changes: Change[] = [];

  for (const c of a.columns) {
    const renamed = columnRenames.get(c.name);
    if (renamed !== undefined) changes.push({ kind: "table.renameColumn", table, from: c.name, to: renamed });
  }
  const renamedColumns: Column[] = a.columns.map((c) => {
    const renamed = columnRenames.get(c.name);
    return renamed === undefined ? c : { ...c, name: renamed };
  });
  const target = new Map(b.columns.map((c) => [c.name, c]));
  const source = new Map(renamedColumns.map((c) => [c.name, c]));

  for (const c of renamedColumns) {
    if (!target.has(c.name)) changes.push({ kind: "table.dropColumn", table, column: c });
  }
  for (const c of b.columns) {
    const old = source.get(c.name);
    if (old && !same(old, c)) changes.push({ kind: "table.modifyColumn", table, before: old, after: c });
  }
  changes.push(...columnMoves(table, renamedColumns.map((c) => c.name).filter((n) => target.has(n)), b.columns.map((c) => c.name).filter((n) => source.has(n))));
  b.columns.forEach((c, i) => {
    if (!source.has(c.name)) changes.push({ kind: "table.addColumn", table, column: c, after: i === 0 ? null : (b.columns[i - 1] as Column).name });
  });

  if (!same(a.engine, b.engine)) changes.push({ kind: "table.setEngine", table, before: a.engine, after: b.engine });
  if (!same(a.orderBy, b.orderBy)) changes.push({ kind: "table.setOrderBy", table, before: a.orderBy, after: b.orderBy });
  if (a.partitionBy !== b.partitionBy) changes.push(optional({ kind: "table.setPartitionBy" as const, table, before: a.partitionBy, after: b.partitionBy }));
  if (a.ttl !== b.ttl) changes.push(optional({ kind: "table.setTtl" as const, table, before: a.ttl, after: b.ttl }));
  if (!same(a.settings, b.settings)) changes.push({ kind: "table.setSettings", table, before: a.settings, after: b.settings });
  if (!same(a.primaryKey, b.primaryKey) && !keptPrimaryKey(a, b)) changes.push(optionalList({ kind: "table.setPrimaryKey" as const, table, before: a.primaryKey, after: b.primaryKey }));
  if (a.sampleBy !== b.sampleBy) changes.push(optional({ kind: "table.setSampleBy" as const, table, before: a.sampleBy, after: b.sampleBy }));
  if (!same(a.indexes ?? [], b.indexes ?? [])) changes.push({ kind: "table.setIndexes", table, before: a.indexes ?? [], after: b.indexes ?? [] });
  if (!same(a.constraints ?? [], b.constraints ?? [])) changes.push({ kind: "table.setConstraints", table, before: a.constraints ?? [], after: b.constraints ?? [] });
  if (!same(a.projections ?? [], b.projections ?? [])) changes.push({ kind: "table.setProjections", table, before: a.projections ?? [], after: b.projections ?? [] });
  if (a.lifeCycle !== b.lifeCycle) changes.push({ kind: "table.setLifeCycle", table, before: a.lifeCycle, after: b.lifeCycle });
  return changes;
}

/** Drops `before`/`after` members that are undefined, so changes compare and serialize cleanly. */
function optional<T extends { before?: string; after?: string }>(change: T): T {
  const out = { ...change };
  if (out.before === undefined) delete out.before;
  if (out.after === undefined) delete out.after;
  return out;
}

/**
 * A table whose ORDER BY was extended in place keeps its old sorting key as primary key
 * (ClickHouse's MODIFY ORDER BY leaves the primary key alone). A declaration without
 * `primaryKeyExpression` accepts that: it is not a change to rebuild for.
 */
function keptPrimaryKey(a: Table, b: Table): boolean {
  return b.primaryKey === undefined && a.primaryKey !== undefined && a.primaryKey.length < b.orderBy.length && a.primaryKey.every((e, i) => b.orderBy[i] === e);
}

function optionalList<T extends { before?: readonly string[]; after?: readonly string[] }>(change: T): T {
  const out = { ...change };
  if (out.before === undefined) delete out.before;
  if (out.after === undefined) delete out.after;
  return out;
}

/**
 * Moves that turn the kept columns' current order into their target order, moving as
 * few columns as possible: the longest run already in target order stays put, every
 * other column is moved, in target order, right after its target predecessor. Each
 * move then lands next to a column that is already where it belongs, so the result
 * is exact.
 */
function columnMoves(table: string, current: readonly string[], target: readonly string[]): Change[] {
  const targetIndex = new Map(target.map((n, i) => [n, i]));
  const stay = new Set(longestIncreasing(current.map((n) => targetIndex.get(n) as number)).map((i) => target[i] as string));
  const order = [...current];
  const moves: Change[] = [];
  target.forEach((name, i) => {
    if (stay.has(name)) return;
    const after = i === 0 ? null : (target[i - 1] as string);
    const at = order.indexOf(name);
    const before = at === 0 ? null : (order[at - 1] as string);
    order.splice(at, 1);
    order.splice(after === null ? 0 : order.indexOf(after) + 1, 0, name);
    moves.push({ kind: "table.moveColumn", table, column: name, after, before });
  });
  return moves;
}

/** The values of a longest strictly increasing subsequence (ties broken towards the earliest). */
function longestIncreasing(values: readonly number[]): number[] {
  // O(n^2) is plenty for column lists and keeps the tie-breaking obvious.
  const length: number[] = [];
  const prev: number[] = [];
  values.forEach((v, i) => {
    length[i] = 1;
    prev[i] = -1;
    for (let j = 0; j < i; j++) {
      if ((values[j] as number) < v && (length[j] as number) + 1 > (length[i] as number)) {
        length[i] = (length[j] as number) + 1;
        prev[i] = j;
      }
    }
  });
  let best = -1;
  length.forEach((l, i) => {
    if (best === -1 || l > (length[best] as number)) best = i;
  });
  const out: number[] = [];
  for (let i = best; i !== -1; i = prev[i] as number) out.unshift(values[i] as number);
  return out;
}

function diffSimple<T extends { readonly name: string }>(
  from: Readonly<Record<string, T>>,
  to: Readonly<Record<string, T>>,
  make: { readonly create: (item: T) => Change; readonly drop: (item: T) => Change; readonly modify: (before: T, after: T) => Change },
): Change[] {
  const changes: Change[] = [];
  const names = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort(byName);
  for (const name of names) {
    const before = get(from, name);
    const after = get(to, name);
    if (before && !after) changes.push(make.drop(before));
    else if (!before && after) changes.push(make.create(after));
    else if (before && after && !same(before, after)) changes.push(make.modify(before, after));
  }
  return changes;
}
