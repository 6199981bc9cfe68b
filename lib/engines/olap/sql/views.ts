import { InvalidInputError } from "../../../errors.js";
import { canonicalJson, type MaterializedView } from "../../../model/infra-map.js";
import { onCluster } from "../cluster.js";
import type { OlapCapabilities } from "../capabilities.js";
import { type SqlContext, clusterOf } from "./context.js";
import { engineClause, orderByExpression } from "./tables.js";
import { qualifiedName } from "../../../model/clickhouse-quote.js";

export function createViewStatement(view: MaterializedView, ctx: SqlContext): string {
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
export function viewCluster(view: MaterializedView, ctx: SqlContext): string | undefined {
  if (view.inner) return view.inner.engine.cluster;
  return clusterOf(view.targetTable, ctx) ?? view.sourceTables.map((t) => clusterOf(t, ctx)).find((c) => c !== undefined);
}

export function dropViewStatement(view: MaterializedView, ctx: SqlContext, ifExists = false): string {
  // Before DROP VIEW existed, views were dropped as tables.
  return `${ctx.capabilities.dropView ? "DROP VIEW" : "DROP TABLE"}${ifExists ? " IF EXISTS" : ""} ${qualifiedName(ctx.database, view.name)}${onCluster(viewCluster(view, ctx))}`;
}

export function modifyViewStatements(before: MaterializedView, after: MaterializedView, ctx: SqlContext): string[] {
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
