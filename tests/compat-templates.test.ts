import { join } from "node:path";
import test from "ava";
import { renderPlanText } from "../cli/present/plan-text.js";
import { diff } from "../lib/diff/diff.js";
import { extractApp, type ExtractedApp } from "../lib/extract/extract-app.js";
import { emptyInfraMap, type ApiEndpoint, type Column, type MaterializedView, type SyncProcess, type Table, type Topic, type Workflow } from "../lib/model/infra-map.js";
import { plan } from "../lib/plan/plan.js";
import { FIXTURES_DIR, once } from "./helpers/extract-apps.js";

/**
 * The public template apps of Moose (templates/typescript, typescript-express and
 * typescript-fastify in 514-labs/moosestack), copied unchanged as fixtures under
 * fixtures/moose-templates/<template>/ (app code, moose.config.toml, package.json).
 * Each must plan the infrastructure the real Moose declares for it: the expectations
 * below are what moose-lib's compiler plugin and the Moose CLI produce (ClickHouse types
 * as `system.columns` shows them; Moose's DDL says `Boolean` where ClickHouse shows `Bool`).
 */
const TEMPLATES = ["typescript", "typescript-express", "typescript-fastify"] as const;
type Template = (typeof TEMPLATES)[number];

const extracted: Record<Template, () => ExtractedApp> = {
  typescript: once(() => extractTemplate("typescript")),
  "typescript-express": once(() => extractTemplate("typescript-express")),
  "typescript-fastify": once(() => extractTemplate("typescript-fastify")),
};

function extractTemplate(template: Template): ExtractedApp {
  return extractApp({ projectDir: join(FIXTURES_DIR, "moose-templates", template), mainFile: "app/index.ts" });
}

const col = (name: string, type: string): Column => ({ name, type });

// ---------------------------------------------------------------------------
// What Moose declares for the shared part of the three templates.

const FOO_COLUMNS = [col("primaryKey", "String"), col("timestamp", "Float64"), col("optionalText", "Nullable(String)")];
const BAR_COLUMNS = [col("primaryKey", "String"), col("utcTimestamp", "DateTime('UTC')"), col("hasText", "Bool"), col("textLength", "Float64")];
/** moose-lib's fixed dead-letter record: `source` is a plain String on the topic. */
const DEAD_LETTER_TOPIC_COLUMNS = [
  col("originalRecord", "JSON"),
  col("errorMessage", "String"),
  col("errorType", "String"),
  col("failedAt", "DateTime('UTC')"),
  col("source", "String"),
];

const table = (name: string, columns: Column[], orderBy: string[]): Table => ({
  name,
  columns,
  orderBy,
  engine: { kind: "MergeTree" },
  settings: {},
  lifeCycle: "FULLY_MANAGED",
});

const TABLES: Readonly<Record<string, Table>> = {
  // Key<string> primaryKey: PRIMARY KEY and sorting key.
  Bar: table("Bar", BAR_COLUMNS, ["primaryKey"]),
  // OlapTable<DeadLetterModel>: the literal union `source` is LowCardinality, Record<string, any> is JSON.
  FooDeadLetter: table(
    "FooDeadLetter",
    [col("originalRecord", "JSON"), col("errorMessage", "String"), col("errorType", "String"), col("failedAt", "DateTime('UTC')"), col("source", "LowCardinality(String)")],
    ["failedAt"],
  ),
  // The materialized view's target, created from `interface BarAggregated` (typia int64 tags).
  BarAggregated: table(
    "BarAggregated",
    ["dayOfMonth", "totalRows", "rowsWithText", "totalTextLength", "maxTextLength"].map((n) => col(n, "Int64")),
    ["dayOfMonth"],
  ),
  // Declared (not exported) in workflows/generator.ts.
  FooWorkflow: table("FooWorkflow", [col("id", "String"), col("success", "Bool"), col("message", "String")], ["id"]),
};

const topic = (name: string, columns: Column[]): Topic => ({
  name,
  partitions: 1,
  retentionMs: 604_800_000,
  config: {},
  columns,
  lifeCycle: "FULLY_MANAGED",
});

const TOPICS: Readonly<Record<string, Topic>> = {
  Foo: topic("Foo", FOO_COLUMNS),
  Bar: topic("Bar", BAR_COLUMNS),
  FooDeadLetterQueue: topic("FooDeadLetterQueue", DEAD_LETTER_TOPIC_COLUMNS),
};

const PROCESSES: Readonly<Record<string, SyncProcess>> = {
  Bar_to_Bar: { name: "Bar_to_Bar", sourceTopic: "Bar", targetTable: "Bar" },
  FooDeadLetterQueue_to_FooDeadLetter: { name: "FooDeadLetterQueue_to_FooDeadLetter", sourceTopic: "FooDeadLetterQueue", targetTable: "FooDeadLetter" },
};

/** The `sql` template of views/barAggregated.ts with tables and columns resolved (trimmed). */
const BAR_AGGREGATED_SELECT = [
  "SELECT",
  "    toDayOfMonth(`utcTimestamp`) as dayOfMonth,",
  "    count(`primaryKey`) as totalRows,",
  "    countIf(`hasText`) as rowsWithText,",
  "    sum(`textLength`) as totalTextLength,",
  "    max(`textLength`) as maxTextLength",
  "  FROM `Bar`",
  "  GROUP BY toDayOfMonth(utcTimestamp)",
].join("\n");

const VIEWS: Readonly<Record<string, MaterializedView>> = {
  BarAggregated_MV: { name: "BarAggregated_MV", selectStatement: BAR_AGGREGATED_SELECT, sourceTables: ["Bar"], targetTable: "BarAggregated", lifeCycle: "FULLY_MANAGED" },
};

const BAR_API_PARAMS = [
  // The union's values travel with the parameter: the server answers 400 to any other.
  { ...col("orderBy", "LowCardinality(Nullable(String))"), oneOf: ["maxTextLength", "rowsWithText", "totalRows", "totalTextLength"] },
  col("limit", "Nullable(Float64)"),
  col("startDay", "Nullable(Int32)"),
  col("endDay", "Nullable(Int32)"),
];

const INGEST_FOO: ApiEndpoint = { name: "ingest/Foo", kind: "ingest", columns: FOO_COLUMNS, destination: "Foo" };
const API_BAR: ApiEndpoint = { name: "api/bar", kind: "consumption", columns: BAR_API_PARAMS };

const APIS: Readonly<Record<Template, Readonly<Record<string, ApiEndpoint>>>> = {
  typescript: {
    "ingest/Foo": INGEST_FOO,
    "api/bar": API_BAR,
    // BarApiV1: `{ version: "1" }`.
    "api/bar/1": { name: "api/bar/1", kind: "consumption", columns: BAR_API_PARAMS, version: "1" },
  },
  "typescript-express": { "ingest/Foo": INGEST_FOO, "api/bar": API_BAR },
  "typescript-fastify": { "ingest/Foo": INGEST_FOO, "api/bar": API_BAR },
};

// The schedule is commented out in every template: on demand only.
const WORKFLOWS: Readonly<Record<string, Workflow>> = {
  generator: { name: "generator", retries: 3, timeout: "30s", paused: false },
};

// ---------------------------------------------------------------------------

for (const template of TEMPLATES) {
  test(`${template}: tables with Moose's names, columns, ClickHouse types, engines and ORDER BY`, (t) => {
    t.deepEqual(extracted[template]().map.tables, TABLES);
  });

  test(`${template}: topics (1 partition, moose-lib's 7-day retention) and their syncs to tables`, (t) => {
    const { map } = extracted[template]();
    t.deepEqual(map.topics, TOPICS);
    t.deepEqual(map.processes, PROCESSES);
  });

  test(`${template}: the materialized view with its sql template resolved`, (t) => {
    t.deepEqual(extracted[template]().map.views, VIEWS);
  });

  test(`${template}: ingest and consumption endpoints`, (t) => {
    t.deepEqual(extracted[template]().map.apis, APIS[template]);
  });

  test(`${template}: workflows`, (t) => {
    t.deepEqual(extracted[template]().map.workflows, WORKFLOWS);
  });
}

test("typescript: `moose plan` from nothing lists every component", (t) => {
  const { map } = extracted.typescript();
  const from = emptyInfraMap();
  const text = renderPlanText(plan(diff(from, map), { from, to: map }));
  t.is(
    text,
    [
      "Infrastructure Changes:",
      " New Components",
      "  + Bar (OLAP Table)",
      "  + BarAggregated (OLAP Table)",
      "  + FooDeadLetter (OLAP Table)",
      "  + FooWorkflow (OLAP Table)",
      "  + Bar (Streaming Topic)",
      "  + Foo (Streaming Topic)",
      "  + FooDeadLetterQueue (Streaming Topic)",
      "  + BarAggregated_MV (Materialized View)",
      "  + Bar_to_Bar (Background Process)",
      "  + FooDeadLetterQueue_to_FooDeadLetter (Background Process)",
      "  + api/bar (API Endpoint)",
      "  + api/bar/1 (API Endpoint)",
      "  + ingest/Foo (API Endpoint)",
      "  + generator (Workflow)",
      "",
    ].join("\n"),
  );
});

// Uninstalled packages, the redirected imports and the unplanned web apps are said, and nothing else.
const REDIRECTS = [
  "imports of @514labs/moose-lib are planned against moose-migrate's declaration library",
  "typia is not installed: its type tags are read from moose-migrate's copy of them",
];
// express, fastify and @faker-js/faker are this package's devDependencies (tests/templates-dev runs the apps), so
// only the library redirects and the web apps remain.
const WARNINGS: Readonly<Record<Template, readonly string[]>> = {
  typescript: [...REDIRECTS],
  "typescript-express": [
    ...REDIRECTS,
    'app/apis/bar.ts:131:30: WebApp "barExpress" (mounted at /express) is code served by `moose dev`; it has no infrastructure to plan',
  ],
  "typescript-fastify": [
    ...REDIRECTS,
    'app/apis/bar.ts:117:30: WebApp "barFastify" (mounted at /fastify) is code served by `moose dev`; it has no infrastructure to plan',
  ],
};

for (const template of TEMPLATES) {
  test(`${template}: warnings name what is not installed or not planned`, (t) => {
    t.deepEqual(extracted[template]().warnings, WARNINGS[template]);
  });
}
