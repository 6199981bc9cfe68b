import test from "ava";
import { MooseCache } from "../lib/dsl/runtime.js";
import { memoryCacheStore } from "../lib/runtime/cache-memory.js";
import { connectRedis, redisCacheStore } from "../lib/runtime/redis.js";
import { EngineError } from "../lib/errors.js";
import type { CacheStore } from "../lib/dsl/runtime-context.js";

// MooseCache's two stores behave alike: moose-lib's semantics (SET … GET returns the previous value, expiry,
// prefix listing), in-process always and on Debian's redis-server when REDIS_URL is set (CI sets it).

async function storeContract(t: import("ava").ExecutionContext, store: CacheStore, prefix: string): Promise<void> {
  t.is(await store.get(`${prefix}a`), null);
  t.is(await store.set(`${prefix}a`, "1", 60), null);
  t.is(await store.set(`${prefix}a`, "2", 60), "1");
  t.is(await store.get(`${prefix}a`), "2");
  await store.set(`${prefix}b`, "x", 60);
  await store.set(`other${prefix}`, "y", 60);
  t.deepEqual((await store.keys(prefix)).sort(), [`${prefix}a`, `${prefix}b`]);
  await store.delete([`${prefix}a`]);
  t.is(await store.get(`${prefix}a`), null);
  await store.set(`${prefix}gone`, "z", 0);
  await new Promise((r) => setTimeout(r, 20));
  t.is(await store.get(`${prefix}gone`), null);
  await store.delete([`${prefix}b`, `other${prefix}`]);
}

test("in-process store: values, previous value, expiry, listing by prefix", async (t) => {
  let now = 1_000;
  const store = memoryCacheStore(() => now);
  await storeContract(t, memoryCacheStore(), "m:");
  await store.set("k", "v", 10);
  now += 9_999;
  t.is(await store.get("k"), "v");
  now += 1;
  t.is(await store.get("k"), null);
  await store.close();
});

test("MooseCache without a server is in-process: objects come back parsed, strings as strings, keys under MS::moosecache::", async (t) => {
  const cache = await MooseCache.get();
  t.is(await MooseCache.get(), cache);
  t.is(await cache.set("obj", { rows: [1, 2] }), null);
  t.deepEqual(await cache.get("obj"), { rows: [1, 2] });
  await cache.set("num", "42");
  t.is(await cache.get("num"), "42");
  t.is(await cache.set("num", "43"), "42");
  await cache.clearKeys("n");
  t.is(await cache.get("num"), null);
  t.deepEqual(await cache.get("obj"), { rows: [1, 2] });
  await cache.clear();
  t.is(await cache.get("obj"), null);
  await t.throwsAsync(() => cache.set("x", "y", -1), { message: "MooseCache.set: ttlSeconds must be a non-negative number" });
});

test("a Redis address where nothing listens is REDIS_UNAVAILABLE naming it", async (t) => {
  const error = await t.throwsAsync(() => connectRedis("redis://127.0.0.1:1", 1000));
  t.true(error instanceof EngineError);
  t.is((error as EngineError).code, "REDIS_UNAVAILABLE");
  t.regex(error!.message, /redis:\/\/127\.0\.0\.1:1/);
});

const REDIS_URL = process.env.REDIS_URL;
(REDIS_URL ? test : test.skip)("Redis store (REDIS_URL): the same behaviour, TTLs set on the server, pipelined commands answered in order", async (t) => {
  const store = redisCacheStore(REDIS_URL!);
  t.teardown(() => store.close());
  const prefix = `cache-test-${process.pid}-${Date.now()}:`;
  await storeContract(t, store, prefix);
  await store.set(`${prefix}ttl`, "v", 120);
  const redis = await connectRedis(REDIS_URL!);
  t.teardown(() => redis.close());
  const ttl = Number(await redis.command(["TTL", `${prefix}ttl`]));
  t.true(ttl > 110 && ttl <= 120, `TTL ${ttl}`);
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => store.set(`${prefix}p${i}`, `v${i}`, 60).then(() => store.get(`${prefix}p${i}`))));
  t.deepEqual(many, Array.from({ length: 50 }, (_, i) => `v${i}`));
  t.is((await store.keys(prefix)).length, 51);
  await store.delete(await store.keys(prefix));
  t.deepEqual(await store.keys(prefix), []);
});
