import { isIP, isIPv4 } from "node:net";
import { formatClickHouseType, parseClickHouseType, type ClickHouseType } from "../model/clickhouse-type.js";
import type { Column } from "../model/infra-map.js";

/**
 * Checks JSON values against ClickHouse column types before anything is written, so a
 * request is accepted or refused as a whole. The checks follow what ClickHouse's
 * JSONEachRow input accepts for each type (with `date_time_input_format=best_effort`),
 * and the errors name the field (`addr.zip`, `tags[2]`, `[3].id` in an array body).
 *
 * @example
 * const { rows, errors } = validateRows(body, table.columns);
 * if (errors.length > 0) return sendJson(res, 400, { error: "invalid rows", errors });
 */
export interface FieldError {
  /** Where: `name`, `addr.zip`, `tags[2]`; in an array body prefixed with the row, `[3].name`. Empty for the body itself. */
  readonly path: string;
  readonly reason: string;
}

export interface RowsValidation {
  /** The rows, ready to write (a `Nested` value given as one object becomes a one-element array). */
  readonly rows: Array<Record<string, unknown>>;
  /** The first `maxErrors` problems; empty when every row is valid. */
  readonly errors: FieldError[];
  /** How many problems there were in all (may exceed `errors.length`). */
  readonly errorCount: number;
}

export interface ValidateOptions {
  /** Keep at most this many errors (default 100); counting goes on. */
  readonly maxErrors?: number;
}

/** Collects errors up to a limit. */
class Errors {
  readonly list: FieldError[] = [];
  count = 0;
  constructor(private readonly max: number) {}
  add(path: string, reason: string): void {
    this.count += 1;
    if (this.list.length < this.max) this.list.push({ path, reason });
  }
}

/** Checks one value at `path`, reports problems, returns the value to write. */
type Check = (value: unknown, path: string, errors: Errors) => unknown;

interface FieldCheck {
  readonly name: string;
  readonly check: Check;
  /** May be absent: Nullable, has a DEFAULT, or a container ClickHouse fills with an empty value. */
  readonly optional: boolean;
  readonly typeText: string;
  /** MATERIALIZED or ALIAS: ClickHouse computes it and refuses a value, so a value sent is left out of the row. */
  readonly computed?: boolean;
}

/**
 * Validates a request body: one object or an array of objects, each against `columns`.
 * Every row is checked before the result is returned, so callers write all or nothing.
 *
 * @example validateRows([{ id: "a" }, { id: 1 }], [{ name: "id", type: "String" }]).errors
 * // [{ path: "[1].id", reason: "expected String (a string), got the number 1" }]
 */
export function validateRows(body: unknown, columns: readonly Column[], options: ValidateOptions = {}): RowsValidation {
  const errors = new Errors(options.maxErrors ?? 100);
  const check = rowCheck(columns);
  const rows: Array<Record<string, unknown>> = [];
  if (Array.isArray(body)) {
    body.forEach((row, i) => {
      const out = check(row, `[${i}]`, errors);
      if (isObject(out)) rows.push(out);
    });
  } else if (isObject(body)) {
    const out = check(body, "", errors);
    if (isObject(out)) rows.push(out);
  } else {
    errors.add("", `expected a JSON object or an array of objects, got ${describe(body)}`);
  }
  return { rows: errors.count === 0 ? rows : [], errors: errors.list, errorCount: errors.count };
}

/**
 * Validates one object against `columns` (a record read from a topic, say); `path`
 * prefixes the field paths. `row` is the value to write, present only when valid.
 *
 * @example validateRow({ zip: 1 }, [{ name: "zip", type: "String" }]).errors
 * // [{ path: "zip", reason: "expected String (a string), got the number 1" }]
 */
export function validateRow(value: unknown, columns: readonly Column[], path = ""): { readonly row?: Record<string, unknown>; readonly errors: FieldError[] } {
  const errors = new Errors(100);
  const out = rowCheck(columns)(value, path, errors);
  return errors.count === 0 && isObject(out) ? { row: out, errors: [] } : { errors: errors.list };
}

/** Compiled row checks by column list: types are parsed once per table or API, not per request. */
const compiled = new WeakMap<readonly Column[], Check>();

function rowCheck(columns: readonly Column[]): Check {
  let check = compiled.get(columns);
  if (check === undefined) {
    check = objectCheck(
      columns.map((c) => {
        const type = parseClickHouseType(c.type);
        const check = c.oneOf === undefined ? typeCheck(type) : oneOfCheck(typeCheck(type), c.oneOf);
        const computed = c.materialized !== undefined || c.alias !== undefined;
        return { name: c.name, check, optional: computed || c.default !== undefined || mayBeAbsent(type), typeText: c.type, ...(computed ? { computed } : {}) };
      }),
      "an object",
    );
    compiled.set(columns, check);
  }
  return check;
}

// ---------------------------------------------------------------------------
// Query parameters

export interface QueryParamsResult {
  readonly params: Record<string, unknown>;
  readonly errors: FieldError[];
}

/**
 * Turns query parameters into a typed object by the API's parameter columns: numbers,
 * booleans (`true`/`false`/`1`/`0`), arrays from repeated keys (`?tag=a&tag=b`), and
 * then validates it like a row. Parameters the API does not declare are errors.
 *
 * @example coerceQueryParams(new URLSearchParams("limit=10&tag=a&tag=b"), columns).params // { limit: 10, tag: ["a", "b"] }
 */
export function coerceQueryParams(search: URLSearchParams, columns: readonly Column[]): QueryParamsResult {
  const params: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const key of new Set(search.keys())) {
    if (!byName.has(key)) {
      errors.push({ path: key, reason: `unknown parameter; ${expectedList(columns.map((c) => c.name), "parameters")}` });
    }
  }
  for (const column of columns) {
    const values = search.getAll(column.name);
    if (values.length === 0) continue;
    const type = unwrap(parseClickHouseType(column.type));
    if (type.kind === "Array") {
      params[column.name] = values.map((v) => coerceText(v, type.element));
    } else if (values.length > 1) {
      errors.push({ path: column.name, reason: `expected one value, got ${values.length} (repeat a parameter only for arrays)` });
    } else {
      params[column.name] = coerceText(values[0] as string, type);
    }
  }
  if (errors.length > 0) return { params, errors };
  const checked = new Errors(100);
  const out = rowCheck(columns)(params, "", checked);
  return { params: isObject(out) ? out : params, errors: checked.list };
}

/** Nullable / LowCardinality / SimpleAggregateFunction wrappers don't change how a parameter is written. */
function unwrap(t: ClickHouseType): ClickHouseType {
  if (t.kind === "Nullable" || t.kind === "LowCardinality") return unwrap(t.inner);
  if (t.kind === "AggregateFunction" && t.simple && t.args.length === 1) return unwrap(t.args[0] as ClickHouseType);
  return t;
}

/** The JSON value a query-string text stands for; texts that are not one stay strings and fail validation with their text. */
function coerceText(text: string, type: ClickHouseType): unknown {
  const t = unwrap(type);
  if (t.kind === "name") {
    const range = INTEGER_RANGES[t.name];
    if (range !== undefined) {
      if (!/^[+-]?\d+$/.test(text)) return text;
      const n = Number(text);
      // 64-bit values stay strings past 2^53 (the validator accepts them as strings).
      return Number.isSafeInteger(n) ? n : text;
    }
    if (FLOAT_TYPES.has(t.name)) return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : text;
    if (t.name === "Bool" || t.name === "Boolean") {
      if (text === "true" || text === "1") return true;
      if (text === "false" || text === "0") return false;
      return text;
    }
  }
  // A decimal stays text when a JS number would round it.
  if (t.kind === "Decimal") return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) && text.replace(/[^0-9]/g, "").replace(/^0+/, "").length <= 15 ? Number(text) : text;
  if (t.kind === "Enum" && /^-?\d+$/.test(text) && !t.values.some((v) => v.label === text)) return Number(text);
  if (t.kind === "Map" || t.kind === "Tuple" || t.kind === "Nested" || (t.kind === "name" && t.name === "JSON")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

// ---------------------------------------------------------------------------
// Type checks

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** How a value is described in a message. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case "number":
      return `the number ${value}`;
    case "boolean":
      return `the boolean ${value}`;
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function fieldPath(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

function keyPath(path: string, key: string): string {
  const safe = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return path === "" ? safe.replace(/^\./, "") : path + safe;
}

function expectedList(names: readonly string[], what: string): string {
  if (names.length === 0) return `there are no ${what}`;
  const shown = names.slice(0, 20).join(", ");
  return `expected ${what}: ${shown}${names.length > 20 ? ", …" : ""}`;
}

/** The type as shown in messages: its text, or its kind when the text is long. */
function label(t: ClickHouseType): string {
  const text = formatClickHouseType(t);
  if (text.length <= 40) return text;
  return t.kind === "name" || t.kind === "generic" ? text.slice(0, 40) + "…" : t.kind === "Enum" ? `Enum${t.bits}` : t.kind;
}

function mayBeAbsent(t: ClickHouseType): boolean {
  switch (t.kind) {
    case "Nullable":
    case "Array":
    case "Map":
    case "Nested":
      return true;
    case "LowCardinality":
      return mayBeAbsent(t.inner);
    case "AggregateFunction":
      return t.simple && t.args.length === 1 && mayBeAbsent(t.args[0] as ClickHouseType);
    default:
      return false;
  }
}

function expect(t: ClickHouseType, what: string): (value: unknown, path: string, errors: Errors) => void {
  const name = label(t);
  return (value, path, errors) => errors.add(path, `expected ${name} (${what}), got ${describe(value)}`);
}

const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = (() => {
  const out: Record<string, readonly [bigint, bigint]> = {};
  for (const bits of [8, 16, 32, 64, 128, 256]) {
    const b = BigInt(bits);
    out[`Int${bits}`] = [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n];
    out[`UInt${bits}`] = [0n, (1n << b) - 1n];
  }
  return out;
})();

const FLOAT_TYPES = new Set(["Float32", "Float64", "BFloat16"]);

/** Geometry types are aliases of tuples and arrays: checked as what they stand for. */
const GEOMETRY: Readonly<Record<string, string>> = {
  Point: "Tuple(Float64, Float64)",
  Ring: "Array(Tuple(Float64, Float64))",
  LineString: "Array(Tuple(Float64, Float64))",
  MultiLineString: "Array(Array(Tuple(Float64, Float64)))",
  Polygon: "Array(Array(Tuple(Float64, Float64)))",
  MultiPolygon: "Array(Array(Array(Tuple(Float64, Float64))))",
};

const anything: Check = (value) => value;

function typeCheck(t: ClickHouseType): Check {
  switch (t.kind) {
    case "name":
      return nameCheck(t);
    case "DateTime":
      return dateTimeCheck(t, DATETIME_MIN, DATETIME_MAX);
    case "DateTime64":
      return dateTimeCheck(t, DATETIME64_MIN, t.precision === 9 ? DATETIME64_9_MAX : DATETIME64_MAX);
    case "Decimal":
      return decimalCheck(t);
    case "FixedString": {
      const fail = expect(t, `a string of at most ${t.length} bytes`);
      return (v, path, errors) => {
        if (typeof v !== "string" || Buffer.byteLength(v) > t.length) fail(v, path, errors);
        return v;
      };
    }
    case "Nullable": {
      const inner = typeCheck(t.inner);
      return (v, path, errors) => (v === null ? null : inner(v, path, errors));
    }
    case "LowCardinality":
      return typeCheck(t.inner);
    case "Array": {
      const element = typeCheck(t.element);
      const fail = expect(t, "an array");
      return (v, path, errors) => {
        if (!Array.isArray(v)) {
          fail(v, path, errors);
          return v;
        }
        return v.map((e, i) => element(e, `${path}[${i}]`, errors));
      };
    }
    case "Map":
      return mapCheck(t);
    case "Tuple":
      return tupleCheck(t);
    case "Nested": {
      const element = objectCheck(
        t.fields.map((f) => ({ name: f.name, check: typeCheck(f.type), optional: mayBeAbsent(f.type), typeText: formatClickHouseType(f.type) })),
        "an object",
      );
      const fail = expect(t, "an array of objects, or one object");
      return (v, path, errors) => {
        // A nested interface (one object in TypeScript) is a Nested column, stored as an array of rows.
        if (isObject(v)) return [element(v, path, errors)];
        if (!Array.isArray(v)) {
          fail(v, path, errors);
          return v;
        }
        return v.map((e, i) => element(e, `${path}[${i}]`, errors));
      };
    }
    case "Enum": {
      const labels = new Set(t.values.map((v) => v.label));
      const numbers = new Set(t.values.map((v) => v.value));
      const fail = expect(t, `one of ${t.values.map((v) => JSON.stringify(v.label)).join(", ")}`);
      return (v, path, errors) => {
        if (!((typeof v === "string" && labels.has(v)) || (typeof v === "number" && numbers.has(v)))) fail(v, path, errors);
        return v;
      };
    }
    case "AggregateFunction":
      // SimpleAggregateFunction stores the plain value; AggregateFunction states are opaque (ClickHouse decides).
      return t.simple && t.args.length === 1 ? typeCheck(t.args[0] as ClickHouseType) : anything;
    case "generic":
      if (t.name === "JSON" || t.name === "Object") return jsonCheck(t);
      return anything;
  }
}

function nameCheck(t: Extract<ClickHouseType, { kind: "name" }>): Check {
  const name = t.name;
  const range = INTEGER_RANGES[name];
  if (range !== undefined) return integerCheck(t, range);
  if (FLOAT_TYPES.has(name)) {
    const fail = expect(t, "a number");
    return (v, path, errors) => {
      if (typeof v !== "number") fail(v, path, errors);
      return v;
    };
  }
  const geometry = GEOMETRY[name];
  if (geometry !== undefined) return typeCheck(parseClickHouseType(geometry));
  switch (name) {
    case "String": {
      const fail = expect(t, "a string");
      return (v, path, errors) => {
        if (typeof v !== "string") fail(v, path, errors);
        return v;
      };
    }
    case "Bool":
    case "Boolean": {
      const fail = expect(t, "true or false");
      return (v, path, errors) => {
        if (typeof v !== "boolean") fail(v, path, errors);
        return v;
      };
    }
    case "Date":
      return dateCheck(t, "1970-01-01", "2149-06-06");
    case "Date32":
      return dateCheck(t, "1900-01-01", "2299-12-31");
    case "UUID": {
      const fail = expect(t, "such as 123e4567-e89b-12d3-a456-426614174000");
      return (v, path, errors) => {
        if (typeof v !== "string" || !/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(v)) fail(v, path, errors);
        return v;
      };
    }
    case "IPv4": {
      const fail = expect(t, "an address such as 192.168.0.1");
      return (v, path, errors) => {
        if (typeof v !== "string" || !isIPv4(v)) fail(v, path, errors);
        return v;
      };
    }
    case "IPv6": {
      // ClickHouse stores an IPv4 text in an IPv6 column as ::ffff:a.b.c.d.
      const fail = expect(t, "an address such as 2001:db8::1");
      return (v, path, errors) => {
        if (typeof v !== "string" || isIP(v) === 0) fail(v, path, errors);
        return v;
      };
    }
    case "JSON":
    case "Object":
      return jsonCheck(t);
    default:
      // Types the tool does not model (Dynamic, Variant, Interval, ...): ClickHouse checks them on insert.
      return anything;
  }
}

/**
 * A string-literal union (`Column.oneOf`): after the type's own check, each string (each
 * element of an array) must be one of the values. Reported with the values, so a client
 * sees what to send instead of a handler failing on it.
 */
function oneOfCheck(check: Check, values: readonly string[]): Check {
  const allowed = new Set(values);
  const list = values.map((v) => JSON.stringify(v)).join(", ");
  const one = (v: unknown, path: string, errors: Errors): void => {
    if (typeof v === "string" && !allowed.has(v)) errors.add(path, `expected one of ${list}, got ${describe(v)}`);
  };
  return (v, path, errors) => {
    const out = check(v, path, errors);
    if (Array.isArray(v)) v.forEach((e, i) => one(e, `${path}[${i}]`, errors));
    else one(v, path, errors);
    return out;
  };
}

function jsonCheck(t: ClickHouseType): Check {
  const fail = expect(t, "an object");
  return (v, path, errors) => {
    if (!isObject(v)) fail(v, path, errors);
    return v;
  };
}

function integerCheck(t: ClickHouseType, [min, max]: readonly [bigint, bigint]): Check {
  const wide = max > BigInt(Number.MAX_SAFE_INTEGER);
  const fail = expect(t, `an integer from ${min} to ${max}${wide ? ", as a number or a string" : ""}`);
  return (v, path, errors) => {
    let n: bigint | undefined;
    if (typeof v === "number" && Number.isInteger(v)) {
      if (!Number.isSafeInteger(v)) {
        errors.add(path, `expected ${label(t)} (an integer from ${min} to ${max}), got the number ${v}, past 2^53 where JSON numbers lose digits${wide ? ": send it as a string" : ""}`);
        return v;
      }
      n = BigInt(v);
    } else if (wide && typeof v === "string" && /^[+-]?\d+$/.test(v)) {
      n = BigInt(v);
    }
    if (n === undefined || n < min || n > max) fail(v, path, errors);
    return v;
  };
}

function decimalCheck(t: Extract<ClickHouseType, { kind: "Decimal" }>): Check {
  const integerDigits = t.precision - t.scale;
  const fail = expect(t, `a number or numeric string with at most ${integerDigits} digit${integerDigits === 1 ? "" : "s"} before the point`);
  return (v, path, errors) => {
    let whole: string | undefined;
    if (typeof v === "number" && Number.isFinite(v)) {
      const abs = Math.trunc(Math.abs(v));
      whole = abs < 1e21 ? abs.toFixed(0) : "1".padEnd(Math.floor(Math.log10(abs)) + 1, "0");
    } else if (typeof v === "string" && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(v)) {
      whole = v.replace(/^[+-]/, "").split(".")[0] as string;
    }
    // Extra fraction digits are fine: ClickHouse truncates them to the scale.
    const digits = whole === undefined ? undefined : whole.replace(/^0+/, "").length;
    if (digits === undefined || digits > integerDigits) fail(v, path, errors);
    return v;
  };
}

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const DATETIME_MIN = Date.UTC(1970, 0, 1);
const DATETIME_MAX = Date.UTC(2106, 1, 7, 6, 28, 15);
const DATETIME64_MIN = Date.UTC(1900, 0, 1);
const DATETIME64_MAX = Date.UTC(2299, 11, 31, 23, 59, 59, 999);
const DATETIME64_9_MAX = Date.UTC(2262, 3, 11, 23, 47, 16);

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/** Milliseconds since the epoch of an ISO 8601 text, or undefined when it is not a real date-time. */
function parseDateTime(text: string): number | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, frac === "" ? 0 : Math.floor(Number(`0${frac}`) * 1000));
  // Set the full year explicitly: Date.UTC reads years 0..99 as 1900..1999.
  const date = new Date(ms);
  date.setUTCFullYear(year);
  ms = date.getTime();
  if (zone !== undefined && zone !== "Z") {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!zm) return undefined;
    const offset = (Number(zm[2]) * 60 + Number(zm[3] ?? "0")) * 60_000;
    if (Number(zm[2]) > 23 || Number(zm[3] ?? "0") > 59) return undefined;
    ms -= zm[1] === "+" ? offset : -offset;
  }
  return ms;
}

function daysIn(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one; 2000 is a leap year, 2001 is not.
  return new Date(Date.UTC(isLeap(year) ? 2000 : 2001, month, 0)).getUTCDate();
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function dateTimeCheck(t: ClickHouseType, min: number, max: number): Check {
  const fail = expect(t, "an ISO 8601 date-time such as 2024-01-31T12:00:00Z");
  const name = label(t);
  return (v, path, errors) => {
    const ms = typeof v === "string" ? parseDateTime(v) : undefined;
    if (ms === undefined) fail(v, path, errors);
    else if (ms < min || ms > max) errors.add(path, `the date-time ${JSON.stringify(v)} is outside the range of ${name}, ${iso(min)} to ${iso(max)}`);
    return v;
  };
}

function dateCheck(t: ClickHouseType, min: string, max: string): Check {
  const fail = expect(t, "a date such as 2024-01-31");
  const name = label(t);
  return (v, path, errors) => {
    if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(v) || parseDateTime(v) === undefined) fail(v, path, errors);
    else if (v < min || v > max) errors.add(path, `the date ${JSON.stringify(v)} is outside the range of ${name}, ${min} to ${max}`);
    return v;
  };
}

function mapCheck(t: Extract<ClickHouseType, { kind: "Map" }>): Check {
  const value = typeCheck(t.value);
  const keyType = unwrap(t.key);
  const keyCheck: Check | undefined =
    keyType.kind === "name" && (keyType.name === "String" || keyType.name === "FixedString")
      ? undefined
      : (k, path, errors) => typeCheck(keyType)(coerceText(k as string, keyType), path, errors);
  const fail = expect(t, "an object");
  return (v, path, errors) => {
    if (!isObject(v)) {
      fail(v, path, errors);
      return v;
    }
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      const at = keyPath(path, k);
      if (keyCheck !== undefined) {
        const keyErrors = new Errors(1);
        keyCheck(k, at, keyErrors);
        if (keyErrors.count > 0) errors.add(at, `key ${JSON.stringify(k)} is not a ${label(keyType)}`);
      }
      out[k] = value(item, at, errors);
    }
    return out;
  };
}

function tupleCheck(t: Extract<ClickHouseType, { kind: "Tuple" }>): Check {
  const named = t.elements.length > 0 && t.elements.every((e) => e.name !== undefined);
  if (named) {
    return objectCheck(
      t.elements.map((e) => ({ name: e.name as string, check: typeCheck(e.type), optional: mayBeAbsent(e.type), typeText: formatClickHouseType(e.type) })),
      `an object with ${t.elements.map((e) => e.name).join(", ")}`,
      label(t),
    );
  }
  const elements = t.elements.map((e) => typeCheck(e.type));
  const fail = expect(t, `an array of ${elements.length} element${elements.length === 1 ? "" : "s"}`);
  return (v, path, errors) => {
    if (!Array.isArray(v) || v.length !== elements.length) {
      fail(v, path, errors);
      return v;
    }
    return v.map((e, i) => (elements[i] as Check)(e, `${path}[${i}]`, errors));
  };
}

/** An object with exactly these fields (rows, Nested elements, named tuples). */
function objectCheck(fields: readonly FieldCheck[], what: string, typeLabel?: string): Check {
  const byName = new Map(fields.map((f) => [f.name, f]));
  const names = fields.map((f) => f.name);
  return (v, path, errors) => {
    if (!isObject(v)) {
      errors.add(path, typeLabel === undefined ? `expected ${what}, got ${describe(v)}` : `expected ${typeLabel} (${what}), got ${describe(v)}`);
      return v;
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(v)) {
      const field = byName.get(key);
      if (field === undefined) {
        errors.add(fieldPath(path, key), `unknown field; ${expectedList(names, "fields")}`);
        continue;
      }
      if (field.computed) continue;
      out[key] = field.check(item, fieldPath(path, key), errors);
    }
    for (const field of fields) {
      if (v[field.name] === undefined && !field.optional) {
        errors.add(fieldPath(path, field.name), `required field is missing (${field.typeText})`);
      }
    }
    return out;
  };
}
