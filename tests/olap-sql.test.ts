import test from "ava";
import { CHANGE_KINDS, type Change } from "../lib/diff/change.js";
import { capabilitiesFor, parseServerVersion, requiredQuerySettings } from "../lib/engines/olap/capabilities.js";
import { statementsFor, statementsForChanges } from "../lib/engines/olap/sql/index.js";
import { rebuildTableStatements } from "../lib/engines/olap/sql/rebuild.js";
import { asIdentifier, engineClauses, identifiersIn, parseSettingsClause, parseViewDefinition, splitTopLevel, stripDatabaseQualifier, unwrapParentheses } from "../lib/engines/olap/sql-text.js";
import { MooseError } from "../lib/errors.js";
import { allTables, allViews, events, mapOf, totalsView } from "./helpers/olap-fixtures.js";
import { api, syncProcess, table, topic, workflow } from "./helpers/model-builders.js";
import { quoteIdentifier } from "../lib/model/clickhouse-quote.js";

const modern = capabilitiesFor("26.7.2.1", { server: true, zooKeeper: true, databaseEngine: "Atomic" });
const old = capabilitiesFor("18.16.1");
const ctx = { database: "app", capabilities: modern };
const oldCtx = { database: "app", capabilities: old };

// ---------------------------------------------------------------------------
// sql-text

test("splitTopLevel splits at top-level commas only", (t) => {
  t.deepEqual(splitTopLevel("a, toStartOfDay(c, 'x,y'), `b,c`, [1, 2], \"q,r\""), ["a", "toStartOfDay(c, 'x,y')", "`b,c`", "[1, 2]", '"q,r"']);
  t.deepEqual(splitTopLevel(""), []);
  t.deepEqual(splitTopLevel("  "), []);
  t.deepEqual(splitTopLevel("'it\\'s, here', b"), ["'it\\'s, here'", "b"]);
  t.deepEqual(splitTopLevel("f(a, -- c,d\n b), e"), ["f(a, -- c,d\n b)", "e"]);
});

test("unwrapParentheses removes one pair that wraps everything", (t) => {
  t.is(unwrapParentheses("(a, b)"), "a, b");
  t.is(unwrapParentheses(" ((a)) "), "(a)");
  t.is(unwrapParentheses("(a) + (b)"), "(a) + (b)");
  t.is(unwrapParentheses("total"), "total");
  t.is(unwrapParentheses("(')')"), "')'");
});

test("asIdentifier recognises bare and quoted names, nothing else", (t) => {
  t.is(asIdentifier("id"), "id");
  t.is(asIdentifier(" `x y` "), "x y");
  t.is(asIdentifier("`we\\`ird`"), "we`ird");
  t.is(asIdentifier('"dq"'), "dq");
  t.is(asIdentifier("toDate(ts)"), undefined);
  t.is(asIdentifier("a.b"), undefined);
  t.is(asIdentifier("'str'"), undefined);
  t.deepEqual([...identifiersIn("lower(q) + `x y`")], ["lower", "q", "x y"]);
});

test("quoteIdentifier escapes backquotes, backslashes and control characters", (t) => {
  t.is(quoteIdentifier("plain"), "`plain`");
  t.is(quoteIdentifier("we`ird"), "`we\\`ird`");
  t.is(quoteIdentifier("back\\slash"), "`back\\\\slash`");
  t.is(quoteIdentifier("new\nline"), "`new\\nline`");
  t.is(asIdentifier(quoteIdentifier("a`b\\c\nd\te")), "a`b\\c\nd\te");
});

test("stripDatabaseQualifier removes the managed database in front of table names only", (t) => {
  t.is(stripDatabaseQualifier("SELECT id FROM app.events", "app"), "SELECT id FROM events");
  t.is(stripDatabaseQualifier("SELECT a.id FROM app.events AS a INNER JOIN `app`.dims AS d ON a.id = d.id", "app"), "SELECT a.id FROM events AS a INNER JOIN dims AS d ON a.id = d.id");
  t.is(stripDatabaseQualifier("SELECT t.app FROM other.t WHERE x = 'app.events'", "app"), "SELECT t.app FROM other.t WHERE x = 'app.events'");
  t.is(stripDatabaseQualifier("SELECT app.x.y FROM app.t", "app"), "SELECT x.y FROM t");
  t.is(stripDatabaseQualifier("SELECT * FROM `my-db`.t", "my-db"), "SELECT * FROM t");
});

test("engineClauses cuts engine_full into its clauses", (t) => {
  t.deepEqual(
    engineClauses("ReplacingMergeTree(ver, is_deleted) PARTITION BY toYYYYMM(c) ORDER BY (a, toStartOfDay(c)) TTL c + toIntervalDay(1) SETTINGS index_granularity = 4096, storage_policy = 'x y'"),
    {
      args: "ver, is_deleted",
      partitionBy: "toYYYYMM(c)",
      orderBy: "(a, toStartOfDay(c))",
      ttl: "c + toIntervalDay(1)",
      settings: "index_granularity = 4096, storage_policy = 'x y'",
    },
  );
  t.deepEqual(engineClauses("MergeTree ORDER BY tuple() SETTINGS index_granularity = 8192"), { orderBy: "tuple()", settings: "index_granularity = 8192" });
  t.deepEqual(engineClauses("SummingMergeTree((a, b)) PRIMARY KEY a ORDER BY (a, b)"), { args: "(a, b)", primaryKey: "a", orderBy: "(a, b)" });
  // A string containing a keyword is not a clause.
  t.deepEqual(engineClauses("MergeTree ORDER BY a TTL if(a = 'SETTINGS', ts, ts + 1)"), { orderBy: "a", ttl: "if(a = 'SETTINGS', ts, ts + 1)" });
});

test("parseSettingsClause decodes strings and keeps other literals as written", (t) => {
  t.deepEqual(parseSettingsClause("index_granularity = 8192, storage_policy = 'it\\'s', allow_nullable_key = true, ratio = 0.5"), {
    index_granularity: "8192",
    storage_policy: "it's",
    allow_nullable_key: "true",
    ratio: "0.5",
  });
  t.deepEqual(parseSettingsClause(""), {});
});

test("parseViewDefinition reads TO and the SELECT of an old server's create_table_query", (t) => {
  t.deepEqual(parseViewDefinition("CREATE MATERIALIZED VIEW p.mv TO p.s ( id UInt64,  total Float64) AS SELECT id, sum(total) AS total FROM p.r  GROUP BY id"), {
    target: ["p", "s"],
    select: "SELECT id, sum(total) AS total FROM p.r  GROUP BY id",
  });
  t.deepEqual(parseViewDefinition("CREATE MATERIALIZED VIEW p.mv TO `s t` AS SELECT 1 AS x"), { target: [undefined, "s t"], select: "SELECT 1 AS x" });
  t.deepEqual(parseViewDefinition("CREATE MATERIALIZED VIEW p.mv (`x` UInt8) ENGINE = MergeTree ORDER BY x AS SELECT 1 AS x").target, undefined);
});

// ---------------------------------------------------------------------------
// capabilities

test("capabilities: 18.16 lacks what its server refuses; 26.x has everything", (t) => {
  const missingOn18 = Object.entries(old)
    .filter(([, v]) => v === false)
    .map(([k]) => k)
    .sort();
  t.deepEqual(missingOn18, [
    "accurateCast",
    "addColumnFirst",
    "assumeConstraints",
    "boolType",
    "bufferFlushThresholds",
    "checkConstraints",
    "clusters",
    "columnCodec",
    "columnTtl",
    "date32",
    "dateTime64",
    "dictionaryDdl",
    "dropView",
    "exchangeTables",
    "ifNotExistsColumn",
    "ipTypes",
    "isDeletedColumn",
    "json",
    "kafkaSaslSettings",
    "mapType",
    "mergeDatabaseRegexp",
    "modifyQuery",
    "modifySetting",
    "moveColumn",
    "movePartitionToTable",
    "mutationsSync",
    "namedTuple",
    "nestedUnflattened",
    "optimizeOnInsert",
    "projections",
    "queryParameters",
    "removeColumnDefault",
    "removeTtl",
    "renameColumn",
    "replication",
    "resetSetting",
    "s3Engine",
    "s3PartitionStrategy",
    "s3QueueEngine",
    "simpleAggregateFunction",
    "skippingIndexes",
    "sqlUserFunctions",
    "ttl",
    "uuidMacro",
  ]);
  t.true(old.lowCardinality);
  t.true(old.modifyOrderBy);
  t.deepEqual(
    Object.entries(modern).filter(([, v]) => v === false),
    [],
  );
  t.false(capabilitiesFor("26.7.2.1", { databaseEngine: "Ordinary" }).exchangeTables);
  t.deepEqual(parseServerVersion("18.16.1"), [18, 16, 1, 0]);
  t.deepEqual(parseServerVersion("garbage"), [0, 0, 0, 0]);
  t.deepEqual(requiredQuerySettings("18.16.1"), { allow_experimental_low_cardinality_type: 1 });
  t.deepEqual(requiredQuerySettings("26.7.2.1"), {});
});

// ---------------------------------------------------------------------------
// statementsFor

test("statementsFor: CREATE TABLE quotes names, renders engine, keys, TTL and settings", (t) => {
  const odd = table("odd`t", [["x y", "String"], ["n", "Int32", "1 + 2"], ["ts", "DateTime"]], {
    engine: { kind: "SummingMergeTree", columns: ["n"] },
    orderBy: ["x y", "toDate(ts)"],
    partitionBy: "toYYYYMM(ts)",
    ttl: "ts + toIntervalDay(1)",
    settings: { storage_policy: "it's", index_granularity: "1024", allow_nullable_key: "true" },
  });
  t.deepEqual(statementsFor({ kind: "table.create", table: odd }, ctx), [
    [
      "CREATE TABLE `app`.`odd\\`t`",
      "(",
      "  `x y` String,",
      "  `n` Int32 DEFAULT 1 + 2,",
      "  `ts` DateTime",
      ")",
      "ENGINE = SummingMergeTree((`n`))",
      "PARTITION BY toYYYYMM(ts)",
      "ORDER BY (`x y`, toDate(ts))",
      "TTL ts + toIntervalDay(1)",
      "SETTINGS allow_nullable_key = true, index_granularity = 1024, storage_policy = 'it\\'s'",
    ].join("\n"),
  ]);
});

test("statementsFor: Nested columns are created with flatten_nested = 0; types are printed canonically", (t) => {
  const [sql] = statementsFor({ kind: "table.create", table: table("n", [["id", "String"], ["d", "Decimal32(2)"], ["nest", "Nested(a String,b Int32)"]], { orderBy: [] }) }, ctx);
  t.is(sql, "CREATE TABLE `app`.`n`\n(\n  `id` String,\n  `d` Decimal(9, 2),\n  `nest` Nested(a String, b Int32)\n)\nENGINE = MergeTree\nORDER BY tuple()\nSETTINGS flatten_nested = 0");
});

test("statementsFor: a malformed column type is an input error, not SQL", (t) => {
  const error = t.throws(() => statementsFor({ kind: "table.create", table: table("t", [["id", "String); DROP TABLE x; --"]]) }, ctx));
  t.is((error as MooseError).code, "CLICKHOUSE_TYPE_INVALID");
});

test("statementsFor: column changes", (t) => {
  const col = { name: "age", type: "UInt8" };
  t.deepEqual(statementsFor({ kind: "table.addColumn", table: "Users", column: col, after: "name" }, ctx), ["ALTER TABLE `app`.`Users` ADD COLUMN `age` UInt8 AFTER `name`"]);
  t.deepEqual(statementsFor({ kind: "table.addColumn", table: "Users", column: { ...col, default: "18" }, after: null }, ctx), ["ALTER TABLE `app`.`Users` ADD COLUMN `age` UInt8 DEFAULT 18 FIRST"]);
  t.deepEqual(statementsFor({ kind: "table.addColumn", table: "Users", column: { name: "n", type: "Nested(a String)" }, after: "age" }, ctx), [
    "ALTER TABLE `app`.`Users` ADD COLUMN `n` Nested(a String) AFTER `age` SETTINGS flatten_nested = 0",
  ]);
  t.deepEqual(statementsFor({ kind: "table.dropColumn", table: "Users", column: col }, ctx), ["ALTER TABLE `app`.`Users` DROP COLUMN `age`"]);
  t.deepEqual(statementsFor({ kind: "table.renameColumn", table: "Users", from: "age", to: "years" }, ctx), ["ALTER TABLE `app`.`Users` RENAME COLUMN `age` TO `years`"]);
  t.deepEqual(statementsFor({ kind: "table.modifyColumn", table: "Users", before: col, after: { name: "age", type: "UInt16" } }, ctx), ["ALTER TABLE `app`.`Users` MODIFY COLUMN `age` UInt16"]);
  t.deepEqual(statementsFor({ kind: "table.modifyColumn", table: "Users", before: col, after: { name: "age", type: "UInt8", default: "1" } }, ctx), ["ALTER TABLE `app`.`Users` MODIFY COLUMN `age` UInt8 DEFAULT 1"]);
  t.deepEqual(statementsFor({ kind: "table.modifyColumn", table: "Users", before: { ...col, default: "1" }, after: { name: "age", type: "Int64" } }, ctx), [
    "ALTER TABLE `app`.`Users` MODIFY COLUMN `age` REMOVE DEFAULT",
    "ALTER TABLE `app`.`Users` MODIFY COLUMN `age` Int64",
  ]);
  t.deepEqual(statementsFor({ kind: "table.modifyColumn", table: "Users", before: col, after: { name: "age", type: "UInt8" } }, ctx), []);
  const state = mapOf([table("Users", [["id", "String"], ["name", "String", "'x'"], ["age", "UInt8"]])]);
  t.deepEqual(statementsFor({ kind: "table.moveColumn", table: "Users", column: "name", after: null, before: "id" }, { ...ctx, state }), ["ALTER TABLE `app`.`Users` MODIFY COLUMN `name` String FIRST"]);
  t.deepEqual(statementsFor({ kind: "table.moveColumn", table: "Users", column: "id", after: "age", before: null }, { ...ctx, state }), ["ALTER TABLE `app`.`Users` MODIFY COLUMN `id` String AFTER `age`"]);
  const noState = t.throws(() => statementsFor({ kind: "table.moveColumn", table: "Users", column: "id", after: "age", before: null }, ctx));
  t.is((noState as MooseError).code, "CHANGE_NEEDS_STATE");
});

test("statementsFor: table-level changes", (t) => {
  t.deepEqual(statementsFor({ kind: "table.drop", table: events }, ctx), ["DROP TABLE `app`.`events`"]);
  t.deepEqual(statementsFor({ kind: "table.rename", from: "a", to: "b" }, ctx), ["RENAME TABLE `app`.`a` TO `app`.`b`"]);
  t.deepEqual(statementsFor({ kind: "table.setTtl", table: "t", after: "ts + toIntervalDay(1)" }, ctx), ["ALTER TABLE `app`.`t` MODIFY TTL ts + toIntervalDay(1)"]);
  t.deepEqual(statementsFor({ kind: "table.setTtl", table: "t", before: "ts + toIntervalDay(1)" }, ctx), ["ALTER TABLE `app`.`t` REMOVE TTL"]);
  t.deepEqual(statementsFor({ kind: "table.setSettings", table: "t", before: { a_b: "1", gone: "2" }, after: { a_b: "3", text: "x'y" } }, ctx), [
    "ALTER TABLE `app`.`t` MODIFY SETTING a_b = 3, text = 'x\\'y'",
    "ALTER TABLE `app`.`t` RESET SETTING gone",
  ]);
  t.deepEqual(statementsFor({ kind: "table.setLifeCycle", table: "t", before: "FULLY_MANAGED", after: "DELETION_PROTECTED" }, ctx), []);
  t.deepEqual(statementsFor({ kind: "table.setEngine", table: "t", before: { kind: "MergeTree" }, after: { kind: "MergeTree" } }, ctx), []);
  t.deepEqual(statementsFor({ kind: "table.setOrderBy", table: "t", before: ["a", "b"], after: ["a"] }, ctx), ["ALTER TABLE `app`.`t` MODIFY ORDER BY `a`"]);
});

test("statementsFor: what ClickHouse cannot ALTER is refused as NEEDS_REBUILD with the reason", (t) => {
  const refused = (change: Change) => t.throws(() => statementsFor(change, ctx)) as MooseError;
  const engine = refused({ kind: "table.setEngine", table: "t", before: { kind: "MergeTree" }, after: { kind: "ReplacingMergeTree", ver: "v" } });
  t.is(engine.code, "NEEDS_REBUILD");
  t.is(engine.message, "table t must be rebuilt: its engine changes from MergeTree to ReplacingMergeTree(v), and ClickHouse cannot change a table's engine in place");
  t.is(refused({ kind: "table.setPartitionBy", table: "t", after: "toYYYYMM(ts)" }).message, "table t must be rebuilt: its PARTITION BY changes from (none) to toYYYYMM(ts), and ClickHouse cannot change a partition key in place");
  t.is(refused({ kind: "table.setOrderBy", table: "t", before: ["a", "b"], after: ["b", "a"] }).message, "table t must be rebuilt: its ORDER BY changes from (a, b) to (b, a), and ClickHouse can only append newly added columns to a sorting key or drop trailing ones");
  const append = refused({ kind: "table.setOrderBy", table: "t", before: ["a"], after: ["a", "b"] });
  t.is(append.code, "NEEDS_REBUILD");
  t.regex(append.message, /only columns added by the same ALTER/);
  t.is(refused({ kind: "table.setSettings", table: "t", before: {}, after: { index_granularity: "1024" } }).message, "table t must be rebuilt: setting index_granularity cannot change after the table is created");
});

test("statementsForChanges fuses new columns into the ALTER that appends them to ORDER BY", (t) => {
  const from = mapOf([table("t", [["a", "String"], ["b", "Int32"]], { orderBy: ["a"] })]);
  const changes: Change[] = [
    { kind: "table.addColumn", table: "t", column: { name: "y", type: "String" }, after: "b" },
    { kind: "table.addColumn", table: "other", column: { name: "q", type: "String" }, after: "x" },
    { kind: "table.addColumn", table: "t", column: { name: "z", type: "String", default: "'k'" }, after: "y" },
    { kind: "table.setOrderBy", table: "t", before: ["a"], after: ["a", "y"] },
  ];
  const out = statementsForChanges(changes, { ...ctx, state: { tables: { ...from.tables, other: table("other", [["x", "String"]]) } } });
  t.deepEqual(out, [
    [],
    ["ALTER TABLE `app`.`other` ADD COLUMN `q` String AFTER `x`"],
    [],
    ["ALTER TABLE `app`.`t` ADD COLUMN `y` String AFTER `b`, ADD COLUMN `z` String DEFAULT 'k' AFTER `y`, MODIFY ORDER BY (`a`, `y`)"],
  ]);
  // A new column with a DEFAULT cannot enter the sorting key.
  const withDefault = t.throws(() =>
    statementsForChanges(
      [
        { kind: "table.addColumn", table: "t", column: { name: "y", type: "String", default: "'k'" }, after: "b" },
        { kind: "table.setOrderBy", table: "t", before: ["a"], after: ["a", "lower(y)"] },
      ],
      { ...ctx, state: from },
    ),
  ) as MooseError;
  t.is(withDefault.code, "NEEDS_REBUILD");
  t.regex(withDefault.message, /the new column y has a DEFAULT/);
  // An existing column cannot be appended, fused or not.
  const existing = t.throws(() => statementsForChanges([{ kind: "table.setOrderBy", table: "t", before: ["a"], after: ["a", "b"] }], { ...ctx, state: from })) as MooseError;
  t.is(existing.code, "NEEDS_REBUILD");
});

test("statementsFor: views", (t) => {
  t.deepEqual(statementsFor({ kind: "view.create", view: totalsView }, ctx), [
    "CREATE MATERIALIZED VIEW `app`.`totals_mv` TO `app`.`totals`\nAS SELECT id, sum(v) AS total FROM events GROUP BY id",
  ]);
  t.deepEqual(statementsFor({ kind: "view.drop", view: totalsView }, ctx), ["DROP VIEW `app`.`totals_mv`"]);
  t.deepEqual(statementsFor({ kind: "view.drop", view: totalsView }, oldCtx), ["DROP TABLE `app`.`totals_mv`"]);
  const after = { ...totalsView, selectStatement: "SELECT id, max(v) AS total FROM events GROUP BY id" };
  t.deepEqual(statementsFor({ kind: "view.modify", before: totalsView, after }, ctx), [
    "ALTER TABLE `app`.`totals_mv` MODIFY QUERY\nSELECT id, max(v) AS total FROM events GROUP BY id",
  ]);
  t.deepEqual(statementsFor({ kind: "view.modify", before: totalsView, after }, { ...ctx, capabilities: capabilitiesFor("24.3.1") }), [
    "DROP VIEW `app`.`totals_mv`",
    "CREATE MATERIALIZED VIEW `app`.`totals_mv` TO `app`.`totals`\nAS SELECT id, max(v) AS total FROM events GROUP BY id",
  ]);
  t.deepEqual(statementsFor({ kind: "view.modify", before: totalsView, after: { ...totalsView, targetTable: "totals2" } }, ctx), [
    "DROP VIEW `app`.`totals_mv`",
    "CREATE MATERIALIZED VIEW `app`.`totals_mv` TO `app`.`totals2`\nAS SELECT id, sum(v) AS total FROM events GROUP BY id",
  ]);
  t.deepEqual(statementsFor({ kind: "view.modify", before: totalsView, after: { ...totalsView, lifeCycle: "EXTERNALLY_MANAGED" } }, ctx), []);
});

test("statementsFor: topics, APIs, workflows and processes are not ClickHouse's business", (t) => {
  const others: Change[] = [
    { kind: "topic.create", topic: topic("T") },
    { kind: "topic.drop", topic: topic("T") },
    { kind: "topic.modify", before: topic("T"), after: topic("T", { partitions: 2 }) },
    { kind: "api.create", api: api("ingest/A") },
    { kind: "api.drop", api: api("ingest/A") },
    { kind: "api.modify", before: api("ingest/A"), after: api("ingest/A", { version: "2" }) },
    { kind: "workflow.create", workflow: workflow("W") },
    { kind: "workflow.drop", workflow: workflow("W") },
    { kind: "workflow.modify", before: workflow("W"), after: workflow("W", { paused: true }) },
    { kind: "process.create", process: syncProcess("P", "T", "t") },
    { kind: "process.drop", process: syncProcess("P", "T", "t") },
    { kind: "process.modify", before: syncProcess("P", "T", "t"), after: syncProcess("P", "T", "u") },
  ];
  for (const change of others) t.deepEqual(statementsFor(change, ctx), [], change.kind);
});

const recentView = { name: "recent", selectStatement: "SELECT * FROM events WHERE v > 0", sourceTables: ["events"] };

test("plain views: CREATE VIEW, DROP VIEW (DROP TABLE before 20.8), a new SELECT drops and creates", (t) => {
  t.deepEqual(statementsFor({ kind: "plainView.create", view: recentView }, ctx), ["CREATE VIEW `app`.`recent`\nAS SELECT * FROM events WHERE v > 0"]);
  t.deepEqual(statementsFor({ kind: "plainView.drop", view: recentView }, ctx), ["DROP VIEW `app`.`recent`"]);
  t.deepEqual(statementsFor({ kind: "plainView.drop", view: recentView }, oldCtx), ["DROP TABLE `app`.`recent`"]);
  t.deepEqual(statementsFor({ kind: "plainView.modify", before: recentView, after: { ...recentView, selectStatement: "SELECT id FROM events" } }, ctx), [
    "DROP VIEW `app`.`recent`",
    "CREATE VIEW `app`.`recent`\nAS SELECT id FROM events",
  ]);
  t.deepEqual(statementsFor({ kind: "plainView.modify", before: recentView, after: recentView }, ctx), []);
});

test("statementsFor handles every change kind", (t) => {
  const sample: Record<(typeof CHANGE_KINDS)[number], Change> = {
    "table.create": { kind: "table.create", table: events },
    "table.drop": { kind: "table.drop", table: events },
    "table.rename": { kind: "table.rename", from: "a", to: "b" },
    "table.addColumn": { kind: "table.addColumn", table: "t", column: { name: "c", type: "String" }, after: "b" },
    "table.dropColumn": { kind: "table.dropColumn", table: "t", column: { name: "c", type: "String" } },
    "table.renameColumn": { kind: "table.renameColumn", table: "t", from: "a", to: "b" },
    "table.modifyColumn": { kind: "table.modifyColumn", table: "t", before: { name: "c", type: "Int8" }, after: { name: "c", type: "Int16" } },
    "table.moveColumn": { kind: "table.moveColumn", table: "events", column: "v", after: null, before: "id" },
    "table.setOrderBy": { kind: "table.setOrderBy", table: "t", before: ["a", "b"], after: ["a"] },
    "table.setEngine": { kind: "table.setEngine", table: "t", before: { kind: "MergeTree" }, after: { kind: "MergeTree" } },
    "table.setPartitionBy": { kind: "table.setPartitionBy", table: "t", before: "x", after: "x" },
    "table.setTtl": { kind: "table.setTtl", table: "t", after: "ts + toIntervalDay(1)" },
    "table.setSettings": { kind: "table.setSettings", table: "t", before: {}, after: { merge_with_ttl_timeout: "1" } },
    "table.setPrimaryKey": { kind: "table.setPrimaryKey", table: "t", before: ["a"], after: ["a"] },
    "table.setSampleBy": { kind: "table.setSampleBy", table: "t", before: "a", after: "a" },
    "table.setIndexes": { kind: "table.setIndexes", table: "t", before: [], after: [{ name: "i", expression: "a", type: "minmax", granularity: 1 }] },
    "table.setProjections": { kind: "table.setProjections", table: "t", before: [], after: [{ name: "p", body: "SELECT a ORDER BY a" }] },
    "table.setConstraints": { kind: "table.setConstraints", table: "t", before: [], after: [{ name: "c", type: "CHECK", expression: "a > 0" }] },
    "table.setLifeCycle": { kind: "table.setLifeCycle", table: "t", before: "FULLY_MANAGED", after: "EXTERNALLY_MANAGED" },
    "view.create": { kind: "view.create", view: totalsView },
    "view.drop": { kind: "view.drop", view: totalsView },
    "view.modify": { kind: "view.modify", before: totalsView, after: totalsView },
    "view.backfill": { kind: "view.backfill", view: { ...totalsView, targetTable: "events" } },
    "plainView.create": { kind: "plainView.create", view: recentView },
    "plainView.drop": { kind: "plainView.drop", view: recentView },
    "plainView.modify": { kind: "plainView.modify", before: recentView, after: { ...recentView, selectStatement: "SELECT id FROM events" } },
    "sqlResource.create": { kind: "sqlResource.create", resource: { name: "R", setup: ["CREATE VIEW r AS SELECT 1"], teardown: ["DROP VIEW r"], pullsDataFrom: [], pushesDataTo: [] } },
    "sqlResource.drop": { kind: "sqlResource.drop", resource: { name: "R", setup: ["CREATE VIEW r AS SELECT 1"], teardown: ["DROP VIEW r"], pullsDataFrom: [], pushesDataTo: [] } },
    "sqlResource.modify": {
      kind: "sqlResource.modify",
      before: { name: "R", setup: ["CREATE VIEW r AS SELECT 1"], teardown: ["DROP VIEW r"], pullsDataFrom: [], pushesDataTo: [] },
      after: { name: "R", setup: ["CREATE VIEW r AS SELECT 2"], teardown: ["DROP VIEW r"], pullsDataFrom: [], pushesDataTo: [] },
    },
    "table.rebuild": { kind: "table.rebuild", before: events, after: { ...events, orderBy: [] }, keepOldAs: "events__moose_old" },
    "table.backfillColumn": { kind: "table.backfillColumn", table: "events", column: "v", expression: "1" },
    "table.copyRows": { kind: "table.copyRows", from: "events", to: "events2", columns: ["id"] },
    "topic.create": { kind: "topic.create", topic: topic("T") },
    "topic.drop": { kind: "topic.drop", topic: topic("T") },
    "topic.modify": { kind: "topic.modify", before: topic("T"), after: topic("T") },
    "api.create": { kind: "api.create", api: api("a") },
    "api.drop": { kind: "api.drop", api: api("a") },
    "api.modify": { kind: "api.modify", before: api("a"), after: api("a") },
    "workflow.create": { kind: "workflow.create", workflow: workflow("w") },
    "workflow.drop": { kind: "workflow.drop", workflow: workflow("w") },
    "workflow.modify": { kind: "workflow.modify", before: workflow("w"), after: workflow("w") },
    "process.create": { kind: "process.create", process: syncProcess("p", "T", "t") },
    "process.drop": { kind: "process.drop", process: syncProcess("p", "T", "t") },
    "process.modify": { kind: "process.modify", before: syncProcess("p", "T", "t"), after: syncProcess("p", "T", "t") },
  };
  const state = mapOf([events]);
  for (const kind of CHANGE_KINDS) t.notThrows(() => statementsFor(sample[kind], { ...ctx, state }), kind);
});

// ---------------------------------------------------------------------------
// refusals on an old server (18.16's capability table), before anything is sent

test("statementsFor on ClickHouse 18.16: unsupported types are refused naming the version, column and alternative", (t) => {
  const refusal = (type: string) => {
    const error = t.throws(() => statementsFor({ kind: "table.create", table: table("t", [["id", "String"], ["c", type]]) }, oldCtx)) as MooseError;
    t.is(error.code, "UNSUPPORTED_BY_SERVER", type);
    t.is(error.exit, "refused");
    return error;
  };
  const bool = refusal("Bool");
  t.is(bool.message, "cannot use type Bool for column c of table t: ClickHouse 18.16.1 does not support the Bool type (ClickHouse 21.12+)");
  t.regex(bool.hint ?? "", /UInt8 reads back as a number/);
  for (const type of ["Date32", "DateTime64(3)", "JSON", "Map(String, Float64)", "Tuple(a String, b Float64)", "Nested(a String, b Int32)", "IPv4", "Array(Nullable(Map(String, UInt8)))"]) {
    t.regex(refusal(type).message, /ClickHouse 18\.16\.1 does not support/);
  }
  // What 18.16 has is rendered.
  for (const type of ["String", "Float64", "DateTime('UTC')", "Nullable(Float64)", "Array(Nullable(String))", "Tuple(String, Float64)", "LowCardinality(Nullable(String))", "Enum8('a' = 1, 'b' = 2)", "Decimal(10, 2)", "UUID", "Int8", "UInt64", "Float32"]) {
    t.notThrows(() => statementsFor({ kind: "table.create", table: table("t", [["id", "String"], ["c", type]]) }, oldCtx), type);
  }
});

test("statementsFor on ClickHouse 18.16: unsupported DDL is refused", (t) => {
  const code = (change: Change, state = mapOf([table("t", [["a", "String"], ["b", "Int32", "1"]])])) => {
    const error = t.throws(() => statementsFor(change, { ...oldCtx, state })) as MooseError;
    return `${error.code}: ${error.message}`;
  };
  t.is(code({ kind: "table.renameColumn", table: "t", from: "a", to: "c" }), "UNSUPPORTED_BY_SERVER: cannot rename column a of table t to c: ClickHouse 18.16.1 does not support RENAME COLUMN (ClickHouse 20.4+)");
  t.is(code({ kind: "table.addColumn", table: "t", column: { name: "c", type: "String" }, after: null }), "UNSUPPORTED_BY_SERVER: cannot add column c as the first column of table t: ClickHouse 18.16.1 does not support ADD COLUMN … FIRST (ClickHouse 21.1+)");
  t.is(code({ kind: "table.moveColumn", table: "t", column: "b", after: null, before: "a" }), "UNSUPPORTED_BY_SERVER: cannot move column b of table t: ClickHouse 18.16.1 does not support MODIFY COLUMN … AFTER / FIRST (ClickHouse 21.1+)");
  t.is(code({ kind: "table.modifyColumn", table: "t", before: { name: "b", type: "Int32", default: "1" }, after: { name: "b", type: "Int32" } }), "UNSUPPORTED_BY_SERVER: cannot remove the DEFAULT of column b in table t: ClickHouse 18.16.1 does not support MODIFY COLUMN … REMOVE DEFAULT (ClickHouse 21.1+)");
  t.is(code({ kind: "table.setTtl", table: "t", after: "ts + toIntervalDay(1)" }), "UNSUPPORTED_BY_SERVER: cannot set the TTL of table t to ts + toIntervalDay(1): ClickHouse 18.16.1 does not support table TTL (ClickHouse 19.6+)");
  t.is(code({ kind: "table.setSettings", table: "t", before: {}, after: { merge_with_ttl_timeout: "1" } }), "UNSUPPORTED_BY_SERVER: cannot change settings merge_with_ttl_timeout of table t: ClickHouse 18.16.1 does not support ALTER TABLE … MODIFY SETTING (ClickHouse 19.11+)");
  t.is(code({ kind: "table.create", table: table("r", [["id", "String"], ["v", "UInt32"], ["d", "UInt8"]], { engine: { kind: "ReplacingMergeTree", ver: "v", isDeleted: "d" } }) }), "UNSUPPORTED_BY_SERVER: cannot create table r as ReplacingMergeTree(v, d): ClickHouse 18.16.1 does not support the is_deleted column of ReplacingMergeTree (ClickHouse 23.2+)");
  // What it can do is rendered.
  t.deepEqual(statementsFor({ kind: "table.addColumn", table: "t", column: { name: "c", type: "String" }, after: "a" }, oldCtx), ["ALTER TABLE `app`.`t` ADD COLUMN `c` String AFTER `a`"]);
  t.deepEqual(statementsFor({ kind: "view.modify", before: totalsView, after: { ...totalsView, selectStatement: "SELECT 1" } }, oldCtx), [
    "DROP TABLE `app`.`totals_mv`",
    "CREATE MATERIALIZED VIEW `app`.`totals_mv` TO `app`.`totals`\nAS SELECT 1",
  ]);
});

test("fixtures cover every engine kind", (t) => {
  t.deepEqual([...new Set(allTables.map((x) => x.engine.kind))].sort(), ["AggregatingMergeTree", "CollapsingMergeTree", "MergeTree", "ReplacingMergeTree", "SummingMergeTree"]);
  t.true(allViews.length >= 2);
});

test("rebuildTableStatements: create the new table, copy shared columns, swap, drop the old rows", (t) => {
  const before = table("t", [["id", "String"], ["gone", "Int32"], ["v", "Float64"]], { orderBy: ["id"] });
  const after = table("t", [["id", "String"], ["v", "Float64"], ["fresh", "String", "'x'"]], { orderBy: ["v", "id"], engine: { kind: "ReplacingMergeTree" } });
  const create = statementsFor({ kind: "table.create", table: { ...after, name: "t__moose_rebuild" } }, ctx)[0] as string;
  t.deepEqual(rebuildTableStatements(before, after, ctx), [
    create,
    "INSERT INTO `app`.`t__moose_rebuild` (`id`, `v`)\nSELECT `id`, `v` FROM `app`.`t`",
    "EXCHANGE TABLES `app`.`t` AND `app`.`t__moose_rebuild`",
    "DROP TABLE `app`.`t__moose_rebuild`",
  ]);
  t.deepEqual(rebuildTableStatements(before, after, oldCtx).slice(2), [
    "RENAME TABLE `app`.`t` TO `app`.`t__moose_old`, `app`.`t__moose_rebuild` TO `app`.`t`",
    "DROP TABLE `app`.`t__moose_old`",
  ]);
  t.is((t.throws(() => rebuildTableStatements(before, { ...after, name: "u" }, ctx)) as MooseError).code, "CHANGE_INVALID");
});
