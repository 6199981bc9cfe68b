/**
 * The declaration library: what app files import. It also answers to the name
 * `@514labs/moose-lib`: every name a moose-lib app imports exists here with the same
 * shape; the run-time helpers (`MooseCache`, `getMooseUtils`, …) work while `moose dev` or
 * `moose prod` runs the app (see lib/dsl/runtime.ts).
 *
 * @example
 * import { OlapTable, Stream } from "moose-migrate";
 * interface UserSchema { id: string; name: string; email: string }
 * export const usersTable = new OlapTable<UserSchema>("Users");
 * export const userEvents = new Stream<UserSchema>("UserEvents");
 */
export {
  OlapTable,
  ClickHouseEngines,
  LifeCycle,
  type OlapConfig,
  type ColumnRef,
  type ColumnRef as Column,
  type InsertResult,
  type InsertOptions,
} from "./dsl/olap-table.js";
export {
  Stream,
  RoutedMessage,
  DEFAULT_RETENTION_SECONDS,
  type StreamConfig,
  type TransformConfig,
  type ConsumerConfig,
  type ZeroOrMany,
} from "./dsl/stream.js";
export { DeadLetterQueue, type DeadLetterModel, type DeadLetter } from "./dsl/stream.js";
export { MaterializedView, type MaterializedViewConfig } from "./dsl/materialized-view.js";
export { View } from "./dsl/view.js";
export { SqlResource } from "./dsl/sql-resource.js";
export { WebApp, type WebAppConfig, type WebAppHandler, type FrameworkApp } from "./dsl/web-app.js";
export {
  IngestApi,
  ConsumptionApi,
  Api,
  type IngestConfig,
  type ApiConfig,
  type EgressConfig,
  type ApiHandler,
  type ApiUtils,
} from "./dsl/api.js";
export { Workflow, Task, type WorkflowConfig, type TaskConfig, type TaskContext } from "./dsl/workflow.js";
export { IngestPipeline, type IngestPipelineConfig } from "./dsl/ingest-pipeline.js";
export { sql, toQuery, quoteIdentifier, Sql, type SqlTemplateTag, type TypedParameter, type ParameterDialect } from "./dsl/sql.js";
export {
  MooseCache,
  MooseClient,
  QueryClient,
  getMooseClients,
  getMooseUtils,
  getMooseUtilsFromRequest,
  getLegacyMooseUtils,
  expressMiddleware,
  expressApiKeyAuthMiddleware,
  mooseLogger,
  cliLog,
  mooseRuntimeEnv,
  mooseEnvSecrets,
  ApiHelpers,
  ConsumptionHelpers,
  type CliLogData,
  type QueryRunner,
  type ClickHouseQueryable,
  type QueryResult,
  type WorkflowClient,
  type MooseUtils,
  type ApiUtil,
  type ConsumptionUtil,
  type JWTPayload,
} from "./dsl/runtime.js";
export { declaredObjects, clearDeclarations } from "./dsl/registry.js";
export {
  getTable,
  getStream,
  getIngestApi,
  getApi,
  getMaterializedView,
  getView,
  getSqlResource,
  getWorkflow,
  getWebApp,
} from "./dsl/registry-getters.js";
export * from "./dsl/column-types.js";
