/**
 * Quoting and unquoting ClickHouse text: string literals, identifiers, qualified names. The one
 * place that knows ClickHouse's escapes; the type grammar, the SQL adapter, the DSL and the
 * extractor all quote through it.
 */

/** A malformed type or quoted text, with the offset where reading stopped. */
export class TypeSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

/** Single-character escapes ClickHouse decodes in quoted strings and identifiers. */
const DECODED_ESCAPES: Readonly<Record<string, string>> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  "0": "\0",
  a: "\x07",
  v: "\v",
  e: "\x1b",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "`": "`",
};

/**
 * Reads a quoted string or identifier starting at `start` (the opening quote).
 * ClickHouse rules: backslash escapes, `\xHH`, and a doubled quote stands for one;
 * an unknown escape like `\w` keeps its backslash (ClickHouse reads `'w\w'` as three characters).
 */
export function readQuoted(text: string, start: number, unterminated: "throw" | "take-rest" = "throw"): { value: string; end: number } {
  const quote = text[start] as string;
  let out = "";
  let i = start + 1;
  for (;;) {
    const c = text[i];
    if (c === undefined) {
      // "take-rest" is for reading ClickHouse's own output, where callers must never loop.
      if (unterminated === "take-rest") return { value: out, end: text.length };
      throw new TypeSyntaxError(`unterminated ${quote === "'" ? "string" : "quoted name"}`, start);
    }
    if (c === quote) {
      if (text[i + 1] === quote) {
        out += quote;
        i += 2;
        continue;
      }
      return { value: out, end: i + 1 };
    }
    if (c === "\\") {
      const e = text[i + 1];
      if (e === undefined) {
        if (unterminated === "take-rest") return { value: out, end: text.length };
        throw new TypeSyntaxError("unterminated escape sequence", i);
      }
      if (e === "x" && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 2, i + 4))) {
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
        continue;
      }
      const decoded = DECODED_ESCAPES[e];
      out += decoded ?? "\\" + e;
      i += 2;
      continue;
    }
    out += c;
    i += 1;
  }
}

const QUOTE_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\0": "\\0",
};

function quoteWith(value: string, quote: string): string {
  let out = quote;
  for (const c of value) out += c === quote ? "\\" + quote : (QUOTE_ESCAPES[c] ?? c);
  return out + quote;
}

/**
 * Quotes a string literal the way ClickHouse prints one (enum labels, time zones):
 * backslash-escapes the quote, the backslash and `\b \f \n \r \t \0`, everything else as is.
 *
 * @example quoteString("it's") // "'it\\'s'"
 */
export function quoteString(value: string): string {
  return quoteWith(value, "'");
}

/** A name as ClickHouse prints it: bare when it is a plain identifier, else in backquotes. */
export function quoteName(name: string): string {
  return isPlainIdentifier(name) ? name : quoteIdentifier(name);
}

/**
 * A name as a backquoted ClickHouse identifier, whatever it contains.
 *
 * @example quoteIdentifier("we`ird") // "`we\\`ird`"
 */
export function quoteIdentifier(name: string): string {
  return quoteWith(name, "`");
}

/**
 * A model table name as (database, table): `analytics.Events` is table `Events` of
 * database `analytics` (moose-lib's `database` option); a name without a dot is a table
 * of `database`, the managed one. Table names never contain a dot (the extractor refuses
 * them), so the split is unambiguous.
 *
 * @example tableParts("local", "analytics.Events") // { database: "analytics", table: "Events" }
 */
export function tableParts(database: string, name: string): { readonly database: string; readonly table: string } {
  const dot = name.indexOf(".");
  return dot < 0 ? { database, table: name } : { database: name.slice(0, dot), table: name.slice(dot + 1) };
}

/** The database a model table name lives in, when it names one (`analytics.Events`); undefined for the managed database. */
export function declaredDatabase(name: string): string | undefined {
  const dot = name.indexOf(".");
  return dot < 0 ? undefined : name.slice(0, dot);
}

/** The databases other than the managed one that model table names carry, sorted. */
export function declaredDatabases(names: Iterable<string>): string[] {
  return [...new Set([...names].map(declaredDatabase).filter((d): d is string => d !== undefined))].sort();
}

/**
 * `db`.`name`; a model name that carries its own database (`analytics.Events`) keeps it.
 *
 * @example qualifiedName("local", "Events") // "`local`.`Events`"
 * @example qualifiedName("local", "analytics.Events") // "`analytics`.`Events`"
 */
export function qualifiedName(database: string, name: string): string {
  const parts = tableParts(database, name);
  return `${quoteIdentifier(parts.database)}.${quoteIdentifier(parts.table)}`;
}

/** A model table name as SQL: `` `Events` `` in the managed database, `` `analytics`.`Events` `` outside it. */
export function quoteTableName(name: string): string {
  const db = declaredDatabase(name);
  return db === undefined ? quoteIdentifier(name) : qualifiedName(db, name);
}

/** Whether `name` is a bare ClickHouse identifier (needs no quotes to be read as a name). */
export function isPlainIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
