import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { PartitionOffsets, StreamEngine } from "../engines/stream/engine.js";
import type { InfraMap, SyncProcess } from "../model/infra-map.js";
import { validateRow } from "./validate.js";

export interface SyncOptions {
  /** The state being served; `refresh()` reads its `processes`. */
  readonly getState: () => InfraMap;
  readonly streams: StreamEngine;
  readonly olap: OlapEngine;
  /** Offsets are kept in `<stateDir>/sync/<process>.json`. */
  readonly stateDir: string;
  readonly log: (line: string) => void;
  /** Records read per partition per pass (default 1000); one pass is one INSERT. */
  readonly batchSize?: number;
  /** Pause between passes that found nothing (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** Longest pause after a failure (default 5 s); failures back off from 250 ms. */
  readonly maxBackoffMs?: number;
}

/** One running sync, for status displays. */
export interface SyncStatus {
  readonly name: string;
  readonly sourceTopic: string;
  readonly targetTable: string;
  /** Next offset to read, by partition (what is persisted). */
  readonly offsets: Readonly<Record<string, number>>;
  /** The last failure, while the sync is failing. */
  readonly error?: string;
}

export interface SyncManager {
  /** Starts syncs the state declares and stops those it no longer does. */
  refresh(): void;
  /**
   * Waits until every running sync has written what its topic held when called.
   * Rejects with the error of a sync that cannot make progress (missing table, engine down).
   */
  flush(): Promise<void>;
  /** Stops every sync after its current pass; offsets are on disk when it resolves. */
  stop(): Promise<void>;
  status(): SyncStatus[];
}

/**
 * The topic → table syncs (`SyncProcess`es) of the state: each reads its topic from the
 * offsets it persisted, validates every record against the target table's columns
 * (invalid records are logged and skipped), inserts the valid ones in one INSERT per
 * pass and then persists the new offsets. At least once: a crash between the insert and
 * the offset write repeats that one batch; a stop or restart neither repeats nor loses
 * records. A sync with no stored offsets starts at the oldest record the topic holds.
 *
 * @example
 * const syncs = startSyncs({ getState, streams, olap, stateDir: ".moose", log: console.log });
 * // after a migration changed the state:
 * syncs.refresh();
 * // on shutdown:
 * await syncs.stop();
 */
export function startSyncs(options: SyncOptions): SyncManager {
  const running = new Map<string, TopicTableSync>();
  const stopping = new Set<Promise<void>>();
  let stopped = false;

  const stopSync = (key: string, sync: TopicTableSync): void => {
    running.delete(key);
    const done = sync.stop().finally(() => stopping.delete(done));
    stopping.add(done);
  };

  const refresh = (): void => {
    if (stopped) return;
    const wanted = new Map<string, SyncProcess>();
    for (const p of Object.values(options.getState().processes)) wanted.set(keyOf(p), p);
    for (const [key, sync] of running) {
      if (!wanted.has(key)) {
        options.log(`sync ${sync.spec.name}: stopped (no longer in the state)`);
        stopSync(key, sync);
      }
    }
    for (const [key, spec] of wanted) {
      if (running.has(key)) continue;
      const sync = new TopicTableSync(spec, options);
      running.set(key, sync);
      sync.start();
    }
  };

  refresh();
  return {
    refresh,
    async flush(): Promise<void> {
      await Promise.all([...running.values()].map((s) => s.drain()));
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const [key, sync] of running) stopSync(key, sync);
      await Promise.all([...stopping]);
    },
    status(): SyncStatus[] {
      return [...running.values()].map((s) => s.status());
    },
  };
}

function keyOf(p: SyncProcess): string {
  return JSON.stringify([p.name, p.sourceTopic, p.targetTable]);
}

/** What `<stateDir>/sync/<process>.json` holds. */
interface StoredOffsets {
  readonly format: 1;
  readonly process: string;
  readonly sourceTopic: string;
  readonly targetTable: string;
  readonly offsets: Readonly<Record<string, number>>;
}

/** Skipped records logged one by one per pass; the rest are counted. */
const SKIP_LOG_LIMIT = 5;

class TopicTableSync {
  private offsets = new Map<number, number>();
  private loaded = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Passes run one at a time: the background loop and `drain()` share this. */
  private tail: Promise<unknown> = Promise.resolve();
  private lastError: string | undefined;
  private readonly file: string;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    readonly spec: SyncProcess,
    private readonly options: SyncOptions,
  ) {
    this.file = join(options.stateDir, "sync", `${encodeURIComponent(spec.name)}.json`);
    this.batchSize = options.batchSize ?? 1000;
    this.pollMs = options.pollIntervalMs ?? 250;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  status(): SyncStatus {
    return {
      name: this.spec.name,
      sourceTopic: this.spec.sourceTopic,
      targetTable: this.spec.targetTable,
      offsets: Object.fromEntries([...this.offsets].map(([p, o]) => [String(p), o])),
      ...(this.lastError === undefined ? {} : { error: this.lastError }),
    };
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let consumed = 0;
      try {
        consumed = await this.exclusive(() => this.pass());
        if (this.lastError !== undefined) this.options.log(`sync ${this.spec.name}: running again`);
        this.lastError = undefined;
        failures = 0;
      } catch (error) {
        failures += 1;
        const message = (error as Error).message ?? String(error);
        // A failing sync retries forever; saying the same thing every 5 s helps no one.
        if (message !== this.lastError) this.options.log(`sync ${this.spec.name}: ${message} (retrying)`);
        this.lastError = message;
      }
      if (this.stopped) break;
      if (failures > 0) await this.sleep(Math.min(this.maxBackoffMs, 250 * 2 ** (failures - 1)));
      else if (consumed === 0) await this.sleep(this.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  /** Catches up to the end of the topic as it is now. */
  drain(): Promise<void> {
    return this.exclusive(async () => {
      const targets = await this.options.streams.offsets(this.spec.sourceTopic);
      for (;;) {
        if (this.caughtUp(targets)) return;
        // Nothing readable below the target (records removed by retention): as far as it goes.
        if ((await this.pass()) === 0) return;
      }
    });
  }

  private caughtUp(targets: readonly PartitionOffsets[]): boolean {
    return targets.every((t) => (this.offsets.get(t.partition) ?? t.low) >= t.high);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    try {
      const stored = JSON.parse(await readFile(this.file, "utf8")) as Partial<StoredOffsets>;
      // Offsets of another topic (the process was redefined) mean nothing here.
      if (stored.format === 1 && stored.sourceTopic === this.spec.sourceTopic && stored.offsets) {
        for (const [p, o] of Object.entries(stored.offsets)) if (Number.isInteger(o)) this.offsets.set(Number(p), o);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        this.options.log(`sync ${this.spec.name}: ignoring unreadable offsets in ${this.file}: ${(error as Error).message}; starting at the oldest records`);
      }
    }
    this.loaded = true;
  }

  private async persist(next: ReadonlyMap<number, number>): Promise<void> {
    const stored: StoredOffsets = {
      format: 1,
      process: this.spec.name,
      sourceTopic: this.spec.sourceTopic,
      targetTable: this.spec.targetTable,
      offsets: Object.fromEntries([...next].sort(([a], [b]) => a - b).map(([p, o]) => [String(p), o])),
    };
    await mkdir(join(this.options.stateDir, "sync"), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(stored, null, 2) + "\n");
    await rename(tmp, this.file);
  }

  /** One batch per partition → one INSERT → offsets persisted. Returns the records consumed. */
  private async pass(): Promise<number> {
    await this.load();
    const { sourceTopic, targetTable, name } = this.spec;
    const table = this.options.getState().tables[targetTable];
    if (table === undefined) throw new Error(`table ${targetTable} is not in the current state`);
    const partitions = await this.options.streams.offsets(sourceTopic);
    const next = new Map(this.offsets);
    const rows: Array<Record<string, unknown>> = [];
    let consumed = 0;
    let skipped = 0;
    for (const p of partitions) {
      let from = this.offsets.get(p.partition) ?? p.low;
      if (from > p.high) {
        // The log is shorter than our offset: the topic was deleted and created again.
        this.options.log(`sync ${name}: ${sourceTopic} partition ${p.partition} ends at ${p.high}, before the stored offset ${from} (topic re-created?); reading from ${p.low}`);
        from = p.low;
      } else if (from < p.low) {
        this.options.log(`sync ${name}: records ${from}..${p.low - 1} of ${sourceTopic} partition ${p.partition} expired before they were synced`);
        from = p.low;
      }
      if (from >= p.high) {
        next.set(p.partition, from);
        continue;
      }
      const read = await this.options.streams.readFrom(sourceTopic, p.partition, from, this.batchSize);
      for (const record of read.records) {
        const { row, errors } = validateRow(record.value, table.columns);
        if (row !== undefined) {
          rows.push(row);
          continue;
        }
        skipped += 1;
        if (skipped <= SKIP_LOG_LIMIT) {
          const why = errors.map((e) => (e.path === "" ? e.reason : `${e.path}: ${e.reason}`)).join("; ");
          this.options.log(`sync ${name}: skipped record ${sourceTopic}/${p.partition}@${record.offset} (does not fit ${targetTable}): ${why}`);
        }
      }
      consumed += read.records.length;
      next.set(p.partition, read.nextOffset);
    }
    if (skipped > SKIP_LOG_LIMIT) this.options.log(`sync ${name}: skipped ${skipped - SKIP_LOG_LIMIT} more invalid record(s) in this batch`);
    if (rows.length > 0) await this.options.olap.insertJsonRows(targetTable, rows);
    if (consumed > 0 || next.size !== this.offsets.size) await this.persist(next);
    this.offsets = next;
    return consumed;
  }
}
