import type { OlapConfig } from "../../config/config.js";
import { ClickHouseEngine } from "./clickhouse-engine.js";
import type { OlapEngine } from "./engine.js";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";

/**
 * Opens the engine `config` names and creates its database when it is missing.
 * chDB holds one data directory per process: opening a second directory while an
 * embedded engine is open fails with `OLAP_EMBEDDED_BUSY`.
 *
 * @example
 * const engine = await openOlapEngine(config.olap);
 * try { console.log(await engine.version()); } finally { await engine.close(); }
 */
export async function openOlapEngine(config: OlapConfig): Promise<OlapEngine> {
  const engine = await openConfiguredEngine(config);
  if (engine instanceof ClickHouseEngine) engine.otherDatabases = config.additionalDatabases ?? [];
  try {
    // Moose's `additional_databases`: created next to the main one, as the main one is, when the engine opens.
    for (const name of config.additionalDatabases ?? []) await engine.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(name)}`);
  } catch (error) {
    await engine.close();
    throw error;
  }
  return engine;
}

async function openConfiguredEngine(config: OlapConfig): Promise<OlapEngine> {
  // Imported lazily: chDB loads a native library, which a server-only project never needs.
  if (config.engine === "embedded") {
    const { openEmbeddedConnection } = await import("./embedded.js");
    return ClickHouseEngine.open("embedded", config.database, (database, options) => openEmbeddedConnection(config.dataDir, database, options));
  }
  const { openServerConnection } = await import("./server.js");
  return ClickHouseEngine.open("server", config.database, (database) => openServerConnection(config, database));
}
