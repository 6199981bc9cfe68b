import { InvalidInputError, RefusedError } from "../errors.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { parseStatement, type ParsedStatement } from "../engines/olap/parser.js";
import { readRefusal, readRefused } from "../engines/olap/statement-policy.js";

export interface QueryResult {
  readonly rows: ReadonlyArray<Record<string, unknown>>;
  /** The statement kind ClickHouse parsed it as, e.g. `SelectWithUnionQuery`. */
  readonly statement: string;
  /** With the statement's own `FORMAT <name>`: ClickHouse's output in that format, as it wrote it (`rows` is then empty). */
  readonly text?: string;
}

/**
 * The output format a query names itself (`SELECT … FORMAT Vertical`), read from ClickHouse's
 * parse tree: a SELECT's `FORMAT` is an identifier directly under the query's root (tables and
 * columns sit deeper). INSERTs are left out: their `FORMAT` describes the data they carry.
 */
export function statementFormat(parsed: ParsedStatement): string | undefined {
  if (parsed.kind !== "SelectWithUnionQuery" && parsed.kind !== "SelectIntersectExceptQuery") return undefined;
  return parsed.ast.children.find((c) => c.name === "Identifier")?.detail;
}

/**
 * `moose query`: one statement on the configured OLAP engine.
 *
 * ClickHouse's own parser reads the text first (it is never run to find out what it is):
 * more than one statement is refused (`SQL_MULTI_STATEMENT`). Without `write`, only a read
 * runs, and it runs in ClickHouse's read-only mode, so the engine itself refuses writes,
 * settings changes and table functions that reach files, URLs or other servers;
 * `INTO OUTFILE` (which the embedded engine would honour) is refused from the tree.
 * With `write` the statement runs as written: that is the only way to read local files.
 */
export async function runQuery(olap: OlapEngine, sql: string, options: { readonly write?: boolean } = {}): Promise<QueryResult> {
  const text = sql.trim();
  if (text === "") throw new InvalidInputError("QUERY_EMPTY", "no SQL given", { hint: 'moose query "SELECT count() FROM Users"' });
  const origin = { what: "moose query" };
  const parsed = await parseStatement(text, origin);
  const format = statementFormat(parsed);
  if (format !== undefined) {
    if (!options.write) {
      const refusal = readRefusal(parsed, "query", olap.database);
      if (refusal) throw readRefused(refusal, "query", origin);
    }
    if (!olap.rawQuery) {
      throw new InvalidInputError("QUERY_FORMAT", `moose query prints rows itself; on a ClickHouse server it cannot pass on the statement's own FORMAT ${format}`, {
        hint: "drop the FORMAT clause (use --format json for JSON), or send the statement with clickhouse-client",
      });
    }
    return { rows: [], statement: parsed.kind, text: await olap.rawQuery(text, { format, readOnly: !options.write }) };
  }
  if (options.write) {
    if (readRefusal(parsed, "query", olap.database)?.code === "WRITES") {
      await olap.execute(text);
      return { rows: [], statement: parsed.kind };
    }
    return { rows: await olap.query(text), statement: parsed.kind };
  }
  const refusal = readRefusal(parsed, "query", olap.database);
  if (refusal) throw readRefused(refusal, "query", origin);
  try {
    return { rows: await olap.readOnlyQuery(text), statement: parsed.kind };
  } catch (error) {
    if (error instanceof RefusedError && error.code === "OLAP_READ_ONLY") {
      throw new RefusedError("QUERY_READ_ONLY", `moose query runs reads in ClickHouse's read-only mode, and ${error.message.replace(/^ClickHouse /, "ClickHouse ")}`, {
        cause: error,
        hint: "table functions that reach files, URLs or other servers (file, url, s3, remote, …) and SETTINGS run only with --write",
      });
    }
    throw error;
  }
}
