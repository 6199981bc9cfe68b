import test from "ava";
import { formatClickHouseType, parseClickHouseType, type ClickHouseType } from "../lib/model/clickhouse-type.js";
import { classifyTypeChange, type TypeChangeClass } from "../lib/model/type-lattice.js";
import { quoteString } from "../lib/model/clickhouse-quote.js";

// Canonical texts as ClickHouse's system.columns prints them (checked against chDB).
const canonical = [
  "String",
  "Float32",
  "Float64",
  "Int8",
  "Int256",
  "UInt8",
  "UInt256",
  "Bool",
  "UUID",
  "Date",
  "Date32",
  "DateTime",
  "DateTime('UTC')",
  "DateTime64(3)",
  "DateTime64(3, 'UTC')",
  "DateTime64(9, 'Europe/Berlin')",
  "Decimal(10, 2)",
  "Decimal(76, 3)",
  "Nullable(Float64)",
  "LowCardinality(String)",
  "LowCardinality(Nullable(String))",
  "Array(UInt8)",
  "Array(Array(Nullable(Int32)))",
  "Map(String, Array(UInt8))",
  "Map(LowCardinality(String), Tuple(a String, b UInt8))",
  "Tuple(a String, b UInt8)",
  "Tuple(String, UInt8)",
  "Tuple(`a b` String, c UInt8)",
  "Tuple(`a\\`b` String)",
  "Tuple(a Tuple(b Int8))",
  "Nested(x String, y UInt8)",
  "Enum8('a' = 1, 'b' = 2)",
  "Enum16('a' = -1, 'b' = 1000)",
  "Enum8('it\\'s' = 1, 'b\\\\c' = 2, 'x\\ny' = 3)",
  "Enum8('t\\tb' = 1, 'z\\0' = 2, 'bs\\b' = 6, 'cr\\r' = 8, 'ff\\f' = 9, 'é' = 4, 'q\"' = 5)",
  "IPv4",
  "IPv6",
  "JSON",
  "FixedString(16)",
  "SimpleAggregateFunction(sum, UInt64)",
  "AggregateFunction(uniq, UInt64)",
  "AggregateFunction(quantiles(0.5, 0.9), UInt64)",
  "AggregateFunction(argMax, String, DateTime)",
  "AggregateFunction(count)",
  "Variant(String, UInt64)",
  "Dynamic(max_types=10)",
  "JSON(max_dynamic_paths=10, `a.b` UInt32, SKIP `a.c`)",
  "Object('json')",
  "Nothing",
];

for (const text of canonical) {
  test(`clickhouse type round trip: ${text}`, (t) => {
    t.is(formatClickHouseType(parseClickHouseType(text)), text);
  });
}

const parsed: readonly [string, ClickHouseType][] = [
  ["String", { kind: "name", name: "String" }],
  ["DateTime", { kind: "DateTime" }],
  ["DateTime('UTC')", { kind: "DateTime", timezone: "UTC" }],
  ["DateTime64(6, 'UTC')", { kind: "DateTime64", precision: 6, timezone: "UTC" }],
  ["Decimal(10, 2)", { kind: "Decimal", precision: 10, scale: 2 }],
  ["FixedString(3)", { kind: "FixedString", length: 3 }],
  ["LowCardinality(Nullable(String))", { kind: "LowCardinality", inner: { kind: "Nullable", inner: { kind: "name", name: "String" } } }],
  ["Array(Int8)", { kind: "Array", element: { kind: "name", name: "Int8" } }],
  ["Map(String, UInt8)", { kind: "Map", key: { kind: "name", name: "String" }, value: { kind: "name", name: "UInt8" } }],
  ["Tuple(a String, UInt8)", { kind: "Tuple", elements: [{ name: "a", type: { kind: "name", name: "String" } }, { type: { kind: "name", name: "UInt8" } }] }],
  ["Nested(x String)", { kind: "Nested", fields: [{ name: "x", type: { kind: "name", name: "String" } }] }],
  ["Enum8('it''s' = -1, 'b\\\\' = 2)", { kind: "Enum", bits: 8, values: [{ label: "it's", value: -1 }, { label: "b\\", value: 2 }] }],
  ["Enum16('\\x41\\w' = 1)", { kind: "Enum", bits: 16, values: [{ label: "A\\w", value: 1 }] }],
  [
    "AggregateFunction(quantiles(0.5, 0.9), UInt64)",
    {
      kind: "AggregateFunction",
      simple: false,
      function: { name: "quantiles", params: [{ kind: "number", text: "0.5" }, { kind: "number", text: "0.9" }] },
      args: [{ kind: "name", name: "UInt64" }],
    },
  ],
  ["SimpleAggregateFunction(max, Int8)", { kind: "AggregateFunction", simple: true, function: { name: "max" }, args: [{ kind: "name", name: "Int8" }] }],
  [
    "Dynamic(max_types=10)",
    { kind: "generic", name: "Dynamic", args: [{ kind: "raw", text: "max_types=10" }] },
  ],
  [
    "Foo(Bar, 'x', -3, n Int8, Baz(1))",
    {
      kind: "generic",
      name: "Foo",
      args: [
        { kind: "type", type: { kind: "name", name: "Bar" } },
        { kind: "string", value: "x" },
        { kind: "number", text: "-3" },
        { kind: "named", name: "n", type: { kind: "name", name: "Int8" } },
        { kind: "type", type: { kind: "generic", name: "Baz", args: [{ kind: "number", text: "1" }] } },
      ],
    },
  ],
];

for (const [text, ast] of parsed) {
  test(`clickhouse type parse: ${text}`, (t) => {
    t.deepEqual(parseClickHouseType(text), ast);
  });
}

const normalised: readonly [string, string][] = [
  ["Decimal32(2)", "Decimal(9, 2)"],
  ["Decimal64(4)", "Decimal(18, 4)"],
  ["Decimal128(1)", "Decimal(38, 1)"],
  ["Decimal256(3)", "Decimal(76, 3)"],
  ["  Map( String ,Array( UInt8 ) ) ", "Map(String, Array(UInt8))"],
  ["Enum8('a'=1,'b'=2)", "Enum8('a' = 1, 'b' = 2)"],
  ["Enum8('it''s' = 1)", "Enum8('it\\'s' = 1)"],
  ["DateTime(\"UTC\")".replace(/"/g, "'"), "DateTime('UTC')"],
  ["Tuple(\"a\" String)", "Tuple(a String)"],
];

for (const [text, formatted] of normalised) {
  test(`clickhouse type normalises: ${text}`, (t) => {
    t.is(formatClickHouseType(parseClickHouseType(text)), formatted);
  });
}

const invalid: readonly [string, string][] = [
  ["", 'invalid ClickHouse type "": expected a type name but found the end (at offset 0)'],
  ["Nullable(", 'invalid ClickHouse type "Nullable(": expected a type name but found the end (at offset 9)'],
  ["Nullable(String, Int8)", 'invalid ClickHouse type "Nullable(String, Int8)": Nullable takes 1 argument, got 2 (at offset 0)'],
  ["Map(String)", 'invalid ClickHouse type "Map(String)": Map takes 2 arguments, got 1 (at offset 0)'],
  ["String Int8", 'invalid ClickHouse type "String Int8": unexpected "Int8" after the type (at offset 7)'],
  ["Enum8('a)", 'invalid ClickHouse type "Enum8(\'a)": unterminated string (at offset 6)'],
  ["Enum8('a' = x)", 'invalid ClickHouse type "Enum8(\'a\' = x)": expected an integer but found "x" (at offset 12)'],
  ["Decimal(10)", 'invalid ClickHouse type "Decimal(10)": Decimal takes 2 arguments, got 1 (at offset 0)'],
  ["FixedString(-1)", 'invalid ClickHouse type "FixedString(-1)": expected an integer but found "-" (at offset 12)'],
  ["Foo(", 'invalid ClickHouse type "Foo(": expected ")" but found the end (at offset 4)'],
];

for (const [text, message] of invalid) {
  test(`clickhouse type rejects: ${JSON.stringify(text)}`, (t) => {
    const error = t.throws(() => parseClickHouseType(text), { message });
    t.is((error as { code?: string } | undefined)?.code, "CLICKHOUSE_TYPE_INVALID");
  });
}

test("quoteString escapes what ClickHouse escapes", (t) => {
  t.is(quoteString("plain"), "'plain'");
  t.is(quoteString("it's"), "'it\\'s'");
  t.is(quoteString("a\\b"), "'a\\\\b'");
  t.is(quoteString("\t\n\r\0\b\f"), "'\\t\\n\\r\\0\\b\\f'");
  t.is(quoteString('é"`'), "'é\"`'");
});

test("quoteString output parses back to the same label", (t) => {
  for (const label of ["it's", "a\\b", "\x07\x1b", "'';--", "\\x41", "\\"]) {
    const type = parseClickHouseType(`Enum8(${quoteString(label)} = 1)`);
    t.deepEqual(type, { kind: "Enum", bits: 8, values: [{ label, value: 1 }] });
  }
});

const changes: readonly [string, string, TypeChangeClass][] = [
  // same
  ["String", "String", "same"],
  ["Decimal32(2)", "Decimal(9, 2)", "same"],
  ["Map(String,UInt8)", "Map(String, UInt8)", "same"],
  // integers
  ["Int8", "Int16", "widening"],
  ["Int32", "Int64", "widening"],
  ["Int64", "Int32", "lossy"],
  ["UInt8", "UInt16", "widening"],
  ["UInt32", "UInt64", "widening"],
  ["UInt16", "UInt8", "lossy"],
  ["UInt8", "Int16", "widening"],
  ["UInt32", "Int64", "widening"],
  ["UInt32", "Int32", "lossy"],
  ["Int8", "UInt64", "lossy"],
  // integers into floats: exact while they fit the mantissa
  ["Int16", "Float32", "widening"],
  ["UInt16", "Float32", "widening"],
  ["Int32", "Float32", "lossy"],
  ["Int32", "Float64", "widening"],
  ["UInt32", "Float64", "widening"],
  ["Int64", "Float64", "lossy"],
  ["Float32", "Float64", "widening"],
  ["Float64", "Float32", "lossy"],
  ["Float64", "Int64", "lossy"],
  // decimals
  ["Decimal(10, 2)", "Decimal(12, 2)", "widening"],
  ["Decimal(10, 2)", "Decimal(12, 4)", "widening"],
  ["Decimal(10, 2)", "Decimal(11, 4)", "lossy"],
  ["Decimal(12, 2)", "Decimal(10, 2)", "lossy"],
  ["Decimal(10, 2)", "Decimal(10, 1)", "lossy"],
  ["Int32", "Decimal(12, 2)", "widening"],
  ["Int32", "Decimal(10, 2)", "lossy"],
  ["Decimal(10, 2)", "Float64", "lossy"],
  ["Decimal(10, 2)", "String", "conversion"],
  // Nullable and LowCardinality
  ["String", "Nullable(String)", "widening"],
  ["Int32", "Nullable(Int64)", "widening"],
  ["Int64", "Nullable(Int32)", "lossy"],
  ["Nullable(String)", "String", "lossy"],
  ["Nullable(Int32)", "Nullable(Int64)", "widening"],
  ["String", "LowCardinality(String)", "widening"],
  ["LowCardinality(String)", "String", "widening"],
  ["Nullable(String)", "LowCardinality(Nullable(String))", "widening"],
  ["LowCardinality(Nullable(String))", "String", "lossy"],
  // text
  ["Int32", "String", "conversion"],
  ["Float64", "String", "conversion"],
  ["UUID", "String", "conversion"],
  ["DateTime", "String", "conversion"],
  ["String", "Int32", "lossy"],
  ["String", "UUID", "lossy"],
  ["String", "FixedString(8)", "lossy"],
  ["FixedString(8)", "String", "widening"],
  ["FixedString(8)", "FixedString(16)", "conversion"],
  ["FixedString(8)", "FixedString(4)", "lossy"],
  // Bool
  ["Bool", "UInt8", "conversion"],
  ["Bool", "Float64", "conversion"],
  ["Bool", "String", "conversion"],
  ["UInt8", "Bool", "lossy"],
  // enums
  ["Enum8('a' = 1)", "Enum8('a' = 1, 'b' = 2)", "widening"],
  ["Enum8('a' = 1, 'b' = 2)", "Enum16('b' = 2, 'a' = 1, 'c' = 300)", "widening"],
  ["Enum8('a' = 1, 'b' = 2)", "Enum8('a' = 1)", "lossy"],
  ["Enum8('a' = 1, 'b' = 2)", "Enum8('a' = 2, 'b' = 1)", "lossy"],
  ["Enum8('a' = 1)", "String", "conversion"],
  ["Enum8('a' = 1)", "Int8", "conversion"],
  ["Enum16('a' = 1000)", "Int8", "lossy"],
  ["String", "Enum8('a' = 1)", "lossy"],
  // dates and times
  ["Date", "Date32", "widening"],
  ["Date32", "Date", "lossy"],
  ["Date", "DateTime", "lossy"],
  ["Date", "DateTime64(3)", "conversion"],
  ["DateTime", "DateTime64(3)", "widening"],
  ["DateTime", "DateTime64(9)", "widening"],
  ["DateTime('UTC')", "DateTime64(3, 'UTC')", "widening"],
  ["DateTime('UTC')", "DateTime64(3)", "conversion"],
  ["DateTime", "DateTime('UTC')", "conversion"],
  ["DateTime64(3)", "DateTime64(6)", "widening"],
  ["DateTime64(3)", "DateTime64(9)", "lossy"],
  ["DateTime64(6)", "DateTime64(3)", "lossy"],
  ["DateTime64(3)", "DateTime", "lossy"],
  ["DateTime", "Date", "lossy"],
  ["DateTime", "UInt32", "conversion"],
  ["DateTime", "Int64", "conversion"],
  ["DateTime", "Int32", "lossy"],
  ["Date", "UInt16", "conversion"],
  // containers
  ["Array(Int32)", "Array(Int64)", "widening"],
  ["Array(Int64)", "Array(Int32)", "lossy"],
  ["Array(Int32)", "Array(String)", "conversion"],
  ["Array(String)", "Array(LowCardinality(String))", "widening"],
  ["Array(Int32)", "Int32", "lossy"],
  ["Map(String, Int32)", "Map(String, Int64)", "widening"],
  ["Map(String, Int32)", "Map(LowCardinality(String), Nullable(Int32))", "widening"],
  ["Map(String, Int64)", "Map(String, Int32)", "lossy"],
  ["Map(Int32, Int32)", "Map(String, Int64)", "conversion"],
  ["Tuple(a Int32, b String)", "Tuple(a Int64, b Nullable(String))", "widening"],
  ["Tuple(a Int32, b String)", "Tuple(x Int32, y String)", "conversion"],
  ["Tuple(a Int32, b String)", "Tuple(a Int32)", "lossy"],
  ["Tuple(Int32, String)", "Tuple(Int64, String)", "widening"],
  ["Nested(x Int32)", "Nested(x Int64)", "widening"],
  ["Nested(x Int32)", "Nested(y Int32)", "lossy"],
  // aggregate functions
  ["SimpleAggregateFunction(sum, UInt32)", "SimpleAggregateFunction(sum, UInt64)", "widening"],
  ["SimpleAggregateFunction(sum, UInt64)", "SimpleAggregateFunction(max, UInt64)", "conversion"],
  ["UInt64", "SimpleAggregateFunction(sum, UInt64)", "conversion"],
  ["SimpleAggregateFunction(sum, UInt64)", "UInt32", "lossy"],
  ["AggregateFunction(uniq, UInt32)", "AggregateFunction(uniq, UInt64)", "lossy"],
  // other
  ["IPv4", "IPv6", "conversion"],
  ["IPv6", "IPv4", "lossy"],
  ["UUID", "UInt128", "lossy"],
  ["JSON", "String", "conversion"],
  ["Variant(String, UInt64)", "Variant(String, UInt64, Float64)", "lossy"],
  ["not a type (", "String", "lossy"],
];

for (const [before, after, expected] of changes) {
  test(`classifyTypeChange: ${before} -> ${after} is ${expected}`, (t) => {
    t.is(classifyTypeChange(before, after), expected);
  });
}
