import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import knex, { type Knex } from "knex";
import { EngineError, MooseError } from "../errors.js";

/**
 * The single SQLite connection a ledger talks through, and the two ways to use
 * it: a plain read, or a write transaction that takes SQLite's write lock first.
 *
 * The pool holds exactly one connection, so waiting for the pool is also the
 * in-process mutex: a transaction keeps the connection until COMMIT and nothing
 * else in this process can slip a statement into it.
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

function bind(k: Knex, conn: RawConnection): Db {
  return {
    table: (name) => k(name).connection(conn),
    raw: async <T>(sql: string, bindings: readonly Knex.Value[] = []) =>
      (await k.raw(sql, bindings as Knex.Value[]).connection(conn)) as T,
    all: (sql, bindings) => all(conn, sql, bindings),
  };
}

/** Per-connection settings; `busy_timeout` first, because switching to WAL may itself wait for a lock. */
function configure(conn: RawConnection, busyTimeoutMs: number): Promise<void> {
  const pragmas = [
    `PRAGMA busy_timeout = ${busyTimeoutMs}`,
    // Readers never block the writer and the writer never blocks readers, so `list()`
    // keeps working while another process deploys.
    "PRAGMA journal_mode = WAL",
    // The ledger is the record of what ran against production; losing the last
    // committed transaction on power loss is not an acceptable trade for speed.
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
  ];
  return pragmas.reduce<Promise<void>>(
    (previous, sql) => previous.then(() => new Promise<void>((resolve, reject) => conn.get(sql, (error) => (error ? reject(error) : resolve())))),
    Promise.resolve(),
  );
}

/**
 * Opens (creating if needed) the SQLite file at `path`. OS-level problems (the
 * folder cannot be created, the path is a directory, no permission) are found
 * with plain `fs` first, because SQLite reduces them all to "unable to open
 * database file".
 */
export async function openConnection(path: string, busyTimeoutMs: number): Promise<LedgerConnection> {
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

  const k = knex({
    client: "sqlite3",
    connection: { filename: path },
    useNullAsDefault: true,
    log: silentLog,
    acquireConnectionTimeout: Math.max(60_000, busyTimeoutMs * 2),
    pool: {
      min: 1,
      max: 1,
      afterCreate(conn: RawConnection, done: (error: Error | null, conn: RawConnection) => void) {
        configure(conn, busyTimeoutMs).then(
          () => done(null, conn),
          (error: Error) => done(error, conn),
        );
      },
    },
  });

  let closed = false;
  const used = new Set<RawConnection>();
  const withConnection = async <T>(operation: string, fn: (conn: RawConnection) => Promise<T>): Promise<T> => {
    if (closed) throw new EngineError("LEDGER_CLOSED", `${operation}: the migration ledger ${path} is closed`);
    let conn: RawConnection;
    try {
      conn = (await k.client.acquireConnection()) as RawConnection;
      used.add(conn);
    } catch (error) {
      throw errorCode(error)?.startsWith("SQLITE_BUSY") ? ledgerError(path, operation, error) : unavailable(path, error);
    }
    try {
      return await fn(conn);
    } finally {
      await k.client.releaseConnection(conn);
    }
  };

  const connection: LedgerConnection = {
    path,
    read: (operation, fn) =>
      withConnection(operation, async (conn) => {
        try {
          return await fn(bind(k, conn));
        } catch (error) {
          throw ledgerError(path, operation, error);
        }
      }),
    write: (operation, fn) =>
      withConnection(operation, async (conn) => {
        const db = bind(k, conn);
        try {
          // IMMEDIATE takes the write lock up front, waiting up to busy_timeout. A
          // deferred BEGIN would read first and then fail to upgrade with an
          // immediate SQLITE_BUSY whenever another process wrote in between.
          await all(conn, "BEGIN IMMEDIATE");
        } catch (error) {
          throw ledgerError(path, operation, error);
        }
        try {
          const result = await fn(db);
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
      if (used.size > 0) {
        // Taking the (single) connection first waits for an operation still in flight.
        const conn: unknown = await k.client.acquireConnection().catch(() => undefined);
        try {
          for (const c of used) await finalizeStatements(c);
        } finally {
          if (conn !== undefined) await k.client.releaseConnection(conn);
        }
      }
      await k.destroy();
    },
  };
  return connection;
}
