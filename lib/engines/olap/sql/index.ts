import type { Change, ChangeOf } from "../../../diff/change.js";
import { ownerOf, subjects, type KindsOwnedBy } from "../../../diff/change-meta.js";
import { applyChange } from "../../../model/apply-change.js";
import { canonicalJson, emptyInfraMap } from "../../../model/infra-map.js";
import { onCluster } from "../cluster.js";
import { identifiersIn } from "../sql-text.js";
import { addColumnClause, backfillColumnStatements, modifyColumnStatements, moveColumnStatement, renameColumnStatements } from "./columns.js";
import { type SqlContext, alterTarget, clusterOf, databaseOf, needsRebuild } from "./context.js";
import { rebuildStatements } from "./rebuild.js";
import { type RowWrite, rowWriteFor, rowWriteStatements } from "./row-writes.js";
import { isStrictExtension, setConstraintsStatements, setIndexesStatements, setOrderByStatements, setProjectionsStatements, setSettingsStatements, setTtlStatements } from "./table-options.js";
import { createTableStatement, describeEngine, keyText } from "./tables.js";
import { nestedSuffix } from "./types.js";
import { createPlainViewStatement, dropPlainViewStatement, modifyPlainViewStatements } from "./plain-views.js";
import { modifyStatements as modifySqlResourceStatements, setupStatements, teardownStatements } from "./sql-resources.js";
import { createViewStatement, dropViewStatement, modifyViewStatements } from "./views.js";
import { qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";

/**
 * The ClickHouse statements that carry out one change, in order. This is the only
 * place SQL is produced. Names are always backquoted; string values are quoted; the
 * only text pasted as is is what the user wrote as SQL (DEFAULT, ORDER BY / PARTITION BY
 * / TTL expressions, a view's SELECT). Column types are parsed and re-printed in
 * canonical form, so a malformed type is an error here rather than in ClickHouse.
 *
 * Throws `RefusedError`:
 * - `UNSUPPORTED_BY_SERVER` when `capabilities` say the server cannot run it (naming the
 *   version, the object and the alternative), before anything is sent;
 * - `NEEDS_REBUILD` for what ClickHouse cannot ALTER in place: engine, PARTITION BY,
 *   most ORDER BY changes, read-only settings.
 *
 * Kinds another engine owns (topics, workflows; APIs, processes and life cycles, which
 * live in moose's state) give `[]`.
 *
 * Appending to ORDER BY only works in the same ALTER that adds the columns; use
 * {@link statementsForChanges} for a list of changes, which arranges that.
 *
 * @example
 * statementsFor({ kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } }, { database: "app", capabilities })
 * // ["ALTER TABLE `app`.`Users` DROP COLUMN `age`"]
 */
export function statementsFor(change: Change, ctx: SqlContext): string[] {
  if (ownerOf(change) !== "olap") return [];
  const convert = OLAP_SQL[change.kind as KindsOwnedBy<"olap">] as Convertor<Change>;
  return convert(change, ctx);
}

/** Turns one change of kind `K` into its statements. */
type Convertor<C extends Change> = (change: C, ctx: SqlContext) => string[];

/**
 * One small convertor per change kind the OLAP engine owns (lib/diff/change-meta.ts
 * says which): the compiler asks for an entry when a kind is added there.
 */
const OLAP_SQL: { readonly [K in KindsOwnedBy<"olap">]: Convertor<ChangeOf<K>> } = {
  "table.create": (change, ctx) => [...databaseOf(change.table.name, change.table.engine.cluster, ctx), createTableStatement(change.table, ctx)],
  "table.drop": (change, ctx) => [`DROP TABLE ${qualifiedName(ctx.database, change.table.name)}${onCluster(change.table.engine.cluster)}`],
  "table.rename": (change, ctx) => [...databaseOf(change.to, clusterOf(change.from, ctx), ctx), `RENAME TABLE ${qualifiedName(ctx.database, change.from)} TO ${qualifiedName(ctx.database, change.to)}${onCluster(clusterOf(change.from, ctx))}`],
  "table.addColumn": (change, ctx) => [`ALTER TABLE ${alterTarget(change.table, ctx)} ${addColumnClause(change, ctx)}${nestedSuffix([change.column])}`],
  "table.dropColumn": (change, ctx) => [`ALTER TABLE ${alterTarget(change.table, ctx)} DROP COLUMN ${quoteIdentifier(change.column.name)}`],
  "table.renameColumn": renameColumnStatements,
  "table.modifyColumn": modifyColumnStatements,
  "table.moveColumn": (change, ctx) => [moveColumnStatement(change, ctx)],
  "table.setOrderBy": (change, ctx) => setOrderByStatements(change, ctx, []),
  "table.setEngine": (change) => {
    if (canonicalJson(change.before) === canonicalJson(change.after)) return [];
    throw needsRebuild(change.table, `its engine changes from ${describeEngine(change.before)} to ${describeEngine(change.after)}, and ClickHouse cannot change a table's engine in place`);
  },
  "table.setPartitionBy": (change) => {
    if (change.before === change.after) return [];
    throw needsRebuild(change.table, `its PARTITION BY changes from ${change.before ?? "(none)"} to ${change.after ?? "(none)"}, and ClickHouse cannot change a partition key in place`);
  },
  "table.setTtl": setTtlStatements,
  "table.setSettings": setSettingsStatements,
  "table.setPrimaryKey": (change) => {
    if (canonicalJson(change.before) === canonicalJson(change.after)) return [];
    throw needsRebuild(change.table, `its PRIMARY KEY changes from ${keyText(change.before)} to ${keyText(change.after)}, and ClickHouse cannot change a primary key in place`);
  },
  "table.setSampleBy": (change) => {
    if (change.before === change.after) return [];
    throw needsRebuild(change.table, `its SAMPLE BY changes from ${change.before ?? "(none)"} to ${change.after ?? "(none)"}`);
  },
  "table.setIndexes": setIndexesStatements,
  "table.setConstraints": setConstraintsStatements,
  "table.setProjections": setProjectionsStatements,
  "table.rebuild": rebuildStatements,
  "table.backfillColumn": backfillColumnStatements,
  "table.copyRows": (change, ctx) => rowWriteStatements(rowWriteFor(change, ctx) as RowWrite, ctx),
  "view.backfill": (change, ctx) => rowWriteStatements(rowWriteFor(change, ctx) as RowWrite, ctx),
  "view.create": (change, ctx) => [createViewStatement(change.view, ctx)],
  "view.drop": (change, ctx) => [dropViewStatement(change.view, ctx)],
  "view.modify": (change, ctx) => modifyViewStatements(change.before, change.after, ctx),
  "plainView.create": (change, ctx) => [createPlainViewStatement(change.view, ctx)],
  "plainView.drop": (change, ctx) => [dropPlainViewStatement(change.view, ctx)],
  "plainView.modify": (change, ctx) => modifyPlainViewStatements(change.before, change.after, ctx),
  "sqlResource.create": (change, ctx) => setupStatements(change.resource, ctx),
  "sqlResource.drop": (change, ctx) => teardownStatements(change.resource, ctx),
  "sqlResource.modify": (change, ctx) => modifySqlResourceStatements(change.before, change.after, ctx),
};

/**
 * Statements for a list of changes, one list per change (aligned by index), in the
 * order given. Unlike calling {@link statementsFor} one by one, this fuses a
 * `table.setOrderBy` that appends new columns with the `table.addColumn` changes
 * that add them: ClickHouse only lets ORDER BY grow by columns added in the same
 * ALTER. The fused `ALTER TABLE … ADD COLUMN …, MODIFY ORDER BY …` is placed at the
 * setOrderBy, and the absorbed addColumn changes get no statements of their own.
 *
 * `ctx.state`, when given, is the map before the first change and is carried through.
 *
 * @example
 * statementsForChanges([addColumn("Users", "region"), setOrderBy("Users", ["id"], ["id", "region"])], ctx)
 * // [[], ["ALTER TABLE `app`.`Users` ADD COLUMN `region` String AFTER `name`, MODIFY ORDER BY (`id`, `region`)"]]
 */
export function statementsForChanges(changes: readonly Change[], ctx: SqlContext): string[][] {
  const absorbedBy = new Map<number, number>();
  const absorbs = new Map<number, number[]>();
  changes.forEach((change, i) => {
    if (change.kind !== "table.setOrderBy" || !isStrictExtension(change.before, change.after)) return;
    const adds = fusableAdds(changes, i, absorbedBy);
    if (adds.length === 0) return;
    for (const j of adds) absorbedBy.set(j, i);
    absorbs.set(i, adds);
  });

  const out: string[][] = [];
  let state = ctx.state;
  changes.forEach((change, i) => {
    const here: SqlContext = state === undefined ? ctx : { ...ctx, state };
    if (absorbedBy.has(i)) out.push([]);
    else if (change.kind === "table.setOrderBy" && absorbs.has(i)) {
      const adds = (absorbs.get(i) ?? []).map((j) => changes[j] as ChangeOf<"table.addColumn">);
      out.push(setOrderByStatements(change, here, adds));
    } else out.push(statementsFor(change, here));
    // Only tables matter for rendering; other kinds are not replayed. After the last change the
    // state is not read: applying it would copy every table of the map for nothing.
    if (state !== undefined && i < changes.length - 1 && change.kind.startsWith("table.")) state = { tables: applyChange({ ...emptyInfraMap(), tables: state.tables }, change).tables };
  });
  return out;
}

/**
 * The addColumn changes a growing ORDER BY at `at` can absorb: the run of addColumn
 * changes on the same table before it, back to the first one whose column the new
 * ORDER BY entries use. Other changes to that table in between would run out of
 * order, so then nothing is fused (and the ORDER BY change is refused as usual).
 */
function fusableAdds(changes: readonly Change[], at: number, taken: ReadonlyMap<number, number>): number[] {
  const change = changes[at] as ChangeOf<"table.setOrderBy">;
  const used = new Set<string>();
  for (const entry of change.after.slice(change.before.length)) {
    used.add(entry);
    for (const name of identifiersIn(entry)) used.add(name);
  }
  const run: number[] = [];
  let first = -1;
  for (let j = at - 1; j >= 0; j -= 1) {
    const c = changes[j] as Change;
    if (!touchesTable(c, change.table)) continue;
    if (c.kind !== "table.addColumn" || taken.has(j)) break;
    run.unshift(j);
    if (used.has(c.column.name)) first = j;
  }
  return first < 0 ? [] : run.filter((j) => j >= first);
}

function touchesTable(change: Change, table: string): boolean {
  return ownerOf(change) === "olap" && subjects(change).some((s) => s.collection === "tables" && s.name === table);
}
