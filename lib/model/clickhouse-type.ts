import { InvalidInputError } from "../errors.js";
import { quoteName, quoteString, readQuoted, TypeSyntaxError } from "./clickhouse-quote.js";

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


const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);

const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

const isDigit = (c: string): boolean => c >= "0" && c <= "9";

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
