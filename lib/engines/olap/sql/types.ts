import { formatClickHouseType, parseClickHouseType, type ClickHouseType } from "../../../model/clickhouse-type.js";
import type { Column } from "../../../model/infra-map.js";
import type { OlapCapabilities } from "../capabilities.js";
import { type SqlContext, unsupported } from "./context.js";
import { quoteString } from "../../../model/clickhouse-quote.js";

interface TypeParts {
  readonly nullable: boolean;
  /** The type without LowCardinality and Nullable, as ClickHouse prints it. */
  readonly inner: ClickHouseType;
}

export function typeParts(type: string): TypeParts {
  let t = parseClickHouseType(type);
  let nullable = false;
  for (;;) {
    if (t.kind === "LowCardinality") t = t.inner;
    else if (t.kind === "Nullable") {
      nullable = true;
      t = t.inner;
    } else return { nullable, inner: t };
  }
}

export function needAccurateCast(ctx: SqlContext, action: string): void {
  if (!ctx.capabilities.accurateCast) {
    throw unsupported(ctx.capabilities, action, "accurateCastOrNull / accurateCastOrDefault (ClickHouse 21.4+)", "clean up the values with a sql(...) step and change the type by hand");
  }
}

/**
 * SQL converting `x` (a column of type `from`) to type `to`, never failing: values that
 * do not convert become NULL when `to` is Nullable, else the type's default (an enum's first label).
 */
export function conversionExpression(x: string, from: string, to: string, nullsAllowed = true): string {
  const s = typeParts(from);
  const parts = typeParts(to);
  const t = { ...parts, nullable: parts.nullable && nullsAllowed };
  const value = s.nullable ? `assumeNotNull(${x})` : x;
  const inner = formatClickHouseType(t.inner);
  if (t.inner.kind === "Enum") {
    const labels = t.inner.values.map((v) => quoteString(v.label)).join(", ");
    const fallback = t.nullable ? "NULL" : quoteString(t.inner.values[0]?.label ?? "");
    const known = `toString(${x}) IN (${labels})`;
    return `if(${s.nullable ? `isNotNull(${x}) AND ` : ""}${known}, toString(${value}), ${fallback})`;
  }
  if (t.nullable) return s.nullable ? `if(isNull(${x}), NULL, accurateCastOrNull(${value}, ${quoteString(inner)}))` : `accurateCastOrNull(${value}, ${quoteString(inner)})`;
  return `accurateCastOrDefault(${value}, ${quoteString(inner)})`;
}

/** Rows whose value of `x` does not survive the change `from` → `to` unchanged. */
export function notConvertible(x: string, from: string, to: string): string {
  const s = typeParts(from);
  const t = typeParts(to);
  const value = s.nullable ? `assumeNotNull(${x})` : x;
  const sourceInner = quoteString(formatClickHouseType(s.inner));
  let changes: string;
  if (t.inner.kind === "Enum") {
    changes = `toString(${value}) NOT IN (${t.inner.values.map((v) => quoteString(v.label)).join(", ")})`;
  } else {
    const cast = `accurateCastOrNull(${value}, ${quoteString(formatClickHouseType(t.inner))})`;
    // Round trip in the source type: catches values out of range and values that change (precision, scale).
    changes = `(isNull(${cast}) OR CAST(assumeNotNull(${cast}), ${sourceInner}) != ${value})`;
  }
  if (!s.nullable) return changes;
  return t.nullable ? `(isNotNull(${x}) AND ${changes})` : `(isNull(${x}) OR ${changes})`;
}

interface TypeFeature {
  readonly allowed: (caps: OlapCapabilities) => boolean;
  readonly feature: string;
  readonly alternative: string;
}

/** The server feature a type node needs, if any. */
function featureOf(t: ClickHouseType): TypeFeature | undefined {
  switch (t.kind) {
    case "name":
      switch (t.name) {
        case "Bool":
          return { allowed: (c) => c.boolType, feature: "the Bool type (ClickHouse 21.12+)", alternative: "there is no equivalent type (UInt8 reads back as a number, not true/false): declare the field as a number or upgrade the server" };
        case "Date32":
          return { allowed: (c) => c.date32, feature: "the Date32 type (ClickHouse 21.9+)", alternative: "use Date (1970 to 2149) if the range is enough" };
        case "JSON":
          return { allowed: (c) => c.json, feature: "the JSON type (ClickHouse 25.3+)", alternative: "store the document as a String and read it with JSONExtract functions" };
        case "IPv4":
        case "IPv6":
          return { allowed: (c) => c.ipTypes, feature: `the ${t.name} type (ClickHouse 19.5+)`, alternative: t.name === "IPv4" ? "store the address as UInt32 (IPv4StringToNum)" : "store the address as FixedString(16) (IPv6StringToNum)" };
        default:
          return undefined;
      }
    case "DateTime64":
      return { allowed: (c) => c.dateTime64, feature: "the DateTime64 type (ClickHouse 20.1+)", alternative: "use DateTime (whole seconds)" };
    case "LowCardinality":
      return { allowed: (c) => c.lowCardinality, feature: "LowCardinality (ClickHouse 18.12+)", alternative: "use the plain type without LowCardinality" };
    case "Map":
      return { allowed: (c) => c.mapType, feature: "the Map type (ClickHouse 21.8+)", alternative: "use two Array columns (keys and values)" };
    case "Tuple":
      return t.elements.some((e) => e.name !== undefined)
        ? { allowed: (c) => c.namedTuple, feature: "named Tuple elements (ClickHouse 21.1+)", alternative: "use an unnamed Tuple(...) and address elements by position" }
        : undefined;
    case "Nested":
      return { allowed: (c) => c.nestedUnflattened, feature: "unflattened Nested columns (flatten_nested = 0, ClickHouse 21.1+)", alternative: "declare one Array column per nested field" };
    case "AggregateFunction":
      return t.simple
        ? { allowed: (c) => c.simpleAggregateFunction, feature: "SimpleAggregateFunction (ClickHouse 19.8+)", alternative: "use the plain value type; AggregatingMergeTree then keeps any one of the merged values" }
        : undefined;
    case "generic":
      return t.name === "JSON"
        ? { allowed: (c) => c.json, feature: "the JSON type (ClickHouse 25.3+)", alternative: "store the document as a String and read it with JSONExtract functions" }
        : undefined;
    default:
      return undefined;
  }
}

function children(t: ClickHouseType): ClickHouseType[] {
  switch (t.kind) {
    case "Nullable":
    case "LowCardinality":
      return [t.inner];
    case "Array":
      return [t.element];
    case "Map":
      return [t.key, t.value];
    case "Tuple":
      return t.elements.map((e) => e.type);
    case "Nested":
      return t.fields.map((f) => f.type);
    case "AggregateFunction":
      return [...t.args];
    case "generic":
      return t.args.flatMap((a) => (a.kind === "type" || a.kind === "named" ? [a.type] : []));
    default:
      return [];
  }
}

export function walk(t: ClickHouseType, visit: (t: ClickHouseType) => void): void {
  visit(t);
  for (const c of children(t)) walk(c, visit);
}

/** The canonical type text of a column, after checking the server can hold it. */
export function checkedType(column: Column, table: string, caps: OlapCapabilities): string {
  const parsed = parseClickHouseType(column.type);
  walk(parsed, (node) => {
    const f = featureOf(node);
    if (f && !f.allowed(caps)) {
      throw unsupported(caps, `use type ${column.type} for column ${column.name} of table ${table}`, f.feature, f.alternative);
    }
  });
  return formatClickHouseType(parsed);
}

export function typeHasNested(type: string): boolean {
  let found = false;
  try {
    walk(parseClickHouseType(type), (t) => {
      if (t.kind === "Nested") found = true;
    });
  } catch {
    // The column's own definition reports a malformed type.
  }
  return found;
}

/** `SETTINGS flatten_nested = 0` for an ALTER that defines a Nested column, so it stays one Nested column. */
export function nestedSuffix(columns: readonly Column[]): string {
  return columns.some((c) => typeHasNested(c.type)) ? " SETTINGS flatten_nested = 0" : "";
}
