import type { ChangeOf } from "../../../diff/change.js";
import { canonicalJson, type SettingValue } from "../../../model/infra-map.js";
import { identifiersIn } from "../sql-text.js";
import { addColumnClause } from "./columns.js";
import { type SqlContext, alterTarget, needsRebuild, runtimeEnvWriter, unsupported } from "./context.js";
import { checkSettingName, constraintDefinition, indexDefinition, orderByExpression, projectionDefinition, settingAssignment, valueExpression } from "./tables.js";
import { nestedSuffix } from "./types.js";
import { quoteIdentifier } from "../../../model/clickhouse-quote.js";

/** Entries of `after` that are new or differ from the entry of the same name in `before`. */
function changedByName<T extends { readonly name: string }>(before: readonly T[], after: readonly T[]): T[] {
  return after.filter((a) => {
    const b = before.find((x) => x.name === a.name);
    return b === undefined || canonicalJson(a) !== canonicalJson(b);
  });
}

export function setIndexesStatements(change: ChangeOf<"table.setIndexes">, ctx: SqlContext): string[] {
  const target = alterTarget(change.table, ctx);
  const added = changedByName(change.before, change.after);
  const dropped = change.before.filter((b) => canonicalJson(change.after.find((a) => a.name === b.name)) !== canonicalJson(b));
  if ((added.length > 0 || dropped.length > 0) && !ctx.capabilities.skippingIndexes) {
    throw unsupported(ctx.capabilities, `change the indexes of table ${change.table}`, "data-skipping indexes (ClickHouse 21.1+)", "leave the indexes out of the declaration");
  }
  return [
    ...dropped.map((i) => `ALTER TABLE ${target} DROP INDEX ${quoteIdentifier(i.name)}`),
    ...added.flatMap((i) => [
      `ALTER TABLE ${target} ADD ${indexDefinition(i, change.table, ctx.capabilities)}`,
      // A new index covers new parts only; existing rows are indexed by this mutation.
      `ALTER TABLE ${target} MATERIALIZE INDEX ${quoteIdentifier(i.name)} SETTINGS mutations_sync = 2`,
    ]),
  ];
}

export function setConstraintsStatements(change: ChangeOf<"table.setConstraints">, ctx: SqlContext): string[] {
  const target = alterTarget(change.table, ctx);
  const added = changedByName(change.before, change.after);
  const dropped = change.before.filter((b) => canonicalJson(change.after.find((a) => a.name === b.name)) !== canonicalJson(b));
  return [
    ...dropped.map((c) => `ALTER TABLE ${target} DROP CONSTRAINT ${quoteIdentifier(c.name)}`),
    // ClickHouse checks a new CHECK constraint on later INSERTs only: the rows already stored are not read.
    ...added.map((c) => `ALTER TABLE ${target} ADD ${constraintDefinition(c, change.table, ctx.capabilities)}`),
  ];
}

export function setProjectionsStatements(change: ChangeOf<"table.setProjections">, ctx: SqlContext): string[] {
  const target = alterTarget(change.table, ctx);
  const added = changedByName(change.before, change.after);
  const dropped = change.before.filter((b) => canonicalJson(change.after.find((a) => a.name === b.name)) !== canonicalJson(b));
  if ((added.length > 0 || dropped.length > 0) && !ctx.capabilities.projections) {
    throw unsupported(ctx.capabilities, `change the projections of table ${change.table}`, "projections (ClickHouse 25.1+ here)", "leave the projections out of the declaration");
  }
  return [
    ...dropped.map((p) => `ALTER TABLE ${target} DROP PROJECTION ${quoteIdentifier(p.name)}`),
    ...added.flatMap((p) => [
      `ALTER TABLE ${target} ADD ${projectionDefinition(p, change.table, ctx.capabilities)}`,
      `ALTER TABLE ${target} MATERIALIZE PROJECTION ${quoteIdentifier(p.name)} SETTINGS mutations_sync = 2`,
    ]),
  ];
}

export function isStrictExtension(before: readonly string[], after: readonly string[]): boolean {
  return after.length > before.length && before.every((e, i) => after[i] === e);
}

export function setOrderByStatements(change: ChangeOf<"table.setOrderBy">, ctx: SqlContext, adds: ReadonlyArray<ChangeOf<"table.addColumn">>): string[] {
  const { before, after } = change;
  const caps = ctx.capabilities;
  if (before.length === after.length && before.every((e, i) => after[i] === e)) return [];
  const shown = (entries: readonly string[]): string => (entries.length === 0 ? "tuple()" : `(${entries.join(", ")})`);
  const what = `its ORDER BY changes from ${shown(before)} to ${shown(after)}`;
  if (!caps.modifyOrderBy) throw unsupported(caps, `change the ORDER BY of table ${change.table}`, "MODIFY ORDER BY", "rebuild the table");
  const known = ctx.state?.tables[change.table];
  const columns = new Set([...(known?.columns.map((c) => c.name) ?? []), ...adds.map((a) => a.column.name)]);
  const target = alterTarget(change.table, ctx);

  if (isStrictExtension(before, after)) {
    const appended = after.slice(before.length);
    if (adds.length === 0) {
      throw needsRebuild(
        change.table,
        `${what}: ClickHouse appends to ORDER BY only columns added by the same ALTER (without a DEFAULT), and ${appended.join(", ")} ${appended.length === 1 ? "is" : "are"} not added together with this change`,
        "when the columns are new, render the table.addColumn and table.setOrderBy changes together (statementsForChanges); otherwise rebuild the table",
      );
    }
    const withDefault = adds.filter((a) => valueExpression(a.column) !== undefined && [...appended].some((e) => e === a.column.name || identifiersIn(e).has(a.column.name)));
    if (withDefault.length > 0) {
      throw needsRebuild(
        change.table,
        `${what}: the new column${withDefault.length === 1 ? "" : "s"} ${withDefault.map((a) => a.column.name).join(", ")} ${withDefault.length === 1 ? "has" : "have"} a DEFAULT, and ClickHouse does not put a column with a DEFAULT into the sorting key of existing rows`,
        "drop the DEFAULT from the new column or rebuild the table",
      );
    }
    // `state` already holds the fused columns (they come earlier in the list); only older ones count.
    const added = new Set(adds.map((a) => a.column.name));
    const existing = known ? appended.flatMap((e) => [...identifiersIn(e)]).filter((n) => !added.has(n) && known.columns.some((c) => c.name === n)) : [];
    if (existing.length > 0) {
      throw needsRebuild(change.table, `${what}: ${[...new Set(existing)].join(", ")} already ${existing.length === 1 ? "exists" : "exist"}, and ClickHouse appends to ORDER BY only columns added by the same ALTER`);
    }
    const clauses = adds.map((a) => addColumnClause(a, ctx));
    return [`ALTER TABLE ${target} ${clauses.join(", ")}, MODIFY ORDER BY ${orderByExpression(after, columns)}${nestedSuffix(adds.map((a) => a.column))}`];
  }
  // Dropping trailing entries keeps the data sorted; ClickHouse still checks that the
  // primary key (the ORDER BY at creation) stays a prefix, and refuses atomically if not.
  if (after.every((e, i) => before[i] === e)) {
    return [`ALTER TABLE ${target} MODIFY ORDER BY ${orderByExpression(after, columns)}`];
  }
  throw needsRebuild(change.table, `${what}, and ClickHouse can only append newly added columns to a sorting key or drop trailing ones`);
}

export function setTtlStatements(change: ChangeOf<"table.setTtl">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const target = alterTarget(change.table, ctx);
  if (change.before === change.after) return [];
  if (change.after === undefined) {
    if (!caps.removeTtl) throw unsupported(caps, `remove the TTL of table ${change.table}`, "ALTER TABLE … REMOVE TTL (ClickHouse 21.8+)", "set a TTL far in the future instead");
    return [`ALTER TABLE ${target} REMOVE TTL`];
  }
  if (!caps.ttl) throw unsupported(caps, `set the TTL of table ${change.table} to ${change.after}`, "table TTL (ClickHouse 19.6+)", "delete old partitions with ALTER TABLE … DROP PARTITION");
  return [`ALTER TABLE ${target} MODIFY TTL ${change.after}`];
}

export function setSettingsStatements(change: ChangeOf<"table.setSettings">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const target = alterTarget(change.table, ctx);
  const names = (r: Readonly<Record<string, SettingValue>>): string[] => Object.keys(r).sort();
  const changed = names(change.after).filter((k) => canonicalJson(change.before[k] ?? null) !== canonicalJson(change.after[k] ?? null));
  const removed = names(change.before).filter((k) => !Object.prototype.hasOwnProperty.call(change.after, k));
  const frozen = [...changed, ...removed].filter((k) => caps.readonlySettings.includes(k));
  if (frozen.length > 0) {
    throw needsRebuild(change.table, `setting ${frozen.join(", ")} cannot change after the table is created`);
  }
  const out: string[] = [];
  if (changed.length > 0) {
    if (!caps.modifySetting) throw unsupported(caps, `change settings ${changed.join(", ")} of table ${change.table}`, "ALTER TABLE … MODIFY SETTING (ClickHouse 19.11+)", "rebuild the table with the new settings");
    out.push(`ALTER TABLE ${target} MODIFY SETTING ${changed.map((k) => settingAssignment(k, change.after[k] as SettingValue, change.table, runtimeEnvWriter(ctx))).join(", ")}`);
  }
  if (removed.length > 0) {
    if (!caps.resetSetting) throw unsupported(caps, `reset settings ${removed.join(", ")} of table ${change.table}`, "ALTER TABLE … RESET SETTING (ClickHouse 21.8+)", "set them explicitly to the value you want");
    for (const k of removed) checkSettingName(k, change.table);
    out.push(`ALTER TABLE ${target} RESET SETTING ${removed.join(", ")}`);
  }
  return out;
}
