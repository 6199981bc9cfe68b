import test from "ava";
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { moose, tempDir } from "./helpers/cli.js";

/**
 * Commands that read the app once run with V8's optimizing compiler off until a long job
 * starts (lib/extract/tiering.cts). These tests watch V8 itself: whether a hot function gets
 * optimized, and whether the code cache of TypeScript is accepted by the next command.
 */

const TIERING = fileURLToPath(new URL("../lib/extract/tiering.cjs", import.meta.url));

/**
 * Runs a hot function 200,000 times before and after the step `mode` names, in a fresh Node.js
 * (`--no-concurrent-recompilation`: optimizing happens at once, not on a background thread), and
 * says whether V8 had optimized it each time (`%GetOptimizationStatus`, bit 16).
 */
function optimized(mode: "untouched" | "deferred" | "deferred, then allowed" | "allowed only", env: Record<string, string> = {}): { before: boolean; after: boolean } {
  const script = `
    const t = require(${JSON.stringify(TIERING)});
    const make = () => new Function("x", "let s = 0; for (let i = 0; i < 50; i++) s += (i * x) % 7; return s;");
    const run = (f) => { for (let i = 0; i < 200000; i++) f(i); return (eval("%GetOptimizationStatus(f)") & 16) !== 0; };
    const mode = ${JSON.stringify(mode)};
    if (mode.startsWith("deferred")) t.deferOptimization();
    const before = run(make());
    if (mode.endsWith("allowed") || mode === "allowed only") t.allowOptimization();
    console.log(JSON.stringify({ before, after: run(make()) }));`;
  const r = spawnSync(process.execPath, ["--allow-natives-syntax", "--no-concurrent-recompilation", "-e", script], { encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { before: boolean; after: boolean };
}

test("deferOptimization keeps V8 from optimizing hot code until allowOptimization; neither changes a process that did not defer", (t) => {
  t.deepEqual(optimized("untouched"), { before: true, after: true });
  t.deepEqual(optimized("deferred"), { before: false, after: false });
  t.deepEqual(optimized("deferred, then allowed"), { before: false, after: true });
  t.deepEqual(optimized("allowed only"), { before: true, after: true });
  // The way out when deferring ever costs more than it saves.
  t.deepEqual(optimized("deferred", { MOOSE_ALWAYS_OPTIMIZE: "1" }), { before: true, after: true });
});

test("a plan of hundreds of changes turns the optimizing compiler back on; a plan of a few leaves it off", (t) => {
  const here = (path: string) => JSON.stringify(fileURLToPath(new URL(path, import.meta.url)));
  const script = `
    const tiering = require(${JSON.stringify(TIERING)});
    (async () => {
      const { planAgainst } = await import(${here("../lib/project/plan-project.js")});
      const { infra, table } = await import(${here("./helpers/model-builders.js")});
      const app = (n) => ({ map: infra({ tables: Array.from({ length: n }, (_, i) => table("T" + i, [["id", "String"]])) }), locations: {}, warnings: [], files: [] });
      tiering.deferOptimization();
      const states = [];
      planAgainst(app(3), infra(), { kind: "empty" });
      states.push(tiering.currentState());
      planAgainst(app(250), infra(), { kind: "empty" });
      states.push(tiering.currentState());
      console.log(JSON.stringify(states));
    })();`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), ["deferred", "default"]);
});

/**
 * The young generation's size (both semi-spaces) after allocating 40 MB of objects that stay
 * alive, in a fresh Node.js that called keepYoungGenerationSmall first (or not: `call`).
 */
function youngGeneration(call: boolean, env: Record<string, string> = {}, nodeArgs: string[] = []): number {
  const script = `
    const t = require(${JSON.stringify(TIERING)});
    if (${call}) t.keepYoungGenerationSmall();
    const kept = [];
    for (let i = 0; i < 400000; i++) kept.push({ i, name: "column" + i, type: "String" });
    const space = require("node:v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    console.log(JSON.stringify({ size: space.space_size, tag: t.flagsTag("default") }));`;
  const r = spawnSync(process.execPath, [...nodeArgs, "-e", script], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "", ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { size: number }).size;
}

test("keepYoungGenerationSmall keeps the young generation at its first size; a user's semi-space flags and MOOSE_V8_HEAP=default leave V8 alone", (t) => {
  const MB = 1024 * 1024;
  const grown = youngGeneration(false);
  t.true(grown >= 8 * MB, `untouched, it grows (${grown} bytes)`);
  t.true(youngGeneration(true) <= 2 * MB);
  t.true(youngGeneration(true, { MOOSE_V8_HEAP: "default" }) >= 8 * MB);
  t.true(youngGeneration(true, { NODE_OPTIONS: "--max-semi-space-size=8" }) >= 8 * MB, "NODE_OPTIONS");
  t.true(youngGeneration(true, {}, ["--max-semi-space-size=8"]) >= 8 * MB, "the command line");
});

test("TypeScript's code cache: one per optimizer state; a cache written by a command that turned the optimizer back on (a full reading) is accepted by the next short command", (t) => {
  const root = tempDir("tiering");
  t.is(moose(root, ["init", "demo"]).code, 0);
  const dir = join(root, "demo");
  const main = join(dir, "app", "index.ts");
  const cacheHome = tempDir("tiering-cache");
  const env = { XDG_CACHE_HOME: cacheHome };
  const folder = join(cacheHome, "moose-migrate");
  const caches = () => (existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".v8cache")).sort() : []);
  /** The cache file's inode: a rewrite (temp file, rename) gives a new one. */
  const inode = (name: string) => statSync(join(folder, name)).ino;

  // No .moose/ yet: a full reading, which turns the optimizer on before the cache is written at exit.
  const first = moose(dir, ["plan"], env);
  t.is(first.code, 0, first.stderr);
  const [deferred] = caches();
  t.regex(deferred ?? "", /^typescript-.*-deferred-young1\.graded\.v8cache$/);
  const written = inode(deferred!);
  // A one-file edit: a partial reading with the optimizer off. V8 accepts the cache (it would be
  // rewritten if it had been written under the other flags: V8 keys a cache to its flags).
  appendFileSync(main, "\n// edited\n");
  const second = moose(dir, ["plan"], env);
  t.is(second.code, 0, second.stderr);
  t.is(second.stdout, first.stdout);
  t.is(inode(deferred!), written, "the cache written after a full reading was rejected and written again");

  // A process that keeps the optimizer on (as `moose dev` does) has its own cache beside it.
  appendFileSync(main, "// again\n");
  const always = moose(dir, ["plan"], { ...env, MOOSE_ALWAYS_OPTIMIZE: "1" });
  t.is(always.code, 0, always.stderr);
  t.is(always.stdout, first.stdout);
  const both = caches();
  t.is(both.length, 2, both.join(", "));
  t.true(both.includes(deferred!));
  // So does one that leaves V8's young generation as it is (its size is in V8's flags too).
  appendFileSync(main, "// once more\n");
  const defaultHeap = moose(dir, ["plan"], { ...env, MOOSE_V8_HEAP: "default" });
  t.is(defaultHeap.code, 0, defaultHeap.stderr);
  t.is(defaultHeap.stdout, first.stdout);
  t.deepEqual(
    caches().map((f) => f.replace(/^typescript-.*?-x64/, "")),
    ["-deferred-young1.graded.v8cache", "-deferred.graded.v8cache", "-young1.graded.v8cache"],
  );
  appendFileSync(main, "// and again\n");
  t.is(moose(dir, ["plan"], env).code, 0);
  t.is(inode(deferred!), written);
});
