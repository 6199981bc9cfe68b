import type { PlainView } from "../../../model/infra-map.js";
import { onCluster } from "../cluster.js";
import { qualifiedName } from "../../../model/clickhouse-quote.js";
import { type SqlContext, clusterOf } from "./context.js";

/**
 * `CREATE VIEW … AS <select>`. Unqualified tables in the SELECT resolve in the
 * connection's current database, which both engines set to the managed database.
 *
 * @example createPlainViewStatement({ name: "recent", selectStatement: "SELECT * FROM events", sourceTables: ["events"] }, ctx)
 * // "CREATE VIEW `app`.`recent`\nAS SELECT * FROM events"
 */
export function createPlainViewStatement(view: PlainView, ctx: SqlContext): string {
  return `CREATE VIEW ${qualifiedName(ctx.database, view.name)}${onCluster(plainViewCluster(view, ctx))}\nAS ${view.selectStatement}`;
}

export function dropPlainViewStatement(view: PlainView, ctx: SqlContext): string {
  // Before DROP VIEW existed (20.8), views were dropped as tables.
  return `${ctx.capabilities.dropView ? "DROP VIEW" : "DROP TABLE"} ${qualifiedName(ctx.database, view.name)}${onCluster(plainViewCluster(view, ctx))}`;
}

/**
 * A view holds no rows, so a new SELECT is a drop and a create: `CREATE OR REPLACE VIEW`
 * and `ALTER TABLE … MODIFY QUERY` on plain views do not exist on every supported server.
 */
export function modifyPlainViewStatements(before: PlainView, after: PlainView, ctx: SqlContext): string[] {
  if (before.selectStatement === after.selectStatement) return [];
  return [dropPlainViewStatement(before, ctx), createPlainViewStatement(after, ctx)];
}

/** A view over tables of a cluster is read on every host of it: created there too. */
function plainViewCluster(view: PlainView, ctx: SqlContext): string | undefined {
  return view.sourceTables.map((t) => clusterOf(t, ctx)).find((c) => c !== undefined);
}
