/**
 * Test helpers for the ledger: temp ledgers, a second, independent SQLite
 * connection to look at the rows the ledger wrote, and a controllable clock.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "sqlite3";
import type { BeginMigration } from "../../lib/ledger/ledger.js";
import { checksumOf } from "../../lib/ledger/checksum.js";

export async function tempDir(prefix = "moose-ledger-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads rows through its own read-only sqlite3 connection, never through the ledger under test. */
export async function queryRows<T = Record<string, unknown>>(path: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (error) => (error ? reject(error) : resolve(opened)));
  });
  try {
    return await new Promise<T[]>((resolve, reject) => db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))));
  } finally {
    await new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
  }
}

/** A clock that only moves when told to. */
export function manualClock(start = "2026-11-26T03:15:00.000Z") {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    iso: () => new Date(t).toISOString(),
  };
}

/** A migration as the deployer would describe it to `begin`. */
export function sampleMigration(id: string, stepsTotal = 2, text = `export default migration({ up: [/* ${id} */] });\n`): BeginMigration {
  const { algorithm, checksum } = checksumOf(text);
  return {
    id,
    fileName: `${id}.ts`,
    checksum,
    checksumAlgorithm: algorithm,
    parentHash: `sha256:parent-of-${id}`,
    resultHash: `sha256:result-of-${id}`,
    stepsTotal,
  };
}

/** Runs statements through its own read-write sqlite3 connection (to tamper with a ledger from outside). */
export async function execSql(path: string, sql: string): Promise<void> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const opened: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (error) => (error ? reject(error) : resolve(opened)));
  });
  try {
    await new Promise<void>((resolve, reject) => db.exec(`PRAGMA busy_timeout = 5000; ${sql}`, (error) => (error ? reject(error) : resolve())));
  } finally {
    await new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
  }
}
