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
import type { ApiEndpoint, Column, LifeCycle, MaterializedView, SyncProcess, Table, TableEngine, Topic, Workflow } from "../model/infra-map.js";

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
export const setLifeCycle = step<[table: string, lifeCycle: LifeCycle]>("setLifeCycle");
export const createView = step<[view: MaterializedView]>("createView");
export const dropView = step<[name: string]>("dropView");
export const modifyView = step<[view: MaterializedView]>("modifyView");
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
export const sql = step<[statement: string, options?: { readonly reverse?: string }]>("sql");

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
  "setLifeCycle",
  "createView",
  "dropView",
  "modifyView",
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
  "sql",
] as const;
export type StepOp = (typeof STEP_OPS)[number];
