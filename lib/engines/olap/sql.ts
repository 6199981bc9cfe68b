import type { Change, ChangeOf } from "../../diff/change.js";
import { assertNever, InvalidInputError, RefusedError } from "../../errors.js";
import { applyChange } from "../../model/apply-change.js";
import { formatClickHouseType, parseClickHouseType, quoteString, type ClickHouseType } from "../../model/clickhouse-type.js";
import { canonicalJson, emptyInfraMap, type Column, type InfraMap, type MaterializedView, type Table, type TableEngine } from "../../model/infra-map.js";
import type { OlapCapabilities } from "./capabilities.js";
import { identifiersIn, isPlainIdentifier, qualifiedName, quoteIdentifier } from "./sql-text.js";

/**
 * Where statements will run. `state` is the map just before the change (the planner
 * has it): `table.moveColumn` needs it, because ClickHouse moves a column only by
 * restating its type and the change carries just the name; with it, ORDER BY entries
 * that name columns are quoted even when they are not plain identifiers.
 */
export interface SqlContext {
  readonly database: string;
  readonly capabilities: OlapCapabilities;
  readonly state?: Pick<InfraMap, "tables">;
}

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
 * Topic, API, workflow and process changes are other engines' business and give `[]`,
 * as does `table.setLifeCycle` (life cycle lives in moose's state, not in ClickHouse).
 *
 * Appending to ORDER BY only works in the same ALTER that adds the columns; use
 * {@link statementsForChanges} for a list of changes, which arranges that.
 *
 * @example
 * statementsFor({ kind: "table.dropColumn", table: "Users", column: { name: "age", type: "UInt8" } }, { database: "app", capabilities })
 * // ["ALTER TABLE `app`.`Users` DROP COLUMN `age`"]
 */
export function statementsFor(change: Change, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const table = (name: string): string => qualifiedName(ctx.database, name);
  switch (change.kind) {
    case "table.create":
      return [createTableStatement(change.table, ctx)];
    case "table.drop":
      return [`DROP TABLE ${table(change.table.name)}`];
    case "table.rename":
      return [`RENAME TABLE ${table(change.from)} TO ${table(change.to)}`];
    case "table.addColumn":
      return [`ALTER TABLE ${table(change.table)} ${addColumnClause(change, ctx)}${nestedSuffix([change.column])}`];
    case "table.dropColumn":
      return [`ALTER TABLE ${table(change.table)} DROP COLUMN ${quoteIdentifier(change.column.name)}`];
    case "table.renameColumn":
      if (!caps.renameColumn) {
        throw unsupported(caps, `rename column ${change.from} of table ${change.table} to ${change.to}`, "RENAME COLUMN (ClickHouse 20.4+)", "add the new column, copy the values with ALTER TABLE … UPDATE, then drop the old column (or upgrade the server)");
      }
      return [`ALTER TABLE ${table(change.table)} RENAME COLUMN ${quoteIdentifier(change.from)} TO ${quoteIdentifier(change.to)}`];
    case "table.modifyColumn":
      return modifyColumnStatements(change, ctx);
    case "table.moveColumn":
      return [moveColumnStatement(change, ctx)];
    case "table.setOrderBy":
      return setOrderByStatements(change, ctx, []);
    case "table.setEngine":
      if (canonicalJson(change.before) === canonicalJson(change.after)) return [];
      throw needsRebuild(change.table, `its engine changes from ${describeEngine(change.before)} to ${describeEngine(change.after)}, and ClickHouse cannot change a table's engine in place`);
    case "table.setPartitionBy":
      if (change.before === change.after) return [];
      throw needsRebuild(change.table, `its PARTITION BY changes from ${change.before ?? "(none)"} to ${change.after ?? "(none)"}, and ClickHouse cannot change a partition key in place`);
    case "table.setTtl":
      return setTtlStatements(change, ctx);
    case "table.setSettings":
      return setSettingsStatements(change, ctx);
    case "table.setLifeCycle":
      return [];
    case "view.create":
      return [createViewStatement(change.view, ctx)];
    case "view.drop":
      return [dropViewStatement(change.view.name, ctx)];
    case "view.modify":
      return modifyViewStatements(change.before, change.after, ctx);
    case "topic.create":
    case "topic.drop":
    case "topic.modify":
    case "api.create":
    case "api.drop":
    case "api.modify":
    case "workflow.create":
    case "workflow.drop":
    case "workflow.modify":
    case "process.create":
    case "process.drop":
    case "process.modify":
      // Not ClickHouse objects: the streaming, API and workflow adapters carry these out.
      return [];
    default:
      return assertNever(change, "change kind");
  }
}

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
    // Only tables matter for rendering; other kinds are not replayed.
    if (state !== undefined && change.kind.startsWith("table.")) state = { tables: applyChange({ ...emptyInfraMap(), tables: state.tables }, change).tables };
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
  switch (change.kind) {
    case "table.create":
    case "table.drop":
      return change.table.name === table;
    case "table.rename":
      return change.from === table || change.to === table;
    case "table.addColumn":
    case "table.dropColumn":
    case "table.renameColumn":
    case "table.modifyColumn":
    case "table.moveColumn":
    case "table.setOrderBy":
    case "table.setEngine":
    case "table.setPartitionBy":
    case "table.setTtl":
    case "table.setSettings":
      return change.table === table;
    case "view.create":
    case "view.drop":
      return change.view.targetTable === table;
    case "view.modify":
      return change.before.targetTable === table || change.after.targetTable === table;
    default:
      return false;
  }
}

/**
 * Statements that rebuild table `before` as `after` (same name) keeping its rows, for
 * what ClickHouse cannot ALTER in place (`NEEDS_REBUILD`: engine, PARTITION BY,
 * ORDER BY, read-only settings): create `<name>__moose_rebuild` with the new
 * definition, copy the columns both versions have (new ones get their DEFAULT), swap
 * the two names (`EXCHANGE TABLES`, or a double `RENAME` where the server has no
 * EXCHANGE), then drop the old data. Views keep working: they name tables, and the
 * name now holds the new table.
 *
 * Rows written to the table between the copy and the swap are lost, and rows that the
 * new engine merges (a different key under Replacing/Summing/...) merge: stop writers
 * first, and let the planner classify the risk.
 *
 * @example rebuildTableStatements(current, { ...current, orderBy: ["tenant", "id"] }, ctx)
 */
export function rebuildTableStatements(before: Table, after: Table, ctx: SqlContext): string[] {
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `cannot rebuild table ${before.name} as ${after.name}: a rebuild keeps the name; rename the table as a separate change`);
  }
  const name = before.name;
  const temp = `${name}__moose_rebuild`;
  const target = qualifiedName(ctx.database, name);
  const staged = qualifiedName(ctx.database, temp);
  const kept = after.columns.filter((c) => before.columns.some((b) => b.name === c.name)).map((c) => quoteIdentifier(c.name));
  const out = [createTableStatement({ ...after, name: temp }, ctx)];
  if (kept.length > 0) out.push(`INSERT INTO ${staged} (${kept.join(", ")})\nSELECT ${kept.join(", ")} FROM ${target}`);
  if (ctx.capabilities.exchangeTables) {
    out.push(`EXCHANGE TABLES ${target} AND ${staged}`, `DROP TABLE ${staged}`);
  } else {
    const old = qualifiedName(ctx.database, `${name}__moose_old`);
    out.push(`RENAME TABLE ${target} TO ${old}, ${staged} TO ${target}`, `DROP TABLE ${old}`);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tables

function createTableStatement(t: Table, ctx: SqlContext): string {
  const caps = ctx.capabilities;
  const columnNames = new Set(t.columns.map((c) => c.name));
  const lines = [`CREATE TABLE ${qualifiedName(ctx.database, t.name)}`, "("];
  t.columns.forEach((c, i) => {
    lines.push(`  ${columnDefinition(c, t.name, ctx)}${i < t.columns.length - 1 ? "," : ""}`);
  });
  lines.push(")");
  lines.push(`ENGINE = ${engineClause(t.engine, t.name, caps)}`);
  if (t.partitionBy !== undefined) lines.push(`PARTITION BY ${t.partitionBy}`);
  lines.push(`ORDER BY ${orderByExpression(t.orderBy, columnNames)}`);
  if (t.ttl !== undefined) {
    if (!caps.ttl) throw unsupported(caps, `create table ${t.name} with TTL ${t.ttl}`, "table TTL (ClickHouse 19.6+)", "leave out the TTL and delete old partitions with ALTER TABLE … DROP PARTITION");
    lines.push(`TTL ${t.ttl}`);
  }
  const settings = Object.entries(t.settings).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const rendered = settings.map(([k, v]) => settingAssignment(k, v, t.name));
  // flatten_nested is a query setting: ClickHouse applies it to this CREATE and does not store it with the table.
  if (t.columns.some((c) => typeHasNested(c.type))) rendered.push("flatten_nested = 0");
  if (rendered.length > 0) lines.push(`SETTINGS ${rendered.join(", ")}`);
  return lines.join("\n");
}

function columnDefinition(c: Column, table: string, ctx: SqlContext): string {
  const type = checkedType(c, table, ctx.capabilities);
  return `${quoteIdentifier(c.name)} ${type}${c.default === undefined ? "" : ` DEFAULT ${c.default}`}`;
}

function engineClause(engine: TableEngine, table: string, caps: OlapCapabilities): string {
  switch (engine.kind) {
    case "MergeTree":
    case "AggregatingMergeTree":
      return engine.kind;
    case "ReplacingMergeTree": {
      if (engine.isDeleted !== undefined) {
        if (engine.ver === undefined) {
          throw new InvalidInputError("ENGINE_INVALID", `table ${table}: ReplacingMergeTree needs a version column (ver) when it has an is_deleted column (${engine.isDeleted})`, {
            hint: "set ver to the column whose greatest value wins",
          });
        }
        if (!caps.isDeletedColumn) {
          throw unsupported(caps, `create table ${table} as ReplacingMergeTree(${engine.ver}, ${engine.isDeleted})`, "the is_deleted column of ReplacingMergeTree (ClickHouse 23.2+)", "leave out isDeleted and filter deleted rows in queries");
        }
        return `ReplacingMergeTree(${quoteIdentifier(engine.ver)}, ${quoteIdentifier(engine.isDeleted)})`;
      }
      return engine.ver === undefined ? "ReplacingMergeTree" : `ReplacingMergeTree(${quoteIdentifier(engine.ver)})`;
    }
    case "SummingMergeTree":
      return engine.columns === undefined || engine.columns.length === 0
        ? "SummingMergeTree"
        : `SummingMergeTree((${engine.columns.map(quoteIdentifier).join(", ")}))`;
    case "CollapsingMergeTree":
      return `CollapsingMergeTree(${quoteIdentifier(engine.sign)})`;
    default:
      return assertNever(engine, "table engine");
  }
}

/**
 * One ORDER BY entry: a name of a column (or any plain identifier, which can only be
 * one) is quoted; anything else is an expression the user wrote and goes as is.
 */
function keyEntry(entry: string, columns: ReadonlySet<string>): string {
  return columns.has(entry) || isPlainIdentifier(entry) ? quoteIdentifier(entry) : entry;
}

function orderByExpression(entries: readonly string[], columns: ReadonlySet<string>): string {
  if (entries.length === 0) return "tuple()";
  const rendered = entries.map((e) => keyEntry(e, columns));
  return rendered.length === 1 ? (rendered[0] as string) : `(${rendered.join(", ")})`;
}

function addColumnClause(change: ChangeOf<"table.addColumn">, ctx: SqlContext): string {
  const position = change.after === null ? "FIRST" : `AFTER ${quoteIdentifier(change.after)}`;
  if (change.after === null && !ctx.capabilities.addColumnFirst) {
    throw unsupported(ctx.capabilities, `add column ${change.column.name} as the first column of table ${change.table}`, "ADD COLUMN … FIRST (ClickHouse 21.1+)", "declare the new field after an existing one");
  }
  return `ADD COLUMN ${columnDefinition(change.column, change.table, ctx)} ${position}`;
}

function modifyColumnStatements(change: ChangeOf<"table.modifyColumn">, ctx: SqlContext): string[] {
  const { before, after } = change;
  const caps = ctx.capabilities;
  const target = qualifiedName(ctx.database, change.table);
  const name = quoteIdentifier(after.name);
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `table.modifyColumn of ${change.table}.${before.name} would rename it to ${after.name}; renames are table.renameColumn changes`);
  }
  const type = checkedType(after, change.table, caps);
  const typeChanged = formatClickHouseType(parseClickHouseType(before.type)) !== type;
  const suffix = nestedSuffix([after]);
  const out: string[] = [];
  if (before.default !== undefined && after.default === undefined) {
    if (!caps.removeColumnDefault) {
      throw unsupported(caps, `remove the DEFAULT of column ${after.name} in table ${change.table}`, "MODIFY COLUMN … REMOVE DEFAULT (ClickHouse 21.1+)", "keep a DEFAULT on the column");
    }
    // Removed first: ClickHouse checks the old default against the new type otherwise.
    out.push(`ALTER TABLE ${target} MODIFY COLUMN ${name} REMOVE DEFAULT`);
    if (typeChanged) out.push(`ALTER TABLE ${target} MODIFY COLUMN ${name} ${type}${suffix}`);
    return out;
  }
  if (!typeChanged && before.default === after.default) return [];
  // A MODIFY COLUMN naming only the type keeps the existing DEFAULT, which is what an unchanged default wants.
  const dflt = after.default === undefined ? "" : ` DEFAULT ${after.default}`;
  return [`ALTER TABLE ${target} MODIFY COLUMN ${name} ${type}${dflt}${suffix}`];
}

function moveColumnStatement(change: ChangeOf<"table.moveColumn">, ctx: SqlContext): string {
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
  return `ALTER TABLE ${qualifiedName(ctx.database, change.table)} MODIFY COLUMN ${quoteIdentifier(current.name)} ${checkedType(current, change.table, caps)} ${position}${nestedSuffix([current])}`;
}

function isStrictExtension(before: readonly string[], after: readonly string[]): boolean {
  return after.length > before.length && before.every((e, i) => after[i] === e);
}

function setOrderByStatements(change: ChangeOf<"table.setOrderBy">, ctx: SqlContext, adds: ReadonlyArray<ChangeOf<"table.addColumn">>): string[] {
  const { before, after } = change;
  const caps = ctx.capabilities;
  if (before.length === after.length && before.every((e, i) => after[i] === e)) return [];
  const shown = (entries: readonly string[]): string => (entries.length === 0 ? "tuple()" : `(${entries.join(", ")})`);
  const what = `its ORDER BY changes from ${shown(before)} to ${shown(after)}`;
  if (!caps.modifyOrderBy) throw unsupported(caps, `change the ORDER BY of table ${change.table}`, "MODIFY ORDER BY", "rebuild the table");
  const known = ctx.state?.tables[change.table];
  const columns = new Set([...(known?.columns.map((c) => c.name) ?? []), ...adds.map((a) => a.column.name)]);
  const target = qualifiedName(ctx.database, change.table);

  if (isStrictExtension(before, after)) {
    const appended = after.slice(before.length);
    if (adds.length === 0) {
      throw needsRebuild(
        change.table,
        `${what}: ClickHouse appends to ORDER BY only columns added by the same ALTER (without a DEFAULT), and ${appended.join(", ")} ${appended.length === 1 ? "is" : "are"} not added together with this change`,
        "when the columns are new, render the table.addColumn and table.setOrderBy changes together (statementsForChanges); otherwise rebuild the table",
      );
    }
    const withDefault = adds.filter((a) => a.column.default !== undefined && [...appended].some((e) => e === a.column.name || identifiersIn(e).has(a.column.name)));
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

function setTtlStatements(change: ChangeOf<"table.setTtl">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const target = qualifiedName(ctx.database, change.table);
  if (change.before === change.after) return [];
  if (change.after === undefined) {
    if (!caps.removeTtl) throw unsupported(caps, `remove the TTL of table ${change.table}`, "ALTER TABLE … REMOVE TTL (ClickHouse 21.8+)", "set a TTL far in the future instead");
    return [`ALTER TABLE ${target} REMOVE TTL`];
  }
  if (!caps.ttl) throw unsupported(caps, `set the TTL of table ${change.table} to ${change.after}`, "table TTL (ClickHouse 19.6+)", "delete old partitions with ALTER TABLE … DROP PARTITION");
  return [`ALTER TABLE ${target} MODIFY TTL ${change.after}`];
}

function setSettingsStatements(change: ChangeOf<"table.setSettings">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const target = qualifiedName(ctx.database, change.table);
  const names = (r: Readonly<Record<string, string>>): string[] => Object.keys(r).sort();
  const changed = names(change.after).filter((k) => change.before[k] !== change.after[k]);
  const removed = names(change.before).filter((k) => !Object.prototype.hasOwnProperty.call(change.after, k));
  const frozen = [...changed, ...removed].filter((k) => caps.readonlySettings.includes(k));
  if (frozen.length > 0) {
    throw needsRebuild(change.table, `setting ${frozen.join(", ")} cannot change after the table is created`);
  }
  const out: string[] = [];
  if (changed.length > 0) {
    if (!caps.modifySetting) throw unsupported(caps, `change settings ${changed.join(", ")} of table ${change.table}`, "ALTER TABLE … MODIFY SETTING (ClickHouse 19.11+)", "rebuild the table with the new settings");
    out.push(`ALTER TABLE ${target} MODIFY SETTING ${changed.map((k) => settingAssignment(k, change.after[k] as string, change.table)).join(", ")}`);
  }
  if (removed.length > 0) {
    if (!caps.resetSetting) throw unsupported(caps, `reset settings ${removed.join(", ")} of table ${change.table}`, "ALTER TABLE … RESET SETTING (ClickHouse 21.8+)", "set them explicitly to the value you want");
    for (const k of removed) checkSettingName(k, change.table);
    out.push(`ALTER TABLE ${target} RESET SETTING ${removed.join(", ")}`);
  }
  return out;
}

function checkSettingName(name: string, table: string): void {
  if (!isPlainIdentifier(name)) {
    throw new InvalidInputError("SETTING_INVALID", `table ${table}: ${JSON.stringify(name)} is not a ClickHouse setting name (letters, digits and _)`);
  }
}

/** `name = value`: numbers and booleans bare, anything else as a quoted string. */
function settingAssignment(name: string, value: string, table: string): string {
  checkSettingName(name, table);
  const literal = /^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false" ? value : quoteString(value);
  return `${name} = ${literal}`;
}

// ---------------------------------------------------------------------------
// Views

function createViewStatement(view: MaterializedView, ctx: SqlContext): string {
  // Unqualified tables in the SELECT resolve in the connection's current database,
  // which both engines set to the managed database.
  return `CREATE MATERIALIZED VIEW ${qualifiedName(ctx.database, view.name)} TO ${qualifiedName(ctx.database, view.targetTable)}\nAS ${view.selectStatement}`;
}

function dropViewStatement(name: string, ctx: SqlContext): string {
  // Before DROP VIEW existed, views were dropped as tables.
  return `${ctx.capabilities.dropView ? "DROP VIEW" : "DROP TABLE"} ${qualifiedName(ctx.database, name)}`;
}

function modifyViewStatements(before: MaterializedView, after: MaterializedView, ctx: SqlContext): string[] {
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `view.modify of ${before.name} would rename it to ${after.name}; drop and create the view instead`);
  }
  const sameTarget = before.targetTable === after.targetTable;
  if (sameTarget && before.selectStatement === after.selectStatement) return [];
  if (sameTarget && ctx.capabilities.modifyQuery) {
    return [`ALTER TABLE ${qualifiedName(ctx.database, after.name)} MODIFY QUERY\n${after.selectStatement}`];
  }
  // Rows inserted into the sources between these two statements are not seen by the view.
  return [dropViewStatement(before.name, ctx), createViewStatement(after, ctx)];
}

// ---------------------------------------------------------------------------
// Types and capability checks

interface TypeFeature {
  readonly allowed: (caps: OlapCapabilities) => boolean;
  readonly feature: string;
  readonly alternative: string;
}

/** The server feature a type node needs, if any. */
function featureOf(t: ClickHouseType): TypeFeature | undefined {
  switch (t.kind) {
    case "name":
      switch (t.name) {
        case "Bool":
          return { allowed: (c) => c.boolType, feature: "the Bool type (ClickHouse 21.12+)", alternative: "there is no equivalent type (UInt8 reads back as a number, not true/false): declare the field as a number or upgrade the server" };
        case "Date32":
          return { allowed: (c) => c.date32, feature: "the Date32 type (ClickHouse 21.9+)", alternative: "use Date (1970 to 2149) if the range is enough" };
        case "JSON":
          return { allowed: (c) => c.json, feature: "the JSON type (ClickHouse 25.3+)", alternative: "store the document as a String and read it with JSONExtract functions" };
        case "IPv4":
        case "IPv6":
          return { allowed: (c) => c.ipTypes, feature: `the ${t.name} type (ClickHouse 19.5+)`, alternative: t.name === "IPv4" ? "store the address as UInt32 (IPv4StringToNum)" : "store the address as FixedString(16) (IPv6StringToNum)" };
        default:
          return undefined;
      }
    case "DateTime64":
      return { allowed: (c) => c.dateTime64, feature: "the DateTime64 type (ClickHouse 20.1+)", alternative: "use DateTime (whole seconds)" };
    case "LowCardinality":
      return { allowed: (c) => c.lowCardinality, feature: "LowCardinality (ClickHouse 18.12+)", alternative: "use the plain type without LowCardinality" };
    case "Map":
      return { allowed: (c) => c.mapType, feature: "the Map type (ClickHouse 21.8+)", alternative: "use two Array columns (keys and values)" };
    case "Tuple":
      return t.elements.some((e) => e.name !== undefined)
        ? { allowed: (c) => c.namedTuple, feature: "named Tuple elements (ClickHouse 21.1+)", alternative: "use an unnamed Tuple(...) and address elements by position" }
        : undefined;
    case "Nested":
      return { allowed: (c) => c.nestedUnflattened, feature: "unflattened Nested columns (flatten_nested = 0, ClickHouse 21.1+)", alternative: "declare one Array column per nested field" };
    case "AggregateFunction":
      return t.simple
        ? { allowed: (c) => c.simpleAggregateFunction, feature: "SimpleAggregateFunction (ClickHouse 19.8+)", alternative: "use the plain value type; AggregatingMergeTree then keeps any one of the merged values" }
        : undefined;
    case "generic":
      return t.name === "JSON"
        ? { allowed: (c) => c.json, feature: "the JSON type (ClickHouse 25.3+)", alternative: "store the document as a String and read it with JSONExtract functions" }
        : undefined;
    default:
      return undefined;
  }
}

function children(t: ClickHouseType): ClickHouseType[] {
  switch (t.kind) {
    case "Nullable":
    case "LowCardinality":
      return [t.inner];
    case "Array":
      return [t.element];
    case "Map":
      return [t.key, t.value];
    case "Tuple":
      return t.elements.map((e) => e.type);
    case "Nested":
      return t.fields.map((f) => f.type);
    case "AggregateFunction":
      return [...t.args];
    case "generic":
      return t.args.flatMap((a) => (a.kind === "type" || a.kind === "named" ? [a.type] : []));
    default:
      return [];
  }
}

function walk(t: ClickHouseType, visit: (t: ClickHouseType) => void): void {
  visit(t);
  for (const c of children(t)) walk(c, visit);
}

/** The canonical type text of a column, after checking the server can hold it. */
function checkedType(column: Column, table: string, caps: OlapCapabilities): string {
  const parsed = parseClickHouseType(column.type);
  walk(parsed, (node) => {
    const f = featureOf(node);
    if (f && !f.allowed(caps)) {
      throw unsupported(caps, `use type ${column.type} for column ${column.name} of table ${table}`, f.feature, f.alternative);
    }
  });
  return formatClickHouseType(parsed);
}

function typeHasNested(type: string): boolean {
  let found = false;
  try {
    walk(parseClickHouseType(type), (t) => {
      if (t.kind === "Nested") found = true;
    });
  } catch {
    // The column's own definition reports a malformed type.
  }
  return found;
}

/** `SETTINGS flatten_nested = 0` for an ALTER that defines a Nested column, so it stays one Nested column. */
function nestedSuffix(columns: readonly Column[]): string {
  return columns.some((c) => typeHasNested(c.type)) ? " SETTINGS flatten_nested = 0" : "";
}

// ---------------------------------------------------------------------------
// Errors

function unsupported(caps: OlapCapabilities, action: string, feature: string, alternative: string): RefusedError {
  return new RefusedError("UNSUPPORTED_BY_SERVER", `cannot ${action}: ClickHouse ${caps.version} does not support ${feature}`, {
    hint: `${alternative}; or upgrade the ClickHouse server`,
  });
}

function needsRebuild(table: string, reason: string, hint?: string): RefusedError {
  return new RefusedError("NEEDS_REBUILD", `table ${table} must be rebuilt: ${reason}`, {
    hint: hint ?? "create a new table with the new definition, copy the rows over (INSERT INTO … SELECT), then swap the names; or drop and re-create the table if its data can go",
  });
}

function describeEngine(engine: TableEngine): string {
  switch (engine.kind) {
    case "MergeTree":
    case "AggregatingMergeTree":
      return engine.kind;
    case "ReplacingMergeTree":
      return engine.ver === undefined ? engine.kind : `${engine.kind}(${[engine.ver, engine.isDeleted].filter((x) => x !== undefined).join(", ")})`;
    case "SummingMergeTree":
      return engine.columns === undefined ? engine.kind : `${engine.kind}(${engine.columns.join(", ")})`;
    case "CollapsingMergeTree":
      return `${engine.kind}(${engine.sign})`;
    default:
      return assertNever(engine, "table engine");
  }
}
