import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiUtils } from "../dsl/api.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { StreamEngine } from "../engines/stream/engine.js";
import { declareParameterType } from "../dsl/sql.js";
import { parseClickHouseType, type ClickHouseType } from "../model/clickhouse-type.js";
import type { ApiEndpoint, Column, InfraMap } from "../model/infra-map.js";
import { createApiUtils } from "../runtime/api-utils.js";
import { describeAppError, type LoadedApp } from "../runtime/load-app.js";
import { readJsonBody, sendJson, type RouteHandler } from "./server.js";
import { coerceQueryParams, validateRows } from "./validate.js";

export interface ApiRoutesOptions {
  /** The state being served, read per request: routes follow the migrations applied. */
  readonly getState: () => InfraMap;
  /** The running app (for consumption handlers), or undefined while it is not loaded. */
  readonly app: () => LoadedApp | undefined;
  /** Why the app is not loaded (its `APP_LOAD_FAILED` error), for the 503 answer. */
  readonly appError?: () => unknown;
  readonly olap: OlapEngine;
  /** Needed for ingest endpoints that deliver to a topic; without it they answer 503. */
  readonly streams?: StreamEngine;
  readonly log: (line: string) => void;
  /** Errors of the app's handlers as one line with their .ts file:line, for the developer's terminal. */
  readonly appLog?: (line: string) => void;
  /** App file positions in `appLog` lines are relative to this folder. */
  readonly projectDir?: string;
  /** Largest ingest body accepted (default 10 MiB); larger ones get 413. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * The app's HTTP endpoints, as the state declares them:
 *
 * - `POST /ingest/<path>`: validates the body (one object or an array) against the
 *   endpoint's columns, then delivers every row to its destination topic, or inserts
 *   them into its destination table; `{ inserted: n }`. Invalid input: 400
 *   `{ error, errors: [{ path, reason }] }` and nothing is written.
 * - `GET /api/<path>?...`: query parameters typed by the API's columns (400 when
 *   invalid, or not one of a string-literal union's values), then the app's handler
 *   with `(params, { query, client, sql })`; its result as JSON. No handler (app not
 *   loaded): 503. An array parameter is an array however many times it is repeated
 *   (`?tags=a` is `["a"]`), and binds in `sql` as the Array type it declares.
 *
 * Paths not in the state are left to the next route (in the end a 404).
 *
 * @example
 * startHttpServer({ host, port, routes: () => [createApiRoutes({ getState, app, olap, streams, log })] });
 */
export function createApiRoutes(options: ApiRoutesOptions): RouteHandler {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let utils: ApiUtils | undefined;
  return async (req, res, url) => {
    const path = routePath(url.pathname);
    if (path === undefined) return false;
    const kind = path.startsWith("ingest/") ? "ingest" : path.startsWith("api/") ? "consumption" : undefined;
    if (kind === undefined) return false;
    const endpoint = options.getState().apis[path];
    if (endpoint === undefined || endpoint.kind !== kind) return false;
    if (kind === "ingest") {
      if (req.method !== "POST") {
        sendJson(res, 405, { error: `${url.pathname} accepts POST only` }, { allow: "POST" });
        return true;
      }
      await ingest(options, endpoint, req, res, maxBody);
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { error: `${url.pathname} answers GET only` }, { allow: "GET, HEAD" });
      return true;
    }
    utils ??= createApiUtils(options.olap);
    await consume(options, endpoint, url, res, utils);
    return true;
  };
}

/** `/api/metrics/v2/` → `api/metrics/v2`; undefined when the path cannot be decoded. */
function routePath(pathname: string): string | undefined {
  try {
    return decodeURIComponent(pathname).replace(/^\/+|\/+$/g, "");
  } catch {
    return undefined;
  }
}

async function ingest(options: ApiRoutesOptions, endpoint: ApiEndpoint, req: IncomingMessage, res: ServerResponse, maxBody: number): Promise<void> {
  const body = await readJsonBody(req, maxBody);
  const { rows, errors, errorCount } = validateRows(body, endpoint.columns);
  if (errorCount > 0) {
    const shown = errors.length < errorCount ? ` (the first ${errors.length} are listed)` : "";
    sendJson(res, 400, {
      error: `${errorCount} invalid value${errorCount === 1 ? "" : "s"} in the body of POST /${endpoint.name}${shown}; nothing was written`,
      errors,
    });
    return;
  }
  const state = options.getState();
  const destination = endpoint.destination;
  try {
    if (destination !== undefined && state.topics[destination] !== undefined) {
      if (options.streams === undefined) {
        sendJson(res, 503, { error: `${endpoint.name} delivers to topic ${destination}, but no stream engine is running (features.streaming_engine)` });
        return;
      }
      await options.streams.produce(destination, rows);
    } else if (destination !== undefined && state.tables[destination] !== undefined) {
      await options.olap.insertJsonRows(destination, rows);
    } else {
      sendJson(res, 503, {
        error:
          destination === undefined
            ? `${endpoint.name} has no destination`
            : `${endpoint.name} delivers to ${destination}, which is neither a topic nor a table in the current state`,
      });
      return;
    }
  } catch (error) {
    options.log(`POST /${endpoint.name}: writing ${rows.length} row(s) to ${destination} failed: ${(error as Error).message}`);
    sendJson(res, 500, { error: `could not write to ${destination}: ${(error as Error).message}` });
    return;
  }
  sendJson(res, 200, { inserted: rows.length });
}

async function consume(options: ApiRoutesOptions, endpoint: ApiEndpoint, url: URL, res: ServerResponse, utils: ApiUtils): Promise<void> {
  const { params, errors } = coerceQueryParams(url.searchParams, endpoint.columns);
  if (errors.length > 0) {
    sendJson(res, 400, { error: `invalid query parameters for GET /${endpoint.name}`, errors });
    return;
  }
  declareArrayTypes(params, endpoint.columns);
  const app = options.app();
  const entry = app?.consumptionApis[endpoint.name];
  if (entry === undefined) {
    const loadError = options.appError?.();
    const reason =
      app !== undefined
        ? `the app declares no API at ${endpoint.name} (the applied migrations have it: generate and deploy a migration, or restore the API in the code)`
        : loadError !== undefined
          ? `the app failed to load: ${loadError instanceof Error ? loadError.message : String(loadError)}`
          : "the app is not loaded yet";
    sendJson(res, 503, { error: `GET /${endpoint.name} has no handler: ${reason}` });
    return;
  }
  let result: unknown;
  try {
    result = await entry.handler(params, utils);
  } catch (error) {
    options.log(`GET /${endpoint.name}: the handler threw: ${error instanceof Error && error.stack ? error.stack : String(error)}`);
    options.appLog?.(`✗ GET /${endpoint.name}: the handler threw: ${describeAppError(error, options.projectDir)}`);
    sendJson(res, 500, { error: `the handler of ${endpoint.name} failed: ${error instanceof Error ? error.message : String(error)}` });
    return;
  }
  sendJson(res, 200, result === undefined ? null : result);
}

/** Tells `sql` the declared type of each array parameter, so `?ids=1&ids=2` of `ids: number[]` binds as Array(Float64). */
function declareArrayTypes(params: Readonly<Record<string, unknown>>, columns: readonly Column[]): void {
  for (const column of columns) {
    const value = params[column.name];
    if (!Array.isArray(value)) continue;
    const type = parameterType(parseClickHouseType(column.type));
    if (type !== undefined) declareParameterType(value, type);
  }
}

/** The parameter type a query-string value of a column type binds as (values of the other types are strings, and bind as String). */
function parameterType(t: ClickHouseType): string | undefined {
  switch (t.kind) {
    case "Array": {
      const element = parameterType(t.element);
      return element === undefined ? undefined : `Array(${element})`;
    }
    case "Nullable": {
      const inner = parameterType(t.inner);
      return inner === undefined || inner.startsWith("Array(") ? undefined : `Nullable(${inner})`;
    }
    case "LowCardinality":
      return parameterType(t.inner);
    case "Decimal":
      return "Float64";
    case "name":
      if (/^U?Int(8|16|32)$/.test(t.name) || t.name === "Int64") return "Int64";
      if (t.name === "UInt64") return "UInt64";
      if (/^(Float32|Float64|BFloat16)$/.test(t.name)) return "Float64";
      if (t.name === "Bool" || t.name === "Boolean") return "Bool";
      return t.name === "String" || t.name === "UUID" || t.name === "IPv4" || t.name === "IPv6" || t.name === "Date" || t.name === "Date32" ? "String" : undefined;
    case "FixedString":
    case "Enum":
    case "DateTime":
    case "DateTime64":
      return "String";
    default:
      return undefined;
  }
}
