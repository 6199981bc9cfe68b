import { existsSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { renderPlanText } from "../cli/present/plan-text.js";
import type { Change } from "../lib/diff/change.js";
import { diff } from "../lib/diff/diff.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { canonicalJson, emptyInfraMap, type InfraMap } from "../lib/model/infra-map.js";
import { plan, type Plan } from "../lib/plan/plan.js";
import { FIXTURES_DIR } from "./helpers/extract-apps.js";

/**
 * The examples of the seed page (moose-migrate-docs.txt) as before/after apps under
 * fixtures/seed/<example>/. Each goes through the whole pipeline: extract both sides,
 * diff, plan, render. A missing `before` is the empty state.
 */
interface Example {
  readonly changes: Change[];
  readonly plan: Plan;
  readonly text: string;
}

function side(example: string, which: "before" | "after"): InfraMap {
  const projectDir = join(FIXTURES_DIR, "seed", example, which);
  if (!existsSync(join(projectDir, "app", "index.ts"))) return emptyInfraMap();
  const app = extractApp({ projectDir, mainFile: "app/index.ts" });
  if (app.warnings.length > 0) throw new Error(`${example}/${which}: unexpected warnings: ${app.warnings.join("; ")}`);
  return app.map;
}

const examples = new Map<string, Example>();

/** Each example is extracted once and shared by its tests. */
function runExample(example: string): Example {
  let result = examples.get(example);
  if (!result) {
    result = computeExample(example);
    examples.set(example, result);
  }
  return result;
}

function computeExample(example: string): Example {
  const from = side(example, "before");
  const to = side(example, "after");
  const changes = diff(from, to);
  const p = plan(changes, { from, to });
  return { changes, plan: p, text: renderPlanText(p) };
}

/** The component lines (`  + name (Label)`), without detail lines, warnings or headings. */
function componentLines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^ {2}[+~-] /.test(l))
    .map((l) => l.replace(/ {2}⚠.*$/, ""));
}

const EXAMPLES = ["quickstart", "add-table", "add-field", "remove-field", "remove-object", "change-type", "plan-output"] as const;

for (const example of EXAMPLES) {
  test(`${example}: plan text and changes match the snapshot`, (t) => {
    const { changes, text } = runExample(example);
    t.snapshot(text, "plan text");
    // Through JSON and back: changes are plain serializable data, keys sorted for a stable report.
    t.snapshot(JSON.parse(canonicalJson(changes)), "Change[] as JSON");
  });
}

test("quickstart: Users and UserEvents are created from nothing", (t) => {
  const { text, changes } = runExample("quickstart");
  t.true(text.startsWith("Infrastructure Changes:\n New Components\n  + Users (OLAP Table)\n  + UserEvents (Streaming Topic)\n"));
  t.deepEqual(
    changes.map((c) => c.kind),
    ["table.create", "topic.create"],
  );
  const users = changes[0]?.kind === "table.create" ? changes[0].table : undefined;
  t.deepEqual(users?.columns, [
    { name: "id", type: "String" },
    { name: "name", type: "String" },
    { name: "email", type: "String" },
  ]);
});

test("add-table: only the Analytics table is new", (t) => {
  const { text, changes } = runExample("add-table");
  t.is(text, "Infrastructure Changes:\n New Components\n  + Analytics (OLAP Table)\n");
  t.deepEqual(
    changes.map((c) => c.kind),
    ["table.create"],
  );
});

test("add-field: the age column is added to Users (a required number is Float64)", (t) => {
  const { text, plan: p } = runExample("add-field");
  t.true(text.includes("🔄 Modified Components\n  ~ Users (Schema Update)\n      + age Float64\n"));
  // The stream shares UserSchema, so its record schema changes too.
  t.true(text.includes("  ~ UserEvents (Schema Update)\n      + age Float64\n"));
  t.false(text.includes("⚠"));
  t.deepEqual(
    p.steps.map((s) => [s.change.kind, s.risk.code]),
    [
      ["table.addColumn", "ADD_COLUMN"],
      ["topic.modify", "SCHEMA_UPDATE"],
    ],
  );
  t.deepEqual(p.steps[0]?.change, { kind: "table.addColumn", table: "Users", column: { name: "age", type: "Float64" }, after: "email" });
});

test("remove-field: dropping email is destructive and marked", (t) => {
  const { text, plan: p } = runExample("remove-field");
  t.true(text.includes("  ~ Users (Schema Update)\n      - email String  ⚠ drops a column and its data\n"));
  t.true(text.includes("⚠ 1 step would lose data"));
  t.deepEqual(
    p.steps.map((s) => [s.change.kind, s.risk.class, s.risk.losesData]),
    [
      ["table.dropColumn", "destructive", true],
      ["topic.modify", "rewrite", false],
    ],
  );
});

test("remove-object: dropping the Analytics table is destructive and marked", (t) => {
  const { text, plan: p } = runExample("remove-object");
  t.true(text.includes(" Removed Components\n  - Analytics (OLAP Table)  ⚠ drops a table and its data\n"));
  t.deepEqual(
    p.steps.map((s) => [s.change.kind, s.risk.code]),
    [["table.drop", "DROP_TABLE"]],
  );
});

test("change-type: a widening change passes, a lossy one is marked", (t) => {
  const { text, plan: p } = runExample("change-type");
  t.true(text.includes("  ~ Users (Schema Update)\n      ~ age UInt8 → UInt16\n      ~ balance Float64 → Int32  ⚠ "));
  t.deepEqual(
    p.steps.map((s) => [s.change.kind, s.risk.code]),
    [
      ["table.modifyColumn", "WIDEN_TYPE"],
      ["table.modifyColumn", "LOSSY_TYPE_CHANGE"],
    ],
  );
});

test("plan-output: the seed's 'Understanding Plan Output' components, in its order", (t) => {
  const { text } = runExample("plan-output");
  // The seed lists these; our sync processes are named `<topic>_to_<table>`, so the
  // removed background process is `deprecated_to_archive` rather than `deprecated_process`.
  t.deepEqual(componentLines(text), [
    "  + analytics_table (OLAP Table)",
    "  + metrics_topic (Streaming Topic)",
    "  + api/v2/metrics (API Endpoint)",
    "  ~ users_table (Schema Update)",
    "  ~ events_topic (Config Change)",
    "  - deprecated_to_archive (Background Process)",
  ]);
  const headings = text.split("\n").filter((l) => l.endsWith("Components"));
  t.deepEqual(headings, [" New Components", "🔄 Modified Components", " Removed Components"]);
  t.true(text.startsWith("Infrastructure Changes:\n"));
});

test("plan-output: the topic config change shows partitions and retention", (t) => {
  const { text, plan: p } = runExample("plan-output");
  t.true(text.includes("  ~ events_topic (Config Change)\n      ~ partitions 1 → 2\n      ~ retention 1d → 7d\n"));
  const topic = p.steps.find((s) => s.change.kind === "topic.modify");
  t.is(topic?.risk.code, "TOPIC_CONFIG");
  // Removing a sync process loses no stored data, so there is no data-loss footer.
  t.false(text.includes("would lose data"));
});
