import type { LoadedConfig } from "../config/config.js";
import type { CacheSettings } from "./services.js";

/**
 * `[redis_config]` of the project, when it sets any key (as Moose's templates do):
 * MooseCache then uses that Redis (see `installAppRuntime`). `MOOSE_REDIS_CONFIG__URL` and
 * `__KEY_PREFIX` override it like every config key.
 */
export function cacheSettings(config: LoadedConfig): { readonly redis?: CacheSettings } {
  return config.redis ? { redis: { url: config.redis.url, keyPrefix: config.redis.keyPrefix } } : {};
}
