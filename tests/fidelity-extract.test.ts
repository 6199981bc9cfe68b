import test from "ava";
import { extractApp } from "../lib/extract/extract-app.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";

/**
 * Never planning less than the app declares: imports extraction follows
 * (`@514labs/moose-lib/browserCompatible`), and declarations it cannot read (a
 * workspace package compiled to .d.ts) are errors, never a quiet "No changes".
 */

const extract = (dir: string) => extractApp({ projectDir: dir, mainFile: "app/index.ts" });

test("declarations imported from @514labs/moose-lib/browserCompatible are planned", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, Key } from "@514labs/moose-lib/browserCompatible";',
      "interface User { id: Key<string>; name: string }",
      'export const users = new OlapTable<User>("Users");',
    ].join("\n"),
  });
  const app = extract(dir);
  t.deepEqual(Object.keys(app.map.tables), ["Users"]);
  t.deepEqual(app.warnings, ["imports of @514labs/moose-lib are planned against moose-migrate's declaration library"]);
});

test("a package compiled to .d.ts that exports tables is an error naming the import, not an empty plan", (t) => {
  const dir = tempApp({
    "node_modules/@acme/models/package.json": JSON.stringify({ name: "@acme/models", version: "1.0.0", types: "dist/index.d.ts" }),
    "node_modules/@acme/models/dist/index.d.ts": [
      'import { OlapTable, Stream } from "@514labs/moose-lib";',
      "export interface User { id: string }",
      "export declare const users: OlapTable<User>;",
      "export declare const userStream: Stream<User>;",
      "export declare const version: string;",
    ].join("\n"),
    "app/index.ts": 'export * from "@acme/models";\n',
  });
  const errors = errorsOf(() => extract(dir));
  t.is(errors.length, 1);
  t.is(errors[0]?.code, "DECLARATION_NOT_FOLLOWED");
  t.regex(errors[0]?.located ?? "", /^app\/index\.ts:1:15: '@acme\/models' exports declared infrastructure \(users \(OlapTable\), userStream \(Stream\)\) from compiled code/);
});

test("a package compiled to .d.ts without declarations is imported quietly", (t) => {
  const dir = tempApp({
    "node_modules/@acme/util/package.json": JSON.stringify({ name: "@acme/util", version: "1.0.0", types: "index.d.ts" }),
    "node_modules/@acme/util/index.d.ts": 'import type { Key } from "@514labs/moose-lib";\nexport type Id = Key<string>;\nexport declare function pad(s: string): string;\n',
    "app/index.ts": [
      'import { OlapTable } from "@514labs/moose-lib";',
      'import { type Id, pad } from "@acme/util";',
      "interface User { id: Id }",
      'export const users = new OlapTable<User>(pad("Users"));',
    ].join("\n"),
  });
  // The name is not static: that is the only complaint.
  t.deepEqual(errorsOf(() => extract(dir)).map((e) => e.code), ["NOT_STATIC"]);
});

test("an `any` record type (a type from a package that is not installed) is an error naming the declaration, not a crash", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable } from "@514labs/moose-lib";',
      'import { users } from "drizzle-schema-not-installed";',
      "type User = typeof users.$inferSelect;",
      'export const t1 = new OlapTable<User>("Users");',
    ].join("\n"),
  });
  t.deepEqual(errorsOf(() => extract(dir)), [
    {
      code: "UNSUPPORTED_TYPE",
      located: "app/index.ts:4:33: the record type is `any`, so planning cannot know the table's columns",
      hint: "a type from a package that is not installed is `any` (drizzle's `typeof t.$inferSelect`, for one): install the package, or declare the record as an interface",
    },
  ]);
});
