import { createHash } from "node:crypto";

/**
 * The declared (or current) infrastructure as plain data. Every stage of the
 * pipeline speaks this: the extractor produces it from code, replay produces it
 * from migration files, engines produce it by introspection, `moose prod` serves
 * it. Collections are records keyed by object name so that the canonical JSON
 * (sorted keys) does not depend on declaration order; column order inside a table
 * is meaningful and kept.
 */
export const INFRA_MAP_VERSION = 1 as const;

export interface InfraMap {
  readonly version: typeof INFRA_MAP_VERSION;
  readonly tables: Readonly<Record<string, Table>>;
  readonly views: Readonly<Record<string, MaterializedView>>;
  readonly topics: Readonly<Record<string, Topic>>;
  readonly apis: Readonly<Record<string, ApiEndpoint>>;
  readonly workflows: Readonly<Record<string, Workflow>>;
  readonly processes: Readonly<Record<string, SyncProcess>>;
}

/** Component collections of an InfraMap, in dependency order (a view needs tables, a process a topic and a table). */
export const COMPONENT_KINDS = ["tables", "topics", "views", "processes", "apis", "workflows"] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];

/** Who may change an object (moose-lib's `LifeCycle`). */
export type LifeCycle = "FULLY_MANAGED" | "DELETION_PROTECTED" | "EXTERNALLY_MANAGED";

export interface Column {
  readonly name: string;
  /** Canonical ClickHouse type, exactly as `system.columns.type` shows it, e.g. `Nullable(Float64)`. */
  readonly type: string;
  /** DEFAULT expression as SQL text, when declared. */
  readonly default?: string;
}

export type TableEngine =
  | { readonly kind: "MergeTree" }
  | { readonly kind: "ReplacingMergeTree"; readonly ver?: string; readonly isDeleted?: string }
  | { readonly kind: "SummingMergeTree"; readonly columns?: readonly string[] }
  | { readonly kind: "AggregatingMergeTree" }
  | { readonly kind: "CollapsingMergeTree"; readonly sign: string };

export interface Table {
  readonly name: string;
  readonly columns: readonly Column[];
  /** ORDER BY expressions in order; empty means `tuple()`. */
  readonly orderBy: readonly string[];
  readonly engine: TableEngine;
  readonly partitionBy?: string;
  readonly ttl?: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly lifeCycle: LifeCycle;
}

export interface MaterializedView {
  readonly name: string;
  /** The SELECT the view runs, as SQL text. */
  readonly selectStatement: string;
  /** Tables the SELECT reads, sorted. */
  readonly sourceTables: readonly string[];
  /** Table the view writes TO; for a view with `inner` storage, the view's own name. */
  readonly targetTable: string;
  readonly lifeCycle: LifeCycle;
  /**
   * Set when the view stores its rows itself (declared without TO): ClickHouse keeps them
   * in an inner table with this engine and key, read by selecting from the view.
   */
  readonly inner?: InnerStorage;
}

/** The inner table of a materialized view declared without TO. */
export interface InnerStorage {
  readonly engine: TableEngine;
  /** ORDER BY expressions in order; empty means `tuple()`. */
  readonly orderBy: readonly string[];
  readonly partitionBy?: string;
}

export interface Topic {
  readonly name: string;
  readonly partitions: number;
  /** Retention in milliseconds; absent means the broker's default. */
  readonly retentionMs?: number;
  readonly replicationFactor?: number;
  /** Other topic configs (`cleanup.policy`, ...), string-valued as Kafka has them. */
  readonly config: Readonly<Record<string, string>>;
  /** Record schema, the same columns a table would have. */
  readonly columns: readonly Column[];
  readonly lifeCycle: LifeCycle;
}

export type ApiKind = "ingest" | "consumption";

export interface ApiEndpoint {
  /** Route path without leading slash, e.g. `ingest/UserEvents` or `api/v2/metrics`. */
  readonly name: string;
  readonly kind: ApiKind;
  readonly version?: string;
  /** Request schema for ingest endpoints, query parameters for consumption endpoints. */
  readonly columns: readonly Column[];
  /** Ingest: the topic (or table) rows are delivered to. */
  readonly destination?: string;
}

export interface Workflow {
  readonly name: string;
  /** Cron expression (or `@every 1h`); absent means the workflow only runs on demand. */
  readonly schedule?: string;
  readonly retries: number;
  /** Timeout as written, e.g. `1h`. */
  readonly timeout?: string;
  readonly paused: boolean;
}

/** The topic→table sync a stream with a `destination` runs (Moose's "Background Process"). */
export interface SyncProcess {
  readonly name: string;
  readonly sourceTopic: string;
  readonly targetTable: string;
}

export type Component = Table | MaterializedView | Topic | ApiEndpoint | Workflow | SyncProcess;

export function emptyInfraMap(): InfraMap {
  return { version: INFRA_MAP_VERSION, tables: {}, views: {}, topics: {}, apis: {}, workflows: {}, processes: {} };
}

/**
 * Deterministic JSON: object keys sorted at every depth, arrays kept in order,
 * `undefined` members left out. Two equal maps always give identical text.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Stable content hash of a map: `sha256:<hex>` of its canonical JSON. */
export function hashInfraMap(map: InfraMap): string {
  return "sha256:" + createHash("sha256").update(canonicalJson(map)).digest("hex");
}

/** Parse and check a serialized map (snapshots, remote instances). */
export function parseInfraMap(json: unknown): InfraMap {
  if (json === null || typeof json !== "object") throw new TypeError("an InfraMap must be a JSON object");
  const m = json as Partial<Record<keyof InfraMap, unknown>>;
  if (m.version !== INFRA_MAP_VERSION) {
    throw new TypeError(`unsupported InfraMap version ${JSON.stringify(m.version)} (this tool reads version ${INFRA_MAP_VERSION})`);
  }
  for (const kind of COMPONENT_KINDS) {
    const c = m[kind];
    if (c === null || typeof c !== "object" || Array.isArray(c)) throw new TypeError(`InfraMap.${kind} must be an object keyed by name`);
  }
  return json as InfraMap;
}
