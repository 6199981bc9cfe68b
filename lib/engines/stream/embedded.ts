import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EmbeddedStreamingConfig } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { EngineError, MooseError } from "../../errors.js";
import {
  applyTopicChange,
  topicDefaults,
  type PartitionOffsets,
  type ProduceOptions,
  type ReadResult,
  type StreamEngine,
  type StreamRecord,
  type TopicOperations,
} from "./engine.js";
import { withFileLock } from "./file-lock.js";
import { partitionForKey } from "./partitioner.js";
import { checkReadArguments, encodeRecordValue } from "./record-codec.js";
import { logicalTopicName, physicalTopicName, RETENTION_CONFIG, type TopicDescription, type TopicSettings, type TopicUpdate } from "./topic-spec.js";

/**
 * The embedded stream engine: Kafka's topic model as files, so `moose dev` runs
 * ingest → stream → table with no broker.
 *
 * ```
 * <dataDir>/topics/<topic>/topic.json                  settings (replaced atomically: temp file + rename)
 * <dataDir>/topics/<topic>/<partition>/<base>.log      segments: one JSON line per record, {"offset":…,"timestamp":…,"value":…}
 * <dataDir>/topics/<topic>/<partition>/append.lock     held while appending (see file-lock.ts)
 * <dataDir>/tmp/                                       topics being created or deleted
 * ```
 *
 * A segment is named after its first offset (20 digits, as Kafka names them). Appends
 * queue per partition in the process; a flush takes the partition's lock file, reads the
 * next offset from the tail of the active segment and writes every queued line with one
 * O_APPEND write, so producers in any number of processes get distinct, gap-free
 * offsets. Readers take no lock and ignore a trailing line that is not complete yet. A
 * topic appears and disappears with one directory rename, so no reader ever sees half
 * a topic.
 *
 * Like Kafka, appends are not fsynced: the OS page cache survives a process restart,
 * not a power cut. Settings files are fsynced before they replace the old ones.
 * Retention is enforced lazily at segment granularity: when an append finds non-active
 * segments last written more than `retention.ms` ago, it deletes them.
 */
export interface EmbeddedStreamOptions {
  /** Roll to a new segment once the active one reaches this size (default 8 MiB). */
  readonly segmentBytes?: number;
  /** Give up waiting for another process's append after this long (default 30 s). */
  readonly lockTimeoutMs?: number;
  /** Check retention at most this often per partition (default 1 s). */
  readonly retentionCheckIntervalMs?: number;
}

const META_FILE = "topic.json";
const META_FORMAT = 1;
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const OFFSET_PREFIX = /^\{"offset":(\d+),/;

interface TopicMeta {
  readonly format: typeof META_FORMAT;
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly retentionMs: number;
  readonly config: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

interface Segment {
  readonly base: number;
  readonly path: string;
}

interface PendingAppend {
  readonly values: readonly string[];
  readonly keyJson: string;
  readonly retentionMs: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface AppendQueue {
  readonly pending: PendingAppend[];
  flushing: boolean;
}

interface Tail {
  readonly segment: string;
  readonly size: number;
  readonly next: number;
}

/**
 * Opens (and creates) the embedded log under `config.dataDir`.
 *
 * @example
 * const streams = await openEmbeddedStreamEngine({ engine: "embedded", dataDir: ".moose/streams", messageTimeoutMs: 1000, retentionMs: 30000, replicationFactor: 1 });
 */
export async function openEmbeddedStreamEngine(config: EmbeddedStreamingConfig, options: EmbeddedStreamOptions = {}): Promise<StreamEngine> {
  try {
    await mkdir(join(config.dataDir, "topics"), { recursive: true });
    await mkdir(join(config.dataDir, "tmp"), { recursive: true });
  } catch (error) {
    throw ioError(`cannot create the embedded stream directory ${config.dataDir}`, error);
  }
  return new EmbeddedStreamEngine(config, options);
}

class EmbeddedStreamEngine implements StreamEngine {
  readonly kind = "embedded" as const;
  private closed = false;
  private roundRobin = 0;
  /** Appends waiting for their partition's flush, per partition directory. */
  private readonly queues = new Map<string, AppendQueue>();
  private readonly flushes = new Set<Promise<void>>();
  private readonly retentionCheckedAt = new Map<string, number>();
  private readonly topicsDir: string;
  private readonly tmpDir: string;

  constructor(
    private readonly config: EmbeddedStreamingConfig,
    private readonly options: EmbeddedStreamOptions,
  ) {
    this.topicsDir = join(config.dataDir, "topics");
    this.tmpDir = join(config.dataDir, "tmp");
  }

  async apply(change: Change): Promise<void> {
    this.checkOpen();
    const ops: TopicOperations = {
      createTopic: (settings, logical) => this.createTopic(settings, logical),
      deleteTopic: (physical, logical) => this.deleteTopic(physical, logical),
      updateTopic: (update, logical) => this.updateTopic(update, logical),
    };
    await applyTopicChange(change, ops, topicDefaults(this.config), "embedded");
  }

  async introspect(): Promise<Record<string, TopicDescription>> {
    this.checkOpen();
    const names = await readdir(this.topicsDir).catch((error) => {
      throw ioError(`cannot list ${this.topicsDir}`, error);
    });
    const out: Record<string, TopicDescription> = {};
    for (const physical of names.sort()) {
      const logical = logicalTopicName(physical, this.config.namespace);
      if (logical === undefined) continue;
      const meta = await this.readMeta(physical, logical).catch((error) => {
        // Deleted while we listed: it is gone, which is what a later listing would say.
        if (error instanceof MooseError && error.code === "STREAM_UNKNOWN_TOPIC") return undefined;
        throw error;
      });
      if (meta === undefined) continue;
      out[logical] = {
        name: logical,
        partitions: meta.partitions,
        retentionMs: meta.retentionMs,
        replicationFactor: meta.replicationFactor,
        config: { ...meta.config },
      };
    }
    return out;
  }

  async produce(topic: string, records: readonly unknown[], options: ProduceOptions = {}): Promise<void> {
    this.checkOpen();
    const physical = physicalTopicName(topic, this.config.namespace);
    const lines = records.map((value, index) => encodeRecordValue(value, index, topic));
    const meta = await this.readMeta(physical, topic);
    if (options.partition !== undefined) checkPartition(topic, options.partition, meta.partitions);
    const byPartition = new Map<number, string[]>();
    const fixed = options.partition ?? (options.key === undefined ? undefined : partitionForKey(options.key, meta.partitions));
    for (const line of lines) {
      const partition = fixed ?? this.roundRobin++ % meta.partitions;
      let list = byPartition.get(partition);
      if (!list) byPartition.set(partition, (list = []));
      list.push(line);
    }
    const keyJson = options.key === undefined ? "" : `,"key":${JSON.stringify(options.key)}`;
    await Promise.all(
      [...byPartition].map(([partition, values]) => this.append(meta, topic, partition, values, keyJson)),
    );
  }

  async readFrom(topic: string, partition: number, offset: number, max: number): Promise<ReadResult> {
    this.checkOpen();
    checkReadArguments(offset, max);
    const physical = physicalTopicName(topic, this.config.namespace);
    const meta = await this.readMeta(physical, topic);
    checkPartition(topic, partition, meta.partitions);
    const dir = this.partitionDir(physical, partition);
    // Retention may delete the segment we are about to read: start over with the new list.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readSegments(dir, topic, partition, offset, max);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw mapMissing(error, topic, this.config.dataDir);
      }
    }
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    this.checkOpen();
    const physical = physicalTopicName(topic, this.config.namespace);
    const meta = await this.readMeta(physical, topic);
    const out: PartitionOffsets[] = [];
    for (let partition = 0; partition < meta.partitions; partition++) {
      const segments = await listSegments(this.partitionDir(physical, partition)).catch((error) => {
        throw mapMissing(error, topic, this.config.dataDir);
      });
      const first = segments[0];
      const last = segments[segments.length - 1];
      if (!first || !last) throw corrupt(this.partitionDir(physical, partition), "no segment files");
      out.push({ partition, low: first.base, high: await endOffset(last) });
    }
    return out;
  }

  /** Stops accepting calls and waits for queued appends to be written. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.flushes]);
  }

  // ---------------------------------------------------------------- topic lifecycle

  private async createTopic(settings: TopicSettings, logical: string): Promise<void> {
    const staging = join(this.tmpDir, `create-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(staging);
      for (let p = 0; p < settings.partitions; p++) await createPartition(join(staging, String(p)), 0);
      await writeJson(join(staging, META_FILE), metaFor(settings));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      throw ioError(`cannot create topic ${logical} in ${this.config.dataDir}`, error);
    }
    try {
      // One rename publishes the whole topic; it fails when a topic directory (never empty) is there.
      await rename(staging, this.topicDir(settings.physicalName));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        throw new EngineError("STREAM_TOPIC_EXISTS", `cannot create topic ${logical}: it already exists in the embedded stream engine at ${this.config.dataDir}`, {
          cause: error,
          hint: "the topics on disk have drifted from the migrations: compare them with `moose ls`, or drop the topic first",
        });
      }
      throw ioError(`cannot create topic ${logical} in ${this.config.dataDir}`, error);
    }
  }

  private async deleteTopic(physical: string, logical: string): Promise<void> {
    const trash = join(this.tmpDir, `deleted-${physical}-${randomBytes(6).toString("hex")}`);
    try {
      await rename(this.topicDir(physical), trash);
    } catch (error) {
      throw mapMissing(error, logical, this.config.dataDir);
    }
    await rm(trash, { recursive: true, force: true }).catch((error) => {
      throw ioError(`topic ${logical} is deleted, but its files in ${trash} could not be removed`, error);
    });
  }

  private async updateTopic(update: TopicUpdate, logical: string): Promise<void> {
    const physical = update.physicalName;
    await withFileLock(
      join(this.topicDir(physical), "topic.lock"),
      async () => {
        const meta = await this.readMeta(physical, logical);
        let next: TopicMeta = meta;
        if (update.partitions) {
          const wanted = update.partitions.to;
          if (meta.partitions >= wanted) {
            throw new EngineError(
              "STREAM_INVALID_PARTITIONS",
              `cannot grow topic ${logical} to ${wanted} partitions: it already has ${meta.partitions} in the embedded stream engine at ${this.config.dataDir} (the change expected ${update.partitions.from})`,
              { hint: "the topic has drifted from the migrations; compare with `moose ls`" },
            );
          }
          // Partition directories first, settings last: a producer never sees a partition without its log.
          for (let p = meta.partitions; p < wanted; p++) {
            await createPartition(this.partitionDir(physical, p), 0).catch((error) => {
              throw ioError(`cannot add partition ${p} to topic ${logical}`, error);
            });
          }
          next = { ...next, partitions: wanted };
        }
        if (update.config) next = { ...next, retentionMs: update.config.retentionMs, config: { ...update.config.config } };
        await writeJson(join(this.topicDir(physical), META_FILE), next).catch((error) => {
          throw ioError(`cannot update topic ${logical}`, error);
        });
      },
      this.lockOptions(),
    ).catch((error) => {
      throw mapMissing(error, logical, this.config.dataDir);
    });
  }

  // ---------------------------------------------------------------- appends

  /**
   * Queues an append; one flush per partition at a time writes everything queued so far
   * under a single hold of the partition lock (group commit), so a busy producer takes
   * the lock once per batch of calls rather than once per call.
   */
  private append(meta: TopicMeta, topic: string, partition: number, values: readonly string[], keyJson: string): Promise<void> {
    const dir = this.partitionDir(meta.name, partition);
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(dir);
      if (!queue) this.queues.set(dir, (queue = { pending: [], flushing: false }));
      queue.pending.push({ values, keyJson, retentionMs: meta.retentionMs, resolve, reject });
      if (!queue.flushing) {
        const flush = this.flush(dir, topic, queue);
        this.flushes.add(flush);
        void flush.finally(() => this.flushes.delete(flush));
      }
    });
  }

  private async flush(dir: string, topic: string, queue: AppendQueue): Promise<void> {
    queue.flushing = true;
    try {
      while (queue.pending.length > 0) {
        const group = queue.pending.splice(0);
        try {
          await withFileLock(join(dir, "append.lock"), () => this.write(dir, group), this.lockOptions());
          for (const append of group) append.resolve();
        } catch (error) {
          const mapped = mapMissing(error, topic, this.config.dataDir);
          for (const append of group) append.reject(mapped);
        }
      }
    } finally {
      queue.flushing = false;
      if (this.queues.get(dir) === queue) this.queues.delete(dir);
    }
  }

  /** Writes a group of appends at the end of the log; the caller holds the partition lock. */
  private async write(dir: string, group: readonly PendingAppend[]): Promise<void> {
    let tail = await this.tail(dir);
    const segmentBytes = this.options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (tail.size >= segmentBytes) {
      const segment = segmentPath(dir, tail.next);
      await writeFile(segment, "", { flag: "a" });
      tail = { segment, size: 0, next: tail.next };
    }
    const timestamp = Date.now();
    let offset = tail.next;
    let text = "";
    for (const append of group) {
      for (const value of append.values) text += `{"offset":${offset++},"timestamp":${timestamp}${append.keyJson},"value":${value}}\n`;
    }
    const bytes = Buffer.from(text, "utf8");
    const handle = await open(tail.segment, "a");
    try {
      // O_APPEND; a short write (only ever for huge groups) just continues: we hold the lock.
      for (let written = 0; written < bytes.length; ) {
        written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
      }
    } finally {
      await handle.close();
    }
    await this.enforceRetention(dir, group[group.length - 1]!.retentionMs);
  }

  /**
   * The end of a partition's log, read under its append lock from the last line of the
   * active segment (no cached state: another process may have appended since). Repairs
   * a torn last line.
   */
  private async tail(dir: string): Promise<Tail> {
    const segments = await listSegments(dir);
    const active = segments[segments.length - 1];
    if (!active) throw corrupt(dir, "no segment files");
    const size = (await stat(active.path)).size;
    const end = await scanEnd(active.path, size);
    if (end.complete < size) {
      // A writer died mid-write: nobody else can be writing (we hold the lock), so cut the partial line.
      await truncate(active.path, end.complete);
    }
    return { segment: active.path, size: end.complete, next: end.lastOffset === undefined ? active.base : end.lastOffset + 1 };
  }

  private async enforceRetention(dir: string, retentionMs: number): Promise<void> {
    if (retentionMs < 0) return;
    const now = Date.now();
    const interval = this.options.retentionCheckIntervalMs ?? 1000;
    if (now - (this.retentionCheckedAt.get(dir) ?? -Infinity) < interval) return;
    this.retentionCheckedAt.set(dir, now);
    const segments = await listSegments(dir);
    // Never the active (last) segment; oldest first, stop at the first one still inside retention.
    for (const segment of segments.slice(0, -1)) {
      const info = await stat(segment.path);
      if (now - info.mtimeMs <= retentionMs) break;
      await unlink(segment.path);
    }
  }

  // ---------------------------------------------------------------- reads

  private async readSegments(dir: string, topic: string, partition: number, offset: number, max: number): Promise<ReadResult> {
    const segments = await listSegments(dir);
    const first = segments[0];
    const last = segments[segments.length - 1];
    if (!first || !last) throw corrupt(dir, "no segment files");
    const logStartOffset = first.base;
    const highWatermark = await endOffset(last);
    if (offset > highWatermark) {
      throw new EngineError(
        "STREAM_OFFSET_OUT_OF_RANGE",
        `offset ${offset} is past the end of topic ${topic} partition ${partition} (next offset ${highWatermark})`,
        { hint: "the topic was probably dropped and created again; restart the reader from offset 0" },
      );
    }
    const from = Math.max(offset, logStartOffset);
    const records: StreamRecord[] = [];
    let startIndex = 0;
    segments.forEach((s, i) => {
      if (s.base <= from) startIndex = i;
    });
    for (const segment of segments.slice(startIndex)) {
      if (records.length >= max) break;
      const text = await readFile(segment.path, "utf8");
      let lineStart = 0;
      for (let newline = text.indexOf("\n"); newline >= 0 && records.length < max; newline = text.indexOf("\n", lineStart)) {
        const line = text.slice(lineStart, newline);
        lineStart = newline + 1;
        const lineOffset = Number(OFFSET_PREFIX.exec(line)?.[1] ?? NaN);
        if (Number.isNaN(lineOffset)) throw corrupt(segment.path, `unreadable line ${JSON.stringify(line.slice(0, 80))}`);
        if (lineOffset < from || lineOffset >= highWatermark) continue;
        const entry = JSON.parse(line) as { offset: number; timestamp: number; key?: string; value: unknown };
        records.push({
          partition,
          offset: entry.offset,
          timestamp: entry.timestamp,
          ...(entry.key === undefined ? {} : { key: entry.key }),
          value: entry.value,
        });
      }
    }
    const lastRecord = records[records.length - 1];
    return { records, nextOffset: lastRecord ? lastRecord.offset + 1 : from, highWatermark, logStartOffset };
  }

  // ---------------------------------------------------------------- helpers

  private topicDir(physical: string): string {
    return join(this.topicsDir, physical);
  }

  private partitionDir(physical: string, partition: number): string {
    return join(this.topicsDir, physical, String(partition));
  }

  private async readMeta(physical: string, logical: string): Promise<TopicMeta> {
    const file = join(this.topicDir(physical), META_FILE);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw mapMissing(error, logical, this.config.dataDir);
    }
    try {
      const meta = JSON.parse(text) as TopicMeta;
      if (meta.format !== META_FORMAT || !Number.isInteger(meta.partitions)) throw new Error(`unknown format ${JSON.stringify(meta.format)}`);
      return meta;
    } catch (error) {
      throw corrupt(file, (error as Error).message);
    }
  }

  private lockOptions() {
    return this.options.lockTimeoutMs === undefined ? {} : { timeoutMs: this.options.lockTimeoutMs };
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineError("STREAM_CLOSED", `the embedded stream engine on ${this.config.dataDir} is closed`);
  }
}

function metaFor(settings: TopicSettings): TopicMeta {
  return {
    format: META_FORMAT,
    name: settings.physicalName,
    partitions: settings.partitions,
    replicationFactor: settings.replicationFactor,
    retentionMs: settings.retentionMs,
    config: Object.fromEntries(Object.entries(settings.config).filter(([k]) => k !== RETENTION_CONFIG)),
    createdAt: new Date().toISOString(),
  };
}

/** Idempotent, so a retry after a crash between the two steps completes the partition. */
async function createPartition(dir: string, base: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(segmentPath(dir, base), "", { flag: "a" });
}

function segmentPath(dir: string, base: number): string {
  return join(dir, `${String(base).padStart(20, "0")}.log`);
}

async function listSegments(dir: string): Promise<Segment[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => /^\d{20}\.log$/.test(n))
    .map((n) => ({ base: Number(n.slice(0, 20)), path: join(dir, n) }))
    .sort((a, b) => a.base - b.base);
}

/** The offset after the last complete line of a segment. */
async function endOffset(segment: Segment): Promise<number> {
  const size = (await stat(segment.path)).size;
  const { lastOffset } = await scanEnd(segment.path, size);
  return lastOffset === undefined ? segment.base : lastOffset + 1;
}

/**
 * Finds the last complete line of a file by reading backwards from `size`:
 * `complete` is the length up to and including its newline.
 */
async function scanEnd(path: string, size: number): Promise<{ complete: number; lastOffset?: number }> {
  if (size === 0) return { complete: 0 };
  const handle = await open(path, "r");
  try {
    let chunk = 4096;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      const lastNewline = buffer.lastIndexOf(0x0a);
      if (lastNewline < 0) {
        if (start === 0) return { complete: 0 };
        chunk *= 4;
        continue;
      }
      // (lastIndexOf with a negative start would count from the end.)
      const previousNewline = lastNewline === 0 ? -1 : buffer.lastIndexOf(0x0a, lastNewline - 1);
      if (previousNewline < 0 && start > 0) {
        chunk *= 4;
        continue;
      }
      const line = buffer.subarray(previousNewline + 1, lastNewline).toString("utf8");
      const match = OFFSET_PREFIX.exec(line);
      if (!match) throw corrupt(path, `unreadable line ${JSON.stringify(line.slice(0, 80))}`);
      return { complete: start + lastNewline + 1, lastOffset: Number(match[1]) };
    }
  } finally {
    await handle.close();
  }
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

function checkPartition(topic: string, partition: number, partitions: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new EngineError("STREAM_UNKNOWN_PARTITION", `topic ${topic} has no partition ${partition}: it has ${partitions} (0 to ${partitions - 1})`);
  }
}

/** ENOENT under a topic's directory means the topic is not there (or was deleted meanwhile). */
function mapMissing(error: unknown, topic: string, dataDir: string): Error {
  // A MooseError's `code` is ours; the errno is on its cause (a lock file that could not be created).
  const errno = error instanceof MooseError ? (error.cause as NodeJS.ErrnoException | undefined)?.code : (error as NodeJS.ErrnoException).code;
  if (errno === "ENOENT") {
    return new EngineError("STREAM_UNKNOWN_TOPIC", `topic ${topic} does not exist in the embedded stream engine at ${dataDir}`, {
      cause: error,
      hint: "create it by applying the migration that declares it (`moose migrate`), or check the name",
    });
  }
  if (error instanceof MooseError) return error;
  return ioError(`topic ${topic}`, error);
}

function ioError(what: string, error: unknown): EngineError {
  if (error instanceof EngineError) return error;
  return new EngineError("STREAM_IO_FAILED", `${what}: ${(error as Error).message}`, { cause: error });
}

function corrupt(path: string, what: string): EngineError {
  return new EngineError("STREAM_LOG_CORRUPT", `${path}: ${what}`, {
    hint: "the embedded stream files were changed by something other than moose; delete the topic's directory to start it afresh",
  });
}
