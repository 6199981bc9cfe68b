import type { CacheStore } from "../dsl/runtime-context.js";

/**
 * MooseCache's in-process store: strings with an expiry, in one Map. What `moose dev`
 * uses when no Redis is configured (or none answers on this machine), and what the app's
 * `MooseCache` uses when no server runs it. Expired entries are dropped when read and by a
 * sweep every minute (unref'd: it never keeps the process alive).
 *
 * @example
 * const store = memoryCacheStore();
 * await store.set("k", "v", 60); // → null
 * await store.get("k");          // → "v"
 */
export function memoryCacheStore(now: () => number = Date.now): CacheStore {
  const entries = new Map<string, { readonly value: string; readonly expiresAt: number }>();
  const live = (key: string): string | null => {
    const entry = entries.get(key);
    if (entry === undefined) return null;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return null;
    }
    return entry.value;
  };
  const sweep = setInterval(() => {
    const t = now();
    for (const [key, entry] of entries) if (entry.expiresAt <= t) entries.delete(key);
  }, 60_000);
  sweep.unref();
  return {
    async get(key) {
      return live(key);
    },
    async set(key, value, ttlSeconds) {
      const previous = live(key);
      entries.set(key, { value, expiresAt: now() + ttlSeconds * 1000 });
      return previous;
    },
    async delete(keys) {
      for (const key of keys) entries.delete(key);
    },
    async keys(prefix) {
      return [...entries.keys()].filter((k) => k.startsWith(prefix) && live(k) !== null);
    },
    async close() {
      clearInterval(sweep);
      entries.clear();
    },
  };
}
