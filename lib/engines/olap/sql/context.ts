import { InvalidInputError, RefusedError } from "../../../errors.js";
import type { Column, InfraMap } from "../../../model/infra-map.js";
import { onCluster } from "../cluster.js";
import type { OlapCapabilities } from "../capabilities.js";
import { qualifiedName, quoteIdentifier, tableParts } from "../../../model/clickhouse-quote.js";
import { maskedRuntimeEnv, type SqlRuntimeEnv } from "../runtime-env.js";

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
  /**
   * How a value read from the environment (`mooseRuntimeEnv.get`) is written: the executor's
   * slots (lib/engines/olap/runtime-env.ts). Absent: shown as `${NAME}`, for text that is
   * printed and never sent.
   */
  readonly runtimeEnv?: SqlRuntimeEnv;
}

/** The writer of run-time values for `ctx`: its slots, or the masked `${NAME}`. */
export function runtimeEnvWriter(ctx: SqlContext): SqlRuntimeEnv {
  return ctx.runtimeEnv ?? maskedRuntimeEnv;
}

/** The cluster of table `name` in the map before the change; undefined when it has none (or is unknown). */
export function clusterOf(name: string, ctx: SqlContext): string | undefined {
  return Object.prototype.hasOwnProperty.call(ctx.state?.tables ?? {}, name) ? ctx.state?.tables[name]?.engine.cluster : undefined;
}

/** `db`.`table` [ON CLUSTER c], the subject of an ALTER of that table's definition. */
export function alterTarget(name: string, ctx: SqlContext): string {
  return `${qualifiedName(ctx.database, name)}${onCluster(clusterOf(name, ctx))}`;
}

/**
 * The subject of a mutation (`ALTER TABLE … UPDATE`): on a replicated table the mutation
 * is replicated through Keeper, so it is sent once; on a plain table of a cluster each
 * host holds its own rows, so it runs ON CLUSTER.
 */
export function mutationTarget(name: string, ctx: SqlContext): string {
  const engine = Object.prototype.hasOwnProperty.call(ctx.state?.tables ?? {}, name) ? ctx.state?.tables[name]?.engine : undefined;
  return `${qualifiedName(ctx.database, name)}${engine?.replicated === undefined ? onCluster(engine?.cluster) : ""}`;
}

/**
 * The database table `name` lives in, made sure of before the table is created (or renamed)
 * there: on every host of `cluster` (the adapter creates the managed one only where it
 * connects), and for a table of another database (moose-lib's `database`,
 * `analytics.Events`) on this server too.
 */
export function databaseOf(name: string, cluster: string | undefined, ctx: SqlContext): string[] {
  const { database } = tableParts(ctx.database, name);
  return cluster === undefined && database === ctx.database ? [] : [`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}${onCluster(cluster)}`];
}

/** The type of a column as the state before the change has it. */
export function stateColumn(table: string, column: string, ctx: SqlContext, what: string): Column {
  const found = ctx.state?.tables[table]?.columns.find((c) => c.name === column);
  if (!found) {
    throw new InvalidInputError("CHANGE_NEEDS_STATE", `cannot write the SQL to ${what}: the map before the change (ctx.state) has no column ${table}.${column}`, {
      hint: "pass the map just before the change as ctx.state (statementsForChanges carries it through a list)",
    });
  }
  return found;
}

export function unsupported(caps: OlapCapabilities, action: string, feature: string, alternative: string): RefusedError {
  return new RefusedError("UNSUPPORTED_BY_SERVER", `cannot ${action}: ClickHouse ${caps.version} does not support ${feature}`, {
    hint: `${alternative}; or upgrade the ClickHouse server`,
  });
}

export function needsRebuild(table: string, reason: string, hint?: string): RefusedError {
  return new RefusedError("NEEDS_REBUILD", `table ${table} must be rebuilt: ${reason}`, {
    hint: hint ?? "create a new table with the new definition, copy the rows over (INSERT INTO … SELECT), then swap the names; or drop and re-create the table if its data can go",
  });
}
