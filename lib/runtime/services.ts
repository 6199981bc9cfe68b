import { installRuntime, uninstallRuntime, type CacheStore, type RuntimeServices } from "../dsl/runtime-context.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { StreamEngine } from "../engines/stream/engine.js";
import { createApiUtils } from "./api-utils.js";
import { memoryCacheStore } from "./cache-memory.js";
import { redisCacheStore, redisDisplayUrl } from "./redis.js";

/** Moose's `[redis_config]`, as far as MooseCache needs it. */
export interface CacheSettings {
  readonly url: string;
  /** moose-lib's `key_prefix` ("MS"): keys are `<prefix>::moosecache::<key>`. */
  readonly keyPrefix: string;
}

export interface AppRuntimeOptions {
  readonly olap: OlapEngine;
  readonly streams?: StreamEngine;
  /** `[redis_config]`; without it MooseCache is in-process. */
  readonly redis?: CacheSettings;
  /**
   * `moose dev` manages the local infrastructure: when the configured Redis is on this
   * machine (loopback) and nothing answers there, MooseCache is in-process instead, said
   * once. `moose prod` never falls back: the app's cache calls fail naming the address.
   */
  readonly fallBackToMemory: boolean;
  /** Lines for the developer's terminal (`cliLog`, the cache's choice). */
  readonly log: (line: string) => void;
}

export interface AppRuntime {
  /** Which store MooseCache uses, once it was first asked for: `memory`, or the Redis address. */
  cacheInUse(): string | undefined;
  close(): Promise<void>;
}

function loopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || /^127\./.test(host);
  } catch {
    return false;
  }
}

/**
 * Installs what the app's run-time helpers reach while a server runs it
 * (`getMooseUtils()`, `MooseCache`, `Stream.send`, `OlapTable.insert`, `cliLog`) and
 * returns how to take it down again. The database client is the API handlers' read-only
 * one (see README, *Security*).
 *
 * @example
 * const runtime = installAppRuntime({ olap, streams, redis: config.redis, fallBackToMemory: true, log: say });
 * // …serve…
 * await runtime.close();
 */
export function installAppRuntime(options: AppRuntimeOptions): AppRuntime {
  const { client } = createApiUtils(options.olap);
  let chosen: Promise<{ store: CacheStore; keyPrefix: string; name: string }> | undefined;
  let inUse: string | undefined;
  const pickCache = async (): Promise<{ store: CacheStore; keyPrefix: string; name: string }> => {
    const redis = options.redis;
    if (redis === undefined) return { store: memoryCacheStore(), keyPrefix: "MS::moosecache::", name: "memory" };
    const keyPrefix = `${redis.keyPrefix}::moosecache::`;
    const store = redisCacheStore(redis.url);
    try {
      await store.ready();
      options.log(`MooseCache: Redis at ${redisDisplayUrl(redis.url)}`);
      return { store, keyPrefix, name: redisDisplayUrl(redis.url) };
    } catch (error) {
      await store.close();
      if (!options.fallBackToMemory || !loopback(redis.url)) throw error;
      options.log(`MooseCache: no Redis answers at ${redisDisplayUrl(redis.url)} ([redis_config]); the cache is in-process for this dev session (start redis-server there to use it)`);
      return { store: memoryCacheStore(), keyPrefix, name: "memory" };
    }
  };
  const services: RuntimeServices = {
    client,
    produce: async (topic, records) => {
      if (!options.streams) throw new Error(`cannot send to ${topic}: no stream engine runs (features.streaming_engine)`);
      await options.streams.produce(topic, records);
    },
    insert: (table, rows) => options.olap.insertJsonRows(table, [...rows]),
    cache: async () => {
      chosen ??= pickCache().catch((error: unknown) => {
        chosen = undefined;
        throw error;
      });
      const c = await chosen;
      inUse = c.name;
      return { store: c.store, keyPrefix: c.keyPrefix };
    },
    log: options.log,
  };
  installRuntime(services);
  return {
    cacheInUse: () => inUse,
    close: async () => {
      uninstallRuntime(services);
      const c = await chosen?.catch(() => undefined);
      await c?.store.close();
    },
  };
}
