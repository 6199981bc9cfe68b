import test from "ava";
import { createHash } from "node:crypto";
import { generateToken, legacyKeyFor, parseApiKey, verifyToken, type ApiKey } from "../lib/auth/token.js";
import { ADMIN_DISABLED_MESSAGE, createAdminAuthenticator } from "../lib/server/admin-auth.js";
import { createFailureLimiter } from "../lib/server/rate-limit.js";

const LEGACY_TOKEN = "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210";
const LEGACY_KEY = parseApiKey(legacyKeyFor(LEGACY_TOKEN));

/** A verify that counts its calls and answers from a fixed token. */
function countingVerify(good: string) {
  const calls: string[] = [];
  return {
    calls,
    verify: async (token: string, _key: ApiKey) => {
      calls.push(createHash("sha256").update(token).digest("hex"));
      await new Promise((r) => setTimeout(r, 5));
      return token === good;
    },
  };
}

test("rate limit: N failures per window, then refused with a Retry-After until the oldest expires", (t) => {
  let now = 1_000_000;
  const limiter = createFailureLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
  t.deepEqual(limiter.check("a"), { limited: false });
  t.deepEqual(limiter.recordFailure("a"), { limited: false });
  now += 10_000;
  t.deepEqual(limiter.recordFailure("a"), { limited: false });
  t.deepEqual(limiter.recordFailure("a"), { limited: true, retryAfterSeconds: 50 });
  t.deepEqual(limiter.check("a"), { limited: true, retryAfterSeconds: 50 });
  t.deepEqual(limiter.check("b"), { limited: false }, "per client");
  now += 50_000; // the first failure leaves the window
  t.deepEqual(limiter.check("a"), { limited: false });
  now += 60_000;
  t.deepEqual(limiter.check("a"), { limited: false });
  t.is(limiter.size, 0, "expired clients are forgotten");
});

test("rate limit: memory is bounded however many clients fail", (t) => {
  let now = 0;
  const limiter = createFailureLimiter({ maxFailures: 2, windowMs: 1000, maxClients: 100, now: () => now });
  for (let i = 0; i < 10_000; i++) {
    limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    limiter.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    if (i % 50 === 0) now += 10;
  }
  t.true(limiter.size <= 100);
  // The most recent clients are the ones kept.
  t.true(limiter.check("10.0.39.15").limited);
});

test("admin auth: no key configured → 401 saying the admin API is disabled", async (t) => {
  const auth = createAdminAuthenticator({ key: undefined });
  t.deepEqual(await auth.authenticate("Bearer anything", "1.2.3.4"), { ok: false, status: 401, reason: "disabled", message: ADMIN_DISABLED_MESSAGE });
  t.is(ADMIN_DISABLED_MESSAGE, "admin API disabled: set [authentication] admin_api_key (moose generate hash-token)");
});

test("admin auth: missing, malformed and wrong tokens are 401 with the reason", async (t) => {
  const { verify } = countingVerify("right");
  const auth = createAdminAuthenticator({ key: LEGACY_KEY, verify });
  const reason = async (h: string | undefined) => {
    const r = await auth.authenticate(h, "c");
    return r.ok ? "ok" : `${r.status} ${r.reason}`;
  };
  t.is(await reason(undefined), "401 missing");
  t.is(await reason(""), "401 missing");
  t.is(await reason("right"), "401 malformed");
  t.is(await reason("Basic cmlnaHQ6"), "401 malformed");
  t.is(await reason("Bearer"), "401 malformed");
  t.is(await reason("Bearer a b"), "401 malformed");
  t.is(await reason(`Bearer ${"x".repeat(5000)}`), "401 malformed");
  t.is(await reason("Bearer wrong"), "401 wrong");
  t.is(await reason("Bearer right"), "ok");
  t.is(await reason("bearer   right "), "ok", "the scheme is case-insensitive");
});

test("admin auth: a verified token is cached by its digest; failures never are", async (t) => {
  let now = 0;
  const v = countingVerify("right");
  const auth = createAdminAuthenticator({ key: LEGACY_KEY, verify: v.verify, cacheTtlMs: 60_000, now: () => now, limiter: createFailureLimiter({ maxFailures: 1000 }) });
  t.deepEqual(await auth.authenticate("Bearer right", "c"), { ok: true, cached: false });
  t.deepEqual(await auth.authenticate("Bearer right", "c"), { ok: true, cached: true });
  t.is(v.calls.length, 1);
  for (let i = 0; i < 3; i++) t.false((await auth.authenticate("Bearer wrong", "c")).ok);
  t.is(v.calls.length, 4, "each wrong attempt is verified again");
  now += 61_000;
  t.deepEqual(await auth.authenticate("Bearer right", "c"), { ok: true, cached: false }, "the cache expires");
  t.is(v.calls.length, 5);
});

test("admin auth: concurrent requests with one token share one derivation", async (t) => {
  const v = countingVerify("right");
  const auth = createAdminAuthenticator({ key: LEGACY_KEY, verify: v.verify });
  const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate("Bearer right", "c")));
  t.true(results.every((r) => r.ok));
  t.is(v.calls.length, 1);
});

test("admin auth: failures count towards the per-client limit, which is checked before any verification", async (t) => {
  const v = countingVerify("right");
  const auth = createAdminAuthenticator({ key: LEGACY_KEY, verify: v.verify, limiter: createFailureLimiter({ maxFailures: 3, windowMs: 60_000 }) });
  await auth.authenticate(undefined, "evil");
  await auth.authenticate("Token x", "evil");
  const third = await auth.authenticate("Bearer wrong", "evil");
  t.like(third, { ok: false, status: 401, reason: "wrong" });
  t.true(!third.ok && typeof third.retryAfterSeconds === "number", "the failure that reaches the limit says when to retry");
  const before = v.calls.length;
  const limited = await auth.authenticate("Bearer right", "evil");
  t.like(limited, { ok: false, status: 429, reason: "rate-limited" });
  t.true(!limited.ok && limited.retryAfterSeconds! > 0 && limited.retryAfterSeconds! <= 60);
  t.is(v.calls.length, before, "a limited client's token is not even verified");
  t.true((await auth.authenticate("Bearer right", "friend")).ok, "other clients are unaffected");
});

test("admin auth with the real verification: our format and the original Moose format", async (t) => {
  const ours = await generateToken();
  const a = createAdminAuthenticator({ key: parseApiKey(ours.apiKeyHash) });
  t.true((await a.authenticate(`Bearer ${ours.bearerToken}`, "c")).ok);
  t.false((await a.authenticate(`Bearer ${ours.bearerToken.slice(0, -1)}x`, "c")).ok);
  const legacy = createAdminAuthenticator({ key: LEGACY_KEY });
  t.true((await legacy.authenticate(`Bearer ${LEGACY_TOKEN}`, "c")).ok);
  t.false((await legacy.authenticate(`Bearer ${ours.bearerToken}`, "c")).ok);
});

test("constant time: a wrong token sharing a long prefix with the right one takes as long as an unrelated one", async (t) => {
  // PBKDF2 dominates and the final comparison is timingSafeEqual over digests, so the time
  // must not depend on how much of the token is right. Legacy keys (1,000 iterations) keep it quick.
  const near = LEGACY_TOKEN.slice(0, -1) + "1";
  const far = "ffffffffffffffffffffffffffffffff.00000000000000000000000000000000";
  // Samples alternate between the two, so load on the machine hits both alike.
  const samples: [number[], number[]] = [[], []];
  for (let i = 0; i < 160; i++) {
    const which = i % 2;
    const start = process.hrtime.bigint();
    await verifyToken(which === 0 ? near : far, LEGACY_KEY);
    if (i >= 20) samples[which]!.push(Number(process.hrtime.bigint() - start)); // the first ones warm up
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  const [a, b] = [median(samples[0]), median(samples[1])];
  t.false(await verifyToken(near, LEGACY_KEY));
  // Generous bound: scheduling noise, not the comparison, is what varies here.
  t.true(Math.max(a, b) / Math.min(a, b) < 2, `median ${a} ns vs ${b} ns`);
});
