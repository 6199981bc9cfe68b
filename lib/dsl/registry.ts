import type { ConsumptionApi, IngestApi } from "./api.js";
import type { MaterializedView } from "./materialized-view.js";
import type { OlapTable } from "./olap-table.js";
import type { SqlResource } from "./sql-resource.js";
import type { Stream } from "./stream.js";
import type { View } from "./view.js";
import type { WebApp } from "./web-app.js";
import type { Workflow } from "./workflow.js";

/**
 * Runtime registry of declared objects. Planning never runs user code (the
 * extractor reads the source statically); the registry serves the dev and prod
 * servers, which import the app to run its API handlers.
 */
export type DeclarationKind =
  | "OlapTable"
  | "Stream"
  | "MaterializedView"
  | "IngestApi"
  | "ConsumptionApi"
  | "Workflow"
  | "IngestPipeline"
  | "View"
  | "Task"
  | "DeadLetterQueue"
  | "SqlResource"
  | "WebApp";

export interface Declared {
  readonly kind: DeclarationKind;
  readonly name: string;
}

const declared: Declared[] = [];

export function register<T extends Declared>(object: T): T {
  declared.push(object);
  return object;
}

/** Everything constructed so far, in construction order. */
export function declaredObjects(): readonly Declared[] {
  return declared;
}

/** Forget every declaration (the dev server calls this before re-importing the app). */
export function clearDeclarations(): void {
  declared.length = 0;
}

/** The registry key moose-lib uses: the name, with `_<version>` when the object has a version. */
function registryKey(object: Declared): string {
  const version = (object as { config?: { version?: unknown } }).config?.version;
  return typeof version === "string" && version !== "" ? `${object.name}_${version}` : object.name;
}

function lookup<T>(kinds: readonly DeclarationKind[], name: string): T | undefined {
  return declared.find((d) => kinds.includes(d.kind) && (registryKey(d) === name || d.name === name)) as T | undefined;
}

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
