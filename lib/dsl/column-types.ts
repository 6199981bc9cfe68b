/**
 * Column type helpers. Each is the plain TypeScript type intersected with an
 * optional marker property that the extractor reads (values of these types
 * are ordinary numbers, strings and Dates at run time). The names and markers
 * are moose-lib's, so apps written for the original Moose keep their meaning.
 *
 * @example
 * interface Event {
 *   id: Key<UUID>;
 *   userId: UInt64;
 *   amount: Decimal<18, 4>;
 *   at: DateTime64<3>;
 *   country: LowCardinality<string>;
 *   createdAt: WithDefault<Date, "now()">;
 * }
 */
import type { TagBase, Type as TypiaType } from "./typia-tags.js";

/** Part of the default ORDER BY (when the table gives no `orderByFields`). */
export type Key<T extends string | number | Date> = T & { readonly _clickhouse_key?: true };

/** Marks a nested object as carrying JWT claims (moose-lib ingest auth); the column type is unchanged. */
export type JWT<T extends object> = T;

/** Forces the ClickHouse type of a column (`ClickHouseType<number, "UInt16">`). */
export type ClickHouseType<T, Name extends string> = T & { readonly _clickhouse_mapped_type?: Name };

export type Int8 = ClickHouseType<number, "Int8">;
export type Int16 = ClickHouseType<number, "Int16">;
export type Int32 = ClickHouseType<number, "Int32">;
export type Int64 = ClickHouseType<number, "Int64">;
export type UInt8 = ClickHouseType<number, "UInt8">;
export type UInt16 = ClickHouseType<number, "UInt16">;
export type UInt32 = ClickHouseType<number, "UInt32">;
export type UInt64 = ClickHouseType<number, "UInt64">;
export type Float32 = ClickHouseType<number, "Float32">;
export type Float64 = ClickHouseType<number, "Float64">;
export type UUID = ClickHouseType<string, "UUID">;
/** A calendar date without time (ClickHouse `Date`). */
export type DateOnly = ClickHouseType<Date, "Date">;

/** moose-lib's integer helper: `number & ClickHouseInt<"int16">` is an `Int16` column. */
export type ClickHouseInt<V extends "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64"> = TagBase<{
  target: "number";
  kind: "type";
  value: V;
  validate: string;
  exclusive: true;
}>;
/** moose-lib's float helper: `number & ClickHouseFloat<"float32">` is a `Float32` column. */
export type ClickHouseFloat<V extends "float32" | "float64"> = TypiaType<V extends "float32" ? "float" : "double">;

/** Precision (digits after the decimal point of seconds, or total digits of a Decimal). */
export type ClickHousePrecision<P extends number> = { readonly _clickhouse_precision?: P };
export type ClickHouseScale<S extends number> = { readonly _clickhouse_scale?: S };
/** moose-lib's decimal helper: `string & ClickHouseDecimal<10, 2>` is a `Decimal(10, 2)` column. */
export type ClickHouseDecimal<P extends number, S extends number> = ClickHousePrecision<P> & ClickHouseScale<S>;
/** Storage width in bytes; `string & tags.Format<"date"> & ClickHouseByteSize<2>` is a `Date` (not `Date32`) column. */
export type ClickHouseByteSize<N extends number> = { readonly _clickhouse_byte_size?: N };
export type ClickHouseFixedStringSize<N extends number> = { readonly _clickhouse_fixed_string_size?: N };

/** `DateTime` is a `Date` stored with second precision. */
export type DateTime = Date;
/** `DateTime64(P)`: a `Date` with sub-second precision P (0–9). */
export type DateTime64<P extends number> = Date & ClickHousePrecision<P>;
/** An ISO date-time string stored as `DateTime64(9)`. */
export type DateTimeString = string & TagBase<{ target: "string"; kind: "format"; value: "date-time" }>;
/** An ISO date-time string stored as `DateTime64(P)` (a JS Date cannot hold microseconds). */
export type DateTime64String<P extends number> = DateTimeString & ClickHousePrecision<P>;
/** `Decimal(P, S)`, exact; carried as a string in JSON to keep every digit. */
export type Decimal<P extends number, S extends number> = string & ClickHousePrecision<P> & ClickHouseScale<S>;
/** `FixedString(N)`: exactly N bytes (hashes, binary ids). */
export type FixedString<N extends number> = string & ClickHouseFixedStringSize<N>;

/** Dictionary-encoded column for values with few distinct members (`LowCardinality<string>` or `string & LowCardinality`). */
export type LowCardinality<T extends string = string> = T & { readonly _LowCardinality?: true };

/** DEFAULT expression for the column, as SQL: `WithDefault<Date, "now()">`. */
export type ClickHouseDefault<Expr extends string> = { readonly _clickhouse_default?: Expr };
export type WithDefault<T, Expr extends string> = T & ClickHouseDefault<Expr>;
/**
 * Column compression codec, e.g. `string & ClickHouseCodec<"ZSTD(3)">`. Accepted so moose-lib apps
 * compile; not planned yet (the column is created without CODEC, and `moose plan` says so).
 */
export type ClickHouseCodec<Expr extends string> = { readonly _clickhouse_codec?: Expr };
/** Column TTL expression. Accepted so moose-lib apps compile; not planned yet (`moose plan` says so). */
export type ClickHouseTTL<Expr extends string> = { readonly _clickhouse_ttl?: Expr };
/** MATERIALIZED column. Not supported yet: planning refuses it with the field's name. */
export type ClickHouseMaterialized<Expr extends string> = { readonly _clickhouse_materialized?: Expr };
/** ALIAS column. Not supported yet: planning refuses it with the field's name. */
export type ClickHouseAlias<Expr extends string> = { readonly _clickhouse_alias?: Expr };

/** Store a nested object as a named `Tuple(...)` instead of `Nested(...)`. */
export type ClickHouseNamedTuple = { readonly _clickhouse_mapped_type?: "namedTuple" };
/**
 * Store the field as a ClickHouse `JSON` column; the fields of the object it is intersected with
 * become typed paths (`{ title: string } & ClickHouseJson` → `JSON(title String)`).
 */
export type ClickHouseJson<
  MaxDynamicPaths extends number | undefined = undefined,
  MaxDynamicTypes extends number | undefined = undefined,
  SkipPaths extends string[] = [],
  SkipRegexes extends string[] = [],
> = {
  readonly _clickhouse_mapped_type?: "JSON";
  readonly _clickhouse_json_settings?: {
    maxDynamicPaths?: MaxDynamicPaths;
    maxDynamicTypes?: MaxDynamicTypes;
    skipPaths?: SkipPaths;
    skipRegexes?: SkipRegexes;
  };
};

/** Geometry types (ClickHouse `Point`, `Ring`, ...). */
export type ClickHousePoint = [number, number] & { readonly _clickhouse_mapped_type?: "Point" };
export type ClickHouseRing = ClickHousePoint[] & { readonly _clickhouse_mapped_type?: "Ring" };
export type ClickHouseLineString = ClickHousePoint[] & { readonly _clickhouse_mapped_type?: "LineString" };
export type ClickHouseMultiLineString = ClickHouseLineString[] & { readonly _clickhouse_mapped_type?: "MultiLineString" };
export type ClickHousePolygon = ClickHouseRing[] & { readonly _clickhouse_mapped_type?: "Polygon" };
export type ClickHouseMultiPolygon = ClickHousePolygon[] & { readonly _clickhouse_mapped_type?: "MultiPolygon" };

/**
 * `AggregateFunction(fn, Args...)` state column, e.g. `number & Aggregated<"sum", [number]>` →
 * `AggregateFunction(sum, Float64)`. In a `sql` template, `${table.columns.x}` of such a column
 * renders `sumMerge(\`x\`)`, as in moose-lib.
 */
export type Aggregated<Fn extends string, Args extends any[] = []> = {
  readonly _aggregationFunction?: Fn;
  readonly _argTypes?: Args;
};
/** `SimpleAggregateFunction(fn, Arg)` column, e.g. `number & SimpleAggregated<"max", number>`. */
export type SimpleAggregated<Fn extends string, Arg = any> = {
  readonly _simpleAggregationFunction?: Fn;
  readonly _argType?: Arg;
};

type Computed<T> = "_clickhouse_alias" extends keyof T ? true : "_clickhouse_materialized" extends keyof T ? true : false;
type ComputedKeys<T> = { [K in keyof T]: Computed<T[K]> extends true ? K : never }[keyof T];
type DefaultKeys<T> = { [K in keyof T]: "_clickhouse_default" extends keyof T[K] ? K : never }[keyof T];
/** What an insert must supply: computed columns left out, columns with a DEFAULT optional. */
export type Insertable<T> = { [K in Exclude<keyof T, ComputedKeys<T> | DefaultKeys<T>>]: T[K] } & {
  [K in Exclude<DefaultKeys<T>, ComputedKeys<T>>]?: T[K];
};
