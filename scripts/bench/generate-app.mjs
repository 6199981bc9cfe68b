// Generates a synthetic moose-migrate project of N tables for the benchmarks.
//
//   node scripts/bench/generate-app.mjs --tables 1000 --out /tmp/moose-bench/t1000 [--variant moose|standin] [--seed 1]
//
// Deterministic (seeded PRNG): the same arguments give the same files byte for byte.
// Each table has 10–50 columns (mean 30) of a realistic mix of types; tables are spread
// over files of 25; every 10th table has a Stream writing to it, every 25th a
// MaterializedView (in app/views/, files of 10, importing their sources across files).
//
// The `standin` variant declares the same interfaces and objects against a one-line
// stand-in class per declaration (app/standin.ts) instead of this library: it is the
// floor that `tsc --noEmit` gives for the same app without our types.
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TABLES_PER_FILE = 25;
const VIEWS_PER_FILE = 10;

/** mulberry32: small, fast, deterministic. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// [TypeScript type, weight]; the library's named types exist as plain aliases in the stand-in.
const COLUMN_TYPES = [
  ["string", 26],
  ["number", 14],
  ["boolean", 6],
  ["Date", 8],
  ["string[]", 4],
  ["number[]", 2],
  ["UInt64", 6],
  ["Int32", 6],
  ["Float32", 4],
  ["UUID", 4],
  ["DateTime64<3>", 3],
  ["Decimal<18, 4>", 2],
  ["LowCardinality<string>", 3],
  ['"new" | "active" | "closed"', 3],
  ["Record<string, string>", 2],
  ["{ city: string; zip: string }", 2],
];
const TOTAL_WEIGHT = COLUMN_TYPES.reduce((s, [, w]) => s + w, 0);

const WORDS = ["user", "order", "event", "session", "device", "price", "amount", "status", "region", "source", "created", "updated", "score", "label", "count", "ratio", "page", "item", "tag", "note"];

function pick(rand) {
  let r = rand() * TOTAL_WEIGHT;
  for (const [t, w] of COLUMN_TYPES) {
    if ((r -= w) < 0) return t;
  }
  return "string";
}

const pad = (n, width = 4) => String(n).padStart(width, "0");
export const tableName = (i) => `Table${pad(i)}`;

/** The columns of table `i` (index 0 is always the key). */
function columnsOf(i, rand) {
  const count = 10 + Math.floor(rand() * 41);
  const cols = [{ name: "id", type: "Key<string>", optional: false }];
  for (let c = 1; c < count; c++) {
    const name = `${WORDS[Math.floor(rand() * WORDS.length)]}_${pad(c, 2)}`;
    cols.push({ name, type: pick(rand), optional: rand() < 0.12 });
  }
  return cols;
}

const STANDIN = `// One-line stand-ins for the declaration classes and column types: the same app without moose-migrate.
export class OlapTable<T> { columns!: { [K in keyof T]: string }; constructor(_name: string, _config?: object) {} }
export class Stream<T> { constructor(_name: string, _config?: { destination?: OlapTable<T> }) {} }
export class MaterializedView<T> { constructor(_config: { materializedViewName: string; selectStatement: string; selectTables?: object[]; tableName?: string; orderByFields?: (keyof T)[] }) {} }
export const sql = (strings: TemplateStringsArray, ...values: unknown[]): string => strings.join("?");
export type Key<T> = T;
export type UInt64 = number;
export type Int32 = number;
export type Float32 = number;
export type UUID = string;
export type DateTime64<P extends number> = Date;
export type Decimal<P extends number, S extends number> = string;
export type LowCardinality<T extends string> = T;
`;

/** The same column types in drizzle-orm's PostgreSQL schema builder (the `drizzle` variant: a peer, not a stand-in). */
const DRIZZLE_TYPES = {
  string: "text()",
  number: "doublePrecision()",
  boolean: "boolean()",
  Date: "timestamp()",
  "string[]": "text().array()",
  "number[]": "doublePrecision().array()",
  UInt64: 'bigint({ mode: "number" })',
  Int32: "integer()",
  Float32: "real()",
  UUID: "uuid()",
  "DateTime64<3>": "timestamp({ precision: 3 })",
  "Decimal<18, 4>": "numeric({ precision: 18, scale: 4 })",
  "LowCardinality<string>": "text()",
  '"new" | "active" | "closed"': 'text({ enum: ["new", "active", "closed"] })',
  "Record<string, string>": "jsonb()",
  "{ city: string; zip: string }": "jsonb()",
};
const DRIZZLE_IMPORTED = ["pgTable", "text", "doublePrecision", "boolean", "timestamp", "bigint", "integer", "real", "uuid", "numeric", "jsonb"];

const IMPORTED = ["OlapTable", "Stream", "type Key", "type UInt64", "type Int32", "type Float32", "type UUID", "type DateTime64", "type Decimal", "type LowCardinality"];

/** tsconfig with the options moose-migrate checks apps with (lib/extract/program.ts APP_COMPILER_OPTIONS). */
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2022"],
    strictNullChecks: true,
    noEmit: true,
    skipLibCheck: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    allowImportingTsExtensions: true,
    experimentalDecorators: true,
  },
  files: ["app/index.ts"],
};

/**
 * Writes the project. Returns a summary (counts) for the report.
 * The `drizzle` variant writes the same tables (same names, columns, types and nullability, from
 * the same seed) as a drizzle-kit project for PostgreSQL (`schema/*.ts`, `drizzle.config.ts`):
 * a peer for `drizzle-kit generate`. It has no streams or views (drizzle has neither for these).
 * @param {{ tables: number, out: string, variant?: "moose" | "standin" | "drizzle", seed?: number }} opts
 */
export function generateApp({ tables, out, variant = "moose", seed = 1 }) {
  const rand = prng(seed * 7919 + tables);
  const dir = resolve(out);
  rmSync(dir, { recursive: true, force: true });
  if (variant === "drizzle") return generateDrizzle({ tables, dir, rand });
  mkdirSync(join(dir, "app", "models"), { recursive: true });
  mkdirSync(join(dir, "app", "views"), { recursive: true });
  mkdirSync(join(dir, "migrations"), { recursive: true });
  const from = variant === "moose" ? "moose-migrate" : "../standin";
  if (variant === "standin") writeFileSync(join(dir, "app", "standin.ts"), STANDIN);

  const files = Math.max(2, Math.ceil(tables / TABLES_PER_FILE));
  const perFile = Math.ceil(tables / files);
  let columns = 0;
  let streams = 0;
  const views = [];
  const modelFiles = [];
  for (let f = 0; f < files; f++) {
    const first = f * perFile + 1;
    const last = Math.min(tables, first + perFile - 1);
    if (first > last) break;
    const file = `models_${pad(f + 1, 3)}`;
    modelFiles.push(file);
    let text = `import { ${IMPORTED.join(", ")} } from "${from}";\n`;
    for (let i = first; i <= last; i++) {
      const t = tableName(i);
      const cols = columnsOf(i, rand);
      columns += cols.length;
      text += `\nexport interface ${t}Row {\n`;
      for (const c of cols) text += `  ${c.name}${c.optional ? "?" : ""}: ${c.type};\n`;
      text += `}\n`;
      text += `export const ${t.toLowerCase()} = new OlapTable<${t}Row>("${t}", { orderByFields: ["id"] });\n`;
      if (i % 10 === 0) {
        text += `export const ${t.toLowerCase()}Events = new Stream<${t}Row>("${t}Events", { destination: ${t.toLowerCase()} });\n`;
        streams++;
      }
      if (i % 25 === 0 || i === tables) views.push({ i, file });
    }
    writeFileSync(join(dir, "app", "models", `${file}.ts`), text);
  }

  // Views in files of 10, each importing the model files its sources live in (as app/views/*.ts do).
  const viewFiles = [];
  for (let v = 0; v < views.length; v += VIEWS_PER_FILE) {
    const group = views.slice(v, v + VIEWS_PER_FILE);
    const file = `views_${pad(v / VIEWS_PER_FILE + 1, 3)}`;
    viewFiles.push(file);
    let text = `import { MaterializedView, sql, type UInt64 } from "${from}";\n`;
    for (const { i, file: model } of group) text += `import { ${tableName(i).toLowerCase()} } from "../models/${model}";\n`;
    for (const { i } of group) {
      const t = tableName(i);
      const v = t.toLowerCase();
      text += `
interface ${t}Daily {
  id: string;
  rows: UInt64;
}
export const ${v}Daily = new MaterializedView<${t}Daily>({
  materializedViewName: "${t}Daily_MV",
  tableName: "${t}Daily",
  orderByFields: ["id"],
  selectStatement: sql\`SELECT \${${v}.columns.id} AS id, count() AS rows FROM \${${v}} GROUP BY id\`,
  selectTables: [${v}],
});
`;
    }
    writeFileSync(join(dir, "app", "views", `${file}.ts`), text);
  }

  const index = [...modelFiles.map((f) => `export * from "./models/${f}";`), ...viewFiles.map((f) => `export * from "./views/${f}";`)].join("\n") + "\n";
  writeFileSync(join(dir, "app", "index.ts"), index);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2) + "\n");
  writeFileSync(join(dir, "moose.config.toml"), `[moose]\nmain_file = "app/index.ts"\nmigrations_dir = "migrations"\nstate_dir = ".moose"\n`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `bench-${tables}`, private: true, type: "module" }, null, 2) + "\n");
  if (variant === "moose") {
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(PACKAGE_ROOT, join(dir, "node_modules", "moose-migrate"));
  }
  return { dir, variant, tables, columns, files: modelFiles.length + viewFiles.length + 1, streams, views: views.length };
}

function generateDrizzle({ tables, dir, rand }) {
  mkdirSync(join(dir, "schema"), { recursive: true });
  const files = Math.max(2, Math.ceil(tables / TABLES_PER_FILE));
  const perFile = Math.ceil(tables / files);
  let columns = 0;
  let written = 0;
  for (let f = 0; f < files; f++) {
    const first = f * perFile + 1;
    const last = Math.min(tables, first + perFile - 1);
    if (first > last) break;
    let text = `import { ${DRIZZLE_IMPORTED.join(", ")} } from "drizzle-orm/pg-core";\n`;
    for (let i = first; i <= last; i++) {
      const t = tableName(i);
      const cols = columnsOf(i, rand);
      columns += cols.length;
      text += `\nexport const ${t.toLowerCase()} = pgTable("${t}", {\n`;
      for (const c of cols) {
        const type = c.type === "Key<string>" ? "text().primaryKey()" : `${DRIZZLE_TYPES[c.type]}${c.optional ? "" : ".notNull()"}`;
        text += `  ${c.name}: ${type},\n`;
      }
      text += `});\n`;
    }
    writeFileSync(join(dir, "schema", `models_${pad(f + 1, 3)}.ts`), text);
    written++;
  }
  writeFileSync(join(dir, "drizzle.config.ts"), `import { defineConfig } from "drizzle-kit";\nexport default defineConfig({ dialect: "postgresql", schema: "./schema", out: "./drizzle" });\n`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `bench-drizzle-${tables}`, private: true, type: "module" }, null, 2) + "\n");
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  for (const name of ["drizzle-kit", "drizzle-orm"]) symlinkSync(drizzlePackage(name), join(dir, "node_modules", name));
  return { dir, variant: "drizzle", tables, columns, files: written };
}

/**
 * Where drizzle-kit / drizzle-orm are installed: this package's devDependencies, or the
 * `node_modules` folder named by MOOSE_BENCH_DRIZZLE_MODULES (a separate install).
 */
export function drizzlePackage(name) {
  const roots = [process.env.MOOSE_BENCH_DRIZZLE_MODULES, join(PACKAGE_ROOT, "node_modules")].filter(Boolean);
  for (const root of roots) if (existsSync(join(root, name, "package.json"))) return join(root, name);
  throw new Error(`${name} is not installed: run \`npm install\` (it is a devDependency), or set MOOSE_BENCH_DRIZZLE_MODULES to a node_modules folder that has it`);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    out[a.slice(2)] = argv[++i];
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  if (!args.tables || !args.out) {
    process.stderr.write("usage: node scripts/bench/generate-app.mjs --tables N --out DIR [--variant moose|standin|drizzle] [--seed S]\n");
    process.exit(2);
  }
  const summary = generateApp({ tables: Number(args.tables), out: args.out, variant: args.variant ?? "moose", seed: Number(args.seed ?? 1) });
  process.stdout.write(JSON.stringify(summary) + "\n");
}
