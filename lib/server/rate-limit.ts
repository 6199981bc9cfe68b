/**
 * Limits on admin authentication attempts, per client and for all clients together.
 *
 * - **Per client**: after `maxFailures` failures within `windowMs`, the client is
 *   refused (429) until the oldest of them leaves the window. A refused client's
 *   requests are answered before any token is verified.
 * - **In total**: at most `maxTotal` token verifications (PBKDF2, ~0.5 s each) that
 *   have not succeeded may start within the window, whatever their source address,
 *   so rotating addresses cannot buy more derivations than that.
 *
 * A verification is counted when it is *reserved*, before it starts, not when it
 * finishes: otherwise a burst of concurrent attempts all pass the check while
 * none has failed yet. A reservation whose token verifies is refunded, so only
 * attempts that failed (or have not finished) use the budget: a right token
 * never counts as a failure. Failures that cost nothing to detect (no header, a
 * malformed one) count per client only, never against the total.
 *
 * Memory is bounded: at most `maxClients` clients are tracked, each keeps at
 * most `maxFailures` timestamps, and the total at most `maxTotal`. When the
 * client table is full, expired clients go first, then the longest-tracked ones.
 */
export interface FailureLimiterOptions {
  /** Failures (and unfinished verifications) allowed per client within the window (default 10). */
  readonly maxFailures?: number;
  /** Verifications that did not succeed allowed within the window, all clients together (default 30). */
  readonly maxTotal?: number;
  /** Window length in milliseconds (default 60 000). */
  readonly windowMs?: number;
  /** Clients tracked at most (default 10 000). */
  readonly maxClients?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export type LimitVerdict = { readonly limited: false } | { readonly limited: true; readonly retryAfterSeconds: number };

/** Which budget refused a reservation: the client's own, or the one all clients share. */
export type LimitScope = "client" | "total";

export type Reservation =
  | {
      readonly admitted: true;
      /** Gives the attempt back to both budgets (the token verified, or the work never ran). Idempotent. */
      refund(): void;
    }
  | { readonly admitted: false; readonly scope: LimitScope; readonly retryAfterSeconds: number };

export interface FailureLimiter {
  /** Whether `client` is currently refused by its own budget, and for how long. */
  check(client: string): LimitVerdict;
  /** Counts a failure that cost nothing to detect (client budget only); returns the client's verdict after it. */
  recordFailure(client: string): LimitVerdict;
  /**
   * Counts a verification about to start against the client's budget and the total,
   * or refuses it when either is spent. Keep the reservation: refund it when the token verifies.
   */
  reserve(client: string): Reservation;
  /** Clients currently tracked (for tests and metrics). */
  readonly size: number;
}

/** Defaults: 10 per client and 30 in total per minute, so at most ~15 s of PBKDF2 a minute goes to wrong tokens. */
export const DEFAULT_MAX_FAILURES = 10;
export const DEFAULT_MAX_TOTAL = 30;
export const DEFAULT_WINDOW_MS = 60_000;

/**
 * @example
 * const limiter = createFailureLimiter({ maxFailures: 10, maxTotal: 30, windowMs: 60_000 });
 * const slot = limiter.reserve(clientIp);
 * if (!slot.admitted) return tooManyRequests(slot.retryAfterSeconds);
 * if (await verify(token)) slot.refund();
 */
export function createFailureLimiter(options: FailureLimiterOptions = {}): FailureLimiter {
  const maxFailures = Math.max(1, options.maxFailures ?? DEFAULT_MAX_FAILURES);
  const maxTotal = Math.max(1, options.maxTotal ?? DEFAULT_MAX_TOTAL);
  const windowMs = Math.max(1, options.windowMs ?? DEFAULT_WINDOW_MS);
  const maxClients = Math.max(1, options.maxClients ?? 10_000);
  const now = options.now ?? Date.now;
  // Insertion order doubles as "longest tracked first" for eviction.
  const failures = new Map<string, number[]>();
  const total: number[] = [];

  const expire = (times: number[], at: number) => {
    while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
  };

  const live = (client: string, at: number): number[] | undefined => {
    const times = failures.get(client);
    if (!times) return undefined;
    expire(times, at);
    if (times.length === 0) {
      failures.delete(client);
      return undefined;
    }
    return times;
  };

  const verdict = (times: readonly number[] | undefined, limit: number, at: number): LimitVerdict => {
    if (!times || times.length < limit) return { limited: false };
    const freeAt = times[times.length - limit]! + windowMs;
    return { limited: true, retryAfterSeconds: Math.max(1, Math.ceil((freeAt - at) / 1000)) };
  };

  const makeRoom = (at: number) => {
    for (const client of [...failures.keys()]) {
      if (failures.size < maxClients) return;
      live(client, at);
    }
    for (const client of failures.keys()) {
      if (failures.size < maxClients) return;
      failures.delete(client);
    }
  };

  const count = (client: string, at: number): number[] => {
    let times = live(client, at);
    if (!times) {
      makeRoom(at);
      times = [];
      failures.set(client, times);
    }
    times.push(at);
    // Only the newest maxFailures matter for the verdict.
    if (times.length > maxFailures) times.splice(0, times.length - maxFailures);
    return times;
  };

  // Timestamps are interchangeable, so giving one back removes any entry with the same time.
  const takeBack = (times: number[] | undefined, at: number) => {
    const i = times?.lastIndexOf(at) ?? -1;
    if (i >= 0) times!.splice(i, 1);
  };

  return {
    check(client) {
      const at = now();
      return verdict(live(client, at), maxFailures, at);
    },
    recordFailure(client) {
      const at = now();
      return verdict(count(client, at), maxFailures, at);
    },
    reserve(client) {
      const at = now();
      const own = verdict(live(client, at), maxFailures, at);
      if (own.limited) return { admitted: false, scope: "client", retryAfterSeconds: own.retryAfterSeconds };
      expire(total, at);
      const shared = verdict(total, maxTotal, at);
      if (shared.limited) return { admitted: false, scope: "total", retryAfterSeconds: shared.retryAfterSeconds };
      count(client, at);
      total.push(at);
      let refunded = false;
      return {
        admitted: true,
        refund() {
          if (refunded) return;
          refunded = true;
          takeBack(total, at);
          const times = failures.get(client);
          takeBack(times, at);
          if (times?.length === 0) failures.delete(client);
        },
      };
    },
    get size() {
      return failures.size;
    },
  };
}
