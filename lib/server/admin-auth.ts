import { createHash } from "node:crypto";
import { verifyToken, type ApiKey } from "../auth/token.js";
import { createBoundedQueue, type BoundedQueue } from "./bounded-queue.js";
import { createFailureLimiter, type FailureLimiter, type LimitVerdict } from "./rate-limit.js";

/**
 * Why an admin request was turned away; logged, never with the token.
 * `rate-limited` is this client's own budget; `overloaded` is shared by all
 * clients (the total budget of wrong tokens, or the queue of verifications is full).
 */
export type AdminAuthFailure = "disabled" | "missing" | "malformed" | "wrong" | "rate-limited" | "overloaded";

export type AdminAuthResult =
  | { readonly ok: true; readonly cached: boolean }
  | {
      readonly ok: false;
      readonly status: 401 | 429;
      readonly reason: AdminAuthFailure;
      /** Safe to send to the client. */
      readonly message: string;
      /** Always set on 429; on a 401 when this failure used up the client's budget. */
      readonly retryAfterSeconds?: number;
    };

export interface AdminAuthenticator {
  /**
   * Checks an `Authorization` header value for `client` (its IP address).
   * Never throws for anything a client sends.
   */
  authenticate(authorization: string | undefined, client: string): Promise<AdminAuthResult>;
}

export interface AdminAuthenticatorOptions {
  /** The key parsed at start-up (`parseApiKey`); `undefined` disables the admin API. */
  readonly key: ApiKey | undefined;
  /** Attempt budgets: default 10 per client and 30 in total per minute ({@link createFailureLimiter}). */
  readonly limiter?: FailureLimiter;
  /** Where verifications wait for their turn: default 1 at a time, 8 waiting ({@link createBoundedQueue}). */
  readonly queue?: BoundedQueue;
  /** How long a verified token stays trusted without re-deriving its hash (default 5 minutes). */
  readonly cacheTtlMs?: number;
  /** Verified tokens remembered at most (default 32). */
  readonly cacheSize?: number;
  readonly now?: () => number;
  /** The verification itself; tests count calls through it. */
  readonly verify?: (token: string, key: ApiKey) => Promise<boolean>;
}

export const ADMIN_DISABLED_MESSAGE = "admin API disabled: set [authentication] admin_api_key (moose generate hash-token)";

const WRONG_TOKEN = "invalid bearer token";
const CLIENT_LIMITED = "too many failed admin authentications from this address";

/** Longer headers are refused unread: no legitimate token comes close. */
const MAX_TOKEN_LENGTH = 1024;
/**
 * RFC 6750's b64token: every token we issue (`moose_` + base64url) and the original
 * CLI's `<hex>.<hex>` fit, so anything else (NUL, non-ASCII, commas, quotes) is
 * refused before it costs a derivation.
 */
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

/**
 * Bearer-token authentication for the admin API.
 *
 * Verifying our key format costs ~0.5 s of PBKDF2 by design, so a token that
 * verified is remembered for a few minutes: by the sha256 of the token (the map
 * is looked up by digest, so the lookup reveals nothing a timing attack could
 * use, and the plain token is never kept). Failures are never remembered, and
 * identical tokens verified at the same time share one derivation.
 *
 * A request goes through these gates in order; the first that answers wins:
 *
 * 1. **The client's budget** (default 10 a minute). A client over it gets 429
 *    before its header is read, even with the right token, even a cached one:
 *    an address that guessed ten times is treated as hostile until its oldest
 *    attempt leaves the window.
 * 2. **Missing or malformed header**: 401, counted against the client only (it
 *    cost nothing to detect, so it does not touch the shared budget).
 * 3. **The cache**: a token verified in the last `cacheTtlMs` is accepted with
 *    no budget spent, so an admin whose token is cached keeps working while
 *    other addresses exhaust the shared budget or fill the queue.
 * 4. **A derivation of the same token already running**: joined, no budget
 *    reserved (it costs nothing); if it fails, a failure is recorded for this client.
 * 5. **Reservation**: the attempt is counted against the client and the total
 *    budget (default 30 a minute) *before* it starts, so a burst of concurrent
 *    wrong tokens cannot all slip past the check while none has failed yet.
 *    Either budget spent → 429.
 * 6. **The queue** (default 1 derivation at a time, 8 waiting): full → 429 with
 *    the estimated wait, and the reservation is refunded (no work was done).
 * 7. **Verification**. Right → the reservation is refunded, so a right token
 *    never counts as a failure; wrong → the reservation stays as the failure.
 *
 * Every 429 carries `retryAfterSeconds`. At most `maxTotal` wrong tokens a
 * window are derived whatever the number of source addresses, and at most
 * `1 + maxWaiting` are pending at any moment, so the thread pool shared with
 * ingest keeps free threads during an attack.
 *
 * @example
 * const auth = createAdminAuthenticator({ key: parseApiKey(config.authentication.adminApiKey) });
 * const result = await auth.authenticate(req.headers.authorization, req.socket.remoteAddress ?? "unknown");
 * if (!result.ok) reply(result.status, { error: result.message });
 */
export function createAdminAuthenticator(options: AdminAuthenticatorOptions): AdminAuthenticator {
  const { key } = options;
  const limiter = options.limiter ?? createFailureLimiter();
  const queue = options.queue ?? createBoundedQueue();
  const ttl = options.cacheTtlMs ?? 5 * 60_000;
  const cacheSize = Math.max(1, options.cacheSize ?? 32);
  const now = options.now ?? Date.now;
  const verify = options.verify ?? verifyToken;
  const verified = new Map<string, number>(); // digest -> expiry
  const inFlight = new Map<string, Promise<boolean>>();

  /** `after`: the client's verdict once this failure is counted. */
  const unauthorized = (reason: "missing" | "malformed" | "wrong", message: string, after: LimitVerdict): AdminAuthResult => ({
    ok: false,
    status: 401,
    reason,
    message,
    // The failure that reached the limit already says when to come back.
    ...(after.limited ? { retryAfterSeconds: after.retryAfterSeconds } : {}),
  });

  const refused = (reason: "rate-limited" | "overloaded", message: string, retryAfterSeconds: number): AdminAuthResult => ({
    ok: false,
    status: 429,
    reason,
    message: `${message}; retry in ${retryAfterSeconds} s`,
    retryAfterSeconds,
  });

  const cached = (digest: string): boolean => {
    const expiry = verified.get(digest);
    if (expiry === undefined) return false;
    if (expiry > now()) return true;
    verified.delete(digest);
    return false;
  };

  const remember = (digest: string) => {
    verified.delete(digest);
    if (verified.size >= cacheSize) {
      const oldest = verified.keys().next();
      if (!oldest.done) verified.delete(oldest.value);
    }
    verified.set(digest, now() + ttl);
  };

  return {
    async authenticate(authorization, client) {
      if (key === undefined) return { ok: false, status: 401, reason: "disabled", message: ADMIN_DISABLED_MESSAGE };
      const limit = limiter.check(client);
      if (limit.limited) return refused("rate-limited", CLIENT_LIMITED, limit.retryAfterSeconds);
      if (authorization === undefined || authorization.trim() === "") {
        return unauthorized("missing", "missing bearer token: send `Authorization: Bearer <token>` (the token from `moose generate hash-token`)", limiter.recordFailure(client));
      }
      const m = authorization.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(authorization) : null;
      if (!m || m[1]!.length > MAX_TOKEN_LENGTH) {
        return unauthorized("malformed", "malformed Authorization header: expected `Authorization: Bearer <token>`", limiter.recordFailure(client));
      }
      const token = m[1]!;
      const digest = createHash("sha256").update(token).digest("hex");
      if (cached(digest)) return { ok: true, cached: true };

      const running = inFlight.get(digest);
      if (running) {
        if (await running) return { ok: true, cached: false };
        return unauthorized("wrong", WRONG_TOKEN, limiter.recordFailure(client));
      }

      const slot = limiter.reserve(client);
      if (!slot.admitted) {
        return slot.scope === "client"
          ? refused("rate-limited", CLIENT_LIMITED, slot.retryAfterSeconds)
          : refused("overloaded", "too many failed admin authentications from all addresses; tokens verified earlier still work", slot.retryAfterSeconds);
      }
      const run = queue.tryRun(() => verify(token, key));
      if (!run.admitted) {
        slot.refund();
        return refused("overloaded", "too many admin token checks waiting", run.retryAfterSeconds);
      }
      const pending = run.result.catch(() => false);
      inFlight.set(digest, pending);
      void pending.finally(() => inFlight.delete(digest));
      if (await pending) {
        slot.refund();
        remember(digest);
        return { ok: true, cached: false };
      }
      // The reservation stays: it is this failure, already counted.
      return unauthorized("wrong", WRONG_TOKEN, limiter.check(client));
    },
  };
}
