import { createHash } from "node:crypto";
import { verifyToken, type ApiKey } from "../auth/token.js";
import { createFailureLimiter, type FailureLimiter } from "./rate-limit.js";

/** Why an admin request was turned away; logged, never with the token. */
export type AdminAuthFailure = "disabled" | "missing" | "malformed" | "wrong" | "rate-limited";

export type AdminAuthResult =
  | { readonly ok: true; readonly cached: boolean }
  | {
      readonly ok: false;
      readonly status: 401 | 429;
      readonly reason: AdminAuthFailure;
      /** Safe to send to the client. */
      readonly message: string;
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
  /** Failed attempts per client; default 10 per minute. */
  readonly limiter?: FailureLimiter;
  /** How long a verified token stays trusted without re-deriving its hash (default 5 minutes). */
  readonly cacheTtlMs?: number;
  /** Verified tokens remembered at most (default 32). */
  readonly cacheSize?: number;
  readonly now?: () => number;
  /** The verification itself; tests count calls through it. */
  readonly verify?: (token: string, key: ApiKey) => Promise<boolean>;
}

export const ADMIN_DISABLED_MESSAGE = "admin API disabled: set [authentication] admin_api_key (moose generate hash-token)";

/** Longer headers are refused unread: no legitimate token comes close. */
const MAX_TOKEN_LENGTH = 1024;
const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Bearer-token authentication for the admin API.
 *
 * Verifying our key format costs ~0.5 s of PBKDF2 by design, so a token that
 * verified is remembered for a few minutes: by the sha256 of the token (the map
 * is looked up by digest, so the lookup reveals nothing a timing attack could
 * use, and the plain token is never kept). Failures are never remembered, and
 * identical tokens verified at the same time share one derivation.
 *
 * @example
 * const auth = createAdminAuthenticator({ key: parseApiKey(config.authentication.adminApiKey) });
 * const result = await auth.authenticate(req.headers.authorization, req.socket.remoteAddress ?? "unknown");
 * if (!result.ok) reply(result.status, { error: result.message });
 */
export function createAdminAuthenticator(options: AdminAuthenticatorOptions): AdminAuthenticator {
  const { key } = options;
  const limiter = options.limiter ?? createFailureLimiter();
  const ttl = options.cacheTtlMs ?? 5 * 60_000;
  const cacheSize = Math.max(1, options.cacheSize ?? 32);
  const now = options.now ?? Date.now;
  const verify = options.verify ?? verifyToken;
  const verified = new Map<string, number>(); // digest -> expiry
  const inFlight = new Map<string, Promise<boolean>>();

  const fail = (reason: Exclude<AdminAuthFailure, "disabled" | "rate-limited">, client: string, message: string): AdminAuthResult => {
    const after = limiter.recordFailure(client);
    return {
      ok: false,
      status: 401,
      reason,
      message,
      // The failure that reached the limit already says when to come back.
      ...(after.limited ? { retryAfterSeconds: after.retryAfterSeconds } : {}),
    };
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
      if (limit.limited) {
        return {
          ok: false,
          status: 429,
          reason: "rate-limited",
          message: `too many failed admin authentications from this address; retry in ${limit.retryAfterSeconds} s`,
          retryAfterSeconds: limit.retryAfterSeconds,
        };
      }
      if (authorization === undefined || authorization.trim() === "") {
        return fail("missing", client, "missing bearer token: send `Authorization: Bearer <token>` (the token from `moose generate hash-token`)");
      }
      const m = authorization.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(authorization) : null;
      if (!m || m[1]!.length > MAX_TOKEN_LENGTH) {
        return fail("malformed", client, "malformed Authorization header: expected `Authorization: Bearer <token>`");
      }
      const token = m[1]!;
      const digest = createHash("sha256").update(token).digest("hex");
      const expiry = verified.get(digest);
      if (expiry !== undefined) {
        if (expiry > now()) return { ok: true, cached: true };
        verified.delete(digest);
      }
      let pending = inFlight.get(digest);
      if (!pending) {
        pending = verify(token, key).catch(() => false);
        inFlight.set(digest, pending);
        void pending.finally(() => inFlight.delete(digest));
      }
      if (await pending) {
        remember(digest);
        return { ok: true, cached: false };
      }
      return fail("wrong", client, "invalid bearer token");
    },
  };
}
