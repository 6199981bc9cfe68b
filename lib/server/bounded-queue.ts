/**
 * Runs expensive asynchronous work a few tasks at a time, with a bounded number
 * waiting; beyond that, work is refused at once with an estimate of when to retry.
 *
 * Made for admin token verification: async PBKDF2 runs on libuv's thread pool
 * (4 threads by default), which ingest's own file-system and crypto work shares.
 * Left unbounded, a burst of wrong tokens queues seconds of derivations in front
 * of every `fs` call in the process. Holding derivations here instead keeps the
 * pool's other threads free, and the waiting list here is what gets refused.
 */
export interface BoundedQueueOptions {
  /** Tasks running at once (default 1). */
  readonly concurrency?: number;
  /** Tasks waiting for a slot at most (default 8); more are refused. */
  readonly maxWaiting?: number;
  /** What one task is assumed to take until some have finished, for Retry-After (default 500 ms: one PBKDF2 of our key format). */
  readonly expectedTaskMs?: number;
  /** Clock in milliseconds, for tests. */
  readonly now?: () => number;
}

export type QueueAdmission<T> =
  | { readonly admitted: true; readonly result: Promise<T> }
  | { readonly admitted: false; readonly retryAfterSeconds: number };

export interface BoundedQueue {
  /** Starts `task` now or once a slot frees, or refuses it when the waiting list is full. Never throws. */
  tryRun<T>(task: () => Promise<T>): QueueAdmission<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly waiting: number;
}

export const DEFAULT_CONCURRENCY = 1;
export const DEFAULT_MAX_WAITING = 8;

/**
 * @example
 * const derivations = createBoundedQueue({ concurrency: 1, maxWaiting: 8 });
 * const run = derivations.tryRun(() => verifyToken(token, key));
 * if (!run.admitted) return tooManyRequests(run.retryAfterSeconds);
 * const ok = await run.result;
 */
export function createBoundedQueue(options: BoundedQueueOptions = {}): BoundedQueue {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const maxWaiting = Math.max(0, options.maxWaiting ?? DEFAULT_MAX_WAITING);
  const now = options.now ?? (() => performance.now());
  let averageMs = Math.max(1, options.expectedTaskMs ?? 500);
  let active = 0;
  const waiting: Array<() => void> = [];

  const start = <T>(task: () => Promise<T>): Promise<T> => {
    active++;
    const began = now();
    return new Promise<T>((resolve) => resolve(task())).finally(() => {
      // A moving average, so Retry-After follows the machine's real speed.
      averageMs = 0.8 * averageMs + 0.2 * Math.max(0, now() - began);
      active--;
      waiting.shift()?.();
    });
  };

  return {
    tryRun<T>(task: () => Promise<T>): QueueAdmission<T> {
      if (active < concurrency) return { admitted: true, result: start(task) };
      if (waiting.length >= maxWaiting) {
        const ahead = (active + waiting.length) / concurrency;
        return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((ahead * averageMs) / 1000)) };
      }
      const result = new Promise<T>((resolve, reject) => waiting.push(() => start(task).then(resolve, reject)));
      return { admitted: true, result };
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
