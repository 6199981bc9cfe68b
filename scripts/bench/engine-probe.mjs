// The embedded engine's share of a process's memory: opens chDB on a fresh data folder, optionally
// creates N tables of 30 columns, and exits (run with report-usage.cjs preloaded to get its peak RSS).
//   node --require ./scripts/bench/report-usage.cjs scripts/bench/engine-probe.mjs <projectDir> [tables]
import { resolve } from "node:path";
const dir = resolve(process.argv[2] ?? ".");
const tables = Number(process.argv[3] ?? 0);
const { loadConfig } = await import("../../dist/lib/config/config.js");
const { openOlapEngine } = await import("../../dist/lib/engines/olap/open.js");
const config = await loadConfig(dir, {});
const engine = await openOlapEngine(config.olap);
await engine.query("SELECT 1");
const cols = Array.from({ length: 30 }, (_, i) => `c${i} ${i % 3 === 0 ? "String" : i % 3 === 1 ? "Float64" : "DateTime('UTC')"}`).join(", ");
for (let i = 0; i < tables; i++) await engine.execute(`CREATE TABLE IF NOT EXISTS probe_${i} (id String, ${cols}) ENGINE = MergeTree ORDER BY id`);
// How much of the resident memory is file-backed (mostly chDB's library code) and how much anonymous (Linux only).
try {
  const { readFileSync } = await import("node:fs");
  const rollup = readFileSync("/proc/self/smaps_rollup", "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(rollup)?.[1]);
  process.stdout.write(JSON.stringify({ rssMb: kb("Rss") / 1024, anonymousMb: kb("Anonymous") / 1024, fileBackedMb: (kb("Rss") - kb("Anonymous")) / 1024 }) + "\n");
} catch {
  // not Linux
}
await engine.close();
