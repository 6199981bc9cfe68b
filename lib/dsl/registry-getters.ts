import type { ConsumptionApi, IngestApi } from "./api.js";
import type { MaterializedView } from "./materialized-view.js";
import type { OlapTable } from "./olap-table.js";
import type { SqlResource } from "./sql-resource.js";
import type { Stream } from "./stream.js";
import type { View } from "./view.js";
import type { WebApp } from "./web-app.js";
import type { Workflow } from "./workflow.js";
import { lookup } from "./registry.js";

// moose-lib's registry getters. Planning resolves them statically (a `getTable("X")` in a view's
// SELECT is the table declared as X); under `moose dev` / `moose prod` they look the object up here.
/** The table declared under `name` (`<name>_<version>` for a versioned one). @example getTable("Customer") */
export const getTable = (name: string): OlapTable<any> | undefined => lookup(["OlapTable"], name);
/** The stream declared under `name`. */
export const getStream = (name: string): Stream<any> | undefined => lookup(["Stream", "DeadLetterQueue"], name);
/** The ingest API declared under `name`. */
export const getIngestApi = (name: string): IngestApi<any> | undefined => lookup(["IngestApi"], name);
/** The consumption API declared under `name`. */
export const getApi = (name: string): ConsumptionApi<any, any> | undefined => lookup(["ConsumptionApi"], name);
/** The materialized view declared under `name`. */
export const getMaterializedView = (name: string): MaterializedView<any> | undefined => lookup(["MaterializedView"], name);
/** The plain view declared under `name`. */
export const getView = (name: string): View | undefined => lookup(["View"], name);
/** The SQL resource declared under `name`. */
export const getSqlResource = (name: string): SqlResource | undefined => lookup(["SqlResource"], name);
/** The workflow declared under `name`. */
export const getWorkflow = (name: string): Workflow | undefined => lookup(["Workflow"], name);
/** The web app declared under `name`. */
export const getWebApp = (name: string): WebApp | undefined => lookup(["WebApp"], name);
