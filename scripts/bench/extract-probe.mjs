// The extraction part of a `moose dev` save, in-process: one AppExtractor (as `moose dev` keeps),
// a cold extract, then N edits that each add a column to a model file, each followed by a re-extract.
//
//   node scripts/bench/extract-probe.mjs <projectDir> [edits] [--json]
//
// The model file is restored afterwards.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const dir = resolve(process.argv[2] ?? ".");
const edits = Number(process.argv[3] ?? 7);
const json = process.argv.includes("--json");
const t0 = performance.now();
const { AppExtractor } = await import("../../dist/lib/extract/extract-app.js");
const loadMs = performance.now() - t0;
const extractor = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts" });
const t1 = performance.now();
const first = extractor.extract();
const coldMs = performance.now() - t1;
const models = readdirSync(join(dir, "app", "models")).sort();
const file = join(dir, "app", "models", models[Math.floor(models.length / 2)]);
const original = readFileSync(file, "utf8");
const times = [];
try {
  let text = original;
  for (let i = 0; i < edits; i++) {
    text = text.replace(/\n}\n/, `\n  probe_added_${i}: string;\n}\n`);
    writeFileSync(file, text);
    const s = performance.now();
    const r = extractor.extract();
    times.push(performance.now() - s);
    if (!Object.values(r.map.tables).some((t) => t.columns.some((c) => c.name === `probe_added_${i}`))) throw new Error("the edit was not seen");
  }
} finally {
  writeFileSync(file, original);
}
const sorted = [...times].sort((a, b) => a - b);
const rssMb = process.memoryUsage().rss / 1e6;
if (json) process.stdout.write(JSON.stringify({ loadMs, coldMs, edits: times, tables: Object.keys(first.map.tables).length, rssMb }) + "\n");
else {
  process.stdout.write(`load ${loadMs.toFixed(0)} ms; cold extract ${coldMs.toFixed(0)} ms; ${Object.keys(first.map.tables).length} tables\n`);
  process.stdout.write(`re-extract after a one-column edit: median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms, min ${sorted[0].toFixed(0)}, max ${sorted.at(-1).toFixed(0)} (n=${times.length}); rss ${rssMb.toFixed(0)} MB\n`);
}
