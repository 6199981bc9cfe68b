import { randomBytes } from "node:crypto";
import { open, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { EngineError } from "../../errors.js";

/**
 * A cross-process mutex on one path: the lock is a file created with O_EXCL that
 * names its holder (`pid@host nonce`). Node has no flock(), so a holder that dies
 * leaves its file behind: a waiter removes it once the named process is gone (same
 * host) or the file is older than `staleMs` (another host on a shared disk).
 *
 * Two waiters could both judge the same dead lock stale; the second would then
 * delete the first one's fresh lock. Removal therefore happens under a second
 * O_EXCL file (`<path>.break`), and the lock is re-read under it, so only the
 * dead holder's file is ever removed.
 *
 * Within one process, callers queue on a promise per path first, so the lock file
 * only arbitrates between processes. Polling is not fair by itself (the holder's next
 * caller is already running when it releases, a waiter in another process is asleep),
 * so a waiter announces itself in `<path>.want`, and a holder that sees someone else's
 * recent announcement lets a few milliseconds pass before its own next turn.
 */
export interface FileLockOptions {
  /** Give up after this long (`STREAM_LOCK_TIMEOUT`). */
  readonly timeoutMs?: number;
  /** A lock file from another host older than this is taken as abandoned. */
  readonly staleMs?: number;
}

const queues = new Map<string, Promise<unknown>>();
const HOST = hostname();
/** How long a holder stands back when another process waits; waiters poll faster than this. */
const YIELD_MS = 6;
/** An announcement older than this is from a waiter that is gone (waiters renew theirs). */
const WANT_FRESH_MS = 250;

/** Runs `fn` while holding the lock at `path`. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  let standBack = false;
  try {
    await previous;
    const token = await acquire(path, options);
    try {
      return await fn();
    } finally {
      await unlinkIfOwned(path, token);
      standBack = await othersWaiting(path);
    }
  } finally {
    const done = () => {
      release();
      if (queues.get(path) === tail) queues.delete(path);
    };
    if (standBack) setTimeout(done, YIELD_MS + Math.random() * YIELD_MS);
    else done();
  }
}

async function acquire(path: string, options: FileLockOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const token = `${process.pid}@${HOST} ${randomBytes(8).toString("hex")}`;
  const deadline = Date.now() + timeoutMs;
  const want = `${path}.want`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      if (attempt > 0) await unlinkIfOwned(want, token);
      return token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw lockError(path, error);
    }
    if (attempt % 32 === 0) await writeFile(want, token).catch(() => undefined);
    if (attempt % 32 === 31) await breakIfStale(path, staleMs);
    if (Date.now() > deadline) {
      const holder = await readFile(path, "utf8").catch(() => "?");
      throw new EngineError("STREAM_LOCK_TIMEOUT", `could not lock ${path} within ${timeoutMs} ms: held by ${holder.split(" ")[0]}`, {
        hint: "another moose process is writing to this topic; if none is running, delete the lock file",
      });
    }
    // Holders keep the lock for one append: short, jittered waits, shorter than a holder's YIELD_MS.
    await sleep(1 + Math.random() * 2);
  }
}

async function breakIfStale(path: string, staleMs: number): Promise<void> {
  const holder = await readHolder(path);
  if (holder === undefined || !isStale(holder, staleMs)) return;
  const breaker = `${path}.break`;
  let handle;
  try {
    handle = await open(breaker, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw lockError(breaker, error);
    // A breaker that died mid-way (the section below takes microseconds).
    const age = await stat(breaker).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > 10_000) await unlink(breaker).catch(() => undefined);
    return;
  }
  try {
    const again = await readHolder(path);
    if (again !== undefined && again.text === holder.text && isStale(again, staleMs)) await unlink(path).catch(() => undefined);
  } finally {
    await handle.close();
    await unlink(breaker).catch(() => undefined);
  }
}

interface Holder {
  readonly text: string;
  readonly ageMs: number;
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { text, ageMs: Date.now() - info.mtimeMs };
  } catch {
    return undefined;
  }
}

function isStale(holder: Holder, staleMs: number): boolean {
  const match = /^(\d+)@(\S+) /.exec(holder.text);
  // An empty file: the creator died between open and write (or is about to write).
  if (!match) return holder.ageMs > 1_000;
  if (match[2] !== HOST) return holder.ageMs > staleMs;
  return !isAlive(Number(match[1]));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether another process announced within WANT_FRESH_MS that it waits for `path`. */
async function othersWaiting(path: string): Promise<boolean> {
  const holder = await readHolder(`${path}.want`);
  return holder !== undefined && holder.ageMs < WANT_FRESH_MS && !holder.text.startsWith(`${process.pid}@${HOST} `);
}

async function unlinkIfOwned(path: string, token: string): Promise<void> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text === token) await unlink(path).catch(() => undefined);
}

function lockError(path: string, error: unknown): EngineError {
  return new EngineError("STREAM_IO_FAILED", `cannot lock ${path}: ${(error as Error).message}`, { cause: error });
}
