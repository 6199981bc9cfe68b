/**
 * The declaration library: what app files import.
 *
 * @example
 * import { OlapTable, Stream } from "moose-migrate";
 * interface UserSchema { id: string; name: string; email: string }
 * export const usersTable = new OlapTable<UserSchema>("Users");
 * export const userEvents = new Stream<UserSchema>("UserEvents");
 */
export { OlapTable, ClickHouseEngines, LifeCycle, type OlapConfig, type ColumnRef } from "./dsl/olap-table.js";
export { Stream, type StreamConfig } from "./dsl/stream.js";
export { MaterializedView, type MaterializedViewConfig } from "./dsl/materialized-view.js";
export { IngestApi, ConsumptionApi, Api, type IngestConfig, type ApiConfig, type ApiHandler, type ApiUtils } from "./dsl/api.js";
export { Workflow, Task, type WorkflowConfig, type TaskConfig } from "./dsl/workflow.js";
export { IngestPipeline, DeadLetterQueue, type IngestPipelineConfig } from "./dsl/ingest-pipeline.js";
export { sql, type Sql } from "./dsl/sql.js";
export { declaredObjects, clearDeclarations } from "./dsl/registry.js";
export * from "./dsl/column-types.js";
