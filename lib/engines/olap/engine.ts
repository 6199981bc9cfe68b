import type { MaterializedView, PlainView, Table } from "../../model/infra-map.js";
import type { OlapCapabilities } from "./capabilities.js";
import type { OlapIntrospection } from "./introspect.js";

export type { OlapCapabilities } from "./capabilities.js";
export type { OlapIntrospection, SkippedObject } from "./introspect.js";

/** Tables and materialized views, the OLAP part of an InfraMap. */
export interface OlapObjects {
  readonly tables: Readonly<Record<string, Table>>;
  readonly views: Readonly<Record<string, MaterializedView>>;
  readonly plainViews?: Readonly<Record<string, PlainView>>;
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
  /**
   * Runs one DDL/DML statement. Text that ClickHouse reads as more than one statement is
   * refused (`SQL_MULTI_STATEMENT`) before anything runs, on both engines.
   */
  execute(sql: string): Promise<void>;
  /**
   * Rows read, the server's estimate of rows to read, and rows written so far by the
   * INSERTs this engine is running now (`undefined` when none is running). Servers only
   * (`system.processes`, read over a second HTTP request); absent on the embedded engine,
   * whose session runs one query at a time, so a read of `system.processes` would wait for
   * the copy it asks about (measured: 16.7 s for a 30M-row copy).
   */
  writeProgress?(): Promise<WriteProgress | undefined>;
  /**
   * Runs a query and returns its rows as objects. `params` bind `{name:Type}`
   * placeholders server-side; 64-bit integers come back as strings (JSONEachRow).
   *
   * @example await engine.query("SELECT count() AS n FROM events WHERE id > {min:UInt64}", { min: 10 })
   */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /**
   * Runs one query in ClickHouse's read-only mode (`readonly = 1`): the engine itself
   * refuses writes, DDL, setting changes and table functions that reach files, URLs or
   * other servers (`OLAP_READ_ONLY`, a `RefusedError`). The server adapter sends the
   * setting with the query; the embedded engine runs it on a session of its own that was
   * put in read-only mode once and cannot leave it.
   */
  readOnlyQuery<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>;
  /**
   * The embedded engine only (undefined on a server): runs one text as ClickHouse's HTTP
   * interface would, and returns the output in `format` as ClickHouse writes it. The text
   * may carry inline data after `FORMAT <name>` (an INSERT's rows). The caller checks the
   * statement first (one statement; see the dev ClickHouse HTTP interface). Failures keep
   * ClickHouse's own `Code: N. DB::Exception: … (NAME)` message (`RawQueryError`).
   */
  readonly rawQuery?: (text: string, options: RawQueryOptions) => Promise<string>;
  /**
   * Inserts rows into a table of the managed database as one JSONEachRow insert (one
   * block, so all rows or none). Values travel as data, never as SQL text; date-times
   * are read with `date_time_input_format = 'best_effort'` (ISO 8601 with offsets).
   *
   * @example await engine.insertJsonRows("Users", [{ id: "a", at: "2024-01-31T12:00:00Z" }])
   */
  insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void>;
  /**
   * The managed database's tables on every host of `cluster`, as
   * (host → table → columns "name type"); a host that cannot be read maps to its error.
   * Read through `remote('host:port', system.…)`, as the server's `default` user.
   */
  replicaColumns?(cluster: string, tables: readonly string[]): Promise<ReadonlyMap<string, ReadonlyMap<string, readonly string[]> | Error>>;
  /**
   * The managed database's tables and views in the model; see {@link OlapIntrospection}.
   * The tables of `additional_databases` and of `databases` (those a map names, e.g.
   * `analytics.Events`) come too, named `<database>.<table>`.
   */
  introspect(databases?: readonly string[]): Promise<OlapIntrospection>;
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

export interface RawQueryOptions {
  /** Output format when the text names none, e.g. `TabSeparated`, `JSONEachRow`. */
  readonly format: string;
  /** Current database for this text (default: the engine's). */
  readonly database?: string;
  /** Settings for this text only (`SET name = value`, reset afterwards). */
  readonly settings?: Readonly<Record<string, string>>;
  /** `{name:Type}` parameter values, as text. */
  readonly params?: Readonly<Record<string, string>>;
  /** Run on the read-only session (`readonly = 1`, which also refuses `settings`). */
  readonly readOnly: boolean;
}

/** What a connection that runs raw texts takes: {@link RawQueryOptions} with the database resolved. */
export type RawConnectionOptions = Omit<RawQueryOptions, "readOnly" | "database"> & { readonly database: string; readonly home: string };

/** See {@link OlapEngine.writeProgress}. */
export interface WriteProgress {
  readonly readRows: number;
  /** 0 while the server has no estimate. */
  readonly totalRows: number;
  readonly writtenRows: number;
  /**
   * What `readRows`/`totalRows` count: rows of the INSERTs running, or, while a mutation
   * (`ALTER … UPDATE`, a backfill) is being waited for, its parts rewritten so far / the
   * parts it had to rewrite (ClickHouse reports mutations by part, not by row).
   */
  readonly unit?: "rows" | "parts";
}

/** What an adapter provides: statements and queries against one current database. */
export interface OlapConnection {
  execute(sql: string): Promise<void>;
  /** See {@link OlapEngine.writeProgress}; adapters that can read it while a statement runs. */
  writeProgress?(): Promise<WriteProgress | undefined>;
  query(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  /** See {@link OlapEngine.insertJsonRows}. */
  insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void>;
  /** Where the server is (servers only), for messages that name the host. */
  readonly url?: string;
  /** Runs an ON CLUSTER statement and returns the distributed-DDL answer, a row per host (servers only). */
  executeOnCluster?(sql: string): Promise<Array<Record<string, unknown>>>;
  /** See {@link OlapEngine.readOnlyQuery}; adapters that enforce it per query (the server). Others open a read-only connection. */
  readOnlyQuery?(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  /** The embedded adapter's raw runner (see {@link OlapEngine.rawQuery}). */
  raw?(text: string, options: RawConnectionOptions): Promise<string>;
  close(): Promise<void>;
}

/** Opens a connection whose current database is `database`, creating the database if missing; `readOnly`: one in ClickHouse's read-only mode for good. */
export type ConnectionFactory = (database: string, options?: { readonly readOnly?: boolean }) => Promise<OlapConnection & { readonly version: string }>;
