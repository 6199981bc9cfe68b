import type { OlapConfig } from "../../config/config.js";
import type { MaterializedView, Table } from "../../model/infra-map.js";
import { atLeast, capabilitiesFor, parseServerVersion, type OlapCapabilities } from "./capabilities.js";
import { introspectDatabase, type OlapIntrospection } from "./introspect.js";
import { statementsFor } from "./sql.js";
import { quoteIdentifier } from "./sql-text.js";
import { EngineError, RefusedError } from "../../errors.js";
import { quoteString } from "../../model/clickhouse-type.js";

export type { OlapCapabilities } from "./capabilities.js";
export type { OlapIntrospection, SkippedObject } from "./introspect.js";

/** Tables and materialized views, the OLAP part of an InfraMap. */
export interface OlapObjects {
  readonly tables: Readonly<Record<string, Table>>;
  readonly views: Readonly<Record<string, MaterializedView>>;
}

/**
 * A ClickHouse to run migrations against: chDB in-process (`embedded`) or a server
 * over HTTP (`server`). Every statement runs with the managed database as the current
 * database, so a view's SELECT can name tables without a database prefix.
 *
 * Failures are `EngineError`s: `OLAP_QUERY_FAILED` (the server said no; the message
 * carries ClickHouse's text and the statement), `OLAP_UNREACHABLE`, `OLAP_EMBEDDED_BUSY`.
 */
export interface OlapEngine {
  readonly kind: "embedded" | "server";
  readonly database: string;
  /** The server's version, e.g. `26.7.2.1`. */
  version(): Promise<string>;
  /** What this server can run, decided from its version (cached). */
  capabilities(): Promise<OlapCapabilities>;
  /** Runs one DDL/DML statement. */
  execute(sql: string): Promise<void>;
  /**
   * Runs a query and returns its rows as objects. `params` bind `{name:Type}`
   * placeholders server-side; 64-bit integers come back as strings (JSONEachRow).
   *
   * @example await engine.query("SELECT count() AS n FROM events WHERE id > {min:UInt64}", { min: 10 })
   */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /**
   * Runs a query under ClickHouse's `readonly = 2` (settings may change, data and
   * schema may not): the server itself refuses a write. Only the server adapter
   * has it; on the embedded engine `EXPLAIN AST` tells statements apart instead.
   */
  readOnlyQuery<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /**
   * What ClickHouse's own parser makes of a statement: the root of its AST
   * (`SelectWithUnionQuery`, `InsertQuery`, …), via `EXPLAIN AST`. `undefined` on
   * servers without EXPLAIN (before 20.6): use `readOnlyQuery` there. A statement
   * ClickHouse cannot parse is an `OLAP_QUERY_FAILED` error with its message.
   */
  statementKind(sql: string, params?: Record<string, unknown>): Promise<string | undefined>;
  /**
   * Inserts rows into a table of the managed database as one JSONEachRow insert (one
   * block, so all rows or none). Values travel as data, never as SQL text; date-times
   * are read with `date_time_input_format = 'best_effort'` (ISO 8601 with offsets).
   *
   * @example await engine.insertJsonRows("Users", [{ id: "a", at: "2024-01-31T12:00:00Z" }])
   */
  insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void>;
  /** The managed database's tables and views in the model; see {@link OlapIntrospection}. */
  introspect(): Promise<OlapIntrospection>;
  /**
   * `objects` as this server would store them: created in a scratch database and read
   * back, so expressions come out in ClickHouse's canonical spelling (`INTERVAL 1 DAY`
   * becomes `toIntervalDay(1)`, `select` becomes `SELECT`). Diff a normalized desired map
   * against `introspect()` to compare like with like. Life cycles are kept from the input.
   * Throws what creating them would throw (e.g. `UNSUPPORTED_BY_SERVER`).
   */
  normalize(objects: OlapObjects): Promise<OlapIntrospection>;
  close(): Promise<void>;
}

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
  // Imported lazily: chDB loads a native library, which a server-only project never needs.
  if (config.engine === "embedded") {
    const { openEmbeddedConnection } = await import("./embedded.js");
    return ClickHouseEngine.open("embedded", config.database, (database) => openEmbeddedConnection(config.dataDir, database));
  }
  const { openServerConnection } = await import("./server.js");
  return ClickHouseEngine.open("server", config.database, (database) => openServerConnection(config, database));
}

/** What an adapter provides: statements and queries against one current database. */
export interface OlapConnection {
  execute(sql: string): Promise<void>;
  query(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  /** See {@link OlapEngine.insertJsonRows}. */
  insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void>;
  /** See {@link OlapEngine.readOnlyQuery}; adapters that cannot enforce it leave it out. */
  readOnlyQuery?(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

/** Opens a connection whose current database is `database`, creating the database if missing. */
export type ConnectionFactory = (database: string) => Promise<OlapConnection & { readonly version: string }>;

class ClickHouseEngine implements OlapEngine {
  private caps: Promise<OlapCapabilities> | undefined;
  private closed = false;

  private constructor(
    readonly kind: "embedded" | "server",
    readonly database: string,
    private readonly connection: OlapConnection & { readonly version: string },
    private readonly connect: ConnectionFactory,
  ) {}

  static async open(kind: "embedded" | "server", database: string, connect: ConnectionFactory): Promise<OlapEngine> {
    return new ClickHouseEngine(kind, database, await connect(database), connect);
  }

  async version(): Promise<string> {
    return this.connection.version;
  }

  capabilities(): Promise<OlapCapabilities> {
    this.caps ??= this.readCapabilities();
    return this.caps;
  }

  private async readCapabilities(): Promise<OlapCapabilities> {
    const conn = this.connection;
    const [dbRow] = await conn.query(`SELECT engine FROM system.databases WHERE name = ${quoteString(this.database)}`);
    const hasReadonly = (await conn.query("SELECT name FROM system.columns WHERE database = 'system' AND table = 'merge_tree_settings' AND name = 'readonly'")).length > 0;
    const readonlySettings = hasReadonly
      ? (await conn.query("SELECT name FROM system.merge_tree_settings WHERE readonly = 1")).map((r) => String(r.name))
      : undefined;
    return capabilitiesFor(conn.version, {
      ...(dbRow === undefined ? {} : { databaseEngine: String(dbRow.engine) }),
      ...(readonlySettings === undefined ? {} : { readonlySettings }),
    });
  }

  execute(sql: string): Promise<void> {
    return this.connection.execute(sql);
  }

  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    if (params !== undefined && Object.keys(params).length > 0 && !(await this.capabilities()).queryParameters) {
      throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot bind query parameters ${Object.keys(params).join(", ")}: ClickHouse ${this.connection.version} has no query parameters ({name:Type}, ClickHouse 19.11+)`, {
        hint: "put the values into the SQL as quoted literals, or upgrade the server",
      });
    }
    return (await this.connection.query(sql, params)) as T[];
  }

  async statementKind(sql: string, params?: Record<string, unknown>): Promise<string | undefined> {
    if (!atLeast(parseServerVersion(this.connection.version), 20, 6)) return undefined;
    // EXPLAIN AST needs the parameters bound too, though it only parses.
    const ast = await this.query<{ explain: string }>(`EXPLAIN AST ${sql}`, params);
    return (ast[0]?.explain ?? "").trim().split(/\s+/)[0] ?? "";
  }

  async readOnlyQuery<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    if (!this.connection.readOnlyQuery) {
      throw new EngineError("OLAP_READONLY_UNSUPPORTED", `the ${this.kind} ClickHouse adapter cannot enforce read-only queries`);
    }
    return (await this.connection.readOnlyQuery(sql, params)) as T[];
  }

  async insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void> {
    if (rows.length > 0) await this.connection.insertJsonRows(table, rows);
  }

  async introspect(): Promise<OlapIntrospection> {
    return introspectDatabase((sql) => this.connection.query(sql), this.database, await this.capabilities());
  }

  async normalize(objects: OlapObjects): Promise<OlapIntrospection> {
    const capabilities = await this.capabilities();
    const scratch = `_moose_normalize_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const conn = await this.connect(scratch);
    try {
      const ctx = { database: scratch, capabilities };
      for (const table of Object.values(objects.tables)) {
        for (const sql of statementsFor({ kind: "table.create", table }, ctx)) await conn.execute(sql);
      }
      for (const view of Object.values(objects.views)) {
        for (const sql of statementsFor({ kind: "view.create", view }, ctx)) await conn.execute(sql);
      }
      const read = await introspectDatabase((sql) => conn.query(sql), scratch, capabilities);
      const tables = Object.fromEntries(
        Object.entries(read.tables).map(([name, t]) => [name, { ...t, lifeCycle: objects.tables[name]?.lifeCycle ?? t.lifeCycle }]),
      );
      const views = Object.fromEntries(
        Object.entries(read.views).map(([name, v]) => [name, { ...v, lifeCycle: objects.views[name]?.lifeCycle ?? v.lifeCycle }]),
      );
      return { tables, views, skipped: read.skipped };
    } finally {
      try {
        await conn.execute(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`);
      } finally {
        await conn.close();
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}
