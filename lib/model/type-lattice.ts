import { type ClickHouseType, type NamedField, type TupleElement, formatClickHouseType, parseClickHouseType } from "./clickhouse-type.js";

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
