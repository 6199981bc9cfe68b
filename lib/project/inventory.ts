import type { LoadedConfig } from "../config/config.js";
import { declaredDatabases } from "../model/clickhouse-quote.js";
import { canonicalJson, COMPONENT_KINDS, type ComponentKind, type InfraMap } from "../model/infra-map.js";
import { DRAFT_ID, readDraft } from "../migrations/files/read.js";
import { replayMigrations } from "../migrations/files/sequence.js";
import type { Ledger } from "../ledger/ledger.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { projectMigrations } from "./engines.js";

/**
 * Where an object stands: `applied` (the applied migrations have it as the code
 * declares it), `changed` (applied, but the code declares it differently),
 * `new` (only in the code), `removed` (applied, no longer in the code).
 */
export type InventoryState = "applied" | "changed" | "new" | "removed";

export interface InventoryEntry {
  readonly kind: ComponentKind | "plainViews" | "sqlResources";
  readonly name: string;
  readonly state: InventoryState;
  /** OLAP objects: whether the live database has it; undefined when not checked. */
  readonly live?: boolean;
}

/**
 * `moose ls` beside the code: each declared or applied object with its state
 * in the ledger, and for tables and views whether the database has it.
 */
export async function inventory(config: LoadedConfig, code: InfraMap, ledger: Ledger, olap: OlapEngine | undefined): Promise<InventoryEntry[]> {
  const files = projectMigrations(config);
  const records = await ledger.list();
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const prefix = [];
  for (const f of files) {
    if (!applied.has(f.id)) break;
    prefix.push(f);
  }
  const base = replayMigrations(prefix);
  const draft = applied.has(DRAFT_ID) ? readDraft(config.paths.migrationsDir) : undefined;
  const current = draft && draft.parent === base.hash ? replayMigrations([draft], base.state).state : base.state;
  const live = olap ? await olap.introspect(declaredDatabases([...Object.keys(code.tables), ...Object.keys(current.tables)])) : undefined;
  const entries: InventoryEntry[] = [];
  for (const kind of [...COMPONENT_KINDS, "plainViews", "sqlResources"] as const) {
    const names = new Set([...Object.keys(code[kind] ?? {}), ...Object.keys(current[kind] ?? {})]);
    for (const name of [...names].sort()) {
      const inCode = (code[kind] as Record<string, unknown> | undefined)?.[name];
      const inState = (current[kind] as Record<string, unknown> | undefined)?.[name];
      const state: InventoryState = !inState ? "new" : !inCode ? "removed" : canonicalJson(inCode) === canonicalJson(inState) ? "applied" : "changed";
      const liveHas = live && (kind === "tables" || kind === "views" || kind === "plainViews") ? name in live[kind] : undefined;
      entries.push({ kind, name, state, ...(liveHas === undefined ? {} : { live: liveHas }) });
    }
  }
  return entries;
}
