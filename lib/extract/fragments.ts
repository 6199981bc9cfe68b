import { InvalidInputError, type SourcePosition } from "../errors.js";
import { INFRA_MAP_VERSION, plainViewsOf, withPlainViews, withSqlResources, type Column, type InfraMap, type PlainView, type SqlResource, type Table } from "../model/infra-map.js";
import { classifyTypeChange } from "../model/type-lattice.js";

/**
 * What extraction found in one source file, as plain data: the objects its declarations put
 * into the map, the warnings and rename hints they gave, its transforms. The app's result is
 * these fragments combined in the Program's file order ({@link combineFragments}); the
 * extraction cache (`extraction-cache.ts`) keeps one per file so that a file whose inputs did
 * not change is not read again. Kinds of objects are the map's keys (`tables`, `topics`, …),
 * so a new kind of declaration needs nothing here.
 *
 * `phase` is when the declaration was built: 1 for every declaration but materialized
 * views, 2 for those (they are built last, reading the tables built before them). Combining
 * keeps that order: all phase-1 items of every file in file order, then the phase-2 ones.
 */
export interface FileFragment {
  /** Warnings about the file itself (imports that did not resolve), in order. */
  readonly diagnostics: readonly string[];
  readonly puts: readonly FragmentPut[];
  readonly warnings: readonly FragmentWarning[];
  readonly renames: readonly FragmentRename[];
  readonly flows: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  /** Library modules its imports named that are planned against this tool's declarations. */
  readonly redirected: readonly string[];
  /**
   * Whether extracting it could consult other files: it constructs something, calls a table
   * factory or `addTransform`. A file that does none of these (an index of re-exports, a file of
   * interfaces) depends only on its own text and where its imports resolve.
   */
  readonly candidate: boolean;
}

export interface FragmentPut {
  readonly phase: 1 | 2;
  /** The map's collection: `tables`, `views`, `topics`, `apis`, `workflows`, `processes`, `plainViews`. */
  readonly kind: string;
  readonly object: { readonly name: string };
  /** The declaration's position (absolute file). */
  readonly at: SourcePosition;
}

export interface FragmentWarning {
  readonly phase: 1 | 2;
  readonly text: string;
  /** A note of the type mapper: said once per run, however many declarations share the type. */
  readonly note: boolean;
}

export type FragmentRename = { readonly phase: 1 | 2; readonly table: { readonly from: string; readonly to: string } } | { readonly phase: 1 | 2; readonly column: { readonly table: string; readonly from: string; readonly to: string } };

/** The app's parts as one extraction gives them (before locations are made relative). */
export interface CombinedApp {
  readonly map: InfraMap;
  readonly renames: { tables: Array<{ from: string; to: string }>; columns: Array<{ table: string; from: string; to: string }> };
  readonly locations: Record<string, SourcePosition>;
  /** Warnings about files, then the redirect warnings, then the declarations' warnings. */
  readonly warnings: string[];
  readonly flows: Array<{ from: string; to: string }>;
  /** Whether a cross-object check failed (a duplicate name, an unknown reference, records that differ): a full extraction must say it. */
  readonly problems: boolean;
}

/**
 * The app from its files' fragments, in the Program's file order: what one reading of the
 * whole Program gives when it finds no error (the same objects in the same order, the same
 * warnings), and `problems` when the cross-object checks (names declared twice, references to
 * undeclared objects, records that differ between a stream and its table) fail.
 */
export function combineFragments(fragments: readonly FileFragment[], redirectWarnings: (redirected: ReadonlySet<string>) => string[]): CombinedApp {
  const collections: Record<string, Record<string, { readonly name: string }>> = {};
  const locations: Record<string, SourcePosition> = {};
  const renames: CombinedApp["renames"] = { tables: [], columns: [] };
  const warnings: string[] = [];
  const noted = new Set<string>();
  let problems = false;
  for (const f of fragments) warnings.push(...f.diagnostics);
  warnings.push(...redirectWarnings(new Set(fragments.flatMap((f) => f.redirected))));
  for (const phase of [1, 2] as const) {
    for (const f of fragments) {
      for (const p of f.puts) {
        if (p.phase !== phase) continue;
        const key = `${p.kind}:${p.object.name}`;
        const existing = locations[key];
        if (existing) {
          if (existing.file === p.at.file && existing.line === p.at.line && existing.column === p.at.column) continue;
          problems = true;
          continue;
        }
        (collections[p.kind] ??= {})[p.object.name] = p.object;
        locations[key] = p.at;
      }
      for (const w of f.warnings) {
        if (w.phase !== phase) continue;
        if (w.note) {
          if (noted.has(w.text)) continue;
          noted.add(w.text);
        }
        warnings.push(w.text);
      }
      for (const r of f.renames) {
        if (r.phase !== phase) continue;
        if ("table" in r) renames.tables.push({ ...r.table });
        else renames.columns.push({ ...r.column });
      }
    }
  }
  const map = assembleMap(collections);
  if (!problems) problems = referenceErrors(map, new Set(Object.keys(collections["plainViews"] ?? {})), locations).length > 0;
  const flows = problems ? [] : fragments.flatMap((f) => f.flows.map((x) => ({ ...x })));
  return { map, renames, locations, warnings, flows, problems };
}

/** The map's collections every map has; the others are left out when empty. */
const CORE_KINDS = ["tables", "views", "topics", "apis", "workflows", "processes"] as const;
const OPTIONAL_KINDS: ReadonlySet<string> = new Set(["plainViews", "sqlResources"]);

/**
 * The map from its collections, keyed by the kind `put` names them with: one reading of the
 * app and a combination of fragments build it here, so both give the same map, keys in the
 * same order. A new kind of object is added here (and to the map's type) once.
 */
export function assembleMap(collections: Readonly<Record<string, Readonly<Record<string, { readonly name: string }>>>>): InfraMap {
  for (const kind of Object.keys(collections)) {
    if (!(CORE_KINDS as readonly string[]).includes(kind) && !OPTIONAL_KINDS.has(kind)) throw new Error(`assembleMap: unknown kind of object ${kind}`);
  }
  const core = Object.fromEntries(CORE_KINDS.map((k) => [k, collections[k] ?? {}]));
  const map = withPlainViews({ version: INFRA_MAP_VERSION, ...core } as unknown as InfraMap, (collections["plainViews"] ?? {}) as Record<string, PlainView>);
  return withSqlResources(map, (collections["sqlResources"] ?? {}) as Record<string, SqlResource>);
}

/** The cross-object checks of a whole map: references to undeclared objects and records that differ along a flow. */
export function referenceErrors(map: InfraMap, plainViews: ReadonlySet<string>, locations: Readonly<Record<string, SourcePosition>>): InvalidInputError[] {
  const errors: InvalidInputError[] = [];
  for (const view of Object.values(map.views)) {
    for (const src of view.sourceTables) {
      if (!map.tables[src] && !plainViews.has(src)) {
        errors.push(new InvalidInputError("UNKNOWN_REFERENCE", `materialized view ${view.name} reads ${src}, which is not a declared table`, { position: locations[`views:${view.name}`] }));
      }
    }
  }
  for (const view of Object.values(plainViewsOf(map))) {
    const taken = map.tables[view.name] ? "table" : map.views[view.name] ? "materialized view" : undefined;
    if (taken) {
      errors.push(new InvalidInputError("DUPLICATE_NAME", `view ${view.name} has the name of a ${taken}: ClickHouse keeps both in one namespace`, { position: locations[`plainViews:${view.name}`], hint: "rename the View" }));
    }
    for (const src of view.sourceTables) {
      if (!map.tables[src] && !plainViews.has(src) && !Object.values(map.views).some((v) => v.targetTable === src)) {
        errors.push(new InvalidInputError("UNKNOWN_REFERENCE", `view ${view.name} reads ${src}, which is not a declared table or view`, { position: locations[`plainViews:${view.name}`] }));
      }
    }
  }
  for (const api of Object.values(map.apis)) {
    if (api.destination && !map.topics[api.destination] && !map.tables[api.destination]) {
      errors.push(new InvalidInputError("UNKNOWN_REFERENCE", `ingest API ${api.name} delivers to ${api.destination}, which is not declared`, { position: locations[`apis:${api.name}`] }));
      continue;
    }
    const target = api.destination !== undefined ? (map.topics[api.destination] ?? map.tables[api.destination]) : undefined;
    const e = target && recordMismatch(`ingest API ${api.name}`, api.columns, `${map.topics[target.name] ? "topic" : "table"} ${target.name}`, target.columns, locations[`apis:${api.name}`]);
    if (e) errors.push(e);
  }
  for (const process of Object.values(map.processes)) {
    const topic = map.topics[process.sourceTopic];
    const table = map.tables[process.targetTable];
    const e = topic && table && recordMismatch(`stream ${topic.name}`, topic.columns, `table ${table.name}`, table.columns, locations[`processes:${process.name}`]);
    if (e) errors.push(e);
  }
  return errors;
}

/**
 * Records flow unchanged from an ingest API to its topic or table and from a topic to
 * its destination table: both sides must declare the same fields, each value fitting
 * the destination's type unchanged (the library's types ask for one record type —
 * `Stream<T>` takes an `OlapTable<T>` — and planning, which does not type-check the
 * app, checks it here instead).
 */
export function recordMismatch(from: string, fromColumns: readonly Column[], to: string, toColumns: readonly Column[], position: SourcePosition | undefined): InvalidInputError | undefined {
  // A value that widens into the destination's type is stored as it is: moose-lib's
  // dead-letter topics carry `source` as a String into DeadLetterModel's LowCardinality(String).
  const fits = (type: string, into: string) => ["same", "widening"].includes(classifyTypeChange(type, into));
  const theirs = new Map(toColumns.map((c) => [c.name, c.type]));
  const ours = new Map(fromColumns.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  const missing = toColumns.filter((c) => !ours.has(c.name)).map((c) => c.name);
  const extra = fromColumns.filter((c) => !theirs.has(c.name)).map((c) => c.name);
  if (missing.length > 0) problems.push(`${to} has ${missing.join(", ")}, which ${from} does not`);
  if (extra.length > 0) problems.push(`${from} has ${extra.join(", ")}, which ${to} does not`);
  for (const c of fromColumns) {
    const other = theirs.get(c.name);
    if (other !== undefined && !fits(c.type, other)) problems.push(`${c.name} is ${c.type} in ${from} and ${other} in ${to}`);
  }
  if (problems.length === 0) return undefined;
  return new InvalidInputError("RECORD_MISMATCH", `${from} sends its records to ${to}, but their fields differ: ${problems.join("; ")}`, {
    ...(position ? { position } : {}),
    hint: "declare both with the same record type (new Stream<T>(..., { destination: table }) with table an OlapTable<T>)",
  });
}

/** Tables a reading of part of the app may look up in files it does not read (their cached fragments). */
export function tablesOf(fragments: Iterable<FileFragment>): Map<string, Table> {
  const out = new Map<string, Table>();
  for (const f of fragments) for (const p of f.puts) if (p.kind === "tables" && !out.has(p.object.name)) out.set(p.object.name, p.object as Table);
  return out;
}
