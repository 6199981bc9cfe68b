import { readQuoted } from "../../model/clickhouse-quote.js";
/**
 * Small, pure helpers over ClickHouse SQL *text*: quoting, and reading back the
 * few pieces of DDL that ClickHouse only exposes as text (`system.tables.sorting_key`,
 * the `TTL` and `SETTINGS` clauses of `engine_full`, the query of a materialized view).
 *
 * This is deliberately not a SQL parser. Everything here works on a token stream
 * that only knows what it must not look inside of: string literals, quoted
 * identifiers and comments, plus bracket depth. That is enough to split ClickHouse's
 * own canonical output at top-level commas and keywords, because ClickHouse prints
 * these fragments in a regular shape; the expressions themselves stay opaque text.
 */


export type TokenKind = "word" | "quoted" | "string" | "number" | "punct" | "space" | "comment";

export interface SqlToken {
  readonly kind: TokenKind;
  /** Source text of the token, quotes included. */
  readonly text: string;
  /** Decoded value for `quoted` (an identifier) and `string` tokens; the text otherwise. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
  /** Bracket depth (`(`, `[`, `{`) the token sits at; an opening bracket has the outer depth. */
  readonly depth: number;
}


/** Splits SQL text into tokens, tracking bracket depth. Never throws. */
export function tokenize(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let depth = 0;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number, value?: string, atDepth = depth): void => {
    const t = text.slice(start, end);
    tokens.push({ kind, text: t, value: value ?? t, start, end, depth: atDepth });
  };
  while (i < text.length) {
    const c = text[i] as string;
    const start = i;
    if (/\s/.test(c)) {
      while (i < text.length && /\s/.test(text[i] as string)) i += 1;
      push("space", start, i);
    } else if (c === "-" && text[i + 1] === "-") {
      while (i < text.length && text[i] !== "\n") i += 1;
      push("comment", start, i);
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      i = close < 0 ? text.length : close + 2;
      push("comment", start, i);
    } else if (c === "'") {
      const q = readQuoted(text, i, "take-rest");
      i = q.end;
      push("string", start, i, q.value);
    } else if (c === "`" || c === '"') {
      const q = readQuoted(text, i, "take-rest");
      i = q.end;
      push("quoted", start, i, q.value);
    } else if (/[A-Za-z_]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_$]/.test(text[i] as string)) i += 1;
      push("word", start, i);
    } else if (/[0-9]/.test(c)) {
      while (i < text.length && /[0-9A-Za-z_.]/.test(text[i] as string)) {
        // `1e-5`: the sign belongs to the exponent.
        if ((text[i] === "e" || text[i] === "E") && (text[i + 1] === "-" || text[i + 1] === "+")) i += 1;
        i += 1;
      }
      push("number", start, i);
    } else if (c === "(" || c === "[" || c === "{") {
      i += 1;
      push("punct", start, i, undefined, depth);
      depth += 1;
    } else if (c === ")" || c === "]" || c === "}") {
      depth = Math.max(0, depth - 1);
      i += 1;
      push("punct", start, i, undefined, depth);
    } else {
      i += 1;
      push("punct", start, i);
    }
  }
  return tokens;
}

const significant = (tokens: readonly SqlToken[]): SqlToken[] => tokens.filter((t) => t.kind !== "space" && t.kind !== "comment");

// ---------------------------------------------------------------------------
// Reading ClickHouse's canonical text

/**
 * Splits `text` at top-level occurrences of `separator` (a one-character punctuation),
 * ignoring separators inside brackets, strings, quoted names and comments. Pieces are
 * trimmed; an all-blank text gives no pieces.
 *
 * @example splitTopLevel("a, toStartOfDay(c, 'x,y'), `b,c`") // ["a", "toStartOfDay(c, 'x,y')", "`b,c`"]
 */
export function splitTopLevel(text: string, separator = ","): string[] {
  const pieces: string[] = [];
  let from = 0;
  for (const t of tokenize(text)) {
    if (t.kind === "punct" && t.depth === 0 && t.text === separator) {
      pieces.push(text.slice(from, t.start).trim());
      from = t.end;
    }
  }
  const last = text.slice(from).trim();
  if (last !== "" || pieces.length > 0) pieces.push(last);
  return pieces;
}

/**
 * The inside of `text` when the whole of it is one pair of matching parentheses,
 * else `text` (trimmed). `(a, b)` gives `a, b`; `(a) + (b)` stays as it is.
 */
export function unwrapParentheses(text: string): string {
  const tokens = significant(tokenize(text));
  const first = tokens[0];
  const last = tokens[tokens.length - 1];
  if (!first || !last || first.text !== "(" || last.text !== ")") return text.trim();
  // The closing bracket of the first one must be the last token.
  const closing = tokens.find((t, i) => i > 0 && t.text === ")" && t.depth === first.depth);
  return closing === last ? text.slice(first.end, last.start).trim() : text.trim();
}

/**
 * The name when `text` is exactly one identifier, bare or quoted (`a`, `` `x y` ``),
 * else undefined.
 */
export function asIdentifier(text: string): string | undefined {
  const tokens = significant(tokenize(text));
  const [only] = tokens;
  if (tokens.length !== 1 || !only) return undefined;
  if (only.kind === "quoted") return only.value;
  if (only.kind === "word") return only.text;
  return undefined;
}

/**
 * The infix of names moose gives the tables and columns it keeps or stages while keeping
 * data (`Events__moose_old_20261126031500`, `score__moose_new`). Introspection leaves such
 * tables out of the model: they are copies, not declared objects.
 */
export const MOOSE_NAME_INFIX = "__moose_";

/** Every identifier named in `text` (bare or quoted), e.g. to see which columns an expression uses. */
export function identifiersIn(text: string): Set<string> {
  const out = new Set<string>();
  for (const t of tokenize(text)) if (t.kind === "word" || t.kind === "quoted") out.add(t.value);
  return out;
}

/**
 * Removes the qualifier `database.` in front of table names: ClickHouse stores a
 * materialized view's query with every table qualified by its database, and the
 * model keeps the names as the user wrote them, relative to the managed database.
 * Only a `database` identifier directly followed by `.` and a name, and not itself
 * preceded by `.`, is removed, so column references like `t.database` stay.
 *
 * @example stripDatabaseQualifier("SELECT id FROM app.events", "app") // "SELECT id FROM events"
 */
export function stripDatabaseQualifier(sql: string, database: string): string {
  const tokens = tokenize(sql);
  const cuts: Array<[number, number]> = [];
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i] as SqlToken;
    if ((t.kind !== "word" && t.kind !== "quoted") || t.value !== database) continue;
    const dot = tokens[i + 1];
    const name = tokens[i + 2];
    const before = tokens[i - 1];
    if (dot?.text !== "." || !name || (name.kind !== "word" && name.kind !== "quoted")) continue;
    if (before?.text === ".") continue;
    cuts.push([t.start, dot.end]);
  }
  let out = "";
  let from = 0;
  for (const [start, end] of cuts) {
    out += sql.slice(from, start);
    from = end;
  }
  return out + sql.slice(from);
}

/** The clauses ClickHouse prints in `system.tables.engine_full` after the engine. */
export interface EngineClauses {
  /** Text inside the engine's parentheses, when it has them: `ver, is_deleted`. */
  readonly args?: string;
  readonly partitionBy?: string;
  readonly primaryKey?: string;
  readonly orderBy?: string;
  readonly sampleBy?: string;
  readonly ttl?: string;
  readonly settings?: string;
  readonly comment?: string;
}

const CLAUSES: ReadonlyArray<{ readonly words: readonly string[]; readonly key: Exclude<keyof EngineClauses, "args"> }> = [
  { words: ["PARTITION", "BY"], key: "partitionBy" },
  { words: ["PRIMARY", "KEY"], key: "primaryKey" },
  { words: ["ORDER", "BY"], key: "orderBy" },
  { words: ["SAMPLE", "BY"], key: "sampleBy" },
  { words: ["TTL"], key: "ttl" },
  { words: ["SETTINGS"], key: "settings" },
  { words: ["COMMENT"], key: "comment" },
];

/**
 * Cuts `engine_full` (`ReplacingMergeTree(ver) PARTITION BY toYYYYMM(ts) ORDER BY id TTL ts + toIntervalDay(1) SETTINGS index_granularity = 8192`)
 * into its clauses. A clause starts at an upper-case keyword at bracket depth 0,
 * the way ClickHouse formats them; a column that is itself named like a clause
 * keyword and printed bare would confuse this, which ClickHouse's formatter avoids
 * by quoting such names.
 */
export function engineClauses(engineFull: string): EngineClauses {
  const tokens = significant(tokenize(engineFull));
  const out: { -readonly [K in keyof EngineClauses]: EngineClauses[K] } = {};
  let i = 1; // tokens[0] is the engine name
  if (tokens[1]?.text === "(") {
    const open = tokens[1];
    const close = tokens.findIndex((t, j) => j > 1 && t.text === ")" && t.depth === open.depth);
    if (close > 0) {
      out.args = engineFull.slice(open.end, (tokens[close] as SqlToken).start).trim();
      i = close + 1;
    }
  }
  let current: { key: Exclude<keyof EngineClauses, "args">; from: number } | undefined;
  const finish = (end: number): void => {
    if (current) out[current.key] = engineFull.slice(current.from, end).trim();
  };
  for (; i < tokens.length; i += 1) {
    const t = tokens[i] as SqlToken;
    if (t.kind !== "word" || t.depth !== 0) continue;
    const clause = CLAUSES.find((c) => c.words.every((w, k) => tokens[i + k]?.kind === "word" && tokens[i + k]?.text === w && tokens[i + k]?.depth === 0));
    if (!clause) continue;
    finish(t.start);
    const lastWord = tokens[i + clause.words.length - 1] as SqlToken;
    current = { key: clause.key, from: lastWord.end };
    i += clause.words.length - 1;
  }
  finish(engineFull.length);
  return out;
}

/**
 * `name = value, ...` (a SETTINGS clause) as a record of names to values: string
 * literals are decoded, anything else (numbers, `true`) is kept as written.
 */
export function parseSettingsClause(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const piece of splitTopLevel(text)) {
    const tokens = significant(tokenize(piece));
    const eq = tokens.findIndex((t) => t.text === "=" && t.depth === 0);
    const nameToken = tokens[0];
    if (eq !== 1 || !nameToken) continue;
    const valueTokens = tokens.slice(eq + 1);
    const [only] = valueTokens;
    const value = valueTokens.length === 1 && only?.kind === "string" ? only.value : piece.slice((tokens[eq] as SqlToken).end).trim();
    out[nameToken.value] = value;
  }
  return out;
}

/** The parts of `CREATE MATERIALIZED VIEW db.v TO db.t (columns) AS SELECT ...`. */
export interface ViewDefinition {
  /** `[database, table]` of the TO clause; absent for a view with an inner table. */
  readonly target?: readonly [string | undefined, string];
  /** The SELECT, as ClickHouse printed it. */
  readonly select?: string;
}

/**
 * Reads the TO target and the SELECT out of a materialized view's `create_table_query`,
 * for servers whose `system.tables` has no `as_select` / `target_table` columns (before 20.x).
 * The first top-level `TO` gives the target and the first top-level `AS` after it the query.
 */
export function parseViewDefinition(createQuery: string): ViewDefinition {
  const tokens = significant(tokenize(createQuery));
  const out: { target?: readonly [string | undefined, string]; select?: string } = {};
  const toAt = tokens.findIndex((t) => t.kind === "word" && t.depth === 0 && t.text.toUpperCase() === "TO");
  if (toAt >= 0) {
    const a = tokens[toAt + 1];
    const dot = tokens[toAt + 2];
    const b = tokens[toAt + 3];
    const nameOf = (t: SqlToken | undefined): string | undefined => (t && (t.kind === "word" || t.kind === "quoted") ? t.value : undefined);
    if (dot?.text === "." && nameOf(b) !== undefined && nameOf(a) !== undefined) out.target = [nameOf(a), nameOf(b) as string];
    else if (nameOf(a) !== undefined) out.target = [undefined, nameOf(a) as string];
  }
  const asAt = tokens.findIndex((t, i) => i > toAt && t.kind === "word" && t.depth === 0 && t.text.toUpperCase() === "AS");
  if (asAt >= 0) out.select = createQuery.slice((tokens[asAt] as SqlToken).end).trim();
  return out;
}

/**
 * The TTL of each column that has one, read from a table's `create_table_query`
 * (`system.columns` has no TTL): the column list is the first top-level parenthesis,
 * each element is split at top-level commas, and a column's TTL is what follows its
 * top-level `TTL` keyword, up to a top-level `SETTINGS` (the only clause ClickHouse
 * prints after it). Indexes, projections and constraints in the list are skipped.
 *
 * @example columnTtls("CREATE TABLE db.t (`id` String, `x` String TTL at + toIntervalDay(1)) ENGINE = MergeTree ORDER BY id")
 * // Map { "x" => "at + toIntervalDay(1)" }
 */
export function columnTtls(createQuery: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const element of createElements(createQuery)) {
    const parts = significant(tokenize(element));
    const first = parts[0];
    if (!first || (first.kind !== "quoted" && first.kind !== "word") || (first.kind === "word" && ["INDEX", "PROJECTION", "CONSTRAINT"].includes(first.text))) continue;
    const ttl = parts.findIndex((t, i) => i > 1 && t.kind === "word" && t.depth === 0 && t.text === "TTL");
    if (ttl < 0) continue;
    const settings = parts.findIndex((t, i) => i > ttl && t.kind === "word" && t.depth === 0 && t.text === "SETTINGS");
    const end = settings < 0 ? element.length : (parts[settings] as SqlToken).start;
    out.set(first.value, element.slice((parts[ttl] as SqlToken).end, end).trim());
  }
  return out;
}

/**
 * The constraints of a CREATE TABLE as ClickHouse prints it (`CONSTRAINT name CHECK expr` or
 * `ASSUME expr` among the column definitions: no system table lists them), sorted by name.
 */
export function tableConstraints(createQuery: string): Array<{ name: string; type: "CHECK" | "ASSUME"; expression: string }> {
  const out: Array<{ name: string; type: "CHECK" | "ASSUME"; expression: string }> = [];
  for (const element of createElements(createQuery)) {
    const parts = significant(tokenize(element));
    const [first, name, kind] = parts;
    if (first?.kind !== "word" || first.text.toUpperCase() !== "CONSTRAINT" || !name || (name.kind !== "word" && name.kind !== "quoted") || kind?.kind !== "word") continue;
    const type = kind.text.toUpperCase();
    if (type !== "CHECK" && type !== "ASSUME") continue;
    out.push({ name: name.value, type, expression: element.slice(kind.end).trim() });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The elements of a CREATE TABLE's parenthesized list (columns, indexes, projections, constraints), as text. */
function createElements(createQuery: string): string[] {
  const tokens = significant(tokenize(createQuery));
  const open = tokens.findIndex((t) => t.text === "(" && t.depth === 0);
  if (open < 0) return [];
  const close = tokens.findIndex((t, i) => i > open && t.text === ")" && t.depth === 0);
  if (close < 0) return [];
  return splitTopLevel(createQuery.slice((tokens[open] as SqlToken).end, (tokens[close] as SqlToken).start));
}
