import { parseClickHouseType } from "../../../model/clickhouse-type.js";
import type { Column } from "../../../model/infra-map.js";
import type { SqlContext } from "./context.js";
import { walk } from "./types.js";
import { qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";
import { quoteString } from "../../../model/clickhouse-quote.js";

/**
 * The first line of a statement that is a check rather than a command: a query whose
 * rows, if it returns any, are the problems (a column `problem` says each in words).
 * The executor runs it with `query` and stops the step when a row comes back; ClickHouse
 * reads the line as a comment, so the ledger and `--dry-run` show runnable SQL.
 */
export const CHECK_MARKER = "-- moose:check";

/** A check statement (see {@link CHECK_MARKER}); `message` heads the failure. */
export function checkStatement(query: string, message: string): string {
  return `${CHECK_MARKER} ${message.replace(/\s*\n\s*/g, " ")}\n${query}`;
}

/** The query and message of a check statement; undefined for any other statement. */
export function parseCheck(statement: string): { readonly query: string; readonly message: string } | undefined {
  if (!statement.startsWith(CHECK_MARKER)) return undefined;
  const newline = statement.indexOf("\n");
  if (newline < 0) return undefined;
  return { message: statement.slice(CHECK_MARKER.length, newline).trim(), query: statement.slice(newline + 1) };
}

/** Column types whose values `cityHash64` cannot hash; a checksum leaves them out (the row count still covers them). */
function hashable(type: string): boolean {
  let ok = true;
  try {
    walk(parseClickHouseType(type), (t) => {
      if (t.kind === "AggregateFunction" && !t.simple) ok = false;
      if ((t.kind === "name" || t.kind === "generic") && ["JSON", "Object", "Dynamic", "Variant"].includes(t.name)) ok = false;
    });
  } catch {
    ok = false;
  }
  return ok;
}

/**
 * A check that two tables hold the same rows over `columns`: the same count and the same
 * order-independent checksum (the sum of each row's `cityHash64`).
 */
export function sameRowsCheck(from: string, to: string, columns: readonly Column[], ctx: SqlContext, message: string): string {
  // Aliases an app's column is unlikely to be called: `n`/`h` captured the columns of those names.
  const hashed = columns.filter((c) => hashable(c.type)).map((c) => quoteIdentifier(c.name));
  const h = hashed.length === 0 ? "toUInt64(0)" : `sum(cityHash64(${hashed.join(", ")}))`;
  const side = (name: string) => `(SELECT count() AS _moose_rows, ${h} AS _moose_sum FROM ${qualifiedName(ctx.database, name)})`;
  return checkStatement(
    [
      `SELECT concat(${quoteString(`${to}: `)}, toString(b._moose_rows), ' rows (checksum ', toString(b._moose_sum), '); ', ${quoteString(`${from}: `)}, toString(a._moose_rows), ' rows (checksum ', toString(a._moose_sum), ')') AS problem`,
      `FROM ${side(from)} AS a`,
      `CROSS JOIN ${side(to)} AS b`,
      "WHERE a._moose_rows != b._moose_rows OR a._moose_sum != b._moose_sum",
    ].join("\n"),
    message,
  );
}
