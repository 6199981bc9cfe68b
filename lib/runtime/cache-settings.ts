import type { LoadedConfig } from "../config/config.js";
import type { CacheSettings } from "./services.js";

/**
 * `[redis_config]` of the project, when it sets one: MooseCache then uses that Redis
 * (see `installAppRuntime`). `MOOSE_REDIS_CONFIG__URL` / `__KEY_PREFIX` set it too, as
 * moose-lib reads them.
 */
export function cacheSettings(config: LoadedConfig): { readonly redis?: CacheSettings } {
  const fromConfig = (config as LoadedConfig & { readonly redis?: { readonly url: string; readonly keyPrefix: string } }).redis;
  const url = fromConfig?.url ?? process.env.MOOSE_REDIS_CONFIG__URL;
  if (url === undefined || url === "") return {};
  return { redis: { url, keyPrefix: fromConfig?.keyPrefix ?? process.env.MOOSE_REDIS_CONFIG__KEY_PREFIX ?? "MS" } };
}
