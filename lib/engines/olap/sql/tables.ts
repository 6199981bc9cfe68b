import { assertNever, InvalidInputError } from "../../../errors.js";
import { tableParts } from "../../../model/clickhouse-quote.js";
import { holdsNoRows, type Column, type SettingValue, type Table, type TableConstraint, type TableEngine, type TableIndex, type TableProjection } from "../../../model/infra-map.js";
import { onCluster, replicationArguments } from "../cluster.js";
import { describeIntegrationEngine, integrationEngineClause } from "../integration-engines.js";
import type { OlapCapabilities } from "../capabilities.js";
import { type SqlContext, runtimeEnvWriter, unsupported } from "./context.js";
import type { SqlRuntimeEnv } from "../runtime-env.js";
import { checkedType, typeHasNested } from "./types.js";
import { isPlainIdentifier, qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";
import { quoteString } from "../../../model/clickhouse-quote.js";

/**
 * `pathName` is the name `{table}` stands for in the table's keeper path (the table's own
 * name, or for a rebuild's copy a name of its own, so the copy never shares the path of
 * the table it replaces).
 */
export function createTableStatement(t: Table, ctx: SqlContext, pathName = t.name): string {
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
    ...(t.constraints ?? []).map((c) => constraintDefinition(c, t.name, caps)),
  ];
  elements.forEach((e, i) => lines.push(`  ${e}${i < elements.length - 1 ? "," : ""}`));
  lines.push(")");
  lines.push(`ENGINE = ${engineClause(t.engine, t.name, ctx, pathName, t.settings)}`);
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
  const rendered = settings.map(([k, v]) => settingAssignment(k, v, t.name, runtimeEnvWriter(ctx)));
  // flatten_nested is a query setting: ClickHouse applies it to this CREATE and does not store it with the table.
  if (t.columns.some((c) => typeHasNested(c.type))) rendered.push("flatten_nested = 0");
  if (rendered.length > 0) lines.push(`SETTINGS ${rendered.join(", ")}`);
  return lines.join("\n");
}

export function keyText(entries: readonly string[] | undefined): string {
  return entries === undefined ? "(the ORDER BY)" : `(${entries.join(", ")})`;
}

export function indexDefinition(i: TableIndex, table: string, caps: OlapCapabilities): string {
  if (!caps.skippingIndexes) throw unsupported(caps, `give table ${table} the index ${i.name}`, "data-skipping indexes (ClickHouse 21.1+)", "leave the index out of the declaration");
  if (!Number.isInteger(i.granularity) || i.granularity < 1) throw new InvalidInputError("INDEX_INVALID", `table ${table}: index ${i.name} has granularity ${i.granularity}; it must be a whole number, at least 1`);
  return `INDEX ${quoteIdentifier(i.name)} ${i.expression} TYPE ${i.type} GRANULARITY ${i.granularity}`;
}

export function constraintDefinition(c: TableConstraint, table: string, caps: OlapCapabilities): string {
  if (c.type === "CHECK" && !caps.checkConstraints) throw unsupported(caps, `give table ${table} the constraint ${c.name}`, "CHECK constraints (ClickHouse 19.14+)", "leave the constraint out of the declaration and check the rows in the code that inserts them");
  if (c.type === "ASSUME" && !caps.assumeConstraints) throw unsupported(caps, `give table ${table} the constraint ${c.name}`, "ASSUME constraints (ClickHouse 22.3+ here)", "leave the constraint out of the declaration");
  return `CONSTRAINT ${quoteIdentifier(c.name)} ${c.type} ${c.expression}`;
}

export function projectionDefinition(p: TableProjection, table: string, caps: OlapCapabilities): string {
  if (!caps.projections) throw unsupported(caps, `give table ${table} the projection ${p.name}`, "projections (ClickHouse 25.1+ here)", "leave the projection out of the declaration");
  return `PROJECTION ${quoteIdentifier(p.name)} (${p.body})`;
}

export function columnDefinition(c: Column, table: string, ctx: SqlContext): string {
  const type = checkedType(c, table, ctx.capabilities);
  return `${quoteIdentifier(c.name)} ${type}${columnProperties(c, table, ctx.capabilities)}`;
}

/** How a column's value is computed: `DEFAULT`, `MATERIALIZED` or `ALIAS`, and its expression. */
export function valueExpression(c: Column): { readonly keyword: "DEFAULT" | "MATERIALIZED" | "ALIAS"; readonly expression: string } | undefined {
  if (c.default !== undefined) return { keyword: "DEFAULT", expression: c.default };
  if (c.materialized !== undefined) return { keyword: "MATERIALIZED", expression: c.materialized };
  if (c.alias !== undefined) return { keyword: "ALIAS", expression: c.alias };
  return undefined;
}

/** What follows the type in a column definition: ` DEFAULT x CODEC(...) TTL y`, each when declared. */
export function columnProperties(c: Column, table: string, caps: OlapCapabilities): string {
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

export function engineClause(engine: TableEngine, table: string, ctx: SqlContext, pathName = table, settings: Readonly<Record<string, SettingValue>> = {}): string {
  const caps = ctx.capabilities;
  if (engine.cluster !== undefined && !caps.clusters) {
    throw unsupported(caps, `create table ${table} ON CLUSTER ${engine.cluster}`, "clusters (a ClickHouse server with remote_servers and ZooKeeper/Keeper)", "leave out cluster, or set clickhouse_config.host to a server of the cluster");
  }
  // The embedded engine is one node that cannot run replicas (EMBEDDED_KEEPER_LIMITS.replication): a Replicated
  // table is created as its engine without replication, which is what one replica of it is, and
  // the statement says so. The migration keeps the declared engine for every other target.
  const local = engine.replicated !== undefined && caps.host === "embedded";
  const replication = engine.replicated === undefined || local ? [] : replicationArguments(engine.replicated, { ...tableParts(ctx.database, pathName), what: `table ${table}`, capabilities: caps });
  const prefix = engine.replicated === undefined || local ? "" : "Replicated";
  const note = local ? ` /* declared Replicated${engine.kind}: the embedded engine is one node and runs no replicas */` : "";
  const clause = (params: readonly string[]): string => {
    const all = [...replication, ...params];
    return (all.length === 0 ? `${prefix}${engine.kind}` : `${prefix}${engine.kind}(${all.join(", ")})`) + note;
  };
  if (holdsNoRows(engine)) return integrationEngineClause(engine, table, caps, runtimeEnvWriter(ctx), settings, engine.cluster === undefined ? "currentDatabase()" : quoteString(ctx.database));
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

/**
 * One ORDER BY entry: a name of a column (or any plain identifier, which can only be
 * one) is quoted; anything else is an expression the user wrote and goes as is.
 */
function keyEntry(entry: string, columns: ReadonlySet<string>): string {
  return columns.has(entry) || isPlainIdentifier(entry) ? quoteIdentifier(entry) : entry;
}

export function orderByExpression(entries: readonly string[], columns: ReadonlySet<string>): string {
  if (entries.length === 0) return "tuple()";
  const rendered = entries.map((e) => keyEntry(e, columns));
  return rendered.length === 1 ? (rendered[0] as string) : `(${rendered.join(", ")})`;
}

export function checkSettingName(name: string, table: string): void {
  if (!isPlainIdentifier(name)) {
    throw new InvalidInputError("SETTING_INVALID", `table ${table}: ${JSON.stringify(name)} is not a ClickHouse setting name (letters, digits and _)`);
  }
}

/** `name = value`: numbers and booleans bare, anything else as a quoted string; a run-time value as `write` puts it. */
export function settingAssignment(name: string, value: SettingValue, table: string, write: SqlRuntimeEnv): string {
  checkSettingName(name, table);
  if (typeof value !== "string") return `${name} = ${write(value)}`;
  const literal = /^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false" ? value : quoteString(value);
  return `${name} = ${literal}`;
}

export function describeEngine(engine: TableEngine): string {
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
