/**
 * Column type helpers. Each is the plain TypeScript type intersected with an
 * optional marker property that the extractor reads (values of these types
 * are ordinary numbers, strings and Dates at run time).
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

/** Part of the default ORDER BY (when the table gives no `orderByFields`). */
export type Key<T extends string | number | Date> = T & { readonly _clickhouse_key?: true };

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

/** Precision (digits after the decimal point of seconds, or total digits of a Decimal). */
export type ClickHousePrecision<P extends number> = { readonly _clickhouse_precision?: P };
export type ClickHouseScale<S extends number> = { readonly _clickhouse_scale?: S };

/** `DateTime` is a `Date` stored with second precision. */
export type DateTime = Date;
/** `DateTime64(P)`: a `Date` with sub-second precision P (0–9). */
export type DateTime64<P extends number> = Date & ClickHousePrecision<P>;
/** `Decimal(P, S)`, exact; carried as a string in JSON to keep every digit. */
export type Decimal<P extends number, S extends number> = string & ClickHousePrecision<P> & ClickHouseScale<S>;

/** Dictionary-encoded column for values with few distinct members. */
export type LowCardinality<T extends string = string> = T & { readonly _LowCardinality?: true };

/** DEFAULT expression for the column, as SQL: `WithDefault<Date, "now()">`. */
export type ClickHouseDefault<Expr extends string> = { readonly _clickhouse_default?: Expr };
export type WithDefault<T, Expr extends string> = T & ClickHouseDefault<Expr>;

/** Store a nested object as a named `Tuple(...)` instead of `Nested(...)`. */
export type ClickHouseNamedTuple = { readonly _clickhouse_mapped_type?: "namedTuple" };
/** Store the field as a ClickHouse `JSON` column. */
export type ClickHouseJson = { readonly _clickhouse_mapped_type?: "JSON" };
