import { EngineError, RefusedError } from "../../errors.js";
import type { Replication, Table } from "../../model/infra-map.js";
import type { OlapCapabilities } from "./capabilities.js";
import { MOOSE_NAME_INFIX, tokenize } from "./sql-text.js";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/**
 * Clusters and replication: the `ON CLUSTER` clause, the arguments of the `Replicated*`
 * engines, and the distributed-DDL answer (one row per host) a server gives for an
 * `ON CLUSTER` statement.
 */

/** moose's keeper path when a Replicated table declares none (moose-lib leaves the choice to the server). */
export const DEFAULT_KEEPER_PATH = "/clickhouse/tables/{shard}/{database}/{table}";
/** moose's replica name when a Replicated table declares none. */
export const DEFAULT_REPLICA_NAME = "{replica}";

/** ` ON CLUSTER \`c\`` for a table of cluster `c`; nothing without one. */
export function onCluster(cluster: string | undefined): string {
  return cluster === undefined ? "" : ` ON CLUSTER ${quoteIdentifier(cluster)}`;
}

/**
 * The declared replication with defaults left out: `{}` when it says what moose would
 * choose anyway, so declaring the default and declaring nothing are the same table.
 */
export function canonicalReplication(r: Replication): Replication {
  const keeperPath = r.keeperPath ?? DEFAULT_KEEPER_PATH;
  const replicaName = r.replicaName ?? DEFAULT_REPLICA_NAME;
  return keeperPath === DEFAULT_KEEPER_PATH && replicaName === DEFAULT_REPLICA_NAME ? {} : { keeperPath, replicaName };
}

/**
 * The first two arguments of a `Replicated*` engine, as quoted strings. `{database}` and
 * `{table}` are written out as the names the table is created with: ClickHouse 18.16
 * expands them again when it attaches the table, so after a RENAME (which a rebuild's
 * swap is) the table would look for another path and not attach; written out, the path
 * is the one it was created with on every version. `{shard}`, `{replica}` and other
 * macros are the server's (`<macros>`). `{uuid}` needs an Atomic database.
 *
 * @example replicationArguments({}, { database: "app", table: "Events", what: "table Events", capabilities })
 * // ["'/clickhouse/tables/{shard}/app/Events'", "'{replica}'"]
 */
export function replicationArguments(
  r: Replication,
  ctx: { readonly database: string; readonly table: string; readonly what: string; readonly capabilities: OlapCapabilities },
): string[] {
  const caps = ctx.capabilities;
  if (!caps.replication) {
    // (The embedded engine never gets here: it creates Replicated tables without replication, see engineClause.)
    const why = `this ClickHouse (${caps.version}) has no ZooKeeper/ClickHouse Keeper configured`;
    throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot create ${ctx.what} with a Replicated engine: ${why}`, {
      hint: "point clickhouse_config at a server whose config has <zookeeper> (or <keeper>) and <macros>, or use the engine without Replicated",
    });
  }
  const path = r.keeperPath ?? DEFAULT_KEEPER_PATH;
  if (path.includes("{uuid}") && !caps.uuidMacro) {
    throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot create ${ctx.what}: its keeperPath ${path} uses {uuid}, which ClickHouse ${caps.version} cannot expand (it needs an Atomic database, 20.10+)`, {
      hint: "use {database} and {table} in keeperPath instead (moose writes them out), or leave keeperPath unset",
    });
  }
  const expanded = path.split("{database}").join(ctx.database).split("{table}").join(ctx.table);
  return [quoteString(expanded), quoteString(r.replicaName ?? DEFAULT_REPLICA_NAME)];
}

/**
 * A live table's replication arguments in the model's terms: path segments that are the
 * database's name become `{database}`, those that are the table's name (or the name of a
 * rebuild's copy of it, `<table>__moose_…`) become `{table}`, then defaults are left out
 * ({@link canonicalReplication}). The inverse of {@link replicationArguments}.
 */
export function readReplication(path: string, replica: string, database: string, table: string): Replication {
  const segments = path.split("/").map((s) => (s === database ? "{database}" : s === table || s.startsWith(`${table}${MOOSE_NAME_INFIX}`) ? "{table}" : s));
  return canonicalReplication({ keeperPath: segments.join("/"), replicaName: replica });
}

/**
 * The cluster an `ON CLUSTER` statement names, read from its tokens (not its text: a
 * string or comment saying ON CLUSTER does not count); undefined for other statements.
 */
export function statementCluster(sql: string): string | undefined {
  const tokens = tokenize(sql).filter((t) => t.kind !== "space" && t.kind !== "comment");
  for (let i = 0; i + 2 < tokens.length; i += 1) {
    const a = tokens[i]!;
    const b = tokens[i + 1]!;
    const c = tokens[i + 2]!;
    if (a.depth === 0 && a.kind === "word" && a.text.toUpperCase() === "ON" && b.kind === "word" && b.text.toUpperCase() === "CLUSTER" && (c.kind === "word" || c.kind === "quoted" || c.kind === "string")) {
      return c.value;
    }
  }
  return undefined;
}

/** One host of a cluster, as `system.clusters` lists it. */
export interface ClusterHost {
  readonly host: string;
  readonly port: number;
}

export const hostName = (h: ClusterHost): string => `${h.host}:${h.port}`;

/**
 * Checks the answer of an `ON CLUSTER` statement: done only when every host of the
 * cluster reported status 0. A host that failed, or that the answer does not mention,
 * is named in an `OLAP_CLUSTER_HOST_FAILED` error.
 */
export function checkDistributedAnswer(rows: ReadonlyArray<Record<string, unknown>>, hosts: readonly ClusterHost[], cluster: string, sql: string): void {
  const seen = new Map<string, Record<string, unknown>>();
  for (const row of rows) seen.set(`${String(row["host"])}:${String(row["port"])}`, row);
  const failed: string[] = [];
  for (const [name, row] of seen) {
    if (String(row["status"]) !== "0") failed.push(`${name}: ${String(row["error"] ?? "").split("\n")[0]}`);
  }
  const missing = hosts.map(hostName).filter((h) => !seen.has(h));
  if (failed.length === 0 && missing.length === 0) return;
  const parts = [...failed, ...missing.map((h) => `${h}: did not report`)];
  throw clusterFailure(cluster, sql, parts, "OLAP_CLUSTER_HOST_FAILED");
}

export function clusterFailure(cluster: string, sql: string, hosts: readonly string[], code: "OLAP_CLUSTER_HOST_FAILED" | "OLAP_CLUSTER_TIMEOUT", cause?: unknown): EngineError {
  const statement = sql.length > 400 ? `${sql.slice(0, 400)}…` : sql;
  const what = code === "OLAP_CLUSTER_TIMEOUT" ? "did not finish in time on" : "failed on";
  return new EngineError(code, `ON CLUSTER ${cluster}: the statement ${what} ${hosts.length === 1 ? "host" : "hosts"} ${hosts.join("; ")}`, {
    ...(cause === undefined ? {} : { cause }),
    details: [`statement: ${statement}`],
    hint:
      code === "OLAP_CLUSTER_TIMEOUT"
        ? "ClickHouse keeps the statement queued for those hosts and runs it when they are back; bring them back, then run moose migrate deploy again to resume from this step"
        : "fix what the host reports (or bring the host back), then run moose migrate deploy again to resume from this step",
  });
}

/**
 * What a rebuild cannot do on a cluster (the planner refuses it when it plans the rebuild, the SQL
 * adapter again when it renders one). The copy is one `INSERT … SELECT` on the replica
 * moose is connected to: it reads every row only when the old table is replicated (or
 * there is no cluster), and every replica gets the rows only when the new one is.
 */
export function clusterRebuildRefusal(before: Table, after: Table): RefusedError | undefined {
  const from = before.engine.cluster;
  const to = after.engine.cluster;
  const name = before.name;
  const path = after.engine.replicated?.keeperPath;
  if (path !== undefined && !path.includes("{table}") && !path.includes("{uuid}")) {
    return new RefusedError("REBUILD_KEEPER_PATH", `table ${name} must be rebuilt, but its keeperPath ${path} names no {table}: the copy would need the same path in ZooKeeper as the table it replaces, and one path holds one table`, {
      hint: "put {table} into keeperPath (moose gives the copy a name of its own), or leave keeperPath and replicaName unset",
    });
  }
  if (from !== to) {
    return new RefusedError("CLUSTER_CHANGE", `table ${name} would move from ${from === undefined ? "no cluster" : `cluster ${from}`} to ${to === undefined ? "no cluster" : `cluster ${to}`}; moose does not move a table between clusters (the hosts and the rows on each differ)`, {
      hint: `declare the table under a new name with the new cluster, copy the rows with a sql(...) step (INSERT INTO … SELECT, per host where the old table is not replicated), then drop ${name}; or keep cluster: ${from === undefined ? "unset" : JSON.stringify(from)}`,
    });
  }
  if (to === undefined) return undefined;
  if (before.engine.replicated === undefined) {
    return new RefusedError("CLUSTER_REBUILD", `table ${name} must be rebuilt, but it is a ${before.engine.kind} (not replicated) on cluster ${to}: each host holds rows of its own, and a copy made on one replica would lose the others'`, {
      hint: `copy each host's rows by hand (INSERT INTO … SELECT … FROM remote('host:port', db, ${name})), or declare ${name} under a new name and move the rows yourself`,
    });
  }
  if (after.engine.replicated === undefined) {
    return new RefusedError("CLUSTER_REBUILD", `table ${name} must be rebuilt as a ${after.engine.kind} that is not replicated on cluster ${to}: the copy made on one replica would reach that host only`, {
      hint: `keep the Replicated${after.engine.kind} engine, or drop the cluster option`,
    });
  }
  return undefined;
}
