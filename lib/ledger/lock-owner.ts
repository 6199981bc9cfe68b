import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * A lock owner that names this process: `host:pid:random`. The host and pid tell
 * an operator looking at `moose migrate unlock` which process to check on; the
 * random part keeps two ledgers opened by one process (or a recycled pid) apart.
 *
 * @example
 * const owner = defaultLockOwner(); // "build-7:41233:9f2c1ab0"
 * await ledger.acquireLock(owner, 60_000);
 */
export function defaultLockOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}
