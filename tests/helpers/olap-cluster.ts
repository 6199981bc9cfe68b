import type { ServerOlapConfig } from "../../lib/config/config.js";

/**
 * The two-replica cluster tests/helpers/olap-cluster-setup.sh starts, as named by
 * `CLICKHOUSE_CLUSTER_URLS` (comma-separated replica URLs, e.g.
 * `http://127.0.0.1:8124,http://127.0.0.1:8125`) and `CLICKHOUSE_CLUSTER` (the
 * `remote_servers` entry joining them; default `moose_cluster`). Undefined when unset:
 * the cluster suites skip.
 */
export interface TestCluster {
  readonly name: string;
  readonly urls: readonly string[];
  /** The server config of replica `i` (0-based) with `database` current. */
  replica(i: number, database: string): ServerOlapConfig;
}

export function clusterFromEnv(env: NodeJS.ProcessEnv = process.env): TestCluster | undefined {
  const text = env["CLICKHOUSE_CLUSTER_URLS"];
  if (text === undefined || text.trim() === "") return undefined;
  const urls = text.split(",").map((u) => u.trim()).filter((u) => u !== "");
  return {
    name: env["CLICKHOUSE_CLUSTER"] || "moose_cluster",
    urls,
    replica(i, database) {
      const url = new URL(urls[i]!);
      const useSsl = url.protocol === "https:";
      return {
        engine: "server",
        host: url.hostname,
        port: url.port === "" ? (useSsl ? 8443 : 8123) : Number(url.port),
        nativePort: 9000,
        database,
        user: url.username === "" ? "default" : decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        useSsl,
      };
    },
  };
}
