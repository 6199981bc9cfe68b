import test from "ava";
import { extractApp } from "../lib/extract/extract-app.js";
import { clearDeclarations, getMaterializedView, getStream, getTable, IngestPipeline, MaterializedView, OlapTable, sql } from "../lib/index.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";

/**
 * moose-lib's registry getters (`getTable("Customer")`, …) in a view's SELECT resolve while
 * planning to the object declared under that name (moose's cdp-analytics example writes its
 * views this way), and at run time to the constructed object.
 */
const models = [
  'import { IngestPipeline, OlapTable, Key } from "@514labs/moose-lib";',
  "export interface Customer { customerId: Key<string>; createdAt: Date }",
  "export interface Session { sessionId: Key<string>; customerId: string; pageViewCount: number }",
  'export const CustomerPipeline = new IngestPipeline<Customer>("Customer", { table: true, stream: true, ingestApi: true });',
  'export const sessions = new OlapTable<Session>("Session", { version: "2" });',
].join("\n");

test("getTable(\"X\") in a view's selectStatement is the table declared as X (a pipeline's table too), read before the view itself", (t) => {
  const dir = tempApp({
    "app/ingest/models.ts": models,
    "app/views/cohort.ts": [
      'import { MaterializedView, getTable, getStream, sql } from "@514labs/moose-lib";',
      'const customerTable = getTable("Customer");',
      'const sessionTable = getTable("Session_2");',
      'if (!customerTable || !sessionTable || !getStream("Customer")) {',
      '  throw new Error("Required tables not found");',
      "}",
      "interface Cohort { customerId: string; sessions: number }",
      "export const cohort = new MaterializedView<Cohort>({",
      "  selectStatement: sql.statement`SELECT c.customerId AS customerId, count() AS sessions FROM ${customerTable} c JOIN ${sessionTable} s ON s.customerId = c.customerId GROUP BY c.customerId`,",
      '  selectTables: [customerTable, sessionTable],',
      '  tableName: "Cohort",',
      '  materializedViewName: "mv_cohort",',
      '  orderByFields: ["customerId"],',
      "});",
    ].join("\n"),
    "app/index.ts": ['export * from "./ingest/models";', 'export * from "./views/cohort";'].join("\n"),
  });
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.deepEqual(map.views.mv_cohort?.sourceTables, ["Customer", "Session_2"]);
  t.is(
    map.views.mv_cohort?.selectStatement,
    "SELECT c.customerId AS customerId, count() AS sessions FROM `Customer` c JOIN `Session_2` s ON s.customerId = c.customerId GROUP BY c.customerId",
  );
  t.deepEqual(Object.keys(map.tables).sort(), ["Cohort", "Customer", "Session_2"]);
});

test("a getter naming nothing declared is UNKNOWN_REFERENCE at its call", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      models,
      'import { MaterializedView, getTable, sql } from "@514labs/moose-lib";',
      'const missing = getTable("Customers");',
      "export const v = new MaterializedView<{ customerId: string }>({",
      '  selectStatement: sql`SELECT customerId FROM ${missing}`, selectTables: [missing!], tableName: "V", materializedViewName: "V_MV" });',
    ].join("\n"),
  });
  t.deepEqual(
    errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" })).map((e) => `${e.code} ${e.located}`),
    ['UNKNOWN_REFERENCE app/index.ts:7:17: getTable("Customers") names no declared table'],
  );
});

test("at run time the getters return the constructed objects (versioned tables under <name>_<version>)", (t) => {
  clearDeclarations();
  const pipeline = new IngestPipeline<{ id: string }>("Customer", { table: true, stream: true });
  const versioned = new OlapTable<{ id: string }>("Session", { version: "2" });
  const view = new MaterializedView<{ id: string }>({ materializedViewName: "mv", selectStatement: sql`SELECT id FROM ${versioned}`, selectTables: [versioned], tableName: "Out" });
  t.is(getTable("Customer"), pipeline.table);
  t.is(getTable("Session_2"), versioned);
  t.is(getStream("Customer"), pipeline.stream);
  t.is(getMaterializedView("mv"), view);
  t.is(getTable("Nope"), undefined);
  clearDeclarations();
});
