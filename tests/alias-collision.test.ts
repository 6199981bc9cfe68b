import test from "ava";
import { embeddedProjects, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";

/** Columns named like the aliases of moose's own row checks (`n`, `h`) do not break a rebuild's copy check. */

const projects = embeddedProjects("alias");

test("rebuilding a table with columns n and h keeps every row and passes its copy check", async (t) => {
  const p = await projects.open();
  const olap = p.olap;
  const before = table("T", [["id", "String"], ["n", "Int64"], ["h", "String"]]);
  p.generate(infra({ tables: [before] }), undefined, {}, "create");
  t.true((await p.deploy()).ok);
  await olap.execute("INSERT INTO T VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('c', 3, 'z')");
  const rows = await fingerprint(olap, "T", ["id", "n", "h"]);
  const g = p.generate(infra({ tables: [{ ...before, orderBy: ["h", "id"] }] }), undefined, {}, "reorder");
  t.regex(g?.text ?? "", /rebuildTable\("T"/);
  const report = await p.deploy();
  t.true(report.ok, JSON.stringify(report.migrations));
  t.deepEqual(await fingerprint(olap, "T", ["id", "n", "h"]), rows);
  t.deepEqual(await p.drift(), []);
});
