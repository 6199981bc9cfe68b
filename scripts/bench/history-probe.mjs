// Builds a migration history for the benchmarks, in one process (as many `moose migrate generate`
// runs would, without paying a cold start per file):
//
//   node scripts/bench/history-probe.mjs DIR N [--keep 1,10,40,100,200]
//
// DIR is an app from generate-app.mjs with an empty migrations/ folder. The first file creates
// every table; each of the N files after it adds one column (`hist_<i>?: string`) to a table,
// written both in the model file and as a migration generated from it (the real extractor,
// planner and renderer). With --keep, a copy of the project is left in DIR-h<k> once k files
// after the first are committed (k = 0: the first alone): the same app with k + 1 committed migrations, code and
// history consistent.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, countText, ...rest] = process.argv.slice(2);
if (!dir || !countText) {
  process.stderr.write("usage: node scripts/bench/history-probe.mjs DIR N [--keep 1,10,40]\n");
  process.exit(2);
}
const count = Number(countText);
const keep = new Set(rest[0] === "--keep" ? rest[1].split(",").map(Number) : []);

const { AppExtractor } = await import("../../dist/lib/extract/extract-app.js");
const { planAgainst } = await import("../../dist/lib/project/plan-project.js");
const { renderMigration, timestampId } = await import("../../dist/lib/migrations/files/render.js");
const { emptyInfraMap, hashInfraMap } = await import("../../dist/lib/model/infra-map.js");

const extractor = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts" });
const models = readdirSync(join(dir, "app", "models")).sort();
// Ids one second apart, from a fixed past date: every file sorts after the one before.
const base = Date.UTC(2026, 0, 1, 0, 0, 0);
let state = emptyInfraMap();
let hash = hashInfraMap(state);

function commit(i, name) {
  const report = planAgainst(extractor.extract(), state, { kind: "migrations", count: i }, {}, hash);
  if (report.plan.steps.length === 0) throw new Error(`history-probe: step ${i} planned nothing`);
  const id = `${timestampId(new Date(base + i * 1000))}_${name}`;
  writeFileSync(join(dir, "migrations", `${id}.ts`), renderMigration({ id, plan: report.plan, parent: report.fromHash, result: report.resultHash, toolVersion: "bench" }));
  state = report.result;
  hash = report.resultHash;
}

function keepCopy(i) {
  if (!keep.has(i)) return;
  const copy = `${dir}-h${i}`;
  rmSync(copy, { recursive: true, force: true });
  cpSync(dir, copy, { recursive: true, verbatimSymlinks: true });
}

const t0 = performance.now();
commit(0, "init");
keepCopy(0);
for (let i = 1; i <= count; i++) {
  const file = join(dir, "app", "models", models[i % models.length]);
  const text = readFileSync(file, "utf8");
  const at = text.indexOf("  id: Key<string>;\n");
  if (at < 0) throw new Error(`history-probe: ${file} has no key column`);
  writeFileSync(file, `${text.slice(0, at)}  id: Key<string>;\n  hist_${i}?: string;\n${text.slice(at + "  id: Key<string>;\n".length)}`);
  commit(i, `add_hist_${i}`);
  keepCopy(i);
}
process.stdout.write(JSON.stringify({ dir, migrations: count + 1, ms: Math.round(performance.now() - t0) }) + "\n");
