import type {
  SettingValue,
  ApiEndpoint,
  Column,
  MaterializedView,
  PlainView,
  SqlResource,
  SyncProcess,
  Table,
  TableEngine,
  TableConstraint,
  TableIndex,
  TableProjection,
  Topic,
  Workflow,
} from "../model/infra-map.js";

/**
 * One difference between two InfraMaps, as plain serializable data. No SQL and
 * no text: the ClickHouse adapter turns a change into statements, the CLI
 * presenter into words. Removal changes carry the whole removed object so that a
 * reverse step can be written without looking anything up.
 */
export type Change =
  // tables
  | { readonly kind: "table.create"; readonly table: Table }
  | { readonly kind: "table.drop"; readonly table: Table }
  | { readonly kind: "table.rename"; readonly from: string; readonly to: string }
  | {
      readonly kind: "table.addColumn";
      readonly table: string;
      readonly column: Column;
      /** The column it follows; `null` means FIRST. */
      readonly after: string | null;
    }
  | { readonly kind: "table.dropColumn"; readonly table: string; readonly column: Column }
  | { readonly kind: "table.renameColumn"; readonly table: string; readonly from: string; readonly to: string }
  | { readonly kind: "table.modifyColumn"; readonly table: string; readonly before: Column; readonly after: Column }
  | {
      readonly kind: "table.moveColumn";
      readonly table: string;
      readonly column: string;
      /** The column it now follows; `null` means FIRST. */
      readonly after: string | null;
      /** The column it followed before, for the reverse step. */
      readonly before: string | null;
    }
  | { readonly kind: "table.setOrderBy"; readonly table: string; readonly before: readonly string[]; readonly after: readonly string[] }
  | { readonly kind: "table.setEngine"; readonly table: string; readonly before: TableEngine; readonly after: TableEngine }
  | { readonly kind: "table.setPartitionBy"; readonly table: string; readonly before?: string; readonly after?: string }
  | { readonly kind: "table.setTtl"; readonly table: string; readonly before?: string; readonly after?: string }
  | {
      readonly kind: "table.setSettings";
      readonly table: string;
      readonly before: Readonly<Record<string, SettingValue>>;
      readonly after: Readonly<Record<string, SettingValue>>;
    }
  | { readonly kind: "table.setPrimaryKey"; readonly table: string; readonly before?: readonly string[]; readonly after?: readonly string[] }
  | { readonly kind: "table.setSampleBy"; readonly table: string; readonly before?: string; readonly after?: string }
  /** Adds, drops and replaces data-skipping indexes (by name): `ADD INDEX` + `MATERIALIZE INDEX`, `DROP INDEX`. */
  | { readonly kind: "table.setIndexes"; readonly table: string; readonly before: readonly TableIndex[]; readonly after: readonly TableIndex[] }
  /** Adds, drops and replaces constraints (by name): `ADD CONSTRAINT`, `DROP CONSTRAINT`; rows already stored are not checked. */
  | { readonly kind: "table.setConstraints"; readonly table: string; readonly before: readonly TableConstraint[]; readonly after: readonly TableConstraint[] }
  /** Adds, drops and replaces projections (by name): `ADD PROJECTION` + `MATERIALIZE PROJECTION`, `DROP PROJECTION`. */
  | { readonly kind: "table.setProjections"; readonly table: string; readonly before: readonly TableProjection[]; readonly after: readonly TableProjection[] }
  | { readonly kind: "table.setLifeCycle"; readonly table: string; readonly before: Table["lifeCycle"]; readonly after: Table["lifeCycle"] }
  // Made by the planner, never by diff: what ClickHouse cannot ALTER, and data (not schema) work.
  | {
      /**
       * Rebuilds a table keeping its rows: a new table with the `after` definition (same name
       * and columns; engine, ORDER BY or PARTITION BY differ), the rows copied and verified,
       * then the names swapped.
       */
      readonly kind: "table.rebuild";
      readonly before: Table;
      readonly after: Table;
      /** The name the previous table is kept under after the swap; absent: it is dropped (an approval in the file). */
      readonly keepOldAs?: string;
    }
  | {
      /**
       * Fills `column` in every row: with the value of column `convertFrom` converted to
       * `column`'s type (values that do not convert get the type's default, or NULL), or
       * with `expression`, SQL over the row's columns. No schema change.
       */
      readonly kind: "table.backfillColumn";
      readonly table: string;
      readonly column: string;
      readonly convertFrom?: string;
      readonly expression?: string;
    }
  | {
      /** Copies rows from one table into another (`INSERT … SELECT` of the named columns). No schema change. */
      readonly kind: "table.copyRows";
      readonly from: string;
      readonly to: string;
      readonly columns: readonly string[];
    }
  // materialized views
  | { readonly kind: "view.create"; readonly view: MaterializedView }
  | { readonly kind: "view.drop"; readonly view: MaterializedView }
  | { readonly kind: "view.modify"; readonly before: MaterializedView; readonly after: MaterializedView }
  /** Runs a view's SELECT over the rows its sources already hold and inserts the result where the view writes. No schema change. */
  | { readonly kind: "view.backfill"; readonly view: MaterializedView }
  // plain views (moose-lib's View)
  | { readonly kind: "plainView.create"; readonly view: PlainView }
  | { readonly kind: "plainView.drop"; readonly view: PlainView }
  | { readonly kind: "plainView.modify"; readonly before: PlainView; readonly after: PlainView }
  // raw DDL (moose-lib's SqlResource): setup runs its statements, teardown the others
  | { readonly kind: "sqlResource.create"; readonly resource: SqlResource }
  | { readonly kind: "sqlResource.drop"; readonly resource: SqlResource }
  /** Runs the teardown of `before` (the state's, not the code's), then the setup of `after`. */
  | { readonly kind: "sqlResource.modify"; readonly before: SqlResource; readonly after: SqlResource }
  // topics
  | { readonly kind: "topic.create"; readonly topic: Topic }
  | { readonly kind: "topic.drop"; readonly topic: Topic }
  | { readonly kind: "topic.modify"; readonly before: Topic; readonly after: Topic }
  // API endpoints
  | { readonly kind: "api.create"; readonly api: ApiEndpoint }
  | { readonly kind: "api.drop"; readonly api: ApiEndpoint }
  | { readonly kind: "api.modify"; readonly before: ApiEndpoint; readonly after: ApiEndpoint }
  // workflows
  | { readonly kind: "workflow.create"; readonly workflow: Workflow }
  | { readonly kind: "workflow.drop"; readonly workflow: Workflow }
  | { readonly kind: "workflow.modify"; readonly before: Workflow; readonly after: Workflow }
  // topic → table sync processes
  | { readonly kind: "process.create"; readonly process: SyncProcess }
  | { readonly kind: "process.drop"; readonly process: SyncProcess }
  | { readonly kind: "process.modify"; readonly before: SyncProcess; readonly after: SyncProcess };

export type ChangeKind = Change["kind"];
export type ChangeOf<K extends ChangeKind> = Extract<Change, { kind: K }>;

/** Every change kind, for exhaustiveness tests and dispatch tables. */
export const CHANGE_KINDS = [
  "table.create",
  "table.drop",
  "table.rename",
  "table.addColumn",
  "table.dropColumn",
  "table.renameColumn",
  "table.modifyColumn",
  "table.moveColumn",
  "table.setOrderBy",
  "table.setEngine",
  "table.setPartitionBy",
  "table.setTtl",
  "table.setSettings",
  "table.setPrimaryKey",
  "table.setSampleBy",
  "table.setIndexes",
  "table.setConstraints",
  "table.setProjections",
  "table.setLifeCycle",
  "table.rebuild",
  "table.backfillColumn",
  "table.copyRows",
  "view.create",
  "view.drop",
  "view.modify",
  "view.backfill",
  "plainView.create",
  "plainView.drop",
  "plainView.modify",
  "sqlResource.create",
  "sqlResource.drop",
  "sqlResource.modify",
  "topic.create",
  "topic.drop",
  "topic.modify",
  "api.create",
  "api.drop",
  "api.modify",
  "workflow.create",
  "workflow.drop",
  "workflow.modify",
  "process.create",
  "process.drop",
  "process.modify",
] as const satisfies readonly ChangeKind[];

/**
 * Kinds only the planner writes: `diff` never returns them (it compares states, and these
 * either do what ClickHouse cannot ALTER or move data without changing the state).
 */
export const PLANNER_CHANGE_KINDS = ["table.rebuild", "table.backfillColumn", "table.copyRows", "view.backfill"] as const satisfies readonly ChangeKind[];

/** Kinds that change data but not the state: replay leaves the map as it is. */
export const DATA_CHANGE_KINDS = ["table.backfillColumn", "table.copyRows", "view.backfill"] as const satisfies readonly ChangeKind[];

// Compile-time check that CHANGE_KINDS lists every kind.
type Missing = Exclude<ChangeKind, (typeof CHANGE_KINDS)[number]>;
const _allKindsListed: Missing extends never ? true : Missing = true;
void _allKindsListed;
