import type { Change, ChangeOf } from "../diff/change.js";
import { tableAlteredInPlace } from "../diff/change-meta.js";
import { clusterRebuildRefusal } from "../engines/olap/cluster.js";
import { identifiersIn, MOOSE_NAME_INFIX } from "../engines/olap/sql-text.js";
import { applyChange } from "../model/apply-change.js";
import { canonicalJson, holdsNoRows, type InfraMap, type Table, type TableEngine } from "../model/infra-map.js";
import { WorkingState } from "./working-state.js";

/** The infix of tables a rebuild keeps or stages; introspection leaves them out of the model. */
export const REBUILD_INFIX = MOOSE_NAME_INFIX;

/** Where a rebuild keeps the previous table: `Events__moose_old_20261126031500`. */
export function keptTableName(table: string, suffix: string): string {
  return `${table}${REBUILD_INFIX}old${suffix === "" ? "" : `_${suffix}`}`;
}

/**
 * Replaces the changes ClickHouse cannot ALTER in place (engine, PARTITION BY, and any
 * ORDER BY change other than appending columns this plan adds without a DEFAULT) by
 * one `table.rebuild` per table, placed at the first of them. The rebuild keeps the
 * previous table under {@link keptTableName}; dropping it instead is an edit of the file
 * with an approval.
 *
 * `ordered` is in execution order and `from` is the map before its first change: the
 * rebuild's `before` is the table as the earlier changes (new columns, type changes)
 * leave it, so the copy runs between identical column sets.
 *
 * @example fuseRebuilds([{ kind: "table.setOrderBy", table: "Events", before: ["id"], after: ["ts", "id"] }], from, "20261126031500")
 * // [{ kind: "table.rebuild", before: <Events>, after: <Events ordered by ts, id>, keepOldAs: "Events__moose_old_20261126031500" }]
 */
export function fuseRebuilds(ordered: readonly Change[], from: InfraMap, suffix: string): Change[] {
  return fuseTableChanges(fuseReplacements(ordered, from), from, suffix);
}

/**
 * The table-level changes of each table, in the order given, and the engines it has before
 * and after them (undefined for a table created or dropped here).
 */
function engineSwitch(table: string, ordered: readonly Change[], from: InfraMap): { readonly before?: TableEngine; readonly after?: TableEngine } {
  const before = Object.prototype.hasOwnProperty.call(from.tables, table) ? from.tables[table]?.engine : undefined;
  let after = before;
  for (const c of ordered) if (c.kind === "table.setEngine" && c.table === table) after = c.after;
  return { ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) };
}


/**
 * A table whose engine holds no rows of its own (Kafka, S3, S3Queue, Buffer, Merge), before
 * or after its changes, is dropped and created again with its new definition: ClickHouse
 * cannot ALTER most of these engines, and there is nothing to copy. The pair takes the
 * place of the table's first change. Settings of an S3Queue table that keeps its engine
 * change by `MODIFY SETTING` instead, so that the files it processed are not read again.
 * A table that holds rows and becomes one of them is dropped with them (an approval).
 */
export function fuseReplacements(ordered: readonly Change[], from: InfraMap): Change[] {
  const replaced = new Set<string>();
  for (const c of ordered) {
    const table = tableAlteredInPlace(c);
    if (table === undefined || replaced.has(table)) continue;
    const { before, after } = engineSwitch(table, ordered, from);
    if (!(before !== undefined && holdsNoRows(before)) && !(after !== undefined && holdsNoRows(after))) continue;
    const onlySettings = ordered.every((o) => tableAlteredInPlace(o) !== table || o.kind === "table.setSettings");
    if (onlySettings && before?.kind === "S3Queue" && after?.kind === "S3Queue") continue;
    replaced.add(table);
  }
  if (replaced.size === 0) return [...ordered];
  const out: Change[] = [];
  const done = new Set<string>();
  const state = new WorkingState(from);
  for (const change of ordered) {
    const table = tableAlteredInPlace(change);
    if (table === undefined || !replaced.has(table)) {
      out.push(change);
      state.apply(change);
      continue;
    }
    if (done.has(table)) continue;
    done.add(table);
    const before = state.map.tables[table] as Table;
    let after: Table = before;
    for (const c of ordered) {
      if (tableAlteredInPlace(c) !== table) continue;
      after = applyChange({ ...state.map, tables: { ...state.map.tables, [table]: after } }, c).tables[table] as Table;
    }
    if (canonicalJson(after) === canonicalJson(before)) continue;
    const pair: Change[] = [
      { kind: "table.drop", table: before },
      { kind: "table.create", table: after },
    ];
    for (const c of pair) {
      out.push(c);
      state.apply(c);
    }
  }
  return out;
}

function fuseTableChanges(ordered: readonly Change[], from: InfraMap, suffix: string): Change[] {
  const rebuilt = new Set<string>();
  ordered.forEach((c, i) => {
    if (c.kind === "table.setEngine" || c.kind === "table.setPartitionBy" || c.kind === "table.setPrimaryKey" || c.kind === "table.setSampleBy" || (c.kind === "table.setOrderBy" && !alterableOrderBy(c, ordered.slice(0, i), from))) {
      rebuilt.add(c.table);
    }
  });
  if (rebuilt.size === 0) return [...ordered];

  const out: Change[] = [];
  const done = new Set<string>();
  const state = new WorkingState(from);
  for (const change of ordered) {
    const table = structuralTable(change);
    if (table === undefined || !rebuilt.has(table)) {
      out.push(change);
      state.apply(change);
      continue;
    }
    if (done.has(table)) continue;
    done.add(table);
    const before = state.map.tables[table] as Table;
    let after: Table = before;
    for (const c of ordered) {
      if (structuralTable(c) !== table) continue;
      after = applyChange({ ...state.map, tables: { ...state.map.tables, [table]: after } }, c).tables[table] as Table;
    }
    if (canonicalJson(after) === canonicalJson(before)) continue;
    const refusal = clusterRebuildRefusal(before, after);
    if (refusal) throw refusal;
    const rebuild: Change = { kind: "table.rebuild", before, after, keepOldAs: keptTableName(table, suffix) };
    out.push(rebuild);
    state.apply(rebuild);
  }
  return out;
}

function structuralTable(change: Change): string | undefined {
  return change.kind === "table.setEngine" ||
    change.kind === "table.setPartitionBy" ||
    change.kind === "table.setOrderBy" ||
    change.kind === "table.setPrimaryKey" ||
    change.kind === "table.setSampleBy"
    ? change.table
    : undefined;
}

/**
 * ClickHouse extends a sorting key in place only with columns added by the same ALTER,
 * without a DEFAULT (the renderer fuses those adds with the ORDER BY change); an appended
 * expression must use such a column and no column that existed before.
 */
function alterableOrderBy(change: ChangeOf<"table.setOrderBy">, earlier: readonly Change[], from: InfraMap): boolean {
  const { before, after } = change;
  if (after.length <= before.length || !before.every((e, i) => after[i] === e)) return false;
  const added = new Set(
    earlier.flatMap((c) => (c.kind === "table.addColumn" && c.table === change.table && c.column.default === undefined ? [c.column.name] : [])),
  );
  const existing = new Set((Object.prototype.hasOwnProperty.call(from.tables, change.table) ? from.tables[change.table]?.columns ?? [] : []).map((c) => c.name));
  return after.slice(before.length).every((entry) => {
    const names = new Set([entry, ...identifiersIn(entry)]);
    return [...names].some((n) => added.has(n)) && ![...names].some((n) => existing.has(n) && !added.has(n));
  });
}
