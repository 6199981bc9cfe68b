import type { Change, ChangeOf } from "../../../diff/change.js";
import { InvalidInputError } from "../../../errors.js";
import { formatClickHouseType, parseClickHouseType } from "../../../model/clickhouse-type.js";
import { checkStatement } from "./checks.js";
import { type SqlContext, alterTarget, mutationTarget, stateColumn, unsupported } from "./context.js";
import { columnDefinition, columnProperties, valueExpression } from "./tables.js";
import { checkedType, conversionExpression, needAccurateCast, nestedSuffix, notConvertible, typeParts } from "./types.js";
import { qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";
import { classifyTypeChange, conversionCheckable } from "../../../model/type-lattice.js";
import { quoteString } from "../../../model/clickhouse-quote.js";

export function renameColumnStatements(change: ChangeOf<"table.renameColumn">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  if (!caps.renameColumn) {
    throw unsupported(caps, `rename column ${change.from} of table ${change.table} to ${change.to}`, "RENAME COLUMN (ClickHouse 20.4+)", "add the new column, copy the values with ALTER TABLE … UPDATE, then drop the old column (or upgrade the server)");
  }
  return [`ALTER TABLE ${alterTarget(change.table, ctx)} RENAME COLUMN ${quoteIdentifier(change.from)} TO ${quoteIdentifier(change.to)}`];
}

export function addColumnClause(change: ChangeOf<"table.addColumn">, ctx: SqlContext): string {
  const position = change.after === null ? "FIRST" : `AFTER ${quoteIdentifier(change.after)}`;
  if (change.after === null && !ctx.capabilities.addColumnFirst) {
    throw unsupported(ctx.capabilities, `add column ${change.column.name} as the first column of table ${change.table}`, "ADD COLUMN … FIRST (ClickHouse 21.1+)", "declare the new field after an existing one");
  }
  return `ADD COLUMN ${columnDefinition(change.column, change.table, ctx)} ${position}`;
}

export function modifyColumnStatements(change: ChangeOf<"table.modifyColumn">, ctx: SqlContext): string[] {
  const { before, after } = change;
  const caps = ctx.capabilities;
  const target = alterTarget(change.table, ctx);
  const name = quoteIdentifier(after.name);
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `table.modifyColumn of ${change.table}.${before.name} would rename it to ${after.name}; renames are table.renameColumn changes`);
  }
  const type = checkedType(after, change.table, caps);
  const typeChanged = formatClickHouseType(parseClickHouseType(before.type)) !== type;
  const suffix = nestedSuffix([after]);
  const was = valueExpression(before);
  const is = valueExpression(after);
  // What the column loses: ClickHouse keeps a property a MODIFY COLUMN does not restate, so each is removed by name.
  const removed: Array<{ keyword: string; what: string }> = [];
  if (was !== undefined && is === undefined) removed.push({ keyword: was.keyword, what: `the ${was.keyword} of` });
  if (before.codec !== undefined && after.codec === undefined) removed.push({ keyword: "CODEC", what: "the CODEC of" });
  if (before.ttl !== undefined && after.ttl === undefined) removed.push({ keyword: "TTL", what: "the TTL of" });
  const out: string[] = [];
  for (const r of removed) {
    if (!caps.removeColumnDefault) {
      throw unsupported(caps, `remove ${r.what} column ${after.name} in table ${change.table}`, `MODIFY COLUMN … REMOVE ${r.keyword} (ClickHouse 21.1+)`, `keep the ${r.keyword} on the column`);
    }
    // Removed first: ClickHouse checks the old default against the new type otherwise.
    out.push(`ALTER TABLE ${target} MODIFY COLUMN ${name} REMOVE ${r.keyword}`);
  }
  const restated =
    typeChanged ||
    (is !== undefined && (was?.keyword !== is.keyword || was.expression !== is.expression)) ||
    (after.codec !== undefined && after.codec !== before.codec) ||
    (after.ttl !== undefined && after.ttl !== before.ttl);
  if (!restated) return out;
  // Naming the type keeps what is not restated; restating what is declared is harmless.
  return [...out, `ALTER TABLE ${target} MODIFY COLUMN ${name} ${type}${columnProperties(after, change.table, caps)}${suffix}`];
}

export function moveColumnStatement(change: ChangeOf<"table.moveColumn">, ctx: SqlContext): string {
  const caps = ctx.capabilities;
  if (!caps.moveColumn) {
    throw unsupported(caps, `move column ${change.column} of table ${change.table}`, "MODIFY COLUMN … AFTER / FIRST (ClickHouse 21.1+)", "keep the column where it is; column order does not affect queries that name their columns");
  }
  const current = ctx.state?.tables[change.table]?.columns.find((c) => c.name === change.column);
  if (!current) {
    throw new InvalidInputError(
      "CHANGE_NEEDS_STATE",
      `cannot write the SQL to move column ${change.column} of table ${change.table}: ClickHouse moves a column only by restating its type, and the map before the change (ctx.state) does not have that column`,
      { hint: "pass the map just before the change as ctx.state (statementsForChanges carries it through a list)" },
    );
  }
  const position = change.after === null ? "FIRST" : `AFTER ${quoteIdentifier(change.after)}`;
  // Naming only the type keeps the DEFAULT.
  return `ALTER TABLE ${alterTarget(change.table, ctx)} MODIFY COLUMN ${quoteIdentifier(current.name)} ${checkedType(current, change.table, caps)} ${position}${nestedSuffix([current])}`;
}

/**
 * What runs before a narrowing `MODIFY COLUMN` of a scalar column (see `guardedByPreflight`
 * in the planner): without approval, a pre-flight check that stops the step, changing
 * nothing, with the number of rows that would not convert and up to five of their values;
 * with approval, an UPDATE that first gives those rows the converted value or the type's
 * default, so the ALTER cannot fail half-way (a failed MODIFY COLUMN leaves ClickHouse with
 * the new type in its metadata and a mutation that never finishes). Other changes: `[]`.
 *
 * @example typeChangeGuard(modifyColumn("Users", "score", "Int64" → "Int8"), ctx, false)
 * // ["-- moose:check …\nSELECT concat(toString(count()), ' rows of Users.score …') AS problem FROM … WHERE … HAVING count() > 0"]
 */
export function typeChangeGuard(change: Change, ctx: SqlContext, approved: boolean): string[] {
  if (change.kind !== "table.modifyColumn" || classifyTypeChange(change.before.type, change.after.type) !== "lossy") return [];
  if (!conversionCheckable(change.before.type, change.after.type)) return [];
  const { table, before, after } = change;
  needAccurateCast(ctx, `check which rows of ${table}.${before.name} convert from ${before.type} to ${after.type}`);
  const x = quoteIdentifier(before.name);
  const target = qualifiedName(ctx.database, table);
  const bad = notConvertible(x, before.type, after.type);
  if (approved) {
    // The fixed value is written in the old type, so it can only be NULL where that type allows it.
    const fixed = conversionExpression(x, before.type, after.type, typeParts(before.type).nullable);
    return [`ALTER TABLE ${mutationTarget(table, ctx)} UPDATE ${x} = CAST(${fixed}, ${quoteString(before.type)}) WHERE ${bad} SETTINGS mutations_sync = 2`];
  }
  const what = `${table}.${before.name}`;
  return [
    checkStatement(
      [
        `SELECT concat(toString(count()), ${quoteString(` row(s) of ${what} would not convert from ${before.type} to ${after.type} unchanged, e.g. `)}, arrayStringConcat(groupArray(5)(ifNull(toString(${x}), 'NULL')), ', ')) AS problem`,
        `FROM ${target}`,
        `WHERE ${bad}`,
        "HAVING count() > 0",
      ].join("\n"),
      `pre-flight for changing ${what} to ${after.type}: nothing was changed. Fix those values first (a sql(...) step before this one), keep a wider type, regenerate with --safe-type-change, or write { approveDataLoss: true } on the step to convert them to the type's default`,
    ),
  ];
}

export function backfillColumnStatements(change: ChangeOf<"table.backfillColumn">, ctx: SqlContext): string[] {
  const column = stateColumn(change.table, change.column, ctx, `backfill column ${change.column} of table ${change.table}`);
  const target = qualifiedName(ctx.database, change.table);
  // Without mutations_sync the executor waits for the mutation (see execute.ts).
  const sync = ctx.capabilities.mutationsSync ? " SETTINGS mutations_sync = 2" : "";
  const set = (expr: string) => `ALTER TABLE ${mutationTarget(change.table, ctx)} UPDATE ${quoteIdentifier(column.name)} = ${expr} WHERE 1${sync}`;
  if (change.convertFrom !== undefined) {
    const source = stateColumn(change.table, change.convertFrom, ctx, `convert column ${change.convertFrom} of table ${change.table}`);
    needAccurateCast(ctx, `convert ${change.table}.${source.name} to ${column.type}`);
    return [set(conversionExpression(quoteIdentifier(source.name), source.type, column.type))];
  }
  if (change.expression === undefined || change.expression.trim() === "") {
    throw new InvalidInputError("CHANGE_INVALID", `backfill of ${change.table}.${change.column} needs convertFrom (a column) or expression (SQL)`);
  }
  // A mutation whose expression fails on some row never finishes; evaluating it first
  // over every row (the comparison is never true) stops the step before anything changes.
  return [
    checkStatement(
      `SELECT 'unreachable' AS problem FROM ${target} WHERE length(toString(CAST((${change.expression}), ${quoteString(column.type)}))) < 0 LIMIT 1`,
      `the backfill expression for ${change.table}.${change.column} fails on some row; nothing was changed`,
    ),
    set(change.expression),
  ];
}
