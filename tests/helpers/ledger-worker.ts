/**
 * One deploy process for the ledger concurrency test:
 *
 *   node ledger-worker.js <ledger path> <marker dir> <perHold> <id>...
 *
 * Opens the ledger, prints `ready`, waits for a line on stdin (so all processes
 * start contending at once), then loops: take the migrate lock (retrying until
 * it gets it), apply up to `perHold` pending migrations (0 = all), release.
 * It stops once none of the ids is pending. The last stdout line is a JSON report.
 *
 * Mutual exclusion is checked twice, independently of the ledger: each hold's
 * wall-clock interval is reported for the parent to compare, and each hold
 * creates `<marker dir>/inside` exclusively, which fails if another process is
 * inside at the same time.
 */
import { randomInt } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { openLedger } from "../../lib/ledger/ledger.js";
import { defaultLockOwner } from "../../lib/ledger/lock-owner.js";
import { sampleMigration } from "./ledger-sqlite.js";

export interface WorkerHold {
  readonly acquiredAt: number;
  readonly releasedAt: number;
  readonly applied: readonly string[];
}

export interface WorkerReport {
  readonly owner: string;
  readonly pid: number;
  readonly holds: readonly WorkerHold[];
  readonly lockAttempts: number;
  /** Set when the exclusive marker file already existed: two processes inside at once. */
  readonly overlaps: number;
  readonly error?: { readonly code?: string; readonly message: string };
}

const STEPS = 2;

async function main(): Promise<WorkerReport> {
  const [ledgerPath, markerDir, perHoldText, ...ids] = process.argv.slice(2);
  if (!ledgerPath || !markerDir || perHoldText === undefined || ids.length === 0) throw new Error("usage: ledger-worker <ledger> <marker dir> <perHold> <id>...");
  const perHold = Number(perHoldText);
  const marker = join(markerDir, "inside");

  const ledger = await openLedger(ledgerPath, { toolVersion: "test-worker" });
  const owner = defaultLockOwner();
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
  process.stdin.pause();

  const holds: WorkerHold[] = [];
  let lockAttempts = 0;
  let overlaps = 0;
  try {
    for (;;) {
      let result = await ledger.acquireLock(owner, 30_000);
      lockAttempts++;
      while (!result.acquired) {
        await sleep(randomInt(1, 8));
        result = await ledger.acquireLock(owner, 30_000);
        lockAttempts++;
      }
      const acquiredAt = Date.now();
      const inside = await open(marker, "wx").catch((error: NodeJS.ErrnoException) => {
        if (error.code === "EEXIST") return undefined;
        throw error;
      });
      if (!inside) overlaps++;
      await inside?.close();

      const applied: string[] = [];
      const done = new Set((await ledger.list()).filter((r) => r.status === "applied").map((r) => r.id));
      const pending = ids.filter((id) => !done.has(id));
      for (const id of perHold > 0 ? pending.slice(0, perHold) : pending) {
        await ledger.begin(sampleMigration(id, STEPS));
        for (let step = 0; step < STEPS; step++) {
          // A little work per step so holds last long enough to overlap if the lock were broken.
          await sleep(2);
          await ledger.stepDone(id, step, [`-- ${id} step ${step} by ${owner}`]);
        }
        await ledger.complete(id);
        applied.push(id);
      }

      if (inside) await unlink(marker);
      const releasedAt = Date.now();
      await ledger.releaseLock(owner);
      holds.push({ acquiredAt, releasedAt, applied });
      if (pending.length <= applied.length) break;
      // Step back a moment so the lock is handed to another process rather than straight back to us.
      await sleep(randomInt(5, 15));
    }
    return { owner, pid: process.pid, holds, lockAttempts, overlaps };
  } finally {
    await ledger.close();
  }
}

main().then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  },
  (error: unknown) => {
    const e = error as { code?: string; message?: string };
    const report: WorkerReport = {
      owner: "",
      pid: process.pid,
      holds: [],
      lockAttempts: 0,
      overlaps: 0,
      error: { ...(e.code ? { code: e.code } : {}), message: String(e.message ?? error) },
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exitCode = 1;
  },
);
