import type { Change } from "../../lib/diff/change.js";
import type { OlapEngine } from "../../lib/engines/olap/engine.js";
import { statementsForChanges } from "../../lib/engines/olap/sql/index.js";
import { applyChanges } from "../../lib/model/apply-change.js";
import { emptyInfraMap, type InfraMap, type MaterializedView, type Table } from "../../lib/model/infra-map.js";
import { table } from "./model-builders.js";

/**
 * Tables and views in ClickHouse's canonical spelling (what `system.columns` and
 * `system.tables` print), covering every column type the extractor emits, every
 * engine, ORDER BY as tuple()/fields/expressions, PARTITION BY, TTL, settings and
 * materialized views. Creating them and introspecting must give them back exactly.
 */
export const everyType = table(
  "every_type",
  [
    ["id", "UInt64"],
    ["s", "String"],
    ["f64", "Float64"],
    ["f32", "Float32"],
    ["flag", "Bool"],
    ["ts", "DateTime('UTC')"],
    ["ts_ms", "DateTime64(3)"],
    ["maybe", "Nullable(Float64)"],
    ["tags", "Array(String)"],
    ["maybe_tags", "Array(Nullable(String))"],
    ["attrs", "Map(String, Float64)"],
    ["nested", "Nested(a String, b Int32)"],
    ["pair", "Tuple(a String, b Float64)"],
    ["lc", "LowCardinality(String)"],
    ["lc_null", "LowCardinality(Nullable(String))"],
    ["kind", "Enum8('a' = 1, 'b' = 2)"],
    ["price", "Decimal(10, 2)"],
    ["uid", "UUID"],
    ["i8", "Int8"],
    ["i16", "Int16"],
    ["i32", "Int32"],
    ["i64", "Int64"],
    ["u8", "UInt8"],
    ["u16", "UInt16"],
    ["u32", "UInt32"],
    ["day", "Date32"],
    ["doc", "JSON"],
    ["ip", "IPv4"],
  ],
  { orderBy: ["id"] },
);

/** The column types ClickHouse 18.16 (Debian's server) has, for the server adapter's round trip. */
export const portableTypes = table(
  "portable_types",
  [
    ["id", "UInt64"],
    ["s", "String"],
    ["f64", "Float64"],
    ["f32", "Float32"],
    ["ts", "DateTime('UTC')"],
    ["maybe", "Nullable(Float64)"],
    ["tags", "Array(String)"],
    ["maybe_tags", "Array(Nullable(String))"],
    ["pair", "Tuple(String, Float64)"],
    ["lc", "LowCardinality(String)"],
    ["lc_null", "LowCardinality(Nullable(String))"],
    ["kind", "Enum8('a' = 1, 'b' = 2)"],
    ["price", "Decimal(10, 2)"],
    ["uid", "UUID"],
    ["i8", "Int8"],
    ["i64", "Int64"],
    ["u8", "UInt8"],
    ["day", "Date"],
    ["fixed", "FixedString(4)"],
    ["label", "String", "'it\\'s'"],
  ],
  { orderBy: ["id", "toStartOfDay(ts)"], partitionBy: "toYYYYMM(ts)", settings: { index_granularity: "4096" } },
);

export const withDefaults = table(
  "with_defaults",
  [
    ["id", "String"],
    ["n", "Int32", "0"],
    ["label", "String", "'it\\'s'"],
    ["created", "DateTime", "now()"],
    ["sum", "Int64", "n + 1"],
    ["list", "Array(String)", "[]"],
  ],
  { orderBy: [] },
);

export const replacing = table(
  "replacing",
  [
    ["id", "String"],
    ["ver", "UInt64"],
    ["deleted", "UInt8"],
    ["ts", "DateTime"],
  ],
  {
    engine: { kind: "ReplacingMergeTree", ver: "ver", isDeleted: "deleted" },
    orderBy: ["id", "toStartOfDay(ts)"],
    partitionBy: "toYYYYMM(ts)",
    ttl: "ts + toIntervalDay(30)",
    settings: { merge_with_ttl_timeout: "3600", min_bytes_for_wide_part: "0" },
  },
);

export const replacingVer = table("replacing_ver", [["id", "String"], ["ver", "DateTime"]], { engine: { kind: "ReplacingMergeTree", ver: "ver" } });
export const replacingBare = table("replacing_bare", [["id", "String"]], { engine: { kind: "ReplacingMergeTree" } });
export const summing = table("summing", [["id", "String"], ["a", "Int64"], ["b", "Float64"]], { engine: { kind: "SummingMergeTree", columns: ["a", "b"] } });
export const summingOne = table("summing_one", [["id", "String"], ["a", "Int64"]], { engine: { kind: "SummingMergeTree", columns: ["a"] } });
export const summingBare = table("summing_bare", [["id", "String"], ["a", "Int64"]], { engine: { kind: "SummingMergeTree" } });
export const aggregating = table("aggregating", [["id", "String"], ["total", "SimpleAggregateFunction(sum, UInt64)"]], { engine: { kind: "AggregatingMergeTree" } });
export const collapsing = table("collapsing", [["id", "String"], ["sign", "Int8"]], { engine: { kind: "CollapsingMergeTree", sign: "sign" } });
export const oddNames = table(
  "odd names",
  [
    ["x y", "String"],
    ["we`ird", "String", "'a'"],
    ["select", "Int32"],
  ],
  { orderBy: ["x y", "select"] },
);
export const expressionKey = table("expression_key", [["id", "String"], ["ts", "DateTime"]], {
  orderBy: ["cityHash64(id)", "toDate(ts)"],
  settings: { index_granularity: "1024" },
});

export const events = table("events", [["id", "UInt64"], ["v", "Float64"], ["ts", "DateTime"]], { orderBy: ["id"] });
export const totals = table("totals", [["id", "UInt64"], ["total", "Float64"]], { engine: { kind: "SummingMergeTree", columns: ["total"] } });
export const dims = table("dims", [["id", "UInt64"], ["name", "String"]]);
export const joined = table("joined", [["id", "UInt64"], ["name", "String"], ["v", "Float64"]]);

export const totalsView: MaterializedView = {
  name: "totals_mv",
  selectStatement: "SELECT id, sum(v) AS total FROM events GROUP BY id",
  sourceTables: ["events"],
  targetTable: "totals",
  lifeCycle: "FULLY_MANAGED",
};
export const joinView: MaterializedView = {
  name: "joined_mv",
  selectStatement: "SELECT e.id AS id, d.name AS name, e.v AS v FROM events AS e INNER JOIN dims AS d ON e.id = d.id",
  sourceTables: ["dims", "events"],
  targetTable: "joined",
  lifeCycle: "FULLY_MANAGED",
};

export const allTables: readonly Table[] = [
  everyType,
  portableTypes,
  withDefaults,
  replacing,
  replacingVer,
  replacingBare,
  summing,
  summingOne,
  summingBare,
  aggregating,
  collapsing,
  oddNames,
  expressionKey,
  events,
  totals,
  dims,
  joined,
];
export const allViews: readonly MaterializedView[] = [totalsView, joinView];

/** The create changes for a map: tables first, then views. */
export function createChanges(map: Pick<InfraMap, "tables" | "views">): Change[] {
  return [
    ...Object.values(map.tables).map((t): Change => ({ kind: "table.create", table: t })),
    ...Object.values(map.views).map((v): Change => ({ kind: "view.create", view: v })),
  ];
}

export function mapOf(tables: readonly Table[], views: readonly MaterializedView[] = []): InfraMap {
  return {
    ...emptyInfraMap(),
    tables: Object.fromEntries(tables.map((t) => [t.name, t])),
    views: Object.fromEntries(views.map((v) => [v.name, v])),
  };
}

/**
 * Renders `changes` against `from` and runs every statement; returns the model the
 * changes lead to (applyChanges) and the statements, for assertions.
 */
export async function applyToEngine(engine: OlapEngine, from: InfraMap, changes: readonly Change[]): Promise<{ expected: InfraMap; statements: string[][] }> {
  const capabilities = await engine.capabilities();
  const statements = statementsForChanges(changes, { database: engine.database, capabilities, state: from });
  for (const list of statements) for (const sql of list) await engine.execute(sql);
  return { expected: applyChanges(from, changes), statements };
}

/** Tables and views of a map in the shape introspection returns. */
export function olapPart(map: Pick<InfraMap, "tables" | "views">): { tables: InfraMap["tables"]; views: InfraMap["views"] } {
  return { tables: map.tables, views: map.views };
}

let counter = 0;
/** A database name unique in this process. */
export function uniqueDatabase(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}
