/**
 * Node module loader hooks that let the dev and prod servers run a user's app as it
 * is written: TypeScript, extension-less relative imports, and imports of this
 * library under its own name or moose-lib's. Registered once per process by
 * `load-app.ts` (`module.register`); Node runs them on its loader thread, so this
 * file must stand alone (no state shared with the main thread except `data`).
 *
 * Planning never goes through here: the extractor reads the app without running it.
 */
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { LoadHook, ResolveHook, InitializeHook } from "node:module";
import type { MessagePort } from "node:worker_threads";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname } from "node:path";
import { workspacePackageDir } from "../extract/workspace-link.js";
import type { TranspileRequest, TranspileResponse, WorkspaceRequest, WorkspaceResponse } from "./transpile.js";

/** What the main thread tells the hooks at registration. */
export interface LoaderData {
  /** `file:` URL of the built library entry (dist/lib/index.js). */
  readonly libraryUrl: string;
  /** `file:` URL of the `moose-migrate/migration` entry. */
  readonly migrationUrl: string;
  /** `file:` URLs of our typia stand-ins, used when typia is not installed. */
  readonly typiaUrl: string;
  readonly typiaTagsUrl: string;
  /** `file:` URL of the folder holding the built library; its modules never get a load generation. */
  readonly libraryDirUrl: string;
  /** Where the loader asks the main thread to transpile a TypeScript file (`transpile.ts`). */
  readonly port: MessagePort;
}

/**
 * The query parameter that makes one load of an app a fresh module graph: the main
 * file is imported as `index.ts?moose-app=N` and every app file it reaches inherits
 * `N`, so a reload after a save re-evaluates the app's own files while the library
 * (and its declaration registry) stays one instance.
 */
export const GENERATION_PARAM = "moose-app";

let data: LoaderData | undefined;

export const initialize: InitializeHook<LoaderData> = (d) => {
  data = d;
};

/** Imports the app may use without having them installed, mapped to our build. */
function alwaysMapped(specifier: string, d: LoaderData): string | undefined {
  switch (specifier) {
    case "moose-migrate":
    case "@514labs/moose-lib":
    case "@514labs/moose-lib/browserCompatible":
      // One library instance for app and server: the registry the server reads is the one the app's classes fill.
      return d.libraryUrl;
    case "moose-migrate/migration":
      return d.migrationUrl;
    default:
      return undefined;
  }
}

function fallbackMapped(specifier: string, d: LoaderData): string | undefined {
  switch (specifier) {
    case "typia":
      return d.typiaUrl;
    case "typia/lib/tags":
    case "typia/lib/tags/index":
    case "typia/lib/tags/index.js":
      return d.typiaTagsUrl;
    default:
      return undefined;
  }
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === ".." || specifier.startsWith("/") || specifier.startsWith("file:");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `./models` → `./models.ts` or `./models/index.ts`; `./models.js` → `./models.ts` (TypeScript's NodeNext spelling). */
function typescriptCandidate(specifier: string, parentURL: string): string | undefined {
  let base: URL;
  try {
    base = new URL(specifier, parentURL);
  } catch {
    return undefined;
  }
  if (base.protocol !== "file:") return undefined;
  base.search = "";
  base.hash = "";
  const path = fileURLToPath(base);
  const candidates = [`${path}.ts`, `${path}.mts`, `${path}/index.ts`, `${path}/index.mts`];
  const js = /\.(m?)js$/.exec(path);
  if (js) candidates.unshift(path.slice(0, -js[0].length) + (js[1] === "m" ? ".mts" : ".ts"));
  const found = candidates.find(isFile);
  return found === undefined ? undefined : pathToFileURL(found).href;
}

function generationOf(parentURL: string | undefined): string | undefined {
  if (parentURL === undefined || !parentURL.startsWith("file:")) return undefined;
  try {
    return new URL(parentURL).searchParams.get(GENERATION_PARAM) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Passes the parent's load generation on to app files (not to node_modules, not to this library). */
function withGeneration(url: string, generation: string | undefined, d: LoaderData): string {
  if (generation === undefined || !url.startsWith("file:")) return url;
  const u = new URL(url);
  if (u.pathname.includes("/node_modules/")) return url;
  const bare = new URL(u.href);
  bare.search = "";
  if (bare.href.startsWith(d.libraryDirUrl)) return url;
  if (!/\.(m?ts|m?js|json)$/.test(u.pathname)) return url;
  u.searchParams.set(GENERATION_PARAM, generation);
  return u.href;
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "ERR_UNSUPPORTED_DIR_IMPORT" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED";
}

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const d = data;
  if (d === undefined) return nextResolve(specifier, context);
  const generation = generationOf(context.parentURL);
  const mapped = alwaysMapped(specifier, d);
  if (mapped !== undefined) return { url: mapped, format: "module", shortCircuit: true };
  const workspace = await workspaceEntry(specifier, context.parentURL, d.port);
  if (workspace !== undefined) return { url: withGeneration(workspace, generation, d), format: "module", shortCircuit: true };
  try {
    const resolved = await nextResolve(specifier, context);
    return { ...resolved, url: withGeneration(resolved.url, generation, d) };
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const fallback = fallbackMapped(specifier, d);
    if (fallback !== undefined) return { url: fallback, format: "module", shortCircuit: true };
    if (context.parentURL !== undefined && isRelative(specifier)) {
      const candidate = typescriptCandidate(specifier, context.parentURL);
      if (candidate !== undefined) return { url: withGeneration(candidate, generation, d), format: "module", shortCircuit: true };
    }
    throw error;
  }
};

/** Transpiled output by file, reused while the source text is unchanged (a reload re-reads every app file). */
const transpiled = new Map<string, { readonly text: string; readonly output: string }>();

/** A syntax error in an app file; the message starts with `file:line:column:` for the main thread to pick up. */
class AppSyntaxError extends SyntaxError {
  readonly code = "ERR_MOOSE_APP_SYNTAX";
}

let nextRequest = 0;
const pending = new Map<number, { resolve(output: string): void; reject(error: Error): void }>();
const pendingWorkspaces = new Map<number, (entry: string | null) => void>();
let listening = false;

function listen(port: MessagePort): void {
  if (listening) return;
  listening = true;
  port.on("message", (m: TranspileResponse | WorkspaceResponse) => {
    if ("entry" in m) {
      pendingWorkspaces.get(m.id)?.(m.entry);
      pendingWorkspaces.delete(m.id);
      return;
    }
    const waiter = pending.get(m.id);
    if (!waiter) return;
    pending.delete(m.id);
    if ("output" in m) waiter.resolve(m.output);
    else waiter.reject(new AppSyntaxError(m.syntaxError));
  });
}

/** Workspace package folders by importing folder and bare name (undefined: not a workspace package). */
const workspaceDirs = new Map<string, string | undefined>();

/** Source entries of workspace packages, by package folder (null: the package has none). */
const workspaceEntries = new Map<string, Promise<string | null>>();

/**
 * A bare import of a workspace package (a link in node_modules to a folder of the same
 * repository) loads the package's TypeScript source, as planning reads it, whether or not the
 * package was built: `file:` URL of the source, or undefined to resolve as Node does. The main
 * thread maps the entry (it reads the package's tsconfig with the compiler it holds).
 */
async function workspaceEntry(specifier: string, parentURL: string | undefined, port: MessagePort): Promise<string | undefined> {
  if (parentURL === undefined || !parentURL.startsWith("file:") || isRelative(specifier)) return undefined;
  // Looked up once per importing folder and name: a reload after a save resolves every import again.
  const from = dirname(fileURLToPath(parentURL));
  const key = `${from}\0${specifier}`;
  let dir = workspaceDirs.get(key);
  if (!workspaceDirs.has(key)) workspaceDirs.set(key, (dir = workspacePackageDir(specifier, from)));
  if (dir === undefined) return undefined;
  let entry = workspaceEntries.get(dir);
  if (entry === undefined) {
    listen(port);
    const id = nextRequest++;
    entry = new Promise<string | null>((resolve) => {
      pendingWorkspaces.set(id, resolve);
      port.postMessage({ id, workspace: dir } satisfies WorkspaceRequest);
    });
    workspaceEntries.set(dir, entry);
  }
  const file = await entry;
  return file === null ? undefined : pathToFileURL(file).href;
}

/**
 * The main thread transpiles (it holds the TypeScript compiler already): the request
 * goes through the port it passed at registration. The main thread is free to answer
 * because `import()` waits for the loader thread without blocking it.
 */
function transpileOnMainThread(port: MessagePort, file: string, text: string, generation: number | undefined): Promise<string> {
  listen(port);
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    port.postMessage({ id, file, text, generation } satisfies TranspileRequest);
  });
}

async function transpile(file: string, port: MessagePort, generation: number | undefined): Promise<string> {
  const text = await readFile(file, "utf8");
  const cached = transpiled.get(file);
  if (cached?.text === text) return cached.output;
  const output = await transpileOnMainThread(port, file, text, generation);
  transpiled.set(file, { text, output });
  return output;
}

export const load: LoadHook = async (url, context, nextLoad) => {
  if (data !== undefined && url.startsWith("file:")) {
    const pathname = new URL(url).pathname;
    if (/\.m?ts$/.test(pathname) && !/\.d\.m?ts$/.test(pathname)) {
      const file = fileURLToPath(url);
      const generation = new URL(url).searchParams.get(GENERATION_PARAM);
      if (existsSync(file)) return { format: "module", source: await transpile(file, data.port, generation === null ? undefined : Number(generation)), shortCircuit: true };
    }
  }
  return nextLoad(url, context);
};
