import kafkajs from "kafkajs";
import type { Admin, KafkaConfig, LogEntry, Producer, SASLOptions } from "kafkajs";
import type { KafkaStreamingConfig } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { EngineError, MooseError } from "../../errors.js";
import { type PartitionOffsets, type ProduceOptions, type ReadResult, type StreamEngine, type StreamRecord } from "./engine.js";
import { checkReadArguments, decodeRecordValue, encodeRecordValue } from "./record-codec.js";
import { logicalTopicName, physicalTopicName, RETENTION_CONFIG, type TopicDescription, type TopicSettings, type TopicUpdate } from "./topic-spec.js";
import { applyTopicChange, topicDefaults, type TopicOperations } from "./topic-changes.js";

const { Kafka, ConfigResourceTypes, Partitioners, logLevel } = kafkajs;

/** Tuning that is not in `moose.config.toml`; tests use it to fail fast. */
export interface KafkaStreamOptions {
  /** Client id the brokers see (default `moose-migrate`). */
  readonly clientId?: string;
  /** TCP connect (and ApiVersions) timeout; default `message_timeout_ms`, between 1 s and 10 s. */
  readonly connectionTimeoutMs?: number;
  /**
   * Per-request timeout; default twice `message_timeout_ms`, at least 10 s (topic creation
   * waits for leaders). It also bounds the handshake, so a listener that accepts connections
   * but never answers is detected after this long.
   */
  readonly requestTimeoutMs?: number;
  /** Retries after the first attempt (default 2), so an unreachable broker fails within seconds. */
  readonly retries?: number;
  /** Receives kafkajs's warnings and errors; without it they are dropped (the library never prints). */
  readonly log?: (entry: { readonly level: "error" | "warn"; readonly namespace: string; readonly message: string }) => void;
}

/**
 * The kafkajs client configuration for a `[redpanda_config]`: brokers, TLS for `SSL` and
 * `SASL_SSL`, SASL credentials for `SASL_*`, timeouts derived from `message_timeout_ms`,
 * and few, short retries.
 *
 * @example kafkaClientConfig({ engine: "kafka", brokers: ["localhost:19092"], securityProtocol: "PLAINTEXT", messageTimeoutMs: 1000, retentionMs: 30000, replicationFactor: 1 })
 */
export function kafkaClientConfig(config: KafkaStreamingConfig, options: KafkaStreamOptions = {}): KafkaConfig {
  const protocol = config.securityProtocol;
  const ssl = protocol === "SSL" || protocol === "SASL_SSL";
  const sasl: SASLOptions | undefined =
    config.sasl && protocol.startsWith("SASL_")
      ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password } as SASLOptions)
      : undefined;
  const log = options.log;
  return {
    clientId: options.clientId ?? "moose-migrate",
    brokers: [...config.brokers],
    ssl,
    ...(sasl ? { sasl } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? Math.min(Math.max(config.messageTimeoutMs, 1000), 10_000),
    requestTimeout: options.requestTimeoutMs ?? Math.max(2 * config.messageTimeoutMs, 10_000),
    retry: { retries: options.retries ?? 2, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!log) return;
      log({ level: entry.level === logLevel.ERROR ? "error" : "warn", namespace: entry.namespace, message: entry.log.message });
    },
  };
}

/**
 * Opens a Kafka/Redpanda stream engine and connects its admin client, so an
 * unreachable or misconfigured cluster fails here (`STREAM_UNREACHABLE`). Usually
 * reached through `openStreamEngine`.
 *
 * @example
 * const streams = await openKafkaStreamEngine(config.streaming, { log: (e) => events.emit("kafka", e) });
 */
export async function openKafkaStreamEngine(config: KafkaStreamingConfig, options: KafkaStreamOptions = {}): Promise<StreamEngine> {
  const clientConfig = kafkaClientConfig(config, options);
  const kafka = new Kafka(clientConfig);
  const admin = kafka.admin();
  const engine = new KafkaStreamEngine(config, kafka, admin, clientConfig.requestTimeout ?? 10_000);
  try {
    await admin.connect();
    // kafkajs reports a broker that accepts TCP but never answers as connected; one real request tells.
    await admin.describeCluster();
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    throw engine.failure(error, "connect to");
  }
  return engine;
}

/** The part of kafkajs's internal Cluster the reader uses (see {@link readerCluster}). */
interface KafkaCluster {
  /** Every topic this cluster refreshes metadata for: all it was ever asked about. */
  targetTopics: Set<string>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(args: { nodeId: number }): Promise<KafkaBroker>;
  fetchTopicsOffset(topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>): Promise<
    Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>
  >;
}

interface KafkaBroker {
  fetch(args: {
    replicaId?: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{
    responses: Array<{
      topicName: string;
      partitions: Array<{
        partition: number;
        highWatermark: string;
        /** The log start offset (kafkajs's spelling). */
        lastStartOffset: string;
        messages: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; isControlRecord?: boolean }>;
      }>;
    }>;
  }>;
}

const READ_COMMITTED = 1;
const PARTITION_FETCH_BYTES = 1024 * 1024;
// Kafka's own topics and Redpanda's schema registry: never Moose's, never listed.
const INTERNAL_TOPIC = /^(__.*|_schemas)$/;

class KafkaStreamEngine implements StreamEngine {
  readonly kind = "kafka" as const;
  private producer: Promise<Producer> | undefined;
  private reader: Promise<KafkaCluster> | undefined;
  private closed = false;
  private readonly brokers: string;

  constructor(
    private readonly config: KafkaStreamingConfig,
    private readonly kafka: InstanceType<typeof Kafka>,
    private readonly admin: Admin,
    private readonly timeoutMs: number,
  ) {
    this.brokers = config.brokers.join(",");
  }

  async apply(change: Change): Promise<void> {
    this.checkOpen();
    const ops: TopicOperations = {
      createTopic: (settings, logical) => this.createTopic(settings, logical),
      deleteTopic: (physical, logical) => this.deleteTopic(physical, logical),
      updateTopic: (update, logical) => this.updateTopic(update, logical),
    };
    await applyTopicChange(change, ops, topicDefaults(this.config), "kafka");
  }

  async introspect(): Promise<Record<string, TopicDescription>> {
    this.checkOpen();
    try {
      const { topics } = await this.admin.fetchTopicMetadata();
      const ours = topics
        .filter((t) => !INTERNAL_TOPIC.test(t.name))
        .map((t) => ({ ...t, logical: logicalTopicName(t.name, this.config.namespace) }))
        .filter((t): t is typeof t & { logical: string } => t.logical !== undefined)
        .sort((a, b) => a.name.localeCompare(b.name));
      if (ours.length === 0) return {};
      const { resources } = await this.admin.describeConfigs({
        resources: ours.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name })),
        includeSynonyms: false,
      });
      const configsByName = new Map(resources.map((r) => [r.resourceName, r.configEntries]));
      const out: Record<string, TopicDescription> = {};
      for (const topic of ours) {
        const entries = configsByName.get(topic.name) ?? [];
        const retention = entries.find((e) => e.configName === RETENTION_CONFIG)?.configValue;
        const config: Record<string, string> = {};
        for (const entry of entries) {
          // Only what was set on the topic; broker defaults are not the code's business.
          if (entry.configSource === TOPIC_CONFIG_SOURCE && entry.configName !== RETENTION_CONFIG && entry.configValue !== null) {
            config[entry.configName] = entry.configValue;
          }
        }
        const first = topic.partitions.find((p) => p.partitionId === 0) ?? topic.partitions[0];
        out[topic.logical] = {
          name: topic.logical,
          partitions: topic.partitions.length,
          ...(retention === undefined || retention === null ? {} : { retentionMs: Number(retention) }),
          ...(first ? { replicationFactor: first.replicas.length } : {}),
          config,
        };
      }
      return out;
    } catch (error) {
      throw this.failure(error, "list the topics of");
    }
  }

  async produce(topic: string, records: readonly unknown[], options: ProduceOptions = {}): Promise<void> {
    this.checkOpen();
    const physical = physicalTopicName(topic, this.config.namespace);
    const values = records.map((value, index) => encodeRecordValue(value, index, topic));
    if (values.length === 0) return;
    const wanted = options.partition;
    if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 0)) {
      throw new EngineError("STREAM_UNKNOWN_PARTITION", `topic ${topic} has no partition ${wanted}: partitions are numbered from 0`);
    }
    /** Sends once; false when kafkajs dropped the records (see below). */
    const send = async () => {
      const results = await (await this.connectedProducer()).send({
        topic: physical,
        acks: -1,
        timeout: this.config.messageTimeoutMs,
        messages: values.map((value) => ({
          value,
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(wanted === undefined ? {} : { partition: wanted }),
        })),
      });
      return wanted === undefined || results.some((r) => r.partition === wanted);
    };
    try {
      let delivered: boolean;
      try {
        delivered = await send();
      } catch (error) {
        if (rootCause(error).type !== UNKNOWN_TOPIC) throw error;
        // A kafkajs producer refreshes metadata for every topic it ever sent to, and fails
        // them all once one of them is deleted: start a fresh producer and try once more.
        await this.resetProducer();
        delivered = await send();
      }
      if (!delivered) {
        // kafkajs silently drops records for a partition its (possibly stale) metadata lacks:
        // retry with fresh metadata, then say so.
        await this.resetProducer();
        if (!(await send())) {
          throw new EngineError("STREAM_UNKNOWN_PARTITION", `topic ${topic} has no partition ${wanted} on Kafka at ${this.brokers}; nothing was produced`);
        }
      }
    } catch (error) {
      throw this.failure(error, "produce to", topic);
    }
  }

  async readFrom(topic: string, partition: number, offset: number, max: number): Promise<ReadResult> {
    this.checkOpen();
    checkReadArguments(offset, max);
    const physical = physicalTopicName(topic, this.config.namespace);
    try {
      return await this.withReader(physical, (cluster) => this.fetchFrom(cluster, physical, topic, partition, offset, max));
    } catch (error) {
      throw this.failure(error, "read from", topic);
    }
  }

  private async fetchFrom(cluster: KafkaCluster, physical: string, topic: string, partition: number, offset: number, max: number): Promise<ReadResult> {
    const leaderOf = () => cluster.findTopicPartitionMetadata(physical).find((p) => p.partitionId === partition)?.leader;
    let leader = leaderOf();
    if (leader === undefined) {
      // Cached metadata may predate added partitions.
      await cluster.refreshMetadata();
      leader = leaderOf();
    }
    if (leader === undefined) {
      const count = cluster.findTopicPartitionMetadata(physical).length;
      throw new EngineError("STREAM_UNKNOWN_PARTITION", `topic ${topic} has no partition ${partition} on Kafka at ${this.brokers}: it has ${count}`);
    }
    const broker = await cluster.findBroker({ nodeId: leader });
    const fetch = (from: number) =>
      broker.fetch({
        replicaId: -1,
        isolationLevel: READ_COMMITTED,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: PARTITION_FETCH_BYTES,
        topics: [{ topic: physical, partitions: [{ partition, fetchOffset: String(from), maxBytes: PARTITION_FETCH_BYTES }] }],
      });
    let from = offset;
    let response;
    try {
      response = await fetch(from);
    } catch (error) {
      if ((error as { name?: string }).name !== "KafkaJSOffsetOutOfRange") throw error;
      const [low, high] = await this.partitionBounds(cluster, physical, partition);
      if (offset > high) {
        throw new EngineError("STREAM_OFFSET_OUT_OF_RANGE", `offset ${offset} is past the end of topic ${topic} partition ${partition} (next offset ${high}) on Kafka at ${this.brokers}`, {
          hint: "the topic was probably dropped and created again; restart the reader from offset 0",
        });
      }
      // Retention removed the records asked for: continue from the oldest one left.
      from = low;
      response = await fetch(from);
    }
    const data = response.responses.find((r) => r.topicName === physical)?.partitions.find((p) => p.partition === partition);
    if (!data) throw new EngineError("STREAM_BROKER_ERROR", `Kafka at ${this.brokers} returned no data for topic ${topic} partition ${partition}`);
    const logStartOffset = Number(data.lastStartOffset);
    from = Math.max(from, logStartOffset >= 0 ? logStartOffset : 0);
    const records: StreamRecord[] = [];
    let nextOffset = from;
    // A fetch returns whole batches: skip what precedes `from`, and transaction markers.
    for (const message of data.messages) {
      const messageOffset = Number(message.offset);
      if (messageOffset < from) continue;
      if (records.length >= max) break;
      if (!message.isControlRecord) {
        let value: unknown;
        try {
          value = decodeRecordValue(message.value, topic, partition, messageOffset);
        } catch (error) {
          // Hand out what precedes a record that is not JSON; the next read starts at it and reports it.
          if (records.length > 0) break;
          throw error;
        }
        records.push({
          partition,
          offset: messageOffset,
          timestamp: Number(message.timestamp),
          ...(message.key === null ? {} : { key: message.key.toString("utf8") }),
          value,
        });
      }
      nextOffset = messageOffset + 1;
    }
    return { records, nextOffset, highWatermark: Number(data.highWatermark), logStartOffset };
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    this.checkOpen();
    const physical = physicalTopicName(topic, this.config.namespace);
    try {
      // Through the reader, not admin.fetchTopicOffsets: that would make the admin client
      // track the topic's metadata forever (see withReader).
      return await this.withReader(physical, async (cluster) => {
        const partitions = cluster.findTopicPartitionMetadata(physical).map((p) => p.partitionId).sort((a, b) => a - b);
        const read = async (fromBeginning: boolean) => {
          const [result] = await cluster.fetchTopicsOffset([{ topic: physical, fromBeginning, partitions: partitions.map((partition) => ({ partition })) }]);
          return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        };
        const [low, high] = [await read(true), await read(false)];
        return partitions.map((partition) => ({ partition, low: low.get(partition) ?? 0, high: high.get(partition) ?? 0 }));
      });
    } catch (error) {
      throw this.failure(error, "read the offsets of", topic);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const producer = this.producer;
    const reader = this.reader;
    await Promise.allSettled([
      this.admin.disconnect(),
      producer?.then((p) => p.disconnect()),
      reader?.then((c) => c.disconnect()),
    ]);
  }

  // ---------------------------------------------------------------- topic lifecycle

  private async createTopic(settings: TopicSettings, logical: string): Promise<void> {
    let created: boolean;
    try {
      created = await this.admin.createTopics({
        topics: [
          {
            topic: settings.physicalName,
            numPartitions: settings.partitions,
            replicationFactor: settings.replicationFactor,
            configEntries: configEntries(settings.retentionMs, settings.config),
          },
        ],
        waitForLeaders: true,
        timeout: this.timeoutMs,
      });
    } catch (error) {
      throw this.failure(error, "create topic", logical);
    }
    // kafkajs reports TOPIC_ALREADY_EXISTS as `false`, not as an error.
    if (!created) throw this.topicExists(logical);
  }

  private async deleteTopic(physical: string, logical: string): Promise<void> {
    try {
      await this.admin.deleteTopics({ topics: [physical], timeout: this.timeoutMs });
    } catch (error) {
      throw this.failure(error, "delete topic", logical);
    }
  }

  private async updateTopic(update: TopicUpdate, logical: string): Promise<void> {
    const physical = update.physicalName;
    if (update.partitions) {
      try {
        await this.admin.createPartitions({ topicPartitions: [{ topic: physical, count: update.partitions.to }], timeout: this.timeoutMs });
      } catch (error) {
        throw this.failure(error, `grow to ${update.partitions.to} partitions topic`, logical);
      }
      // The producer's cached metadata would keep round-robin on the old partitions for minutes.
      await this.resetProducer();
    }
    if (update.config) {
      try {
        // AlterConfigs replaces the topic's whole override set: send all of it, so what the
        // code no longer sets returns to the broker default.
        await this.admin.alterConfigs({
          resources: [{ type: ConfigResourceTypes.TOPIC, name: physical, configEntries: configEntries(update.config.retentionMs, update.config.config) }],
          validateOnly: false,
        });
      } catch (error) {
        const grown = update.partitions ? ` (its partitions were already grown to ${update.partitions.to})` : "";
        throw this.failure(error, `change the config${grown} of topic`, logical);
      }
    }
  }

  // ---------------------------------------------------------------- clients

  private connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })();
    const pending = this.producer;
    pending.catch(() => {
      if (this.producer === pending) this.producer = undefined;
    });
    return pending;
  }

  private async resetProducer(): Promise<void> {
    const previous = this.producer;
    this.producer = undefined;
    await previous?.then((p) => p.disconnect()).catch(() => undefined);
  }

  /**
   * Runs `fn` on the reader with metadata for `physical`, retrying once on fresh metadata
   * when it was stale:
   * - kafkajs refreshes metadata for every topic a cluster was ever asked about and fails
   *   all of them once one is deleted (by us or anyone); on UNKNOWN_TOPIC_OR_PARTITION the
   *   reader forgets the others, so only a missing `physical` itself is an error;
   * - a partition's leader moved to another broker (NOT_LEADER_FOR_PARTITION).
   */
  private async withReader<T>(physical: string, fn: (cluster: KafkaCluster) => Promise<T>): Promise<T> {
    const cluster = await this.connectedReader();
    try {
      await cluster.addTargetTopic(physical);
      return await fn(cluster);
    } catch (error) {
      const type = rootCause(error).type;
      if (type === UNKNOWN_TOPIC) cluster.targetTopics = new Set([physical]);
      else if (type !== "NOT_LEADER_FOR_PARTITION" && type !== "LEADER_NOT_AVAILABLE") throw error;
      await cluster.refreshMetadata();
      return await fn(cluster);
    }
  }

  private connectedReader(): Promise<KafkaCluster> {
    this.reader ??= (async () => {
      const cluster = readerCluster(this.kafka);
      await cluster.connect();
      return cluster;
    })();
    const pending = this.reader;
    pending.catch(() => {
      if (this.reader === pending) this.reader = undefined;
    });
    return pending;
  }

  private async partitionBounds(cluster: KafkaCluster, physical: string, partition: number): Promise<[number, number]> {
    const read = async (fromBeginning: boolean) => {
      const [result] = await cluster.fetchTopicsOffset([{ topic: physical, fromBeginning, partitions: [{ partition }] }]);
      return Number(result?.partitions.find((p) => p.partition === partition)?.offset ?? 0);
    };
    return [await read(true), await read(false)];
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineError("STREAM_CLOSED", `the Kafka stream engine for ${this.brokers} is closed`);
  }

  private topicExists(logical: string): EngineError {
    return new EngineError("STREAM_TOPIC_EXISTS", `cannot create topic ${logical} on Kafka at ${this.brokers}: it already exists`, {
      hint: "the cluster's topics have drifted from the migrations: compare them with `moose ls`, or drop the topic first",
    });
  }

  /** Maps a kafkajs error to an `EngineError` that names the action, the topic and the brokers. */
  failure(error: unknown, action: string, topic?: string): MooseError {
    if (error instanceof MooseError) return error;
    const cause = rootCause(error);
    const where = `on Kafka at ${this.brokers}`;
    const subject = topic === undefined ? `${action} Kafka at ${this.brokers}` : `${action} ${topic} ${where}`;
    const options = { cause: error };
    switch (cause.type) {
      case "TOPIC_ALREADY_EXISTS":
        return this.topicExists(topic ?? "?");
      case "UNKNOWN_TOPIC_OR_PARTITION":
        return new EngineError("STREAM_UNKNOWN_TOPIC", `cannot ${subject}: the topic (or the partition) does not exist`, {
          ...options,
          hint: "create it by applying the migration that declares it (`moose migrate`), or check the name and [redpanda_config] namespace",
        });
      case "INVALID_PARTITIONS":
        return new EngineError("STREAM_INVALID_PARTITIONS", `cannot ${subject}: the broker refused the partition count (${cause.message})`, {
          ...options,
          hint: "the topic's partitions have drifted from the migrations (someone changed them by hand?); compare with `moose ls`",
        });
      case "INVALID_REPLICATION_FACTOR":
        return new EngineError("STREAM_INVALID_REPLICATION_FACTOR", `cannot ${subject}: the broker refused the replication factor (${cause.message})`, {
          ...options,
          hint: "a replication factor cannot exceed the number of brokers; set [redpanda_config] replication_factor or the topic's replicationFactor accordingly",
        });
      case "INVALID_CONFIG":
        return new EngineError("STREAM_INVALID_CONFIG", `cannot ${subject}: the broker refused a topic config (${cause.message})`, options);
      case "INVALID_TOPIC_EXCEPTION":
        return new EngineError("STREAM_INVALID_TOPIC", `cannot ${subject}: the broker refused the topic name`, options);
      case "TOPIC_AUTHORIZATION_FAILED":
      case "CLUSTER_AUTHORIZATION_FAILED":
        return new EngineError("STREAM_NOT_AUTHORIZED", `cannot ${subject}: not authorized (${cause.message})`, {
          ...options,
          hint: "grant the SASL user ACLs for topic operations, or use other credentials",
        });
      default:
        break;
    }
    if (cause.name === "KafkaJSSASLAuthenticationError") {
      return new EngineError("STREAM_AUTH_FAILED", `cannot ${subject}: SASL authentication failed (${cause.message})`, {
        ...options,
        hint: "check [redpanda_config] sasl_username, sasl_password and sasl_mechanism",
      });
    }
    if (cause.message === "Broker not connected") {
      // kafkajs's words for: the TCP connection opened, but the Kafka handshake (ApiVersions) got no answer.
      return new EngineError("STREAM_UNREACHABLE", `cannot ${subject}: the broker accepted the connection but did not answer the Kafka handshake in time`, {
        ...options,
        hint: "check that the address is a Kafka listener and that [redpanda_config] security_protocol matches it (a TLS listener needs SSL or SASL_SSL)",
      });
    }
    if (isConnectionFailure(cause)) {
      return new EngineError("STREAM_UNREACHABLE", `cannot ${subject}: ${cause.message}`, {
        ...options,
        hint: "check that the broker is running and [redpanda_config] broker points at it (and security_protocol matches its listener); without a broker, remove `broker` to use the embedded stream engine",
      });
    }
    return new EngineError("STREAM_BROKER_ERROR", `cannot ${subject}: ${cause.message}`, options);
  }
}

const TOPIC_CONFIG_SOURCE = 1;
const UNKNOWN_TOPIC = "UNKNOWN_TOPIC_OR_PARTITION";

function configEntries(retentionMs: number, config: Readonly<Record<string, string>>): Array<{ name: string; value: string }> {
  return [
    { name: RETENTION_CONFIG, value: String(retentionMs) },
    ...Object.keys(config)
      .sort()
      .map((name) => ({ name, value: config[name]! })),
  ];
}

interface KafkaJsErrorLike {
  readonly name: string;
  readonly message: string;
  readonly type?: string;
  readonly code?: string;
}

/** Digs through kafkajs's wrappers (retries exceeded, aggregate errors) to the broker's answer. */
function rootCause(error: unknown): KafkaJsErrorLike {
  let current = error as KafkaJsErrorLike & { cause?: unknown; errors?: unknown[] };
  for (let depth = 0; depth < 10; depth++) {
    if (current.name === "KafkaJSNumberOfRetriesExceeded" && current.cause && current.cause !== current) {
      current = current.cause as typeof current;
    } else if (current.name === "KafkaJSAggregateError" && Array.isArray(current.errors) && current.errors[0]) {
      current = current.errors[0] as typeof current;
    } else {
      break;
    }
  }
  return { name: String(current?.name ?? "Error"), message: String(current?.message ?? error), ...(current?.type ? { type: current.type } : {}), ...(current?.code ? { code: current.code } : {}) };
}

function isConnectionFailure(cause: KafkaJsErrorLike): boolean {
  return (
    cause.name === "KafkaJSConnectionError" ||
    cause.name === "KafkaJSConnectionClosedError" ||
    cause.name === "KafkaJSRequestTimeoutError" ||
    cause.name === "KafkaJSNoBrokerAvailableError" ||
    cause.name === "KafkaJSBrokerNotFound" ||
    /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|Connection timeout/i.test(cause.message)
  );
}

/**
 * A kafkajs Cluster for plain partition reads. kafkajs only offers consumer groups
 * publicly, and a topic → table sync keeps its own offsets, so the reader uses the
 * Cluster the Kafka client builds for its producers (same brokers, TLS, SASL, retries)
 * through the client's private factory. Pinned to kafkajs 2.x; guarded so a change
 * there is a clear error rather than a crash.
 */
function readerCluster(kafka: InstanceType<typeof Kafka>): KafkaCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster");
  const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== "function") {
    throw new EngineError("STREAM_CLIENT_UNSUPPORTED", "this kafkajs version has no cluster factory to read partitions with; moose-migrate needs kafkajs 2.x");
  }
  return (factory as (options: object) => KafkaCluster)({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED, metadataMaxAge: 300_000 });
}
