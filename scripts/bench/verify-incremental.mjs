// Checks that incremental extraction (one AppExtractor reused across edits, as `moose dev` does)
// gives exactly what a fresh extraction gives, over a sequence of edits that touch types
// imported across files, enums, views, errors and the file set itself.
//
//   node scripts/bench/verify-incremental.mjs        (exit 1 and a diff on the first mismatch)
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { PACKAGE_ROOT } from "./generate-app.mjs";

const { AppExtractor } = await import("../../dist/lib/extract/extract-app.js");
const dir = mkdtempSync(join(os.tmpdir(), "moose-incremental-"));
mkdirSync(join(dir, "node_modules"), { recursive: true });
symlinkSync(PACKAGE_ROOT, join(dir, "node_modules", "moose-migrate"));

let tick = Date.now() / 1000;
function write(rel, text) {
  const path = join(dir, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  // A new mtime on every write: two edits within one clock tick must still count.
  tick += 2;
  utimesSync(path, tick, tick);
}

const files = {
  "app/types.ts": `import type { Key } from "moose-migrate";
export interface Address { city: string; zip: string }
export enum Status { Active = "active", Closed = "closed" }
export type Id = Key<string>;
`,
  "app/models/users.ts": `import { OlapTable, Stream } from "moose-migrate";
import type { Address, Id, Status } from "../types";
export interface UserRow { id: Id; name: string; address: Address; status: Status; age?: number }
export const users = new OlapTable<UserRow>("Users", { orderByFields: ["id"] });
export const userEvents = new Stream<UserRow>("UserEvents", { destination: users });
`,
  "app/models/events.ts": `import { OlapTable } from "moose-migrate";
import type { Id } from "../types";
export interface EventRow { id: Id; at: Date; kind: "click" | "view" }
export const events = new OlapTable<EventRow>("Events");
`,
  "app/views.ts": `import { MaterializedView, sql } from "moose-migrate";
import { users } from "./models/users";
interface PerCity { city: string; n: number }
export const perCity = new MaterializedView<PerCity>({
  materializedViewName: "PerCity_MV",
  tableName: "PerCity",
  orderByFields: ["city"],
  selectStatement: sql\`SELECT address.city AS city, count(\${users.columns.id}) AS n FROM \${users} GROUP BY city\`,
  selectTables: [users],
});
`,
  "app/index.ts": `export * from "./models/users";
export * from "./models/events";
export * from "./views";
`,
};
for (const [rel, text] of Object.entries(files)) write(rel, text);

/** Each edit: [description, file, new text or a function of the old text]. */
const edits = [
  ["add a field to an interface imported by another file", "app/types.ts", (t) => t.replace("zip: string }", "zip: string; street?: string }")],
  ["add an enum member", "app/types.ts", (t) => t.replace('Closed = "closed"', 'Closed = "closed", Paused = "paused"')],
  ["rename a column a view interpolates", "app/models/users.ts", (t) => t.replace("id: Id;", "uid: Id;").replace('orderByFields: ["id"]', 'orderByFields: ["uid"]')],
  ["rename it back", "app/models/users.ts", (t) => t.replace("uid: Id;", "id: Id;").replace('orderByFields: ["uid"]', 'orderByFields: ["id"]')],
  ["change the Key alias", "app/types.ts", (t) => t.replace("Key<string>", "Key<number>")],
  ["add a column in the table's own file", "app/models/events.ts", (t) => t.replace('kind: "click" | "view"', 'kind: "click" | "view"; score: number')],
  ["a TypeScript error", "app/models/events.ts", (t) => t.replace("score: number }", "score: number }\nconst broken: number = \"x\";")],
  ["fix it", "app/models/events.ts", (t) => t.replace('\nconst broken: number = "x";', "")],
  ["a declaration error", "app/models/users.ts", (t) => t.replace('orderByFields: ["id"]', 'orderByFields: ["nope" as any]')],
  ["fix it", "app/models/users.ts", (t) => t.replace('orderByFields: ["nope" as any]', 'orderByFields: ["id"]')],
  ["a new file, imported", "app/models/orders.ts", `import { OlapTable } from "moose-migrate";\nimport type { Address } from "../types";\nexport interface OrderRow { id: string; shipTo: Address }\nexport const orders = new OlapTable<OrderRow>("Orders");\n`],
  ["import it", "app/index.ts", (t) => t + 'export * from "./models/orders";\n'],
  ["change a type only the new file uses", "app/types.ts", (t) => t.replace("street?: string", "street?: string; country: string")],
  ["rename a table", "app/models/events.ts", (t) => t.replace('"Events"', '"AppEvents"')],
  ["drop the import of a file", "app/index.ts", (t) => t.replace('export * from "./models/orders";\n', "")],
  ["a type imported only with import()", "app/views.ts", (t) => t.replace("interface PerCity { city: string;", 'interface PerCity { home: import("./types").Address; city: string;')],
  ["change that type", "app/types.ts", (t) => t.replace("country: string", "country: string; region: string")],
  ["a global type in a .d.ts script", "app/globals.d.ts", "declare type Money = number;\n"],
  ["reference it", "app/types.ts", (t) => `/// <reference path="./globals.d.ts" />\n${t}`],
  ["use it in another file", "app/models/users.ts", (t) => t.replace("age?: number }", "age?: number; balance: Money }")],
  ["change the global type", "app/globals.d.ts", "declare type Money = string;\n"],
  ["a view reading a new column", "app/views.ts", (t) => t.replace("AS n FROM", "AS n, max(${users.columns.age}) AS oldest FROM").replace("n: number }", "n: number; oldest: number }")],
];

const current = { ...files };
const outcome = (fn) => {
  try {
    const r = fn();
    return { map: r.map, warnings: r.warnings, locations: r.locations };
  } catch (e) {
    return { errors: (e.errors ?? [e]).map((x) => `${x.code}: ${x.message} @ ${JSON.stringify(x.position)}`) };
  }
};

const incremental = new AppExtractor({ projectDir: dir, mainFile: "app/index.ts" });
let failed = false;
try {
  outcome(() => incremental.extract());
  for (const [what, rel, change] of edits) {
    const next = typeof change === "function" ? change(current[rel]) : change;
    current[rel] = next;
    write(rel, next);
    const a = JSON.stringify(outcome(() => incremental.extract()), null, 1);
    const b = JSON.stringify(outcome(() => new AppExtractor({ projectDir: dir, mainFile: "app/index.ts" }).extract()), null, 1);
    if (a !== b) {
      failed = true;
      process.stdout.write(`MISMATCH after "${what}" (${rel})\nincremental:\n${a}\nfresh:\n${b}\n`);
      break;
    }
    const o = JSON.parse(a);
    process.stdout.write(`ok: ${what} (${o.errors ? `${o.errors.length} error(s)` : `${Object.keys(o.map.tables).length} tables, ${o.warnings.length} warning(s)`})\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(failed ? "incremental extraction differs from a fresh one\n" : `incremental extraction equals a fresh one after each of ${edits.length} edits\n`);
process.exit(failed ? 1 : 0);
