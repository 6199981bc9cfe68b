import test from "ava";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { extractApp } from "../lib/extract/extract-app.js";
import { loadApp } from "../lib/runtime/load-app.js";
import { errorsOf, tempApp, writeFile } from "./helpers/extract-apps.js";

/**
 * Declarations that live in a workspace package (moose's github-dev-trends template keeps all
 * its objects in `packages/moose-objects`, linked into the app's node_modules by pnpm) are read
 * from the package's TypeScript source, built or not; a module that cannot be found at all,
 * whose objects the app wires at load time, is an error instead of a plan without them.
 */

/** The shape of github-dev-trends: a workspace with the app in apps/backend and its objects in packages/objects. */
function workspace(opts: { built?: boolean; linked?: boolean; rootDir?: string } = {}): string {
  const srcDir = opts.rootDir ?? "src";
  const dir = tempApp({
    "packages/objects/package.json": JSON.stringify({ name: "objects", type: "module", main: "dist/index.js", types: "dist/index.d.ts" }),
    "packages/objects/tsconfig.json": JSON.stringify({ compilerOptions: { outDir: "dist", ...(opts.rootDir ? { rootDir: opts.rootDir } : {}), declaration: true } }),
    [`packages/objects/${srcDir}/models.ts`]: [
      'import { Key } from "@514labs/moose-lib/browserCompatible";',
      "export interface Event { eventId: Key<string>; createdAt: Date; repo: string }",
      "export interface Star { eventId: Key<string>; stars: number }",
    ].join("\n"),
    [`packages/objects/${srcDir}/index.ts`]: [
      'import { IngestPipeline } from "@514labs/moose-lib/browserCompatible";',
      'import { Event, Star } from "./models";',
      'export const EventPipeline = new IngestPipeline<Event>("Event", { ingestApi: true, table: true, stream: true });',
      'export const StarPipeline = new IngestPipeline<Star>("Star", { table: true, stream: true });',
    ].join("\n"),
    ...(opts.built
      ? {
          "packages/objects/dist/index.d.ts": 'import { IngestPipeline } from "@514labs/moose-lib/browserCompatible";\nexport declare const EventPipeline: IngestPipeline<any>;\nexport declare const StarPipeline: IngestPipeline<any>;\n',
          "packages/objects/dist/index.js": "export const EventPipeline = undefined;\n",
        }
      : {}),
    "apps/backend/app/index.ts": [
      'import { EventPipeline, StarPipeline } from "objects";',
      "EventPipeline.stream!.addTransform(StarPipeline.stream!, (e) => ({ eventId: e.eventId, stars: 1 }));",
    ].join("\n"),
  });
  if (opts.linked !== false) {
    mkdirSync(join(dir, "apps/backend/node_modules"), { recursive: true });
    symlinkSync(join(dir, "packages/objects"), join(dir, "apps/backend/node_modules/objects"));
  }
  return dir;
}

test("a workspace package linked into node_modules, never built, is read from its source: its pipelines are planned", (t) => {
  const dir = workspace();
  const { map, warnings } = extractApp({ projectDir: join(dir, "apps/backend"), mainFile: "app/index.ts" });
  t.deepEqual(Object.keys(map.tables).sort(), ["Event", "Star"]);
  t.deepEqual(Object.keys(map.topics).sort(), ["Event", "Star"]);
  t.deepEqual(map.tables.Event?.columns.map((c) => `${c.name} ${c.type}`), ["eventId String", "createdAt DateTime('UTC')", "repo String"]);
  t.false(warnings.some((w) => w.includes("cannot find module")));
});

test("a built workspace package is still read from its source, not from the compiled .d.ts (which holds no names or options)", (t) => {
  const dir = workspace({ built: true });
  const { map } = extractApp({ projectDir: join(dir, "apps/backend"), mainFile: "app/index.ts" });
  t.deepEqual(Object.keys(map.tables).sort(), ["Event", "Star"]);
  t.deepEqual(map.tables.Star?.columns.map((c) => c.name), ["eventId", "stars"]);
});

test("the source is found under the package's tsconfig rootDir when it names one", (t) => {
  const dir = workspace({ rootDir: "lib" });
  const { map } = extractApp({ projectDir: join(dir, "apps/backend"), mainFile: "app/index.ts" });
  t.deepEqual(Object.keys(map.tables).sort(), ["Event", "Star"]);
});

test("a module that is not installed, whose stream the app wires at load time, is DECLARATION_NOT_FOLLOWED at its import, never 'No changes'", (t) => {
  const dir = workspace({ linked: false });
  const errors = errorsOf(() => extractApp({ projectDir: join(dir, "apps/backend"), mainFile: "app/index.ts" }));
  t.is(errors.length, 1);
  t.is(errors[0]!.code, "DECLARATION_NOT_FOLLOWED");
  t.regex(errors[0]!.located, /^app\/index\.ts:1:\d+: cannot find module 'objects', and this file calls addTransform\(\) on EventPipeline, imported from it, at its top level \(line 2\)/);
  t.regex(errors[0]!.hint ?? "", /install 'objects'/);
});

test("re-exporting a module that is not installed, or exporting a binding taken from it, is DECLARATION_NOT_FOLLOWED", (t) => {
  const reexport = tempApp({ "app/index.ts": 'export * from "not-installed";\n' });
  t.is(errorsOf(() => extractApp({ projectDir: reexport, mainFile: "app/index.ts" }))[0]?.code, "DECLARATION_NOT_FOLLOWED");
  const exported = tempApp({ "app/index.ts": 'import { Orders } from "not-installed";\nexport { Orders };\n' });
  const [error] = errorsOf(() => extractApp({ projectDir: exported, mainFile: "app/index.ts" }));
  t.regex(error!.located, /exports Orders, imported from it,/);
});

test("a missing module used only by run-time code (inside functions, or a top-level call that wires no stream) stays a warning", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, Key } from "@514labs/moose-lib";',
      'import dotenv from "dotenv-not-installed";',
      'import { Octokit } from "octokit-not-installed";',
      "dotenv.config();",
      "export async function fetchStars() { return new Octokit().request(); }",
      "interface Row { id: Key<string> }",
      'export const rows = new OlapTable<Row>("Rows");',
    ].join("\n"),
  });
  const { map, warnings } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.deepEqual(Object.keys(map.tables), ["Rows"]);
  t.is(warnings.filter((w) => w.includes("cannot find module")).length, 2);
});

test("a package installed from a registry (a real folder in node_modules, not a workspace link) is not read from source", (t) => {
  const dir = tempApp({
    "app/index.ts": 'import { helper } from "registry-pkg";\nexport const x = helper();\n',
  });
  writeFile(join(dir, "node_modules/registry-pkg/package.json"), JSON.stringify({ name: "registry-pkg", types: "dist/index.d.ts" }));
  writeFile(join(dir, "node_modules/registry-pkg/tsconfig.json"), JSON.stringify({ compilerOptions: { outDir: "dist" } }));
  writeFile(join(dir, "node_modules/registry-pkg/dist/index.d.ts"), "export declare function helper(): number;\n");
  writeFile(join(dir, "node_modules/registry-pkg/src/index.ts"), 'import { OlapTable } from "@514labs/moose-lib";\nexport const t = new OlapTable<{ id: string }>("FromRegistrySource");\nexport function helper() { return 1; }\n');
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  t.deepEqual(Object.keys(map.tables), []);
});

test("moose dev and prod load the workspace package's source too, built or not: the code that runs is the code that was planned", async (t) => {
  for (const built of [false, true]) {
    const dir = workspace({ built });
    const app = await loadApp(join(dir, "apps/backend/app/index.ts"));
    t.deepEqual(Object.keys(app.tables).sort(), ["Event", "Star"], built ? "built (dist/ would export undefined)" : "never built");
    const transform = app.streams["Event"]?.transforms[0];
    t.is(transform?.to, "Star");
    t.deepEqual(transform?.fn({ eventId: "e1", createdAt: new Date(0), repo: "r" }), { eventId: "e1", stars: 1 });
  }
});
