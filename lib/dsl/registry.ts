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

/** The object of one of `kinds` declared under `name` (its registry key or plain name). */
export function lookup<T>(kinds: readonly DeclarationKind[], name: string): T | undefined {
  return declared.find((d) => kinds.includes(d.kind) && (registryKey(d) === name || d.name === name)) as T | undefined;
}
