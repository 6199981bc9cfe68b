import test from "ava";
import type { Column } from "../lib/model/infra-map.js";
import { coerceQueryParams, validateRow, validateRows, type FieldError } from "../lib/server/validate.js";

const col = (name: string, type: string, dflt?: string): Column => (dflt === undefined ? { name, type } : { name, type, default: dflt });

/** One column `v` of `type`: `good` values pass, `bad` values fail with exactly `reason`. */
interface TypeCase {
  readonly type: string;
  readonly good: readonly unknown[];
  readonly bad: ReadonlyArray<readonly [unknown, string]>;
}

const UUID = "123e4567-e89b-12d3-a456-426614174000";

const TYPE_CASES: readonly TypeCase[] = [
  { type: "String", good: ["", "héllo"], bad: [[1, "expected String (a string), got the number 1"], [null, "expected String (a string), got null"]] },
  { type: "FixedString(3)", good: ["abc", "é"], bad: [["abcd", "expected FixedString(3) (a string of at most 3 bytes), got the string \"abcd\""]] },
  { type: "Float64", good: [1, -1.5, 0], bad: [["1", 'expected Float64 (a number), got the string "1"'], [true, "expected Float64 (a number), got the boolean true"]] },
  { type: "Float32", good: [3.25], bad: [[{}, "expected Float32 (a number), got an object"]] },
  { type: "Int8", good: [-128, 127, 0], bad: [[128, "expected Int8 (an integer from -128 to 127), got the number 128"], [1.5, "expected Int8 (an integer from -128 to 127), got the number 1.5"], ["1", 'expected Int8 (an integer from -128 to 127), got the string "1"']] },
  { type: "UInt8", good: [0, 255], bad: [[-1, "expected UInt8 (an integer from 0 to 255), got the number -1"]] },
  { type: "Int16", good: [-32768], bad: [[32768, "expected Int16 (an integer from -32768 to 32767), got the number 32768"]] },
  { type: "UInt16", good: [65535], bad: [[65536, "expected UInt16 (an integer from 0 to 65535), got the number 65536"]] },
  { type: "Int32", good: [-2147483648], bad: [[2147483648, "expected Int32 (an integer from -2147483648 to 2147483647), got the number 2147483648"]] },
  { type: "UInt32", good: [4294967295], bad: [[4294967296, "expected UInt32 (an integer from 0 to 4294967295), got the number 4294967296"]] },
  {
    type: "Int64",
    good: [9007199254740991, "-9223372036854775808", "9223372036854775807"],
    bad: [
      ["9223372036854775808", 'expected Int64 (an integer from -9223372036854775808 to 9223372036854775807, as a number or a string), got the string "9223372036854775808"'],
      [9007199254740993, "expected Int64 (an integer from -9223372036854775808 to 9223372036854775807), got the number 9007199254740992, past 2^53 where JSON numbers lose digits: send it as a string"],
      ["1.0", 'expected Int64 (an integer from -9223372036854775808 to 9223372036854775807, as a number or a string), got the string "1.0"'],
    ],
  },
  { type: "UInt64", good: ["18446744073709551615", 0], bad: [[-1, "expected UInt64 (an integer from 0 to 18446744073709551615, as a number or a string), got the number -1"]] },
  { type: "Bool", good: [true, false], bad: [[1, "expected Bool (true or false), got the number 1"], ["true", 'expected Bool (true or false), got the string "true"']] },
  {
    type: "DateTime('UTC')",
    good: ["2024-01-31T12:00:00Z", "2024-01-31T12:00:00.123+02:00", "2024-01-31 12:00:00", "2024-02-29T00:00:00Z", "2024-01-31"],
    bad: [
      [1706702400, "expected DateTime('UTC') (an ISO 8601 date-time such as 2024-01-31T12:00:00Z), got the number 1706702400"],
      ["2023-02-29T00:00:00Z", 'expected DateTime(\'UTC\') (an ISO 8601 date-time such as 2024-01-31T12:00:00Z), got the string "2023-02-29T00:00:00Z"'],
      ["yesterday", 'expected DateTime(\'UTC\') (an ISO 8601 date-time such as 2024-01-31T12:00:00Z), got the string "yesterday"'],
      ["1969-12-31T23:59:59Z", 'the date-time "1969-12-31T23:59:59Z" is outside the range of DateTime(\'UTC\'), 1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z'],
    ],
  },
  {
    type: "DateTime64(3)",
    good: ["1950-06-01T00:00:00.123Z"],
    bad: [["1899-12-31T00:00:00Z", 'the date-time "1899-12-31T00:00:00Z" is outside the range of DateTime64(3), 1900-01-01T00:00:00Z to 2299-12-31T23:59:59.999Z']],
  },
  {
    type: "Date",
    good: ["2024-01-31", "2149-06-06"],
    bad: [
      ["2024-01-31T00:00:00Z", 'expected Date (a date such as 2024-01-31), got the string "2024-01-31T00:00:00Z"'],
      ["2024-13-01", 'expected Date (a date such as 2024-01-31), got the string "2024-13-01"'],
      ["1969-12-31", 'the date "1969-12-31" is outside the range of Date, 1970-01-01 to 2149-06-06'],
    ],
  },
  { type: "Date32", good: ["1900-01-01", "2299-12-31"], bad: [["1899-12-31", 'the date "1899-12-31" is outside the range of Date32, 1900-01-01 to 2299-12-31']] },
  { type: "UUID", good: [UUID, UUID.toUpperCase()], bad: [["123", 'expected UUID (such as 123e4567-e89b-12d3-a456-426614174000), got the string "123"']] },
  {
    type: "Decimal(10, 2)",
    good: [12345678.99, "-12345678.999", 0, ".5"],
    bad: [
      [123456789, "expected Decimal(10, 2) (a number or numeric string with at most 8 digits before the point), got the number 123456789"],
      ["1e3", 'expected Decimal(10, 2) (a number or numeric string with at most 8 digits before the point), got the string "1e3"'],
    ],
  },
  { type: "Nullable(Int32)", good: [null, 5], bad: [["x", 'expected Int32 (an integer from -2147483648 to 2147483647), got the string "x"']] },
  { type: "LowCardinality(String)", good: ["a"], bad: [[false, "expected String (a string), got the boolean false"]] },
  { type: "Enum8('a' = 1, 'b' = 2)", good: ["a", "b", 2], bad: [["c", 'expected Enum8(\'a\' = 1, \'b\' = 2) (one of "a", "b"), got the string "c"'], [3, 'expected Enum8(\'a\' = 1, \'b\' = 2) (one of "a", "b"), got the number 3']] },
  { type: "JSON", good: [{}, { a: { b: [1] } }], bad: [[[1], "expected JSON (an object), got an array"], ["{}", 'expected JSON (an object), got the string "{}"']] },
  { type: "IPv4", good: ["10.0.0.1"], bad: [["256.0.0.1", 'expected IPv4 (an address such as 192.168.0.1), got the string "256.0.0.1"']] },
  { type: "IPv6", good: ["2001:db8::1", "10.0.0.1"], bad: [["2001:db8::g", 'expected IPv6 (an address such as 2001:db8::1), got the string "2001:db8::g"']] },
  { type: "Array(String)", good: [[], ["a"]], bad: [["a", 'expected Array(String) (an array), got the string "a"']] },
  { type: "Map(String, UInt8)", good: [{}, { a: 1 }], bad: [[[], "expected Map(String, UInt8) (an object), got an array"]] },
  { type: "Tuple(x Int32, y String)", good: [{ x: 1, y: "s" }], bad: [[[1, "s"], "expected Tuple(x Int32, y String) (an object with x, y), got an array"]] },
  { type: "Tuple(Float64, String)", good: [[1, "s"]], bad: [[[1], "expected Tuple(Float64, String) (an array of 2 elements), got an array"]] },
  { type: "Point", good: [[1.5, 2]], bad: [[{ x: 1 }, "expected Tuple(Float64, Float64) (an array of 2 elements), got an object"]] },
  { type: "SimpleAggregateFunction(sum, UInt64)", good: [5], bad: [[-5, "expected UInt64 (an integer from 0 to 18446744073709551615, as a number or a string), got the number -5"]] },
];

for (const c of TYPE_CASES) {
  test(`validate ${c.type}`, (t) => {
    const columns = [col("v", c.type)];
    for (const v of c.good) t.deepEqual(validateRow({ v }, columns).errors, [], `${JSON.stringify(v)} should pass`);
    for (const [v, reason] of c.bad) t.deepEqual(validateRow({ v }, columns).errors, [{ path: "v", reason }], `${JSON.stringify(v)} should fail`);
  });
}

test("paths name nested fields, array elements and map keys", (t) => {
  const columns = [
    col("addr", "Nested(street String, zip String)"),
    col("tags", "Array(String)"),
    col("m", "Map(String, Array(Int8))"),
    col("point", "Tuple(x Int32, y Nullable(String))"),
  ];
  const errors = validateRow({ addr: [{ street: "Main", zip: 1 }, { street: "x", zip: "y", extra: 1 }], tags: ["a", "b", 3], m: { ok: [1], "not ok": [1, 999] }, point: { x: "1" } }, columns).errors;
  t.deepEqual(errors, [
    { path: "addr[0].zip", reason: "expected String (a string), got the number 1" },
    { path: "addr[1].extra", reason: "unknown field; expected fields: street, zip" },
    { path: "tags[2]", reason: "expected String (a string), got the number 3" },
    { path: 'm["not ok"][1]', reason: "expected Int8 (an integer from -128 to 127), got the number 999" },
    { path: "point.x", reason: 'expected Int32 (an integer from -2147483648 to 2147483647), got the string "1"' },
  ]);
});

test("a Nested value given as one object becomes a one-element array", (t) => {
  const columns = [col("addr", "Nested(street String, zip String)")];
  t.deepEqual(validateRow({ addr: { street: "Main", zip: "1" } }, columns), { row: { addr: [{ street: "Main", zip: "1" }] }, errors: [] });
  t.deepEqual(validateRow({ addr: { street: "Main" } }, columns).errors, [{ path: "addr.zip", reason: "required field is missing (String)" }]);
});

test("required fields, optional fields and unknown fields", (t) => {
  const columns = [col("id", "String"), col("note", "Nullable(String)"), col("tags", "Array(String)"), col("n", "UInt8", "0"), col("m", "Map(String, String)")];
  t.deepEqual(validateRow({ id: "a" }, columns), { row: { id: "a" }, errors: [] });
  t.deepEqual(validateRow({ id: "a", note: null }, columns).errors, []);
  t.deepEqual(validateRow({ note: "x", bogus: 1 }, columns).errors, [
    { path: "bogus", reason: "unknown field; expected fields: id, note, tags, n, m" },
    { path: "id", reason: "required field is missing (String)" },
  ]);
});

test("validateRows takes one object or an array, and returns no rows when any is invalid", (t) => {
  const columns = [col("id", "String"), col("n", "Int32")];
  t.deepEqual(validateRows({ id: "a", n: 1 }, columns), { rows: [{ id: "a", n: 1 }], errors: [], errorCount: 0 });
  t.deepEqual(validateRows([{ id: "a", n: 1 }, { id: "b", n: 2 }], columns).rows, [{ id: "a", n: 1 }, { id: "b", n: 2 }]);
  const bad = validateRows([{ id: "a", n: 1 }, { id: 2, n: 2 }, 7], columns);
  t.deepEqual(bad.rows, []);
  t.deepEqual(bad.errors, [
    { path: "[1].id", reason: "expected String (a string), got the number 2" },
    { path: "[2]", reason: "expected an object, got the number 7" },
  ] satisfies FieldError[]);
  t.deepEqual(validateRows("x", columns).errors, [{ path: "", reason: 'expected a JSON object or an array of objects, got the string "x"' }]);
  t.deepEqual(validateRows([], columns), { rows: [], errors: [], errorCount: 0 });
});

test("validateRows keeps the first maxErrors errors and counts them all", (t) => {
  const result = validateRows(
    Array.from({ length: 10 }, () => ({ id: 1 })),
    [col("id", "String")],
    { maxErrors: 3 },
  );
  t.is(result.errors.length, 3);
  t.is(result.errorCount, 10);
});

test("coerceQueryParams types numbers, booleans and repeated keys", (t) => {
  const columns = [col("limit", "Nullable(Float64)"), col("n", "UInt32"), col("flag", "Nullable(Bool)"), col("tag", "Array(String)"), col("ids", "Array(Int64)"), col("kind", "LowCardinality(Nullable(String))")];
  t.deepEqual(coerceQueryParams(new URLSearchParams("limit=2.5&n=7&flag=true&tag=a&tag=b&ids=1&ids=9223372036854775807&kind=x"), columns), {
    params: { limit: 2.5, n: 7, flag: true, tag: ["a", "b"], ids: [1, "9223372036854775807"], kind: "x" },
    errors: [],
  });
  t.deepEqual(coerceQueryParams(new URLSearchParams("n=1"), columns).params, { n: 1 });
  t.deepEqual(coerceQueryParams(new URLSearchParams("flag=0&n=0"), columns).params, { flag: false, n: 0 });
});

test("coerceQueryParams reports bad, repeated, missing and unknown parameters", (t) => {
  const columns = [col("n", "UInt32"), col("flag", "Nullable(Bool)")];
  t.deepEqual(coerceQueryParams(new URLSearchParams("n=abc&flag=yes"), columns).errors, [
    { path: "n", reason: 'expected UInt32 (an integer from 0 to 4294967295), got the string "abc"' },
    { path: "flag", reason: 'expected Bool (true or false), got the string "yes"' },
  ]);
  t.deepEqual(coerceQueryParams(new URLSearchParams("n=1&n=2"), columns).errors, [{ path: "n", reason: "expected one value, got 2 (repeat a parameter only for arrays)" }]);
  t.deepEqual(coerceQueryParams(new URLSearchParams(""), columns).errors, [{ path: "n", reason: "required field is missing (UInt32)" }]);
  t.deepEqual(coerceQueryParams(new URLSearchParams("n=1&x=2"), columns).errors, [{ path: "x", reason: "unknown parameter; expected parameters: n, flag" }]);
});
