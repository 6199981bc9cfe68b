import { dirname, join, resolve, sep } from "node:path";
import ts from "./typescript.cjs";
import { isFile, workspacePackageDir } from "./workspace-link.js";

/**
 * A workspace package (linked into node_modules from a folder of the same repository, as pnpm,
 * npm and yarn workspaces do) is read from its TypeScript source, like the app's own files: its
 * declarations are infrastructure the app creates when it imports the package, and its compiled
 * `.d.ts` (when it has been built at all) holds their types but not their names and options.
 * Planning resolves the import here; `moose dev` and `prod` load the same source (the module
 * loader asks for it), so the code that runs is the code that was planned. Packages installed
 * from a registry are left as they resolve.
 */
export function workspaceSource(name: string, containingFile: string, resolved: ts.ResolvedModuleWithFailedLookupLocations): string | undefined {
  if (resolved.resolvedModule && !resolved.resolvedModule.resolvedFileName.endsWith(".d.ts")) return undefined;
  const dir = workspacePackageDir(name, dirname(containingFile));
  return dir === undefined ? undefined : workspaceSourceEntry(dir);
}

/**
 * The source of a package's entry, found the way TypeScript's project references map an output
 * back to its input: the `types` (else `typings`, else `main`) entry, under the package tsconfig's
 * `outDir`, is the same path under its `rootDir` (else `src/`, else the package folder) with a
 * `.ts` extension. Undefined when the entry is not under outDir or no such file exists.
 */
export function workspaceSourceEntry(packageDir: string): string | undefined {
  const manifest = readJson(join(packageDir, "package.json")) as { types?: unknown; typings?: unknown; main?: unknown } | undefined;
  const entry = [manifest?.types, manifest?.typings, manifest?.main].find((v): v is string => typeof v === "string");
  if (entry === undefined) return undefined;
  const options = (readJson(join(packageDir, "tsconfig.json")) as { compilerOptions?: { outDir?: unknown; rootDir?: unknown } } | undefined)?.compilerOptions;
  const outDir = typeof options?.outDir === "string" ? resolve(packageDir, options.outDir) : packageDir;
  const compiled = resolve(packageDir, entry);
  if (!compiled.startsWith(outDir + sep)) return undefined;
  const relative = compiled.slice(outDir.length + 1).replace(/(\.d)?\.(ts|js|mjs|cjs)$/, "");
  const roots = typeof options?.rootDir === "string" ? [resolve(packageDir, options.rootDir)] : [join(packageDir, "src"), packageDir];
  for (const root of roots) {
    for (const ext of [".ts", ".tsx", ".mts"]) {
      const candidate = join(root, relative + ext);
      if (isFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** package.json and tsconfig.json as TypeScript reads them (tsconfig allows comments and trailing commas). */
function readJson(path: string): unknown {
  const text = ts.sys.readFile(path);
  return text === undefined ? undefined : ts.parseConfigFileTextToJson(path, text).config;
}
