import { INTEGRATION_ENGINES, type Column, type MaterializedView, type PlainView, type Table, type TableEngine, type TableIndex, type TableProjection } from "../../model/infra-map.js";
import { atLeast, parseServerVersion, type OlapCapabilities } from "./capabilities.js";
import {
  MOOSE_NAME_INFIX,
  asIdentifier,
  columnTtls, tableConstraints,
  engineClauses,
  parseSettingsClause,
  parseViewDefinition,
  splitTopLevel,
  stripDatabaseQualifier,
  tokenize,
  unwrapParentheses,
} from "./sql-text.js";
import { readReplication } from "./cluster.js";
import { readIntegrationEngine } from "./integration-engines.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/** Runs one read-only query and returns its rows as objects (JSONEachRow). */
export type QueryRunner = (sql: string) => Promise<Array<Record<string, unknown>>>;

/** An object in the managed database that the model cannot represent, and why. */
export interface SkippedObject {
  readonly name: string;
  /** ClickHouse engine of the object, e.g. `Log`, `View`, `MaterializedView`. */
  readonly engine: string;
  readonly reason: string;
}

/**
 * The managed database's tables and materialized views as InfraMap pieces.
 *
 * `lifeCycle` is not stored in ClickHouse: every object comes back `FULLY_MANAGED`
 * and the caller overlays the life cycle from its own state. Objects the model cannot
 * express (other engines, SAMPLE BY, views without TO)
 * are listed in `skipped` instead of being dropped silently or misdescribed.
 */
export interface OlapIntrospection {
  readonly tables: Record<string, Table>;
  readonly views: Record<string, MaterializedView>;
  /**
   * Plain views (`CREATE VIEW`). Their `sourceTables` come from ClickHouse's AST dump
   * (20.6 and later); before that they are empty, and callers take them from the model.
   */
  readonly plainViews: Record<string, PlainView>;
  readonly skipped: readonly SkippedObject[];
}

const MERGING_ENGINES = ["MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree", "CollapsingMergeTree", "VersionedCollapsingMergeTree"];
const MODELLED_ENGINES = new Set([...MERGING_ENGINES, ...MERGING_ENGINES.map((e) => `Replicated${e}`), ...INTEGRATION_ENGINES]);

const str = (v: unknown): string => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);

/**
 * Reads `database` back into the model through `system.tables`, `system.columns` and
 * `system.merge_tree_settings`, using the columns this server has.
 *
 * What is text in ClickHouse is read with ClickHouse's own output and a top-level
 * splitter (see sql-text.ts), not re-parsed: ORDER BY entries come from
 * `system.tables.sorting_key` split at top-level commas (an entry that is a single
 * identifier becomes the bare column name); TTL and SETTINGS from `engine_full`;
 * expressions (DEFAULT, PARTITION BY, TTL, the view's SELECT) exactly as ClickHouse
 * prints them. The SELECT loses the `database.` qualifier ClickHouse adds to tables.
 * Settings whose value equals the server's value for new tables (e.g.
 * `index_granularity = 8192`) are left out, so a table created from the model
 * introspects back to exactly the model.
 */
export async function introspectDatabase(run: QueryRunner, database: string, caps: OlapCapabilities): Promise<OlapIntrospection> {
  const db = quoteString(database);
  const systemColumns = await run(
    "SELECT table, name FROM system.columns WHERE database = 'system' AND table IN ('tables', 'columns', 'merge_tree_settings')",
  );
  const has = (table: string, column: string): boolean => systemColumns.some((r) => r.table === table && r.name === column);

  const tableFields = [
    "name",
    "engine",
    "engine_full",
    "sorting_key",
    "partition_key",
    "sampling_key",
    "create_table_query",
    "dependencies_database",
    "dependencies_table",
    ...["as_select", "target_database", "target_table", "uuid", "primary_key"].filter((c) => has("tables", c)),
  ];
  // Names starting `_moose_` are moose's own (the ledger and the lock kept in the target), never the app's.
  const tableRows = (await run(`SELECT ${tableFields.join(", ")} FROM system.tables WHERE database = ${db} AND NOT is_temporary ORDER BY name`)).filter(
    (r) => !isMooseInternal(str(r.name)),
  );
  // Servers before `position` existed list columns in table order already.
  const columnRows = await run(
    `SELECT table, name, type, default_kind, default_expression${has("columns", "compression_codec") ? ", compression_codec" : ""} FROM system.columns WHERE database = ${db}${has("columns", "position") ? " ORDER BY table, position" : ""}`,
  );
  // Indexes and projections, from the system tables that list them (servers that have neither have none).
  const systemTables = new Set((await run("SELECT name FROM system.tables WHERE database = 'system' AND name IN ('data_skipping_indices', 'projections')")).map((r) => str(r.name)));
  const indexRows = systemTables.has("data_skipping_indices")
    ? await run(`SELECT table, name, type_full, expr, granularity FROM system.data_skipping_indices WHERE database = ${db} ORDER BY table, name`)
    : [];
  const projectionRows = systemTables.has("projections") ? await run(`SELECT table, name, query FROM system.projections WHERE database = ${db} ORDER BY table, name`) : [];
  const settingRows = await run(`SELECT name, value${has("merge_tree_settings", "type") ? ", type" : ""} FROM system.merge_tree_settings`);

  const serverSettings = new Map(settingRows.map((r) => [str(r.name), { value: str(r.value), type: str(r.type) }]));
  const columnsByTable = new Map<string, Array<Record<string, unknown>>>();
  for (const row of columnRows) {
    const list = columnsByTable.get(str(row.table)) ?? [];
    list.push(row);
    columnsByTable.set(str(row.table), list);
  }

  const tables: Record<string, Table> = {};
  const views: Record<string, MaterializedView> = {};
  const plainViews: Record<string, PlainView> = {};
  const skipped: SkippedObject[] = [];
  // Trigger tables of each view, from the tables' side (every version has these).
  const triggers = new Map<string, Set<string>>();
  for (const row of tableRows) {
    const dbs = strings(row.dependencies_database);
    strings(row.dependencies_table).forEach((view, i) => {
      if ((dbs[i] ?? database) !== database) return;
      const set = triggers.get(view) ?? new Set<string>();
      set.add(str(row.name));
      triggers.set(view, set);
    });
  }

  const byName = new Map(tableRows.map((r) => [str(r.name), r]));
  for (const row of tableRows) {
    const name = str(row.name);
    const engine = str(row.engine);
    // The inner table of a view declared without TO is part of that view.
    if (name.startsWith(".inner")) continue;
    if (name.includes(MOOSE_NAME_INFIX)) {
      skipped.push({ name, engine, reason: "a copy a table rebuild kept (or a failed one left); drop it once it is no longer needed" });
      continue;
    }
    if (engine === "MaterializedView") {
      const view = await readView(row, database, run, caps, triggers.get(name), byName);
      if ("reason" in view) skipped.push({ name, engine, reason: view.reason });
      else views[name] = view;
      continue;
    }
    if (engine === "View") {
      const view = await readPlainView(row, database, run, caps);
      if ("reason" in view) skipped.push({ name, engine, reason: view.reason });
      else plainViews[name] = view;
      continue;
    }
    if (!MODELLED_ENGINES.has(engine)) {
      skipped.push({ name, engine, reason: `engine ${engine} is not one moose manages (the MergeTree family and their Replicated forms, Buffer, Merge, Kafka, S3, S3Queue)` });
      continue;
    }
    const table = readTable(row, columnsByTable.get(name) ?? [], serverSettings, database);
    if ("reason" in table) {
      skipped.push({ name, engine, reason: table.reason });
      continue;
    }
    const indexes: TableIndex[] = indexRows
      .filter((r) => str(r.table) === name)
      .map((r) => ({ name: str(r.name), expression: str(r.expr), type: str(r.type_full), granularity: Number(r.granularity) }));
    const projections: TableProjection[] = projectionRows.filter((r) => str(r.table) === name).map((r) => ({ name: str(r.name), body: str(r.query) }));
    const createQuery = str(row.create_table_query);
    const constraints = createQuery.includes("CONSTRAINT") ? tableConstraints(createQuery) : [];
    tables[name] = { ...table, ...(indexes.length > 0 ? { indexes } : {}), ...(projections.length > 0 ? { projections } : {}), ...(constraints.length > 0 ? { constraints } : {}) };
  }
  return { tables, views, plainViews, skipped };
}

async function readPlainView(row: Record<string, unknown>, database: string, run: QueryRunner, caps: OlapCapabilities): Promise<PlainView | Unrepresentable> {
  const stored = str(row.as_select) !== "" ? str(row.as_select) : parseViewDefinition(str(row.create_table_query)).select;
  if (stored === undefined || stored === "") return { reason: "its SELECT could not be read from create_table_query" };
  const sources = atLeast(parseServerVersion(caps.version), 20, 6) ? await tablesInQuery(run, stored, database) : [];
  return { name: str(row.name), selectStatement: stripDatabaseQualifier(stored, database), sourceTables: [...new Set(sources)].sort() };
}

/**
 * Another database's introspection in the model's names: its tables become
 * `<database>.<table>` (moose-lib's `database` option). moose plans materialized views in
 * the managed database only, so views found there are listed as skipped.
 */
export function qualifyIntrospection(read: OlapIntrospection, database: string): OlapIntrospection {
  const q = (name: string): string => `${database}.${name}`;
  const tables = Object.fromEntries(Object.entries(read.tables).map(([name, t]) => [q(name), { ...t, name: q(name) }]));
  const skipped = [
    ...read.skipped.map((s) => ({ ...s, name: q(s.name) })),
    ...Object.keys(read.views).map((name) => ({ name: q(name), engine: "MaterializedView", reason: `moose plans materialized views in the managed database only, not in ${database}` })),
    ...Object.keys(read.plainViews).map((name) => ({ name: q(name), engine: "View", reason: `moose plans views in the managed database only, not in ${database}` })),
  ];
  return { tables, views: {}, plainViews: {}, skipped };
}

/** Several databases' introspections as one (their names never meet: other databases' are qualified). */
export function mergeIntrospections(parts: readonly OlapIntrospection[]): OlapIntrospection {
  return {
    tables: Object.assign({}, ...parts.map((p) => p.tables)) as OlapIntrospection["tables"],
    views: Object.assign({}, ...parts.map((p) => p.views)) as OlapIntrospection["views"],
    plainViews: Object.assign({}, ...parts.map((p) => p.plainViews)) as OlapIntrospection["plainViews"],
    skipped: parts.flatMap((p) => p.skipped),
  };
}

interface Unrepresentable {
  readonly reason: string;
}

function readTable(
  row: Record<string, unknown>,
  columnRows: ReadonlyArray<Record<string, unknown>>,
  serverSettings: ReadonlyMap<string, { value: string; type: string }>,
  database: string,
): Table | Unrepresentable {
  const name = str(row.name);
  const clauses = engineClauses(str(row.engine_full));
  const engine = readEngine(str(row.engine), clauses.args, { database, table: name });
  if ("reason" in engine) return engine;

  const columns: Column[] = [];
  // Only a table with a column TTL has a `TTL` past its column names; reading them needs the CREATE text.
  const createQuery = str(row.create_table_query);
  const ttls = createQuery.includes(" TTL ") ? columnTtls(createQuery) : new Map<string, string>();
  for (const c of columnRows) {
    const kind = str(c.default_kind);
    const expression = str(c.default_expression);
    const value = kind === "DEFAULT" ? { default: expression } : kind === "MATERIALIZED" ? { materialized: expression } : kind === "ALIAS" ? { alias: expression } : undefined;
    if (kind !== "" && value === undefined) return { reason: `column ${str(c.name)} is ${kind} ${expression}; the model has DEFAULT, MATERIALIZED and ALIAS columns` };
    // `CODEC(ZSTD(3))` as ClickHouse prints it: the model keeps what is inside.
    const codecText = str(c.compression_codec);
    const codec = codecText.startsWith("CODEC(") && codecText.endsWith(")") ? codecText.slice("CODEC(".length, -1) : undefined;
    const ttl = ttls.get(str(c.name));
    columns.push({ name: str(c.name), type: str(c.type), ...value, ...(codec === undefined || codec === "" ? {} : { codec }), ...(ttl === undefined ? {} : { ttl }) });
  }

  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseSettingsClause(clauses.settings ?? ""))) {
    const server = serverSettings.get(key);
    if (server && sameSettingValue(value, server.value, server.type)) continue;
    settings[key] = value;
  }

  const partitionBy = str(row.partition_key);
  const ttl = clauses.ttl;
  const sorting = splitTopLevel(str(row.sorting_key)).map((e) => asIdentifier(e) ?? e);
  // VersionedCollapsingMergeTree appends its version column to the sorting key itself.
  const orderBy = engine.kind === "VersionedCollapsingMergeTree" && sorting.length > 1 && sorting[sorting.length - 1] === engine.version ? sorting.slice(0, -1) : sorting;
  // A primary key is modelled only where it is not the whole sorting key (ClickHouse reports both then).
  const primaryKey = splitTopLevel(str(row.primary_key)).map((e) => asIdentifier(e) ?? e);
  const separateKey = str(row.primary_key) !== "" && (primaryKey.length !== orderBy.length || primaryKey.some((e, i) => e !== orderBy[i]));
  const sampleBy = str(row.sampling_key);
  return {
    name,
    columns,
    orderBy,
    ...(separateKey ? { primaryKey } : {}),
    ...(sampleBy === "" ? {} : { sampleBy }),
    engine,
    ...(partitionBy === "" ? {} : { partitionBy }),
    ...(ttl === undefined || ttl === "" ? {} : { ttl }),
    settings,
    lifeCycle: "FULLY_MANAGED",
  };
}

/** Bool settings print as `true` or `1` depending on how they were written. */
function sameSettingValue(value: string, serverValue: string, type: string): boolean {
  if (value === serverValue) return true;
  if (type === "Bool" || type === "SettingBool") {
    const norm = (v: string): string => (v === "true" ? "1" : v === "false" ? "0" : v);
    return norm(value) === norm(serverValue);
  }
  return false;
}

/**
 * The engine in the model. A `Replicated*` engine's first two arguments are its keeper path
 * and replica name (string literals), read back into the model's terms by `readReplication`;
 * the cluster a table was created on is not stored by ClickHouse, so it is never read back.
 */
function readEngine(engine: string, args: string | undefined, where: { readonly database: string; readonly table: string }): TableEngine | Unrepresentable {
  const all = args === undefined || args === "" ? [] : splitTopLevel(args);
  if (engine.startsWith("Replicated")) {
    const [path, replica] = all.slice(0, 2).map((p) => {
      const tokens = tokenize(p).filter((t) => t.kind !== "space" && t.kind !== "comment");
      return tokens.length === 1 && tokens[0]?.kind === "string" ? tokens[0].value : undefined;
    });
    if (path === undefined || replica === undefined) return { reason: `${engine}(${args ?? ""}) does not start with a keeper path and a replica name, which the model expects` };
    const inner = readEngine(engine.slice("Replicated".length), all.slice(2).join(", "), where);
    if ("reason" in inner) return inner;
    return { ...inner, replicated: readReplication(path, replica, where.database, where.table) };
  }
  const integration = readIntegrationEngine(engine, args, where.database);
  if (integration !== undefined) return integration;
  const params = all;
  const names = params.map((p) => asIdentifier(p));
  const allNames = (list: Array<string | undefined>): list is string[] => list.every((n) => n !== undefined);
  switch (engine) {
    case "MergeTree":
    case "AggregatingMergeTree":
      if (params.length > 0) return { reason: `${engine}(${args}) uses the old engine syntax, which the model does not express` };
      return { kind: engine };
    case "ReplacingMergeTree": {
      if (params.length > 2 || !allNames(names)) return { reason: `ReplacingMergeTree(${args}) has parameters the model does not express` };
      const [ver, isDeleted] = names;
      return { kind: engine, ...(ver === undefined ? {} : { ver }), ...(isDeleted === undefined ? {} : { isDeleted }) };
    }
    case "SummingMergeTree": {
      if (params.length === 0) return { kind: engine };
      // `SummingMergeTree((a, b))` on new servers, `SummingMergeTree(a)` as old ones print a single column.
      const inner = params.length === 1 ? splitTopLevel(unwrapParentheses(params[0] as string)) : [];
      const columns = inner.map((p) => asIdentifier(p));
      if (params.length !== 1 || !allNames(columns)) return { reason: `SummingMergeTree(${args}) has parameters the model does not express` };
      return { kind: engine, columns };
    }
    case "CollapsingMergeTree": {
      const [sign] = names;
      if (params.length !== 1 || sign === undefined) return { reason: `CollapsingMergeTree(${args ?? ""}) has parameters the model does not express` };
      return { kind: engine, sign };
    }
    case "VersionedCollapsingMergeTree": {
      const [sign, version] = names;
      if (params.length !== 2 || sign === undefined || version === undefined) return { reason: `VersionedCollapsingMergeTree(${args ?? ""}) has parameters the model does not express` };
      return { kind: engine, sign, version };
    }
    default:
      return { reason: `engine ${engine} is not one moose manages` };
  }
}

async function readView(
  row: Record<string, unknown>,
  database: string,
  run: QueryRunner,
  caps: OlapCapabilities,
  triggerTables: ReadonlySet<string> | undefined,
  tables: ReadonlyMap<string, Record<string, unknown>>,
): Promise<MaterializedView | Unrepresentable> {
  const name = str(row.name);
  const parsed = parseViewDefinition(str(row.create_table_query));
  const targetDb = str(row.target_table) !== "" ? str(row.target_database) : (parsed.target?.[0] ?? database);
  let targetTable = str(row.target_table) !== "" ? str(row.target_table) : parsed.target?.[1];
  let inner: MaterializedView["inner"];
  if (targetTable === undefined || targetTable.startsWith(".inner")) {
    // Atomic databases name the inner table after the view's UUID, Ordinary ones after its name.
    const innerRow = (targetTable !== undefined ? tables.get(targetTable) : undefined) ?? tables.get(`.inner_id.${str(row.uuid)}`) ?? tables.get(`.inner.${name}`);
    if (!innerRow) return { reason: "it stores rows in an inner table (no TO clause) that could not be found" };
    const engine = readEngine(str(innerRow.engine), engineClauses(str(innerRow.engine_full)).args, { database, table: str(innerRow.name) });
    if ("reason" in engine) return { reason: `its inner table: ${engine.reason}` };
    const partitionBy = str(innerRow.partition_key);
    inner = { engine, orderBy: splitTopLevel(str(innerRow.sorting_key)).map((e) => asIdentifier(e) ?? e), ...(partitionBy === "" ? {} : { partitionBy }) };
    targetTable = name;
  } else if (targetDb !== database) return { reason: `it writes to ${targetDb}.${targetTable}, outside the managed database ${database}` };
  const stored = str(row.as_select) !== "" ? str(row.as_select) : parsed.select;
  if (stored === undefined || stored === "") return { reason: "its SELECT could not be read from create_table_query" };

  const sources = new Set(triggerTables ?? []);
  // Joined tables and subqueries are not triggers; ClickHouse's own AST dump names them all.
  if (atLeast(parseServerVersion(caps.version), 20, 6)) {
    for (const table of await tablesInQuery(run, stored, database)) sources.add(table);
  }
  // A view without TO: the SELECT follows the inner table's clauses in create_table_query.
  const select = inner && str(row.as_select) === "" ? (parsed.select ?? stored) : stored;
  return {
    name,
    selectStatement: stripDatabaseQualifier(select, database),
    sourceTables: [...sources].sort(),
    targetTable,
    lifeCycle: "FULLY_MANAGED",
    ...(inner ? { inner } : {}),
  };
}

/**
 * Tables a SELECT reads, from `EXPLAIN AST` (`TableIdentifier db.name` lines). Stored
 * view queries qualify every real table with its database; unqualified identifiers are
 * CTE names and are left out. Tables of other databases keep their `db.` prefix.
 */
async function tablesInQuery(run: QueryRunner, select: string, database: string): Promise<string[]> {
  const rows = await run(`EXPLAIN AST ${select}`);
  const out: string[] = [];
  for (const row of rows) {
    const line = str(Object.values(row)[0]).trim();
    if (!line.startsWith("TableIdentifier ")) continue;
    const ident = line.slice("TableIdentifier ".length).replace(/ \(alias [^)]*\)$/, "");
    if (ident.startsWith(`${database}.`)) out.push(ident.slice(database.length + 1));
    else if (ident.includes(".")) out.push(ident);
  }
  return out;
}

/** Tables moose keeps in the target for itself (the ledger and the lock): `_moose_…`. */
export const MOOSE_INTERNAL_PREFIX = "_moose_";

export function isMooseInternal(name: string): boolean {
  return name.startsWith(MOOSE_INTERNAL_PREFIX);
}
