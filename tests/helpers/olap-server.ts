import type { ServerOlapConfig } from "../../lib/config/config.js";

/**
 * The server named by `CLICKHOUSE_URL` (e.g. `http://127.0.0.1:8123`, optionally with
 * `user:password@`), as the config the server adapter takes; undefined when unset.
 * tests/helpers/olap-server-setup.sh installs and starts Debian's server for CI.
 */
export function serverConfigFromEnv(database: string, env: NodeJS.ProcessEnv = process.env): ServerOlapConfig | undefined {
  const text = env.CLICKHOUSE_URL;
  if (text === undefined || text === "") return undefined;
  const url = new URL(text);
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
}
