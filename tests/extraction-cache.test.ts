import test from "ava";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { AppExtractor } from "../lib/extract/extract-app.js";
import { EXTRACTION_CACHE } from "../lib/extract/extraction-cache.js";
import { PACKAGE_ROOT } from "../lib/extract/program.js";
import { FIXTURES_DIR, tempApp } from "./helpers/extract-apps.js";

/**
 * The extraction cache (`.moose/extraction-cache.json`) gives exactly what a full extraction
 * gives — the map, its key order, locations, warnings, rename hints, transforms, file list, and
 * the same errors — after every kind of edit, while reading only what changed.
 */

type Mode = AppExtractor["lastMode"];

/** Everything an extraction returns (or every error it throws, with its position), as one text. */
function outcome(projectDir: string, cacheDir: string | undefined, mainFile = "app/index.ts"): { text: string; mode: Mode } {
  const extractor = new AppExtractor({ projectDir, mainFile, ...(cacheDir !== undefined ? { cacheDir } : {}) });
  try {
    const app = extractor.extract();
    return { text: JSON.stringify(app, null, 1), mode: extractor.lastMode };
  } catch (e) {
    if (process.env["MOOSE_TEST_VERBOSE"]) console.log("error", extractor.lastMode, extractor.fullReason, String(e).slice(0, 200));
    const errors = ((e as { errors?: unknown[] }).errors ?? [e]) as Array<{ code?: string; message: string; position?: unknown; hint?: string }>;
    return { text: JSON.stringify({ errors: errors.map((x) => [x.code, x.message, x.position, x.hint]) }, null, 1), mode: extractor.lastMode };
  }
}

/** The cached extraction (a new extractor: a new process, as far as the cache can tell) against a full one without cache. */
function compare(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, cacheDir: string, what: string, mainFile?: string): Mode {
  const cached = outcome(dir, cacheDir, mainFile);
  const full = outcome(dir, undefined, mainFile);
  if (process.env["MOOSE_TEST_VERBOSE"]) console.log(what, cached.mode, existsSync(join(cacheDir, EXTRACTION_CACHE)));
  t.is(cached.text, full.text, `after ${what}: the cached extraction (${cached.mode}) differs from a full one`);
  return cached.mode;
}

function write(dir: string, rel: string, text: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

function withLibrary(files: Record<string, string>): string {
  const dir = tempApp(files, "moose-xcache-");
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  symlinkSync(PACKAGE_ROOT, join(dir, "node_modules", "moose-migrate"));
  return dir;
}

test("a sequence of edits across files: every cached extraction equals a full one, and only changed files are read", (t) => {
  const files: Record<string, string> = {
    "app/types.ts": 'import type { Key } from "moose-migrate";\nexport interface Address { city: string; zip: string }\nexport enum Status { Active = "active", Closed = "closed" }\nexport type Id = Key<string>;\n',
    "app/models/users.ts": 'import { OlapTable, Stream } from "moose-migrate";\nimport type { Address, Id, Status } from "../types";\nexport interface UserRow { id: Id; name: string; address: Address; status: Status; age?: number }\nexport const users = new OlapTable<UserRow>("Users", { orderByFields: ["id"] });\nexport const userEvents = new Stream<UserRow>("UserEvents", { destination: users });\n',
    "app/models/events.ts": 'import { OlapTable } from "moose-migrate";\nimport type { Id } from "../types";\nexport interface EventRow { id: Id; at: Date; kind: "click" | "view" }\nexport const events = new OlapTable<EventRow>("Events");\n',
    "app/views.ts":
      'import { MaterializedView, sql } from "moose-migrate";\nimport { users } from "./models/users";\ninterface PerCity { city: string; n: number }\nexport const perCity = new MaterializedView<PerCity>({\n  materializedViewName: "PerCity_MV",\n  tableName: "PerCity",\n  orderByFields: ["city"],\n  selectStatement: sql`SELECT address.city AS city, count(${users.columns.id}) AS n FROM ${users} GROUP BY city`,\n  selectTables: [users],\n});\n',
    "app/index.ts": 'export * from "./models/users";\nexport * from "./models/events";\nexport * from "./views";\n',
  };
  const dir = withLibrary(files);
  const cacheDir = join(dir, ".moose");
  const current = { ...files };
  const edits: Array<[string, string, string | ((text: string) => string) | null, Mode[]]> = [
    ["nothing (the first run writes the cache)", "app/index.ts", (s) => s, ["full"]],
    ["nothing (the second run reads no file)", "app/index.ts", (s) => s, ["cache"]],
    ["add a field to an interface imported by another file", "app/types.ts", (s) => s.replace("zip: string }", "zip: string; street?: string }"), ["partial"]],
    ["add an enum member", "app/types.ts", (s) => s.replace('Closed = "closed"', 'Closed = "closed", Paused = "paused"'), ["partial"]],
    ["rename a column a view interpolates", "app/models/users.ts", (s) => s.replace("id: Id;", "uid: Id;").replace('orderByFields: ["id"]', 'orderByFields: ["uid"]'), ["partial"]],
    ["rename it back", "app/models/users.ts", (s) => s.replace("uid: Id;", "id: Id;").replace('orderByFields: ["uid"]', 'orderByFields: ["id"]'), ["partial"]],
    ["rename a type another file imports (and its use)", "app/types.ts", (s) => s.replace("interface Address", "interface PostalAddress"), ["full"]],
    ["fix the importer", "app/models/users.ts", (s) => s.replace("import type { Address, Id, Status }", "import type { PostalAddress as Address, Id, Status }"), ["partial"]],
    ["change the Key alias", "app/types.ts", (s) => s.replace("Key<string>", "Key<number>"), ["partial"]],
    ["a TypeScript syntax error", "app/models/events.ts", (s) => s.replace("at: Date;", "at: Date;;; =>"), ["full"]],
    ["the same error again (a file with an error is not cached)", "app/models/events.ts", (s) => s, ["full"]],
    // Back to the text the cache holds: nothing to read.
    ["fix it", "app/models/events.ts", (s) => s.replace("at: Date;;; =>", "at: Date;"), ["cache"]],
    ["a declaration error", "app/models/users.ts", (s) => s.replace('orderByFields: ["id"]', 'orderByFields: ["nope" as any]'), ["full"]],
    ["fix it", "app/models/users.ts", (s) => s.replace('orderByFields: ["nope" as any]', 'orderByFields: ["id"]'), ["cache"]],
    ["a new file, not imported yet", "app/models/orders.ts", 'import { OlapTable } from "moose-migrate";\nimport type { PostalAddress as Address } from "../types";\nexport interface OrderRow { id: string; shipTo: Address }\nexport const orders = new OlapTable<OrderRow>("Orders");\n', ["cache"]],
    ["import it", "app/index.ts", (s) => s + 'export * from "./models/orders";\n', ["partial"]],
    ["a duplicate name across two files", "app/models/orders.ts", (s) => s.replace('"Orders"', '"Events"'), ["full"]],
    ["undo it", "app/models/orders.ts", (s) => s.replace('"Events")', '"Orders")'), ["cache"]],
    ["rename a table", "app/models/events.ts", (s) => s.replace('"Events"', '"AppEvents"'), ["partial"]],
    ["drop the import of a file", "app/index.ts", (s) => s.replace('export * from "./models/orders";\n', ""), ["partial"]],
    ["delete a file still imported", "app/models/events.ts", null, ["partial", "full"]],
    ["stop importing it", "app/index.ts", (s) => s.replace('export * from "./models/events";\n', ""), ["partial"]],
    ["a type imported only with import()", "app/views.ts", (s) => s.replace("interface PerCity { city: string;", 'interface PerCity { home: import("./types").PostalAddress; city: string;'), ["partial"]],
    ["change that type", "app/types.ts", (s) => s.replace("street?: string", "street?: string; region: string"), ["partial"]],
    ["a view reading a new column", "app/views.ts", (s) => s.replace("AS n FROM", "AS n, max(${users.columns.age}) AS oldest FROM").replace("n: number }", "n: number; oldest: number }"), ["partial"]],
    ["a global type in a .d.ts script, referenced", "app/types.ts", (s) => `/// <reference path="./globals.d.ts" />\n${s}`, ["full"]],
  ];
  const modes: Mode[] = [];
  for (const [what, rel, change, expected] of edits) {
    if (what.startsWith("a global type")) write(dir, "app/globals.d.ts", "declare type Money = number;\n");
    if (change === null) {
      rmSync(join(dir, rel));
      delete current[rel];
    } else {
      current[rel] = typeof change === "function" ? change(current[rel] ?? "") : change;
      write(dir, rel, current[rel]!);
    }
    const mode = compare(t, dir, cacheDir, what);
    modes.push(mode);
    t.true(expected.includes(mode), `after ${what}: read ${mode}, expected ${expected.join(" or ")}`);
  }
  // With a global declaration file in the app, every run reads the whole app.
  write(dir, "app/models/users.ts", current["app/models/users.ts"]!.replace("age?: number }", "age?: number; balance: Money }"));
  t.is(compare(t, dir, cacheDir, "using the global type"), "full");
  t.true(modes.filter((m) => m === "partial").length >= 10);
  rmSync(dir, { recursive: true, force: true });
});

test("an importer is read again only when what it takes from the edited file changed", (t) => {
  const files: Record<string, string> = {
    "app/shared.ts": 'export enum Tier { Free = "free", Pro = "pro" }\n',
    "app/models.ts":
      'import { OlapTable, type Key } from "moose-migrate";\nimport { Tier } from "./shared";\ntype Name = string;\nexport interface UserRow { id: Key<string>; name: Name; tier: Tier; score: number }\nexport const users = new OlapTable<UserRow>("Users", { orderByFields: ["id"] });\nexport interface OrderRow { id: string; total: number }\nexport const orders = new OlapTable<OrderRow>("Orders");\n',
    "app/views.ts":
      'import { MaterializedView, sql } from "moose-migrate";\nimport { users } from "./models";\ninterface Totals { tier: string; n: number }\nexport const totals = new MaterializedView<Totals>({\n  materializedViewName: "Totals_MV",\n  tableName: "Totals",\n  orderByFields: ["tier"],\n  selectStatement: sql`SELECT ${users.columns.tier} AS tier, sum(${users.columns.score}) AS n FROM ${users} GROUP BY tier`,\n  selectTables: [users],\n});\n',
    // The whole module: any edit of models.ts reads it again.
    "app/whole.ts": 'import { OlapTable } from "moose-migrate";\nimport * as m from "./models";\nexport const big = new OlapTable<m.OrderRow & { note: string }>("Big");\n',
    // Takes `orders` by name, and `users` through another file: that path counts the whole of models.ts.
    "app/mid.ts": 'import { users } from "./models";\nexport const members = users;\n',
    "app/both.ts": 'import { MaterializedView, sql } from "moose-migrate";\nimport { orders } from "./models";\nimport { members } from "./mid";\ninterface Pair { id: string }\nexport const pair = new MaterializedView<Pair>({ materializedViewName: "Pair_MV", tableName: "Pair", orderByFields: ["id"], selectStatement: sql`SELECT id FROM ${orders}`, selectTables: [orders, members] });\n',
    "app/index.ts": 'export * from "./models";\nexport * from "./views";\nexport * from "./whole";\nexport * from "./both";\n',
  };
  const dir = withLibrary(files);
  const cacheDir = join(dir, ".moose");
  const edit = (rel: string, fn: (s: string) => string) => writeFileSync(join(dir, rel), fn(readFileSync(join(dir, rel), "utf8")));
  /** The cached extraction equals a full one; the app files whose declarations it read. */
  const read = (what: string): string[] => {
    const extractor = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts", cacheDir });
    const cached = JSON.stringify(extractor.extract(), null, 1);
    t.is(cached, outcome(dir, undefined).text, `after ${what}: the cached extraction (${extractor.lastMode}) differs from a full one`);
    return extractor.lastRead.map((f) => relative(dir, f)).sort();
  };
  t.is(read("the first run").length, 7);
  t.deepEqual(read("the second run"), []);
  edit("app/models.ts", (s) => s.replace("total: number }", "total: number; paid?: boolean }"));
  t.deepEqual(read("a column added to a table the view does not take"), ["app/both.ts", "app/models.ts", "app/whole.ts"]);
  edit("app/models.ts", (s) => `import type { Money } from "./shared-types";\n${s}`.replace("total: number;", "total: Money;"));
  write(dir, "app/shared-types.ts", "export type Money = number;\n");
  // A new import in the edited file is in every importer's part of it: all are read.
  t.deepEqual(read("a new import in the model file"), ["app/both.ts", "app/models.ts", "app/shared-types.ts", "app/views.ts", "app/whole.ts"]);
  edit("app/models.ts", (s) => s.replace('type Name = string;\n', 'export interface Unused { x: number }\ntype Name = string;\n'));
  t.deepEqual(read("a declaration added above the view's table (its position moves)"), ["app/both.ts", "app/models.ts", "app/whole.ts"]);
  edit("app/models.ts", (s) => s.replace("score: number }", "score: number; age: number }"));
  t.deepEqual(read("a column added to the view's table"), ["app/both.ts", "app/models.ts", "app/views.ts", "app/whole.ts"]);
  edit("app/models.ts", (s) => s.replace("type Name = string;", "type Name = number;"));
  t.deepEqual(read("an alias the view's table uses"), ["app/both.ts", "app/models.ts", "app/views.ts", "app/whole.ts"]);
  edit("app/shared.ts", (s) => s.replace('Pro = "pro"', 'Pro = "pro", Team = "team"'));
  t.true(read("an enum the view's table uses, in a file the view reaches through models.ts").includes("app/views.ts"));
  edit("app/models.ts", (s) => s.replace('"Users"', '"Members"'));
  t.true(read("the view's table renamed").includes("app/views.ts"));
  edit("app/models.ts", (s) => s.replace("export const orders", "export const orderTable = 1;\nexport const orders"));
  t.deepEqual(read("a declaration added below"), ["app/both.ts", "app/models.ts", "app/whole.ts"]);
  rmSync(dir, { recursive: true, force: true });
});

test("randomized edits of the benchmark's app: every cached extraction equals a full one", async (t) => {
  const { generateApp } = (await import(pathToFileURL(join(PACKAGE_ROOT, "scripts", "bench", "generate-app.mjs")).href)) as { generateApp(o: { tables: number; out: string }): { dir: string } };
  const dir = mkdtempSync(join(tmpdir(), "moose-xcache-bench-"));
  generateApp({ tables: 120, out: dir });
  const cacheDir = join(dir, ".moose");
  // Types shared across files: an enum and an alias some model files import.
  write(dir, "app/shared.ts", 'export enum Tier { Free = "free", Pro = "pro" }\nexport type Amount = number;\n');
  const models = () => readdirSync(join(dir, "app", "models")).filter((f) => f.endsWith(".ts")).sort();
  for (const f of models().slice(0, 2)) {
    const path = join(dir, "app", "models", f);
    writeFileSync(path, readFileSync(path, "utf8").replace(/^(import .*\n)/, '$1import { Tier, type Amount } from "../shared";\n').replace(/\n}\n/, "\n  tier: Tier;\n  amount: Amount;\n}\n"));
  }
  let seed = 20261203;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const edit = (rel: string, fn: (s: string) => string) => writeFileSync(join(dir, rel), fn(readFileSync(join(dir, rel), "utf8")));
  let n = 0;
  const operations: Array<[string, () => void]> = [
    ["add a column", () => edit(`app/models/${pick(models())}`, (s) => s.replace(/\n}\n/, `\n  added_${++n}?: string;\n}\n`))],
    ["remove a column", () => edit(`app/models/${pick(models())}`, (s) => s.replace(/\n  [a-z]+_\d\d\??: [^;\n]+;/, ""))],
    ["change the shared enum", () => edit("app/shared.ts", (s) => s.replace('Pro = "pro"', `Pro = "pro", T${++n} = "t${n}"`))],
    ["change the shared alias", () => edit("app/shared.ts", (s) => (s.includes("Amount = number") ? s.replace("Amount = number", "Amount = string") : s.replace("Amount = string", "Amount = number")))],
    ["rename the shared alias and its uses", () => {
      const from = /export type (\w+) =/.exec(readFileSync(join(dir, "app/shared.ts"), "utf8"))![1]!;
      const to = `Amount${++n}`;
      edit("app/shared.ts", (s) => s.replace(`type ${from} =`, `type ${to} =`));
      for (const f of models()) edit(`app/models/${f}`, (s) => s.split(`type ${from} }`).join(`type ${to} }`).split(`: ${from};`).join(`: ${to};`));
    }],
    ["add a model file", () => {
      const name = `extra_${++n}`;
      write(dir, `app/models/${name}.ts`, `import { OlapTable } from "moose-migrate";\nimport type { Tier } from "../shared";\nexport interface Extra${n}Row { id: string; tier: Tier }\nexport const extra${n} = new OlapTable<Extra${n}Row>("Extra${n}");\n`);
      edit("app/index.ts", (s) => `${s}export * from "./models/${name}";\n`);
    }],
    ["delete an added model file", () => {
      const extra = models().filter((f) => f.startsWith("extra_"));
      if (extra.length === 0) return;
      const f = pick(extra);
      rmSync(join(dir, "app", "models", f));
      edit("app/index.ts", (s) => s.replace(`export * from "./models/${f.replace(/\.ts$/, "")}";\n`, ""));
    }],
    ["rename a table", () => edit(`app/models/${pick(models())}`, (s) => s.replace(/new OlapTable<(\w+)>\("(\w+)"/, (_m, row: string, name: string) => `new OlapTable<${row}>("${name}R"`))],
  ];
  const modes = new Map<Mode, number>();
  t.is(compare(t, dir, cacheDir, "generating the app"), "full");
  for (let i = 0; i < 24; i++) {
    const [what, run] = pick(operations);
    run();
    const mode = compare(t, dir, cacheDir, `edit ${i + 1}: ${what}`);
    modes.set(mode, (modes.get(mode) ?? 0) + 1);
  }
  t.true((modes.get("partial") ?? 0) >= 12, `partial readings: ${JSON.stringify([...modes])}`);
  rmSync(dir, { recursive: true, force: true });
});

test("fixture apps and Moose's templates: full, cached and after an edit of each file, the same as a full extraction", (t) => {
  const projects = [
    ...readdirSync(join(FIXTURES_DIR, "apps")).map((n) => join(FIXTURES_DIR, "apps", n)),
    ...readdirSync(join(FIXTURES_DIR, "moose-templates")).map((n) => join(FIXTURES_DIR, "moose-templates", n)),
  ];
  for (const source of projects) {
    const dir = mkdtempSync(join(tmpdir(), "moose-xcache-fixture-"));
    cpSync(source, dir, { recursive: true });
    const cacheDir = join(dir, ".moose");
    const name = relative(FIXTURES_DIR, source);
    // moose-lib's cluster template keeps its app in src/ (`source_dir`).
    const appDir = readdirSync(dir).includes("app") ? "app" : "src";
    const main = `${appDir}/index.ts`;
    compare(t, dir, cacheDir, `${name}: first run`, main);
    compare(t, dir, cacheDir, `${name}: second run`, main);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith(".ts")) files.push(join(d, e.name));
      }
    };
    walk(join(dir, appDir));
    for (const f of files.sort()) {
      writeFileSync(f, `${readFileSync(f, "utf8")}\n// edited\n`);
      compare(t, dir, cacheDir, `${name}: an edit of ${relative(dir, f)}`, main);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a corrupted or hand-edited cache is not used; a cache from other options is not used", (t) => {
  const dir = withLibrary({
    "app/index.ts": 'import { OlapTable } from "moose-migrate";\ninterface R { id: string; n: number }\nexport const r = new OlapTable<R>("R");\n',
  });
  const cacheDir = join(dir, ".moose");
  t.is(outcome(dir, cacheDir).mode, "full");
  t.is(outcome(dir, cacheDir).mode, "cache");
  const file = join(cacheDir, EXTRACTION_CACHE);
  const text = readFileSync(file, "utf8");
  // The table's name changed inside the cache: the checksum no longer matches.
  writeFileSync(file, text.replace('"name":"R"', '"name":"Tampered"'));
  const after = outcome(dir, cacheDir);
  t.is(after.mode, "full");
  t.false(after.text.includes("Tampered"));
  t.is(outcome(dir, cacheDir).mode, "cache");
  writeFileSync(file, text.slice(0, text.length / 2));
  t.is(outcome(dir, cacheDir).mode, "full");
  // Another retention changes every topic: a cache written without it is not read.
  const other = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts", cacheDir, topicRetentionMs: 1000 });
  other.extract();
  t.is(other.lastMode, "full");
  rmSync(dir, { recursive: true, force: true });
});

test("a workspace package read from its source, an app declaration file and a JSON module: edits of each give what a full extraction gives", (t) => {
  const dir = tempApp({
    "packages/objects/package.json": JSON.stringify({ name: "objects", type: "module", main: "dist/index.js", types: "dist/index.d.ts" }),
    "packages/objects/tsconfig.json": JSON.stringify({ compilerOptions: { outDir: "dist", declaration: true } }),
    "packages/objects/src/models.ts": 'import { Key } from "@514labs/moose-lib";\nexport interface Event { eventId: Key<string>; repo: string }\n',
    "packages/objects/src/index.ts": 'import { IngestPipeline } from "@514labs/moose-lib";\nimport { Event } from "./models";\nexport const EventPipeline = new IngestPipeline<Event>("Event", { table: true, stream: true });\n',
    "apps/backend/app/shapes.d.ts": "export interface Shape { sides: number }\n",
    "apps/backend/app/limits.json": JSON.stringify({ max: 3 }),
    "apps/backend/app/shapes.ts": 'import { OlapTable } from "@514labs/moose-lib";\nimport type { Shape } from "./shapes.d";\nimport limits from "./limits.json";\nexport const maxSides = limits.max;\nexport const shapes = new OlapTable<Shape & { id: string }>("Shapes");\n',
    "apps/backend/app/index.ts": 'export * from "objects";\nexport * from "./shapes";\n',
  });
  mkdirSync(join(dir, "apps/backend/node_modules"), { recursive: true });
  symlinkSync(join(dir, "packages/objects"), join(dir, "apps/backend/node_modules/objects"));
  const project = join(dir, "apps/backend");
  const cacheDir = join(project, ".moose");
  const edit = (rel: string, fn: (s: string) => string) => writeFileSync(join(dir, rel), fn(readFileSync(join(dir, rel), "utf8")));
  t.is(compare(t, project, cacheDir, "the first run"), "full");
  t.is(compare(t, project, cacheDir, "the second run"), "cache");
  edit("packages/objects/src/models.ts", (s) => s.replace("repo: string", "repo: string; stars: number"));
  t.is(compare(t, project, cacheDir, "a field added in the workspace package"), "partial");
  edit("apps/backend/app/shapes.d.ts", (s) => s.replace("sides: number", "sides: number; name: string"));
  t.is(compare(t, project, cacheDir, "an app declaration file changed"), "full");
  edit("apps/backend/app/limits.json", () => JSON.stringify({ max: 4 }));
  t.is(compare(t, project, cacheDir, "a JSON module changed"), "full");
  // The package's types now point outside its outDir: the import resolves to the compiled file instead.
  write(dir, "packages/objects/lib/index.d.ts", 'import { IngestPipeline } from "@514labs/moose-lib";\nexport declare const EventPipeline: IngestPipeline<{ eventId: string }>;\n');
  edit("packages/objects/package.json", (s) => s.replace('"dist/index.d.ts"', '"lib/index.d.ts"'));
  compare(t, project, cacheDir, "the package's import resolving elsewhere");
  edit("packages/objects/package.json", (s) => s.replace('"lib/index.d.ts"', '"dist/index.d.ts"'));
  t.not(compare(t, project, cacheDir, "back to its source"), undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a `declare global` block in the edited file is part of every importer's dependency on it", (t) => {
  const files: Record<string, string> = {
    "app/models.ts":
      'import { OlapTable } from "moose-migrate";\ndeclare global {\n  type GlobalCount = number;\n}\nexport interface UserRow { id: string; name: string }\nexport const users = new OlapTable<UserRow>("Users");\n',
    "app/views.ts":
      'import { MaterializedView, sql } from "moose-migrate";\nimport { users } from "./models";\ninterface Totals { name: string; n: GlobalCount }\nexport const totals = new MaterializedView<Totals>({\n  materializedViewName: "Totals_MV",\n  tableName: "Totals",\n  orderByFields: ["name"],\n  selectStatement: sql`SELECT name, count() AS n FROM ${users} GROUP BY name`,\n  selectTables: [users],\n});\n',
    "app/index.ts": 'export * from "./models";\nexport * from "./views";\n',
  };
  const dir = withLibrary(files);
  const cacheDir = join(dir, ".moose");
  const read = (what: string): string[] => {
    const extractor = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts", cacheDir });
    const cached = JSON.stringify(extractor.extract(), null, 1);
    t.is(cached, outcome(dir, undefined).text, `after ${what}: the cached extraction (${extractor.lastMode}) differs from a full one`);
    return extractor.lastRead.map((f) => relative(dir, f)).sort();
  };
  read("the first run");
  writeFileSync(join(dir, "app/models.ts"), readFileSync(join(dir, "app/models.ts"), "utf8").replace("type GlobalCount = number;", "type GlobalCount = string;"));
  t.true(read("the global alias the view's record uses changed").includes("app/views.ts"));
  rmSync(dir, { recursive: true, force: true });
});
