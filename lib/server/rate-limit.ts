/**
 * Per-client limit on failed admin authentications: after `maxFailures` failures
 * within `windowMs`, the client is refused (429) until the oldest of them leaves
 * the window. A refused client's requests are answered before any token is
 * verified, so guessing also cannot keep the PBKDF2 thread pool busy.
 *
 * Memory is bounded: at most `maxClients` clients are tracked and each keeps at
 * most `maxFailures` timestamps. When the table is full, expired clients go
 * first, then the longest-tracked ones.
 */
export interface FailureLimiterOptions {
  /** Failures allowed per client within the window (default 10). */
  readonly maxFailures?: number;
  /** Window length in milliseconds (default 60 000). */
  readonly windowMs?: number;
  /** Clients tracked at most (default 10 000). */
  readonly maxClients?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export type LimitVerdict = { readonly limited: false } | { readonly limited: true; readonly retryAfterSeconds: number };

export interface FailureLimiter {
  /** Whether `client` is currently refused, and for how long. */
  check(client: string): LimitVerdict;
  /** Counts a failure of `client`; returns the verdict after counting it. */
  recordFailure(client: string): LimitVerdict;
  /** Clients currently tracked (for tests and metrics). */
  readonly size: number;
}

/**
 * @example
 * const limiter = createFailureLimiter({ maxFailures: 10, windowMs: 60_000 });
 * const verdict = limiter.check(clientIp);
 * if (verdict.limited) return tooManyRequests(verdict.retryAfterSeconds);
 * if (!(await verify(token))) limiter.recordFailure(clientIp);
 */
export function createFailureLimiter(options: FailureLimiterOptions = {}): FailureLimiter {
  const maxFailures = Math.max(1, options.maxFailures ?? 10);
  const windowMs = Math.max(1, options.windowMs ?? 60_000);
  const maxClients = Math.max(1, options.maxClients ?? 10_000);
  const now = options.now ?? Date.now;
  // Insertion order doubles as "longest tracked first" for eviction.
  const failures = new Map<string, number[]>();

  const live = (client: string, at: number): number[] | undefined => {
    const times = failures.get(client);
    if (!times) return undefined;
    while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
    if (times.length === 0) {
      failures.delete(client);
      return undefined;
    }
    return times;
  };

  const verdict = (times: readonly number[] | undefined, at: number): LimitVerdict => {
    if (!times || times.length < maxFailures) return { limited: false };
    const freeAt = times[times.length - maxFailures]! + windowMs;
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

  return {
    check(client) {
      const at = now();
      return verdict(live(client, at), at);
    },
    recordFailure(client) {
      const at = now();
      let times = live(client, at);
      if (!times) {
        makeRoom(at);
        times = [];
        failures.set(client, times);
      }
      times.push(at);
      // Only the newest maxFailures matter for the verdict.
      if (times.length > maxFailures) times.splice(0, times.length - maxFailures);
      return verdict(times, at);
    },
    get size() {
      return failures.size;
    },
  };
}
