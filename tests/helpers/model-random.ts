import type { ColumnRename, TableRename } from "../../lib/diff/diff.js";
import type { Column, InfraMap, LifeCycle, MaterializedView, Table, TableEngine, Topic } from "../../lib/model/infra-map.js";
import { api, infra, syncProcess, topic, view, workflow } from "./model-builders.js";

/** A small seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
  subset<T>(items: readonly T[], p = 0.5): T[] {
    return items.filter(() => this.chance(p));
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}

export const TABLE_POOL = ["A", "B", "C", "D", "E"] as const;
const COLUMN_POOL = ["a", "b", "c", "d", "e", "f"];
const TYPES = ["String", "Int32", "Int64", "Nullable(String)", "LowCardinality(String)", "DateTime", "Float64", "Array(UInt8)"];
const LIFE_CYCLES: readonly LifeCycle[] = ["FULLY_MANAGED", "DELETION_PROTECTED", "EXTERNALLY_MANAGED"];
const ENGINES: readonly TableEngine[] = [
  { kind: "MergeTree" },
  { kind: "ReplacingMergeTree" },
  { kind: "ReplacingMergeTree", ver: "a" },
  { kind: "SummingMergeTree" },
  { kind: "AggregatingMergeTree" },
  { kind: "CollapsingMergeTree", sign: "b" },
];

function randomColumn(r: Random, name: string): Column {
  const type = r.pick(TYPES);
  return r.chance(0.2) ? { name, type, default: r.pick(["''", "0", "now()"]) } : { name, type };
}

function randomTable(r: Random, name: string): Table {
  const cols = r.shuffle(r.subset(COLUMN_POOL, 0.5)).map((c) => randomColumn(r, c));
  return {
    name,
    columns: cols,
    orderBy: r.subset(cols.map((c) => c.name), 0.4),
    engine: r.pick(ENGINES),
    ...(r.chance(0.3) ? { partitionBy: r.pick(["toYYYYMM(a)", "a"]) } : {}),
    ...(r.chance(0.3) ? { ttl: r.pick(["a + INTERVAL 1 DAY", "a + INTERVAL 30 DAY"]) } : {}),
    settings: Object.fromEntries(r.subset([["index_granularity", r.pick(["8192", "1024"])], ["ttl_only_drop_parts", "1"]] as const, 0.3)),
    lifeCycle: r.pick(LIFE_CYCLES),
  };
}

/** Views only read tables earlier in TABLE_POOL than the one they write, so views never form a cycle. */
function randomView(r: Random, name: string): MaterializedView {
  const target = r.int(1, TABLE_POOL.length - 1);
  const sources = r.subset(TABLE_POOL.slice(0, target), 0.5);
  return view(name, sources.length > 0 ? sources : [TABLE_POOL[0]], TABLE_POOL[target] as string, {
    selectStatement: r.pick(["SELECT 1", "SELECT 2"]),
    lifeCycle: r.pick(LIFE_CYCLES),
  });
}

function randomTopic(r: Random, name: string): Topic {
  return topic(name, {
    partitions: r.int(1, 4),
    ...(r.chance(0.5) ? { retentionMs: r.pick([-1, 3_600_000, 86_400_000]) } : {}),
    ...(r.chance(0.3) ? { replicationFactor: r.int(1, 3) } : {}),
    config: r.chance(0.3) ? { "cleanup.policy": r.pick(["delete", "compact"]) } : {},
    columns: r.shuffle(r.subset(COLUMN_POOL, 0.4)).map((c) => randomColumn(r, c)),
    lifeCycle: r.pick(LIFE_CYCLES),
  });
}

/** A small random map: a few tables, views, topics, APIs, workflows and processes. */
export function randomInfraMap(r: Random): InfraMap {
  return infra({
    tables: r.subset(TABLE_POOL, 0.5).map((n) => randomTable(r, n)),
    views: r.subset(["V1", "V2", "V3"], 0.4).map((n) => randomView(r, n)),
    topics: r.subset(["T1", "T2"], 0.5).map((n) => randomTopic(r, n)),
    apis: r.subset(["ingest/A", "api/b"], 0.5).map((n) =>
      api(n, { kind: n.startsWith("ingest") ? "ingest" : "consumption", ...(r.chance(0.5) ? { version: r.pick(["1", "2"]) } : {}), columns: r.subset(COLUMN_POOL, 0.3).map((c) => randomColumn(r, c)) }),
    ),
    workflows: r.subset(["W1", "W2"], 0.5).map((n) =>
      workflow(n, { retries: r.int(0, 3), paused: r.chance(0.3), ...(r.chance(0.5) ? { schedule: r.pick(["@every 1h", "0 * * * *"]) } : {}) }),
    ),
    processes: r.subset(["P1", "P2"], 0.5).map((n) => syncProcess(n, r.pick(["T1", "T2"]), r.pick(TABLE_POOL))),
  });
}

export interface MutatedPair {
  readonly to: InfraMap;
  readonly renames: { tables: TableRename[]; columns: ColumnRename[] };
}

/**
 * A map derived from `from` by random edits, including renames reported as hints,
 * so that diffs between the two exercise every alter path, not only create/drop.
 */
export function mutateInfraMap(r: Random, from: InfraMap): MutatedPair {
  const renames: MutatedPair["renames"] = { tables: [], columns: [] };
  const tables: Table[] = [];
  let fresh = 0;
  for (const t of Object.values(from.tables)) {
    if (r.chance(0.1)) continue;
    let name = t.name;
    if (r.chance(0.15)) {
      name = `R${fresh++}`;
      renames.tables.push({ from: t.name, to: name });
    }
    let cols: Column[] = [];
    for (const c of t.columns) {
      if (r.chance(0.15)) continue;
      let col = c;
      if (r.chance(0.15)) {
        const renamed = `${c.name}_r`;
        renames.columns.push({ table: r.chance(0.5) ? name : t.name, from: c.name, to: renamed });
        col = { ...col, name: renamed };
      }
      if (r.chance(0.15)) col = { ...col, type: r.pick(TYPES) };
      if (r.chance(0.1)) col = col.default === undefined ? { ...col, default: "0" } : { name: col.name, type: col.type };
      cols.push(col);
    }
    if (r.chance(0.3) && cols.length > 1) cols = r.chance(0.5) ? r.shuffle(cols) : [...cols.slice(1), cols[0] as Column];
    for (const n of COLUMN_POOL) {
      if (r.chance(0.1) && !cols.some((c) => c.name === n) && !t.columns.some((c) => c.name === n)) {
        cols.splice(r.int(0, cols.length), 0, randomColumn(r, n));
      }
    }
    const changed = randomTable(r, name);
    tables.push({
      ...t,
      name,
      columns: cols,
      ...(r.chance(0.15) ? { orderBy: changed.orderBy.filter((o) => cols.some((c) => c.name === o)) } : {}),
      ...(r.chance(0.1) ? { engine: changed.engine } : {}),
      ...(r.chance(0.1) ? { settings: changed.settings } : {}),
      ...(r.chance(0.1) ? { lifeCycle: changed.lifeCycle } : {}),
    });
    const last = tables[tables.length - 1] as Table & { partitionBy?: string; ttl?: string };
    if (r.chance(0.15)) {
      const { partitionBy: _p, ...rest } = last;
      tables[tables.length - 1] = changed.partitionBy === undefined ? rest : { ...rest, partitionBy: changed.partitionBy };
    }
    if (r.chance(0.15)) {
      const { ttl: _t, ...rest } = tables[tables.length - 1] as Table;
      tables[tables.length - 1] = changed.ttl === undefined ? rest : { ...rest, ttl: changed.ttl };
    }
  }
  for (const n of TABLE_POOL) {
    if (r.chance(0.1) && !tables.some((t) => t.name === n) && !(n in from.tables)) tables.push(randomTable(r, n));
  }
  const other = randomInfraMap(r);
  const mix = <T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>): T[] => {
    const names = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...names].flatMap((n) => {
      const pick = r.chance(0.7) ? a[n] : b[n];
      return pick === undefined ? [] : [pick];
    });
  };
  return {
    to: infra({
      tables,
      views: mix(from.views, other.views),
      topics: mix(from.topics, other.topics),
      apis: mix(from.apis, other.apis),
      workflows: mix(from.workflows, other.workflows),
      processes: mix(from.processes, other.processes),
    }),
    renames,
  };
}
