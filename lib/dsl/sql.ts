import { InvalidInputError } from "../errors.js";
import { quoteIdentifier } from "../model/clickhouse-quote.js";

/**
 * `sql` tagged template, as in moose-lib. What this library made is inlined: a table,
 * view, stream or `table.columns.x` becomes its quoted identifier, a nested `sql`
 * fragment (also `sql.join`, `sql.raw`) its text. Everything else is a value and becomes
 * a typed query parameter `{pN:Type}` that ClickHouse binds, so no value ever becomes SQL
 * text. "Made by this library" is a registration at construction, not a shape: an object
 * parsed from JSON can look like a column or a fragment, and is still only a value
 * (refused, since an object is no ClickHouse parameter).
 *
 * @example
 * sql`SELECT ${events.columns.userId}, count() FROM ${events} WHERE kind IN ${kinds} GROUP BY 1`
 */
export interface Sql {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
  readonly isFragment?: boolean;
  toString(): string;
}

/** A value bound with a type its author chose: `sql.typed("Array(UInt32)", ids)`. */
export interface TypedParameter {
  readonly type: string;
  readonly value: unknown;
}

export interface SqlTemplateTag {
  (strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** A complete statement (moose-lib's newer spelling of `sql`). */
  statement(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** A fragment to interpolate into another statement. */
  fragment(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** Joins fragments with `separator` (default `", "`); items that are not fragments are bound as values. */
  join(fragments: readonly unknown[], separator?: string): Sql;
  /** Raw SQL text, not parameterised: never pass it anything a request supplied. */
  raw(text: string): Sql;
  /**
   * A value bound as the ClickHouse type `type` instead of the type read from the value.
   *
   * @example sql`SELECT * FROM ${events} WHERE id IN ${sql.typed("Array(UInt64)", ids)}`
   */
  typed(type: string, value: unknown): TypedParameter;
}

/**
 * What the server binding the parameters understands, a subset of the engine's
 * capabilities: without `Bool` (before 21.12) booleans bind as `UInt8`, without
 * `DateTime64` (before 20.1) dates as `DateTime('UTC')`, whole seconds.
 */
export interface ParameterDialect {
  readonly boolType: boolean;
  readonly dateTime64: boolean;
}

/** chDB and any server from 21.12 on. */
const CURRENT: ParameterDialect = { boolType: true, dateTime64: true };

/** A name as a backquoted ClickHouse identifier (the one quoting rule: `lib/engines/olap/sql-text.ts`). */
export { quoteIdentifier };

// The brands. Module-private and keyed by object identity: JSON.parse, a spread or
// structuredClone of a branded object gives an object none of these know.
const fragments = new WeakSet<object>();
const identifiers = new WeakMap<object, () => string>();
const typedParameters = new WeakMap<object, TypedParameter>();
/** Declared types of API parameters, by the array the request's values arrived in (see {@link declareParameterType}). */
const declaredTypes = new WeakMap<object, ParameterType>();

/**
 * Registers a declaration (table, view, stream, column reference) as interpolable into
 * `sql`: it renders as the quoted `name()`. Called by the dsl classes' constructors only.
 */
export function sqlIdentifier<T extends object>(object: T, name: () => string): T {
  identifiers.set(object, name);
  return object;
}

/** The physical name: a versioned table or topic is `<name>_<version with . → _>`, as the planner creates it. */
export function physicalName(name: string, version: unknown): string {
  return typeof version === "string" && version !== "" ? `${name}_${version.replace(/\./g, "_")}` : name;
}

// ---------------------------------------------------------------------------
// Parameter types

/** A parameter's ClickHouse type while it is read from a value; `element: undefined` is an empty array's unknown element. */
type ParameterType =
  | { readonly kind: "scalar"; readonly name: string; readonly nullable: boolean }
  | { readonly kind: "array"; readonly element: ParameterType | undefined }
  | { readonly kind: "null" };

const scalar = (name: string): ParameterType => ({ kind: "scalar", name, nullable: false });

function typeText(t: ParameterType | undefined): string {
  if (t === undefined) return "String";
  switch (t.kind) {
    case "scalar":
      return t.nullable ? `Nullable(${t.name})` : t.name;
    case "array":
      return `Array(${typeText(t.element)})`;
    case "null":
      return "Nullable(String)";
  }
}

class ParameterError extends InvalidInputError {
  constructor(message: string, hint?: string) {
    super("SQL_PARAMETER", message, hint === undefined ? {} : { hint });
  }
}

const VALUE_HINT =
  "interpolate strings, numbers, bigints, booleans, Dates, null or arrays of them; tables, columns and sql fragments only as this library made them; `sql.typed(type, value)` for another type";

/** The common type of two array elements (numbers widen to Float64), or an error naming both. */
function unify(a: ParameterType | undefined, b: ParameterType | undefined, at: string): ParameterType | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.kind === "null") return unify(b, a, at);
  if (a.kind === "scalar" && b.kind === "null") return { ...a, nullable: true };
  if (a.kind === "scalar" && b.kind === "scalar") {
    const nullable = a.nullable || b.nullable;
    if (a.name === b.name) return { ...a, nullable };
    const pair = new Set([a.name, b.name]);
    if (pair.has("Float64") && (pair.has("Int64") || pair.has("UInt64"))) return { kind: "scalar", name: "Float64", nullable };
    if (pair.has("Int64") && pair.has("UInt64")) return { kind: "scalar", name: "UInt64", nullable };
  }
  if (a.kind === "array" && b.kind === "array") return { kind: "array", element: unify(a.element, b.element, `${at}[]`) };
  if (a.kind === "array" && b.kind === "null") throw new ParameterError(`${at}: an array of arrays cannot hold null (ClickHouse has no Nullable(Array))`, VALUE_HINT);
  throw new ParameterError(`${at}: an array mixing ${typeText(a)} and ${typeText(b)} values has no ClickHouse type`, VALUE_HINT);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
// DateTime64(3) and DateTime value ranges; ClickHouse clamps or wraps values outside them silently.
const DATETIME64_RANGE = [Date.UTC(1900, 0, 1), Date.UTC(2299, 11, 31, 23, 59, 59, 999)] as const;
const DATETIME_RANGE = [Date.UTC(1970, 0, 1), Date.UTC(2106, 1, 7, 6, 28, 15)] as const;

interface Bound {
  readonly type: ParameterType;
  readonly value: unknown;
}

/**
 * The ClickHouse type of a value and what to hand the driver: numbers and strings as
 * they are, except where the drivers would lose or refuse something (an integer past
 * 2^53 goes as a bigint, whose digits both drivers write exactly; a Date as UTC text,
 * which both drivers pass alike; a boolean as 1/0 for a server without Bool).
 */
function bind(value: unknown, dialect: ParameterDialect, at: string, declared?: ParameterType): Bound {
  if (value === null) return { type: { kind: "null" }, value: null };
  switch (typeof value) {
    case "string":
      if (declared?.kind === "scalar" && (declared.name === "Int64" || declared.name === "UInt64") && /^[+-]?\d+$/.test(value)) {
        // A 64-bit integer past 2^53 arrives as digits (JSON numbers would round it).
        const n = BigInt(value);
        if (n >= INT64_MIN && n <= UINT64_MAX) return { type: scalar(n > INT64_MAX || declared.name === "UInt64" ? "UInt64" : "Int64"), value: n };
      }
      return { type: scalar("String"), value };
    case "number":
      if (!Number.isFinite(value)) throw new ParameterError(`${at}: ${value} is not a number ClickHouse parameters take`, "check the value before the query: it is usually a failed Number(...) parse");
      if (Number.isSafeInteger(value)) return { type: scalar("Int64"), value: value === 0 ? 0 : value };
      return { type: scalar("Float64"), value: Number.isInteger(value) ? BigInt(value) : value };
    case "bigint":
      if (value >= INT64_MIN && value <= INT64_MAX) return { type: scalar("Int64"), value };
      if (value >= 0n && value <= UINT64_MAX) return { type: scalar("UInt64"), value };
      throw new ParameterError(`${at}: ${value} is outside the 64-bit integer range`, 'use sql.typed("Int128", value) or sql.typed("Int256", value)');
    case "boolean":
      return dialect.boolType ? { type: scalar("Bool"), value } : { type: scalar("UInt8"), value: value ? 1 : 0 };
    case "undefined":
      throw new ParameterError(`${at}: undefined cannot be a query parameter (an optional API parameter that was not given?)`, "give it a default, or pass `value ?? null` to bind NULL");
  }
  if (value instanceof Date) return bindDate(value, dialect, at);
  if (Array.isArray(value)) return bindArray(value, dialect, at, declared ?? declaredTypes.get(value));
  const what = typeof value === "object" ? (Object.getPrototypeOf(value) === Object.prototype ? "a plain object" : `a ${value.constructor?.name ?? "null-prototype"} object`) : `a ${typeof value}`;
  throw new ParameterError(`${at}: ${what} is neither a query parameter value nor something this library made`, VALUE_HINT);
}

function bindDate(date: Date, dialect: ParameterDialect, at: string): Bound {
  const ms = date.getTime();
  const [min, max] = dialect.dateTime64 ? DATETIME64_RANGE : DATETIME_RANGE;
  if (Number.isNaN(ms)) throw new ParameterError(`${at}: an invalid Date cannot be a query parameter`);
  const type = dialect.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
  if (ms < min || ms > max) throw new ParameterError(`${at}: ${date.toISOString()} is outside the range of ${type}, ${new Date(min).toISOString()} to ${new Date(max).toISOString()}`);
  // UTC text with the zone in the type: the server's own time zone never shifts it.
  const text = date.toISOString().replace("T", " ");
  return { type: scalar(type), value: dialect.dateTime64 ? text.slice(0, 23) : text.slice(0, 19) };
}

/** A declared type as this server binds it: `Bool` is `UInt8` before 21.12. */
function forDialect(t: ParameterType | undefined, dialect: ParameterDialect): ParameterType | undefined {
  if (t === undefined || dialect.boolType) return t;
  if (t.kind === "scalar" && t.name === "Bool") return { ...t, name: "UInt8" };
  return t.kind === "array" ? { kind: "array", element: forDialect(t.element, dialect) } : t;
}

function bindArray(items: readonly unknown[], dialect: ParameterDialect, at: string, declared: ParameterType | undefined): Bound {
  const element = declared?.kind === "array" ? forDialect(declared.element, dialect) : undefined;
  let type: ParameterType | undefined;
  const value = items.map((item, i) => {
    const bound = bind(item, dialect, `${at}[${i}]`, element);
    type = unify(type, bound.type, `${at}[${i}]`);
    return bound.value;
  });
  // The declared type decides what the values alone cannot: an empty array, Float64 for whole numbers.
  if (element !== undefined) {
    try {
      type = unify(element, type, at);
    } catch {
      // The handler put other values in the array than the API declares: the values decide.
    }
  }
  return { type: { kind: "array", element: type }, value };
}

/**
 * Marks an array of request values with the type its API parameter declares (an
 * `Array(...)` of String, Int64, UInt64, Float64 or Bool, possibly Nullable), so binding
 * it does not depend on what the request happened to send. Type texts outside that
 * grammar are ignored: only the shapes this module writes can reach the SQL text.
 */
export function declareParameterType(value: readonly unknown[], type: string): void {
  const parsed = parseParameterType(type.replace(/\s+/g, ""));
  if (parsed?.kind === "array") declaredTypes.set(value, parsed);
}

const DECLARABLE = new Set(["String", "Int64", "UInt64", "Float64", "Bool"]);

function parseParameterType(text: string): ParameterType | undefined {
  if (text.startsWith("Array(") && text.endsWith(")")) {
    const element = parseParameterType(text.slice(6, -1));
    return element === undefined ? undefined : { kind: "array", element };
  }
  if (text.startsWith("Nullable(") && text.endsWith(")")) {
    const inner = parseParameterType(text.slice(9, -1));
    return inner?.kind === "scalar" ? { ...inner, nullable: true } : undefined;
  }
  return DECLARABLE.has(text) ? scalar(text) : undefined;
}

/**
 * A type a `sql.typed` author may give: a name, with arguments of names, numbers and
 * simple quoted strings (`DateTime64(3, 'Europe/Berlin')`). Never a `}` or a quote
 * that could end the placeholder or open a string.
 */
const TYPE_TEXT = /^[A-Za-z][A-Za-z0-9_]*(?:\((?:[A-Za-z0-9_ ,()]|'[A-Za-z0-9_/+\-:. ]*')*\))?$/;

function checkTypeText(type: unknown): string {
  let depth = 0;
  for (const ch of typeof type === "string" ? type.replace(/'[^']*'/g, "") : "") {
    if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) break;
  }
  if (typeof type !== "string" || !TYPE_TEXT.test(type) || depth !== 0) {
    throw new ParameterError(`sql.typed: ${JSON.stringify(String(type)).slice(0, 80)} is not a ClickHouse type`, 'write a type such as "Array(UInt32)" or "DateTime64(3, \'UTC\')"');
  }
  return type;
}

// ---------------------------------------------------------------------------
// Rendering

/**
 * The query text with `{pN:Type}` placeholders, and the parameter values. Values are
 * typed by what they are (README "Query parameters"); `dialect` says which types the
 * server binding them has (the engine's capabilities; chDB's by default).
 *
 * @example toQuery(sql`SELECT * FROM ${events} WHERE n > ${3} AND tag IN ${["a", "b"]}`)
 * // ["SELECT * FROM `events` WHERE n > {p0:Int64} AND tag IN {p1:Array(String)}", { p0: 3, p1: ["a", "b"] }]
 */
export function toQuery(query: Sql, dialect: ParameterDialect = CURRENT): [string, Record<string, unknown>] {
  if (!fragments.has(query)) {
    throw new ParameterError("toQuery: the query is not a sql`...` template made by this library", "build it with sql`...` (or sql.statement, sql.fragment, sql.join, sql.raw)");
  }
  const params: Record<string, unknown> = {};
  let n = 0;
  const render = (q: Sql): string => {
    let out = q.strings[0] ?? "";
    q.values.forEach((v, i) => {
      out += inline(v) ?? placeholder(v);
      out += q.strings[i + 1] ?? "";
    });
    return out;
  };
  const inline = (v: unknown): string | undefined => {
    if (typeof v !== "object" || v === null) return undefined;
    if (fragments.has(v)) return render(v as Sql);
    const name = identifiers.get(v);
    return name === undefined ? undefined : quoteIdentifier(name());
  };
  const placeholder = (v: unknown): string => {
    const key = `p${n++}`;
    const typed = typeof v === "object" && v !== null ? typedParameters.get(v) : undefined;
    if (typed !== undefined) {
      params[key] = typed.value;
      return `{${key}:${typed.type}}`;
    }
    const bound = bind(v, dialect, `sql parameter ${key}`);
    params[key] = bound.value;
    return `{${key}:${typeText(bound.type)}}`;
  };
  return [render(query), params];
}

function make(strings: readonly string[], values: readonly unknown[], isFragment: boolean | undefined): Sql {
  if (!Array.isArray(strings) || strings.length !== values.length + 1 || strings.some((s) => typeof s !== "string")) {
    throw new ParameterError(`sql: expected ${values.length + 1} text pieces around ${values.length} values`, "call sql as a tagged template: sql`...`");
  }
  const q: Sql = Object.freeze({
    strings: Object.freeze([...strings]),
    values: Object.freeze([...values]),
    ...(isFragment === undefined ? {} : { isFragment }),
    toString: () => toQuery(q)[0],
  });
  fragments.add(q);
  return q;
}

function typed<T extends object>(carrier: T, type: string, value: unknown): T {
  typedParameters.set(carrier, { type: checkTypeText(type), value });
  return Object.freeze(carrier) as T;
}

/**
 * moose-lib's `[type, value]` pair (what its `ApiHelpers` return), as a frozen array
 * registered like `sql.typed`: a plain `[type, value]` array is only ever an Array value.
 */
export function typedPair(type: string, value: string): [string, string] {
  return typed([type, value] as [string, string], type, value) as [string, string];
}

/**
 * moose-lib's `Sql` is a class, and apps import it as a value (`import { Sql, sql } from
 * "@514labs/moose-lib"`, then use it as a type): the value exists so that such an import
 * loads, and `x instanceof Sql` is true for what `sql` made. It constructs nothing: use `sql`.
 */
export const Sql: { readonly [Symbol.hasInstance]: (value: unknown) => boolean } = Object.freeze({
  [Symbol.hasInstance]: (value: unknown): boolean => typeof value === "object" && value !== null && fragments.has(value),
});

export const sql: SqlTemplateTag = Object.assign((strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, undefined), {
  statement: (strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, false),
  fragment: (strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, true),
  join: (items: readonly unknown[], separator = ", ") =>
    make(items.length === 0 ? [""] : ["", ...items.slice(1).map(() => String(separator)), ""], items, true),
  raw: (text: string) => make([String(text)], [], true),
  typed: (type: string, value: unknown): TypedParameter => typed({ type, value }, type, value),
});
