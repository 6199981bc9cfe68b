import { mkdirSync } from "node:fs";
import { quoteTableName } from "../../model/clickhouse-quote.js";
import { Session } from "chdb";
import { EngineError } from "../../errors.js";
import { dataDirectoryArgs, offerRunner, openingDataDirectory } from "./chdb-process.js";
import { type OlapConnection, type RawConnectionOptions } from "./engine.js";
import { RawQueryError } from "./clickhouse-engine.js";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/**
 * A chDB session on `dataDir` whose current database is `database` (created when
 * missing). Each connection has its own session, so each has its own current
 * database; chDB allows several sessions on one data directory but only one data
 * directory per process.
 */
export async function openEmbeddedConnection(dataDir: string, database: string, options: { readonly readOnly?: boolean } = {}): Promise<OlapConnection & { readonly version: string }> {
  mkdirSync(dataDir, { recursive: true });
  // The SQL parser may hold a session of its own on a temporary directory (one per process).
  const conn = await openingDataDirectory(dataDir, () => {
    let session: Session;
    try {
      session = new Session(dataDir, { connectionArgs: dataDirectoryArgs(dataDir) });
    } catch (error) {
      throw new EngineError("OLAP_EMBEDDED_BUSY", `cannot open the embedded ClickHouse data directory ${dataDir}: ${(error as Error).message}`, {
        cause: error,
        hint: "another process (a running `moose dev`, another command) has this data directory open, or this process has another one open (chDB holds one per process): stop it first",
      });
    }
    return new EmbeddedConnection(session, dataDir);
  });
  try {
    await conn.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`);
    await conn.execute(`USE ${quoteIdentifier(database)}`);
    // ClickHouse's read-only mode, for good: a session at readonly = 1 cannot change any
    // setting again (readonly included), so no statement sent on it can write, create, or
    // reach files, URLs or other servers through table functions.
    if (options.readOnly) await conn.execute("SET readonly = 1");
    const [row] = await conn.query("SELECT version() AS version");
    return Object.assign(conn, { version: String(row?.version ?? "") });
  } catch (error) {
    await conn.close();
    throw error;
  }
}

class EmbeddedConnection implements OlapConnection {
  /** chDB runs one query per session at a time; later calls wait here. */
  private tail: Promise<unknown> = Promise.resolve();
  private readonly withdraw: () => void;

  constructor(
    private readonly session: Session,
    private readonly dataDir: string,
  ) {
    // While open, this session also serves the SQL parser (chDB admits one data directory per process).
    this.withdraw = offerRunner({ run: (sql, params, format) => this.run(sql, params, format) }, dataDir);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }

  async execute(sql: string): Promise<void> {
    await this.run(sql);
  }

  async query(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    const text = await this.run(sql, params);
    return text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  async insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void> {
    // chDB takes no separate data stream: the rows follow FORMAT as inline data, which
    // ClickHouse reads with the JSON parser to the end of the text (never as SQL).
    // JSON.stringify escapes newlines, so each row is exactly one line.
    const data = rows.map((row) => JSON.stringify(row, jsonBigInt)).join("\n");
    await this.run(`INSERT INTO ${quoteTableName(table)} SETTINGS date_time_input_format = 'best_effort' FORMAT JSONEachRow\n${data}`);
  }

  raw(text: string, options: RawConnectionOptions): Promise<string> {
    return this.serial(async () => {
      if (!this.session.open) throw new EngineError("OLAP_CLOSED", `the embedded ClickHouse engine on ${this.dataDir} is closed`);
      const session = this.session;
      const settings = Object.entries(options.settings ?? {});
      const moved = options.database !== options.home;
      const previous = new Map<string, string>();
      // The session is shared: its database and settings are put back before the next caller runs.
      try {
        if (moved) await session.queryAsync(`USE ${quoteIdentifier(options.database)}`, { format: "TabSeparated" });
        // Restored to the values they had, not to DEFAULT: the session starts with settings of its own (64-bit integers quoted).
        if (settings.length > 0) {
          const names = settings.map(([name]) => quoteString(name)).join(", ");
          const rows = (await session.queryAsync(`SELECT name, value FROM system.settings WHERE name IN (${names})`, { format: "JSONEachRow" })).text();
          for (const line of rows.split("\n").filter((l) => l.trim() !== "")) {
            const row = JSON.parse(line) as { name: string; value: string };
            previous.set(row.name, row.value);
          }
        }
        for (const [name, value] of settings) await session.queryAsync(`SET ${quoteIdentifier(name)} = ${quoteString(value)}`, { format: "TabSeparated" });
        const params = options.params ?? {};
        const result = Object.keys(params).length === 0
          ? await session.queryAsync(text, { format: options.format })
          : await session.queryBindAsync(text, { ...params }, { format: options.format });
        return result.text();
      } catch (error) {
        throw new RawQueryError((error as Error).message ?? String(error), error);
      } finally {
        for (const [name, value] of previous) await session.queryAsync(`SET ${quoteIdentifier(name)} = ${quoteString(value)}`, { format: "TabSeparated" }).catch(() => undefined);
        if (moved) await session.queryAsync(`USE ${quoteIdentifier(options.home)}`, { format: "TabSeparated" }).catch(() => undefined);
      }
    });
  }

  private run(sql: string, params?: Record<string, unknown>, format = "JSONEachRow"): Promise<string> {
    return this.serial(async () => {
      if (!this.session.open) throw new EngineError("OLAP_CLOSED", `the embedded ClickHouse engine on ${this.dataDir} is closed`);
      try {
        const result = params === undefined ? await this.session.queryAsync(sql, { format }) : await this.session.queryBindAsync(sql, params, { format });
        return result.text();
      } catch (error) {
        throw queryFailed(sql, error);
      }
    });
  }

  async close(): Promise<void> {
    this.withdraw();
    await this.tail;
    this.session.close();
  }
}

function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function queryFailed(sql: string, error: unknown): EngineError {
  const message = (error as Error).message ?? String(error);
  const statement = sql.length > 400 ? `${sql.slice(0, 400)}…` : sql;
  return new EngineError("OLAP_QUERY_FAILED", `embedded ClickHouse: ${message}`, { cause: error, details: [`statement: ${statement}`] });
}
