import { InvalidInputError, RefusedError } from "../errors.js";
import type { OlapEngine } from "../engines/olap/engine.js";

/** Root nodes of ClickHouse's own AST that only read. */
export const READ_ONLY_ROOTS: ReadonlySet<string> = new Set([
  "SelectWithUnionQuery",
  "SelectQuery",
  "SelectIntersectExceptQuery",
  "ShowTables",
  "ShowTablesQuery",
  "ShowCreateTableQuery",
  "ShowCreateViewQuery",
  "ShowCreateDatabaseQuery",
  "ShowColumns",
  "ShowIndexes",
  "DescribeQuery",
  "ExistsTableQuery",
  "ExistsViewQuery",
  "ExistsDatabaseQuery",
  "ExplainQuery",
  "ShowProcesslistQuery",
  "ShowSettingQuery",
]);

export interface QueryResult {
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  /** The statement kind ClickHouse parsed it as, e.g. `SelectWithUnionQuery`. */
  readonly statement: string;
}

/**
 * `moose query`: one statement on the configured OLAP engine. Without `write`
 * it must be a read: ClickHouse's own parser (`EXPLAIN AST`) says what the
 * statement is, so no guessing from the text.
 */
export async function runQuery(olap: OlapEngine, sql: string, options: { readonly write?: boolean } = {}): Promise<QueryResult> {
  const text = sql.trim().replace(/;\s*$/, "");
  if (text === "") throw new InvalidInputError("QUERY_EMPTY", "no SQL given", { hint: 'moose query "SELECT count() FROM Users"' });
  let statement: string | undefined;
  try {
    statement = await olap.statementKind(text);
  } catch (error) {
    throw new InvalidInputError("QUERY_INVALID", `ClickHouse cannot parse this statement: ${(error as Error).message}`, { cause: error });
  }
  if (statement === undefined) return legacyQuery(olap, text, options.write ?? false);
  const reads = READ_ONLY_ROOTS.has(statement);
  if (!reads && !options.write) {
    throw new RefusedError("QUERY_WRITES", `this statement (${statement}) can change data or schema, and moose query is read-only by default`, {
      hint: "add --write to run it; schema changes belong in migrations (moose migrate generate), or they show up as drift",
    });
  }
  if (reads) return { rows: await olap.query(text), statement };
  await olap.execute(text);
  return { rows: [], statement };
}

/**
 * Servers before 20.6 have no `EXPLAIN`: the statement runs under ClickHouse's
 * `readonly` setting, so the server itself refuses a write; with `--write` a
 * statement it refused as a write is then executed.
 */
async function legacyQuery(olap: OlapEngine, text: string, write: boolean): Promise<QueryResult> {
  try {
    return { rows: await olap.readOnlyQuery(text), statement: "query" };
  } catch (error) {
    const readonly = /readonly|Code: 164\b/i.test(error instanceof Error ? error.message : "");
    if (!readonly) throw error;
    if (!write) {
      throw new RefusedError("QUERY_WRITES", "this statement changes data or schema (the server refused it in read-only mode), and moose query is read-only by default", {
        hint: "add --write to run it; schema changes belong in migrations (moose migrate generate), or they show up as drift",
      });
    }
    await olap.execute(text);
    return { rows: [], statement: "write" };
  }
}
