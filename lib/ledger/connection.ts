import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import knex, { type Knex } from "knex";
import sqlite3 from "sqlite3";
import { EngineError, MooseError } from "../errors.js";

/**
 * The single SQLite connection a ledger talks through, and the two ways to use
 * it: a plain read, or a write transaction that takes SQLite's write lock first.
 *
 * One sqlite3 connection per ledger, used one operation at a time (see
 * {@link openConnection}): a transaction keeps it until COMMIT and nothing else in
 * this process can slip a statement into it.
 */

/** A value SQLite binds to a `?`. */
export type SqlValue = string | number | null;

/**
 * A query surface bound to the connection of the running operation. `all` goes
 * straight to the driver, through a statement prepared once per connection: on
 * the per-step path of a deploy, building the query through knex and preparing
 * and finalizing it every time cost more than SQLite took to run it.
 */
export interface Db {
  table(name: string): Knex.QueryBuilder;
  raw<T = unknown[]>(sql: string, bindings?: readonly Knex.Value[]): Promise<T>;
  /**
   * Runs one statement to its end and returns its rows (a SELECT, or a write with RETURNING).
   * `sql` must be a constant (it is prepared once and kept); values go in `bindings`.
   */
  all<T>(sql: string, bindings?: readonly SqlValue[]): Promise<T[]>;
}

export interface LedgerConnection {
  readonly path: string;
  /** Runs `fn` with the connection to itself, outside any transaction (single reads). */
  read<T>(operation: string, fn: (db: Db) => Promise<T>): Promise<T>;
  /** Runs `fn` inside `BEGIN IMMEDIATE … COMMIT`; rolls back when it throws. */
  write<T>(operation: string, fn: (db: Db) => Promise<T>): Promise<T>;
  /**
   * Runs a single statement as its own transaction (SQLite's autocommit): as
   * atomic and as durable as `write`, two round trips fewer. A write statement
   * takes the write lock when it starts, waiting up to busy_timeout like BEGIN IMMEDIATE.
   */
  statement<T>(operation: string, sql: string, bindings?: readonly SqlValue[]): Promise<T[]>;
  close(): Promise<void>;
}

const silentLog = { warn() {}, error() {}, debug() {}, deprecate() {}, inspectionDepth: 0, enableColors: false };

/** A SQLite or OS error's code (`SQLITE_BUSY`, `ENOTDIR`), when it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function unavailable(path: string, error: unknown, cause: unknown = error): EngineError {
  const code = errorCode(error);
  return new EngineError(
    "LEDGER_UNAVAILABLE",
    `cannot open the migration ledger ${path}: ${code && !errorText(error).includes(code) ? `${code}: ` : ""}${errorText(error)}`,
    {
      cause,
      hint: "check that the folder exists or can be created, that the file is writable and that it is a moose-migrate ledger (a SQLite database)",
    },
  );
}

/** Turns a driver error into the ledger's error codes; our own errors pass through. */
export function ledgerError(path: string, operation: string, error: unknown): MooseError {
  if (error instanceof MooseError) return error;
  const code = errorCode(error);
  // SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, … all start the same way.
  if (code?.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED") {
    return new EngineError("LEDGER_BUSY", `${operation}: the migration ledger ${path} stayed locked by another process: ${errorText(error)}`, {
      cause: error,
      hint: "another process kept a write transaction open longer than the busy timeout; retry, or raise busyTimeoutMs",
    });
  }
  return new EngineError("LEDGER_QUERY_FAILED", `${operation}: the migration ledger ${path} failed: ${errorText(error)}`, { cause: error });
}

type RawStatement = {
  all(bindings: readonly SqlValue[], callback: (error: Error | null, rows: unknown[]) => void): void;
  finalize(callback: () => void): void;
};

type RawConnection = {
  prepare(sql: string, callback: (this: RawStatement, error: Error | null) => void): RawStatement;
  get(sql: string, callback: (error: Error | null, row: unknown) => void): void;
};

/**
 * The statements prepared on each connection, by SQL text. `sqlite3.Database#all` prepares,
 * runs and finalizes a statement: three trips through the driver's thread pool instead of one.
 * Every use steps a statement to its end (`all`), so a kept statement holds no lock or snapshot.
 */
const prepared = new WeakMap<RawConnection, Map<string, Promise<RawStatement>>>();

function statementFor(conn: RawConnection, sql: string): Promise<RawStatement> {
  let byText = prepared.get(conn);
  if (!byText) prepared.set(conn, (byText = new Map()));
  let statement = byText.get(sql);
  if (!statement) {
    statement = new Promise((resolve, reject) => {
      conn.prepare(sql, function (error) {
        if (error) reject(error);
        else resolve(this);
      });
    });
    byText.set(sql, statement);
    statement.catch(() => byText.delete(sql));
  }
  return statement;
}

async function all<T>(conn: RawConnection, sql: string, bindings: readonly SqlValue[] = []): Promise<T[]> {
  const statement = await statementFor(conn, sql);
  return new Promise((resolve, reject) => statement.all(bindings, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
}

/** `sqlite3_close` refuses a connection that still has statements: finalize them first. */
async function finalizeStatements(conn: RawConnection): Promise<void> {
  const byText = prepared.get(conn);
  if (!byText) return;
  prepared.delete(conn);
  const statements = await Promise.allSettled(byText.values());
  await Promise.all(statements.map((s) => (s.status === "fulfilled" ? new Promise<void>((resolve) => s.value.finalize(resolve)) : undefined)));
}

function bind(k: Knex, conn: RawConnection, handle: sqlite3.Database): Db {
  return {
    table: (name) => k(name).connection(handle),
    raw: async <T>(sql: string, bindings: readonly Knex.Value[] = []) =>
      (await k.raw(sql, bindings as Knex.Value[]).connection(handle)) as T,
    all: (sql, bindings) => all(conn, sql, bindings),
  };
}

/** Per-connection settings; `busy_timeout` first, because switching to WAL may itself wait for a lock. */
function configure(conn: RawConnection, busyTimeoutMs: number, synchronous: Synchronous): Promise<void> {
  const pragmas = [
    `PRAGMA busy_timeout = ${busyTimeoutMs}`,
    // Readers never block the writer and the writer never blocks readers, so `list()`
    // keeps working while another process deploys.
    "PRAGMA journal_mode = WAL",
    // The ledger is the record of what ran against production; losing the last
    // committed transaction on power loss is not an acceptable trade for speed.
    // A mirror (the records are the target's, reloaded on open) need not wait for the
    // disk: in WAL mode NORMAL is still atomic and survives the process dying.
    `PRAGMA synchronous = ${synchronous}`,
    "PRAGMA foreign_keys = ON",
  ];
  return pragmas.reduce<Promise<void>>(
    (previous, sql) => previous.then(() => new Promise<void>((resolve, reject) => conn.get(sql, (error) => (error ? reject(error) : resolve())))),
    Promise.resolve(),
  );
}

/** SQLite's `synchronous`: FULL flushes every commit to the disk, NORMAL (WAL) at checkpoints only. */
export type Synchronous = "FULL" | "NORMAL";

/** Opens the sqlite3 database at `path` (created if missing) and applies the per-connection settings. */
async function openDatabase(path: string, busyTimeoutMs: number, synchronous: Synchronous): Promise<sqlite3.Database> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (error) => (error ? reject(error) : resolve(opened)));
  });
  try {
    await configure(db as unknown as RawConnection, busyTimeoutMs, synchronous);
  } catch (error) {
    await new Promise<void>((resolve) => db.close(() => resolve()));
    throw error;
  }
  return db;
}

/**
 * Opens (creating if needed) the SQLite file at `path`. OS-level problems (the
 * folder cannot be created, the path is a directory, no permission) are found
 * with plain `fs` first, because SQLite reduces them all to "unable to open
 * database file".
 *
 * The connection is sqlite3's, opened on first use and held until `close`; knex builds
 * the queries `Db.table` and `Db.raw` run and sends them on it (its documented
 * `.connection(db)`), so there is no pool. Operations take turns on a promise chain:
 * a write transaction keeps the connection from BEGIN IMMEDIATE to COMMIT and nothing
 * else in this process can slip a statement into it. A turn waits as long as the
 * operation before it runs (SQLite's busy timeout bounds a lock held by another process).
 */
export async function openConnection(path: string, busyTimeoutMs: number, synchronous: Synchronous = "FULL"): Promise<LedgerConnection> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    // Node reports a file in the way of `mkdir -p` as EEXIST, which reads like success.
    const code = errorCode(error);
    const why = code === "EEXIST" || code === "ENOTDIR" ? `${dirname(path)} or one of its parents is a file, not a folder (${errorText(error)})` : error;
    throw unavailable(path, why, error);
  }
  try {
    const handle = await open(path, "a");
    await handle.close();
  } catch (error) {
    throw unavailable(path, error);
  }

  // Query building only: statements run on `db` below, never through a pool.
  const k = knex({ client: "sqlite3", useNullAsDefault: true, log: silentLog });
  let db: Promise<sqlite3.Database> | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  let closed = false;

  const database = (): Promise<sqlite3.Database> => {
    if (db === undefined) {
      const opening = openDatabase(path, busyTimeoutMs, synchronous);
      db = opening;
      // A failed open is tried again by the next operation.
      opening.catch(() => {
        if (db === opening) db = undefined;
      });
    }
    return db;
  };

  const withConnection = <T>(operation: string, fn: (conn: RawConnection, handle: sqlite3.Database) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new EngineError("LEDGER_CLOSED", `${operation}: the migration ledger ${path} is closed`));
    const run = turn.then(async () => {
      let handle: sqlite3.Database;
      try {
        handle = await database();
      } catch (error) {
        throw errorCode(error)?.startsWith("SQLITE_BUSY") ? ledgerError(path, operation, error) : unavailable(path, error);
      }
      return fn(handle as unknown as RawConnection, handle);
    });
    turn = run.catch(() => undefined);
    return run;
  };

  const connection: LedgerConnection = {
    path,
    read: (operation, fn) =>
      withConnection(operation, async (conn, handle) => {
        try {
          return await fn(bind(k, conn, handle));
        } catch (error) {
          throw ledgerError(path, operation, error);
        }
      }),
    write: (operation, fn) =>
      withConnection(operation, async (conn, handle) => {
        const bound = bind(k, conn, handle);
        try {
          // IMMEDIATE takes the write lock up front, waiting up to busy_timeout. A
          // deferred BEGIN would read first and then fail to upgrade with an
          // immediate SQLITE_BUSY whenever another process wrote in between.
          await all(conn, "BEGIN IMMEDIATE");
        } catch (error) {
          throw ledgerError(path, operation, error);
        }
        try {
          const result = await fn(bound);
          await all(conn, "COMMIT");
          return result;
        } catch (error) {
          // SQLite may already have rolled back (e.g. after SQLITE_FULL); then ROLLBACK itself errors.
          await all(conn, "ROLLBACK").catch(() => undefined);
          throw ledgerError(path, operation, error);
        }
      }),
    statement: (operation, sql, bindings) =>
      withConnection(operation, async (conn) => {
        try {
          return await all(conn, sql, bindings);
        } catch (error) {
          throw ledgerError(path, operation, error);
        }
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      // Waits for the operation still in flight, then lets go of the file.
      await turn;
      const opened = db === undefined ? undefined : await db.catch(() => undefined);
      if (opened !== undefined) {
        await finalizeStatements(opened as unknown as RawConnection);
        await new Promise<void>((resolve, reject) => opened.close((error) => (error ? reject(error) : resolve())));
      }
      await k.destroy();
    },
  };
  return connection;
}
