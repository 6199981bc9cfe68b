/**
 * What migration files import (`moose-migrate/migration`). Every step is a
 * plain call with literal arguments, so a file can be edited by hand, reviewed
 * in a diff, type-checked, and read back without being run.
 *
 * @example
 * import { migration, addColumn, sql } from "moose-migrate/migration";
 * export default migration({
 *   parent: "sha256:…",
 *   result: "sha256:…",
 *   up: [
 *     addColumn("Users", { name: "age", type: "Nullable(Float64)", after: "email" }),
 *     sql("ALTER TABLE `Users` UPDATE `age` = 0 WHERE `age` IS NULL"),
 *   ],
 *   down: [dropColumn("Users", "age", { approveDataLoss: true })],
 * });
 */
import type { ApiEndpoint, Column, LifeCycle, MaterializedView, PlainView, SqlResource, SyncProcess, Table, TableEngine, TableConstraint, TableIndex, TableProjection, Topic, Workflow } from "../../model/infra-map.js";

/** Written on a step that loses data: deploy runs it only when this is `true`. */
export interface Approval {
  readonly approveDataLoss?: boolean;
}

/** One step of a migration: the builder's name and its arguments, exactly as written in the file. */
export interface Step {
  readonly op: StepOp;
  readonly args: readonly unknown[];
}

export interface Migration {
  /** State hash the migration expects before it runs. */
  readonly parent: string;
  /** State hash after its structured steps. */
  readonly result: string;
  readonly up: readonly Step[];
  /** Reverse steps, newest first; `null` when the migration cannot be reversed. */
  readonly down: readonly Step[] | null;
}

export function migration(m: Migration): Migration {
  return m;
}

const step =
  <A extends unknown[]>(op: StepOp) =>
  (...args: A): Step => ({ op, args });

export const createTable = step<[table: Table]>("createTable");
export const dropTable = step<[name: string, approval?: Approval]>("dropTable");
export const renameTable = step<[from: string, to: string]>("renameTable");
export const addColumn = step<[table: string, column: Column & { readonly after: string | null }]>("addColumn");
export const dropColumn = step<[table: string, name: string, approval?: Approval]>("dropColumn");
export const renameColumn = step<[table: string, from: string, to: string]>("renameColumn");
export const modifyColumn = step<[table: string, column: Column, approval?: Approval]>("modifyColumn");
export const moveColumn = step<[table: string, name: string, position: { readonly after: string | null }]>("moveColumn");
export const setOrderBy = step<[table: string, orderBy: readonly string[]]>("setOrderBy");
export const setEngine = step<[table: string, engine: TableEngine, approval?: Approval]>("setEngine");
export const setPartitionBy = step<[table: string, partitionBy: string | null]>("setPartitionBy");
export const setTtl = step<[table: string, ttl: string | null, approval?: Approval]>("setTtl");
export const setSettings = step<[table: string, settings: Readonly<Record<string, string>>]>("setSettings");
/** PRIMARY KEY expressions when they differ from the ORDER BY; `null` makes the primary key the whole ORDER BY again. Only a rebuild changes it. */
export const setPrimaryKey = step<[table: string, primaryKey: readonly string[] | null]>("setPrimaryKey");
/** SAMPLE BY expression, or `null` for none. Only a rebuild changes it. */
export const setSampleBy = step<[table: string, sampleBy: string | null]>("setSampleBy");
/** The table's data-skipping indexes (all of them): new ones are added and built for existing rows, missing ones dropped. */
export const setIndexes = step<[table: string, indexes: readonly TableIndex[]]>("setIndexes");
/** The table's constraints (all of them): new ones are added, missing ones dropped; rows already stored are not checked. */
export const setConstraints = step<[table: string, constraints: readonly TableConstraint[]]>("setConstraints");
/** The table's projections (all of them): new ones are added and built for existing rows, missing ones dropped. */
export const setProjections = step<[table: string, projections: readonly TableProjection[]]>("setProjections");
export const setLifeCycle = step<[table: string, lifeCycle: LifeCycle]>("setLifeCycle");
export const createView = step<[view: MaterializedView]>("createView");
/** A view that stores its own rows (no TO) loses them: that needs an approval. */
export const dropView = step<[name: string, approval?: Approval]>("dropView");
/** Re-creating a view that stores its own rows (no TO) loses them: that needs an approval. */
export const modifyView = step<[view: MaterializedView, approval?: Approval]>("modifyView");
/** A plain view (moose-lib's `View`): `CREATE VIEW … AS <select>`. */
export const createPlainView = step<[view: PlainView]>("createPlainView");
export const dropPlainView = step<[name: string]>("dropPlainView");
/** Drops the view and creates it with the new SELECT (a view holds no rows). */
export const modifyPlainView = step<[view: PlainView]>("modifyPlainView");
/**
 * Raw DDL (moose-lib's `SqlResource`): runs `setup` in order. `dropSqlResource` runs the
 * teardown recorded by the migrations before it; `modifySqlResource` runs that teardown,
 * then the new setup. Dropping rows (a teardown that drops a table) needs an approval.
 *
 * @example createSqlResource({ name: "Top", setup: ["CREATE VIEW top AS SELECT 1"], teardown: ["DROP VIEW top"], pullsDataFrom: [], pushesDataTo: [] })
 */
export const createSqlResource = step<[resource: SqlResource]>("createSqlResource");
export const dropSqlResource = step<[name: string, approval?: Approval]>("dropSqlResource");
export const modifySqlResource = step<[resource: SqlResource, approval?: Approval]>("modifySqlResource");
export const createTopic = step<[topic: Topic]>("createTopic");
export const deleteTopic = step<[name: string, approval?: Approval]>("deleteTopic");
export const alterTopic = step<[topic: Topic, approval?: Approval]>("alterTopic");
export const createApi = step<[api: ApiEndpoint]>("createApi");
export const dropApi = step<[name: string]>("dropApi");
export const modifyApi = step<[api: ApiEndpoint]>("modifyApi");
export const createWorkflow = step<[workflow: Workflow]>("createWorkflow");
export const dropWorkflow = step<[name: string]>("dropWorkflow");
export const modifyWorkflow = step<[workflow: Workflow]>("modifyWorkflow");
export const createProcess = step<[process: SyncProcess]>("createProcess");
export const dropProcess = step<[name: string]>("dropProcess");
export const modifyProcess = step<[process: SyncProcess]>("modifyProcess");
/** Hand-written SQL (a backfill, a data fix). It does not change the tracked state. */
export const sql = step<[statement: string, options?: { readonly reverse?: string; readonly approveDataLoss?: boolean }]>("sql");

/** What a rebuild changes; anything left out stays as it is. `partitionBy: null` removes the partition key. */
export interface RebuildDefinition {
  readonly engine?: TableEngine;
  readonly orderBy?: readonly string[];
  readonly partitionBy?: string | null;
  readonly primaryKey?: readonly string[] | null;
  readonly sampleBy?: string | null;
}

/**
 * `keepOldAs`: the name the previous table stays under after the swap. Without it the
 * previous table is dropped once the copy is verified, which needs `approveDataLoss: true`.
 */
export interface RebuildOptions extends Approval {
  readonly keepOldAs?: string;
}

/**
 * Rebuilds a table with what ClickHouse cannot ALTER (engine, ORDER BY, PARTITION BY),
 * keeping its rows: a copy with the new definition, the rows copied and verified (count
 * and checksum), the names swapped. Safe to re-run after a failure before the swap.
 *
 * @example rebuildTable("Events", { orderBy: ["tenant", "ts"] }, { keepOldAs: "Events__moose_old_20261126031500" })
 */
export const rebuildTable = step<[table: string, definition: RebuildDefinition, options?: RebuildOptions]>("rebuildTable");
/**
 * Fills a column in every row: `convertFrom` converts another column's values to this
 * column's type (values that do not convert become NULL or the type's default);
 * `expression` is SQL over the row's columns. Runs as a mutation and waits for it.
 *
 * @example backfillColumn("Users", "score__moose_new", { convertFrom: "score" })
 */
export const backfillColumn = step<[table: string, column: string, source: { readonly convertFrom: string } | { readonly expression: string }]>("backfillColumn");
/**
 * Copies the named columns of every row of one table into another, which must be empty;
 * stops unless both then hold the same rows (count and checksum).
 *
 * @example copyRows("Audit", "Audit_2", ["id", "at", "who"])
 */
export const copyRows = step<[from: string, to: string, columns: readonly string[]]>("copyRows");
/**
 * Runs a materialized view's SELECT over the rows its sources already hold and inserts the
 * result where the view writes (a view only sees rows inserted after it exists).
 *
 * @example backfillView("DailyTotals")
 */
export const backfillView = step<[name: string]>("backfillView");
/**
 * A pre-flight check: a query whose rows, if it returns any, stop the migration at this
 * step (nothing after it runs); the message heads the rows shown. It does not change the
 * tracked state.
 *
 * @example check("SELECT id AS problem FROM Users WHERE email = ''", { message: "users without an email" })
 */
export const check = step<[query: string, options?: { readonly message?: string }]>("check");

export const STEP_OPS = [
  "createTable",
  "dropTable",
  "renameTable",
  "addColumn",
  "dropColumn",
  "renameColumn",
  "modifyColumn",
  "moveColumn",
  "setOrderBy",
  "setEngine",
  "setPartitionBy",
  "setTtl",
  "setSettings",
  "setPrimaryKey",
  "setSampleBy",
  "setIndexes",
  "setConstraints",
  "setProjections",
  "setLifeCycle",
  "createView",
  "dropView",
  "modifyView",
  "createPlainView",
  "dropPlainView",
  "modifyPlainView",
  "createSqlResource",
  "dropSqlResource",
  "modifySqlResource",
  "createTopic",
  "deleteTopic",
  "alterTopic",
  "createApi",
  "dropApi",
  "modifyApi",
  "createWorkflow",
  "dropWorkflow",
  "modifyWorkflow",
  "createProcess",
  "dropProcess",
  "modifyProcess",
  "rebuildTable",
  "backfillColumn",
  "copyRows",
  "backfillView",
  "sql",
  "check",
] as const;
export type StepOp = (typeof STEP_OPS)[number];
