import { existsSync, readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MessageChannel } from "node:worker_threads";
import type { ApiHandler, ConsumptionApi, IngestApi } from "../dsl/api.js";
import type { OlapTable } from "../dsl/olap-table.js";
import { clearDeclarations, declaredObjects, type Declared } from "../dsl/registry.js";
import type { Stream, TransformConfig } from "../dsl/stream.js";
import type { WebApp } from "../dsl/web-app.js";
import type { Workflow } from "../dsl/workflow.js";
import { EngineError, type SourcePosition } from "../errors.js";
import { GENERATION_PARAM, type LoaderData } from "./loader-hooks.js";
import { apiPath, versionedName } from "./names.js";
import { answer, answerWorkspace, transpileAppFile, type TranspileRequest, type WorkspaceRequest } from "./transpile.js";

/** A consumption API of the loaded app, keyed in {@link LoadedApp.consumptionApis} by its route. */
export interface LoadedConsumptionApi {
  /** The route without the leading slash, as the extractor names it: `api/<name>[/<version>]` or `api/<path>`. */
  readonly path: string;
  readonly name: string;
  readonly handler: ApiHandler<any, unknown>;
  readonly declaration: ConsumptionApi<unknown>;
}

export interface LoadedIngestApi {
  /** `ingest/<name>[/<version>]` or `ingest/<path>`. */
  readonly path: string;
  readonly name: string;
  /** The topic or table (versioned name) rows go to. */
  readonly destination?: { readonly kind: "topic" | "table"; readonly name: string };
  readonly declaration: IngestApi<unknown>;
}

export interface LoadedTransform {
  /** Topic the transformed records go to. */
  readonly to: string;
  readonly fn: (row: unknown) => unknown;
  /** Topic of the dead-letter queue for records whose transform throws, when one is set. */
  readonly deadLetterQueue?: string;
  readonly config?: TransformConfig<unknown>;
}

export interface LoadedConsumer {
  readonly fn: (row: unknown) => void | Promise<void>;
  /** Topic of the dead-letter queue for records whose consumer throws, when one is set. */
  readonly deadLetterQueue?: string;
  readonly version?: string;
}

export interface LoadedStream {
  /** The topic name (versioned). */
  readonly topic: string;
  readonly name: string;
  /** The table rows flow to (the topic→table sync), versioned name. */
  readonly destination?: string;
  readonly transforms: readonly LoadedTransform[];
  readonly consumers: readonly LoadedConsumer[];
  /** `addMultiTransform` functions: each returns `dest.routed(values)` for any number of streams. */
  readonly multiTransforms: ReadonlyArray<(row: unknown) => unknown>;
  readonly declaration: Stream<unknown>;
}

/**
 * What running the app declared, by kind and by the names the InfraMap uses. Holds the
 * live objects (handlers, transforms); planning never needs this, the servers do.
 */
export interface LoadedApp {
  /** Absolute path of the main file. */
  readonly mainFile: string;
  /** Counts loads in this process; every load evaluates the app's files afresh. */
  readonly generation: number;
  /** The main module's exports. */
  readonly exports: Readonly<Record<string, unknown>>;
  /** Every declaration, in construction order. */
  readonly declarations: readonly Declared[];
  readonly consumptionApis: Readonly<Record<string, LoadedConsumptionApi>>;
  readonly ingestApis: Readonly<Record<string, LoadedIngestApi>>;
  /** By topic name; dead-letter queues included. */
  readonly streams: Readonly<Record<string, LoadedStream>>;
  /** By table name. */
  readonly tables: Readonly<Record<string, OlapTable<unknown>>>;
  readonly workflows: Readonly<Record<string, Workflow>>;
  readonly webApps: Readonly<Record<string, WebApp>>;
}

let hooksRegistered = false;

/**
 * Installs the loader hooks (once per process): TypeScript transpilation, extension-less
 * relative imports, and `moose-migrate` / `@514labs/moose-lib` / a missing `typia`
 * resolved to this library's build. Called by {@link loadApp}; exported for callers that
 * import app code themselves.
 */
export function registerAppLoader(): void {
  if (hooksRegistered) return;
  const register = (nodeModule as { register?: typeof nodeModule.register }).register;
  if (typeof register !== "function") {
    throw new EngineError("APP_LOADER_UNAVAILABLE", `running the app needs Node.js 20.19 or later (module.register); this is ${process.version}`, {
      hint: "upgrade Node.js",
    });
  }
  const lib = new URL("../", import.meta.url);
  const { port1, port2 } = new MessageChannel();
  const data: LoaderData = {
    libraryUrl: new URL("index.js", lib).href,
    migrationUrl: new URL("migration/index.js", lib).href,
    typiaUrl: new URL("dsl/typia.js", lib).href,
    typiaTagsUrl: new URL("dsl/typia-tags.js", lib).href,
    libraryDirUrl: lib.href,
    port: port2,
  };
  // The loader thread asks this thread to transpile app files and to find workspace packages' sources
  // (one TypeScript compiler per process).
  port1.on("message", (request: TranspileRequest | WorkspaceRequest) => {
    if ("workspace" in request) {
      port1.postMessage(answerWorkspace(request));
      return;
    }
    const response = answer(request);
    const main = request.generation === undefined ? undefined : generationMains.get(request.generation);
    if ("output" in response && main !== undefined) {
      let files = transpiledFiles.get(main);
      if (!files) transpiledFiles.set(main, (files = new Map()));
      files.set(request.file, { text: request.text, output: response.output });
    }
    port1.postMessage(response);
  });
  port1.unref();
  register(new URL("./loader-hooks.js", import.meta.url), { data, transferList: [port2] });
  // Stack traces of app code then point at the .ts lines (the transpiler inlines source maps).
  process.setSourceMapsEnabled(true);
  hooksRegistered = true;
}

let generation = 0;
/** Loads run one at a time: the declaration registry is one list for the process. */
let queue: Promise<unknown> = Promise.resolve();

/** Per main file, every app file the loader had transpiled for its loads: its text and JavaScript. */
const transpiledFiles = new Map<string, Map<string, { readonly text: string; readonly output: string }>>();
/** The main file of each load generation. */
const generationMains = new Map<number, string>();
/** The last successful load of each main file. */
const lastLoads = new Map<string, LoadedApp>();

export interface LoadOptions {
  /**
   * Return the last load of this main file when no app file's JavaScript (nor the lines
   * it maps to) changed since: a save that only edits types in a file of types. Old
   * generations cannot be unloaded, so skipping a reload keeps a long `moose dev`
   * session from growing by a copy of the app per save.
   */
  readonly reuseUnchanged?: boolean;
}

/** Whether every file loaded for `mainFile` so far still transpiles to the same JavaScript. */
function javascriptUnchanged(mainFile: string): boolean {
  for (const [file, known] of transpiledFiles.get(mainFile) ?? []) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return false;
    }
    if (text === known.text) continue;
    const now = transpileAppFile(file, text);
    if (!("output" in now) || runningCode(now.output) !== runningCode(known.output)) return false;
  }
  return true;
}

const INLINE_SOURCE_MAP = "\n//# sourceMappingURL=data:application/json;base64,";

/**
 * What a loaded module runs and how its stack frames map to the .ts lines: the code and
 * the source map's mappings, without the embedded source text. Equal for an edit that
 * changes only types on their own lines (an interface in a file of interfaces); not for
 * one that moves code to other lines, whose stack traces would then point at old lines.
 */
function runningCode(output: string): string {
  const at = output.lastIndexOf(INLINE_SOURCE_MAP);
  if (at < 0) return output;
  try {
    const map = JSON.parse(Buffer.from(output.slice(at + INLINE_SOURCE_MAP.length).trim(), "base64").toString("utf8")) as { mappings?: unknown };
    return `${output.slice(0, at)}\n${String(map.mappings)}`;
  } catch {
    return output;
  }
}

/**
 * Runs the app's main file and collects what it declared. Each call evaluates the
 * app's own files again (a cache-busting query string follows every import inside the
 * app), so `moose dev` sees a save; the library stays one instance, so the registry
 * the app fills is the one read here. Old generations stay in memory (ES modules cannot
 * be unloaded); with `reuseUnchanged`, a load whose JavaScript would be the same returns
 * the last one instead.
 *
 * Fails only with `EngineError`s: `APP_LOAD_FAILED` (missing main file, syntax error,
 * missing package, error thrown while the app's modules run), naming the file (and the
 * line when known) with the cause; `APP_LOADER_UNAVAILABLE` on a Node.js without
 * `module.register`.
 *
 * @example
 * const app = await loadApp("/project/app/index.ts");
 * const handler = app.consumptionApis["api/metrics/v2"]?.handler;
 */
export function loadApp(mainFile: string, options: LoadOptions = {}): Promise<LoadedApp> {
  const run = queue.then(() => {
    const file = resolvePath(mainFile);
    const last = lastLoads.get(file);
    if (options.reuseUnchanged && last && existsSync(file) && javascriptUnchanged(file)) return last;
    return loadNow(file);
  });
  queue = run.catch(() => undefined);
  return run;
}

async function loadNow(mainFile: string): Promise<LoadedApp> {
  if (!existsSync(mainFile)) {
    throw new EngineError("APP_LOAD_FAILED", `cannot load the app: ${mainFile} does not exist`, {
      hint: "check moose.main_file in moose.config.toml",
    });
  }
  registerAppLoader();
  generation += 1;
  generationMains.set(generation, mainFile);
  const url = new URL(pathToFileURL(mainFile).href);
  url.searchParams.set(GENERATION_PARAM, String(generation));
  clearDeclarations();
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url.href)) as Record<string, unknown>;
  } catch (cause) {
    clearDeclarations();
    // Files this failed load transpiled may differ from the last good load's: never reuse it.
    lastLoads.delete(mainFile);
    throw loadFailure(mainFile, cause);
  }
  const declarations = [...declaredObjects()];
  clearDeclarations();
  const app = collect(mainFile, generation, exports, declarations);
  lastLoads.set(mainFile, app);
  return app;
}

function collect(mainFile: string, gen: number, exports: Record<string, unknown>, declarations: readonly Declared[]): LoadedApp {
  const consumptionApis: Record<string, LoadedConsumptionApi> = {};
  const ingestApis: Record<string, LoadedIngestApi> = {};
  const streams: Record<string, LoadedStream> = {};
  const tables: Record<string, OlapTable<unknown>> = {};
  const workflows: Record<string, Workflow> = {};
  const webApps: Record<string, WebApp> = {};
  // First declaration wins on a clash, as the extractor reports duplicates as errors before anything runs.
  const put = <T>(into: Record<string, T>, key: string, value: T): void => {
    if (!Object.hasOwn(into, key)) into[key] = value;
  };
  for (const d of declarations) {
    switch (d.kind) {
      case "ConsumptionApi": {
        const api = d as unknown as ConsumptionApi<unknown>;
        const path = apiPath("api", api.name, api.config.version, api.config.path);
        put(consumptionApis, path, { path, name: api.name, handler: api.handler as ApiHandler<any, unknown>, declaration: api });
        break;
      }
      case "IngestApi": {
        const api = d as unknown as IngestApi<unknown>;
        const path = apiPath("ingest", api.name, api.config.version, api.config.path);
        const destination = destinationOf(api.config.destination);
        put(ingestApis, path, { path, name: api.name, declaration: api, ...(destination ? { destination } : {}) });
        break;
      }
      case "Stream":
      case "DeadLetterQueue": {
        const stream = d as unknown as Stream<unknown>;
        const topic = versionedName(stream.name, stream.config.version);
        const target = stream.config.destination;
        put(streams, topic, {
          topic,
          name: stream.name,
          ...(target ? { destination: versionedName(target.name, target.config.version) } : {}),
          transforms: stream.transforms.map((t) => {
            const dlq = t.config?.deadLetterQueue === undefined ? stream.defaultDeadLetterQueue : t.config.deadLetterQueue ?? undefined;
            return {
              to: versionedName(t.to.name, t.to.config.version),
              fn: t.fn,
              ...(dlq ? { deadLetterQueue: versionedName(dlq.name, dlq.config.version) } : {}),
              ...(t.config ? { config: t.config } : {}),
            };
          }),
          consumers: stream.consumers.map((c) => {
            // `deadLetterQueue: null` turns the stream's default off, as in moose-lib.
            const dlq = c.config?.deadLetterQueue === undefined ? stream.defaultDeadLetterQueue : c.config.deadLetterQueue ?? undefined;
            return {
              fn: c.fn,
              ...(dlq ? { deadLetterQueue: versionedName(dlq.name, dlq.config.version) } : {}),
              ...(c.config?.version !== undefined ? { version: c.config.version } : {}),
            };
          }),
          multiTransforms: [...stream.multiTransforms] as Array<(row: unknown) => unknown>,
          declaration: stream,
        });
        break;
      }
      case "OlapTable": {
        const table = d as unknown as OlapTable<unknown>;
        put(tables, versionedName(table.name, table.config.version), table);
        break;
      }
      case "Workflow":
        put(workflows, d.name, d as unknown as Workflow);
        break;
      case "WebApp":
        put(webApps, d.name, d as unknown as WebApp);
        break;
      default:
        break;
    }
  }
  return { mainFile, generation: gen, exports, declarations, consumptionApis, ingestApis, streams, tables, workflows, webApps };
}

function destinationOf(dest: unknown): LoadedIngestApi["destination"] {
  if (dest === null || typeof dest !== "object") return undefined;
  const d = dest as { kind?: unknown; name?: unknown; config?: { version?: string } };
  if (typeof d.name !== "string") return undefined;
  const name = versionedName(d.name, d.config?.version);
  return d.kind === "OlapTable" ? { kind: "table", name } : { kind: "topic", name };
}

// ---------------------------------------------------------------------------
// Failures

/**
 * An error thrown by the app's code while it runs (a transform, a consumer, a handler), as
 * one line starting with the .ts position of the app frame that threw:
 * `app/ingest/transforms.ts:36:13: Error: blah`. Positions are relative to `projectDir`.
 *
 * @example log(`transform Foo → Bar failed: ${describeAppError(error, projectDir)}`);
 */
export function describeAppError(error: unknown, projectDir?: string): string {
  const e = error instanceof Error ? error : new Error(String(error));
  const message = clean(e.message);
  const position = positionOf(e, message);
  if (position === undefined) return `${e.name}: ${message}`;
  const file = projectDir !== undefined && position.file.startsWith(projectDir + "/") ? position.file.slice(projectDir.length + 1) : position.file;
  return `${file}:${position.line}:${position.column}: ${e.name}: ${message}`;
}

const GENERATION_QUERY = new RegExp(`\\?${GENERATION_PARAM}=\\d+`, "g");

/** Removes our cache-busting query strings from text shown to users. */
function clean(text: string): string {
  return text.replace(GENERATION_QUERY, "");
}

function loadFailure(mainFile: string, cause: unknown): EngineError {
  const error = cause instanceof Error ? cause : new Error(String(cause));
  const code = (error as { code?: unknown }).code;
  const message = clean(error.message);
  const position = positionOf(error, message);
  const where = position ? `${position.file}:${position.line}:${position.column}` : mainFile;

  if (code === "ERR_MODULE_NOT_FOUND") {
    const pkg = /Cannot find package '([^']+)'/.exec(message)?.[1];
    if (pkg !== undefined) {
      return new EngineError("APP_LOAD_FAILED", `cannot load the app ${mainFile}: ${message}`, {
        cause,
        hint: `the app needs the package ${pkg} at run time: install it (npm install ${pkg})`,
        ...(position ? { position } : {}),
      });
    }
    return new EngineError("APP_LOAD_FAILED", `cannot load the app ${mainFile}: ${message}`, {
      cause,
      hint: "check the import path (relative imports are resolved to .ts files and folders with an index.ts)",
      ...(position ? { position } : {}),
    });
  }
  if (error instanceof SyntaxError || code === "ERR_MOOSE_APP_SYNTAX") {
    // Our transpiler's messages start with `file:line:column: `; the position is in `position`.
    const text = position && message.startsWith(`${position.file}:${position.line}:${position.column}: `)
      ? message.slice(`${position.file}:${position.line}:${position.column}: `.length)
      : message;
    return new EngineError("APP_LOAD_FAILED", `cannot load the app: syntax error in ${where}: ${text}`, {
      cause,
      hint: "fix the syntax error; the server reloads the app when the file is saved",
      ...(position ? { position } : {}),
    });
  }
  return new EngineError("APP_LOAD_FAILED", `cannot load the app: running ${where} threw ${error.name}: ${message}`, {
    cause,
    hint: "fix the error at the top level of the app (code outside handlers and transforms runs when the app loads)",
    ...(position ? { position } : {}),
  });
}

/**
 * This library's own files (its build, and the .ts sources its source maps point at): a
 * frame there is where a stub threw on the app's behalf, not the app's line.
 */
const LIBRARY_SOURCES = [fileURLToPath(new URL("../", import.meta.url)), fileURLToPath(new URL("../../../lib/", import.meta.url))];

/** The app-file position an error points at: from our `file:line:col:` prefix, else the first app frame of the stack. */
function positionOf(error: Error, message: string): SourcePosition | undefined {
  const prefix = /^(\/[^:\n]+|[A-Za-z]:\\[^:\n]+):(\d+):(\d+): /.exec(message);
  if (prefix) return { file: prefix[1] as string, line: Number(prefix[2]), column: Number(prefix[3]) };
  const stack = clean(error.stack ?? "");
  // Frames are mapped through the inline source maps to `/abs/app/x.ts:line:col` (or stay `file://` URLs).
  for (const m of stack.matchAll(/\(?((?:file:\/\/)?\/[^\s():]+?\.m?ts):(\d+):(\d+)\)?/g)) {
    const where = m[1] as string;
    if (where.includes("/node_modules/") || LIBRARY_SOURCES.some((dir) => where.startsWith(dir) || where.startsWith(`file://${dir}`))) continue;
    try {
      const file = where.startsWith("file:") ? decodeURIComponent(new URL(where).pathname) : where;
      return { file, line: Number(m[2]), column: Number(m[3]) };
    } catch {
      continue;
    }
  }
  return undefined;
}
