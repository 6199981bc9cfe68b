/**
 * The names a declaration gets in the InfraMap, computed from the run-time objects the
 * way the extractor computes them from source (lib/extract/extract-app.ts), so a route
 * in the state finds its handler in the loaded app.
 */

/** `Users` with version `1.2` is the table or topic `Users_1_2`. */
export function versionedName(name: string, version: string | undefined): string {
  return version === undefined ? name : `${name}_${version.replace(/\./g, "_")}`;
}

/**
 * The route an API is served at, without the leading slash.
 *
 * @example apiPath("api", "metrics", "v2", undefined) // "api/metrics/v2"
 * @example apiPath("ingest", "Users", undefined, "/ingest/people") // "ingest/people"
 */
export function apiPath(prefix: "ingest" | "api", name: string, version: string | undefined, path: string | undefined): string {
  if (path === undefined) return version === undefined ? `${prefix}/${name}` : `${prefix}/${name}/${version}`;
  let custom = path.replace(/^\/+|\/+$/g, "");
  // moose-lib prefixes a custom ingest path with `ingest/` unless it already starts with it.
  if (prefix === "ingest" && custom.startsWith("ingest/")) custom = custom.slice("ingest/".length);
  // A custom path already ending with the version is served as it is (`metrics/v2` + `v2`).
  const withVersion = version === undefined || custom === version || custom.endsWith(`/${version}`) ? custom : `${custom}/${version}`;
  return `${prefix}/${withVersion}`;
}
