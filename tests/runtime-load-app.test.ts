import test from "ava";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { declaredObjects } from "../lib/dsl/registry.js";
import type { ApiUtils } from "../lib/dsl/api.js";
import { EngineError } from "../lib/errors.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { loadApp } from "../lib/runtime/load-app.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/runtime/", import.meta.url));
const main = (name: string) => join(FIXTURES, name, "app", "index.ts");

const temps: string[] = [];
test.after.always(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A copy of a fixture project in a temp folder (outside this package), to edit. */
function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "moose-load-app-"));
  temps.push(dir);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

async function loadFailure(file: string): Promise<EngineError> {
  const error = await loadApp(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EngineError)) throw new Error(`expected an EngineError, got ${String(error)}`);
  return error;
}

test("loads a moose-lib app: extension-less imports, .js → .ts, typia without typia, names as the extractor gives them", async (t) => {
  const app = await loadApp(main("basic"));
  t.is(app.mainFile, main("basic"));
  t.deepEqual(Object.keys(app.consumptionApis).sort(), ["api/bar/1", "api/broken", "api/tools/echo", "api/users", "api/writer"]);
  t.deepEqual(Object.keys(app.ingestApis).sort(), ["ingest/Foo", "ingest/Users", "ingest/events"]);
  t.deepEqual(app.ingestApis["ingest/Foo"]?.destination, { kind: "topic", name: "Foo" });
  t.deepEqual(app.ingestApis["ingest/events"]?.destination, { kind: "table", name: "Events" });
  t.deepEqual(Object.keys(app.streams).sort(), ["Bar_1_1", "Foo", "Users"]);
  t.deepEqual(Object.keys(app.tables).sort(), ["Bar_1_1", "Events", "Users"]);
  t.is(app.streams["Bar_1_1"]?.destination, "Bar_1_1");
  t.is(app.exports.version, "one"); // `export { version } from "./version.js"` with only version.ts on disk
  t.is(app.exports.tagsModule, "function"); // typia's default export, from moose-migrate's stand-in

  // The transform added in ingest/transforms.ts (imported for its side effect) runs.
  const transform = app.streams["Foo"]?.transforms[0];
  t.is(transform?.to, "Bar_1_1");
  t.deepEqual(transform?.fn({ primaryKey: "k", timestamp: 0, optionalText: "abc", count: 1 }), {
    primaryKey: "k",
    utcTimestamp: new Date(0),
    hasText: true,
    textLength: 3,
  });

  // Handlers are the app's functions.
  const echo = app.consumptionApis["api/tools/echo"];
  t.deepEqual(await echo?.handler({ n: 3 }, {} as ApiUtils), { n: 3 });
  // The registry is left empty for the next load.
  t.is(declaredObjects().length, 0);
});

test("a reload after a save picks up the change in an imported file, and only the new declarations count", async (t) => {
  const dir = copyFixture("basic");
  const file = join(dir, "app", "index.ts");
  const first = await loadApp(file);
  t.is(first.exports.version, "one");
  writeFileSync(join(dir, "app", "version.ts"), 'export const version = "two";\n');
  writeFileSync(
    join(dir, "app", "apis", "extra.ts"),
    'import { ConsumptionApi } from "moose-migrate";\nexport const extra = new ConsumptionApi<{ q: string }, string>("extra", ({ q }) => q.toUpperCase());\n',
  );
  writeFileSync(join(dir, "app", "apis", "index.ts"), 'export * from "./extra";\n');
  writeFileSync(file, `export * from "./apis";\n${readFileSync(file, "utf8")}`);
  const second = await loadApp(file);
  t.true(second.generation > first.generation);
  t.is(second.exports.version, "two");
  t.deepEqual(await second.consumptionApis["api/extra"]?.handler({ q: "hi" }, {} as ApiUtils), "HI");
  t.is(second.declarations.length, first.declarations.length + 1);
  // The first load's objects are untouched by the second.
  t.is(first.consumptionApis["api/extra"], undefined);
});

test("with reuseUnchanged, a save that changes no JavaScript (a type edit) reuses the last load; a code change or a failed load does not", async (t) => {
  const dir = copyFixture("syntax-error");
  const file = join(dir, "app", "index.ts");
  const types = join(dir, "app", "types.ts");
  const source = (extra: string, name: string) =>
    `import { OlapTable } from "moose-migrate";\nimport type { Row } from "./types";\ninterface Local { id: string;${extra} }\nexport const rows = new OlapTable<Row>("${name}");\nexport const local = new OlapTable<Local>("Local");\n`;
  writeFileSync(types, "export interface Row {\n  id: string;\n}\n");
  writeFileSync(file, source("", "Rows"));
  const first = await loadApp(file, { reuseUnchanged: true });
  writeFileSync(types, "export interface Row {\n  id: string;\n  added: number;\n  more: string[];\n}\n");
  writeFileSync(file, source(" added: number;", "Rows"));
  const typesOnly = await loadApp(file, { reuseUnchanged: true });
  t.is(typesOnly, first, "type edits that move no code transpile to the same JavaScript and mappings");
  // A line added above code moves that code: stack traces need the new mappings.
  writeFileSync(file, source("\n  moved: string;", "Rows"));
  const moved = await loadApp(file, { reuseUnchanged: true });
  t.true(moved.generation > first.generation);
  writeFileSync(file, source(" added: number;", "Renamed"));
  const changed = await loadApp(file, { reuseUnchanged: true });
  t.true(changed.generation > first.generation);
  t.deepEqual(Object.keys(changed.tables), ["Renamed", "Local"]);
  // A failed load forgets the last one: the next load runs the files again, even when they are back as they were.
  writeFileSync(file, source(" added: number;", "Renamed") + "export const broken = (;\n");
  t.is((await loadFailure(file)).code, "APP_LOAD_FAILED");
  writeFileSync(file, source(" added: number;", "Renamed"));
  const recovered = await loadApp(file, { reuseUnchanged: true });
  t.true(recovered.generation > changed.generation);
  // Without the option every call runs the app again.
  t.true((await loadApp(file)).generation > recovered.generation);
});

test("a syntax error is APP_LOAD_FAILED with the file, line and column", async (t) => {
  const error = await loadFailure(main("syntax-error"));
  t.is(error.code, "APP_LOAD_FAILED");
  t.is(error.exit, "failure");
  t.deepEqual(error.position, { file: main("syntax-error"), line: 4, column: 46 });
  t.is(error.message, `cannot load the app: syntax error in ${main("syntax-error")}:4:46: ')' expected.`);
  t.is(error.hint, "fix the syntax error; the server reloads the app when the file is saved");
});

test("a missing run-time package is APP_LOAD_FAILED saying what to install", async (t) => {
  const error = await loadFailure(main("missing-dep"));
  t.is(error.code, "APP_LOAD_FAILED");
  t.true(error.message.startsWith(`cannot load the app ${main("missing-dep")}: Cannot find package '@moose-fixtures/fake-data' imported from ${main("missing-dep")}`), error.message);
  t.is(error.hint, "the app needs the package @moose-fixtures/fake-data at run time: install it (npm install @moose-fixtures/fake-data)");
});

test("a library stub that throws on the app's behalf (typia without its transform) is reported at the app's line, not the library's", async (t) => {
  const error = await loadFailure(main("typia-stub"));
  t.is(error.code, "APP_LOAD_FAILED");
  t.deepEqual(error.position, { file: main("typia-stub"), line: 5, column: 35 });
  t.regex(error.message, /threw Error: typia\.http\.createValidateQuery\(\) needs the typia package and its compile-time transform \(ts-patch\)/);
});

test("an error thrown while the app's modules run is APP_LOAD_FAILED at the .ts line", async (t) => {
  const error = await loadFailure(main("throws"));
  t.is(error.code, "APP_LOAD_FAILED");
  t.deepEqual(error.position, { file: main("throws"), line: 6, column: 34 });
  t.is(error.message, `cannot load the app: running ${main("throws")}:6:34 threw TypeError: Cannot read properties of undefined (reading 'max')`);
  t.is(declaredObjects().length, 0);
});

test("after a failed load, fixing the file loads again (dev mode recovers)", async (t) => {
  const dir = copyFixture("syntax-error");
  const file = join(dir, "app", "index.ts");
  t.is((await loadFailure(file)).code, "APP_LOAD_FAILED");
  writeFileSync(file, 'import { OlapTable } from "moose-migrate";\ninterface Row { id: string }\nexport const rows = new OlapTable<Row>("Rows");\n');
  const app = await loadApp(file);
  t.deepEqual(Object.keys(app.tables), ["Rows"]);
});

test("a missing main file or relative import is APP_LOAD_FAILED", async (t) => {
  const gone = await loadFailure(join(FIXTURES, "nope", "app", "index.ts"));
  t.is(gone.message, `cannot load the app: ${join(FIXTURES, "nope", "app", "index.ts")} does not exist`);
  const dir = copyFixture("throws");
  writeFileSync(join(dir, "app", "index.ts"), 'export * from "./missing";\n');
  const error = await loadFailure(join(dir, "app", "index.ts"));
  t.is(error.code, "APP_LOAD_FAILED");
  t.is(error.hint, "check the import path (relative imports are resolved to .ts files and folders with an index.ts)");
});

test("loads run one at a time, each with its own declarations", async (t) => {
  const [a, b] = await Promise.all([loadApp(main("basic")), loadApp(main("basic"))]);
  t.is(a?.declarations.length, b?.declarations.length);
  t.not(a?.generation, b?.generation);
});

test("on Moose's typescript template, the loaded app's names are the extractor's", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "moose-load-template-"));
  temps.push(dir);
  cpSync(fileURLToPath(new URL("../../fixtures/moose-templates/typescript/", import.meta.url)), dir, { recursive: true });
  // The template's workflow uses faker at run time; a stand-in package lets the app load.
  const faker = join(dir, "node_modules", "@faker-js", "faker");
  mkdirSync(faker, { recursive: true });
  writeFileSync(join(faker, "package.json"), '{ "name": "@moose-fixtures/fake-data", "type": "module", "exports": "./index.js" }\n');
  writeFileSync(join(faker, "index.js"), 'export const faker = new Proxy({}, { get: () => new Proxy(() => "x", { get: () => () => "x" }) });\n');

  const app = await loadApp(join(dir, "app", "index.ts"));
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  const apis = Object.values(map.apis);
  t.deepEqual(Object.keys(app.consumptionApis).sort(), apis.filter((a) => a.kind === "consumption").map((a) => a.name).sort());
  t.deepEqual(Object.keys(app.ingestApis).sort(), apis.filter((a) => a.kind === "ingest").map((a) => a.name).sort());
  t.deepEqual(Object.keys(app.streams).sort(), Object.keys(map.topics).sort());
  t.deepEqual(Object.keys(app.tables).sort(), Object.keys(map.tables).sort());
  t.deepEqual(Object.keys(app.workflows).sort(), Object.keys(map.workflows).sort());
  for (const api of apis.filter((a) => a.kind === "ingest")) t.is(app.ingestApis[api.name]?.destination?.name, api.destination);
  for (const p of Object.values(map.processes)) t.is(app.streams[p.sourceTopic]?.destination, p.targetTable);
});
