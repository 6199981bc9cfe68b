import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { openOlapEngine } from "../lib/engines/olap/engine.js";
import { EvolveProject, fingerprint } from "./helpers/evolve.js";
import { infra, table } from "./helpers/model-builders.js";
import { uniqueDatabase } from "./helpers/olap-fixtures.js";

/** Columns named like the aliases of moose's own row checks (`n`, `h`) do not break a rebuild's copy check. */

const dataDir = mkdtempSync(join(tmpdir(), "moose-alias-"));
const opened: Array<{ close(): Promise<void> }> = [];
test.after.always(async () => {
  for (const o of opened.reverse()) await o.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("rebuilding a table with columns n and h keeps every row and passes its copy check", async (t) => {
  const olap = await openOlapEngine({ engine: "embedded", dataDir, database: uniqueDatabase("alias") });
  const p = await EvolveProject.open(olap);
  opened.push(p, olap);
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
