import { approvedLosses } from "./sql-guard.js";
import { declaredDatabases } from "../../model/clickhouse-quote.js";
import type { OlapEngine } from "../../engines/olap/engine.js";
import { withDeclaredSecrets } from "../../engines/olap/integration-engines.js";
import { diff } from "../../diff/diff.js";
import { existsSync } from "node:fs";
import type { LoadedConfig } from "../../config/config.js";
import { openLedger } from "../../ledger/index.js";
import { isRollbackRecord, type MigrationRecord } from "../../ledger/records.js";
import { canonicalJson, emptyInfraMap, plainViewsOf, sqlResourcesOf, withSqlResources, type InfraMap, type PlainView, type SqlResource, type Table } from "../../model/infra-map.js";
import { quoteString } from "../../model/clickhouse-quote.js";
import { parseStatement } from "../../engines/olap/parser.js";
import { parseViewDefinition } from "../../engines/olap/sql-text.js";
import type { OlapIntrospection } from "../../engines/olap/introspect.js";
import { objectLabel, sqlResourceFacts, sqlResourceRelations, type CreatedObject } from "../../model/sql-resource-facts.js";
import { learnSqlResources, readSqlResource } from "../../engines/olap/sql-resource-policy.js";
import { DRAFT_FILE, DRAFT_ID, type MigrationFile } from "../files/read.js";
import type { TopicDescription } from "../../engines/stream/topic-spec.js";
import { replayMigrations } from "../files/sequence.js";

export type MigrationState = "applied" | "pending" | "failed" | "partially_applied" | "running" | "edited" | "removed" | "out-of-order" | "draft";

export interface StatusRow {
  readonly id: string;
  readonly state: MigrationState;
  readonly record?: MigrationRecord;
  readonly detail?: string;
}

export interface StatusReport {
  readonly rows: readonly StatusRow[];
  /** Differences between the live database and the applied migrations (empty when none, or not checked). */
  readonly drift: readonly string[];
  readonly driftChecked: boolean;
  /** The CI-facing verdict, most serious first. */
  readonly verdict: "ok" | "pending" | "failed" | "refused";
  /** What opening the ledger found worth saying (see `Ledger.notices`). */
  readonly notices?: readonly string[];
}

/**
 * A migration stopped by a pre-flight check before any of its steps was applied changed
 * nothing, so its file may be edited (to approve the step, or to fix the data first):
 * the next deploy starts it afresh.
 */
export function editableAfterFailure(r: MigrationRecord): boolean {
  return r.status === "failed" && r.stepsApplied === 0 && (r.error ?? "").startsWith("CHECK_FAILED");
}

/**
 * `moose migrate status`: every file and ledger record, classified, plus a
 * drift check of the live OLAP objects against the applied migrations when an
 * engine is given.
 */
/** Anything that lists live topics (the stream engines do). */
export interface TopicLister {
  introspect(): Promise<Readonly<Record<string, TopicDescription>>>;
}

export async function migrationStatus(
  files: readonly MigrationFile[],
  allRecords: readonly MigrationRecord[],
  olap?: OlapEngine,
  draft?: MigrationFile,
  streams?: TopicLister,
): Promise<StatusReport> {
  // Unfinished rollbacks (`<id>.rollback`) are not migrations; deploy refuses until they finish.
  const records = allRecords.filter((r) => r.id !== DRAFT_ID && !r.id.endsWith(".rollback"));
  const draftRecord = allRecords.find((r) => r.id === DRAFT_ID);
  const byId = new Map(records.map((r) => [r.id, r]));
  const fileIds = new Set(files.map((f) => f.id));
  const newestApplied = records.filter((r) => r.status === "applied").map((r) => r.id).sort().at(-1);
  const rows: StatusRow[] = [];
  for (const f of files) {
    const r = byId.get(f.id);
    if (!r) {
      const losses = await approvedLosses(f);
      const warning = losses.length > 0 ? { detail: `⚠ approved data loss: ${losses.join("; ")}` } : {};
      rows.push(newestApplied !== undefined && f.id < newestApplied ? { id: f.id, state: "out-of-order", detail: `older than the newest applied migration ${newestApplied}` } : { id: f.id, state: "pending", ...warning });
    } else if (r.checksum !== f.checksum && editableAfterFailure(r)) {
      rows.push({ id: f.id, state: "pending", record: r, detail: "edited after its pre-flight check stopped it; the next deploy starts it afresh" });
    } else if (r.checksum !== f.checksum) {
      rows.push({ id: f.id, state: "edited", record: r, detail: `checksum ${r.checksum.slice(0, 12)} recorded, ${f.checksum.slice(0, 12)} now` });
    } else {
      rows.push({ id: f.id, state: r.status, record: r, ...(r.error ? { detail: `step ${(r.failedStep ?? 0) + 1}: ${r.error}` } : {}) });
    }
  }
  for (const r of records) if (!fileIds.has(r.id)) rows.push({ id: r.id, state: "removed", record: r, detail: `${r.fileName} is recorded but its file is gone` });
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (draftRecord) rows.push({ id: DRAFT_ID, state: "draft", record: draftRecord, detail: `moose dev's uncommitted changes (migrations/${DRAFT_FILE}); moose migrate generate --name X commits them` });

  let drift: string[] = [];
  // Drift is measured against a state the migrations define: not while history is broken, and not
  // while a migration is half-applied (its applied steps would read as drift; `deploy` resumes it).
  const chainIntact = rows.every((r) => r.state !== "edited" && r.state !== "removed");
  const settled = rows.every((r) => r.state !== "failed" && r.state !== "partially_applied" && r.state !== "running");
  if (olap && chainIntact && settled) {
    const appliedFiles = files.filter((f) => byId.get(f.id)?.status === "applied");
    // Only a prefix of applied files has a state to compare with; gaps are reported as out-of-order above.
    const prefix: MigrationFile[] = [];
    for (const f of files) {
      if (!appliedFiles.includes(f)) break;
      prefix.push(f);
    }
    const applied = replayMigrations(prefix);
    // With a dev draft applied, the database is at the draft's result.
    const expected = draftRecord && draft && draft.parent === applied.hash ? replayMigrations([draft], applied.state).state : applied.state;
    drift = await liveDrift(expected, olap);
    if (streams) drift.push(...topicDrift(expected, await streams.introspect()));
  }
  const has = (...states: MigrationState[]) => rows.some((r) => states.includes(r.state));
  const verdict = has("edited", "removed", "out-of-order") || drift.length > 0 ? "refused" : has("failed", "partially_applied", "running") ? "failed" : has("pending") ? "pending" : "ok";
  return { rows, drift, driftChecked: olap !== undefined && chainIntact && settled, verdict };
}

/** Names to compare; everything when absent. */
export interface DriftScope {
  readonly tables: ReadonlySet<string>;
  readonly views: ReadonlySet<string>;
  readonly plainViews?: ReadonlySet<string>;
}

/**
 * What differs on the other replicas of each cluster the expected tables are on: a table
 * missing there, or a column missing, extra or of another type (compared by name and type
 * with what the migrations say). Tables of moose's normalized form carry no cluster, so the
 * clusters come from `expected`.
 */
async function replicaDrift(expected: Readonly<Record<string, Table>>, normalized: Readonly<Record<string, Table>>, olap: OlapEngine): Promise<string[]> {
  if (!olap.replicaColumns) return [];
  const byCluster = new Map<string, string[]>();
  for (const t of Object.values(expected)) {
    const c = t.engine.cluster;
    if (c !== undefined && Object.prototype.hasOwnProperty.call(normalized, t.name)) byCluster.set(c, [...(byCluster.get(c) ?? []), t.name]);
  }
  const out: string[] = [];
  for (const [cluster, names] of [...byCluster].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [host, seen] of await olap.replicaColumns(cluster, names)) {
      if (seen instanceof Error) {
        out.push(`replica ${host} of cluster ${cluster} could not be read: ${seen.message.split("\n")[0]}`);
        continue;
      }
      for (const name of [...names].sort()) {
        const cols = seen.get(name);
        if (cols === undefined) {
          out.push(`table ${name} is missing on replica ${host} of cluster ${cluster}`);
          continue;
        }
        const want = (normalized[name] as Table).columns.map((c) => `${c.name} ${c.type}`);
        for (const c of want) if (!cols.includes(c)) out.push(`table ${name} on replica ${host} of cluster ${cluster} lacks column ${c}`);
        for (const c of cols) if (!want.includes(c)) out.push(`table ${name} on replica ${host} of cluster ${cluster} has a column ${c} that no migration added`);
      }
    }
  }
  return out;
}

/**
 * What differs between the OLAP objects of `expected` and the live database,
 * in words. Both sides go through ClickHouse's own formatting (`normalize`), so
 * only real differences count; life cycles live in moose, not ClickHouse.
 */
export async function liveDrift(expected: InfraMap, olap: OlapEngine, scope?: DriftScope): Promise<string[]> {
  const inScope = <T>(objs: Readonly<Record<string, T>>, names: ReadonlySet<string> | undefined): Record<string, T> =>
    Object.fromEntries(Object.entries(objs).filter(([k]) => names === undefined || names.has(k)));
  // Views are created from their tables when normalized: those come along, whether in scope or not.
  const scopedViews = inScope(expected.views, scope?.views);
  // A plain view is created from what it reads: its tables and plain views come along too.
  const expectedPlain = plainViewsOf(expected);
  const scopedPlain = inScope(expectedPlain, scope === undefined ? undefined : plainViewClosure(expectedPlain, scope.plainViews ?? new Set()));
  const needed =
    scope === undefined
      ? undefined
      : new Set([...scope.tables, ...Object.values(scopedViews).flatMap((v) => [...v.sourceTables, v.targetTable]), ...Object.values(scopedPlain).flatMap((v) => v.sourceTables)]);
  const [introspected, normalized] = await Promise.all([
    olap.introspect(declaredDatabases(Object.keys(expected.tables))),
    olap.normalize({ tables: inScope(expected.tables, needed), views: scopedViews, ...(Object.keys(scopedPlain).length > 0 ? { plainViews: scopedPlain } : {}) }),
  ]);
  // What SQL resources create is theirs, not drift of the declared objects; it is checked to exist below.
  // A scoped check (before a deploy) looks only at what the migrations touch.
  const resources = await sqlResourceObjects(expected, olap, scope === undefined ? introspected : undefined);
  const theirs = sqlResourceRelations(expected);
  const without = <T>(objs: Readonly<Record<string, T>>): Record<string, T> => Object.fromEntries(Object.entries(objs).filter(([k]) => !theirs.has(k)));
  const live = { ...introspected, tables: without(introspected.tables), views: without(introspected.views), plainViews: without(introspected.plainViews) };
  const want = { tables: inScope(normalized.tables, scope?.tables), views: normalized.views, plainViews: inScope(normalized.plainViews, scope?.plainViews) };
  // What a view reads is derived from its SELECT; the SELECT is what is compared.
  const livePlain = Object.fromEntries(
    Object.entries(inScope(live.plainViews, scope?.plainViews)).map(([k, v]) => [k, { ...v, sourceTables: expectedPlain[k]?.sourceTables ?? v.sourceTables }]),
  );
  const lifeCycles = <T extends { lifeCycle: string }>(objs: Record<string, T>, from: Readonly<Record<string, { lifeCycle: string }>>) =>
    Object.fromEntries(Object.entries(objs).map(([k, v]) => [k, { ...v, lifeCycle: from[k]?.lifeCycle ?? v.lifeCycle }]));
  // ClickHouse shows no secret (credentials, header values, a SASL password): the declared references stand in.
  const secretsOf = (tables: Record<string, Table>): Record<string, Table> => Object.fromEntries(Object.entries(tables).map(([k, t]) => [k, withDeclaredSecrets(t, expected.tables[k])]));
  const actual = {
    ...emptyInfraMap(),
    tables: secretsOf(lifeCycles(inScope(live.tables, scope?.tables), expected.tables)),
    views: lifeCycles(inScope(live.views, scope?.views), expected.views),
    plainViews: livePlain,
  } as InfraMap;
  const wanted = { ...emptyInfraMap(), tables: secretsOf(want.tables), views: want.views, plainViews: want.plainViews } as InfraMap;
  const replicas = [...(await replicaDrift(inScope(expected.tables, scope?.tables), want.tables, olap)), ...resources.missing];
  if (canonicalJson(actual) === canonicalJson(wanted)) return replicas;
  return [...replicas, ...diff(wanted, actual).map((c) => {
    switch (c.kind) {
      case "table.create":
        return `table ${c.table.name} exists in the database but no applied migration creates it`;
      case "table.drop":
        return `table ${c.table.name} is missing from the database`;
      case "view.create":
        return `view ${c.view.name} exists in the database but no applied migration creates it`;
      case "view.drop":
        return `view ${c.view.name} is missing from the database`;
      case "plainView.create":
        return `view ${c.view.name} exists in the database but no applied migration creates it`;
      case "plainView.drop":
        return `view ${c.view.name} is missing from the database`;
      case "plainView.modify":
        return `view ${c.after.name} runs another SELECT in the database than the migrations say`;
      case "table.addColumn":
        return `table ${c.table} has a column ${c.column.name} ${c.column.type} that no migration added`;
      case "table.dropColumn":
        return `table ${c.table} is missing its column ${c.column.name} ${c.column.type}`;
      case "table.modifyColumn":
        return `column ${c.table}.${c.after.name} is ${c.after.type} in the database, the migrations say ${c.before.type}`;
      default:
        return `${c.kind} on ${"table" in c ? String(c.table) : "after" in c ? (c.after as { name: string }).name : ""}: the database differs from the migrations`;
    }
  })];
}

/**
 * The objects the SQL resources of `expected` create (read from their setup statements by
 * ClickHouse's parser), and a drift line for each one the database does not have: raw SQL
 * cannot be read back in general, but the names its CREATE statements make can be looked up
 * (`system.tables` for tables, views and dictionaries; `system.functions` for functions).
 */
async function sqlResourceObjects(expected: InfraMap, olap: OlapEngine, live: OlapIntrospection | undefined): Promise<{ created: CreatedObject[]; missing: string[] }> {
  const resources = Object.values(sqlResourcesOf(expected));
  if (resources.length === 0) return { created: [], missing: [] };
  await learnSqlResources(expected);
  const created: CreatedObject[] = [];
  const missing: string[] = [];
  for (const r of resources) {
    const facts = sqlResourceFacts(r);
    if (facts === undefined) continue;
    for (const c of facts.creates) {
      created.push(c);
      if (live === undefined) continue;
      // Literals, not parameters: servers before 19.11 have no query parameters.
      const rows =
        c.kind === "function"
          ? await olap.query(`SELECT name FROM system.functions WHERE name = ${quoteString(c.name)}`)
          : await olap.query(`SELECT name FROM system.tables WHERE database = ${c.database === undefined ? "currentDatabase()" : quoteString(c.database)} AND name = ${quoteString(c.name)}`);
      if (rows.length === 0) {
        missing.push(`${KIND_WORD[c.kind]} ${objectLabel(c)}, which SqlResource ${r.name} creates, is missing from the database`);
        continue;
      }
      // A plain view's text can be compared: its SELECT as the setup writes it and as the database
      // stores it, each in ClickHouse's canonical formatting (chDB's parser reads both).
      const stored = c.kind === "view" && c.database === undefined ? live.plainViews[c.name]?.selectStatement : undefined;
      const written = stored === undefined ? undefined : await setupSelect(r.setup[c.statement] ?? "");
      if (stored !== undefined && written !== undefined) {
        const canonical = await parseStatement(stored, { what: `the SELECT of view ${c.name}` }).then((p) => p.formatted, () => stored);
        if (canonical !== written) missing.push(`view ${c.name}, which SqlResource ${r.name} creates, runs another SELECT in the database than its setup says`);
      }
    }
  }
  return { created, missing };
}

/** How much of what a SQL resource's setup creates the database has: `present` of `total`, and views whose SELECT differs. */
export interface SqlResourceLiveState {
  readonly present: number;
  readonly total: number;
  readonly differing: readonly string[];
}

/**
 * What of `resource`'s objects the database holds, for settling an interrupted step (a
 * raw statement cannot be read back, but the names its CREATE statements make can).
 */
export async function sqlResourceLiveState(resource: SqlResource, olap: OlapEngine): Promise<SqlResourceLiveState> {
  const facts = await readSqlResource(resource, undefined);
  const map = withSqlResources(emptyInfraMap(), { [resource.name]: resource });
  const live = await olap.introspect();
  const { missing } = await sqlResourceObjects(map, olap, live);
  const absent = missing.filter((m) => m.endsWith("is missing from the database")).length;
  return { present: facts.creates.length - absent, total: facts.creates.length, differing: missing.filter((m) => !m.endsWith("is missing from the database")) };
}

/** The SELECT of a `CREATE VIEW` statement, in ClickHouse's canonical formatting; undefined when it cannot be read. */
async function setupSelect(statement: string): Promise<string | undefined> {
  try {
    const select = parseViewDefinition((await parseStatement(statement, { what: "a setup statement" })).formatted).select;
    return select === undefined ? undefined : (await parseStatement(select, { what: "a setup statement's SELECT" })).formatted;
  } catch {
    return undefined;
  }
}

const KIND_WORD: Readonly<Record<CreatedObject["kind"], string>> = { table: "table", view: "view", materializedView: "materialized view", dictionary: "dictionary", function: "function" };

/** `names` and the plain views they read, transitively. */
function plainViewClosure(views: Readonly<Record<string, PlainView>>, names: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  const add = (name: string): void => {
    if (out.has(name) || !Object.prototype.hasOwnProperty.call(views, name)) return;
    out.add(name);
    for (const s of (views[name] as PlainView).sourceTables) add(s);
  };
  for (const n of names) add(n);
  return out;
}

/**
 * Topics that differ from the applied migrations: missing, extra (only those a
 * migration once declared are ours to judge, so extra ones are not reported),
 * or with other partitions, retention or declared configs. Engines report the
 * effective retention, so a topic declared without one is not compared on it.
 */
export function topicDrift(expected: InfraMap, live: Readonly<Record<string, TopicDescription>>): string[] {
  const out: string[] = [];
  for (const topic of Object.values(expected.topics)) {
    const actual = live[topic.name];
    if (!actual) {
      out.push(`topic ${topic.name} is missing from the stream engine`);
      continue;
    }
    if (actual.partitions !== topic.partitions) out.push(`topic ${topic.name} has ${actual.partitions} partitions, the migrations say ${topic.partitions}`);
    if (topic.retentionMs !== undefined && actual.retentionMs !== topic.retentionMs) {
      out.push(`topic ${topic.name} keeps records ${actual.retentionMs ?? "(broker default)"} ms, the migrations say ${topic.retentionMs} ms`);
    }
    for (const [key, value] of Object.entries(topic.config)) {
      if (actual.config[key] !== value) out.push(`topic ${topic.name} has ${key} = ${actual.config[key] ?? "(unset)"}, the migrations say ${value}`);
    }
  }
  return out;
}

/** What the local ledger says was applied, when there is one (`none`: CI, a fresh clone). */
export interface LedgerView {
  readonly source: "local" | "none";
  readonly records: readonly MigrationRecord[];
}

/** The project's local ledger (SQLite, or the mirror of a server's), read only when the file exists: nothing is created. */
export async function localLedgerView(config: LoadedConfig): Promise<LedgerView> {
  if (!existsSync(config.paths.ledgerPath)) return { source: "none", records: [] };
  const ledger = await openLedger(config.paths.ledgerPath);
  try {
    return { source: "local", records: (await ledger.list()).filter((r) => r.id !== DRAFT_ID && !isRollbackRecord(r.id)) };
  } finally {
    await ledger.close();
  }
}

/** How the committed files disagree with the ledger's records (see {@link historyProblems}). */
export type HistoryProblem =
  | { readonly kind: "renamed"; readonly record: MigrationRecord; readonly file: MigrationFile }
  | { readonly kind: "removed"; readonly record: MigrationRecord }
  | { readonly kind: "edited"; readonly record: MigrationRecord; readonly file: MigrationFile }
  | { readonly kind: "out-of-order"; readonly files: readonly MigrationFile[]; readonly newestApplied: string };

/**
 * Applied (or started) migrations whose file was renamed, removed or edited, in ledger order, then
 * the pending files older than the newest applied one. Deploy refuses on the first; `migrate check`
 * reports them all. `records` exclude the draft and rollback records.
 */
export function historyProblems(files: readonly MigrationFile[], records: readonly MigrationRecord[]): HistoryProblem[] {
  const out: HistoryProblem[] = [];
  const byId = new Map(files.map((f) => [f.id, f]));
  const byChecksum = new Map(files.map((f) => [f.checksum, f]));
  for (const record of records) {
    const file = byId.get(record.id);
    if (!file) {
      const renamed = byChecksum.get(record.checksum);
      out.push(renamed ? { kind: "renamed", record, file: renamed } : { kind: "removed", record });
    } else if (file.checksum !== record.checksum && !editableAfterFailure(record)) out.push({ kind: "edited", record, file });
  }
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const newestApplied = [...applied].sort().at(-1);
  const late = newestApplied === undefined ? [] : files.filter((f) => !applied.has(f.id) && f.id < newestApplied);
  if (newestApplied !== undefined && late.length > 0) out.push({ kind: "out-of-order", files: late, newestApplied });
  return out;
}
