import test from "ava";
import { writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { generateToken, legacyKeyFor, parseApiKey, type ApiKey } from "../lib/auth/token.js";
import type { ProductionState } from "../lib/prod/state.js";
import { createAdminAuthenticator, type AdminAuthenticator, type AdminAuthResult } from "../lib/server/admin-auth.js";
import { createAdminRoutes } from "../lib/server/admin-routes.js";
import { createBoundedQueue, type BoundedQueueOptions } from "../lib/server/bounded-queue.js";
import { createFailureLimiter, type FailureLimiter, type FailureLimiterOptions } from "../lib/server/rate-limit.js";
import { startHttpServer } from "../lib/server/server.js";
import { moose, tempDir } from "./helpers/cli.js";
import { startProd } from "./helpers/prod-instance.js";

/**
 * The admin API under attack: bursts of wrong tokens, from one address and from
 * many, malformed headers, and the admin's own token in the middle of it all.
 * Every case asserts the exact outcome: status and reason per request, how many
 * derivations ran (through the `verify` counter) and how many at once.
 *
 * Defaults under test: 10 attempts per address and 30 in total per minute,
 * 1 derivation at a time with 8 waiting.
 */

const RIGHT = "moose_right-token";
const KEY = parseApiKey(legacyKeyFor("0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"));

interface Harness {
  readonly auth: AdminAuthenticator;
  readonly limiter: FailureLimiter;
  /** Every token handed to the derivation, in order. */
  readonly calls: string[];
  /** Most derivations running at the same moment. */
  maxActive(): number;
  /** The injected clock, shared by the limiter and the cache. */
  readonly clock: { now: number };
}

interface HarnessOptions {
  readonly limiter?: FailureLimiterOptions;
  readonly queue?: BoundedQueueOptions;
  readonly cacheTtlMs?: number;
  readonly delayMs?: number;
  readonly verify?: (token: string, key: ApiKey) => Promise<boolean>;
}

/** An authenticator whose derivation is a counted 5 ms stand-in that accepts {@link RIGHT} only. */
function harness(options: HarnessOptions = {}): Harness {
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  const inner = options.verify ?? (async (token: string) => token === RIGHT);
  const verify = async (token: string, key: ApiKey) => {
    calls.push(token);
    maxActive = Math.max(maxActive, ++active);
    try {
      await new Promise((r) => setTimeout(r, options.delayMs ?? 5));
      return await inner(token, key);
    } finally {
      active--;
    }
  };
  const limiter = createFailureLimiter({ now, ...options.limiter });
  const auth = createAdminAuthenticator({
    key: KEY,
    verify,
    limiter,
    queue: createBoundedQueue(options.queue),
    now,
    ...(options.cacheTtlMs !== undefined ? { cacheTtlMs: options.cacheTtlMs } : {}),
  });
  return { auth, limiter, calls, maxActive: () => maxActive, clock };
}

/** `"ok"`, `"ok cached"` or `"<status> <reason>"`. */
const outcome = (r: AdminAuthResult): string => (r.ok ? (r.cached ? "ok cached" : "ok") : `${r.status} ${r.reason}`);

/** How many results had each outcome. */
function tally(results: readonly AdminAuthResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[outcome(r)] = (out[outcome(r)] ?? 0) + 1;
  return out;
}

const bearer = (token: string) => `Bearer ${token}`;
const wrong = (i: number) => `moose_wrong-${i}`;
const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** Every 429 says when to come back; every 401 for a wrong token was one derivation. */
function assertRetryAfterOn429(t: { true(v: boolean, m?: string): void }, results: readonly AdminAuthResult[], max = 60) {
  for (const r of results) {
    if (!r.ok && r.status === 429) t.true(r.retryAfterSeconds !== undefined && r.retryAfterSeconds >= 1 && r.retryAfterSeconds <= max, `Retry-After ${r.retryAfterSeconds}`);
  }
}

// ---------------------------------------------------------------------------
// Malformed headers: refused as they are, before any derivation, counted per client.

const REFUSED_UNREAD: ReadonlyArray<readonly [string, string | undefined, "missing" | "malformed"]> = [
  ["no Authorization header", undefined, "missing"],
  ["an empty header", "", "missing"],
  ["only whitespace", " \t  ", "missing"],
  ["the scheme alone", "Bearer", "malformed"],
  ["an empty token after the scheme", "Bearer    ", "malformed"],
  ["a token without a scheme", RIGHT, "malformed"],
  ["another scheme (Basic)", `Basic ${Buffer.from(`admin:${RIGHT}`).toString("base64")}`, "malformed"],
  ["two tokens separated by a space", `Bearer ${RIGHT} ${RIGHT}`, "malformed"],
  ["two credentials separated by a comma", `Bearer ${wrong(1)}, Bearer ${RIGHT}`, "malformed"],
  ["a 10 KB header", `Bearer ${"A".repeat(10 * 1024)}`, "malformed"],
  ["a token one character over 1,024", `Bearer ${"A".repeat(1025)}`, "malformed"],
  ["a NUL byte inside the token", `Bearer moose_right\u0000-token`, "malformed"],
  ["non-ASCII letters in the token", "Bearer moose_rïght-tökén", "malformed"],
  ["an emoji token", "Bearer 🔑🔑🔑", "malformed"],
  ["a CR LF header injection", `Bearer ${RIGHT}\r\nX-Admin: yes`, "malformed"],
  ["a quoted token", `Bearer "${RIGHT}"`, "malformed"],
  ["the scheme glued to the token with =", `Bearer=${RIGHT}`, "malformed"],
];

for (const [what, header, reason] of REFUSED_UNREAD) {
  test(`malformed: ${what} → 401 ${reason}, no derivation`, async (t) => {
    const h = harness();
    const r = await h.auth.authenticate(header, "1.2.3.4");
    t.is(outcome(r), `401 ${reason}`);
    t.is(h.calls.length, 0);
    t.true(!r.ok && r.retryAfterSeconds === undefined, "the first failure does not reach the limit");
  });
}

test("malformed: the scheme is case-insensitive and tabs separate it (RFC 7235); each form is one derivation", async (t) => {
  const h = harness();
  const results = [];
  for (const header of [`bearer ${RIGHT}`, `BEARER ${RIGHT}`, `Bearer\t${RIGHT}\t`]) {
    results.push(outcome(await h.auth.authenticate(header, "1.2.3.4")));
  }
  t.deepEqual(results, ["ok", "ok cached", "ok cached"]);
  t.deepEqual(h.calls, [RIGHT]);
});

test("malformed: a token of exactly 1,024 characters is read and derived once", async (t) => {
  const h = harness();
  t.is(outcome(await h.auth.authenticate(`Bearer ${"A".repeat(1024)}`, "1.2.3.4")), "401 wrong");
  t.is(h.calls.length, 1);
});

test("malformed: ten malformed headers use up the address's budget; the eleventh request is 429 even with the right token", async (t) => {
  const h = harness();
  const results = [];
  for (let i = 0; i < 10; i++) results.push(await h.auth.authenticate(`Token ${i}`, "1.2.3.4"));
  t.deepEqual(tally(results), { "401 malformed": 10 });
  const last = results[9]!;
  t.true(!last.ok && last.retryAfterSeconds === 60, "the failure that reaches the limit says when to retry");
  const r = await h.auth.authenticate(bearer(RIGHT), "1.2.3.4");
  t.like(r, { ok: false, status: 429, reason: "rate-limited", retryAfterSeconds: 60 });
  t.is(h.calls.length, 0);
});

test("malformed: 1,000 malformed headers from 1,000 addresses cost nothing and leave the shared budget whole", async (t) => {
  const h = harness();
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => h.auth.authenticate(`Bearer ${i}\u0000`, address(i))));
  t.deepEqual(tally(results), { "401 malformed": 1000 });
  t.is(h.calls.length, 0);
  t.is(outcome(await h.auth.authenticate(bearer(wrong(1)), "192.0.2.1")), "401 wrong", "a real attempt is still derived");
  t.is(h.calls.length, 1);
});

// ---------------------------------------------------------------------------
// Bursts: attempts are counted when they start, derivations run one at a time.

test("burst: 100 concurrent wrong tokens from one address → 9 derivations (1 running + 8 waiting), one at a time; 91 × 429 with Retry-After", async (t) => {
  const h = harness();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), "6.6.6.6")));
  t.deepEqual(tally(results), { "401 wrong": 9, "429 overloaded": 91 });
  t.is(h.calls.length, 9);
  t.is(h.maxActive(), 1);
  assertRetryAfterOn429(t, results);
  // Nothing had finished when they were refused, so the estimate is 9 × the assumed 500 ms.
  t.true(results.every((r) => r.ok || r.status !== 429 || r.retryAfterSeconds === 5));
});

test("burst: with a long queue, 100 concurrent wrong tokens from one address → exactly 10 derivations (the address budget), 90 × 429 rate-limited", async (t) => {
  const h = harness({ queue: { maxWaiting: 1000 } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), "6.6.6.6")));
  t.deepEqual(tally(results), { "401 wrong": 10, "429 rate-limited": 90 });
  t.is(h.calls.length, 10);
  t.is(h.maxActive(), 1);
  assertRetryAfterOn429(t, results);
  t.true(results.every((r) => r.ok || r.status !== 429 || r.retryAfterSeconds === 60), "none of the 10 has left the window");
});

test("burst: 100 concurrent wrong tokens from 100 rotating addresses → exactly 30 derivations (the total budget), 70 × 429 overloaded", async (t) => {
  const h = harness({ queue: { maxWaiting: 1000 } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i))));
  t.deepEqual(tally(results), { "401 wrong": 30, "429 overloaded": 70 });
  t.is(h.calls.length, 30);
  t.is(h.maxActive(), 1);
  assertRetryAfterOn429(t, results);
});

test("burst: 100 wrong tokens from 100 rotating addresses, one after another → 30 derivations, then 429 for every new address", async (t) => {
  const h = harness();
  const results = [];
  for (let i = 0; i < 100; i++) results.push(await h.auth.authenticate(bearer(wrong(i)), address(i)));
  t.deepEqual(results.slice(0, 30).map(outcome), Array(30).fill("401 wrong"));
  t.deepEqual(tally(results.slice(30)), { "429 overloaded": 70 });
  t.is(h.calls.length, 30);
  assertRetryAfterOn429(t, results);
});

test("burst: 100 concurrent wrong tokens from rotating addresses with the default queue → 9 derivations, never more than one at once", async (t) => {
  const h = harness();
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i))));
  t.deepEqual(tally(results), { "401 wrong": 9, "429 overloaded": 91 });
  t.is(h.maxActive(), 1);
  assertRetryAfterOn429(t, results);
});

test("burst: concurrency 2 with 8 waiting → 10 derivations, at most 2 at once", async (t) => {
  const h = harness({ queue: { concurrency: 2, maxWaiting: 8 } });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i))));
  t.deepEqual(tally(results), { "401 wrong": 10, "429 overloaded": 90 });
  t.is(h.maxActive(), 2);
});

test("burst: 100 concurrent copies of one wrong token share 1 derivation; all 401; the address is then limited", async (t) => {
  const h = harness();
  const results = await Promise.all(Array.from({ length: 100 }, () => h.auth.authenticate(bearer(wrong(0)), "6.6.6.6")));
  t.deepEqual(tally(results), { "401 wrong": 100 });
  t.is(h.calls.length, 1);
  t.like(await h.auth.authenticate(bearer(wrong(1)), "6.6.6.6"), { status: 429, reason: "rate-limited" });
  t.is(h.calls.length, 1);
});

test("burst: a refused-as-busy attempt is refunded: after the burst the address still has its 10th attempt, then 429", async (t) => {
  const h = harness();
  await Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), "6.6.6.6")));
  t.is(h.calls.length, 9);
  const tenth = await h.auth.authenticate(bearer(wrong(100)), "6.6.6.6");
  t.like(tenth, { ok: false, status: 401, reason: "wrong", retryAfterSeconds: 60 });
  t.like(await h.auth.authenticate(bearer(wrong(101)), "6.6.6.6"), { status: 429, reason: "rate-limited", retryAfterSeconds: 60 });
  t.is(h.calls.length, 10);
});

test("burst: a derivation that throws is a wrong token (401), never cached, never a crash", async (t) => {
  const h = harness({
    verify: async (token) => {
      if (token === RIGHT) throw new Error("thread pool exploded");
      return false;
    },
  });
  t.is(outcome(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4")), "401 wrong");
  t.is(outcome(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4")), "401 wrong");
  t.is(h.calls.length, 2, "the failure was not remembered");
});

test("burst: with the admin API disabled, 100 concurrent tokens → 100 × 401 disabled and nothing derived", async (t) => {
  let calls = 0;
  const auth = createAdminAuthenticator({ key: undefined, verify: async () => (calls++, true) });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => auth.authenticate(bearer(wrong(i)), address(i))));
  t.deepEqual(tally(results), { "401 disabled": 100 });
  t.is(calls, 0);
});

// ---------------------------------------------------------------------------
// The right token: during and after an attack.

test("right token: not cached, after the address was limited → 429 without a derivation; admitted once the window moves", async (t) => {
  const h = harness();
  for (let i = 0; i < 10; i++) await h.auth.authenticate(bearer(wrong(i)), "6.6.6.6");
  t.is(h.calls.length, 10);
  t.like(await h.auth.authenticate(bearer(RIGHT), "6.6.6.6"), { ok: false, status: 429, reason: "rate-limited", retryAfterSeconds: 60 });
  t.is(h.calls.length, 10);
  h.clock.now += 60_000;
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "6.6.6.6"), { ok: true, cached: false });
  t.is(h.calls.length, 11);
});

test("right token: cached, after the address was limited → still 429 (the address is refused before the cache is read)", async (t) => {
  const h = harness();
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "6.6.6.6"), { ok: true, cached: false });
  for (let i = 0; i < 10; i++) await h.auth.authenticate(bearer(wrong(i)), "6.6.6.6");
  t.like(await h.auth.authenticate(bearer(RIGHT), "6.6.6.6"), { status: 429, reason: "rate-limited" });
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "7.7.7.7"), { ok: true, cached: true }, "from another address it is a cache hit");
  t.is(h.calls.length, 11);
});

test("right token: a verified token is refunded, so 9 wrong + right + 1 wrong are all answered; only the 12th is 429", async (t) => {
  const h = harness();
  const seen = [];
  for (let i = 0; i < 9; i++) seen.push(outcome(await h.auth.authenticate(bearer(wrong(i)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(wrong(9)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(wrong(10)), "1.2.3.4")));
  t.deepEqual(seen, [...Array(9).fill("401 wrong"), "ok", "401 wrong", "429 rate-limited"]);
  t.is(h.calls.length, 11);
});

test("right token: successes never use the total budget: 50 verified logins from 50 addresses, then the full 30 wrong ones are still derived", async (t) => {
  const h = harness({ cacheTtlMs: 0 });
  const logins = [];
  for (let i = 0; i < 50; i++) logins.push(await h.auth.authenticate(bearer(RIGHT), address(i)));
  t.deepEqual(tally(logins), { ok: 50 }, "with no cache every login is a derivation");
  const attack = [];
  for (let i = 0; i < 31; i++) attack.push(await h.auth.authenticate(bearer(wrong(i)), address(1000 + i)));
  t.deepEqual(tally(attack), { "401 wrong": 30, "429 overloaded": 1 });
  t.is(h.calls.length, 80);
});

test("right token: cached, during 100 concurrent wrong tokens from rotating addresses → ok at once, no derivation, before the attack ends", async (t) => {
  const h = harness({ delayMs: 20 });
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "192.0.2.1"), { ok: true, cached: false });
  const order: string[] = [];
  const attack = Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i)))).then((r) => (order.push("attack"), r));
  const admin = h.auth.authenticate(bearer(RIGHT), "192.0.2.1").then((r) => (order.push("admin"), r));
  t.deepEqual(await admin, { ok: true, cached: true });
  t.deepEqual(tally(await attack), { "401 wrong": 9, "429 overloaded": 91 });
  t.deepEqual(order, ["admin", "attack"]);
  t.is(h.calls.length, 10);
});

test("right token: not cached, sent while the queue is full → 429 overloaded with Retry-After; after the burst it verifies", async (t) => {
  const h = harness();
  const attack = Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i))));
  const during = await h.auth.authenticate(bearer(RIGHT), "192.0.2.1");
  t.like(during, { ok: false, status: 429, reason: "overloaded", retryAfterSeconds: 5 });
  await attack;
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "192.0.2.1"), { ok: true, cached: false });
  t.is(h.calls.length, 10);
});

test("right token: not cached, sent before the burst → it is the one running and gets through", async (t) => {
  const h = harness();
  const admin = h.auth.authenticate(bearer(RIGHT), "192.0.2.1");
  const attack = Promise.all(Array.from({ length: 100 }, (_, i) => h.auth.authenticate(bearer(wrong(i)), address(i))));
  t.deepEqual(await admin, { ok: true, cached: false });
  t.deepEqual(tally(await attack), { "401 wrong": 8, "429 overloaded": 92 });
  t.is(h.calls[0], RIGHT);
});

test("right token: the cache is not poisoned by failures: wrong tokens stay wrong before and after the right one is cached", async (t) => {
  const h = harness();
  const seen = [];
  seen.push(outcome(await h.auth.authenticate(bearer(wrong(1)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(wrong(1)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(wrong(1)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(`${RIGHT}x`), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(RIGHT.slice(0, -1)), "1.2.3.4")));
  seen.push(outcome(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4")));
  t.deepEqual(seen, ["401 wrong", "401 wrong", "ok", "401 wrong", "401 wrong", "401 wrong", "ok cached"]);
  t.deepEqual(h.calls, [wrong(1), wrong(1), RIGHT, wrong(1), `${RIGHT}x`, RIGHT.slice(0, -1)], "every wrong attempt is derived again");
});

test("right token: a wrong token joining the right one's derivation cannot ride on it (different digests), a copy of the right one can", async (t) => {
  const h = harness({ delayMs: 20 });
  const [a, b, c] = await Promise.all([
    h.auth.authenticate(bearer(RIGHT), "1.1.1.1"),
    h.auth.authenticate(bearer(RIGHT), "6.6.6.6"),
    h.auth.authenticate(bearer(`${RIGHT}=`), "6.6.6.6"),
  ]);
  t.deepEqual([outcome(a!), outcome(b!), outcome(c!)], ["ok", "ok", "401 wrong"]);
  t.deepEqual(h.calls, [RIGHT, `${RIGHT}=`]);
});

// ---------------------------------------------------------------------------
// Windows, with the injected clock.

test("window: an address limited at t is 429 with Retry-After 1 at t+59 s, and admitted at t+60 s", async (t) => {
  const h = harness();
  for (let i = 0; i < 10; i++) await h.auth.authenticate(bearer(wrong(i)), "6.6.6.6");
  h.clock.now += 59_000;
  t.like(await h.auth.authenticate(bearer(wrong(10)), "6.6.6.6"), { status: 429, reason: "rate-limited", retryAfterSeconds: 1 });
  h.clock.now += 1_000;
  t.is(outcome(await h.auth.authenticate(bearer(wrong(11)), "6.6.6.6")), "401 wrong");
  t.is(h.calls.length, 11);
});

test("window: the total budget frees as attempts age: Retry-After counts down to the oldest one, then exactly as many as aged out are admitted", async (t) => {
  const h = harness();
  for (let i = 0; i < 20; i++) await h.auth.authenticate(bearer(wrong(i)), address(i));
  h.clock.now += 30_000;
  for (let i = 20; i < 30; i++) await h.auth.authenticate(bearer(wrong(i)), address(i));
  t.like(await h.auth.authenticate(bearer(wrong(30)), address(30)), { status: 429, reason: "overloaded", retryAfterSeconds: 30 });
  h.clock.now += 30_000; // the first 20 leave the window
  const next = [];
  for (let i = 31; i < 52; i++) next.push(await h.auth.authenticate(bearer(wrong(i)), address(i)));
  t.deepEqual(tally(next), { "401 wrong": 20, "429 overloaded": 1 });
  const last = next[20]!;
  t.true(!last.ok && last.retryAfterSeconds === 30, "the 10 from t+30 s free next");
  t.is(h.calls.length, 50);
});

test("window: the cache expires on the injected clock; an expired token is derived again and costs no budget when right", async (t) => {
  const h = harness({ cacheTtlMs: 60_000, limiter: { maxFailures: 1 } });
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4"), { ok: true, cached: false });
  h.clock.now += 59_999;
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4"), { ok: true, cached: true });
  h.clock.now += 1;
  t.deepEqual(await h.auth.authenticate(bearer(RIGHT), "1.2.3.4"), { ok: true, cached: false });
  t.is(outcome(await h.auth.authenticate(bearer(wrong(1)), "1.2.3.4")), "401 wrong", "two derivations of the right token left the one-attempt budget whole");
  t.is(h.calls.length, 3);
});

test("window: 10,000 rotating addresses keep the limiter's table bounded", async (t) => {
  const h = harness({ limiter: { maxClients: 100 } });
  for (let i = 0; i < 10_000; i++) await h.auth.authenticate("Bearer", address(i));
  t.true(h.limiter.size <= 100, String(h.limiter.size));
  t.is(h.calls.length, 0);
});

// ---------------------------------------------------------------------------
// Through the HTTP server: what the parser does before authentication sees the header.

/**
 * Writes `raw` on a new connection and returns the status line and headers of the answer.
 * The socket is not ended: the server would drop a request still being authenticated.
 * `raw` asks for `connection: close`, so the server closes it.
 */
function rawRequest(port: number, raw: string): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(raw, "latin1"));
    let data = "";
    socket.setEncoding("latin1").on("data", (d: string) => (data += d));
    socket.on("error", reject);
    socket.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), head: data.split("\r\n\r\n")[0] ?? "" }));
  });
}

test("http: NUL in the header is a 400 from the parser; two Authorization headers → the first is checked; 429s carry Retry-After", async (t) => {
  const h = harness({ limiter: { maxFailures: 3 } });
  const source = { state: async () => ({}) as unknown as ProductionState, migrations: async () => [] };
  const server = await startHttpServer({ host: "127.0.0.1", port: 0, routes: () => [createAdminRoutes({ auth: h.auth, source, version: "test" })] });
  try {
    const get = (headers: string) => rawRequest(server.port, `GET /admin/migrations HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${headers}\r\n`);
    t.is((await get(`authorization: Bearer moose_\u0000x\r\n`)).status, 400);
    const two = await get(`authorization: Bearer ${wrong(1)}\r\nauthorization: Bearer ${RIGHT}\r\n`);
    t.is(two.status, 401);
    t.regex(two.head, /www-authenticate: Bearer realm="moose-admin", error="invalid_token"/i);
    t.is((await get(`authorization: bearer\t${RIGHT}\r\n`)).status, 200);
    t.is((await get(`authorization: Bearer ${wrong(2)}\r\n`)).status, 401);
    const third = await get(`authorization: Bearer ${wrong(3)}\r\n`);
    t.is(third.status, 401);
    t.regex(third.head, /\r\nretry-after: 60\r\n/i, "the failure that used up the budget says when to retry");
    const limited = await get(`authorization: Bearer ${RIGHT}\r\n`);
    t.is(limited.status, 429);
    t.regex(limited.head, /\r\nretry-after: 60\r\n/i);
    t.notRegex(limited.head, /www-authenticate/i);
    t.deepEqual(h.calls, [wrong(1), RIGHT, wrong(2), wrong(3)]);
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// The real `moose prod`, real PBKDF2 (600,000 iterations): /health and ingest stay fast under attack.

const APP = `import { IngestApi, OlapTable } from "moose-migrate";

interface EventSchema {
  id: string;
  n: number;
}

export const events = new OlapTable<EventSchema>("Events");
export const eventsIngest = new IngestApi<EventSchema>("Events", { destination: events });
`;

interface Timed {
  readonly status: number;
  readonly ms: number;
  readonly headers: Record<string, string | string[] | undefined>;
}

function timed(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; from?: string } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers ?? {}, agent: false, ...(options.from ? { localAddress: options.from } : {}) },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

const p95 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

test.serial("moose prod: /health p95 stays under 250 ms and ingest keeps answering while 100 wrong tokens from 100 addresses arrive at once", async (t) => {
  t.timeout(300_000);
  const { bearerToken, apiKeyHash } = await generateToken();
  const root = tempDir("hostile-admin");
  const init = moose(root, ["init", "p"]);
  t.is(init.code, 0, init.stderr);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  for (const args of [["migrate", "generate", "--name", "events"], ["migrate", "deploy"]]) {
    const r = moose(dir, args);
    t.is(r.code, 0, `moose ${args.join(" ")}: ${r.stdout}\n${r.stderr}`);
  }
  const prod = await startProd(dir, { MOOSE_AUTHENTICATION__ADMIN_API_KEY: apiKeyHash });
  try {
    const ingest = (i: number) => timed(`${prod.url}/ingest/Events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ id: `e${i}`, n: i }]) });
    // Warm up, then the quiet baseline.
    for (let i = 0; i < 5; i++) {
      await ingest(i);
      await timed(`${prod.url}/health`);
    }
    const quietHealth: number[] = [];
    const quietIngest: number[] = [];
    for (let i = 0; i < 20; i++) {
      quietHealth.push((await timed(`${prod.url}/health`)).ms);
      quietIngest.push((await ingest(100 + i)).ms);
    }

    let done = false;
    const started = performance.now();
    const attack = Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        timed(`${prod.url}/admin/inframap`, { headers: { authorization: `Bearer moose_wrong-${i}` }, from: `127.0.1.${i + 1}` }).then((r) => ({ ...r, at: performance.now() - started })),
      ),
    ).finally(() => (done = true));
    const health: number[] = [];
    const ingests: Timed[] = [];
    for (let i = 0; !done || health.length < 20; i++) {
      health.push((await timed(`${prod.url}/health`)).ms);
      if (i % 2 === 0) ingests.push(await ingest(1000 + i));
      await new Promise((r) => setTimeout(r, 10));
    }
    const answers = await attack;
    const attackMs = Math.max(...answers.map((a) => a.at));

    const wrongCount = answers.filter((a) => a.status === 401).length;
    const limited = answers.filter((a) => a.status === 429);
    const figures =
      `/health p95 ${p95(quietHealth).toFixed(1)} ms quiet → ${p95(health).toFixed(1)} ms under attack (${health.length} samples, max ${Math.max(...health).toFixed(1)} ms); ` +
      `ingest p95 ${p95(quietIngest).toFixed(1)} ms quiet → ${p95(ingests.map((x) => x.ms)).toFixed(1)} ms under attack (${ingests.length} samples); ` +
      `attack answered in ${attackMs.toFixed(0)} ms: ${wrongCount} × 401, ${limited.length} × 429`;
    t.log(figures);
    writeFileSync(join(root, "figures.txt"), figures + "\n");

    t.true(wrongCount >= 1 && wrongCount <= 9, `at most 1 running + 8 waiting derivations: ${wrongCount} × 401`);
    t.is(wrongCount + limited.length, 100);
    t.true(limited.every((a) => Number(a.headers["retry-after"]) >= 1), "every 429 has a Retry-After");
    t.true(ingests.every((x) => x.status === 200), "ingest keeps accepting");
    t.true(p95(health) < 250, figures);

    // The admin, from its own address, once the burst has drained: the shared budget (30) still has room.
    const admin = await timed(`${prod.url}/admin/inframap`, { headers: { authorization: `Bearer ${bearerToken}` } });
    t.is(admin.status, 200);
  } finally {
    await prod.stop();
  }
});
