import type { Change, ChangeOf } from "../../../diff/change.js";
import { InvalidInputError } from "../../../errors.js";
import type { MaterializedView } from "../../../model/infra-map.js";
import { checkStatement, sameRowsCheck } from "./checks.js";
import type { SqlContext } from "./context.js";
import { insertable } from "./tables.js";
import { qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";
import { quoteString } from "../../../model/clickhouse-quote.js";

/**
 * A write of rows a change makes (`table.copyRows`, `view.backfill`), as data: the
 * executor runs it exactly once (lib/engines/olap/staged-insert.ts), the text form is
 * what `--dry-run` shows. `before`/`after`: checks around it.
 */
export interface RowWrite {
  readonly table: string;
  /** Empty: the SELECT's columns are the table's, in order. */
  readonly columns: readonly string[];
  /** The SELECT producing the rows, in the order of `columns`. */
  readonly select: string;
  /** The target must be empty when the write starts; the message says why. */
  readonly requireEmpty?: string;
  readonly after: readonly string[];
}

/** The write a data change makes, or undefined for other changes. */
export function rowWriteFor(change: Change, ctx: SqlContext): RowWrite | undefined {
  if (change.kind === "table.copyRows") return copyRowsWrite(change, ctx);
  if (change.kind === "view.backfill") return backfillViewWrite(change.view, ctx);
  return undefined;
}

/** A write as plain statements: the INSERT behind its checks. */
export function rowWriteStatements(w: RowWrite, ctx: SqlContext): string[] {
  const list = w.columns.length === 0 ? "" : ` (${w.columns.map(quoteIdentifier).join(", ")})`;
  const target = qualifiedName(ctx.database, w.table);
  const empty = w.requireEmpty === undefined ? [] : [checkStatement(`SELECT concat(${quoteString(`${w.table} already holds `)}, toString(count()), ' rows') AS problem FROM ${target} HAVING count() > 0`, w.requireEmpty)];
  return [...empty, `INSERT INTO ${target}${list}\n${w.select}`, ...w.after];
}

function copyRowsWrite(change: ChangeOf<"table.copyRows">, ctx: SqlContext): RowWrite {
  const from = qualifiedName(ctx.database, change.from);
  const list = change.columns.map(quoteIdentifier).join(", ");
  const columns = change.columns.map((name) => ctx.state?.tables[change.from]?.columns.find((c) => c.name === name) ?? { name, type: "String" });
  return {
    table: change.to,
    columns: change.columns,
    select: `SELECT ${list} FROM ${from}`,
    requireEmpty: `copying the rows of ${change.from} into ${change.to} would duplicate rows already there (empty it, or remove this step)`,
    after: [sameRowsCheck(change.from, change.to, columns.filter((c) => ctx.state?.tables[change.to]?.columns.find((t) => t.name === c.name)?.type === c.type), ctx, `the copy of ${change.from} into ${change.to} is incomplete`)],
  };
}

/**
 * Runs a view's SELECT over the rows its sources already hold. A view writing TO a table
 * inserts by name into the target's columns (the SELECT must produce them, as the view
 * does); a view with inner storage inserts into itself, whose columns are the SELECT's.
 */
function backfillViewWrite(view: MaterializedView, ctx: SqlContext): RowWrite {
  if (view.inner) return { table: view.name, columns: [], select: `SELECT * FROM (\n${view.selectStatement}\n)`, after: [] };
  const target = ctx.state?.tables[view.targetTable];
  if (!target) {
    throw new InvalidInputError("CHANGE_NEEDS_STATE", `cannot write the SQL to backfill view ${view.name}: the map before the change (ctx.state) has no table ${view.targetTable}`);
  }
  const columns = target.columns.filter(insertable).map((c) => c.name);
  const list = columns.map(quoteIdentifier).join(", ");
  return { table: view.targetTable, columns, select: `SELECT ${list} FROM (\n${view.selectStatement}\n)`, after: [] };
}
