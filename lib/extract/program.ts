import { statSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "./typescript.cjs";
import { workspaceSource } from "./workspace-source.js";

/** The folder of this package (the one holding package.json). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Declarations users import: `moose-migrate` (ours) and `@514labs/moose-lib` (the original's name). */
export const LIBRARY_ENTRY = join(PACKAGE_ROOT, "dist", "lib", "index.d.ts");
export const LIBRARY_DIR = join(PACKAGE_ROOT, "dist", "lib") + sep;
/** `browserCompatible` is moose-lib's subset without Node-only code: the same classes, so the same declarations. */
const LIBRARY_MODULES = new Set(["moose-migrate", "@514labs/moose-lib", "@514labs/moose-lib/browserCompatible"]);

/**
 * typia's type tags, for apps that import `typia` without having it installed (the
 * tags decide column types: `number & tags.Type<"int32">` is an Int32). An installed
 * typia is used as it is.
 */
const TYPIA_ENTRY = join(PACKAGE_ROOT, "dist", "lib", "dsl", "typia.d.ts");
const TYPIA_TAGS_ENTRY = join(PACKAGE_ROOT, "dist", "lib", "dsl", "typia-tags.d.ts");
const TYPIA_MODULES: ReadonlyMap<string, string> = new Map([
  ["typia", TYPIA_ENTRY],
  ["typia/lib/tags", TYPIA_TAGS_ENTRY],
  ["typia/lib/tags/index", TYPIA_TAGS_ENTRY],
]);

/**
 * Options for type-checking user apps. Planning only reads types, so nothing is
 * emitted; `Bundler` resolution accepts the extension-less relative imports
 * that Moose apps use. Moose's templates compile with `strictNullChecks` only (not
 * `strict`): run-time code in them relies on that (`catch (error) { error.message }`,
 * untyped callbacks of uninstalled frameworks), and planning needs only the null
 * checks, which decide Nullable columns.
 */
export const APP_COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts"],
  strict: false,
  strictNullChecks: true,
  noEmit: true,
  skipLibCheck: true,
  allowJs: false,
  resolveJsonModule: true,
  esModuleInterop: true,
  allowImportingTsExtensions: true,
  experimentalDecorators: true,
  // No package of node_modules/@types is added unasked: every public Moose template installs
  // @types/node, 63 files and 2.25 MB of declarations that no declared record's type needs
  // (the extractor reads apps without it: an unresolved Node global or builtin module is not an
  // error, and a record whose type came from one maps to `any`, reported at its field). Measured on
  // the same one-line file with @types/node installed: Program 730 ms and checker 220 ms against 228 and 95
  // without it. An import still brings in the package it resolves to (`express` → @types/express,
  // and what that references).
  types: [],
};

interface CachedFile {
  readonly version: string;
  readonly sourceFile: ts.SourceFile;
}

/**
 * Source files that never change while the process lives (TypeScript's own lib
 * files, our library's declarations) are parsed once and shared by every
 * program, which is most of what makes a re-extraction cheap.
 */
const stableFiles = new Map<string, ts.SourceFile>();

/** Whether a file is one of those (its SourceFile is the same object in every Program). */
export function isStable(fileName: string): boolean {
  return fileName.includes(`${sep}node_modules${sep}`) || fileName.startsWith(LIBRARY_DIR);
}

function fileVersion(fileName: string): string | undefined {
  try {
    const s = statSync(fileName);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return undefined;
  }
}

/**
 * Builds successive Programs for one app, reusing the previous Program and the
 * parsed SourceFiles of every file whose mtime and size did not change.
 */
export class AppProgram {
  private readonly files = new Map<string, CachedFile>();
  private program: ts.Program | undefined;
  private readonly moduleCache: ts.ModuleResolutionCache;
  /** Module names that resolved to our library although the user's import named the original Moose package. */
  readonly redirected = new Set<string>();
  /**
   * Per importing file, the module names that did not resolve (a package only run-time
   * code needs that is not installed). Kept from the last Program that resolved the
   * file's imports: an unchanged file's imports are not resolved again.
   */
  readonly unresolved = new Map<string, readonly string[]>();
  /**
   * Per importing file, each module name TypeScript asked to resolve and the file it resolved
   * to (undefined: not resolved), in TypeScript's order: what the extraction cache checks
   * again before it trusts what it kept for the file.
   */
  readonly resolutions = new Map<string, ReadonlyArray<readonly [name: string, resolved: string | undefined]>>();
  /** Per importing file, the library modules its imports named that were redirected (see {@link redirected}). */
  readonly redirectedBy = new Map<string, ReadonlySet<string>>();
  private resolutionHost: ts.ModuleResolutionHost | undefined;

  constructor(
    readonly rootFile: string,
    readonly options: ts.CompilerOptions = APP_COMPILER_OPTIONS,
  ) {
    this.moduleCache = ts.createModuleResolutionCache(dirname(rootFile), (f) => f, options);
  }

  /** A fresh Program for the files as they are on disk now. */
  update(rootNames: readonly string[] = [this.rootFile]): ts.Program {
    const host = this.createHost();
    this.program = ts.createProgram({ rootNames, options: this.options, host, oldProgram: this.program });
    return this.program;
  }

  // Files are parsed without `setParentNodes` (as tsc does): the binder sets every
  // parent when the checker first runs, and the extra walk costs a third of parsing.
  private createHost(): ts.CompilerHost {
    const base = ts.createCompilerHost(this.options, true);
    const getSourceFile = (fileName: string, languageVersion: ts.ScriptTarget | ts.CreateSourceFileOptions): ts.SourceFile | undefined => {
      if (isStable(fileName)) {
        let sf = stableFiles.get(fileName);
        if (!sf) {
          const text = base.readFile(fileName);
          if (text === undefined) return undefined;
          sf = ts.createSourceFile(fileName, text, parseOptions(languageVersion));
          stableFiles.set(fileName, sf);
        }
        return sf;
      }
      const version = fileVersion(fileName);
      if (version === undefined) return undefined;
      const cached = this.files.get(fileName);
      if (cached && cached.version === version) return cached.sourceFile;
      const text = readFileSync(fileName, "utf8");
      const sourceFile = ts.createSourceFile(fileName, text, parseOptions(languageVersion));
      this.files.set(fileName, { version, sourceFile });
      return sourceFile;
    };
    const libDir = dirname(ts.getDefaultLibFilePath(this.options));
    return {
      ...base,
      getSourceFile,
      getDefaultLibLocation: () => libDir,
      resolveModuleNameLiterals: (literals, containingFile, _redirected, options) => {
        const mine = new Set<string>();
        const resolved = literals.map((literal) => this.resolveModule(literal.text, containingFile, options, base, mine));
        this.redirectedBy.set(containingFile, mine);
        for (const r of mine) this.redirected.add(r);
        this.resolutions.set(containingFile, literals.map((literal, i) => [literal.text, resolved[i]!.resolvedModule?.resolvedFileName] as const));
        const missing = literals.filter((_, i) => !resolved[i]!.resolvedModule).map((literal) => literal.text);
        if (missing.length > 0) this.unresolved.set(containingFile, missing);
        else this.unresolved.delete(containingFile);
        return resolved;
      },
    };
  }

  /** Where `name` imported from `containingFile` resolves now (as a Program would resolve it), without building one. */
  resolvedFileName(name: string, containingFile: string): string | undefined {
    this.resolutionHost ??= ts.createCompilerHost(this.options, true);
    return this.resolveModule(name, containingFile, this.options, this.resolutionHost, new Set()).resolvedModule?.resolvedFileName;
  }

  private resolveModule(
    name: string,
    containingFile: string,
    options: ts.CompilerOptions,
    host: ts.ModuleResolutionHost,
    /** Where the library modules this import names that are redirected go (besides {@link redirected}). */
    redirects: Set<string>,
  ): ts.ResolvedModuleWithFailedLookupLocations {
    // Apps are always planned against this tool's own declarations, whatever
    // copy (or none) sits in the app's node_modules: the extractor understands
    // exactly these classes, and `@514labs/moose-lib` apps need no install.
    if (LIBRARY_MODULES.has(name)) {
      if (name !== "moose-migrate") redirects.add(name.replace(/\/browserCompatible$/, ""));
      return redirectTo(LIBRARY_ENTRY);
    }
    const resolved = ts.resolveModuleName(name, containingFile, options, host, this.moduleCache);
    const source = workspaceSource(name, containingFile, resolved);
    if (source !== undefined) return { resolvedModule: { resolvedFileName: source, extension: ts.Extension.Ts, isExternalLibraryImport: false } } as ts.ResolvedModuleWithFailedLookupLocations;
    const typia = TYPIA_MODULES.get(name);
    if (typia !== undefined && !resolved.resolvedModule) {
      redirects.add("typia");
      return redirectTo(typia);
    }
    return resolved;
  }
}

/**
 * JSDoc comments are skipped as `tsc` skips them in .ts files: planning reads no
 * documentation, and parsing every comment costs about a tenth of parsing.
 */
function parseOptions(languageVersion: ts.ScriptTarget | ts.CreateSourceFileOptions): ts.CreateSourceFileOptions {
  const options = typeof languageVersion === "object" ? languageVersion : { languageVersion };
  return { ...options, jsDocParsingMode: ts.JSDocParsingMode.ParseForTypeErrors };
}

function redirectTo(file: string): ts.ResolvedModuleWithFailedLookupLocations {
  return { resolvedModule: { resolvedFileName: file, extension: ts.Extension.Dts, isExternalLibraryImport: true } } as ts.ResolvedModuleWithFailedLookupLocations;
}

/** Whether a declaration comes from this tool's declaration library. */
export function isLibraryFile(fileName: string): boolean {
  return fileName.startsWith(LIBRARY_DIR) || safeRealpath(fileName).startsWith(LIBRARY_DIR);
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
