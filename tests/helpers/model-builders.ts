import {
  emptyInfraMap,
  type ApiEndpoint,
  type Column,
  type InfraMap,
  type MaterializedView,
  type SyncProcess,
  type Table,
  type Topic,
  type Workflow,
} from "../../lib/model/infra-map.js";

/** `[name, type]` or `[name, type, default]`. */
export type ColumnSpec = readonly [string, string] | readonly [string, string, string];

export function columns(specs: readonly ColumnSpec[]): Column[] {
  return specs.map(([name, type, dflt]) => (dflt === undefined ? { name, type } : { name, type, default: dflt }));
}

/** A MergeTree table ordered by its first column, unless `extra` says otherwise. */
export function table(name: string, specs: readonly ColumnSpec[], extra: Partial<Omit<Table, "name" | "columns">> = {}): Table {
  const cols = columns(specs);
  return {
    name,
    columns: cols,
    orderBy: cols[0] ? [cols[0].name] : [],
    engine: { kind: "MergeTree" },
    settings: {},
    lifeCycle: "FULLY_MANAGED",
    ...extra,
  };
}

export function view(name: string, sourceTables: readonly string[], targetTable: string, extra: Partial<MaterializedView> = {}): MaterializedView {
  return {
    name,
    selectStatement: `SELECT * FROM ${sourceTables.join(", ")}`,
    sourceTables: [...sourceTables].sort(),
    targetTable,
    lifeCycle: "FULLY_MANAGED",
    ...extra,
  };
}

export function topic(name: string, extra: Partial<Topic> = {}): Topic {
  return { name, partitions: 1, config: {}, columns: [], lifeCycle: "FULLY_MANAGED", ...extra };
}

export function api(name: string, extra: Partial<ApiEndpoint> = {}): ApiEndpoint {
  return { name, kind: "ingest", columns: [], ...extra };
}

export function workflow(name: string, extra: Partial<Workflow> = {}): Workflow {
  return { name, retries: 3, paused: false, ...extra };
}

export function syncProcess(name: string, sourceTopic: string, targetTable: string): SyncProcess {
  return { name, sourceTopic, targetTable };
}

export interface MapSpec {
  readonly tables?: readonly Table[];
  readonly views?: readonly MaterializedView[];
  readonly topics?: readonly Topic[];
  readonly apis?: readonly ApiEndpoint[];
  readonly workflows?: readonly Workflow[];
  readonly processes?: readonly SyncProcess[];
}

const keyed = <T extends { readonly name: string }>(items: readonly T[] = []): Record<string, T> =>
  Object.fromEntries(items.map((i) => [i.name, i]));

/** An InfraMap from lists of components, keyed by name. */
export function infra(spec: MapSpec = {}): InfraMap {
  return {
    ...emptyInfraMap(),
    tables: keyed(spec.tables),
    views: keyed(spec.views),
    topics: keyed(spec.topics),
    apis: keyed(spec.apis),
    workflows: keyed(spec.workflows),
    processes: keyed(spec.processes),
  };
}

/**
 * `map` without the primary keys that in-place ORDER BY extensions left where `declared` has
 * none: ClickHouse's MODIFY ORDER BY keeps the old sorting key as primary key, applyChanges
 * records that, and diff accepts it as the declared table (see keptPrimaryKey in diff.ts).
 */
export function withoutKeptPrimaryKeys(map: InfraMap, declared: InfraMap): InfraMap {
  const tables: Record<string, Table> = {};
  for (const [name, t] of Object.entries(map.tables)) {
    const d = declared.tables[name];
    if (t.primaryKey !== undefined && d !== undefined && d.primaryKey === undefined) {
      const { primaryKey: _kept, ...rest } = t;
      tables[name] = rest;
    } else tables[name] = t;
  }
  return { ...map, tables };
}
