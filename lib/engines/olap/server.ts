import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";
import { quoteTableName } from "../../model/clickhouse-quote.js";
import type { ServerOlapConfig } from "../../config/config.js";
import { EngineError } from "../../errors.js";
import { requiredQuerySettings } from "./capabilities.js";
import type { OlapConnection, WriteProgress } from "./engine.js";
import { ServerHttp } from "./server-http.js";
import { randomUUID } from "node:crypto";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";

/** Older servers close an idle keep-alive connection after 3 s: a socket idle for this long is not reused. */
const IDLE_SOCKET_TTL_MS = 1500;
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * A ClickHouse server over HTTP with `database` as the current database. The database
 * is created first through a connection bound to no particular database, since a request
 * naming a missing database fails.
 */
export async function openServerConnection(config: ServerOlapConfig, database: string): Promise<OlapConnection & { readonly version: string }> {
  const url = `${config.useSsl ? "https" : "http"}://${config.host}:${config.port}`;
  const transport = (db?: string): ServerHttp =>
    new ServerHttp({
      url,
      user: config.user,
      password: config.password,
      ...(db === undefined ? {} : { database: db }),
      application: "moose-migrate",
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      idleSocketTtlMs: IDLE_SOCKET_TTL_MS,
    });
  // Only for reads with query parameters, whose typed encoding is the client's (created when first needed).
  const client = (): ClickHouseClient =>
    createClient({
      url,
      username: config.user,
      password: config.password,
      database,
      request_timeout: REQUEST_TIMEOUT_MS,
      application: "moose-migrate",
      // Under load the timers that retire client sockets run late and a reused socket answers
      // ECONNRESET: check their age when they are taken (event-loop delays included).
      keep_alive: { enabled: true, idle_socket_ttl: IDLE_SOCKET_TTL_MS, eagerly_destroy_stale_sockets: true },
      // The library never prints; failures reach the caller as EngineErrors.
      log: { level: ClickHouseLogLevel.OFF },
    });

  const bootstrap = new ServerConnection(transport(), undefined, url, {});
  let version: string;
  try {
    const [row] = await bootstrap.query("SELECT version() AS version");
    version = String(row?.version ?? "");
    await bootstrap.execute(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`);
  } finally {
    await bootstrap.close();
  }
  // 64-bit integers as strings (the default changed across versions): a JS number would round them.
  const settings = { output_format_json_quote_64bit_integers: 1, ...requiredQuerySettings(version) };
  return Object.assign(new ServerConnection(transport(database), client, url, settings), { version });
}

class ServerConnection implements OlapConnection {
  /** The query ids of the INSERTs running now, for {@link writeProgress}. */
  private readonly inserts = new Set<string>();

  /** Made on the first read with query parameters. */
  #client: ClickHouseClient | undefined;

  constructor(
    private readonly http: ServerHttp,
    private readonly makeClient: (() => ClickHouseClient) | undefined,
    readonly url: string,
    private readonly settings: Readonly<Record<string, string | number>>,
  ) {}

  async execute(sql: string): Promise<void> {
    const insert = /^\s*INSERT\b/i.test(sql);
    const queryId = insert ? `moose-${randomUUID()}` : undefined;
    // Not an INSERT: re-sent once when the connection was reset (see `resent`); an INSERT is never re-sent.
    const once = () => this.http.send({ sql, settings: this.settings, ...(queryId ? { queryId } : {}) });
    if (queryId) this.inserts.add(queryId);
    try {
      await (insert ? once() : resent(once));
    } catch (error) {
      throw this.failure(sql, error);
    } finally {
      if (queryId) this.inserts.delete(queryId);
    }
  }

  async writeProgress(): Promise<WriteProgress | undefined> {
    if (this.inserts.size === 0) return this.mutationProgress();
    const ids = [...this.inserts].map((id) => `'${id}'`).join(", ");
    const rows = await this.read(
      `SELECT toString(sum(read_rows)) AS r, toString(sum(total_rows_approx)) AS t, toString(sum(written_rows)) AS w, count() AS n FROM system.processes WHERE query_id IN (${ids})`,
      undefined,
      { ...this.settings },
    );
    const row = rows[0];
    if (!row || Number(row.n) === 0) return undefined;
    return { readRows: Number(row.r), totalRows: Number(row.t), writtenRows: Number(row.w) };
  }

  /** Parts each unfinished mutation of this database had to rewrite (the most `parts_to_do` seen), by mutation id. */
  private readonly mutationParts = new Map<string, number>();

  /** See {@link WriteProgress.unit}: the unfinished mutations of the current database, by part. */
  private async mutationProgress(): Promise<WriteProgress | undefined> {
    const rows = await this.read(
      "SELECT mutation_id AS id, toString(parts_to_do) AS todo FROM system.mutations WHERE database = currentDatabase() AND is_done = 0",
      undefined,
      { ...this.settings },
    );
    if (rows.length === 0) {
      this.mutationParts.clear();
      return undefined;
    }
    let done = 0;
    let total = 0;
    for (const row of rows) {
      const id = String(row["id"]);
      const todo = Number(row["todo"]);
      const most = Math.max(this.mutationParts.get(id) ?? 0, todo);
      this.mutationParts.set(id, most);
      done += most - todo;
      total += most;
    }
    return { readRows: done, totalRows: total, writtenRows: 0, unit: "parts" };
  }

  async query(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    return this.read(sql, params, { ...this.settings });
  }

  /**
   * Never re-sent: a second ON CLUSTER statement would be a second task in the DDL queue.
   * `MOOSE_DISTRIBUTED_DDL_TIMEOUT_S` bounds the wait for every host (the server's
   * `distributed_ddl_task_timeout`, 180 s by default).
   */
  async executeOnCluster(sql: string): Promise<Array<Record<string, unknown>>> {
    const timeout = Number(process.env["MOOSE_DISTRIBUTED_DDL_TIMEOUT_S"] ?? "");
    const settings = { ...this.settings, ...(Number.isInteger(timeout) && timeout > 0 ? { distributed_ddl_task_timeout: String(timeout) } : {}) };
    let text = "";
    try {
      // Not `query`: 18.16 ignores a FORMAT clause after some DDL (CREATE DATABASE), so the
      // format of the answer is asked for with the HTTP interface's default_format.
      text = await this.http.send({ sql, settings: { ...settings, default_format: "JSONEachRow" } });
    } catch (error) {
      throw this.failure(sql, error);
    }
    const rows: Array<Record<string, unknown>> = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        rows.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // An exception after the first rows arrives as text in the body.
        throw this.failure(sql, new Error(line));
      }
    }
    return rows;
  }

  async readOnlyQuery(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>> {
    return this.read(sql, params, { ...this.settings, readonly: "1" });
  }

  private async read(sql: string, params: Record<string, unknown> | undefined, settings: Record<string, string | number>): Promise<Array<Record<string, unknown>>> {
    try {
      if (params !== undefined && Object.keys(params).length > 0) {
        const client = (this.#client ??= this.connectionClient());
        return await resent(async () => {
          const result = await client.query({ query: sql, format: "JSONEachRow", clickhouse_settings: settings, query_params: params });
          return await result.json<Record<string, unknown>>();
        });
      }
      // As the client sends it: trailing semicolons dropped, the format appended on a line of its own.
      const text = await resent(() => this.http.send({ sql: `${sql.trim().replace(/;+$/, "")} \nFORMAT JSONEachRow`, settings }));
      return parseJsonEachRow(text);
    } catch (error) {
      throw this.failure(sql, error);
    }
  }

  async insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void> {
    const statement = `INSERT INTO ${quoteTableName(table)} FORMAT JSONEachRow`;
    if (rows.length === 0) return;
    try {
      // Never re-sent: the rows may have been written.
      await this.http.send({
        sql: statement,
        data: rows.map((row) => `${JSON.stringify(row)}\n`).join(""),
        settings: { ...this.settings, date_time_input_format: "best_effort" },
      });
    } catch (error) {
      throw this.failure(statement, error);
    }
  }

  async close(): Promise<void> {
    this.http.close();
    await this.#client?.close();
  }

  private connectionClient(): ClickHouseClient {
    if (!this.makeClient) throw new EngineError("OLAP_QUERY_FAILED", `ClickHouse at ${this.url}: query parameters are not available on this connection`);
    return this.makeClient();
  }

  private failure(sql: string, error: unknown): EngineError {
    const message = (error as Error).message ?? String(error);
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && /^(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|ETIMEDOUT|EAI_AGAIN)$/.test(code)) {
      return new EngineError("OLAP_UNREACHABLE", `cannot reach ClickHouse at ${this.url}: ${code}`, {
        cause: error,
        hint: "start the ClickHouse server, or check clickhouse_config.host and host_port in moose.config.toml",
      });
    }
    const statement = sql.length > 400 ? `${sql.slice(0, 400)}…` : sql;
    return new EngineError("OLAP_QUERY_FAILED", `ClickHouse at ${this.url}: ${message}`, { cause: error, details: [`statement: ${statement}`] });
  }
}

/** JSONEachRow's rows; an exception after the first rows arrives as text in the body and fails the parse. */
function parseJsonEachRow(text: string): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const line of text.split("\n")) if (line !== "") rows.push(JSON.parse(line) as Record<string, unknown>);
  return rows;
}

/**
 * Runs `request`, and once more when the server reset the connection: under load a
 * kept-alive socket the server has just closed is sometimes handed out (measured with
 * 18.16 in CI: ECONNRESET on the request after a successful one). Only for reads and
 * statements whose repetition is refused or harmless (DDL), never for INSERTs.
 */
async function resent<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ECONNRESET" && code !== "EPIPE") throw error;
    return request();
  }
}
