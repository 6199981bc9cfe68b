import type { Change } from "../../diff/change.js";
import type { TopicDescription } from "./topic-spec.js";

export type { TopicDescription, TopicSettings, TopicUpdate } from "./topic-spec.js";

/** One record read back from a topic partition. */
export interface StreamRecord {
  readonly partition: number;
  readonly offset: number;
  /** Milliseconds since the epoch, as the producer stamped it. */
  readonly timestamp: number;
  readonly key?: string;
  /** The JSON value as produced. */
  readonly value: unknown;
}

/** A slice of one partition, from {@link StreamEngine.readFrom}. */
export interface ReadResult {
  /** Records at offsets `>= max(from, logStartOffset)`, in offset order, at most `max`. */
  readonly records: readonly StreamRecord[];
  /** Where the next read should start: one past the last record returned. */
  readonly nextOffset: number;
  /** The offset the next produced record will get (Kafka's high watermark). */
  readonly highWatermark: number;
  /**
   * The oldest offset still stored. When it is above the offset asked for, retention
   * removed the records in between and the read starts here instead.
   */
  readonly logStartOffset: number;
}

/** Where one partition's log starts and ends. */
export interface PartitionOffsets {
  readonly partition: number;
  /** Oldest offset still stored. */
  readonly low: number;
  /** Offset of the next record to be produced. */
  readonly high: number;
}

export interface ProduceOptions {
  /** Send every record to this partition. */
  readonly partition?: number;
  /** Record key; records with the same key go to the same partition. */
  readonly key?: string;
}

/**
 * Topics and their records: Kafka/Redpanda through kafkajs (`kafka`), or a durable
 * log on local disk (`embedded`), the default when no broker is configured.
 *
 * Topic names are logical: the engine adds the `[redpanda_config] namespace` prefix to
 * physical names and strips it from what it lists. Failures are `EngineError`s with
 * `STREAM_*` codes (`STREAM_TOPIC_EXISTS`, `STREAM_UNKNOWN_TOPIC`, `STREAM_UNREACHABLE`, ...);
 * changes Kafka cannot make are `RefusedError`s (`TOPIC_PARTITIONS_DECREASE`,
 * `TOPIC_REPLICATION_FACTOR_CHANGE`), raised before anything is sent.
 *
 * @example
 * const streams = await openStreamEngine(config.streaming);
 * try {
 *   await streams.apply({ kind: "topic.create", topic });
 *   await streams.produce("UserEvents", [{ id: 1 }]);
 *   const { records, nextOffset } = await streams.readFrom("UserEvents", 0, 0, 100);
 * } finally {
 *   await streams.close();
 * }
 */
export interface StreamEngine {
  readonly kind: "embedded" | "kafka";
  /**
   * Applies one `topic.create`, `topic.drop` or `topic.modify`. Any other change kind
   * throws: tables, APIs and workflows belong to other engines.
   */
  apply(change: Change): Promise<void>;
  /**
   * Every topic in the namespace, keyed by logical name, with the settings in effect
   * (`retentionMs` is the effective `retention.ms`; `config` holds the other
   * topic-level overrides). Internal topics (`__consumer_offsets`, `_schemas`) are left out.
   */
  introspect(): Promise<Record<string, TopicDescription>>;
  /**
   * Appends JSON values to a topic. Without a partition or key, records are spread
   * round-robin over the partitions. Resolves once the records are stored
   * (Kafka: acknowledged by all in-sync replicas).
   */
  produce(topic: string, records: readonly unknown[], options?: ProduceOptions): Promise<void>;
  /**
   * Reads up to `max` records of one partition starting at `offset`: the building
   * block of a topic → table sync loop, which keeps `nextOffset` per partition.
   * Reading at the high watermark returns no records; past it is `STREAM_OFFSET_OUT_OF_RANGE`.
   */
  readFrom(topic: string, partition: number, offset: number, max: number): Promise<ReadResult>;
  /** Start and end offsets of every partition of a topic (for lag and status). */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  close(): Promise<void>;
}
