/**
 * moose-lib's run-time helpers (database client, cache, logging, environment), for the
 * app's handlers, transforms, consumers and web apps. Planning reads the app without
 * running it; `moose dev` and `moose prod` install what these reach
 * (`runtime-context.ts`). Without a server, `MooseCache` is in-process and
 * `getMooseUtils()` fails naming what is missing.
 *
 * @example
 * const { client, sql } = await getMooseUtils();
 * const rows = await (await client.query.execute<Row>(sql`SELECT * FROM ${events}`)).json();
 */
import { sql, typedPair } from "./sql.js";
import { requestContext, runtimeServices, type CacheStore, type JWTPayload } from "./runtime-context.js";
import { MooseClient, notAvailable } from "./client.js";

export type { JWTPayload } from "./runtime-context.js";
export { MooseClient, notAvailable, QueryClient, type ClickHouseQueryable, type QueryResult, type QueryRunner, type WorkflowClient } from "./client.js";
import { memoryCacheStore } from "../runtime/cache-memory.js";

/** Throws: the helper needs a running `moose dev` / `moose prod`. */
function needsServer(name: string): never {
  throw new Error(`${name} needs the app to run under moose dev or moose prod (no server has installed a database client in this process)`);
}

/** What API handlers receive besides their parameters (moose-lib's `MooseUtils`). */
export interface MooseUtils {
  readonly client: MooseClient;
  readonly sql: typeof sql;
  readonly jwt?: JWTPayload;
}
/** @deprecated moose-lib's older name for {@link MooseUtils}. */
export type ApiUtil = MooseUtils;
/** @deprecated moose-lib's older name for {@link MooseUtils}. */
export type ConsumptionUtil = MooseUtils;

/**
 * The database client and `sql` for code the server runs (API handlers, web apps,
 * transforms, consumers), with the request's JWT claims inside a request. Like moose-lib,
 * a request argument is accepted and ignored.
 */
export async function getMooseUtils(_request?: unknown): Promise<MooseUtils> {
  const services = runtimeServices();
  if (services === undefined) return needsServer("getMooseUtils()");
  const jwt = requestContext.getStore()?.jwt;
  return { client: services.client, sql, ...(jwt ? { jwt } : {}) };
}

/** moose-lib's older helper: `{ client }` of {@link getMooseUtils}. A custom config is not supported. */
export async function getMooseClients(config?: Readonly<Record<string, unknown>>): Promise<{ client: MooseClient }> {
  if (config !== undefined && Object.keys(config).length > 0) {
    return notAvailable("getMooseClients(config) with a connection of its own (call it without arguments for the project's database)");
  }
  return { client: (await getMooseUtils()).client };
}

/** moose-lib's deprecated synchronous form: the utilities a request carries (`req.moose`). */
export function getMooseUtilsFromRequest(request: unknown): MooseUtils | undefined {
  return (request as { moose?: MooseUtils } | null)?.moose;
}
/** @deprecated moose-lib's alias of {@link getMooseUtilsFromRequest}. */
export const getLegacyMooseUtils = getMooseUtilsFromRequest;

type Middleware = (req: any, res: any, next: (err?: unknown) => void) => void;

/** Express middleware (deprecated in moose-lib): copies `req.raw.moose` to `req.moose`. */
export function expressMiddleware(): Middleware {
  return (req, _res, next) => {
    if (req && !req.moose && req.raw?.moose) req.moose = req.raw.moose;
    next();
  };
}

/** Express middleware checking `Authorization: Bearer <api key>`. */
export function expressApiKeyAuthMiddleware(_options?: Readonly<Record<string, unknown>>): Middleware {
  return notAvailable("expressApiKeyAuthMiddleware");
}

/** Express middleware logging requests as Moose does. */
export const mooseLogger: Middleware = () => notAvailable("mooseLogger");

/** What `cliLog` takes (moose-lib's `CliLogData`). */
export interface CliLogData {
  readonly message_type?: "Info" | "Success" | "Warning" | "Error" | "Highlight";
  readonly action: string;
  readonly message: string;
}

/**
 * A line in the developer's terminal (`moose dev`) or the server log (`moose prod`):
 * `[action] message`, marked for warnings and errors.
 *
 * @example cliLog({ action: "Import", message: "12 rows loaded" });
 */
export function cliLog(data: CliLogData): void {
  const mark = data.message_type === "Error" ? "✗ " : data.message_type === "Warning" ? "! " : "";
  const line = `${mark}[${data.action}] ${data.message}`;
  const services = runtimeServices();
  if (services) services.log(line);
  else process.stderr.write(`${line}\n`);
}

/**
 * moose-lib's run-time environment values: `mooseRuntimeEnv.get("NAME")` is the variable's
 * value when the code runs (planning reads no values from the environment).
 */
export const mooseRuntimeEnv = {
  get(name: string): string {
    if (!name || name.trim() === "") throw new Error("mooseRuntimeEnv.get: the environment variable name is empty");
    const value = process.env[name];
    if (value === undefined) throw new Error(`environment variable ${name} is not set (mooseRuntimeEnv.get("${name}")); set it for the process running the app`);
    return value;
  },
};
/** @deprecated moose-lib's older name for {@link mooseRuntimeEnv}. */
export const mooseEnvSecrets = mooseRuntimeEnv;

/** The store MooseCache uses when no server installed one: in-process, for this process. */
let fallbackStore: CacheStore | undefined;

let cacheInstance: { readonly cache: MooseCache; readonly store: CacheStore } | undefined;

/**
 * moose-lib's cache: strings and JSON objects with an expiry, on Redis when
 * `[redis_config]` points at one, otherwise in-process. Keys are stored under
 * `<key_prefix>::moosecache::` (key_prefix "MS" by default), as moose-lib stores them.
 *
 * @example
 * const cache = await MooseCache.get();
 * await cache.set("bar:5", rows, 3600);
 * const hit = await cache.get<Row[]>("bar:5");
 */
export class MooseCache {
  private constructor(
    private readonly store: CacheStore,
    private readonly keyPrefix: string,
  ) {}

  /** The process's cache (one per server run). */
  static async get(): Promise<MooseCache> {
    const services = runtimeServices();
    if (services === undefined) {
      fallbackStore ??= memoryCacheStore();
      if (cacheInstance?.store !== fallbackStore) cacheInstance = { cache: new MooseCache(fallbackStore, "MS::moosecache::"), store: fallbackStore };
      return cacheInstance.cache;
    }
    const { store, keyPrefix } = await services.cache();
    if (cacheInstance?.store !== store) cacheInstance = { cache: new MooseCache(store, keyPrefix), store };
    return cacheInstance.cache;
  }

  /** Stores `value` (objects as JSON) for `ttlSeconds` (default 3600); returns the previous value as stored. */
  async set(key: string, value: string | object, ttlSeconds?: number): Promise<string | null> {
    if (ttlSeconds !== undefined && (!Number.isFinite(ttlSeconds) || ttlSeconds < 0)) throw new Error("MooseCache.set: ttlSeconds must be a non-negative number");
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    return this.store.set(this.keyPrefix + key, text, ttlSeconds ?? 3600);
  }

  /** The value, parsed from JSON when it is an object or array; the stored string otherwise; null when absent. */
  async get<T extends string | object = string>(key: string): Promise<T | null> {
    const text = await this.store.get(this.keyPrefix + key);
    if (text === null) return null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null) return parsed as T;
    } catch {
      // not JSON: the string itself
    }
    return text as T;
  }

  async delete(key: string): Promise<void> {
    await this.store.delete([this.keyPrefix + key]);
  }

  /** Deletes every key starting with `keyPrefix`. */
  async clearKeys(keyPrefix: string): Promise<void> {
    await this.store.delete(await this.store.keys(this.keyPrefix + keyPrefix));
  }

  /** Deletes every key of this cache. */
  async clear(): Promise<void> {
    await this.store.delete(await this.store.keys(this.keyPrefix));
  }

  /** moose-lib closes its Redis connection here; the server owns the connection, so this does nothing. */
  async disconnect(): Promise<void> {}
}

/**
 * moose-lib's `ApiHelpers`: a string bound as a parameter of type `Identifier`. API
 * handler queries refuse Identifier parameters (a request could name any table or
 * column); interpolate `table.columns[x]` after checking `x` (a string-literal union
 * parameter is checked for you).
 */
export const ApiHelpers = {
  column: (value: string): [string, string] => typedPair("Identifier", value),
  table: (value: string): [string, string] => typedPair("Identifier", value),
};
/** @deprecated moose-lib's older name for {@link ApiHelpers}. */
export const ConsumptionHelpers = ApiHelpers;
