import test from "ava";
import { clearDeclarations, getApi, getTable, getWorkflow, OlapTable, Sql, sql, Task, Workflow, ConsumptionApi } from "../lib/index.js";

/**
 * moose-lib's registry look-ups and `Sql` as a value, as apps import them
 * (examples/cdp-analytics uses getTable; examples/nextjs-moose imports Sql beside sql).
 */

test.serial("getTable finds declared tables by moose-lib's keys (name, name_version); getWorkflow, getApi too", (t) => {
  clearDeclarations();
  const customers = new OlapTable<{ id: string }>("Customer");
  const v2 = new OlapTable<{ id: string }>("Session", { version: "2" });
  const wf = new Workflow("nightly", { startingTask: new Task<null, void>("t", { run: async () => undefined }) });
  const api = new ConsumptionApi<{ n: number }, unknown>("report", async () => [], { version: "1" });
  t.is(getTable("Customer"), customers);
  t.is(getTable("Session_2"), v2);
  t.is(getTable("Nope"), undefined);
  t.is(getWorkflow("nightly"), wf);
  t.is(getApi("report"), api);
  clearDeclarations();
  t.is(getTable("Customer"), undefined);
});

test("Sql is a value: `x instanceof Sql` holds for what sql made, not for look-alikes", (t) => {
  t.true(sql`SELECT 1` instanceof Sql);
  t.true(sql.fragment`x` instanceof Sql);
  t.false({ strings: ["SELECT 1"], values: [] } instanceof (Sql as never));
  t.false(("SELECT 1" as unknown as object) instanceof (Sql as never));
});
