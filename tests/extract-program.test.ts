import test from "ava";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AppProgram } from "../lib/extract/program.js";
import { tempDir } from "./helpers/cli.js";

/**
 * The Program planning builds holds the app, TypeScript's lib files and what the app
 * imports — not every package of node_modules/@types. Every public Moose template installs
 * @types/node (63 files, 2.25 MB), which no declared record's type needs; TypeScript adds
 * such packages by default, from the current folder's node_modules too.
 */

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** `index.ts` with `text`, in a folder whose node_modules has @types/node and @types/yargs (this repository's). */
function appFile(text: string): string {
  const dir = tempDir("app-program");
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const file = join(dir, "index.ts");
  writeFileSync(file, text);
  return file;
}

const typesPackages = (program: ReturnType<AppProgram["update"]>): string[] =>
  [...new Set(program.getSourceFiles().map((f) => /\/node_modules\/@types\/([^/]+)\//.exec(f.fileName)?.[1]).filter((p): p is string => p !== undefined))].sort();

test("@types packages are not added unasked: a file that imports nothing gets none, though node_modules (here and in the current folder) has @types/node", (t) => {
  const program = new AppProgram(appFile("export interface Row { id: string; at: Date }\n")).update();
  t.deepEqual(typesPackages(program), []);
  t.true(program.getSourceFiles().some((f) => f.fileName.endsWith("lib.es5.d.ts")), "TypeScript's lib files are there");
});

test("an import still brings in the @types package it resolves to, and what that references", (t) => {
  const program = new AppProgram(appFile('import type { Argv } from "yargs";\nexport type A = Argv;\n')).update();
  t.true(typesPackages(program).includes("yargs"), typesPackages(program).join(", "));
  const checker = program.getTypeChecker();
  const file = program.getSourceFiles().find((f) => f.fileName.endsWith("index.ts"))!;
  // The alias is yargs' Argv itself, not `any`: it has Argv's methods.
  const argv = checker.getTypeAtLocation(file.statements[1]!);
  t.truthy(checker.getPropertyOfType(argv, "option"));
});
