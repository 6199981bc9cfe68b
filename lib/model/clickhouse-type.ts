import { InvalidInputError } from "../errors.js";

/**
 * ClickHouse column types as a small AST, parsed from the text `system.columns.type`
 * prints and formatted back to that same canonical text:
 *
 * ```ts
 * const t = parseClickHouseType("LowCardinality(Nullable(String))");
 * // { kind: "LowCardinality", inner: { kind: "Nullable", inner: { kind: "name", name: "String" } } }
 * formatClickHouseType(t); // "LowCardinality(Nullable(String))"
 * ```
 *
 * Names without arguments (`String`, `Int32`, `UUID`, `IPv4`, `JSON`, ...) are `name`
 * nodes; parametrised types the tool reasons about get their own node; any other
 * parametrised type (`Variant(...)`, `JSON(max_dynamic_paths=10)`, ...) becomes a
 * `generic` node whose arguments keep their text, so nothing is lost.
 */
export type ClickHouseType =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "DateTime"; readonly timezone?: string }
  | { readonly kind: "DateTime64"; readonly precision: number; readonly timezone?: string }
  | { readonly kind: "Decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "FixedString"; readonly length: number }
  | { readonly kind: "Nullable"; readonly inner: ClickHouseType }
  | { readonly kind: "LowCardinality"; readonly inner: ClickHouseType }
  | { readonly kind: "Array"; readonly element: ClickHouseType }
  | { readonly kind: "Map"; readonly key: ClickHouseType; readonly value: ClickHouseType }
  | { readonly kind: "Tuple"; readonly elements: readonly TupleElement[] }
  | { readonly kind: "Nested"; readonly fields: readonly NamedField[] }
  | { readonly kind: "Enum"; readonly bits: 8 | 16; readonly values: readonly EnumValue[] }
  | {
      readonly kind: "AggregateFunction";
      /** `SimpleAggregateFunction` (the state is the plain value) rather than `AggregateFunction`. */
      readonly simple: boolean;
      readonly function: AggregateFunctionName;
      readonly args: readonly ClickHouseType[];
    }
  | { readonly kind: "generic"; readonly name: string; readonly args: readonly TypeArgument[] };

export interface TupleElement {
  /** Absent for unnamed tuples (`Tuple(String, UInt8)`). */
  readonly name?: string;
  readonly type: ClickHouseType;
}

export interface NamedField {
  readonly name: string;
  readonly type: ClickHouseType;
}

export interface EnumValue {
  readonly label: string;
  readonly value: number;
}

/** `quantiles(0.5, 0.9)` in `AggregateFunction(quantiles(0.5, 0.9), UInt64)`. */
export interface AggregateFunctionName {
  readonly name: string;
  /** Absent when the function takes no parameters; present (maybe empty) when written with parentheses. */
  readonly params?: readonly TypeArgument[];
}

/** An argument of a `generic` type or an aggregate function parameter. */
export type TypeArgument =
  | { readonly kind: "type"; readonly type: ClickHouseType }
  | { readonly kind: "named"; readonly name: string; readonly type: ClickHouseType }
  | { readonly kind: "number"; readonly text: string }
  | { readonly kind: "string"; readonly value: string }
  /** Anything else (`max_types=10`, `SKIP a.b`), kept as written. */
  | { readonly kind: "raw"; readonly text: string };

// ---------------------------------------------------------------------------
// Tokenizer

type Token =
  | { readonly t: "ident"; readonly value: string; readonly quoted: boolean; readonly start: number; readonly end: number }
  | { readonly t: "string"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly t: "number"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly t: "punct"; readonly value: string; readonly start: number; readonly end: number }
  | { readonly t: "eof"; readonly value: ""; readonly start: number; readonly end: number };

class TypeSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string): boolean => c >= "0" && c <= "9";

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

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      while (i < text.length && isIdentPart(text[i] as string)) i += 1;
      tokens.push({ t: "ident", value: text.slice(start, i), quoted: false, start, end: i });
    } else if (c === "`" || c === '"') {
      const q = readQuoted(text, i);
      i = q.end;
      tokens.push({ t: "ident", value: q.value, quoted: true, start, end: i });
    } else if (c === "'") {
      const q = readQuoted(text, i);
      i = q.end;
      tokens.push({ t: "string", value: q.value, start, end: i });
    } else if (isDigit(c)) {
      while (i < text.length && isDigit(text[i] as string)) i += 1;
      if (text[i] === "." && isDigit(text[i + 1] ?? "")) {
        i += 1;
        while (i < text.length && isDigit(text[i] as string)) i += 1;
      }
      if ((text[i] === "e" || text[i] === "E") && /^[+-]?\d/.test(text.slice(i + 1, i + 3))) {
        i += 2;
        while (i < text.length && isDigit(text[i] as string)) i += 1;
      }
      tokens.push({ t: "number", value: text.slice(start, i), start, end: i });
    } else {
      i += 1;
      tokens.push({ t: "punct", value: c, start, end: i });
    }
  }
  tokens.push({ t: "eof", value: "", start: text.length, end: text.length });
  return tokens;
}

// ---------------------------------------------------------------------------
// Parser

const DECIMAL_ALIASES: Readonly<Record<string, number>> = { Decimal32: 9, Decimal64: 18, Decimal128: 38, Decimal256: 76 };

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(private readonly text: string) {
    this.tokens = tokenize(text);
  }

  parseAll(): ClickHouseType {
    const type = this.type();
    const rest = this.peek();
    if (rest.t !== "eof") throw new TypeSyntaxError(`unexpected ${describe(rest)} after the type`, rest.start);
    return type;
  }

  private peek(offset = 0): Token {
    return (this.tokens[this.pos + offset] ?? this.tokens[this.tokens.length - 1]) as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.t !== "eof") this.pos += 1;
    return token;
  }

  private isPunct(value: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.t === "punct" && token.value === value;
  }

  private expectPunct(value: string): void {
    const token = this.next();
    if (token.t !== "punct" || token.value !== value) {
      throw new TypeSyntaxError(`expected "${value}" but found ${describe(token)}`, token.start);
    }
  }

  private expectName(): string {
    const token = this.next();
    if (token.t !== "ident") throw new TypeSyntaxError(`expected a name but found ${describe(token)}`, token.start);
    return token.value;
  }

  private expectString(): string {
    const token = this.next();
    if (token.t !== "string") throw new TypeSyntaxError(`expected a quoted string but found ${describe(token)}`, token.start);
    return token.value;
  }

  /** A non-negative integer argument such as a precision or a length. */
  private expectInteger(): number {
    const token = this.next();
    if (token.t !== "number" || !/^\d+$/.test(token.value)) {
      throw new TypeSyntaxError(`expected an integer but found ${describe(token)}`, token.start);
    }
    return Number(token.value);
  }

  private signedInteger(): number {
    const negative = this.isPunct("-");
    if (negative) this.next();
    const n = this.expectInteger();
    return negative ? -n : n;
  }

  /** Parses `item (, item)* )` after an opening parenthesis has been consumed. */
  private list<T>(item: () => T): T[] {
    const items: T[] = [];
    if (this.isPunct(")")) {
      this.next();
      return items;
    }
    for (;;) {
      items.push(item());
      const token = this.next();
      if (token.t === "punct" && token.value === ")") return items;
      if (!(token.t === "punct" && token.value === ",")) {
        throw new TypeSyntaxError(`expected "," or ")" but found ${describe(token)}`, token.start);
      }
    }
  }

  private exactly<T>(what: string, count: number, items: T[], at: number): T[] {
    if (items.length !== count) {
      throw new TypeSyntaxError(`${what} takes ${count} argument${count === 1 ? "" : "s"}, got ${items.length}`, at);
    }
    return items;
  }

  type(): ClickHouseType {
    const head = this.next();
    if (head.t !== "ident" || head.quoted) throw new TypeSyntaxError(`expected a type name but found ${describe(head)}`, head.start);
    const name = head.value;
    if (!this.isPunct("(")) {
      return name === "DateTime" ? { kind: "DateTime" } : { kind: "name", name };
    }
    this.next();
    const at = head.start;
    switch (name) {
      case "Nullable":
      case "LowCardinality": {
        const [inner] = this.exactly(name, 1, this.list(() => this.type()), at) as [ClickHouseType];
        return { kind: name, inner };
      }
      case "Array": {
        const [element] = this.exactly(name, 1, this.list(() => this.type()), at) as [ClickHouseType];
        return { kind: "Array", element };
      }
      case "Map": {
        const [key, value] = this.exactly(name, 2, this.list(() => this.type()), at) as [ClickHouseType, ClickHouseType];
        return { kind: "Map", key, value };
      }
      case "Tuple":
        return { kind: "Tuple", elements: this.list(() => this.tupleElement()) };
      case "Nested":
        return { kind: "Nested", fields: this.list(() => ({ name: this.expectName(), type: this.type() })) };
      case "Enum8":
      case "Enum16":
        return {
          kind: "Enum",
          bits: name === "Enum8" ? 8 : 16,
          values: this.list(() => {
            const label = this.expectString();
            this.expectPunct("=");
            return { label, value: this.signedInteger() };
          }),
        };
      case "DateTime": {
        const [timezone] = this.exactly(name, 1, this.list(() => this.expectString()), at) as [string];
        return { kind: "DateTime", timezone };
      }
      case "DateTime64": {
        const precision = this.expectInteger();
        if (this.isPunct(",")) {
          this.next();
          const timezone = this.expectString();
          this.expectPunct(")");
          return { kind: "DateTime64", precision, timezone };
        }
        this.expectPunct(")");
        return { kind: "DateTime64", precision };
      }
      case "Decimal": {
        const [precision, scale] = this.exactly(name, 2, this.list(() => this.expectInteger()), at) as [number, number];
        return { kind: "Decimal", precision, scale };
      }
      case "Decimal32":
      case "Decimal64":
      case "Decimal128":
      case "Decimal256": {
        // ClickHouse stores these aliases as Decimal(P, S); parsing to that keeps one canonical form.
        const [scale] = this.exactly(name, 1, this.list(() => this.expectInteger()), at) as [number];
        return { kind: "Decimal", precision: DECIMAL_ALIASES[name] as number, scale };
      }
      case "FixedString": {
        const [length] = this.exactly(name, 1, this.list(() => this.expectInteger()), at) as [number];
        return { kind: "FixedString", length };
      }
      case "AggregateFunction":
      case "SimpleAggregateFunction": {
        const fnName = this.expectName();
        let fn: AggregateFunctionName = { name: fnName };
        if (this.isPunct("(")) {
          this.next();
          fn = { name: fnName, params: this.list(() => this.argument()) };
        }
        const args: ClickHouseType[] = [];
        for (;;) {
          const token = this.next();
          if (token.t === "punct" && token.value === ")") break;
          if (!(token.t === "punct" && token.value === ",")) {
            throw new TypeSyntaxError(`expected "," or ")" but found ${describe(token)}`, token.start);
          }
          args.push(this.type());
        }
        return { kind: "AggregateFunction", simple: name === "SimpleAggregateFunction", function: fn, args };
      }
      default:
        return { kind: "generic", name, args: this.list(() => this.argument()) };
    }
  }

  private tupleElement(): TupleElement {
    const first = this.peek();
    const second = this.peek(1);
    // `a String` is a named element; `String`, `Nullable(String)` are unnamed.
    if (first.t === "ident" && second.t === "ident") {
      this.next();
      return { name: first.value, type: this.type() };
    }
    return { type: this.type() };
  }

  /**
   * One argument of a type we don't model. Tries a literal, a type, or `name Type`,
   * and falls back to the source text up to the next top-level `,` or `)` so that
   * future ClickHouse syntax survives a round trip.
   */
  private argument(): TypeArgument {
    const start = this.pos;
    const structured = this.tryStructuredArgument();
    if (structured && (this.isPunct(",") || this.isPunct(")"))) return structured;
    this.pos = start;
    return { kind: "raw", text: this.rawArgument() };
  }

  private tryStructuredArgument(): TypeArgument | null {
    try {
      const token = this.peek();
      if (token.t === "string") {
        this.next();
        return { kind: "string", value: token.value };
      }
      if (token.t === "number" || (token.t === "punct" && token.value === "-" && this.peek(1).t === "number")) {
        this.next();
        if (token.t === "number") return { kind: "number", text: token.value };
        return { kind: "number", text: "-" + this.next().value };
      }
      if (token.t === "ident" && this.peek(1).t === "ident") {
        this.next();
        return { kind: "named", name: token.value, type: this.type() };
      }
      if (token.t === "ident" && !token.quoted) return { kind: "type", type: this.type() };
      return null;
    } catch (e) {
      if (e instanceof TypeSyntaxError) return null;
      throw e;
    }
  }

  private rawArgument(): string {
    let depth = 0;
    const first = this.peek();
    let end = first.start;
    for (;;) {
      const token = this.peek();
      if (token.t === "eof") throw new TypeSyntaxError(`expected ")" but found the end`, token.start);
      if (token.t === "punct" && depth === 0 && (token.value === "," || token.value === ")")) break;
      if (token.t === "punct" && token.value === "(") depth += 1;
      if (token.t === "punct" && token.value === ")") depth -= 1;
      end = token.end;
      this.next();
    }
    if (end === first.start) throw new TypeSyntaxError(`expected an argument but found ${describe(first)}`, first.start);
    return this.text.slice(first.start, end);
  }
}

function describe(token: Token): string {
  switch (token.t) {
    case "eof":
      return "the end";
    case "string":
      return `string ${quoteString(token.value)}`;
    case "ident":
      return `"${token.value}"`;
    case "number":
      return `number ${token.value}`;
    case "punct":
      return `"${token.value}"`;
  }
}

/**
 * Parses a ClickHouse type as `system.columns.type` prints it.
 * Throws an InvalidInputError (code `CLICKHOUSE_TYPE_INVALID`) with the position of the problem.
 *
 * @example parseClickHouseType("Map(String, Array(UInt8))")
 */
export function parseClickHouseType(text: string): ClickHouseType {
  try {
    return new Parser(text).parseAll();
  } catch (e) {
    if (e instanceof TypeSyntaxError) {
      throw new InvalidInputError(
        "CLICKHOUSE_TYPE_INVALID",
        `invalid ClickHouse type ${JSON.stringify(text)}: ${e.message} (at offset ${e.position})`,
      );
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Formatter

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
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : quoteWith(name, "`");
}

function formatArgument(arg: TypeArgument): string {
  switch (arg.kind) {
    case "type":
      return formatClickHouseType(arg.type);
    case "named":
      return `${quoteName(arg.name)} ${formatClickHouseType(arg.type)}`;
    case "number":
      return arg.text;
    case "string":
      return quoteString(arg.value);
    case "raw":
      return arg.text;
  }
}

/**
 * The canonical text of a type, as ClickHouse prints it: `format(parse(s)) === s`
 * for any `s` taken from `system.columns`.
 */
export function formatClickHouseType(type: ClickHouseType): string {
  switch (type.kind) {
    case "name":
      return type.name;
    case "DateTime":
      return type.timezone === undefined ? "DateTime" : `DateTime(${quoteString(type.timezone)})`;
    case "DateTime64":
      return type.timezone === undefined
        ? `DateTime64(${type.precision})`
        : `DateTime64(${type.precision}, ${quoteString(type.timezone)})`;
    case "Decimal":
      return `Decimal(${type.precision}, ${type.scale})`;
    case "FixedString":
      return `FixedString(${type.length})`;
    case "Nullable":
    case "LowCardinality":
      return `${type.kind}(${formatClickHouseType(type.inner)})`;
    case "Array":
      return `Array(${formatClickHouseType(type.element)})`;
    case "Map":
      return `Map(${formatClickHouseType(type.key)}, ${formatClickHouseType(type.value)})`;
    case "Tuple":
      return `Tuple(${type.elements
        .map((e) => (e.name === undefined ? "" : quoteName(e.name) + " ") + formatClickHouseType(e.type))
        .join(", ")})`;
    case "Nested":
      return `Nested(${type.fields.map((f) => `${quoteName(f.name)} ${formatClickHouseType(f.type)}`).join(", ")})`;
    case "Enum":
      return `Enum${type.bits}(${type.values.map((v) => `${quoteString(v.label)} = ${v.value}`).join(", ")})`;
    case "AggregateFunction": {
      const fn = type.function.params === undefined
        ? type.function.name
        : `${type.function.name}(${type.function.params.map(formatArgument).join(", ")})`;
      const name = type.simple ? "SimpleAggregateFunction" : "AggregateFunction";
      return `${name}(${[fn, ...type.args.map(formatClickHouseType)].join(", ")})`;
    }
    case "generic":
      return `${type.name}(${type.args.map(formatArgument).join(", ")})`;
  }
}

// ---------------------------------------------------------------------------
// Type change classification

/**
 * How a column's values fare when its type changes from `before` to `after`:
 *
 * - `same`: the types are identical (after canonical formatting);
 * - `widening`: every value of `before` is kept exactly in `after`;
 * - `conversion`: every value converts, but its representation changes (numbers to text,
 *   a date to a timestamp, a timezone change that alters what is displayed);
 * - `lossy`: some values of `before` cannot be converted or change on the way.
 */
export type TypeChangeClass = "same" | "widening" | "conversion" | "lossy";

const SEVERITY: Readonly<Record<TypeChangeClass, number>> = { same: 0, widening: 1, conversion: 2, lossy: 3 };

function worst(...classes: TypeChangeClass[]): TypeChangeClass {
  return classes.reduce<TypeChangeClass>((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "same");
}

/**
 * Classifies a column type change for the planner's risk rules. Text that does not
 * parse as a ClickHouse type is compared verbatim and any change of it is `lossy`,
 * because nothing is known about its values.
 *
 * @example classifyTypeChange("Int32", "Int64") // "widening"
 * @example classifyTypeChange("Nullable(String)", "String") // "lossy"
 */
export function classifyTypeChange(before: string, after: string): TypeChangeClass {
  if (before === after) return "same";
  let a: ClickHouseType;
  let b: ClickHouseType;
  try {
    a = parseClickHouseType(before);
    b = parseClickHouseType(after);
  } catch {
    return "lossy";
  }
  return classify(a, b);
}

interface IntRange {
  readonly min: bigint;
  readonly max: bigint;
}

function intRange(name: string): IntRange | null {
  const m = /^(U?)Int(8|16|32|64|128|256)$/.exec(name);
  if (!m) return null;
  const bits = BigInt(m[2] as string);
  return m[1] === "U" ? { min: 0n, max: 2n ** bits - 1n } : { min: -(2n ** (bits - 1n)), max: 2n ** (bits - 1n) - 1n };
}

const contains = (outer: IntRange, inner: IntRange): boolean => outer.min <= inner.min && inner.max <= outer.max;

/** Integers a float holds exactly: the mantissa is 24 bits for Float32, 53 for Float64. */
const FLOAT_EXACT: Readonly<Record<string, IntRange>> = {
  Float32: { min: -(2n ** 24n), max: 2n ** 24n },
  Float64: { min: -(2n ** 53n), max: 2n ** 53n },
};

/** The integer a date/time type stores (days or seconds or ticks since the epoch). */
function temporalStorage(t: ClickHouseType): IntRange | null {
  if (t.kind === "DateTime") return intRange("UInt32");
  if (t.kind === "DateTime64") return intRange("Int64");
  if (t.kind === "name" && t.name === "Date") return intRange("UInt16");
  if (t.kind === "name" && t.name === "Date32") return intRange("Int32");
  return null;
}

const isName = (t: ClickHouseType, ...names: string[]): boolean => t.kind === "name" && names.includes(t.name);
const digits = (n: bigint): number => (n < 0n ? -n : n).toString().length;

function stripLowCardinality(t: ClickHouseType): ClickHouseType {
  return t.kind === "LowCardinality" ? stripLowCardinality(t.inner) : t;
}

function classify(a0: ClickHouseType, b0: ClickHouseType): TypeChangeClass {
  if (formatClickHouseType(a0) === formatClickHouseType(b0)) return "same";

  // LowCardinality is a storage encoding (a dictionary) over the same values, so adding
  // or removing it keeps every value; it is still a change of the column, hence widening.
  const a = stripLowCardinality(a0);
  const b = stripLowCardinality(b0);
  if (a !== a0 || b !== b0) {
    const inner = classify(a, b);
    return inner === "same" ? "widening" : inner;
  }

  // T -> Nullable(T): every value is kept and NULL becomes possible. Nullable(T) -> T:
  // NULLs have nowhere to go (ClickHouse fails or writes defaults), so lossy.
  if (a.kind === "Nullable" && b.kind === "Nullable") return classify(a.inner, b.inner);
  if (b.kind === "Nullable") return worst("widening", classify(a, b.inner));
  if (a.kind === "Nullable") return "lossy";

  // Anything can be CAST to String; the value survives as text, but it is now text.
  // FixedString -> String keeps the exact bytes (padding included), so that is widening.
  if (isName(b, "String")) return a.kind === "FixedString" ? "widening" : "conversion";
  // A longer FixedString pads values with more zero bytes: the bytes change. Shorter truncates.
  if (a.kind === "FixedString" && b.kind === "FixedString") return b.length > a.length ? "conversion" : "lossy";
  // Text parsed into anything else can fail (not a number, not a date, unknown label).
  if (isName(a, "String") || a.kind === "FixedString") return "lossy";

  // Integers: widening exactly when the target range contains the source range, which gives
  // IntN -> IntM (M > N), UIntN -> UIntM (M > N), UIntN -> IntM (M > N); IntN -> UIntM loses negatives.
  const ai = a.kind === "name" ? intRange(a.name) : null;
  const bi = b.kind === "name" ? intRange(b.name) : null;
  if (ai && bi) return contains(bi, ai) ? "widening" : "lossy";

  // Int -> Float: exact as long as the integers fit in the mantissa (Int8/16 and UInt8/16 in
  // Float32, up to 32 bits in Float64); beyond that large values get rounded.
  if (ai && b.kind === "name" && FLOAT_EXACT[b.name]) return contains(FLOAT_EXACT[b.name] as IntRange, ai) ? "widening" : "lossy";
  // Float32 values are all exact Float64 values; the reverse rounds.
  if (isName(a, "Float32") && isName(b, "Float64")) return "widening";
  // Floats into integers or decimals drop fractions, NaN and infinities.
  if (isName(a, "Float32", "Float64", "BFloat16")) return "lossy";

  // Int -> Decimal(P, S): exact when the P - S integer digits hold every value of the int.
  if (ai && b.kind === "Decimal") {
    return Math.max(digits(ai.min), digits(ai.max)) <= b.precision - b.scale ? "widening" : "lossy";
  }
  // Decimal(P, S) -> Decimal(P', S'): exact when neither integer digits (P - S) nor
  // fraction digits (S) shrink; this includes the common Decimal(P, S) -> Decimal(P', S), P' > P.
  if (a.kind === "Decimal" && b.kind === "Decimal") {
    return b.precision - b.scale >= a.precision - a.scale && b.scale >= a.scale ? "widening" : "lossy";
  }
  // Decimals into floats round, into integers drop the fraction.
  if (a.kind === "Decimal") return "lossy";

  // Bool is stored as UInt8 0/1: every value fits any number type, but true/false becomes 1/0.
  if (isName(a, "Bool")) return bi || isName(b, "Float32", "Float64") || b.kind === "Decimal" ? "conversion" : "lossy";
  // Numbers other than 0/1 have no Bool value.
  if (isName(b, "Bool")) return "lossy";

  // Enums: existing labels must keep their numbers (stored values are the numbers); then
  // adding labels or going from Enum8 to Enum16 keeps every value. A removed or renumbered
  // label leaves rows without a valid value.
  if (a.kind === "Enum" && b.kind === "Enum") {
    const target = new Map(b.values.map((v) => [v.label, v.value]));
    return a.values.every((v) => target.get(v.label) === v.value) ? "widening" : "lossy";
  }
  // Enum -> integer gives the label's number: all labels convert when the numbers fit.
  if (a.kind === "Enum" && bi) {
    return a.values.every((v) => BigInt(v.value) >= bi.min && BigInt(v.value) <= bi.max) ? "conversion" : "lossy";
  }

  // Date -> Date32: Date32 covers a wider range of days (1900..2299 vs 1970..2149).
  if (isName(a, "Date") && isName(b, "Date32")) return "widening";
  // DateTime -> DateTime64(p): the same instants with sub-second precision; DateTime64(9)
  // only reaches 2262, still past DateTime's 2106. Timezones must match or the displayed
  // value changes, which is a conversion.
  if (a.kind === "DateTime" && b.kind === "DateTime64") return a.timezone === b.timezone ? "widening" : "conversion";
  // Only the timezone changes: the stored instant is the same but reads show another wall clock.
  if (a.kind === "DateTime" && b.kind === "DateTime") return "conversion";
  // DateTime64(p) -> DateTime64(q): more digits keep every tick, except that precision 9 only
  // reaches 2262 while lower precisions reach 2299. Fewer digits truncate.
  if (a.kind === "DateTime64" && b.kind === "DateTime64") {
    if (b.precision < a.precision || (b.precision === 9 && a.precision < 9)) return "lossy";
    return a.timezone === b.timezone && b.precision > a.precision ? "widening" : "conversion";
  }
  // Date/Date32 -> DateTime64(p < 9): every day fits (1900..2299) but becomes midnight in a timezone.
  if (isName(a, "Date", "Date32") && b.kind === "DateTime64") return b.precision < 9 ? "conversion" : "lossy";
  // Date -> DateTime: Date reaches 2149 but DateTime ends in 2106, so late dates overflow.
  // Date32 -> DateTime also loses the years before 1970.
  // DateTime64 -> DateTime drops sub-seconds and years outside 1970..2106; DateTime -> Date drops the time.
  // Date/time -> integer: the stored number (days/seconds/ticks) comes out when the int holds it.
  const at = temporalStorage(a);
  if (at && bi) return contains(bi, at) ? "conversion" : "lossy";

  // Containers: the worst of their parts; a container change that is "same" inside cannot happen here.
  if (a.kind === "Array" && b.kind === "Array") return classify(a.element, b.element);
  if (a.kind === "Map" && b.kind === "Map") return worst(classify(a.key, b.key), classify(a.value, b.value));
  if (a.kind === "Tuple" && b.kind === "Tuple") {
    // ClickHouse cannot CAST tuples of different sizes.
    if (a.elements.length !== b.elements.length) return "lossy";
    const parts = a.elements.map((e, i) => classify(e.type, (b.elements[i] as TupleElement).type));
    // Renamed elements keep their values but change how they are addressed (`t.name`).
    const renamed = a.elements.some((e, i) => e.name !== (b.elements[i] as TupleElement).name);
    return worst(...parts, renamed ? "conversion" : "same");
  }
  if (a.kind === "Nested" && b.kind === "Nested") {
    if (a.fields.length !== b.fields.length || a.fields.some((f, i) => f.name !== (b.fields[i] as NamedField).name)) return "lossy";
    return worst(...a.fields.map((f, i) => classify(f.type, (b.fields[i] as NamedField).type)));
  }
  // SimpleAggregateFunction stores plain values: with the same function it is just its type.
  // A different function keeps the stored values but merges rows differently from now on.
  if (a.kind === "AggregateFunction" && b.kind === "AggregateFunction" && a.simple && b.simple) {
    const [ta] = a.args;
    const [tb] = b.args;
    if (a.args.length !== 1 || b.args.length !== 1 || !ta || !tb) return "lossy";
    return worst(classify(ta, tb), canonicalFunction(a) === canonicalFunction(b) ? "same" : "conversion");
  }
  // Wrapping a plain column in SimpleAggregateFunction, or unwrapping it, keeps the values
  // but changes how rows merge (ClickHouse only merges SimpleAggregateFunction columns).
  if (a.kind === "AggregateFunction" && a.simple && a.args.length === 1 && b.kind !== "AggregateFunction") {
    return worst(classify(a.args[0] as ClickHouseType, b), "conversion");
  }
  if (b.kind === "AggregateFunction" && b.simple && b.args.length === 1 && a.kind !== "AggregateFunction") {
    return worst(classify(a, b.args[0] as ClickHouseType), "conversion");
  }
  // AggregateFunction states are opaque binary blobs specific to the function and its
  // argument types: they cannot be converted at all.

  // IPv4 -> IPv6: every address maps to ::ffff:a.b.c.d, a different representation.
  if (isName(a, "IPv4") && isName(b, "IPv6")) return "conversion";

  // Everything else (UUID -> Int, JSON -> Map, unknown types, ...) is assumed to fail for
  // some values: unknown means we cannot promise safety.
  return "lossy";
}

function canonicalFunction(t: Extract<ClickHouseType, { kind: "AggregateFunction" }>): string {
  return formatClickHouseType({ ...t, args: [] });
}

/** Scalar types a row-by-row conversion check can reason about (after Nullable / LowCardinality). */
function checkableScalar(t: ClickHouseType): boolean {
  switch (t.kind) {
    case "Nullable":
    case "LowCardinality":
      return checkableScalar(t.inner);
    case "name":
      return !["JSON", "Object", "Dynamic", "Variant", "Nothing"].includes(t.name);
    case "DateTime":
    case "DateTime64":
    case "Decimal":
    case "FixedString":
    case "Enum":
      return true;
    default:
      return false;
  }
}

/**
 * Whether a pre-flight check can find, row by row, the values of a column of type
 * `before` that would not survive the change to `after` (both scalar, possibly
 * Nullable or LowCardinality). Composite types and aggregate states cannot be checked
 * that way; changing them loses data without warning, so they keep needing an approval.
 *
 * @example conversionCheckable("Int64", "Int8") // true
 * @example conversionCheckable("Array(Int64)", "Array(Int8)") // false
 */
export function conversionCheckable(before: string, after: string): boolean {
  try {
    return checkableScalar(parseClickHouseType(before)) && checkableScalar(parseClickHouseType(after));
  } catch {
    return false;
  }
}
