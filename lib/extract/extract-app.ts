import { splitTopLevel, unwrapParentheses } from "../engines/olap/sql-text.js";
import { quoteTableName } from "../model/clickhouse-quote.js";
import { existsSync, readdirSync, readFileSync, statSync, type Stats } from "node:fs";
import { isBuiltin } from "node:module";
import { fileSystemError } from "../fs-errors.js";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "./typescript.cjs";
import { closestName } from "../config/suggest.js";
import { InvalidInputError, InvalidInputErrors, type SourcePosition } from "../errors.js";
import {
  type ApiEndpoint,
  type Column,
  type InfraMap,
  type LifeCycle,
  type MaterializedView,
  type SyncProcess,
  type Table,
  type MergeBehaviour,
  type IntegrationEngine,
  holdsNoRows,
  type TableEngine,
  type TableConstraint, type TableIndex,
  type TableProjection,
  type Topic,
  type Workflow,
  DEFAULT_TOPIC_RETENTION_MS,
  plainViewsOf,
  type PlainView,
  type SqlResource,
  type RuntimeEnvRef,
  type S3Credentials,
  type SettingValue,
} from "../model/infra-map.js";
import { RUNTIME_ENV_NAME } from "../engines/olap/runtime-env.js";
import { canonicalReplication, DEFAULT_KEEPER_PATH, DEFAULT_REPLICA_NAME } from "../engines/olap/cluster.js";
import { directImports, ImportClosures, moduleSpecifiers } from "./import-closure.js";
import { assembleMap, combineFragments, recordMismatch, referenceErrors, tablesOf, type FileFragment } from "./fragments.js";
import { noteAppRead } from "./code-cache-grade.cjs";
import { allowOptimization } from "./tiering.cjs";
import { declarationsHash, namedImports } from "./declaration-uses.js";
import { cacheKey, dropExtractionCache, readExtractionCache, sha256, writeExtractionCache, type CacheContents, type CacheEntry } from "./extraction-cache.js";
import { OptionShapes, type OptionShape } from "./option-shapes.js";
import { AppProgram, isLibraryFile, isStable, LIBRARY_ENTRY, PACKAGE_ROOT } from "./program.js";
import {
  isObjectValue,
  isRef,
  isRuntimeEnvValue,
  type RuntimeEnvValue,
  notStatic,
  positionOf,
  StaticEvaluator,
  type ColumnRefValue,
  type DeclarationNode,
  type ObjectRef,
  type StaticObject,
  type StaticValue,
} from "./static-value.js";
import { TypeMapper, type MappedColumn } from "./type-mapper.js";
import { quoteIdentifier } from "../model/clickhouse-quote.js";
import { classifyTypeChange } from "../model/type-lattice.js";

/** The declaration classes the extractor understands, by the name they have in the library. */
const DECLARATION_CLASSES = [
  "OlapTable",
  "Stream",
  "MaterializedView",
  "IngestApi",
  "ConsumptionApi",
  "Api",
  "Workflow",
  "IngestPipeline",
  "DeadLetterQueue",
  "Task",
  "View",
  "SqlResource",
  "WebApp",
] as const;
type DeclarationClass = (typeof DECLARATION_CLASSES)[number];
const DECLARATION_SET: ReadonlySet<string> = new Set(DECLARATION_CLASSES);
/**
 * Classes that declare nothing this tool plans: tasks (part of a workflow's code) and
 * web apps (routes served by `moose dev`). They are still read so that references to
 * them resolve; a construction inside a function is simply not one of the app's
 * declarations. (Plain views and SQL resources are planned: inside a function they are
 * NOT_STATIC like tables.)
 */
const UNPLANNED_CLASSES: ReadonlySet<DeclarationClass> = new Set(["Task", "WebApp"]);
/** moose-lib's static factories: `OlapTable.withMergeTree<T>(name, orderByFields, options?)`. */
const TABLE_FACTORIES: ReadonlyMap<string, string | undefined> = new Map([
  ["withMergeTree", "MergeTree"],
  ["withReplacingMergeTree", "ReplacingMergeTree"],
  ["withS3Queue", "S3Queue"],
]);


/**
 * The records of a dead-letter topic, whatever the type argument: moose-lib sends these
 * fixed columns for every DeadLetterQueue (source is a plain String there, unlike the
 * `DeadLetterModel` interface, whose literal union maps to LowCardinality in a table).
 */
const DEAD_LETTER_COLUMNS: readonly Column[] = [
  { name: "originalRecord", type: "JSON" },
  { name: "errorMessage", type: "String" },
  { name: "errorType", type: "String" },
  { name: "failedAt", type: "DateTime('UTC')" },
  { name: "source", type: "String" },
];

/** Members of the library's classes that an object literal in a union with the class would never set. */
const INTERNAL_MEMBERS: ReadonlySet<string> = new Set(["kind", "__schema"]);

/** Table options that belong to one engine (the config type accepts them with any engine). */
const ENGINE_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map([
  ["ver", ["ReplacingMergeTree", "ReplicatedReplacingMergeTree", "VersionedCollapsingMergeTree", "ReplicatedVersionedCollapsingMergeTree"]],
  ["isDeleted", ["ReplacingMergeTree", "ReplicatedReplacingMergeTree"]],
  ["columns", ["SummingMergeTree", "ReplicatedSummingMergeTree"]],
  ["sign", ["CollapsingMergeTree", "ReplicatedCollapsingMergeTree", "VersionedCollapsingMergeTree", "ReplicatedVersionedCollapsingMergeTree"]],
  ["keeperPath", ["ReplicatedMergeTree", "ReplicatedReplacingMergeTree", "ReplicatedSummingMergeTree", "ReplicatedAggregatingMergeTree", "ReplicatedCollapsingMergeTree", "ReplicatedVersionedCollapsingMergeTree"]],
  ["replicaName", ["ReplicatedMergeTree", "ReplicatedReplacingMergeTree", "ReplicatedSummingMergeTree", "ReplicatedAggregatingMergeTree", "ReplicatedCollapsingMergeTree", "ReplicatedVersionedCollapsingMergeTree"]],
]);

/** Engines moose-lib names that this tool does not plan, and why (the refusal at the `engine` key says it). */
const UNPLANNED_ENGINE_REASONS: ReadonlyMap<string, string> = new Map([
  [
    "GraphiteMergeTree",
    "moose-lib has no configuration for it (no OlapConfig takes engine: GraphiteMergeTree, so its rollup section and the Path/Time/Value/Timestamp columns it needs cannot be declared); create it with a hand-written sql(...) step",
  ],
  [
    "IcebergS3",
    "ClickHouse reads the Iceberg table's metadata from the bucket when the table is created (measured on chDB 26.7: CREATE fails while the bucket cannot be reached, even with the columns given), so a migration could not be generated, previewed or checked without the bucket; read it with the icebergS3(...) table function in a query or a View",
  ],
]);
const UNPLANNED_ENGINES: ReadonlySet<string> = new Set(UNPLANNED_ENGINE_REASONS.keys());

/** The options of the engines whose tables hold no rows of their own (moose-lib's `BufferConfig`, …). */
const INTEGRATION_OPTIONS: ReadonlyMap<string, readonly string[]> = new Map([
  ["Buffer", ["targetDatabase", "targetTable", "numLayers", "minTime", "maxTime", "minRows", "maxRows", "minBytes", "maxBytes", "flushTime", "flushRows", "flushBytes"]],
  ["Merge", ["sourceDatabase", "tablesRegexp"]],
  ["Kafka", ["brokerList", "topicList", "groupName", "format"]],
  ["S3", ["path", "format", "compression", "awsAccessKeyId", "awsSecretAccessKey", "partitionStrategy", "partitionColumnsInDataFile"]],
  ["S3Queue", ["s3Path", "format", "compression", "awsAccessKeyId", "awsSecretAccessKey", "headers"]],
  ["Distributed", ["targetDatabase", "targetTable", "shardingKey", "policyName"]],
]);

/**
 * Settings whose value is a secret: written in the source it is refused (`SECRET_IN_SOURCE`),
 * read with `mooseRuntimeEnv.get` it is a reference (see README *Security*).
 */
const SECRET_SETTINGS: ReadonlySet<string> = new Set(["kafka_sasl_password"]);

/** moose-lib's S3 options for hive-style writes, and the S3 engine settings they are. */
const S3_PARTITION_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ["partitionStrategy", "partition_strategy"],
  ["partitionColumnsInDataFile", "partition_columns_in_data_file"],
];

/** Table options ClickHouse does not take with those engines (S3 alone has ORDER BY and PARTITION BY). */
const KEYLESS_OPTIONS = ["orderByFields", "orderByExpression", "partitionBy", "sampleByExpression", "primaryKeyExpression", "ttl", "indexes", "projections", "constraints"] as const;

for (const [engine, keys] of INTEGRATION_OPTIONS) {
  for (const key of keys) (ENGINE_OPTIONS as Map<string, readonly string[]>).set(key, [...(ENGINE_OPTIONS.get(key) ?? []), engine]);
}

/** Where each object of the map was declared, keyed `<kind>:<name>` (e.g. `tables:Users`). */
export type Locations = Readonly<Record<string, SourcePosition>>;

/** Rename hints declared in code (`renamedFrom`, `renamedColumns`): not state, so they travel beside the map. */
export interface RenameHints {
  readonly tables: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  readonly columns: ReadonlyArray<{ readonly table: string; readonly from: string; readonly to: string }>;
}

export interface ExtractedApp {
  readonly map: InfraMap;
  /** Renames the code declares; `diff` skips those already applied. */
  readonly renames?: RenameHints;
  readonly locations: Locations;
  /** Things worth saying that do not stop planning (e.g. a third-party import that is not installed). */
  readonly warnings: readonly string[];
  /** User source files the app consists of (absolute paths). */
  readonly files: readonly string[];
  /**
   * `source.addTransform(destination, fn)` calls at the top level of the app's files: which
   * topic's records a transform writes to which topic. Run-time code, not infrastructure: not
   * part of the map (nor its hash); the lineage graph draws them.
   */
  readonly flows?: readonly StreamFlow[];
}

/** A transform from one topic to another, as the app's code declares it. */
export interface StreamFlow {
  readonly from: string;
  readonly to: string;
}

export interface ExtractOptions {
  readonly projectDir: string;
  /** Main file, relative to projectDir or absolute. */
  readonly mainFile: string;
  /**
   * Retention of a topic whose Stream sets no `retentionPeriod` (and no `config["retention.ms"]`),
   * in milliseconds: `[redpanda_config] retention_ms` when the project sets it. Default: moose-lib's 7 days.
   */
  readonly topicRetentionMs?: number;
  /**
   * The managed database (`clickhouse_config.db_name`): a table declared with `database`
   * set to it is the same table as one declared without. Other databases qualify the
   * table's name (`analytics.Events`).
   */
  readonly database?: string;
  /**
   * The names of `[[clickhouse_config.clusters]]`: a table's `cluster` must be one of them
   * (as Moose requires). Undefined: not checked.
   */
  readonly clusters?: readonly string[];
  /**
   * The state folder (`.moose/`) of a one-shot command: what extraction finds per file is
   * kept there and reused by the next command for every file whose inputs did not change
   * (see extraction-cache.ts). Undefined: no cache (`moose dev` reuses its Program instead).
   */
  readonly cacheDir?: string;
}

/**
 * Diagnostics that must not block planning: a runtime-only import that is not
 * installed (faker in a transform), or Node globals without @types/node. The
 * types of declared records never depend on them; if one did, the type mapper
 * reports the resulting `any` with its position.
 */
const NON_BLOCKING_DIAGNOSTICS = new Set([2307, 2792, 7016, 2580, 2584, 2591, 2592, 2503]);

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;
const API_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const WORKFLOW_NAME = /^[A-Za-z0-9_.-]+$/;

interface Declaration {
  readonly node: DeclarationNode;
  readonly cls: DeclarationClass;
  /** For `OlapTable.withMergeTree(...)` and the other factories: the engine it sets. */
  readonly factory?: string;
}

/** The names a declaration gives the objects it creates, known before references are resolved. */
interface Identity {
  table?: string;
  topic?: string;
  api?: string;
  view?: string;
  workflow?: string;
  /** An IngestPipeline's dead-letter topic (`<name>DeadLetterQueue`). */
  deadLetterTopic?: string;
  /** A plain View (not planned; known so that materialized views may read it). */
  plainView?: string;
  /** A SqlResource (moose-lib's raw setup/teardown DDL). */
  sqlResource?: string;
  /** For a MaterializedView writing to an existing table: that table's declaration. */
  targetRef?: ObjectRef;
  /** For a MaterializedView creating its target from `targetTable: { name, engine?, orderByFields? }`. */
  targetConfig?: StaticObject;
}


/** A file's syntax errors, and warnings about it (imports that did not resolve). */
interface FileDiagnostics {
  readonly warnings: readonly string[];
  readonly errors: readonly InvalidInputError[];
}

/** The columns of one declaration's record type, and the notes mapping them gave (as warning texts). */
interface CachedColumns {
  readonly columns: MappedColumn[];
  readonly notes: readonly string[];
}

/** A declaration's record type, or its columns kept from the last extraction. */
type Schema = { readonly kept: CachedColumns } | { readonly type: ts.Type };

/** What extraction found in one file; reused while the file and everything it imports are unchanged. */
interface FileResult {
  readonly diagnostics: FileDiagnostics;
  /** The declarations in the file, and declarations that cannot be planned (filled by the reader). */
  found?: { readonly declarations: readonly Declaration[]; readonly errors: readonly InvalidInputError[] };
  /** Columns per declaration whose record type mapped without errors. */
  readonly columns: Map<DeclarationNode, CachedColumns>;
}

/**
 * Turns an app's main file (and everything it imports) into the InfraMap it
 * declares, reading types with the TypeScript compiler and never running user
 * code. Keep one instance per app: each `extract()` reuses the previous Program.
 *
 * @example
 * const app = new AppExtractor({ projectDir: ".", mainFile: "app/index.ts" });
 * const { map } = app.extract();
 */
export class AppExtractor {
  readonly mainFile: string;
  private readonly program: AppProgram;
  private saidRedirect = false;
  private readonly closures = new ImportClosures((sf) => !isStable(sf.fileName));
  /** What was found per file last time, reused while the file and its imports are unchanged. */
  private fileResults = new Map<ts.SourceFile, FileResult>();
  private previous: ts.Program | undefined;
  /** The extraction cache of this run, once it was looked at: its key and what it held. */
  private cache: { readonly dir: string; readonly key: string; readonly held: CacheContents | undefined } | undefined;
  /** How the last `extract()` was done: `cache` (no file read), `partial` (only some files read), `full`. Reported for tests and the benchmark. */
  lastMode: "cache" | "partial" | "full" | undefined;
  /** When the extraction cache was there but the last `extract()` was full: why. */
  fullReason: string | undefined;
  /** The app files whose declarations the last `extract()` read (none: all came from the cache). Reported for tests and the benchmark. */
  lastRead: readonly string[] = [];

  constructor(readonly options: ExtractOptions) {
    this.mainFile = isAbsolute(options.mainFile) ? options.mainFile : resolve(options.projectDir, options.mainFile);
    this.program = new AppProgram(this.mainFile);
  }

  extract(): ExtractedApp {
    // TypeScript reads `\` in a path as a separator (it normalises paths to `/`): in a folder whose
    // name holds one, the app's files would not be the Program's files and every declaration would vanish.
    if (sep === "/" && this.mainFile.includes("\\")) {
      throw new InvalidInputError("PROJECT_PATH_UNSUPPORTED", `the app's path ${this.mainFile} contains a backslash, which TypeScript reads as a folder separator`, {
        hint: "move or rename the project folder so its path has no `\\`",
      });
    }
    let main: Stats;
    try {
      main = statSync(this.mainFile);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") throw fileSystemError(error, this.display(this.mainFile), "main file") ?? error;
      throw new InvalidInputError("MAIN_FILE_NOT_FOUND", `main file ${this.display(this.mainFile)} does not exist`, {
        hint: "create it, or point `[moose] main_file` in moose.config.toml at your app's entry file",
      });
    }
    if (main.isDirectory()) throw fileSystemError({ code: "EISDIR" }, this.display(this.mainFile), "main file") as InvalidInputError;
    if (this.options.cacheDir !== undefined && this.previous === undefined && this.cache === undefined) {
      const key = this.cacheKey();
      this.cache = { dir: this.options.cacheDir, key, held: readExtractionCache(this.options.cacheDir, key) };
      let reused: ExtractedApp | undefined;
      try {
        reused = this.cache.held && this.fromCache(this.cache.held);
      } catch (e) {
        // Any doubt about what the cache holds: a full extraction, which also rewrites it.
        reused = this.fullBecause(`reading it failed: ${(e as Error).message}`);
      }
      if (reused) return reused;
    }
    this.lastMode = "full";
    this.lastRead = [];
    // Every file is read: a long job, for which V8's optimizing compiler pays (tiering.cts).
    allowOptimization();
    // The previous Program's closures are taken before the new Program is built, so that
    // the previous type checker can be freed while the new one works. The first
    // extraction computes none: a one-shot command never needs them.
    const before = this.previous && this.closures.of(this.previous);
    this.previous = undefined;
    const program = this.program.update();
    const files = program.getSourceFiles().filter((sf) => isUserFile(sf));
    const unchanged = before ? this.closures.unchanged(before, program) : new Set<ts.SourceFile>();
    const results = new Map<ts.SourceFile, FileResult>();
    for (const sf of files) {
      const kept = unchanged.has(sf) ? this.fileResults.get(sf) : undefined;
      results.set(sf, kept ?? { diagnostics: this.diagnose(program, sf), columns: new Map() });
    }
    this.previous = program;
    this.fileResults = results;

    const warnings: string[] = [];
    const errors: InvalidInputError[] = [];
    for (const sf of files) {
      const d = results.get(sf)!.diagnostics;
      warnings.push(...d.warnings);
      errors.push(...d.errors);
    }
    if (this.program.redirected.size > 0 && !this.saidRedirect) {
      this.saidRedirect = true;
      const libraries = [...this.program.redirected].filter((m) => m !== "typia");
      if (libraries.length > 0) warnings.push(`imports of ${libraries.join(", ")} are planned against moose-migrate's declaration library`);
      if (this.program.redirected.has("typia")) warnings.push("typia is not installed: its type tags are read from moose-migrate's copy of them");
    }
    if (errors.length > 0) throw new InvalidInputErrors(errors.map((e) => relativize(e, this.options.projectDir)));

    const reader = new DeclarationReader(program.getTypeChecker(), files, (file) => this.display(file), results, this.options.topicRetentionMs ?? DEFAULT_TOPIC_RETENTION_MS, this.options.database, this.options.clusters);
    const result = reader.read();
    noteAppRead();
    if (result.errors.length > 0) {
      throw new InvalidInputErrors(this.withTypeErrors(program, result.errors).map((e) => relativize(e, this.options.projectDir)));
    }
    const locations: Record<string, SourcePosition> = {};
    for (const [k, p] of Object.entries(result.locations)) locations[k] = { ...p, file: this.display(p.file) };
    if (this.cache && this.options.cacheDir !== undefined) this.storeFull(program, reader, results);
    this.lastRead = files.map((f) => f.fileName);
    return { map: result.map, renames: result.renames, locations, warnings: [...warnings, ...result.warnings], files: files.map((f) => f.fileName), flows: result.flows };
  }

  // ---- the extraction cache (extraction-cache.ts) ---------------------------

  /** What decides an extraction besides the app's files (see `cacheKey`). */
  private cacheKey(): string {
    // Every extraction option is part of the key (an option added later too), the cache's folder aside.
    const { cacheDir: _folder, ...options } = this.options;
    return cacheKey({ tool: toolFingerprint(), compilerOptions: this.program.options, library: LIBRARY_ENTRY, ...options, projectDir: resolve(this.options.projectDir), mainFile: this.mainFile });
  }

  /**
   * The app from the cache, reading only the files whose inputs changed; undefined when a
   * full extraction must be done (nothing usable, a file with an error, a global declaration
   * file, a cross-object check that fails: the full extraction reports it as always).
   *
   * A file's entry is used when its text hashes as recorded, each module name it imports
   * resolves where it did, and every file it consulted (what it imports, directly or not)
   * is unchanged in the same sense. The other files reached from the main file are read
   * in one Program whose roots are those files (TypeScript loads what they import), and only
   * their declarations are built; the fragments are then combined in the Program's file order
   * and checked across files, as one reading of the whole app would.
   */
  private fromCache(held: CacheContents): ExtractedApp | undefined {
    const texts = new Map<string, { readonly text: string; readonly hash: string } | null>();
    const read = (file: string) => {
      let t = texts.get(file);
      if (t === undefined) texts.set(file, (t = fileText(file)));
      return t;
    };
    const hashOf = (file: string): string | null => read(file)?.hash ?? null;
    const resolvesAsBefore = (file: string, e: CacheEntry) => e.resolutions.every(([name, to]) => (this.program.resolvedFileName(name, file) ?? null) === to);
    for (const [file, hash] of Object.entries(held.externals)) if (hashOf(file) !== hash) return this.fullBecause(`${file} changed`);
    // The files reached from the main file along the imports recorded for unchanged files.
    const changed = new Set<string>();
    const reached: string[] = [];
    const seen = new Set<string>([this.mainFile]);
    for (const stack = [this.mainFile]; stack.length > 0; ) {
      const file = stack.pop()!;
      reached.push(file);
      const e = held.entries[file];
      if (!e || hashOf(file) !== e.hash || !resolvesAsBefore(file, e)) {
        changed.add(file);
        continue;
      }
      if (e.global) return this.fullBecause(`${this.display(file)} declares globals`);
      for (const c of e.children) if (!seen.has(c)) seen.add(c), stack.push(c);
    }
    // A file that changed only where an importer does not look (declaration-uses.ts): its imports
    // resolve as before and the declarations the importer's names stand on have the same text.
    const sameUses = new Map<string, boolean>();
    const sameUse = (e: CacheEntry, c: string): boolean => {
      const use = e.uses?.find(([f]) => f === c);
      const before = held.entries[c];
      const now = read(c);
      if (!use || !before || !now || !isSourcePath(c)) return false;
      const key = `${c}\0${use[1].join(",")}\0${use[2]}`;
      let same = sameUses.get(key);
      if (same === undefined) {
        const sf = ts.createSourceFile(c, now.text, { languageVersion: this.program.options.target ?? ts.ScriptTarget.ES2022, jsDocParsingMode: ts.JSDocParsingMode.ParseForTypeErrors });
        same = resolvesAsBefore(c, before) && declarationsHash(sf, use[1]) === use[2];
        sameUses.set(key, same);
      }
      return same;
    };
    const validity = new Map<string, boolean>();
    const valid = (file: string): boolean => {
      let v = validity.get(file);
      if (v === undefined) {
        const e = held.entries[file];
        v = e !== undefined && !changed.has(file) && e.consulted.every(([c, h]) => (!changed.has(c) && hashOf(c) === h) || sameUse(e, c));
        validity.set(file, v);
      }
      return v;
    };
    const roots = reached.filter((f) => !valid(f));
    // A changed declaration or JSON file of the app's own: its importers say what it affects, a full reading is simpler.
    if (roots.some((f) => !isSourcePath(f))) return this.fullBecause("a declaration or JSON file of the app changed");
    if (roots.length === 0) {
      const order = postOrder(this.mainFile, (f) => held.entries[f]!.children);
      const app = this.assemble(order.filter((f) => held.entries[f]!.fragment).map((f) => [f, held.entries[f]!.fragment!] as const));
      if (app) this.lastMode = "cache";
      this.lastRead = [];
      return app ?? this.fullBecause("a check across files failed");
    }
    const program = this.program.update(roots);
    const inProgram = new Map(program.getSourceFiles().filter((sf) => !isStable(sf.fileName)).map((sf) => [sf.fileName, sf]));
    for (const sf of inProgram.values()) if (isGlobalFile(sf)) return this.fullBecause(`${this.display(sf.fileName)} declares globals`);
    // A declaration file outside the app that no earlier Program loaded may declare globals: a full reading.
    for (const file of externalFiles(program)) if (!(file in held.externals)) return this.fullBecause(`${file} is new to the app`);
    const children = (f: string): readonly string[] => {
      const sf = inProgram.get(f);
      return sf ? childrenOf(program, sf) : held.entries[f]!.children;
    };
    const order = postOrder(this.mainFile, children);
    if (order.some((f) => !inProgram.has(f) && !valid(f))) return this.fullBecause("a file outside the partial Program is not valid");
    const isUser = (f: string) => (inProgram.has(f) ? isUserFile(inProgram.get(f)!) : held.entries[f]!.fragment !== undefined);
    const userFiles = order.filter(isUser);
    const build = new Set(userFiles.filter((f) => inProgram.has(f) && !valid(f)).map((f) => inProgram.get(f)!));
    const diagnostics = new Map<ts.SourceFile, FileDiagnostics>();
    for (const sf of build) {
      const d = this.diagnose(program, sf);
      if (d.errors.length > 0) return this.fullBecause("a file has syntax errors");
      diagnostics.set(sf, d);
    }
    const kept = userFiles.filter((f) => !build.has(inProgram.get(f)!)).map((f) => held.entries[f]!.fragment!);
    const readerFiles = userFiles.filter((f) => inProgram.has(f)).map((f) => inProgram.get(f)!);
    const reader = new DeclarationReader(program.getTypeChecker(), readerFiles, (file) => this.display(file), new Map(), this.options.topicRetentionMs ?? DEFAULT_TOPIC_RETENTION_MS, this.options.database, this.options.clusters, { build, external: tablesOf(kept) });
    const result = reader.read();
    noteAppRead();
    if (result.errors.length > 0 || reader.usedRegistry) return this.fullBecause(result.errors.length > 0 ? "a declaration has errors" : "a registry getter was read");
    const fresh = new Map<string, FileFragment>();
    for (const sf of build) fresh.set(sf.fileName, this.fragment(reader, sf, diagnostics.get(sf)!));
    const app = this.assemble(userFiles.map((f) => [f, fresh.get(f) ?? held.entries[f]!.fragment!] as const));
    if (!app) return this.fullBecause("a check across files failed");
    const entries: Record<string, CacheEntry> = {};
    for (const f of order) {
      const sf = inProgram.get(f);
      if (sf) {
        entries[f] = this.entry(program, sf, fresh.get(f) ?? (held.entries[f]?.fragment && valid(f) ? held.entries[f]!.fragment : undefined));
        continue;
      }
      // Kept (valid): a consulted file that changed where this one does not look is recorded with its hash now.
      const e = held.entries[f]!;
      entries[f] = { ...e, consulted: e.consulted.map(([c, h]) => [c, hashOf(c) ?? h] as const) };
    }
    writeExtractionCache(this.cache!.dir, this.cache!.key, { externals: held.externals, entries });
    this.lastMode = "partial";
    this.lastRead = [...build].map((sf) => sf.fileName);
    return app;
  }

  /** Records why the cache could not give the app (for tests and the benchmark); a full extraction follows. */
  private fullBecause(reason: string): undefined {
    this.fullReason = reason;
    return undefined;
  }

  /** The app from its files' fragments in file order; undefined when a cross-object check fails. */
  private assemble(fragments: ReadonlyArray<readonly [file: string, fragment: FileFragment]>): ExtractedApp | undefined {
    const combined = combineFragments(fragments.map(([, f]) => f), redirectWarnings);
    if (combined.problems) return undefined;
    const locations: Record<string, SourcePosition> = {};
    for (const [k, p] of Object.entries(combined.locations)) locations[k] = { ...p, file: this.display(p.file) };
    return { map: combined.map, renames: combined.renames, locations, warnings: combined.warnings, files: fragments.map(([f]) => f), flows: combined.flows };
  }

  /** One file's fragment after a reading. */
  private fragment(reader: DeclarationReader, sf: ts.SourceFile, diagnostics: FileDiagnostics): FileFragment {
    return { ...reader.fragmentOf(sf), diagnostics: [...diagnostics.warnings], redirected: [...(this.program.redirectedBy.get(sf.fileName) ?? [])] };
  }

  /** The cache entry of a file of `program`. */
  private entry(program: ts.Program, sf: ts.SourceFile, fragment: FileFragment | undefined): CacheEntry {
    const kids = childrenOf(program, sf);
    // What a fragment can depend on: what the file imports, directly or not. A file that declares
    // nothing and calls nothing (re-exports, interfaces) reads only the declaration files it imports.
    const reaches = fragment === undefined ? [] : fragment.candidate ? [sf.fileName] : kids.filter((k) => !isSourcePath(k));
    const consulted = new Set<string>();
    const visit = (f: string) => {
      for (const c of childrenOf(program, program.getSourceFile(f)!)) {
        if (consulted.has(c) || c === sf.fileName) continue;
        consulted.add(c);
        visit(c);
      }
    };
    for (const r of reaches) {
      if (r !== sf.fileName) consulted.add(r);
      visit(r);
    }
    const uses = fragment?.candidate ? this.usesOf(program, sf, kids, fragment) : [];
    return {
      hash: textHashOf(sf),
      resolutions: (this.program.resolutions.get(sf.fileName) ?? []).map(([name, to]) => [name, to ?? null] as const),
      children: kids,
      global: isGlobalFile(sf),
      consulted: [...consulted].sort().map((c) => [c, textHashOf(program.getSourceFile(c)!)] as const),
      ...(uses.length > 0 ? { uses } : {}),
      ...(fragment ? { fragment } : {}),
    };
  }

  /**
   * The app source files `sf` imports only by name and reaches by no other path (not through
   * another file it imports, nor back through itself), with the names and the hash of the
   * declarations those stand on (declaration-uses.ts); a file its fragment names (a position in
   * it, which any edit above it moves) is left out.
   */
  private usesOf(program: ts.Program, sf: ts.SourceFile, kids: readonly string[], fragment: FileFragment): Array<readonly [string, readonly string[], string]> {
    const further = new Set<string>();
    const stack = kids.flatMap((k) => childrenOf(program, program.getSourceFile(k)!));
    while (stack.length > 0) {
      const f = stack.pop()!;
      if (further.has(f)) continue;
      further.add(f);
      stack.push(...childrenOf(program, program.getSourceFile(f)!));
    }
    const referenced = new Set(sf.referencedFiles.map((r) => ts.resolveTripleslashReference(r.fileName, sf.fileName)));
    const resolved = program as unknown as { getResolvedModule(f: ts.SourceFile, name: string, mode: ts.ResolutionMode): ts.ResolvedModuleWithFailedLookupLocations | undefined };
    const resolve = (spec: ts.StringLiteralLike) => resolved.getResolvedModule(sf, spec.text, program.getModeForUsageLocation(sf, spec))?.resolvedModule?.resolvedFileName;
    const text = JSON.stringify(fragment);
    const out: Array<readonly [string, readonly string[], string]> = [];
    for (const k of kids) {
      if (!isSourcePath(k) || further.has(k) || referenced.has(k) || text.includes(basename(k).replace(/\.[^.]+$/, ""))) continue;
      const names = namedImports(sf, k, moduleSpecifiers(sf), resolve);
      const hash = names && declarationsHash(program.getSourceFile(k)!, names);
      if (names && hash !== undefined) out.push([k, names, hash]);
    }
    return out;
  }

  /** After a full reading: the cache for every file, unless this app's file order or declarations cannot be reproduced from it. */
  private storeFull(program: ts.Program, reader: DeclarationReader, results: ReadonlyMap<ts.SourceFile, FileResult>): void {
    const { dir, key } = this.cache!;
    const files = program.getSourceFiles().filter((sf) => !isStable(sf.fileName));
    let order: string[];
    try {
      order = postOrder(this.mainFile, (f) => childrenOf(program, program.getSourceFile(f)!));
    } catch {
      order = [];
    }
    // Globals can change any file's types, registry getters find objects in any file: such apps are always read whole.
    const reproducible = order.length === files.length && order.every((f, i) => f === files[i]!.fileName) && !reader.usedRegistry && !files.some(isGlobalFile);
    if (!reproducible) return dropExtractionCache(dir);
    const entries: Record<string, CacheEntry> = {};
    for (const sf of files) entries[sf.fileName] = this.entry(program, sf, isUserFile(sf) ? this.fragment(reader, sf, results.get(sf)!.diagnostics) : undefined);
    const externals: Record<string, string> = {};
    for (const file of externalFiles(program)) {
      const h = textHash(file);
      if (h === null) return dropExtractionCache(dir);
      externals[file] = h;
    }
    writeExtractionCache(dir, key, { externals, entries });
  }

  /**
   * A file's syntax errors, which block planning (its declarations cannot be read
   * reliably), and its imports that did not resolve: a warning, since only run-time
   * code can use them (were a declared record's type to come from one, mapping it reports
   * the resulting `any`).
   */
  private diagnose(program: ts.Program, sf: ts.SourceFile): FileDiagnostics {
    const errors = program.getSyntacticDiagnostics(sf).map((d) => this.typescriptError(d));
    const missing = this.program.unresolved.get(sf.fileName);
    const warnings: string[] = [];
    if (missing) {
      for (const specifier of moduleSpecifiers(sf)) {
        if (!ts.isStringLiteralLike(specifier) || !missing.includes(specifier.text)) continue;
        // Node's own modules (`fs`, `path`, `node:fs`) are there at run time; without @types/node they only lack types.
        if (isBuiltin(specifier.text)) continue;
        const p = diagnosticPosition(sf, specifier.getStart(sf));
        const used = infrastructureUse(sf, specifier);
        if (used) {
          errors.push(
            new InvalidInputError(
              "DECLARATION_NOT_FOLLOWED",
              `cannot find module '${specifier.text}', and this file ${used.what} at its top level (line ${diagnosticPosition(sf, used.node.getStart(sf)).line}): the infrastructure that module declares would be left out of the plan`,
              { position: p, hint: `install '${specifier.text}' (for a workspace package: link it with your package manager; its TypeScript source is read, no build needed)` },
            ),
          );
          continue;
        }
        warnings.push(`${this.display(p.file)}:${p.line}:${p.column}: cannot find module '${specifier.text}' (ignored for planning; install it before \`moose dev\` runs the code that imports it)`);
      }
    }
    return { errors, warnings };
  }

  /**
   * Planning reads the types of declared records and the literal options of each
   * declaration; it does not type-check the app (that is `tsc`'s and the editor's
   * job, and checking every call costs several times the extraction). When reading
   * failed, the TypeScript errors of the files involved (and of the files they import)
   * often say why, and are reported beside the extractor's: on one line, the extractor's
   * error is kept (it names the option and what to do), except for a field whose type
   * did not resolve, where TypeScript's error names the cause.
   */
  private withTypeErrors(program: ts.Program, errors: readonly InvalidInputError[]): InvalidInputError[] {
    const suspects = new Set<ts.SourceFile>();
    for (const e of errors) {
      const sf = e.position && program.getSourceFile(e.position.file);
      if (!sf || !isUserFile(sf)) continue;
      suspects.add(sf);
      for (const imported of directImports(program, sf)) if (isUserFile(imported)) suspects.add(imported);
    }
    const found: InvalidInputError[] = [];
    for (const sf of suspects) found.push(...this.typeErrors(program, sf));
    if (found.length === 0) return [...errors];
    const line = (e: InvalidInputError) => (e.position ? `${e.position.file}:${e.position.line}` : "");
    const typeLines = new Set(found.map(line));
    // A field whose type TypeScript could not resolve maps to `any`: TypeScript's error says why.
    const kept = errors.filter((e) => !(e.code === "UNSUPPORTED_TYPE" && typeLines.has(line(e))));
    const keptLines = new Set(kept.map(line));
    const typescript = found.filter((e) => !keptLines.has(line(e)));
    return [...typescript, ...kept].sort((a, b) => comparePositions(a.position, b.position));
  }

  /**
   * The type errors of one file that can matter to planning: not those inside function
   * bodies (transforms, handlers, a task's run: code that only runs in `moose dev`),
   * nor a missing module that only run-time code imports.
   */
  private typeErrors(program: ts.Program, sf: ts.SourceFile): InvalidInputError[] {
    const out: InvalidInputError[] = [];
    for (const d of program.getSemanticDiagnostics(sf)) {
      if (d.category !== ts.DiagnosticCategory.Error || NON_BLOCKING_DIAGNOSTICS.has(d.code)) continue;
      if (d.file && d.start !== undefined && insideFunctionBody(d.file, d.start)) continue;
      out.push(this.typescriptError(d));
    }
    return out;
  }

  private typescriptError(d: ts.Diagnostic): InvalidInputError {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    const position = d.file && d.start !== undefined ? diagnosticPosition(d.file, d.start) : undefined;
    return new InvalidInputError("TYPESCRIPT_ERROR", `TS${d.code}: ${message}`, {
      ...(position ? { position } : {}),
      hint: "fix the TypeScript error; the last good state is kept until then",
    });
  }

  private display(file: string): string {
    const rel = relative(this.options.projectDir, file);
    return rel.startsWith("..") ? file : rel;
  }
}

const sourceHashes = new WeakMap<ts.SourceFile, string>();
/** sha256 of a parsed file's text, once per file (an app's shared files are consulted by many). */
function textHashOf(sf: ts.SourceFile): string {
  let h = sourceHashes.get(sf);
  if (h === undefined) sourceHashes.set(sf, (h = sha256(sf.text)));
  return h;
}

/** sha256 of a file's text as the Program reads it; null when it cannot be read. */
function textHash(file: string): string | null {
  return fileText(file)?.hash ?? null;
}

/** A file's text and its sha256; null when it cannot be read. */
function fileText(file: string): { readonly text: string; readonly hash: string } | null {
  try {
    const text = readFileSync(file, "utf8");
    return { text, hash: sha256(text) };
  } catch {
    return null;
  }
}

function isSourcePath(file: string): boolean {
  return /\.(?:[cm]?ts|tsx)$/.test(file) && !/\.d\.(?:[cm]?ts|[^.]+\.ts)$/.test(file);
}

/** A script (no import or export) or a file with `declare global` / `declare module "x"`: it can change any file's types. */
function isGlobalFile(sf: ts.SourceFile): boolean {
  // A JSON module is no module to TypeScript's `isExternalModule`, but declares nothing global.
  if (sf.fileName.endsWith(".json")) return false;
  return !ts.isExternalModule(sf) || sf.statements.some((s) => ts.isModuleDeclaration(s) && (Boolean(s.flags & ts.NodeFlags.GlobalAugmentation) || ts.isStringLiteral(s.name)));
}

/** Files a Program loaded from outside the app (node_modules, this library's declarations), but not TypeScript's own lib files. */
function externalFiles(program: ts.Program): string[] {
  const libDir = dirname(ts.getDefaultLibFilePath(program.getCompilerOptions())) + sep;
  return program.getSourceFiles().map((sf) => sf.fileName).filter((f) => isStable(f) && !resolve(f).startsWith(libDir));
}

/**
 * The app files TypeScript added to the Program for `sf`, in its order: files named by
 * `/// <reference path>`, then each import that resolved to a file of the app.
 */
function childrenOf(program: ts.Program, sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const add = (file: string | undefined) => {
    const t = file === undefined ? undefined : program.getSourceFile(file);
    if (t && !isStable(t.fileName) && !out.includes(t.fileName)) out.push(t.fileName);
  };
  for (const ref of sf.referencedFiles) add(ts.resolveTripleslashReference(ref.fileName, sf.fileName));
  // `imports` is TypeScript's own list of a file's module names, in the order it loads them.
  const imports = (sf as unknown as { imports?: readonly ts.StringLiteralLike[] }).imports;
  if (imports === undefined) throw new Error("TypeScript did not list the file's imports");
  // `getResolvedModule` is TypeScript's (not in its public declarations): the resolution the Program used.
  const resolved = program as unknown as { getResolvedModule(f: ts.SourceFile, name: string, mode: ts.ResolutionMode): ts.ResolvedModuleWithFailedLookupLocations | undefined };
  for (const imp of imports) add(resolved.getResolvedModule(sf, imp.text, program.getModeForUsageLocation(sf, imp))?.resolvedModule?.resolvedFileName);
  return out;
}

/** Files in the order TypeScript's Program lists them: each after the files it imports, from the main file. */
function postOrder(main: string, children: (file: string) => readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const c of children(file)) visit(c);
    out.push(file);
  };
  visit(main);
  return out;
}

function redirectWarnings(redirected: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const libraries = [...redirected].filter((m) => m !== "typia");
  if (libraries.length > 0) out.push(`imports of ${libraries.join(", ")} are planned against moose-migrate's declaration library`);
  if (redirected.has("typia")) out.push("typia is not installed: its type tags are read from moose-migrate's copy of them");
  return out;
}

let fingerprint: string | undefined;
/**
 * The version in package.json and the size and modification time of every module of this
 * library (extraction uses the model, the quoting and more besides lib/extract): a rebuilt or
 * reinstalled tool never trusts an older one's results. Stat only: about 2 ms.
 */
function toolFingerprint(): string {
  if (fingerprint === undefined) {
    const lib = resolve(dirname(fileURLToPath(import.meta.url)), "..");
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
    const parts: string[] = [pkg.version];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name.endsWith(".js") || e.name.endsWith(".cjs")) {
          const st = statSync(path);
          parts.push(`${relative(lib, path)}:${st.size}:${st.mtimeMs}`);
        }
      }
    };
    walk(lib);
    fingerprint = sha256(parts.join("\n"));
  }
  return fingerprint;
}

/** One-shot extraction (CLI commands other than `dev`). */
export function extractApp(options: ExtractOptions): ExtractedApp {
  return new AppExtractor(options).extract();
}

/**
 * How a file uses, when it is loaded, what it takes from a module that did not resolve, in a way
 * that only makes sense for declared infrastructure: it re-exports the module (an app's main
 * file exports its declarations), or a top-level statement wires a declared stream of it
 * (`GhEvent.stream!.addTransform(...)`, `addConsumer`, `addMultiTransform`: moose-lib's stream
 * methods). Imports used only inside functions, or in other top-level calls
 * (`dotenv.config()`), are run-time code, which planning can do without.
 */
const STREAM_WIRING = new Set(["addTransform", "addConsumer", "addMultiTransform"]);

function infrastructureUse(sf: ts.SourceFile, specifier: ts.StringLiteralLike): { what: string; node: ts.Node } | undefined {
  const statement = specifier.parent;
  if (ts.isExportDeclaration(statement)) return { what: `re-exports '${specifier.text}'`, node: statement };
  if (!ts.isImportDeclaration(statement) || !statement.importClause || statement.importClause.isTypeOnly) return undefined;
  const clause = statement.importClause;
  const names = new Set<string>();
  if (clause.name) names.add(clause.name.text);
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
  if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) if (!e.isTypeOnly) names.add(e.name.text);
  const root = (e: ts.Expression): ts.Expression => {
    while (ts.isPropertyAccessExpression(e) || ts.isElementAccessExpression(e) || ts.isNonNullExpression(e) || ts.isParenthesizedExpression(e)) e = e.expression;
    return e;
  };
  for (const s of sf.statements) {
    if (ts.isExportDeclaration(s) && !s.moduleSpecifier && s.exportClause && ts.isNamedExports(s.exportClause)) {
      const re = s.exportClause.elements.find((e) => names.has((e.propertyName ?? e.name).text));
      if (re) return { what: `exports ${re.name.text}, imported from it,`, node: s };
    }
    if (!ts.isExpressionStatement(s) || !ts.isCallExpression(s.expression)) continue;
    const callee = s.expression.expression;
    if (!ts.isPropertyAccessExpression(callee) || !STREAM_WIRING.has(callee.name.text)) continue;
    const base = root(callee.expression);
    if (ts.isIdentifier(base) && names.has(base.text)) return { what: `calls ${callee.name.text}() on ${base.text}, imported from it,`, node: s };
  }
  return undefined;
}

function isUserFile(sf: ts.SourceFile): boolean {
  return !sf.isDeclarationFile && !sf.fileName.includes(`${sep}node_modules${sep}`) && !sf.fileName.includes("/node_modules/") && !isLibraryFile(sf.fileName);
}

/** Whether `pos` lies in the body of a function, method, accessor or arrow function. */
function insideFunctionBody(sf: ts.SourceFile, pos: number): boolean {
  let found = false;
  const visit = (node: ts.Node): void => {
    if (found || pos < node.pos || pos >= node.end) return;
    if (ts.isFunctionLike(node)) {
      const body = (node as ts.FunctionLikeDeclaration).body;
      if (body && pos >= body.getStart(sf) && pos < body.end) {
        found = true;
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function diagnosticPosition(file: ts.SourceFile, start: number): SourcePosition {
  const { line, character } = file.getLineAndCharacterOfPosition(start);
  return { file: file.fileName, line: line + 1, column: character + 1 };
}

function relativize(e: InvalidInputError, projectDir: string): InvalidInputError {
  if (!e.position || !isAbsolute(e.position.file)) return e;
  const rel = relative(projectDir, e.position.file);
  if (rel.startsWith("..")) return e;
  return new InvalidInputError(e.code, e.message, { position: { ...e.position, file: rel }, ...(e.hint ? { hint: e.hint } : {}) });
}

/** A fragment while a reading fills it. */
type ReaderFragment = { -readonly [K in keyof FileFragment]: FileFragment[K] extends ReadonlyArray<infer T> ? T[] : FileFragment[K] };

interface ReadResult {
  readonly map: InfraMap;
  readonly renames: RenameHints;
  readonly locations: Record<string, SourcePosition>;
  readonly errors: InvalidInputError[];
  /** `file:line:column: message` texts (files as displayed). */
  readonly warnings: string[];
  readonly flows: StreamFlow[];
}

/** Reads every declaration of one Program. Single use. */
class DeclarationReader {
  private readonly declarations: Declaration[] = [];
  private readonly byNode = new Map<DeclarationNode, Declaration>();
  /** The results of the file each declaration is in. */
  private readonly resultOf = new Map<DeclarationNode, FileResult>();
  private readonly identities = new Map<DeclarationNode, Identity>();
  private readonly identifying = new Set<DeclarationNode>();
  private readonly evaluator: StaticEvaluator;
  private readonly mapper: TypeMapper;
  private readonly shapes: OptionShapes;
  /** Config arguments whose option names were checked. */
  private readonly checkedOptions = new Set<ts.Node>();
  private readonly errors: InvalidInputError[] = [];
  private readonly warnings: string[] = [];
  private readonly locations: Record<string, SourcePosition> = {};
  private readonly tables: Record<string, Table> = {};
  private readonly views: Record<string, MaterializedView> = {};
  private readonly topics: Record<string, Topic> = {};
  private readonly apis: Record<string, ApiEndpoint> = {};
  private readonly workflows: Record<string, Workflow> = {};
  private readonly processes: Record<string, SyncProcess> = {};
  /** Plain views' names, known before they are built, so that a materialized view may read one. */
  private readonly plainViews = new Set<string>();
  private readonly plainViewMap: Record<string, PlainView> = {};
  private readonly sqlResourceMap: Record<string, SqlResource> = {};
  private readonly renames: { tables: Array<{ from: string; to: string }>; columns: Array<{ table: string; from: string; to: string }> } = { tables: [], columns: [] };
  /** What each file's declarations gave, as plain data (see fragments.ts). */
  readonly fragments = new Map<ts.SourceFile, ReaderFragment>();
  /** The fragment being filled while a declaration is built, and the phase. */
  private current: { readonly fragment: ReaderFragment; readonly phase: 1 | 2 } | undefined;
  /** Whether a registry getter (`getTable("X")`) was read: it finds objects by name in any file, not through imports. */
  usedRegistry = false;

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly files: readonly ts.SourceFile[],
    /** How a file is named in messages (relative to the project). */
    private readonly display: (file: string) => string,
    /** Per-file results: kept ones are used as they are, new ones are filled in. */
    private readonly fileResults: ReadonlyMap<ts.SourceFile, FileResult>,
    /** Retention of a topic that declares none. */
    private readonly topicRetentionMs: number,
    /** `clickhouse_config.db_name`, when known: `database` set to it names no other database. */
    private readonly managedDatabase?: string,
    /** `[[clickhouse_config.clusters]]` names, when known: a table's `cluster` must be one. */
    private readonly knownClusters?: readonly string[],
    /**
     * Reading part of the app: only the declarations of `build`'s files are built (the others
     * are identified when something refers to them), and tables of files not read are looked
     * up in `external` (their cached fragments). The cross-object checks are left to the
     * caller, who combines the fragments.
     */
    private readonly partial?: { readonly build: ReadonlySet<ts.SourceFile>; readonly external: ReadonlyMap<string, Table> },
  ) {
    this.evaluator = new StaticEvaluator(checker, (node) => this.byNode.has(node));
    this.mapper = new TypeMapper(checker);
    this.shapes = new OptionShapes(checker);
  }

  read(): ReadResult {
    for (const sf of this.files) this.collect(sf);
    // A materialized view's config may name tables by `getTable("X")`: read while identifying it.
    this.evaluator.registry = (getter, name) => this.registryRef(getter, name);
    const built = this.declarations.filter((d) => this.builds(d.node.getSourceFile()));
    for (const d of built) this.guard(() => this.identities.has(d.node) || this.identities.set(d.node, this.identify(d)));
    // Materialized views last: rendering `${table.columns.x}` of an aggregate column needs the table built.
    const ordered = [...built.filter((d) => d.cls !== "MaterializedView"), ...built.filter((d) => d.cls === "MaterializedView")];
    for (const d of ordered) {
      if (!this.identities.has(d.node)) continue;
      this.current = { fragment: this.fragmentOf(d.node.getSourceFile()), phase: d.cls === "MaterializedView" ? 2 : 1 };
      this.guard(() => this.build(d));
      this.current = undefined;
    }
    const map: InfraMap = assembleMap({
      tables: this.tables,
      views: this.views,
      topics: this.topics,
      apis: this.apis,
      workflows: this.workflows,
      processes: this.processes,
      plainViews: this.plainViewMap,
      sqlResources: this.sqlResourceMap,
    });
    if (this.errors.length === 0 && !this.partial) this.errors.push(...referenceErrors(map, this.plainViews, this.locations));
    this.errors.sort((a, b) => comparePositions(a.position, b.position));
    const flows: StreamFlow[] = [];
    if (this.errors.length === 0) {
      for (const sf of this.files) {
        if (!this.builds(sf)) continue;
        const own = this.flows(sf);
        this.fragmentOf(sf).flows.push(...own);
        flows.push(...own);
      }
    }
    return { map, renames: this.renames, locations: this.locations, errors: this.errors, warnings: this.warnings, flows };
  }

  private builds(sf: ts.SourceFile): boolean {
    return this.partial === undefined || this.partial.build.has(sf);
  }

  fragmentOf(sf: ts.SourceFile): ReaderFragment {
    let f = this.fragments.get(sf);
    if (!f) this.fragments.set(sf, (f = { diagnostics: [], puts: [], warnings: [], renames: [], flows: [], redirected: [], candidate: false }));
    return f;
  }

  /** A declaration's identity; in a partial reading, a declaration of a file not read is identified when first asked for. */
  private idOf(node: DeclarationNode): Identity | undefined {
    const known = this.identities.get(node);
    if (known || !this.partial || this.builds(node.getSourceFile())) return known;
    const d = this.byNode.get(node);
    const found = d && this.quietly(() => this.identify(d));
    if (found) this.identities.set(node, found);
    return found;
  }

  /** A table built by this reading, else (partial reading) one a file not read declares. */
  private tableNamed(name: string): Table | undefined {
    return this.tables[name] ?? this.partial?.external.get(name);
  }

  /**
   * `a.addTransform(b, fn)` at a file's top level, where `a` and `b` are declared streams (or a
   * pipeline's `.stream`): the topics it joins. A call whose ends cannot be read statically is
   * left out of the picture (it is run-time code; nothing is planned from it).
   */
  private flows(sf: ts.SourceFile): StreamFlow[] {
    const out: StreamFlow[] = [];
    {
      for (const statement of sf.statements) {
        if (!ts.isExpressionStatement(statement)) continue;
        const call = statement.expression;
        if (!ts.isCallExpression(call) || !ts.isPropertyAccessExpression(call.expression) || call.expression.name.text !== "addTransform") continue;
        const destination = call.arguments[0];
        if (destination === undefined) continue;
        const from = this.topicOf(call.expression.expression);
        const to = this.topicOf(destination);
        if (from !== undefined && to !== undefined) out.push({ from, to });
      }
    }
    return out;
  }

  /** The topic an expression names: a declared Stream or dead-letter queue, or a pipeline's `.stream` / `.deadLetterQueue`. */
  private topicOf(expr: ts.Expression): string | undefined {
    const value = this.quietly(() => this.evaluator.evaluate(ts.isNonNullExpression(expr) ? expr.expression : expr, "a transform's stream"));
    if (value === undefined || !isRef(value)) return undefined;
    const id = this.idOf(value.target);
    const d = this.byNode.get(value.target);
    if (!id || !d) return undefined;
    const member = value.member.join(".");
    if (member === "" && (d.cls === "Stream" || d.cls === "DeadLetterQueue")) return id.topic;
    if (member === "stream" && d.cls === "IngestPipeline") return id.topic;
    if (member === "deadLetterQueue" && d.cls === "IngestPipeline") return id.deadLetterTopic;
    return undefined;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof InvalidInputErrors) this.errors.push(...(e.errors as InvalidInputError[]));
      else if (e instanceof InvalidInputError) this.errors.push(e);
      else throw e;
    }
  }

  /** For objects that are not planned: what can be read statically, or undefined (never an error). */
  private quietly<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (e) {
      if (e instanceof InvalidInputError) return undefined;
      throw e;
    }
  }

  private warn(node: ts.Node, message: string): void {
    const p = positionOf(node);
    const text = `${this.display(p.file)}:${p.line}:${p.column}: ${message}`;
    this.warnings.push(text);
    if (this.current) this.current.fragment.warnings.push({ phase: this.current.phase, text, note: false });
  }

  private collect(sf: ts.SourceFile): void {
    const result = this.fileResults.get(sf);
    const found = result?.found ?? this.find(sf);
    if (result) result.found = found;
    this.errors.push(...found.errors);
    for (const d of found.declarations) {
      this.declarations.push(d);
      this.byNode.set(d.node, d);
      if (result) this.resultOf.set(d.node, result);
    }
  }

  private find(sf: ts.SourceFile): { declarations: Declaration[]; errors: InvalidInputError[] } {
    const declarations: Declaration[] = [];
    const errors: InvalidInputError[] = [];
    const fragment = this.fragmentOf(sf);
    const visit = (node: ts.Node): void => {
      // Interfaces and type aliases, most of a schema file, hold no expressions.
      if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return;
      if (ts.isNewExpression(node) || (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && (TABLE_FACTORIES.has(node.expression.name.text) || node.expression.name.text === "addTransform"))) fragment.candidate = true;
      const found = ts.isNewExpression(node) ? this.declarationClass(node) : ts.isCallExpression(node) ? this.factoryCall(node) : undefined;
      if (!found && !enclosingScope(node)) {
        const lost = this.unfollowedDeclaration(node);
        if (lost) errors.push(lost);
      }
      if (found) {
        const enclosing = enclosingScope(node);
        if (enclosing && UNPLANNED_CLASSES.has(found.cls)) {
          // Not infrastructure: a task or web app built at run time is just code.
        } else if (enclosing) {
          errors.push(
            new InvalidInputError("NOT_STATIC", `new ${found.cls}(...) inside ${enclosing} cannot be planned: how often it runs is only known at run time`, {
              position: positionOf(node),
              hint: "declare infrastructure at the top level of a module, e.g. `export const events = new OlapTable<Event>(\"Events\")`",
            }),
          );
        } else {
          declarations.push({ node: node as DeclarationNode, ...found });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    errors.push(...this.unreadImports(sf));
    return { declarations, errors };
  }

  /**
   * `new OlapTable(...)` (or another declaration class) whose class comes from an import
   * that did not resolve: the declaration exists when the app runs, but planning cannot
   * see it, and leaving it out would plan less than the app declares.
   */
  private unfollowedDeclaration(node: ts.Node): InvalidInputError | undefined {
    let callee: ts.Expression | undefined;
    if (ts.isNewExpression(node)) callee = node.expression;
    else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && TABLE_FACTORIES.has(node.expression.name.text)) callee = node.expression.expression;
    if (!callee || !ts.isIdentifier(callee) || !DECLARATION_SET.has(callee.text)) return undefined;
    const symbol = this.checker.getSymbolAtLocation(callee);
    const decl = symbol?.declarations?.[0];
    if (!symbol || !(symbol.flags & ts.SymbolFlags.Alias) || !decl) return undefined;
    const importDecl = findAncestor(decl, ts.isImportDeclaration);
    if (!importDecl || this.checker.getSymbolAtLocation(importDecl.moduleSpecifier)) return undefined;
    const from = ts.isStringLiteralLike(importDecl.moduleSpecifier) ? importDecl.moduleSpecifier.text : "?";
    return new InvalidInputError("DECLARATION_NOT_FOLLOWED", `new ${callee.text}(...) declares infrastructure, but ${callee.text} is imported from '${from}', which planning cannot resolve, so the declaration would be left out of the plan`, {
      position: positionOf(node),
      hint: "import the class from '@514labs/moose-lib' (or 'moose-migrate'), or install the package that provides it",
    });
  }

  /**
   * Imports of modules outside the app's own source (a workspace package built to `.d.ts`,
   * a package in node_modules) that export declared infrastructure: the app creates those
   * objects when it imports the module, but their declarations are compiled and cannot be
   * read, so planning refuses rather than plan without them.
   */
  private unreadImports(sf: ts.SourceFile): InvalidInputError[] {
    const errors: InvalidInputError[] = [];
    for (const statement of sf.statements) {
      const spec = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) ? statement.moduleSpecifier : undefined;
      if (!spec || !ts.isStringLiteralLike(spec)) continue;
      const moduleSymbol = this.checker.getSymbolAtLocation(spec);
      const target = moduleSymbol?.valueDeclaration ?? moduleSymbol?.declarations?.[0];
      const file = target?.getSourceFile();
      // Only compiled modules that name the library can hold declarations (cheap test first).
      if (!file || !file.isDeclarationFile || isLibraryFile(file.fileName) || !/moose-lib|moose-migrate/.test(file.text)) continue;
      const declared: string[] = [];
      for (const exported of this.checker.getExportsOfModule(moduleSymbol!)) {
        const resolved = exported.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(exported) : exported;
        if (!(resolved.flags & ts.SymbolFlags.Variable)) continue;
        const cls = this.checker.getTypeOfSymbol(resolved).getSymbol();
        const clsDecl = cls?.declarations?.[0];
        if (cls && DECLARATION_SET.has(cls.name) && !UNPLANNED_CLASSES.has(cls.name as DeclarationClass) && clsDecl && isLibraryFile(clsDecl.getSourceFile().fileName)) {
          declared.push(`${exported.name} (${cls.name})`);
        }
      }
      if (declared.length === 0) continue;
      errors.push(
        new InvalidInputError(
          "DECLARATION_NOT_FOLLOWED",
          `'${spec.text}' exports declared infrastructure (${declared.slice(0, 5).join(", ")}${declared.length > 5 ? `, and ${declared.length - 5} more` : ""}) from compiled code (${file.fileName}), which planning cannot read, so those objects would be left out of the plan`,
          {
            position: positionOf(spec),
            hint: "point the package's `types` field at its TypeScript source (e.g. src/index.ts), so planning reads the declarations themselves",
          },
        ),
      );
    }
    return errors;
  }

  private librarySymbol(expr: ts.Expression): ts.Symbol | undefined {
    let symbol = this.checker.getSymbolAtLocation(expr);
    if (!symbol) return undefined;
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    const decl = symbol.declarations?.[0];
    if (!decl || !isLibraryFile(decl.getSourceFile().fileName)) return undefined;
    return symbol;
  }

  private declarationClass(node: ts.NewExpression): { cls: DeclarationClass } | undefined {
    const symbol = this.librarySymbol(node.expression);
    return symbol && DECLARATION_SET.has(symbol.name) ? { cls: symbol.name as DeclarationClass } : undefined;
  }

  /** `OlapTable.withMergeTree<T>(...)` and the other moose-lib table factories. */
  private factoryCall(node: ts.CallExpression): { cls: DeclarationClass; factory: string } | undefined {
    const callee = node.expression;
    if (!ts.isPropertyAccessExpression(callee)) return undefined;
    const engine = TABLE_FACTORIES.get(callee.name.text);
    if (engine === undefined) return undefined;
    const owner = this.librarySymbol(callee.expression);
    return owner?.name === "OlapTable" ? { cls: "OlapTable", factory: engine } : undefined;
  }

  // ---- pass 1: names -------------------------------------------------------

  private identify(d: Declaration): Identity {
    const { node, cls } = d;
    switch (cls) {
      case "OlapTable": {
        const cfg = this.tableConfig(d);
        return { table: this.inDatabase(versioned(this.nameArg(node, cls), cfg, this, "version"), cfg) };
      }
      case "Stream":
      case "DeadLetterQueue":
        return { topic: versioned(this.nameArg(node, cls), this.config(node, 1, cls), this, "version") };
      case "IngestApi": {
        const cfg = this.config(node, 1, cls);
        return { api: apiPath("ingest", this.nameArg(node, cls), this.optString(cfg, "version"), this.optString(cfg, "path")) };
      }
      case "ConsumptionApi":
      case "Api": {
        const cfg = this.config(node, 2, cls);
        return { api: apiPath("api", this.nameArg(node, cls), this.optString(cfg, "version"), this.optString(cfg, "path")) };
      }
      case "Workflow":
        return { workflow: this.nameArg(node, cls) };
      case "View":
        return { plainView: this.quietly(() => this.nameArg(node, cls)) ?? "(unnamed)" };
      case "SqlResource":
        return { sqlResource: this.quietly(() => this.nameArg(node, cls)) ?? "(unnamed)" };
      case "Task":
      case "WebApp":
        return {};
      case "MaterializedView": {
        const cfg = this.requiredConfig(node, 0, cls);
        const view = this.reqString(cfg, "materializedViewName", cls);
        const target = cfg.entries.get("targetTable");
        let id: Identity;
        if (isObjectValue(target as StaticValue)) {
          const targetCfg = target as StaticObject;
          id = { view, table: this.reqString(targetCfg, "name", "targetTable"), targetConfig: targetCfg };
        } else if (target !== undefined) {
          if (!isRef(target)) throw this.bad(cfg, "targetTable", "must be an OlapTable declared with `new OlapTable`, or `{ name, engine?, orderByFields? }`");
          id = { view, targetRef: target };
        } else {
          id = { view, table: this.optString(cfg, "tableName") ?? `${view}_target` };
        }
        if (id.table === view) {
          throw this.bad(cfg, "materializedViewName", `is "${view}", the name of its target table too; ClickHouse needs different names for the view and the table it writes to`);
        }
        return id;
      }
      case "IngestPipeline": {
        const name = this.nameArg(node, cls);
        const cfg = this.config(node, 1, cls);
        const version = this.optString(cfg, "version");
        const suffix = version === undefined ? name : `${name}_${version.replace(/\./g, "_")}`;
        const id: Identity = {};
        if (this.enabled(cfg, "table")) {
          const tableCfg = cfg?.entries.get("table");
          id.table = this.inDatabase(suffix, tableCfg !== undefined && isObjectValue(tableCfg) ? tableCfg : undefined);
        }
        if (this.enabled(cfg, "stream")) id.topic = suffix;
        if (this.enabled(cfg, "deadLetterQueue")) id.deadLetterTopic = `${suffix.slice(0, name.length)}DeadLetterQueue${suffix.slice(name.length)}`;
        const ingest = this.ingestOption(cfg);
        if (ingest.enabled) id.api = apiPath("ingest", name, version, this.optString(ingest.config, "path") ?? this.optString(cfg, "path"));
        return id;
      }
    }
  }

  /** moose-lib spells the ingest option `ingestApi`, `ingestAPI` (one version) and `ingest` (older). */
  private ingestOption(cfg: StaticObject | undefined): { enabled: boolean; config?: StaticObject } {
    for (const key of ["ingestApi", "ingestAPI", "ingest"]) {
      const v = cfg?.entries.get(key);
      if (v === undefined) continue;
      return isObjectValue(v) ? { enabled: true, config: v } : { enabled: v === true };
    }
    return { enabled: false };
  }

  // ---- pass 2: objects -----------------------------------------------------

  private build(d: Declaration): void {
    const id = this.identities.get(d.node)!;
    const { node, cls } = d;
    switch (cls) {
      case "OlapTable":
        this.addTable(id.table!, node, this.schema(node, cls), this.tableConfig(d));
        return;
      case "Stream":
        this.addStream(id.topic!, node, this.columns(node, this.schema(node, cls)), this.config(node, 1, cls));
        return;
      case "DeadLetterQueue":
        this.addStream(id.topic!, node, DEAD_LETTER_COLUMNS, this.config(node, 1, cls));
        return;
      case "IngestApi": {
        const cfg = this.requiredConfig(node, 1, cls);
        const dest = cfg.entries.get("destination");
        const destination = dest === undefined ? undefined : this.refName(dest, ["topic", "table"], cfg, "destination");
        this.addApi(
          { name: id.api!, kind: "ingest", columns: this.columns(node, this.schema(node, cls)).map((c) => c.column), ...opt("version", this.optString(cfg, "version")), ...opt("destination", destination) },
          node,
        );
        return;
      }
      case "ConsumptionApi":
      case "Api": {
        const cfg = this.config(node, 2, cls);
        const params = this.schema(node, cls);
        // A string-literal union parameter carries its values: the server refuses others with a 400.
        const columns = this.columns(node, params, { allowEmpty: true }).map((c) => (c.oneOf === undefined ? c.column : { ...c.column, oneOf: c.oneOf }));
        this.addApi({ name: id.api!, kind: "consumption", columns, ...opt("version", this.optString(cfg, "version")) }, node);
        return;
      }
      case "Workflow": {
        const cfg = this.config(node, 1, cls);
        const wf: Workflow = {
          name: id.workflow!,
          retries: this.optNumber(cfg, "retries") ?? 3,
          paused: this.optBoolean(cfg, "paused") ?? false,
          ...opt("schedule", nonEmpty(this.optString(cfg, "schedule"))),
          ...opt("timeout", this.optString(cfg, "timeout")),
        };
        if (!WORKFLOW_NAME.test(wf.name)) throw this.badName(node, "workflow", wf.name, "letters, digits, `_`, `-` and `.`");
        this.put(this.workflows, "workflows", wf, node);
        return;
      }
      case "MaterializedView":
        this.addView(id, node);
        return;
      case "IngestPipeline":
        this.addPipeline(id, node);
        return;
      case "View":
        this.addPlainView(id, node);
        return;
      case "SqlResource":
        this.addSqlResource(id, node);
        return;
      case "WebApp": {
        const mount = this.quietly(() => this.optString(this.config(node, 2, cls), "mountPath"));
        this.warn(node, `WebApp "${this.quietly(() => this.nameArg(node, cls)) ?? "(unnamed)"}"${mount ? ` (mounted at ${mount})` : ""} is code served by \`moose dev\`; it has no infrastructure to plan`);
        return;
      }
      case "Task":
        return;
    }
  }

  /**
   * A table's options: the config argument, or for a factory call its options with
   * `orderByFields` and `engine` filled in from the call.
   */
  private tableConfig(d: Declaration): StaticObject | undefined {
    if (d.factory === undefined) return this.config(d.node, 1, "OlapTable");
    const node = d.node;
    const entries = new Map<string, StaticValue>();
    const options = this.config(node, d.factory === "S3Queue" ? 3 : 2, "OlapTable");
    for (const [k, v] of options?.entries ?? []) entries.set(k, v);
    if (d.factory !== "S3Queue") {
      const fields = node.arguments?.[1];
      if (fields) entries.set("orderByFields", this.evaluator.evaluate(fields, "the orderByFields of this OlapTable"));
    } else {
      const [, path, format] = node.arguments ?? [];
      if (path) entries.set("s3Path", this.evaluator.evaluate(path, "the s3Path of this OlapTable"));
      if (format) entries.set("format", this.evaluator.evaluate(format, "the format of this OlapTable"));
    }
    entries.set("engine", d.factory);
    return { kind: "object", entries, node: options?.node ?? node };
  }

  /**
   * moose-lib's `database` option: a table outside the managed database is named
   * `<database>.<table>` in the model, so same-named tables of two databases never meet
   * (map keys, ledger, plan output, step names); the SQL adapter splits the name again.
   */
  private inDatabase(name: string, cfg: StaticObject | undefined): string {
    const database = this.optString(cfg, "database");
    if (database === undefined || database === this.managedDatabase) return name;
    if (!TABLE_NAME.test(database)) throw this.bad(cfg!, "database", `is ${JSON.stringify(database)}; a database name is a letter or \`_\` followed by letters, digits and \`_\` (or leave database out for clickhouse_config.db_name)`);
    return `${database}.${name}`;
  }

  private addTable(name: string, node: DeclarationNode, schema: Schema, cfg: StaticObject | undefined): void {
    if (!TABLE_NAME.test(name.slice(name.indexOf(".") + 1))) throw this.badName(node, "table", name, "a letter or `_` followed by letters, digits and `_`");
    const mapped = this.columns(node, schema);
    const columns = mapped.map((c) => c.column);
    const keys = mapped.filter((c) => c.key).map((c) => c.column.name);
    const engine = this.engine(cfg, columns, name);
    if (holdsNoRows(engine)) this.checkIntegrationTable(engine, cfg, mapped, name, node);
    // Key<> fields order MergeTree tables; an engine without a sorting key ignores them, as Moose does.
    const declaredOrder = holdsNoRows(engine) && engine.kind !== "S3" ? [] : this.orderBy(cfg, holdsNoRows(engine) ? [] : keys, columns, name);
    // ClickHouse appends a VersionedCollapsingMergeTree's version to the sorting key; naming it last is the same key.
    const orderBy = engine.kind === "VersionedCollapsingMergeTree" && declaredOrder.length > 1 && declaredOrder[declaredOrder.length - 1] === engine.version ? declaredOrder.slice(0, -1) : declaredOrder;
    const primaryKey = this.primaryKey(cfg, orderBy);
    const sampleBy = this.optString(cfg, "sampleByExpression");
    const indexes = this.indexes(cfg);
    const projections = this.projections(cfg);
    const constraints = this.constraints(cfg);
    const table: Table = {
      name,
      columns,
      orderBy,
      ...opt("primaryKey", primaryKey),
      ...opt("sampleBy", sampleBy === undefined || sampleBy.trim() === "" ? undefined : sampleBy.trim()),
      ...opt("indexes", indexes.length > 0 ? indexes : undefined),
      ...opt("projections", projections.length > 0 ? projections : undefined),
      ...opt("constraints", constraints.length > 0 ? constraints : undefined),
      engine,
      settings: engine.kind === "S3" ? this.s3Settings(cfg) : this.settings(cfg),
      lifeCycle: this.lifeCycle(cfg),
      ...opt("partitionBy", this.optString(cfg, "partitionBy")),
      ...opt("ttl", this.optString(cfg, "ttl")),
    };
    this.put(this.tables, "tables", table, node);
    this.renameHints(name, cfg, columns);
  }

  /**
   * What a table with an engine that holds no rows cannot have: the options ClickHouse does
   * not take with it (a sorting key, TTL, indexes, …: S3 has ORDER BY and PARTITION BY),
   * column expressions Kafka and S3Queue refuse, and the options moose-migrate does not plan.
   */
  private checkIntegrationTable(engine: IntegrationEngine, cfg: StaticObject | undefined, mapped: readonly MappedColumn[], name: string, node: DeclarationNode): void {
    for (const option of KEYLESS_OPTIONS) {
      if (cfg?.entries.get(option) === undefined) continue;
      if (engine.kind === "S3" && (option === "orderByFields" || option === "orderByExpression" || option === "partitionBy")) continue;
      throw this.bad(cfg, option, `is not an option of ${engine.kind} tables: ClickHouse's ${engine.kind} engine has no ${option === "ttl" ? "TTL" : option === "indexes" ? "data-skipping indexes" : option === "projections" ? "projections" : "sorting key or partitions"}`);
    }
    if (engine.kind === "Kafka" || engine.kind === "S3Queue") {
      for (const m of mapped) {
        const c = m.column;
        const kind = c.default !== undefined ? "DEFAULT" : c.materialized !== undefined ? "MATERIALIZED" : c.alias !== undefined ? "ALIAS" : undefined;
        if (kind === undefined) continue;
        throw new InvalidInputError("INVALID_CONFIG", `table ${name}: column ${c.name} has a ${kind} expression, which ClickHouse's ${engine.kind} engine does not take`, {
          position: positionOf(node),
          hint: `compute ${c.name} in the materialized view that reads ${name}`,
        });
      }
    }
  }

  /** `renamedFrom: "Old"` and `renamedColumns: { newName: "oldName" }` on a table's config. */
  private renameHints(name: string, cfg: StaticObject | undefined, columns: readonly Column[]): void {
    const declared = this.optString(cfg, "renamedFrom");
    // `renamedFrom: "<db_name>.Old"` names the managed database's table, as `"Old"` does.
    const from = declared !== undefined && this.managedDatabase !== undefined && declared.startsWith(`${this.managedDatabase}.`) ? declared.slice(this.managedDatabase.length + 1) : declared;
    if (from !== undefined && from !== name) {
      this.renames.tables.push({ from, to: name });
      if (this.current) this.current.fragment.renames.push({ phase: this.current.phase, table: { from, to: name } });
    }
    const renamed = cfg?.entries.get("renamedColumns");
    if (renamed === undefined) return;
    if (!isObjectValue(renamed)) throw this.bad(cfg!, "renamedColumns", "must be an object literal of new field names to old column names");
    for (const [to, old] of renamed.entries) {
      if (typeof old !== "string") throw this.bad(renamed, to, "must be the column's old name, a string");
      if (!columns.some((c) => c.name === to)) throw this.bad(renamed, to, `is not a field of ${name}`);
      this.renames.columns.push({ table: name, from: old, to });
      if (this.current) this.current.fragment.renames.push({ phase: this.current.phase, column: { table: name, from: old, to } });
    }
  }

  private addStream(name: string, node: DeclarationNode, columns: readonly MappedColumn[] | readonly Column[], cfg: StaticObject | undefined): void {
    if (!TOPIC_NAME.test(name) || name.length > 249 || name === "." || name === "..") {
      throw this.badName(node, "topic", name, "letters, digits, `.`, `_` and `-`, at most 249 characters");
    }
    const partitions = this.optNumber(cfg, "parallelism") ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) throw this.bad(cfg!, "parallelism", "must be a whole number of partitions, at least 1");
    const retentionSeconds = this.optNumber(cfg, "retentionPeriod");
    const { "retention.ms": retentionText, ...config } = this.stringRecord(cfg, "config");
    // A `retention.ms` in the topic's own config is its declared retention, kept in one place
    // (`retentionMs`, as introspection reads it back); only a topic that declares neither takes the project's.
    const fromConfig = retentionText === undefined ? undefined : Number(retentionText);
    if (fromConfig !== undefined && (!/^-?\d+$/.test(retentionText!.trim()) || fromConfig < -1 || !Number.isSafeInteger(fromConfig))) {
      throw this.bad(cfg!.entries.get("config") as StaticObject, "retention.ms", "must be a whole number of milliseconds, or -1 to keep records forever");
    }
    const fromPeriod = retentionSeconds === undefined ? undefined : Math.round(retentionSeconds * 1000);
    if (fromConfig !== undefined && fromPeriod !== undefined && fromConfig !== fromPeriod) {
      throw this.bad(cfg!, "retentionPeriod", `(${fromPeriod} ms) and config["retention.ms"] (${retentionText}) disagree; keep one of them`);
    }
    const topic: Topic = {
      name,
      partitions,
      retentionMs: fromPeriod ?? fromConfig ?? this.topicRetentionMs,
      config,
      columns: columns.map((c) => ("column" in c ? c.column : c)),
      lifeCycle: this.lifeCycle(cfg),
    };
    this.put(this.topics, "topics", topic, node);
    const dest = cfg?.entries.get("destination");
    if (dest !== undefined) {
      const table = this.refName(dest, ["table"], cfg!, "destination");
      this.put(this.processes, "processes", { name: `${name}_to_${table}`, sourceTopic: name, targetTable: table }, node);
    }
  }

  private addApi(api: ApiEndpoint, node: DeclarationNode): void {
    if (!API_PATH.test(api.name)) throw this.badName(node, "API path", api.name, "path segments of letters, digits, `_`, `-` and `.` separated by `/`");
    this.put(this.apis, "apis", api, node);
  }

  private addView(id: Identity, node: DeclarationNode): void {
    const cfg = this.requiredConfig(node, 0, "MaterializedView");
    const viewName = id.view!;
    if (!TABLE_NAME.test(viewName)) throw this.badName(node, "materialized view", viewName, "a letter or `_` followed by letters, digits and `_`");
    let target: string;
    if (id.targetRef) {
      target = this.refName(id.targetRef, ["table"], cfg, "targetTable");
      const table = this.tableNamed(target);
      if (table && node.typeArguments?.[0]) {
        const rows = this.columns(node, this.schema(node, "MaterializedView")).map((c) => c.column);
        const mismatch = recordMismatch(`materialized view ${viewName}`, rows, `table ${target}`, table.columns, positionOf(node));
        if (mismatch) this.errors.push(mismatch);
      }
    } else {
      target = id.table!;
      // `targetTable: { name, engine?, orderByFields? }` wins over the older top-level keys.
      const tableCfg = this.subset(cfg, ["orderByFields", "orderByExpression", "engine", "partitionBy", "ttl", "settings", "lifeCycle"]);
      const entries = new Map(tableCfg.entries);
      for (const [k, v] of id.targetConfig?.entries ?? []) if (k !== "name") entries.set(k, v);
      this.addTable(target, node, this.schema(node, "MaterializedView"), { kind: "object", entries, node: id.targetConfig?.node ?? cfg.node });
    }
    const select = cfg.entries.get("selectStatement");
    if (select === undefined) throw this.bad(cfg, "selectStatement", "is required: the SELECT that feeds the view");
    const { text, refs } = this.sqlText(select, cfg);
    const selectTables = cfg.entries.get("selectTables");
    const sources = new Set<string>(refs);
    if (Array.isArray(selectTables)) {
      for (const t of selectTables as StaticValue[]) sources.add(this.refName(t, ["table", "viewTarget"], cfg, "selectTables"));
    } else if (selectTables !== undefined) {
      throw this.bad(cfg, "selectTables", "must be an array of the tables the SELECT reads");
    }
    if (sources.size === 0) throw this.bad(cfg, "selectTables", "must list the tables the SELECT reads (or interpolate them into a sql`` template)");
    const view: MaterializedView = {
      name: viewName,
      selectStatement: text,
      sourceTables: [...sources].sort(),
      targetTable: target,
      lifeCycle: this.lifeCycle(cfg),
    };
    this.put(this.views, "views", view, node);
  }

  /** moose-lib's `new View(name, selectStatement, baseTables)`: a plain ClickHouse view. */
  private addPlainView(id: Identity, node: DeclarationNode): void {
    const name = id.plainView!;
    this.plainViews.add(name);
    if (!TABLE_NAME.test(name)) throw this.badName(node, "view", name, "a letter or `_` followed by letters, digits and `_`");
    const at = (i: number, what: string): StaticValue => {
      const arg = node.arguments?.[i];
      if (!arg) throw new InvalidInputError("INVALID_CONFIG", `new View("${name}", ...) needs ${what}`, { position: positionOf(node) });
      return this.evaluator.evaluate(arg, `${what} of View ${name}`);
    };
    const select = at(1, "its SELECT as the second argument (a string or a sql`` template)");
    const bases = at(2, "the tables it reads as the third argument (an array, possibly empty)");
    // The arguments as one object, so errors name the argument like a config key.
    const args: StaticObject = { kind: "object", entries: new Map([["selectStatement", select], ["baseTables", bases]]), node: node.arguments?.[1] ?? node };
    const { text, refs } = this.sqlText(select, args);
    const basesArg: StaticObject = { ...args, node: node.arguments?.[2] ?? node };
    const basesWanted = "must be an array of the OlapTables, MaterializedViews and Views the SELECT reads, as declared objects (not names)";
    if (!Array.isArray(bases) || !(bases as StaticValue[]).every(isRef)) throw this.bad(basesArg, "baseTables", basesWanted);
    const sources = new Set<string>(refs);
    for (const t of bases as StaticValue[]) sources.add(this.refName(t, ["table", "viewTarget"], basesArg, "baseTables"));
    sources.delete(name);
    this.put(this.plainViewMap, "plainViews", { name, selectStatement: text, sourceTables: [...sources].sort() }, node);
  }

  /**
   * moose-lib's `new SqlResource(name, setup, teardown, { pullsDataFrom, pushesDataTo })`:
   * statements kept as written (strings or sql`` templates), dependencies as the names of
   * the declared objects. What the statements may be is checked by ClickHouse's parser at
   * plan time (sql-resource-policy.ts), not here.
   */
  private addSqlResource(id: Identity, node: DeclarationNode): void {
    const name = id.sqlResource!;
    if (!TABLE_NAME.test(name)) throw this.badName(node, "SQL resource", name, "a letter or `_` followed by letters, digits and `_`");
    const at = (i: number, what: string): StaticValue | undefined => {
      const arg = node.arguments?.[i];
      return arg === undefined ? undefined : this.evaluator.evaluate(arg, `${what} of SqlResource ${name}`);
    };
    const statements = (i: number, key: "setup" | "teardown"): string[] => {
      const value = at(i, `the ${key} statements`);
      const arg: StaticObject = { kind: "object", entries: new Map([[key, value ?? null]]), node: node.arguments?.[i] ?? node };
      if (!Array.isArray(value)) throw this.bad(arg, key, `must be an array of SQL statements (strings or sql\`\` templates), one statement each`);
      return (value as StaticValue[]).map((v) => this.sqlText(v, arg).text);
    };
    const setup = statements(1, "setup");
    const teardown = statements(2, "teardown");
    const options = at(3, "the options");
    const deps = (key: "pullsDataFrom" | "pushesDataTo"): string[] => {
      if (options === undefined) return [];
      if (!isObjectValue(options)) throw new InvalidInputError("INVALID_CONFIG", `the fourth argument of new SqlResource("${name}", ...) must be { pullsDataFrom, pushesDataTo }`, { position: positionOf(node.arguments?.[3] ?? node) });
      const cfg = options as StaticObject;
      for (const k of cfg.entries.keys()) if (k !== "pullsDataFrom" && k !== "pushesDataTo") throw this.bad(cfg, k, "is not an option of SqlResource (pullsDataFrom, pushesDataTo)");
      const list = cfg.entries.get(key);
      if (list === undefined) return [];
      const wanted = "must be an array of the OlapTables, Views, MaterializedViews and SqlResources it uses, as declared objects (not names)";
      if (!Array.isArray(list) || !(list as StaticValue[]).every(isRef)) throw this.bad(cfg, key, wanted);
      return (list as StaticValue[]).map((v) => {
        const d = isRef(v) ? this.byNode.get(v.target) : undefined;
        if (d?.cls === "SqlResource" && isRef(v) && v.member.length === 0) return this.identities.get(v.target)?.sqlResource ?? this.refName(v, ["table", "viewTarget"], cfg, key);
        return this.refName(v, ["table", "viewTarget"], cfg, key);
      });
    };
    const pullsDataFrom = [...new Set(deps("pullsDataFrom"))].filter((n) => n !== name).sort();
    const pushesDataTo = [...new Set(deps("pushesDataTo"))].filter((n) => n !== name).sort();
    this.put(this.sqlResourceMap, "sqlResources", { name, setup, teardown, pullsDataFrom, pushesDataTo }, node);
  }

  private addPipeline(id: Identity, node: DeclarationNode): void {
    const cfg = this.config(node, 1, "IngestPipeline");
    const schema = this.schema(node, "IngestPipeline");
    // The pipeline's lifeCycle applies to the parts that do not set their own.
    const sub = (key: string): StaticObject | undefined => {
      const v = cfg?.entries.get(key);
      const own = isObjectValue(v as StaticValue) ? (v as StaticObject) : undefined;
      const lifeCycle = cfg?.entries.get("lifeCycle");
      if (lifeCycle === undefined || own?.entries.has("lifeCycle")) return own;
      return { kind: "object", entries: new Map([...(own?.entries ?? []), ["lifeCycle", lifeCycle]]), node: own?.node ?? cfg!.node };
    };
    if (id.table) this.addTable(id.table, node, schema, sub("table"));
    if (id.deadLetterTopic) this.addStream(id.deadLetterTopic, node, DEAD_LETTER_COLUMNS, sub("deadLetterQueue"));
    if (id.topic) {
      this.addStream(id.topic, node, this.columns(node, schema), sub("stream"));
      if (id.table) this.put(this.processes, "processes", { name: `${id.topic}_to_${id.table}`, sourceTopic: id.topic, targetTable: id.table }, node);
    }
    if (id.api) {
      const destination = id.topic ?? id.table;
      this.addApi({ name: id.api, kind: "ingest", columns: this.columns(node, schema).map((c) => c.column), ...opt("destination", destination), ...opt("version", this.optString(cfg, "version")) }, node);
    }
  }

  // ---- pieces ---------------------------------------------------------------

  private readonly columnCache = new Map<ts.Type, CachedColumns>();
  private readonly badTypes = new Set<ts.Type>();
  private readonly noted = new Set<string>();

  /** A declaration's record type: its columns kept from the last extraction, or the type to map now. */
  private schema(node: DeclarationNode, cls: string): Schema {
    const kept = this.resultOf.get(node)?.columns.get(node);
    return kept ? { kept } : { type: this.schemaType(node, cls) };
  }

  private columns(node: DeclarationNode, schema: Schema, options: { readonly allowEmpty?: boolean } = {}): MappedColumn[] {
    if ("kept" in schema) {
      this.note(schema.kept.notes);
      return schema.kept.columns;
    }
    const type = schema.type;
    const cached = this.columnCache.get(type);
    if (cached) {
      if (!this.badTypes.has(type)) {
        this.keep(node, { columns: cached.columns, notes: [] });
        this.note(cached.notes);
      }
      return cached.columns;
    }
    const result = this.mapper.columnsOf(type, node.typeArguments?.[0] ?? node, () => this.checker.typeToString(type));
    // An API without parameters is normal; a table or topic without columns is not. Not cached, so a
    // table declared with the same empty type still gets its error.
    if (options.allowEmpty && result.columns.length === 0 && result.errors.every((e) => e.code === "EMPTY_SCHEMA")) return [];
    if (result.errors.length > 0) {
      // Report each bad field once even when several declarations share the type.
      this.columnCache.set(type, { columns: [], notes: [] });
      this.badTypes.add(type);
      throw new InvalidInputErrors(result.errors);
    }
    const notes = result.notes.map((note) => `${this.display(note.position.file)}:${note.position.line}:${note.position.column}: ${note.message}`);
    this.note(notes);
    this.columnCache.set(type, { columns: result.columns, notes });
    this.keep(node, { columns: result.columns, notes });
    return result.columns;
  }

  /** Notes are said once per run, however many declarations share the type. */
  private note(notes: readonly string[]): void {
    // Every declaration's fragment has its notes: a file read alone must say them too.
    for (const n of notes) if (this.current) this.current.fragment.warnings.push({ phase: this.current.phase, text: n, note: true });
    for (const n of notes) {
      if (this.noted.has(n)) continue;
      this.noted.add(n);
      this.warnings.push(n);
    }
  }

  private keep(node: DeclarationNode, columns: CachedColumns): void {
    const kept = this.resultOf.get(node)?.columns;
    if (kept && !kept.has(node)) kept.set(node, columns);
  }

  private schemaType(node: DeclarationNode, cls: string): ts.Type {
    const arg = node.typeArguments?.[0];
    if (arg) return this.checker.getTypeFromTypeNode(arg);
    const type = this.checker.getTypeAtLocation(node);
    const inferred = (type as ts.TypeReference).typeArguments?.[0] ?? this.checker.getTypeArguments(type as ts.TypeReference)[0];
    if (!inferred || inferred.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      throw new InvalidInputError("MISSING_SCHEMA", `new ${cls}(...) needs its record type: write new ${cls}<YourSchema>(...)`, {
        position: positionOf(node),
        hint: "pass the interface describing the rows as the type argument",
      });
    }
    return inferred;
  }

  private orderBy(cfg: StaticObject | undefined, keys: string[], columns: readonly Column[], table: string): string[] {
    const fields = cfg?.entries.get("orderByFields");
    const expr = this.optString(cfg, "orderByExpression");
    if (fields !== undefined && expr !== undefined) throw this.bad(cfg!, "orderByExpression", "cannot be combined with orderByFields; use one of them");
    if (fields !== undefined) {
      if (!Array.isArray(fields) || !fields.every((f) => typeof f === "string")) throw this.bad(cfg!, "orderByFields", "must be an array of field names");
      for (const f of fields as string[]) {
        if (!columns.some((c) => c.name === f)) throw this.bad(cfg!, "orderByFields", `names "${f}", which is not a field of ${table} (fields: ${columns.map((c) => c.name).join(", ")})`);
      }
      // Key<> fields are the PRIMARY KEY, which ClickHouse requires to be a prefix of the ORDER BY.
      if (keys.length > 0 && keys.some((k, i) => fields[i] !== k)) {
        throw this.bad(cfg!, "orderByFields", `must start with ${table}'s Key<> fields (${keys.join(", ")}), in that order: ClickHouse needs the primary key to be a prefix of the sorting key`);
      }
      return [...(fields as string[])];
    }
    if (expr !== undefined) {
      const trimmed = expr.trim();
      return trimmed === "tuple()" || trimmed === "" ? [] : [trimmed];
    }
    return keys;
  }

  /**
   * `primaryKeyExpression: "(userId, cityHash64(id))"` as entries; left out when it is the
   * whole ORDER BY (ClickHouse's default, and how introspection reads it back).
   */
  private primaryKey(cfg: StaticObject | undefined, declaredOrderBy: readonly string[]): string[] | undefined {
    let orderBy = declaredOrderBy;
    const text = this.optString(cfg, "primaryKeyExpression");
    if (text === undefined || text.trim() === "") return undefined;
    const entries = splitTopLevel(unwrapParentheses(text.trim()));
    // `orderByExpression: "(a, b)"` is one entry as written; compare with its parts.
    if (orderBy.length === 1) orderBy = splitTopLevel(unwrapParentheses(orderBy[0] as string));
    if (entries.length === orderBy.length && entries.every((e, i) => e === orderBy[i])) return undefined;
    if (entries.length > orderBy.length || entries.some((e, i) => e !== orderBy[i])) {
      throw this.bad(cfg!, "primaryKeyExpression", `is (${entries.join(", ")}), which does not start the ORDER BY (${orderBy.join(", ") || "tuple()"}); ClickHouse needs the primary key to be a prefix of the sorting key`);
    }
    return entries;
  }

  /** moose-lib's `indexes: [{ name, expression, type, arguments?, granularity? }]`, sorted by name. */
  private indexes(cfg: StaticObject | undefined): TableIndex[] {
    const v = cfg?.entries.get("indexes");
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw this.bad(cfg!, "indexes", "must be an array of { name, expression, type, arguments?, granularity? }");
    const out: TableIndex[] = [];
    for (const item of v as StaticValue[]) {
      if (!isObjectValue(item)) throw this.bad(cfg!, "indexes", "must be an array of object literals { name, expression, type, arguments?, granularity? }");
      const args = item.entries.get("arguments");
      if (args !== undefined && (!Array.isArray(args) || !args.every((a) => typeof a === "string" || typeof a === "number"))) throw this.bad(item, "arguments", "must be an array of the index type's arguments, e.g. [\"0.01\"]");
      const type = this.reqString(item, "type", "an index");
      const granularity = this.optNumber(item, "granularity") ?? 1;
      if (!Number.isInteger(granularity) || granularity < 1) throw this.bad(item, "granularity", "must be a whole number, at least 1");
      const argList = (args as Array<string | number> | undefined) ?? [];
      out.push({ name: this.reqString(item, "name", "an index"), expression: this.reqString(item, "expression", "an index"), type: argList.length > 0 ? `${type}(${argList.join(", ")})` : type, granularity });
    }
    return checkUniqueNames(out, cfg!, "indexes", this).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** `constraints: [{ name, expression, type: "CHECK" | "ASSUME" }]`, sorted by name. */
  private constraints(cfg: StaticObject | undefined): TableConstraint[] {
    const v = cfg?.entries.get("constraints");
    if (v === undefined) return [];
    const shape = 'must be an array of object literals { name, expression, type: "CHECK" | "ASSUME" }';
    if (!Array.isArray(v)) throw this.bad(cfg!, "constraints", shape);
    const out: TableConstraint[] = [];
    for (const item of v as StaticValue[]) {
      if (!isObjectValue(item)) throw this.bad(cfg!, "constraints", shape);
      const type = this.reqString(item, "type", "a constraint");
      if (type !== "CHECK" && type !== "ASSUME") throw this.bad(item, "type", 'must be "CHECK" (every INSERT is checked) or "ASSUME" (the optimizer may rely on it)');
      const expression = this.reqString(item, "expression", "a constraint").trim();
      if (expression === "") throw this.bad(item, "expression", "must be a boolean expression over the table's columns");
      out.push({ name: this.reqString(item, "name", "a constraint"), type, expression });
    }
    return checkUniqueNames(out, cfg!, "constraints", this).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** moose-lib's `projections: [{ name, body }]`, sorted by name. */
  private projections(cfg: StaticObject | undefined): TableProjection[] {
    const v = cfg?.entries.get("projections");
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw this.bad(cfg!, "projections", "must be an array of { name, body }");
    const out: TableProjection[] = [];
    for (const item of v as StaticValue[]) {
      if (!isObjectValue(item)) throw this.bad(cfg!, "projections", "must be an array of object literals { name, body }");
      out.push({ name: this.reqString(item, "name", "a projection"), body: this.reqString(item, "body", "a projection").trim() });
    }
    return checkUniqueNames(out, cfg!, "projections", this).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The engine with its deployment: `Replicated*` engines are the merging engine with
   * `replicated` (keeperPath and replicaName both or neither, as moose-lib requires), and
   * `cluster` puts the table's DDL ON CLUSTER.
   */
  private engine(cfg: StaticObject | undefined, columns: readonly Column[], table: string): TableEngine {
    const merging = this.mergingEngine(cfg, columns, table);
    const value = cfg?.entries.get("engine");
    const cluster = this.optString(cfg, "cluster");
    if (cluster !== undefined && cluster.trim() === "") throw this.bad(cfg!, "cluster", "must name a cluster of the server (<remote_servers>), or be left out");
    if (cluster !== undefined && this.knownClusters !== undefined && !this.knownClusters.includes(cluster)) {
      const known = this.knownClusters.length === 0 ? "moose.config.toml lists none" : `moose.config.toml lists ${this.knownClusters.map((c) => JSON.stringify(c)).join(", ")}`;
      throw new InvalidInputError("CLUSTER_UNKNOWN", `table ${table}: cluster ${JSON.stringify(cluster)} is not a [[clickhouse_config.clusters]] entry (${known})`, {
        position: this.keyPosition(cfg!, "cluster"),
        hint: `add [[clickhouse_config.clusters]] name = ${JSON.stringify(cluster)} to moose.config.toml (a <remote_servers> cluster of the server), or name one it lists`,
      });
    }
    const deployment = cluster === undefined ? {} : { cluster };
    if (typeof value !== "string" || !value.startsWith("Replicated")) return { ...merging, ...deployment };
    const keeperPath = this.optString(cfg, "keeperPath");
    const replicaName = this.optString(cfg, "replicaName");
    if ((keeperPath === undefined) !== (replicaName === undefined)) {
      throw this.bad(cfg!, keeperPath === undefined ? "replicaName" : "keeperPath", `needs ${keeperPath === undefined ? "keeperPath" : "replicaName"} too: ${value} takes both or neither (neither: moose uses ${DEFAULT_KEEPER_PATH} and ${DEFAULT_REPLICA_NAME})`);
    }
    if (keeperPath !== undefined && !keeperPath.startsWith("/")) throw this.bad(cfg!, "keeperPath", `is ${JSON.stringify(keeperPath)}; a ZooKeeper path starts with /`);
    if (replicaName !== undefined && replicaName.trim() === "") throw this.bad(cfg!, "replicaName", "must not be empty (usually \"{replica}\")");
    const replicated = canonicalReplication({ ...opt("keeperPath", keeperPath), ...opt("replicaName", replicaName) });
    return { ...merging, replicated, ...deployment };
  }

  private mergingEngine(cfg: StaticObject | undefined, columns: readonly Column[], table: string): MergeBehaviour | IntegrationEngine {
    const raw = cfg?.entries.get("engine");
    const value = typeof raw === "string" && raw.startsWith("Replicated") && !UNPLANNED_ENGINES.has(raw) ? raw.slice("Replicated".length) : raw;
    if (typeof raw !== "string" || !UNPLANNED_ENGINES.has(raw)) {
      const engine = typeof raw === "string" ? raw : "MergeTree";
      for (const [key, engines] of ENGINE_OPTIONS) {
        if (cfg?.entries.get(key) !== undefined && !engines.includes(engine)) {
          const which = engines.every((e) => e.startsWith("Replicated")) ? "the Replicated engines" : engines.length === 1 ? engines[0] : `${engines.slice(0, -1).join(", ")} and ${engines[engines.length - 1]}`;
          throw this.bad(cfg, key, `is an option of ${which} only; this table's engine is ${engine}`);
        }
      }
    }
    if (value === undefined) return { kind: "MergeTree" };
    const column = (key: string): string | undefined => {
      const v = this.optString(cfg, key);
      if (v !== undefined && !columns.some((c) => c.name === v)) throw this.bad(cfg!, key, `names "${v}", which is not a field of ${table}`);
      return v;
    };
    switch (value) {
      case "MergeTree":
        return { kind: "MergeTree" };
      case "AggregatingMergeTree":
        return { kind: "AggregatingMergeTree" };
      case "ReplacingMergeTree":
        return { kind: "ReplacingMergeTree", ...opt("ver", column("ver")), ...opt("isDeleted", column("isDeleted")) };
      case "SummingMergeTree": {
        const cols = cfg!.entries.get("columns");
        if (cols === undefined) return { kind: "SummingMergeTree" };
        if (!Array.isArray(cols) || !cols.every((c) => typeof c === "string")) throw this.bad(cfg!, "columns", "must be an array of field names");
        return { kind: "SummingMergeTree", columns: cols as string[] };
      }
      case "CollapsingMergeTree": {
        const sign = column("sign");
        if (sign === undefined) throw this.bad(cfg!, "sign", "is required for CollapsingMergeTree: the Int8 field holding 1 or -1");
        return { kind: "CollapsingMergeTree", sign };
      }
      case "VersionedCollapsingMergeTree": {
        const sign = column("sign");
        if (sign === undefined) throw this.bad(cfg!, "sign", "is required for VersionedCollapsingMergeTree: the Int8 field holding 1 or -1");
        const version = column("ver");
        if (version === undefined) throw this.bad(cfg!, "ver", "is required for VersionedCollapsingMergeTree: the field holding the row's version");
        return { kind: "VersionedCollapsingMergeTree", sign, version };
      }
      case "Buffer": {
        const database = this.reqString(cfg!, "targetDatabase", "the Buffer engine").trim();
        const target = this.reqString(cfg!, "targetTable", "the Buffer engine");
        const n = (key: string, required: boolean): number | undefined => {
          const v = required ? this.reqNumber(cfg!, key, "the Buffer engine") : this.optNumber(cfg, key);
          if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw this.bad(cfg!, key, "must be a whole number, at least 0");
          return v;
        };
        const [numLayers, minTime, maxTime, minRows, maxRows, minBytes, maxBytes] = ["numLayers", "minTime", "maxTime", "minRows", "maxRows", "minBytes", "maxBytes"].map((k) => n(k, true) as number) as [number, number, number, number, number, number, number];
        if (target === table && (database === "currentDatabase()" || database === "")) throw this.bad(cfg!, "targetTable", "names the Buffer table itself; name the table it flushes to");
        return {
          kind: "Buffer",
          ...(database === "currentDatabase()" || database === "" ? {} : { database }),
          table: target,
          numLayers,
          minTime,
          maxTime,
          minRows,
          maxRows,
          minBytes,
          maxBytes,
          ...opt("flushTime", n("flushTime", false) || undefined),
          ...opt("flushRows", n("flushRows", false) || undefined),
          ...opt("flushBytes", n("flushBytes", false) || undefined),
        };
      }
      case "Merge": {
        const source = this.reqString(cfg!, "sourceDatabase", "the Merge engine").trim();
        const tablesRegexp = this.reqString(cfg!, "tablesRegexp", "the Merge engine");
        return { kind: "Merge", ...(source === "currentDatabase()" || source === "" ? {} : { sourceDatabase: source }), tablesRegexp };
      }
      case "Kafka":
        return {
          kind: "Kafka",
          brokerList: this.reqString(cfg!, "brokerList", "the Kafka engine"),
          topicList: this.reqString(cfg!, "topicList", "the Kafka engine"),
          groupName: this.reqString(cfg!, "groupName", "the Kafka engine"),
          format: this.reqString(cfg!, "format", "the Kafka engine"),
        };
      case "Distributed": {
        // moose-lib's one `cluster` key is both the engine's cluster and the table's (ON CLUSTER, read where the deployment is).
        const targetCluster = this.reqString(cfg!, "cluster", "the Distributed engine").trim();
        const database = this.reqString(cfg!, "targetDatabase", "the Distributed engine").trim();
        const target = this.reqString(cfg!, "targetTable", "the Distributed engine");
        const shardingKey = this.optString(cfg, "shardingKey")?.trim();
        const policyName = this.optString(cfg, "policyName");
        if (policyName !== undefined && (shardingKey === undefined || shardingKey === "")) throw this.bad(cfg!, "policyName", "needs a shardingKey: ClickHouse takes Distributed's optional arguments in order (sharding key, then policy)");
        if (target === table && (database === "currentDatabase()" || database === "")) throw this.bad(cfg!, "targetTable", "names the Distributed table itself; name the table it reads on each shard");
        return {
          kind: "Distributed",
          targetCluster,
          ...(database === "currentDatabase()" || database === "" ? {} : { database }),
          table: target,
          ...opt("shardingKey", shardingKey === "" ? undefined : shardingKey),
          ...opt("policyName", policyName),
        };
      }
      case "S3":
      case "S3Queue": {
        const path = this.reqString(cfg!, value === "S3" ? "path" : "s3Path", `the ${value} engine`);
        const base = { path, format: this.reqString(cfg!, "format", `the ${value} engine`), ...opt("compression", this.optString(cfg, "compression")), ...opt("credentials", this.s3Credentials(cfg!, table)) };
        return value === "S3" ? { kind: value, ...base } : { kind: value, ...base, ...opt("headers", this.headers(cfg!, table)) };
      }
      default:
        if (typeof value === "string" && UNPLANNED_ENGINES.has(value)) {
          throw this.bad(cfg!, "engine", `is ${value}, which is not planned: ${UNPLANNED_ENGINE_REASONS.get(value)}`);
        }
        throw this.bad(cfg!, "engine", `is ${JSON.stringify(value)}; use one of MergeTree, ReplacingMergeTree, SummingMergeTree, AggregatingMergeTree, CollapsingMergeTree, VersionedCollapsingMergeTree or their Replicated forms (ClickHouseEngines.X)`);
    }
  }

  /**
   * A table's settings: text, or `mooseRuntimeEnv.get("NAME")` (Kafka's `kafka_sasl_password`,
   * …), kept as a reference and read from the environment when the statement is sent.
   */
  private settings(cfg: StaticObject | undefined): Record<string, SettingValue> {
    const v = cfg?.entries.get("settings");
    if (v === undefined) return {};
    if (!isObjectValue(v)) throw this.bad(cfg!, "settings", "must be an object literal of names to values");
    const out: Record<string, SettingValue> = {};
    for (const [k, val] of v.entries) {
      if (isRuntimeEnvValue(val)) {
        out[k] = this.runtimeEnvRef(val);
        continue;
      }
      if (typeof val !== "string" && typeof val !== "number" && typeof val !== "boolean") throw this.bad(v, k, 'must be a string, number or boolean, or mooseRuntimeEnv.get("NAME")');
      if (SECRET_SETTINGS.has(k)) throw this.secretInSource(v, k, `setting ${k}`);
      out[k] = String(val);
    }
    return out;
  }

  /** An S3 table's settings, with moose-lib's `partitionStrategy` / `partitionColumnsInDataFile` among them (they are engine settings in ClickHouse). */
  private s3Settings(cfg: StaticObject | undefined): Record<string, SettingValue> {
    const out = this.settings(cfg);
    for (const [option, setting] of S3_PARTITION_OPTIONS) {
      const v = cfg?.entries.get(option);
      if (v === undefined) continue;
      let text: string;
      if (option === "partitionStrategy") {
        if (typeof v !== "string" || !/^(wildcard|hive)$/i.test(v)) throw this.bad(cfg!, option, 'must be "wildcard" or "hive"');
        text = v.toLowerCase();
      } else {
        if (v !== true && v !== false && !(typeof v === "string" && /^(true|false|1|0)$/i.test(v))) throw this.bad(cfg!, option, 'must be true or false (or "true" / "false")');
        text = v === true || (typeof v === "string" && /^(true|1)$/i.test(v)) ? "1" : "0";
      }
      const set = out[setting];
      if (set !== undefined && set !== text) throw this.bad(cfg!, option, `says ${text} and settings.${setting} says ${typeof set === "string" ? set : "another value"}; keep one`);
      out[setting] = text;
    }
    return out;
  }

  /** `mooseRuntimeEnv.get("NAME")` as a reference; the name must be one an environment can hold. */
  private runtimeEnvRef(v: RuntimeEnvValue): RuntimeEnvRef {
    if (!RUNTIME_ENV_NAME.test(v.name)) {
      throw new InvalidInputError("RUNTIME_ENV_INVALID", `mooseRuntimeEnv.get(${JSON.stringify(v.name)}) does not name an environment variable`, {
        position: positionOf(v.node),
        hint: "a variable name is a letter or _ followed by letters, digits and _ (e.g. AWS_SECRET_ACCESS_KEY)",
      });
    }
    return { runtimeEnv: v.name };
  }

  /** A secret written as text in the source: refused, never copied (the README's *Security* says why). */
  private secretInSource(cfg: StaticObject, key: string, what: string): InvalidInputError {
    return new InvalidInputError("SECRET_IN_SOURCE", `${what} is written in the source; moose-migrate would have to copy it into migration files, the ledger and printed SQL`, {
      position: this.keyPosition(cfg, key),
      hint: `read it from the environment when the statement is sent: ${key}: mooseRuntimeEnv.get("NAME"), and set NAME where moose migrate deploy and moose dev run`,
    });
  }

  /** moose-lib's `awsAccessKeyId` / `awsSecretAccessKey`: both `mooseRuntimeEnv.get(…)`, or neither (a public bucket, NOSIGN). */
  private s3Credentials(cfg: StaticObject, table: string): S3Credentials | undefined {
    const keys = ["awsAccessKeyId", "awsSecretAccessKey"] as const;
    const values = keys.map((k) => cfg.entries.get(k));
    if (values.every((v) => v === undefined)) return undefined;
    const refs = keys.map((key, i) => {
      const v = values[i];
      if (v === undefined) throw this.bad(cfg, keys[1 - i]!, `is set without ${key}: table ${table} signs its S3 requests with the pair (leave both out for a public bucket, read unsigned)`);
      if (typeof v === "string" || typeof v === "number") throw this.secretInSource(cfg, key, `table ${table}: ${key}`);
      if (!isRuntimeEnvValue(v)) throw this.bad(cfg, key, 'must be mooseRuntimeEnv.get("NAME"), the environment variable holding it');
      return this.runtimeEnvRef(v);
    });
    return { accessKeyId: refs[0]!, secretAccessKey: refs[1]! };
  }

  /** S3Queue's `headers`: names to text or `mooseRuntimeEnv.get(…)` values, sent with every request. */
  private headers(cfg: StaticObject, table: string): Record<string, SettingValue> | undefined {
    const v = cfg.entries.get("headers");
    if (v === undefined) return undefined;
    if (!isObjectValue(v)) throw this.bad(cfg, "headers", "must be an object literal of header names to values");
    const out: Record<string, SettingValue> = {};
    for (const [k, val] of v.entries) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) throw this.bad(v, k, `is not an HTTP header name (table ${table})`);
      if (isRuntimeEnvValue(val)) out[k] = this.runtimeEnvRef(val);
      else if (typeof val === "string") out[k] = val;
      else throw this.bad(v, k, 'must be a string or mooseRuntimeEnv.get("NAME")');
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }

  private stringRecord(cfg: StaticObject | undefined, key: string): Record<string, string> {
    const v = cfg?.entries.get(key);
    if (v === undefined) return {};
    if (!isObjectValue(v)) throw this.bad(cfg!, key, "must be an object literal of names to values");
    const out: Record<string, string> = {};
    for (const [k, val] of v.entries) {
      if (typeof val !== "string" && typeof val !== "number" && typeof val !== "boolean") throw this.bad(v, k, "must be a string, number or boolean");
      out[k] = String(val);
    }
    return out;
  }

  private lifeCycle(cfg: StaticObject | undefined): LifeCycle {
    const v = cfg?.entries.get("lifeCycle");
    if (v === undefined) return "FULLY_MANAGED";
    if (v === "FULLY_MANAGED" || v === "DELETION_PROTECTED" || v === "EXTERNALLY_MANAGED") return v;
    throw this.bad(cfg!, "lifeCycle", "must be LifeCycle.FULLY_MANAGED, LifeCycle.DELETION_PROTECTED or LifeCycle.EXTERNALLY_MANAGED");
  }

  /** SQL text of a `selectStatement`, with interpolated tables and columns quoted. */
  private sqlText(value: StaticValue, cfg: StaticObject): { text: string; refs: string[] } {
    if (typeof value === "string") return { text: value.trim(), refs: [] };
    if (typeof value === "object" && value !== null && !Array.isArray(value) && (value as { kind?: string }).kind === "sql") {
      const refs: string[] = [];
      let text = "";
      for (const part of (value as { parts: ReadonlyArray<string | number | ObjectRef | ColumnRefValue> }).parts) {
        if (typeof part === "string") text += part;
        else if (typeof part === "number") text += String(part);
        else if (part.kind === "column") text += this.columnSql(part);
        else {
          const name = this.refName(part, ["table", "viewTarget"], cfg, "selectStatement");
          refs.push(name);
          text += quoteTableName(name);
        }
      }
      return { text: text.trim(), refs };
    }
    throw this.bad(cfg, "selectStatement", "must be a string or a sql`...` template");
  }

  /**
   * `${table.columns.x}` in a sql template: `` `x` ``, or, as moose-lib renders an
   * `Aggregated<"fn", ...>` column, `` fnMerge(`x`) `` (the state must be merged to be read).
   */
  private columnSql(part: ColumnRefValue): string {
    const quoted = quoteIdentifier(part.column);
    const table = this.tableOf(part.owner);
    const type = table && this.tableNamed(table)?.columns.find((c) => c.name === part.column)?.type;
    const fn = type?.startsWith("AggregateFunction(") ? aggregateFunctionOf(type) : undefined;
    if (fn === undefined) return quoted;
    const open = fn.indexOf("(");
    return open < 0 ? `${fn}Merge(${quoted})` : `${fn.slice(0, open)}Merge${fn.slice(open)}(${quoted})`;
  }

  private tableOf(ref: ObjectRef): string | undefined {
    const id = this.idOf(ref.target);
    const d = this.byNode.get(ref.target);
    if (!id || !d) return undefined;
    const member = ref.member.join(".");
    if (member === "" && d.cls === "OlapTable") return id.table;
    if (member === "table" && d.cls === "IngestPipeline") return id.table;
    if ((member === "" || member === "targetTable") && d.cls === "MaterializedView") return id.table ?? (id.targetRef && this.tableOf(id.targetRef));
    return undefined;
  }

  /** The name of the object a reference points at, of one of the allowed kinds. */
  private refName(value: StaticValue, kinds: ReadonlyArray<"table" | "topic" | "viewTarget">, cfg: StaticObject, key: string): string {
    if (!isRef(value)) throw this.bad(cfg, key, `must refer to a declared ${kinds.map((k) => (k === "topic" ? "Stream" : "OlapTable")).join(" or ")}`);
    const id = this.idOf(value.target);
    const d = this.byNode.get(value.target);
    if (!id || !d) throw this.bad(cfg, key, "refers to an object that could not be read (see the other errors)");
    const member = value.member.join(".");
    const pick = (): string | undefined => {
      if (member === "") {
        if (d.cls === "MaterializedView" && kinds.includes("viewTarget")) return id.table ?? (id.targetRef && this.idOf(id.targetRef.target)?.table);
        if (d.cls === "View" && kinds.includes("viewTarget")) return id.plainView;
        if (kinds.includes("table") && d.cls === "OlapTable") return id.table;
        if (kinds.includes("topic") && (d.cls === "Stream" || d.cls === "DeadLetterQueue")) return id.topic;
        return undefined;
      }
      if (member === "table" && d.cls === "IngestPipeline" && kinds.includes("table")) return id.table;
      if (member === "stream" && d.cls === "IngestPipeline" && kinds.includes("topic")) return id.topic;
      if (member === "deadLetterQueue" && d.cls === "IngestPipeline" && kinds.includes("topic")) return id.deadLetterTopic;
      if (member === "targetTable" && d.cls === "MaterializedView") return id.table ?? (id.targetRef && this.idOf(id.targetRef.target)?.table);
      return undefined;
    };
    const name = pick();
    if (name === undefined) {
      throw this.bad(cfg, key, `refers to a ${d.cls}${member ? `'s ${member}` : ""}, but needs a ${kinds.map((k) => (k === "topic" ? "Stream" : "table")).join(" or ")}`);
    }
    return name;
  }

  /**
   * The declaration moose-lib's registry would return for `getter(name)`: tables by table
   * name (an OlapTable, an IngestPipeline's table, a MaterializedView's created target),
   * streams by topic name, the rest by their own name.
   */
  private registryRef(getter: string, name: string): ObjectRef | undefined {
    this.usedRegistry = true;
    for (const d of this.declarations) {
      // Declarations not identified yet (the getter is read while identifying another one) are identified now.
      if (!this.identities.has(d.node) && !this.identifying.has(d.node)) {
        this.identifying.add(d.node);
        try {
          const found = this.quietly(() => this.identify(d));
          if (found) this.identities.set(d.node, found);
        } finally {
          this.identifying.delete(d.node);
        }
      }
      const id = this.identities.get(d.node);
      if (!id) continue;
      const ref = (member: readonly string[]): ObjectRef => ({ kind: "ref", target: d.node, member });
      switch (getter) {
        case "getTable":
          if (id.table !== name) break;
          if (d.cls === "OlapTable") return ref([]);
          if (d.cls === "IngestPipeline") return ref(["table"]);
          if (d.cls === "MaterializedView") return ref(["targetTable"]);
          break;
        case "getStream":
          if (id.topic === name && (d.cls === "Stream" || d.cls === "DeadLetterQueue")) return ref([]);
          if (id.topic === name && d.cls === "IngestPipeline") return ref(["stream"]);
          break;
        case "getMaterializedView":
          if (id.view === name && d.cls === "MaterializedView") return ref([]);
          break;
        case "getView":
          if (id.plainView === name && d.cls === "View") return ref([]);
          break;
        case "getWorkflow":
          if (id.workflow === name && d.cls === "Workflow") return ref([]);
          break;
        case "getIngestApi":
        case "getApi":
        case "getSqlResource":
        case "getWebApp":
          if (d.cls !== "OlapTable" && d.cls !== "Stream" && this.quietly(() => this.nameArg(d.node, d.cls)) === name) return ref([]);
          break;
      }
    }
    return undefined;
  }

  // ---- config access ---------------------------------------------------------

  private nameArg(node: DeclarationNode, cls: string): string {
    const arg = node.arguments?.[0];
    if (!arg) throw new InvalidInputError("MISSING_NAME", `new ${cls}(...) needs a name as its first argument`, { position: positionOf(node) });
    const v = this.evaluator.evaluate(arg, `the name of this ${cls}`);
    if (typeof v !== "string") throw notStatic(arg, `the name of this ${cls}`, 'write the name as a string literal, e.g. new OlapTable<T>("Users")');
    return v;
  }

  private config(node: DeclarationNode, index: number, cls: string): StaticObject | undefined {
    const arg = node.arguments?.[index];
    if (!arg) return undefined;
    const v = this.evaluator.evaluate(arg, `the config of this ${cls}`);
    if (v === undefined) return undefined;
    if (!isObjectValue(v)) throw notStatic(arg, `the config of this ${cls}`, "write the config as an object literal");
    if (!this.checkedOptions.has(arg)) {
      const shape = this.argumentShape(node, index);
      if (shape) this.checkOptions(v, shape, cls);
      this.checkedOptions.add(arg);
    }
    return v;
  }

  /** What argument `index` of the library constructor or factory that `node` calls accepts. */
  private argumentShape(node: DeclarationNode, index: number): OptionShape | undefined {
    const callee = this.librarySymbol(node.expression);
    return callee && this.shapes.ofArgument(callee, ts.isNewExpression(node) ? "construct" : "call", index);
  }

  /**
   * Refuses an option the library does not declare (a misspelt `orderByFields` would
   * otherwise be ignored, and the table ordered by something else), in nested option
   * objects too. A table whose engine cannot be planned is refused for that instead.
   */
  private checkOptions(cfg: StaticObject, shape: OptionShape, cls: string): void {
    if (shape.open) return;
    const engine = cfg.entries.get("engine");
    if (typeof engine === "string" && UNPLANNED_ENGINES.has(engine)) return;
    for (const [key, value] of cfg.entries) {
      const types = shape.keys.get(key);
      if (!types) {
        const known = [...shape.keys.keys()].filter((k) => !INTERNAL_MEMBERS.has(k));
        const suggestion = closestName(key, known);
        throw new InvalidInputError("INVALID_CONFIG", `${key} is not an option of ${cls}${suggestion ? `; did you mean ${suggestion}?` : ""}`, {
          position: this.keyPosition(cfg, key),
          hint: `${cls} options here: ${known.join(", ")}`,
        });
      }
      if (isObjectValue(value)) {
        const nested = this.shapes.ofTypes(types);
        if (nested) this.checkOptions(value, nested, cls);
      }
    }
  }

  private requiredConfig(node: DeclarationNode, index: number, cls: string): StaticObject {
    const cfg = this.config(node, index, cls);
    if (!cfg) throw new InvalidInputError("MISSING_CONFIG", `new ${cls}(...) needs its config object as argument ${index + 1}`, { position: positionOf(node) });
    return cfg;
  }

  private subset(cfg: StaticObject, keys: readonly string[]): StaticObject {
    return { kind: "object", node: cfg.node, entries: new Map([...cfg.entries].filter(([k]) => keys.includes(k))) };
  }

  private enabled(cfg: StaticObject | undefined, key: string): boolean {
    const v = cfg?.entries.get(key);
    return v === true || isObjectValue(v as StaticValue);
  }

  optString(cfg: StaticObject | undefined, key: string): string | undefined {
    const v = cfg?.entries.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw this.bad(cfg!, key, "must be a string");
    return v;
  }

  private reqString(cfg: StaticObject, key: string, cls: string): string {
    const v = this.optString(cfg, key);
    if (v === undefined) throw this.bad(cfg, key, `is required by ${cls}`);
    return v;
  }

  private reqNumber(cfg: StaticObject, key: string, cls: string): number {
    const v = this.optNumber(cfg, key);
    if (v === undefined) throw this.bad(cfg, key, `is required by ${cls}`);
    return v;
  }

  private optNumber(cfg: StaticObject | undefined, key: string): number | undefined {
    const v = cfg?.entries.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number") throw this.bad(cfg!, key, "must be a number");
    return v;
  }

  private optBoolean(cfg: StaticObject | undefined, key: string): boolean | undefined {
    const v = cfg?.entries.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") throw this.bad(cfg!, key, "must be true or false");
    return v;
  }

  badOption(cfg: StaticObject, key: string, problem: string): InvalidInputError {
    return this.bad(cfg, key, problem);
  }

  private bad(cfg: StaticObject, key: string, problem: string): InvalidInputError {
    return new InvalidInputError("INVALID_CONFIG", `${key} ${problem}`, { position: this.keyPosition(cfg, key) });
  }

  /** Where `key` is written in a config object literal, else the config itself (a key from a spread). */
  private keyPosition(cfg: StaticObject, key: string): SourcePosition {
    const prop = ts.isObjectLiteralExpression(cfg.node)
      ? cfg.node.properties.find((p) => p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && p.name.text === key)
      : undefined;
    return positionOf(prop ?? cfg.node);
  }

  private badName(node: DeclarationNode, what: string, name: string, allowed: string): InvalidInputError {
    return new InvalidInputError("INVALID_NAME", `"${name}" is not a valid ${what} name: use ${allowed}`, { position: positionOf(node.arguments?.[0] ?? node) });
  }

  private put<T extends { readonly name: string }>(into: Record<string, T>, kind: string, obj: T, node: ts.Node): void {
    const key = `${kind}:${obj.name}`;
    const existing = this.locations[key];
    if (existing) {
      const where = positionOf(node);
      // The same pipeline node declaring its own parts is not a duplicate.
      if (existing.file === where.file && existing.line === where.line && existing.column === where.column) return;
      throw new InvalidInputError("DUPLICATE_NAME", `${KIND_WORDS[kind] ?? kind} "${obj.name}" is declared twice (first at ${this.display(existing.file)}:${existing.line}:${existing.column})`, {
        position: where,
        hint: "give each object a unique name, or a version",
      });
    }
    into[obj.name] = obj;
    this.locations[key] = positionOf(node);
    if (this.current) this.current.fragment.puts.push({ phase: this.current.phase, kind, object: obj, at: this.locations[key]! });
  }
}

/** `sum` of `AggregateFunction(sum, Float64)`, `quantiles(0.5, 0.9)` of `AggregateFunction(quantiles(0.5, 0.9), UInt64)`. */
function aggregateFunctionOf(type: string): string | undefined {
  const inner = type.slice("AggregateFunction(".length, -1);
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) return inner.slice(0, i).trim();
  }
  return inner.trim() || undefined;
}

const KIND_WORDS: Readonly<Record<string, string>> = {
  tables: "table",
  topics: "topic",
  views: "materialized view",
  apis: "API endpoint",
  workflows: "workflow",
  processes: "sync process",
  plainViews: "view",
  sqlResources: "SqlResource",
};

/** Which enclosing construct makes a declaration dynamic, if any. */
function enclosingScope(node: ts.Node): string | undefined {
  for (let p = node.parent; p; p = p.parent) {
    if (ts.isFunctionLike(p)) return "a function";
    if (ts.isIterationStatement(p, false)) return "a loop";
    if (ts.isIfStatement(p) || ts.isConditionalExpression(p) || ts.isSwitchStatement(p)) return "a condition";
    if (ts.isSourceFile(p)) return undefined;
  }
  return undefined;
}

function versioned(name: string, cfg: StaticObject | undefined, reader: DeclarationReader, key: string): string {
  const version = reader.optString(cfg, key);
  return version === undefined ? name : `${name}_${version.replace(/\./g, "_")}`;
}

function apiPath(prefix: string, name: string, version: string | undefined, path: string | undefined): string {
  if (path === undefined) return version === undefined ? `${prefix}/${name}` : `${prefix}/${name}/${version}`;
  let custom = path.replace(/^\/+|\/+$/g, "");
  // moose-lib prefixes a custom ingest path with `ingest/` unless it already starts with it.
  if (prefix === "ingest" && custom.startsWith("ingest/")) custom = custom.slice("ingest/".length);
  // Moose appends the version to a custom path unless the path already ends with it
  // (`{ path: "metrics/v2", version: "v2" }` serves `api/metrics/v2`, not `.../v2/v2`).
  const withVersion = version === undefined || custom === version || custom.endsWith(`/${version}`) ? custom : `${custom}/${version}`;
  return `${prefix}/${withVersion}`;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === "" ? undefined : s;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}



function checkUniqueNames<T extends { readonly name: string }>(items: T[], cfg: StaticObject, key: string, reader: DeclarationReader): T[] {
  const seen = new Set<string>();
  for (const i of items) {
    if (seen.has(i.name)) throw reader.badOption(cfg, key, `names ${i.name} twice; each needs its own name`);
    seen.add(i.name);
  }
  return items;
}

function findAncestor<T extends ts.Node>(node: ts.Node, test: (n: ts.Node) => n is T): T | undefined {
  for (let p: ts.Node | undefined = node; p; p = p.parent) if (test(p)) return p;
  return undefined;
}

function comparePositions(a: SourcePosition | undefined, b: SourcePosition | undefined): number {
  if (!a || !b) return a ? -1 : b ? 1 : 0;
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
}
