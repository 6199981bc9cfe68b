import type { Change, ChangeOf } from "../../diff/change.js";
import { ownerOf, subjects } from "../../diff/change-meta.js";
import { assertNever, InvalidInputError, RefusedError } from "../../errors.js";
import { applyChange } from "../../model/apply-change.js";
import { classifyTypeChange, conversionCheckable, formatClickHouseType, parseClickHouseType, quoteString, type ClickHouseType } from "../../model/clickhouse-type.js";
import { canonicalJson, emptyInfraMap, holdsNoRows, type Column, type InfraMap, type MaterializedView, type Table, type TableEngine, type TableIndex, type TableProjection } from "../../model/infra-map.js";
import { createHash } from "node:crypto";
import { clusterRebuildRefusal, onCluster, replicationArguments } from "./cluster.js";
import type { OlapCapabilities } from "./capabilities.js";
import { describeIntegrationEngine, integrationEngineClause } from "./integration-engines.js";
import { identifiersIn, isPlainIdentifier, MOOSE_NAME_INFIX, qualifiedName, quoteIdentifier } from "./sql-text.js";

/**
 * Where statements will run. `state` is the map just before the change (the planner
 * has it): `table.moveColumn` needs it, because ClickHouse moves a column only by
 * restating its type and the change carries just the name; with it, ORDER BY entries
 * that name columns are quoted even when they are not plain identifiers.
 */
export interface SqlContext {
  readonly database: string;
  readonly capabilities: OlapCapabilities;
  /** With `views`, a rebuild re-points the views that read or write the table when the swap needs it. */
  readonly state?: Pick<InfraMap, "tables"> & Partial<Pick<InfraMap, "views">>;
}

/**
 * The first line of a statement that is a check rather than a command: a query whose
 * rows, if it returns any, are the problems (a column `problem` says each in words).
 * The executor runs it with `query` and stops the step when a row comes back; ClickHouse
 * reads the line as a comment, so the ledger and `--dry-run` show runnable SQL.
 */
export const CHECK_MARKER = "-- moose:check";

/** A check statement (see {@link CHECK_MARKER}); `message` heads the failure. */
export function checkStatement(query: string, message: string): string {
  return `${CHECK_MARKER} ${message.replace(/\s*\n\s*/g, " ")}\n${query}`;
}

/** The query and message of a check statement; undefined for any other statement. */
export function parseCheck(statement: string): { readonly query: string; readonly message: string } | undefined {
  if (!statement.startsWith(CHECK_MARKER)) return undefined;
  const newline = statement.indexOf("\n");
  if (newline < 0) return undefined;
  return { message: statement.slice(CHECK_MARKER.length, newline).trim(), query: statement.slice(newline + 1) };
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
      return [...databaseOnCluster(change.table.engine.cluster, ctx), createTableStatement(change.table, ctx)];
    case "table.drop":
      return [`DROP TABLE ${table(change.table.name)}${onCluster(change.table.engine.cluster)}`];
    case "table.rename":
      return [`RENAME TABLE ${table(change.from)} TO ${table(change.to)}${onCluster(clusterOf(change.from, ctx))}`];
    case "table.addColumn":
      return [`ALTER TABLE ${alterTarget(change.table, ctx)} ${addColumnClause(change, ctx)}${nestedSuffix([change.column])}`];
    case "table.dropColumn":
      return [`ALTER TABLE ${alterTarget(change.table, ctx)} DROP COLUMN ${quoteIdentifier(change.column.name)}`];
    case "table.renameColumn":
      if (!caps.renameColumn) {
        throw unsupported(caps, `rename column ${change.from} of table ${change.table} to ${change.to}`, "RENAME COLUMN (ClickHouse 20.4+)", "add the new column, copy the values with ALTER TABLE … UPDATE, then drop the old column (or upgrade the server)");
      }
      return [`ALTER TABLE ${alterTarget(change.table, ctx)} RENAME COLUMN ${quoteIdentifier(change.from)} TO ${quoteIdentifier(change.to)}`];
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
    case "table.setPrimaryKey":
      if (canonicalJson(change.before) === canonicalJson(change.after)) return [];
      throw needsRebuild(change.table, `its PRIMARY KEY changes from ${keyText(change.before)} to ${keyText(change.after)}, and ClickHouse cannot change a primary key in place`);
    case "table.setSampleBy":
      if (change.before === change.after) return [];
      throw needsRebuild(change.table, `its SAMPLE BY changes from ${change.before ?? "(none)"} to ${change.after ?? "(none)"}`);
    case "table.setIndexes":
      return setIndexesStatements(change, ctx);
    case "table.setProjections":
      return setProjectionsStatements(change, ctx);
    case "table.setLifeCycle":
      return [];
    case "table.rebuild":
      return rebuildStatements(change, ctx);
    case "table.backfillColumn":
      return backfillColumnStatements(change, ctx);
    case "table.copyRows":
    case "view.backfill":
      return rowWriteStatements(rowWriteFor(change, ctx) as RowWrite, ctx);
    case "view.create":
      return [createViewStatement(change.view, ctx)];
    case "view.drop":
      return [dropViewStatement(change.view, ctx)];
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
  return ownerOf(change) === "olap" && subjects(change).some((s) => s.collection === "tables" && s.name === table);
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
  const kept = after.columns.filter((c) => insertable(c) && before.columns.some((b) => b.name === c.name)).map((c) => quoteIdentifier(c.name));
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

/**
 * `pathName` is the name `{table}` stands for in the table's keeper path (the table's own
 * name, or for a rebuild's copy a name of its own, so the copy never shares the path of
 * the table it replaces).
 */
function createTableStatement(t: Table, ctx: SqlContext, pathName = t.name): string {
  const caps = ctx.capabilities;
  const columnNames = new Set(t.columns.map((c) => c.name));
  // On a cluster, a host that was down when the step ran creates the table from the DDL queue when it
  // returns; IF NOT EXISTS lets the step, re-run by a resumed deploy, pass the hosts that have it.
  const create = t.engine.cluster === undefined ? "CREATE TABLE" : "CREATE TABLE IF NOT EXISTS";
  const lines = [`${create} ${qualifiedName(ctx.database, t.name)}${onCluster(t.engine.cluster)}`, "("];
  const elements = [
    ...t.columns.map((c) => columnDefinition(c, t.name, ctx)),
    ...(t.indexes ?? []).map((i) => indexDefinition(i, t.name, caps)),
    ...(t.projections ?? []).map((p) => projectionDefinition(p, t.name, caps)),
  ];
  elements.forEach((e, i) => lines.push(`  ${e}${i < elements.length - 1 ? "," : ""}`));
  lines.push(")");
  lines.push(`ENGINE = ${engineClause(t.engine, t.name, ctx, pathName)}`);
  if (t.partitionBy !== undefined) lines.push(`PARTITION BY ${t.partitionBy}`);
  // Engines without a sorting key take no ORDER BY (S3 keeps one as metadata when declared).
  if (!holdsNoRows(t.engine) || t.orderBy.length > 0) lines.push(`ORDER BY ${orderByExpression(t.orderBy, columnNames)}`);
  if (t.primaryKey !== undefined) lines.push(`PRIMARY KEY ${orderByExpression(t.primaryKey, columnNames)}`);
  if (t.sampleBy !== undefined) lines.push(`SAMPLE BY ${t.sampleBy}`);
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

function keyText(entries: readonly string[] | undefined): string {
  return entries === undefined ? "(the ORDER BY)" : `(${entries.join(", ")})`;
}

function indexDefinition(i: TableIndex, table: string, caps: OlapCapabilities): string {
  if (!caps.skippingIndexes) throw unsupported(caps, `give table ${table} the index ${i.name}`, "data-skipping indexes (ClickHouse 21.1+)", "leave the index out of the declaration");
  if (!Number.isInteger(i.granularity) || i.granularity < 1) throw new InvalidInputError("INDEX_INVALID", `table ${table}: index ${i.name} has granularity ${i.granularity}; it must be a whole number, at least 1`);
  return `INDEX ${quoteIdentifier(i.name)} ${i.expression} TYPE ${i.type} GRANULARITY ${i.granularity}`;
}

function projectionDefinition(p: TableProjection, table: string, caps: OlapCapabilities): string {
  if (!caps.projections) throw unsupported(caps, `give table ${table} the projection ${p.name}`, "projections (ClickHouse 25.1+ here)", "leave the projection out of the declaration");
  return `PROJECTION ${quoteIdentifier(p.name)} (${p.body})`;
}

/** Entries of `after` that are new or differ from the entry of the same name in `before`. */
function changedByName<T extends { readonly name: string }>(before: readonly T[], after: readonly T[]): T[] {
  return after.filter((a) => {
    const b = before.find((x) => x.name === a.name);
    return b === undefined || canonicalJson(a) !== canonicalJson(b);
  });
}

function setIndexesStatements(change: ChangeOf<"table.setIndexes">, ctx: SqlContext): string[] {
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

function setProjectionsStatements(change: ChangeOf<"table.setProjections">, ctx: SqlContext): string[] {
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

function columnDefinition(c: Column, table: string, ctx: SqlContext): string {
  const type = checkedType(c, table, ctx.capabilities);
  return `${quoteIdentifier(c.name)} ${type}${columnProperties(c, table, ctx.capabilities)}`;
}

/** How a column's value is computed: `DEFAULT`, `MATERIALIZED` or `ALIAS`, and its expression. */
function valueExpression(c: Column): { readonly keyword: "DEFAULT" | "MATERIALIZED" | "ALIAS"; readonly expression: string } | undefined {
  if (c.default !== undefined) return { keyword: "DEFAULT", expression: c.default };
  if (c.materialized !== undefined) return { keyword: "MATERIALIZED", expression: c.materialized };
  if (c.alias !== undefined) return { keyword: "ALIAS", expression: c.alias };
  return undefined;
}

/** What follows the type in a column definition: ` DEFAULT x CODEC(...) TTL y`, each when declared. */
function columnProperties(c: Column, table: string, caps: OlapCapabilities): string {
  const value = valueExpression(c);
  let out = value === undefined ? "" : ` ${value.keyword} ${value.expression}`;
  if (c.codec !== undefined) {
    if (!caps.columnCodec) throw unsupported(caps, `give column ${c.name} of table ${table} CODEC(${c.codec})`, "column compression codecs (ClickHouse 19.1+)", "leave out the ClickHouseCodec marker; the server's default compression applies");
    out += ` CODEC(${c.codec})`;
  }
  if (c.ttl !== undefined) {
    if (!caps.columnTtl) throw unsupported(caps, `give column ${c.name} of table ${table} TTL ${c.ttl}`, "column TTL (ClickHouse 19.6+)", "leave out the ClickHouseTTL marker and clear old values with ALTER TABLE … UPDATE");
    out += ` TTL ${c.ttl}`;
  }
  return out;
}

/** Columns an INSERT may name: not MATERIALIZED (computed on insert) nor ALIAS (never stored). */
export function insertable(c: Column): boolean {
  return c.materialized === undefined && c.alias === undefined;
}

function engineClause(engine: TableEngine, table: string, ctx: SqlContext, pathName = table): string {
  const caps = ctx.capabilities;
  if (engine.cluster !== undefined && !caps.clusters) {
    throw unsupported(caps, `create table ${table} ON CLUSTER ${engine.cluster}`, "clusters (a ClickHouse server with remote_servers and ZooKeeper/Keeper)", "leave out cluster, or set clickhouse_config.host to a server of the cluster");
  }
  const replication = engine.replicated === undefined ? [] : replicationArguments(engine.replicated, { database: ctx.database, table: pathName, what: `table ${table}`, capabilities: caps });
  const prefix = engine.replicated === undefined ? "" : "Replicated";
  const clause = (params: readonly string[]): string => {
    const all = [...replication, ...params];
    return all.length === 0 ? `${prefix}${engine.kind}` : `${prefix}${engine.kind}(${all.join(", ")})`;
  };
  if (holdsNoRows(engine)) return integrationEngineClause(engine, table, caps);
  switch (engine.kind) {
    case "MergeTree":
    case "AggregatingMergeTree":
      return clause([]);
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
        return clause([quoteIdentifier(engine.ver), quoteIdentifier(engine.isDeleted)]);
      }
      return clause(engine.ver === undefined ? [] : [quoteIdentifier(engine.ver)]);
    }
    case "SummingMergeTree":
      return clause(engine.columns === undefined || engine.columns.length === 0 ? [] : [`(${engine.columns.map(quoteIdentifier).join(", ")})`]);
    case "CollapsingMergeTree":
      return clause([quoteIdentifier(engine.sign)]);
    case "VersionedCollapsingMergeTree":
      return clause([quoteIdentifier(engine.sign), quoteIdentifier(engine.version)]);
    default:
      return assertNever(engine, "table engine");
  }
}

/** The cluster of table `name` in the map before the change; undefined when it has none (or is unknown). */
function clusterOf(name: string, ctx: SqlContext): string | undefined {
  return Object.prototype.hasOwnProperty.call(ctx.state?.tables ?? {}, name) ? ctx.state?.tables[name]?.engine.cluster : undefined;
}

/** `db`.`table` [ON CLUSTER c], the subject of an ALTER of that table's definition. */
function alterTarget(name: string, ctx: SqlContext): string {
  return `${qualifiedName(ctx.database, name)}${onCluster(clusterOf(name, ctx))}`;
}

/**
 * The subject of a mutation (`ALTER TABLE … UPDATE`): on a replicated table the mutation
 * is replicated through Keeper, so it is sent once; on a plain table of a cluster each
 * host holds its own rows, so it runs ON CLUSTER.
 */
function mutationTarget(name: string, ctx: SqlContext): string {
  const engine = Object.prototype.hasOwnProperty.call(ctx.state?.tables ?? {}, name) ? ctx.state?.tables[name]?.engine : undefined;
  return `${qualifiedName(ctx.database, name)}${engine?.replicated === undefined ? onCluster(engine?.cluster) : ""}`;
}

/** The managed database on every host of `cluster` (the adapter creates it only where it connects). */
function databaseOnCluster(cluster: string | undefined, ctx: SqlContext): string[] {
  return cluster === undefined ? [] : [`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(ctx.database)}${onCluster(cluster)}`];
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
  return `ALTER TABLE ${alterTarget(change.table, ctx)} MODIFY COLUMN ${quoteIdentifier(current.name)} ${checkedType(current, change.table, caps)} ${position}${nestedSuffix([current])}`;
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

function setTtlStatements(change: ChangeOf<"table.setTtl">, ctx: SqlContext): string[] {
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

function setSettingsStatements(change: ChangeOf<"table.setSettings">, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  const target = alterTarget(change.table, ctx);
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
  if (view.inner) {
    const { engine, orderBy, partitionBy } = view.inner;
    const lines = [`CREATE MATERIALIZED VIEW ${qualifiedName(ctx.database, view.name)}${onCluster(viewCluster(view, ctx))}`, `ENGINE = ${engineClause(engine, view.name, ctx)}`];
    if (partitionBy !== undefined) lines.push(`PARTITION BY ${partitionBy}`);
    lines.push(`ORDER BY ${orderByExpression(orderBy, new Set())}`, `AS ${view.selectStatement}`);
    return lines.join("\n");
  }
  return `CREATE MATERIALIZED VIEW ${qualifiedName(ctx.database, view.name)}${onCluster(viewCluster(view, ctx))} TO ${qualifiedName(ctx.database, view.targetTable)}\nAS ${view.selectStatement}`;
}

/**
 * A materialized view runs where rows are inserted, so a view over tables of a cluster
 * exists on every host of it: the cluster of its inner storage, of its target table, or
 * of the first source table that has one.
 */
function viewCluster(view: MaterializedView, ctx: SqlContext): string | undefined {
  if (view.inner) return view.inner.engine.cluster;
  return clusterOf(view.targetTable, ctx) ?? view.sourceTables.map((t) => clusterOf(t, ctx)).find((c) => c !== undefined);
}

function dropViewStatement(view: MaterializedView, ctx: SqlContext, ifExists = false): string {
  // Before DROP VIEW existed, views were dropped as tables.
  return `${ctx.capabilities.dropView ? "DROP VIEW" : "DROP TABLE"}${ifExists ? " IF EXISTS" : ""} ${qualifiedName(ctx.database, view.name)}${onCluster(viewCluster(view, ctx))}`;
}

function modifyViewStatements(before: MaterializedView, after: MaterializedView, ctx: SqlContext): string[] {
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `view.modify of ${before.name} would rename it to ${after.name}; drop and create the view instead`);
  }
  switch (viewModification(before, after, ctx.capabilities)) {
    case "none":
      return [];
    case "modify-query":
      return [`ALTER TABLE ${qualifiedName(ctx.database, after.name)}${onCluster(viewCluster(before, ctx))} MODIFY QUERY\n${after.selectStatement}`];
    case "recreate":
      // Rows inserted into the sources between these two statements are not seen by the view.
      return [dropViewStatement(before, ctx), createViewStatement(after, ctx)];
  }
}

/**
 * How a view change is carried out on a server with `capabilities`: not at all, by
 * `ALTER TABLE … MODIFY QUERY`, or by dropping and creating the view again (lint reports that).
 */
export function viewModification(before: MaterializedView, after: MaterializedView, capabilities: OlapCapabilities): "none" | "modify-query" | "recreate" {
  if (canonicalJson(before) === canonicalJson(after)) return "none";
  // A view without TO keeps its rows in an inner table: it is re-created (its rows go with it; the
  // planner adds a backfill), as the ALTER would also have to fit the inner table's columns.
  if (before.inner || after.inner) return "recreate";
  const sameTarget = before.targetTable === after.targetTable;
  if (sameTarget && before.selectStatement === after.selectStatement) return "none";
  return sameTarget && capabilities.modifyQuery ? "modify-query" : "recreate";
}

// ---------------------------------------------------------------------------
// Keeping data: rebuilds, backfills, copies and the checks around them

/** Column types whose values `cityHash64` cannot hash; a checksum leaves them out (the row count still covers them). */
function hashable(type: string): boolean {
  let ok = true;
  try {
    walk(parseClickHouseType(type), (t) => {
      if (t.kind === "AggregateFunction" && !t.simple) ok = false;
      if ((t.kind === "name" || t.kind === "generic") && ["JSON", "Object", "Dynamic", "Variant"].includes(t.name)) ok = false;
    });
  } catch {
    ok = false;
  }
  return ok;
}

/**
 * A check that two tables hold the same rows over `columns`: the same count and the same
 * order-independent checksum (the sum of each row's `cityHash64`).
 */
function sameRowsCheck(from: string, to: string, columns: readonly Column[], ctx: SqlContext, message: string): string {
  // Aliases an app's column is unlikely to be called: `n`/`h` captured the columns of those names.
  const hashed = columns.filter((c) => hashable(c.type)).map((c) => quoteIdentifier(c.name));
  const h = hashed.length === 0 ? "toUInt64(0)" : `sum(cityHash64(${hashed.join(", ")}))`;
  const side = (name: string) => `(SELECT count() AS _moose_rows, ${h} AS _moose_sum FROM ${qualifiedName(ctx.database, name)})`;
  return checkStatement(
    [
      `SELECT concat(${quoteString(`${to}: `)}, toString(b._moose_rows), ' rows (checksum ', toString(b._moose_sum), '); ', ${quoteString(`${from}: `)}, toString(a._moose_rows), ' rows (checksum ', toString(a._moose_sum), ')') AS problem`,
      `FROM ${side(from)} AS a`,
      `CROSS JOIN ${side(to)} AS b`,
      "WHERE a._moose_rows != b._moose_rows OR a._moose_sum != b._moose_sum",
    ].join("\n"),
    message,
  );
}

/**
 * Rebuilds a table keeping its rows (`table.rebuild`). Every run of the list is safe to
 * repeat from its first statement until the swap, which is its last data statement:
 *
 * 1. the copy is built from scratch under a name only the rebuild uses (dropped first if a
 *    failed run left it), with the new definition;
 * 2. the rows are copied (for a merging engine with `optimize_on_insert = 0`, so nothing
 *    merges before it is counted) and checked: same row count and checksum, or the step
 *    stops with both and the table is untouched;
 * 3. the names are swapped: `EXCHANGE TABLES` (atomic; views follow the name), or where the
 *    server has none a double `RENAME`, after which the views that read or write the table
 *    are re-pointed (`MODIFY QUERY`, or re-created);
 * 4. the previous table stays under `keepOldAs`, or is dropped when the step has none
 *    (which the file has to approve).
 *
 * Rows written to the table between the copy and the swap are not copied: stop writers first.
 */
function rebuildStatements(change: ChangeOf<"table.rebuild">, ctx: SqlContext): string[] {
  const { build, tail } = rebuildParts(change, ctx);
  return [...build, ...tail];
}

/**
 * What finishes a rebuild whose swap has happened (a run killed after it): drop the
 * previous table unless kept, re-point the views. Every statement may run again.
 */
export function rebuildTail(change: ChangeOf<"table.rebuild">, ctx: SqlContext): string[] {
  return rebuildParts(change, ctx).tail;
}

function rebuildParts(change: ChangeOf<"table.rebuild">, ctx: SqlContext): { readonly build: string[]; readonly tail: string[] } {
  const { before, after, keepOldAs } = change;
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `cannot rebuild table ${before.name} as ${after.name}: a rebuild keeps the name; rename the table as a separate change`);
  }
  const caps = ctx.capabilities;
  const name = before.name;
  const refusal = clusterRebuildRefusal(before, after);
  if (refusal) throw refusal;
  const cluster = after.engine.cluster;
  const on = onCluster(cluster);
  const target = qualifiedName(ctx.database, name);
  // MATERIALIZED and ALIAS columns are computed by the new table, not copied.
  const shared = after.columns.filter((c) => insertable(c) && before.columns.some((b) => b.name === c.name));
  const list = shared.map((c) => quoteIdentifier(c.name)).join(", ");
  const settings = after.engine.kind !== "MergeTree" && caps.optimizeOnInsert ? " SETTINGS optimize_on_insert = 0" : "";
  // The copy gets a keeper path of its own ({table} stands for this name): after the swap the
  // table keeps it, so the next rebuild's copy must not land on it again.
  const pathName = `${name}${MOOSE_NAME_INFIX}${createHash("sha256").update(`${canonicalJson(after)}\n${keepOldAs ?? ""}`).digest("hex").slice(0, 8)}`;
  const copy = (staging: string): string[] => [
    ...databaseOnCluster(cluster, ctx),
    `DROP TABLE IF EXISTS ${qualifiedName(ctx.database, staging)}${on}`,
    createTableStatement({ ...after, name: staging }, ctx, pathName),
    ...(shared.length === 0 ? [] : [`INSERT INTO ${qualifiedName(ctx.database, staging)} (${list})${settings}\nSELECT ${list} FROM ${target}`]),
    sameRowsCheck(name, staging, shared, ctx, `the copy of ${name} does not hold the same rows; ${name} is unchanged`),
  ];
  if (caps.exchangeTables) {
    // The copy is built under the name the old table ends up with, so the swap is the step's last data statement.
    const staging = keepOldAs ?? `${name}__moose_rebuild`;
    return {
      build: [...copy(staging), `EXCHANGE TABLES ${target} AND ${qualifiedName(ctx.database, staging)}${on}`],
      tail: keepOldAs === undefined ? [`DROP TABLE IF EXISTS ${qualifiedName(ctx.database, staging)}${on}`] : [],
    };
  }
  const staging = `${name}__moose_rebuild`;
  const old = keepOldAs ?? `${name}__moose_old`;
  return {
    build: [...copy(staging), `RENAME TABLE ${target} TO ${qualifiedName(ctx.database, old)}, ${qualifiedName(ctx.database, staging)} TO ${target}${on}`],
    tail: [...(keepOldAs === undefined ? [`DROP TABLE IF EXISTS ${qualifiedName(ctx.database, old)}${on}`] : []), ...repointViews(name, ctx)],
  };
}

/**
 * After a RENAME swap the views that read or write the table still point at the renamed
 * old one: re-resolve their source with `MODIFY QUERY`, or re-create them (a view writing
 * TO the table has no ALTER for its target). A view storing its own rows is not re-created.
 */
function repointViews(table: string, ctx: SqlContext): string[] {
  const out: string[] = [];
  const views = Object.values(ctx.state?.views ?? {}).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const v of views) {
    const reads = v.sourceTables.includes(table);
    const writes = !v.inner && v.targetTable === table;
    if (!reads && !writes) continue;
    if (!writes && ctx.capabilities.modifyQuery) out.push(`ALTER TABLE ${qualifiedName(ctx.database, v.name)}${onCluster(viewCluster(v, ctx))} MODIFY QUERY\n${v.selectStatement}`);
    else if (v.inner) {
      throw unsupported(ctx.capabilities, `re-point materialized view ${v.name} (which stores its own rows) after rebuilding ${table}`, "ALTER TABLE … MODIFY QUERY and EXCHANGE TABLES", "rebuild the table by hand, or re-create the view with a backfill");
    } else out.push(dropViewStatement(v, ctx, true), createViewStatement(v, ctx));
  }
  return out;
}

/** The type of a column as the state before the change has it. */
function stateColumn(table: string, column: string, ctx: SqlContext, what: string): Column {
  const found = ctx.state?.tables[table]?.columns.find((c) => c.name === column);
  if (!found) {
    throw new InvalidInputError("CHANGE_NEEDS_STATE", `cannot write the SQL to ${what}: the map before the change (ctx.state) has no column ${table}.${column}`, {
      hint: "pass the map just before the change as ctx.state (statementsForChanges carries it through a list)",
    });
  }
  return found;
}

interface TypeParts {
  readonly nullable: boolean;
  /** The type without LowCardinality and Nullable, as ClickHouse prints it. */
  readonly inner: ClickHouseType;
}

function typeParts(type: string): TypeParts {
  let t = parseClickHouseType(type);
  let nullable = false;
  for (;;) {
    if (t.kind === "LowCardinality") t = t.inner;
    else if (t.kind === "Nullable") {
      nullable = true;
      t = t.inner;
    } else return { nullable, inner: t };
  }
}

function needAccurateCast(ctx: SqlContext, action: string): void {
  if (!ctx.capabilities.accurateCast) {
    throw unsupported(ctx.capabilities, action, "accurateCastOrNull / accurateCastOrDefault (ClickHouse 21.4+)", "clean up the values with a sql(...) step and change the type by hand");
  }
}

/**
 * SQL converting `x` (a column of type `from`) to type `to`, never failing: values that
 * do not convert become NULL when `to` is Nullable, else the type's default (an enum's first label).
 */
function conversionExpression(x: string, from: string, to: string, nullsAllowed = true): string {
  const s = typeParts(from);
  const parts = typeParts(to);
  const t = { ...parts, nullable: parts.nullable && nullsAllowed };
  const value = s.nullable ? `assumeNotNull(${x})` : x;
  const inner = formatClickHouseType(t.inner);
  if (t.inner.kind === "Enum") {
    const labels = t.inner.values.map((v) => quoteString(v.label)).join(", ");
    const fallback = t.nullable ? "NULL" : quoteString(t.inner.values[0]?.label ?? "");
    const known = `toString(${x}) IN (${labels})`;
    return `if(${s.nullable ? `isNotNull(${x}) AND ` : ""}${known}, toString(${value}), ${fallback})`;
  }
  if (t.nullable) return s.nullable ? `if(isNull(${x}), NULL, accurateCastOrNull(${value}, ${quoteString(inner)}))` : `accurateCastOrNull(${value}, ${quoteString(inner)})`;
  return `accurateCastOrDefault(${value}, ${quoteString(inner)})`;
}

/** Rows whose value of `x` does not survive the change `from` → `to` unchanged. */
function notConvertible(x: string, from: string, to: string): string {
  const s = typeParts(from);
  const t = typeParts(to);
  const value = s.nullable ? `assumeNotNull(${x})` : x;
  const sourceInner = quoteString(formatClickHouseType(s.inner));
  let changes: string;
  if (t.inner.kind === "Enum") {
    changes = `toString(${value}) NOT IN (${t.inner.values.map((v) => quoteString(v.label)).join(", ")})`;
  } else {
    const cast = `accurateCastOrNull(${value}, ${quoteString(formatClickHouseType(t.inner))})`;
    // Round trip in the source type: catches values out of range and values that change (precision, scale).
    changes = `(isNull(${cast}) OR CAST(assumeNotNull(${cast}), ${sourceInner}) != ${value})`;
  }
  if (!s.nullable) return changes;
  return t.nullable ? `(isNotNull(${x}) AND ${changes})` : `(isNull(${x}) OR ${changes})`;
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

function backfillColumnStatements(change: ChangeOf<"table.backfillColumn">, ctx: SqlContext): string[] {
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
function rowWriteStatements(w: RowWrite, ctx: SqlContext): string[] {
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
  const where = engine.cluster === undefined ? "" : ` on cluster ${engine.cluster}`;
  if (engine.replicated === undefined) return `${describeMerging(engine)}${where}`;
  const path = engine.replicated.keeperPath === undefined ? "" : ` at ${engine.replicated.keeperPath} (${engine.replicated.replicaName ?? "{replica}"})`;
  return `Replicated${describeMerging(engine)}${path}${where}`;
}

function describeMerging(engine: TableEngine): string {
  if (holdsNoRows(engine)) return describeIntegrationEngine(engine);
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
    case "VersionedCollapsingMergeTree":
      return `${engine.kind}(${engine.sign}, ${engine.version})`;
    default:
      return assertNever(engine, "table engine");
  }
}
