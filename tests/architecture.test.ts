import test from "ava";
import { fileURLToPath } from "node:url";
import { cycles, importGraph, type ImportEdge } from "./helpers/import-graph.js";

// The source tree, read with the TypeScript parser (tests run from dist/tests; sources sit two levels up).
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const edges = importGraph(ROOT, ["lib", "cli"]);

function edgesWhere(from: (file: string) => boolean, to: (file: string) => boolean): string[] {
  return edges.filter((e: ImportEdge) => from(e.from) && to(e.to)).map((e) => `${e.from} → ${e.to}${e.typeOnly ? " (type)" : ""}`);
}

test("the graph is read: lib and cli import each other's modules by relative paths", (t) => {
  t.true(edges.length > 500, `only ${edges.length} imports found under lib/ and cli/`);
  t.true(edges.some((e) => e.from === "cli/commands/migrate-deploy.ts" && e.to === "lib/migrations/apply/deploy.ts"));
  t.true(edges.some((e) => e.typeOnly), "type-only imports are told apart");
});

test("no import cycles in lib/ and cli/, type-only imports included", (t) => {
  t.deepEqual(cycles(edges), []);
});

test("a cycle is found when there is one (the checker itself)", (t) => {
  const made: ImportEdge[] = [
    { from: "a.ts", to: "b.ts", typeOnly: false },
    { from: "b.ts", to: "c.ts", typeOnly: true },
    { from: "c.ts", to: "a.ts", typeOnly: false },
    { from: "c.ts", to: "d.ts", typeOnly: false },
  ];
  t.deepEqual(cycles(made), [["a.ts", "b.ts", "c.ts"]]);
});

test("the library never imports the CLI", (t) => {
  t.deepEqual(edgesWhere((f) => f.startsWith("lib/"), (f) => f.startsWith("cli/")), []);
});

test("migration files' stage imports no later stage: files/ ← author/, review/, apply/", (t) => {
  const stage = (name: string) => (f: string): boolean => f.startsWith(`lib/migrations/${name}/`);
  t.deepEqual(edgesWhere(stage("files"), (f) => ["author", "review", "apply"].some((s) => stage(s)(f))), []);
  t.deepEqual(edgesWhere(stage("apply"), (f) => stage("author")(f) || stage("review")(f)), [], "running files needs neither authoring nor review");
});

test("each engine's engine.ts is its interface: types only, no adapter", (t) => {
  for (const engine of ["olap", "stream", "workflow"]) {
    const file = `lib/engines/${engine}/engine.ts`;
    const out = edges.filter((e) => e.from === file);
    t.true(out.every((e) => e.typeOnly), `${file} imports values: ${out.filter((e) => !e.typeOnly).map((e) => e.to).join(", ")}`);
  }
});

test("the plain-data stages (model, diff, plan) never reach an engine adapter or a server", (t) => {
  const data = (f: string): boolean => /^lib\/(model|diff|plan)\//.test(f);
  const adapter = (f: string): boolean => /^lib\/engines\/[a-z]+\/(embedded|server|kafka|temporal|open)\.ts$/.test(f) || /^lib\/(server|dev|prod)\//.test(f);
  t.deepEqual(edgesWhere(data, adapter), []);
});
