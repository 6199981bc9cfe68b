import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { PartitionOffsets, StreamEngine } from "../engines/stream/engine.js";

/** A record read from a topic, with where it was. */
export interface ConsumedRecord {
  readonly partition: number;
  readonly offset: number;
  /** Milliseconds since the epoch, as the producer stamped it. */
  readonly timestamp: number;
  readonly value: unknown;
}

export interface TopicConsumerOptions {
  /** For log lines: `sync Foo_to_Foo`, `transform Foo → Bar`. */
  readonly label: string;
  readonly sourceTopic: string;
  /** Where the offsets are kept (a JSON file, replaced atomically). */
  readonly offsetsFile: string;
  readonly streams: StreamEngine;
  readonly log: (line: string) => void;
  /** Fields written into the offsets file besides the offsets (what the consumer is). */
  readonly describe?: Readonly<Record<string, string>>;
  /** Records read per partition per pass (default 1000). */
  readonly batchSize?: number;
  /** Pause between passes that found nothing (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** Longest pause after a failure (default 5 s); failures back off from 250 ms. */
  readonly maxBackoffMs?: number;
}

/** What the offsets file holds. */
interface StoredOffsets {
  readonly format: 1;
  readonly sourceTopic: string;
  readonly offsets: Readonly<Record<string, number>>;
}

/**
 * Reads a topic from offsets it keeps in a file, one batch per pass, and hands each batch
 * to `handle`; the offsets move past the batch only after `handle` resolved (at least
 * once: a crash in between repeats that batch, a stop or restart neither repeats nor loses
 * records). A failing `handle` is retried with backoff and logged once per distinct error.
 * With no stored offsets it starts at the oldest record the topic holds. The topic→table
 * syncs and the app's stream functions are both this loop.
 *
 * @example
 * const c = new TopicConsumer({ label: "sync A", sourceTopic: "A", offsetsFile, streams, log }, async (batch) => insert(batch));
 * c.start(); await c.drain(); await c.stop();
 */
export class TopicConsumer {
  private offsets = new Map<number, number>();
  private loaded = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Passes run one at a time: the background loop and `drain()` share this. */
  private tail: Promise<unknown> = Promise.resolve();
  private lastError: string | undefined;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    readonly options: TopicConsumerOptions,
    private readonly handle: (records: readonly ConsumedRecord[]) => Promise<void>,
  ) {
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

  /** Next offset to read, by partition (what is persisted). */
  get currentOffsets(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.offsets].map(([p, o]) => [String(p), o]));
  }

  /** The last failure, while failing. */
  get error(): string | undefined {
    return this.lastError;
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
        if (this.lastError !== undefined) this.options.log(`${this.options.label}: running again`);
        this.lastError = undefined;
        failures = 0;
      } catch (error) {
        failures += 1;
        const message = (error as Error).message ?? String(error);
        // A failing consumer retries forever; saying the same thing every 5 s helps no one.
        if (message !== this.lastError) this.options.log(`${this.options.label}: ${message} (retrying)`);
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
      const targets = await this.options.streams.offsets(this.options.sourceTopic);
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
      const stored = JSON.parse(await readFile(this.options.offsetsFile, "utf8")) as Partial<StoredOffsets>;
      // Offsets of another topic (the consumer was redefined) mean nothing here.
      if (stored.format === 1 && stored.sourceTopic === this.options.sourceTopic && stored.offsets) {
        for (const [p, o] of Object.entries(stored.offsets)) if (Number.isInteger(o)) this.offsets.set(Number(p), o);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        this.options.log(`${this.options.label}: ignoring unreadable offsets in ${this.options.offsetsFile}: ${(error as Error).message}; starting at the oldest records`);
      }
    }
    this.loaded = true;
  }

  private async persist(next: ReadonlyMap<number, number>): Promise<void> {
    const stored = {
      format: 1,
      ...this.options.describe,
      sourceTopic: this.options.sourceTopic,
      offsets: Object.fromEntries([...next].sort(([a], [b]) => a - b).map(([p, o]) => [String(p), o])),
    };
    await mkdir(dirname(this.options.offsetsFile), { recursive: true });
    const tmp = `${this.options.offsetsFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(stored, null, 2) + "\n");
    await rename(tmp, this.options.offsetsFile);
  }

  /** One batch per partition → `handle` → offsets persisted. Returns the records consumed. */
  private async pass(): Promise<number> {
    await this.load();
    const { sourceTopic, label } = this.options;
    const partitions = await this.options.streams.offsets(sourceTopic);
    const next = new Map(this.offsets);
    const batch: ConsumedRecord[] = [];
    for (const p of partitions) {
      let from = this.offsets.get(p.partition) ?? p.low;
      if (from > p.high) {
        // The log is shorter than our offset: the topic was deleted and created again.
        this.options.log(`${label}: ${sourceTopic} partition ${p.partition} ends at ${p.high}, before the stored offset ${from} (topic re-created?); reading from ${p.low}`);
        from = p.low;
      } else if (from < p.low) {
        this.options.log(`${label}: records ${from}..${p.low - 1} of ${sourceTopic} partition ${p.partition} expired before they were read`);
        from = p.low;
      }
      if (from >= p.high) {
        next.set(p.partition, from);
        continue;
      }
      const read = await this.options.streams.readFrom(sourceTopic, p.partition, from, this.batchSize);
      for (const record of read.records) batch.push({ partition: p.partition, offset: record.offset, timestamp: record.timestamp, value: record.value });
      next.set(p.partition, read.nextOffset);
    }
    if (batch.length > 0) await this.handle(batch);
    if (batch.length > 0 || next.size !== this.offsets.size) await this.persist(next);
    this.offsets = next;
    return batch.length;
  }
}
