import test from "ava";
import { MooseError } from "../lib/errors.js";
import { embeddedProjects, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";

/**
 * A rollback never loses data unannounced: the generated `down` steps carry
 * `approveDataLoss: true`, but undoing an added column still drops its values, so
 * `--dry-run` marks such steps with ⚠ and a rollback runs them only with
 * `--accept-data-loss`. Embedded ClickHouse, real SQLite ledger.
 */

const projects = embeddedProjects("rollback-loss");

const USERS = table("Users", [
  ["id", "String"],
  ["name", "String"],
]);

test("undoing an added column is refused without --accept-data-loss, marked ⚠ in the dry run, and runs with it", async (t) => {
  const p = await projects.open();
  const olap = p.olap;
  p.generate(infra({ tables: [USERS] }), undefined, {}, "create");
  p.generate(infra({ tables: [{ ...USERS, columns: [...USERS.columns, { name: "age", type: "Nullable(Int64)" }] }] }), undefined, {}, "age");
  t.true((await p.deploy()).ok);
  await olap.execute("INSERT INTO Users VALUES ('u1', 'Ada', 42)");

  const error = await t.throwsAsync(p.rollback(undefined, { acceptDataLoss: false }));
  t.true(error instanceof MooseError);
  t.is((error as MooseError).code, "ROLLBACK_LOSES_DATA");
  t.regex((error as MooseError).details[0] ?? "", /\d{14}_age\.ts:\d+: dropColumn\("Users", …\) /);
  t.deepEqual(await olap.query("SELECT toString(age) AS age FROM Users"), [{ age: "42" }], "nothing was rolled back");

  const dry = await p.rollback(undefined, { acceptDataLoss: false, dryRun: true });
  const planned = dry.migrations[0];
  t.is(planned?.status, "planned");
  t.regex(planned?.status === "planned" ? (planned.steps[0]?.dataLoss ?? "") : "", /dropColumn/);

  const done = await p.rollback(undefined, { acceptDataLoss: true });
  t.deepEqual(done.migrations.map((m) => m.status), ["rolled-back"]);
  t.is((await fingerprint(olap, "Users", ["id", "name"])).rows, 1);
});

test("undoing a created table drops it: refused without --accept-data-loss as well (a rename's undo needs no flag: evolve-cli)", async (t) => {
  const p = await projects.open();
  p.generate(infra({ tables: [USERS] }), undefined, {}, "create");
  p.generate(infra({ tables: [USERS, table("Other", [["id", "String"]])] }), undefined, {}, "other");
  t.true((await p.deploy()).ok);
  const error = await t.throwsAsync(p.rollback(undefined, { acceptDataLoss: false }));
  t.is((error as MooseError).code, "ROLLBACK_LOSES_DATA");
});
