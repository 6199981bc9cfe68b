import { createRequire } from "node:module";
import { EngineError, InvalidInputError, type SourcePosition } from "../../errors.js";
import { parserRunner } from "./chdb-process.js";

/**
 * ClickHouse's own parser, offline: every SQL text a user, an app or a migration file
 * supplies is read by the embedded ClickHouse (chDB) before anything runs, whichever
 * engine it will run on. The text only ever travels as a bound parameter of a query
 * that formats it (`formatQuerySingleLine`, `normalizeQuery`), so reading it never
 * executes it; `EXPLAIN AST` sees it only once ClickHouse has said it is one statement.
 */

/** One node of ClickHouse's `EXPLAIN AST` dump: `AlterCommand DROP_COLUMN (children 1)` is name `AlterCommand`, detail `DROP_COLUMN`. */
export interface AstNode {
  readonly name: string;
  readonly detail: string;
  readonly children: readonly AstNode[];
}

export interface ParsedStatement {
  /** The root of the AST: `SelectWithUnionQuery`, `InsertQuery`, `AlterQuery`, `DropQuery`, … */
  readonly kind: string;
  /** ClickHouse's canonical one-line rendering (inline INSERT data left out). */
  readonly formatted: string;
  readonly ast: AstNode;
}

/** Where a text came from, for messages: a file position, or a description (`moose query`, `GET /api/x`). */
export type SqlOrigin = { readonly position: SourcePosition; readonly what: string } | { readonly position?: undefined; readonly what: string };

const CACHE_LIMIT = 2000;
const cache = new Map<string, Promise<ParsedStatement>>();

/**
 * Parses `text` as exactly one ClickHouse statement. Throws `InvalidInputError`:
 * `SQL_MULTI_STATEMENT` when ClickHouse reads more than one statement in it (including
 * a `;` that its client would split on inside inline INSERT data), `SQL_SYNTAX` when it
 * does not parse, `SQL_EMPTY` for nothing but whitespace and comments. `params` bind the
 * text's `{name:Type}` placeholders for `EXPLAIN AST` (ClickHouse will not explain without
 * them); values become literals, so the tree does not depend on them, except for the
 * `Identifier` type, which callers that take outside values refuse (see statement-policy.ts).
 *
 * @example (await parseStatement("ALTER TABLE t DROP COLUMN a", { what: "sql step" })).kind // "AlterQuery"
 */
export async function parseStatement(text: string, origin: SqlOrigin, params?: Readonly<Record<string, unknown>>): Promise<ParsedStatement> {
  let parsed = cache.get(text);
  if (parsed === undefined) {
    parsed = parseUncached(text, params);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, parsed);
    // A failure is not remembered: the next call reports it again with its own origin.
    parsed.catch(() => cache.delete(text));
  }
  try {
    return await parsed;
  } catch (error) {
    throw located(error, origin);
  }
}

/** Which parser reads statements: the embedded ClickHouse's package version (its grammar decides). */
export const PARSER_ID = `chdb@${chdbVersion()}`;

function chdbVersion(): string {
  try {
    return String((createRequire(import.meta.url)("chdb/package.json") as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

/** Throws `SQL_MULTI_STATEMENT` (see {@link parseStatement}) unless `text` is one statement; cheaper than a full parse. */
export async function assertSingleStatement(text: string, origin: SqlOrigin): Promise<void> {
  // ClickHouse separates statements with `;` only: a text without one is one statement (or none).
  if (!text.includes(";")) return;
  await parseStatement(text, origin);
}

class ParseFailure extends Error {
  constructor(
    readonly code: "SQL_MULTI_STATEMENT" | "SQL_SYNTAX" | "SQL_EMPTY" | "SQL_UNREADABLE",
    message: string,
  ) {
    super(message);
  }
}

async function parseUncached(text: string, params: Readonly<Record<string, unknown>> | undefined): Promise<ParsedStatement> {
  const runner = parserRunner();
  let row: { formatted: string; normalized: string };
  try {
    const out = await runner.run("SELECT formatQuerySingleLine({q:String}) AS formatted, normalizeQuery({q:String}) AS normalized", { q: text }, "JSONEachRow");
    row = JSON.parse(out) as { formatted: string; normalized: string };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/Multi-statements are not allowed/i.test(message)) throw new ParseFailure("SQL_MULTI_STATEMENT", "ClickHouse reads more than one statement here");
    if (/Empty query/i.test(message)) throw new ParseFailure("SQL_EMPTY", "there is no statement here (only whitespace or comments)");
    if (error instanceof SyntaxError) throw error;
    throw new ParseFailure("SQL_SYNTAX", `ClickHouse cannot parse it: ${clickHouseMessage(message)}`);
  }
  // normalizeQuery is ClickHouse's lexer with literals and comments taken out: a `;` left
  // before the end is one that chDB's client splits on (it ends `INSERT … VALUES` data at
  // a `;`, which formatQuery counts as part of the one statement), or one inside a quoted
  // identifier, which is refused too rather than guessed at.
  if (row.normalized.replace(/[\s;]+$/, "").includes(";")) {
    throw new ParseFailure("SQL_MULTI_STATEMENT", "ClickHouse's client would split this text at a `;` into more than one statement");
  }
  let dump: string;
  try {
    const bound = params !== undefined && Object.keys(params).length > 0 ? { ...params } : undefined;
    try {
      dump = await runner.run(`EXPLAIN AST ${row.formatted}`, bound, "TSVRaw");
    } catch (error) {
      // EXPLAIN obeys the statement's own SETTINGS: `… SETTINGS max_result_rows = 1`
      // limits the dump itself. As a subquery the SETTINGS stay inside it and the dump is
      // read by the outer SELECT. Only when the text's brackets balance (literals and
      // comments removed), so the one statement cannot close the subquery early.
      if (!/SETTINGS/i.test(row.normalized) || !bracketsBalance(row.normalized)) throw error;
      dump = (await runner.run(`SELECT explain FROM (EXPLAIN AST ${row.formatted})`, bound, "TSVRaw"));
    }
  } catch (error) {
    throw new ParseFailure("SQL_UNREADABLE", `ClickHouse could not show the structure of this statement: ${clickHouseMessage(error instanceof Error ? error.message : String(error))}`);
  }
  const ast = readAstDump(dump);
  if (ast === undefined) throw new ParseFailure("SQL_UNREADABLE", "ClickHouse's description of this statement could not be read unambiguously (an identifier with a line break?)");
  return { kind: ast.name, formatted: row.formatted, ast };
}

function bracketsBalance(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * The tree of an `EXPLAIN AST` dump: one node per line, indented one space per level,
 * `(children N)` at the end. `undefined` unless every node has exactly the children it
 * declares and there is one root, so an identifier whose text spans lines cannot add
 * or hide a node unnoticed.
 */
export function readAstDump(dump: string): AstNode | undefined {
  const lines = dump.split("\n").filter((l) => l !== "");
  let i = 0;
  const read = (depth: number): AstNode | undefined => {
    const line = lines[i];
    if (line === undefined) return undefined;
    const indent = line.length - line.trimStart().length;
    if (indent !== depth) return undefined;
    i++;
    const m = /^(.*?)(?: \(children (\d+)\))?$/.exec(line.trim());
    const head = m?.[1] ?? "";
    const declared = m?.[2] === undefined ? 0 : Number(m[2]);
    const space = head.indexOf(" ");
    const name = space < 0 ? head : head.slice(0, space);
    const detail = space < 0 ? "" : head.slice(space + 1).trim();
    const children: AstNode[] = [];
    for (let k = 0; k < declared; k++) {
      const child = read(depth + 1);
      if (child === undefined) return undefined;
      children.push(child);
    }
    return { name, detail, children };
  };
  const root = read(0);
  return root !== undefined && i === lines.length ? root : undefined;
}

function clickHouseMessage(message: string): string {
  // chDB repeats the query in its message ("In scope SELECT formatQuerySingleLine(…)"): keep ClickHouse's own words.
  const m = /Syntax error[^:]*: (.*?)(?:: In scope|\(SYNTAX_ERROR\)|$)/s.exec(message);
  const text = (m?.[0] ?? message).replace(/: In scope[\s\S]*$/, "").replace(/^.*?DB::Exception: /s, "");
  return text.length > 300 ? `${text.slice(0, 300)}…` : text.trim();
}

function located(error: unknown, origin: SqlOrigin): Error {
  if (!(error instanceof ParseFailure)) {
    if (error instanceof Error && "code" in error) return error;
    return new EngineError("SQL_PARSER_FAILED", `the embedded ClickHouse could not read ${origin.what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const hint =
    error.code === "SQL_MULTI_STATEMENT"
      ? "write one statement per call (one sql(...) step per statement in a migration); a `;` may only end the text"
      : error.code === "SQL_EMPTY"
        ? "write the statement"
        : "fix the SQL; ClickHouse's message says where it stopped";
  return new InvalidInputError(error.code, `${origin.what}: ${error.message}`, { ...(origin.position ? { position: origin.position } : {}), hint });
}
