import test from "ava";
import { extractApp } from "../lib/extract/extract-app.js";
import type { InfraMap, Table } from "../lib/model/infra-map.js";
import { keepColumnOrder } from "../lib/plan/column-order.js";
import { planAgainst } from "../lib/project/plan-project.js";
import { tempApp } from "./helpers/extract-apps.js";

/**
 * `interface B extends A` gives B's own fields first, then A's, as Moose creates the table;
 * a table that already exists in another order (created before, or by hand) keeps it:
 * order alone plans nothing unless the user asks (`reorderColumns`).
 */
const app = (extra = "") =>
  tempApp({
    "app/index.ts": [
      'import { OlapTable, Key } from "@514labs/moose-lib";',
      "interface Base { id: Key<string>; createdAt: Date }",
      `interface Customer extends Base { name: string;${extra} }`,
      'export const customers = new OlapTable<Customer>("Customers");',
    ].join("\n"),
  });

const existing = (code: InfraMap): InfraMap => {
  const t = code.tables.Customers as Table;
  // The order the table was created in before: base fields first.
  const byName = new Map(t.columns.map((c) => [c.name, c]));
  return { ...code, tables: { Customers: { ...t, columns: ["id", "createdAt", "name"].map((n) => byName.get(n)!) } } };
};

test("extends: the table is declared with the interface's own fields first, as Moose creates it", (t) => {
  const { map } = extractApp({ projectDir: app(), mainFile: "app/index.ts" });
  t.deepEqual(map.tables.Customers?.columns.map((c) => c.name), ["name", "id", "createdAt"]);
  t.deepEqual(map.tables.Customers?.orderBy, ["id"]);
});

test("an existing table in another order plans nothing; a new field goes after the field it follows in the declaration", (t) => {
  const extracted = extractApp({ projectDir: app(), mainFile: "app/index.ts" });
  const current = existing(extracted.map);
  t.deepEqual(planAgainst(extracted, current, { kind: "empty" }).plan.steps, []);

  const grown = extractApp({ projectDir: app(" email: string;"), mainFile: "app/index.ts" });
  const steps = planAgainst(grown, current, { kind: "empty" }).plan.steps.map((s) => s.change);
  t.deepEqual(steps, [{ kind: "table.addColumn", table: "Customers", column: { name: "email", type: "String" }, after: "name" }]);

  // Asked for: the existing columns move into the declared order (metadata only, no rebuild).
  const moved = planAgainst(extracted, current, { kind: "empty" }, { reorderColumns: true }).plan.steps;
  t.deepEqual(moved.map((s) => `${s.change.kind} ${s.risk.code}`), ["table.moveColumn MOVE_COLUMN"]);
});

test("keepColumnOrder follows renames and leaves objects already in order untouched", (t) => {
  const { map } = extractApp({ projectDir: app(), mainFile: "app/index.ts" });
  t.is(keepColumnOrder(map, map), map);
  const current = existing(map);
  const before = current.tables.Customers as Table;
  const renamedState = { ...current, tables: { Customers: { ...before, columns: before.columns.map((c) => (c.name === "name" ? { ...c, name: "fullName" } : c)) } } };
  const kept = keepColumnOrder(map, renamedState, { tables: [], columns: [{ table: "Customers", from: "fullName", to: "name" }] });
  t.deepEqual(kept.tables.Customers?.columns.map((c) => c.name), ["id", "createdAt", "name"]);
});
