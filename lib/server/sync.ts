import { join } from "node:path";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { StreamEngine } from "../engines/stream/engine.js";
import type { InfraMap, SyncProcess } from "../model/infra-map.js";
import { TopicConsumer, type ConsumedRecord } from "./topic-consumer.js";
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

/** Skipped records logged one by one per pass; the rest are counted. */
const SKIP_LOG_LIMIT = 5;

class TopicTableSync {
  private readonly consumer: TopicConsumer;

  constructor(
    readonly spec: SyncProcess,
    private readonly options: SyncOptions,
  ) {
    this.consumer = new TopicConsumer(
      {
        label: `sync ${spec.name}`,
        sourceTopic: spec.sourceTopic,
        offsetsFile: join(options.stateDir, "sync", `${encodeURIComponent(spec.name)}.json`),
        describe: { process: spec.name, targetTable: spec.targetTable },
        streams: options.streams,
        log: options.log,
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
        ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
      },
      (batch) => this.insert(batch),
    );
  }

  start(): void {
    this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  drain(): Promise<void> {
    return this.consumer.drain();
  }

  status(): SyncStatus {
    const error = this.consumer.error;
    return {
      name: this.spec.name,
      sourceTopic: this.spec.sourceTopic,
      targetTable: this.spec.targetTable,
      offsets: this.consumer.currentOffsets,
      ...(error === undefined ? {} : { error }),
    };
  }

  /** Validates every record against the target table's columns (invalid ones are logged and skipped), then one INSERT. */
  private async insert(batch: readonly ConsumedRecord[]): Promise<void> {
    const { sourceTopic, targetTable, name } = this.spec;
    const table = this.options.getState().tables[targetTable];
    if (table === undefined) throw new Error(`table ${targetTable} is not in the current state`);
    const rows: Array<Record<string, unknown>> = [];
    let skipped = 0;
    for (const record of batch) {
      const { row, errors } = validateRow(record.value, table.columns);
      if (row !== undefined) {
        rows.push(row);
        continue;
      }
      skipped += 1;
      if (skipped <= SKIP_LOG_LIMIT) {
        const why = errors.map((e) => (e.path === "" ? e.reason : `${e.path}: ${e.reason}`)).join("; ");
        this.options.log(`sync ${name}: skipped record ${sourceTopic}/${record.partition}@${record.offset} (does not fit ${targetTable}): ${why}`);
      }
    }
    if (skipped > SKIP_LOG_LIMIT) this.options.log(`sync ${name}: skipped ${skipped - SKIP_LOG_LIMIT} more invalid record(s) in this batch`);
    if (rows.length > 0) await this.options.olap.insertJsonRows(targetTable, rows);
  }
}
