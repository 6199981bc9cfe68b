/**
 * A Kafka broker (or a small cluster of them) over real TCP, for testing the kafka
 * stream adapter where no Kafka can be installed. It is not a mock: it keeps real state
 * (topics, partitions with replica assignments, topic configs, logs of record batches with
 * offsets, log start offsets and high watermarks), validates what it is sent the way a
 * broker does, and answers with Kafka's error codes:
 *
 *   1 OFFSET_OUT_OF_RANGE, 2 CORRUPT_MESSAGE (batch CRC-32C mismatch), 3 UNKNOWN_TOPIC_OR_PARTITION,
 *   6 NOT_LEADER_OR_FOLLOWER, 10 MESSAGE_TOO_LARGE (max.message.bytes), 17 INVALID_TOPIC_EXCEPTION,
 *   35 UNSUPPORTED_VERSION, 36 TOPIC_ALREADY_EXISTS, 37 INVALID_PARTITIONS,
 *   38 INVALID_REPLICATION_FACTOR, 39 INVALID_REPLICA_ASSIGNMENT, 40 INVALID_CONFIG,
 *   41 NOT_CONTROLLER, 42 INVALID_REQUEST.
 *
 * APIs, at the versions kafkajs 2.2.4 negotiates with a current broker (its highest):
 *
 *   ApiVersions 0-2, Metadata 6, CreateTopics 3, DeleteTopics 1, CreatePartitions 1,
 *   DescribeConfigs 2, AlterConfigs 1, Produce 7, Fetch 11, ListOffsets 3.
 *
 * Each broker of the cluster listens on its own 127.0.0.1 port; node 1 is the controller,
 * partition p of a topic with replication factor r is on nodes (p..p+r-1) mod n, led by the
 * first. Admin requests sent to another node get NOT_CONTROLLER and data requests sent to a
 * non-leader NOT_LEADER_OR_FOLLOWER, so the client's routing is exercised too.
 *
 * Not implemented (a client using them gets its connection closed): consumer groups,
 * transactions and idempotence (InitProducerId), SASL, TLS, fetch sessions (every fetch is
 * a full fetch, session 0), compaction, and retention on a clock (tests expire old records
 * explicitly with `expireBefore`).
 *
 * Every request is recorded (`requests`) so tests can assert what a client sent, or did not.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { decodeRecordBatches, WireError, WireReader, WireWriter, type WireBatch } from "./kafka-wire.js";

export const API = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  CreatePartitions: 37,
} as const;
export type ApiName = keyof typeof API;

/** The versions served, per API key: [min, max]. */
export const SUPPORTED_VERSIONS: Readonly<Record<number, readonly [number, number]>> = {
  [API.Produce]: [7, 7],
  [API.Fetch]: [11, 11],
  [API.ListOffsets]: [3, 3],
  [API.Metadata]: [6, 6],
  [API.ApiVersions]: [0, 2],
  [API.CreateTopics]: [3, 3],
  [API.DeleteTopics]: [1, 1],
  [API.DescribeConfigs]: [2, 2],
  [API.AlterConfigs]: [1, 1],
  [API.CreatePartitions]: [1, 1],
};

export const ErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TOPIC_EXCEPTION: 17,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
} as const;

const RESOURCE_TOPIC = 2;
const CONFIG_SOURCE_TOPIC = 1;
const CONFIG_SOURCE_DEFAULT = 5;
const LATEST = -1n;
const EARLIEST = -2n;

export interface RecordedRequest {
  readonly api: ApiName | `unknown(${number})`;
  readonly apiKey: number;
  readonly version: number;
  /** The broker (node id) that received it. */
  readonly nodeId: number;
  readonly clientId: string | null;
  /** The decoded request, as plain data (record batches summarised, never raw bytes). */
  readonly body: unknown;
  /** Set when the server did not serve the request (unknown API or version): it closed the connection. */
  readonly unsupported?: true;
}

export interface KafkaTestServerOptions {
  /** Number of brokers, each on its own port (default 1). */
  readonly brokers?: number;
  /** Topic config defaults to override (e.g. `{ "retention.ms": "86400000" }`). */
  readonly defaults?: Readonly<Record<string, string>>;
  readonly clusterId?: string;
}

export interface StoredRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
}

export interface KafkaTestServer {
  /** `host:port` of every broker, node 1 first. */
  readonly brokers: readonly string[];
  readonly requests: readonly RecordedRequest[];
  /** Requests of one API, in arrival order. */
  requestsOf(api: ApiName): RecordedRequest[];
  /** Snapshot of a topic's state, or undefined when it does not exist. */
  topic(name: string): { partitions: number; replicas: number[][]; configs: Record<string, string> } | undefined;
  /**
   * Makes `nodeId` the leader of a partition (it must hold a replica), as a leader
   * election after a broker restart would. Clients with cached metadata then get
   * NOT_LEADER_OR_FOLLOWER from the old leader.
   */
  electLeader(topic: string, partition: number, nodeId: number): void;
  /**
   * Moves a partition's log start offset to `offset` and drops the batches wholly before
   * it, as time-based retention deleting old segments does.
   */
  expireBefore(topic: string, partition: number, offset: number): void;
  /** The records of one partition, decoded (uncompressed batches only). */
  records(topic: string, partition: number): StoredRecord[];
  /** Closes every listener and connection. */
  close(): Promise<void>;
}

// ------------------------------------------------------------------ topic configs

type ConfigCheck = (value: string) => string | undefined;

const long =
  (min: bigint): ConfigCheck =>
  (v) => {
    if (!/^-?\d+$/.test(v.trim())) return "Not a number of type LONG";
    return BigInt(v.trim()) < min ? `Value must be at least ${min}` : undefined;
  };
const int =
  (min: number): ConfigCheck =>
  (v) => {
    if (!/^-?\d+$/.test(v.trim()) || Math.abs(Number(v)) > 2147483647) return "Not a number of type INT";
    return Number(v) < min ? `Value must be at least ${min}` : undefined;
  };
const oneOf =
  (...values: string[]): ConfigCheck =>
  (v) =>
    values.includes(v) ? undefined : `String must be one of: ${values.join(", ")}`;
const bool: ConfigCheck = (v) => (v === "true" || v === "false" ? undefined : "Expected value to be either true or false");
const ratio: ConfigCheck = (v) => (/^\d*\.?\d+$/.test(v) && Number(v) <= 1 ? undefined : "Value must be no more than 1");
const cleanupPolicy: ConfigCheck = (v) =>
  v.split(",").every((p) => p.trim() === "delete" || p.trim() === "compact") ? undefined : "String must be one of: compact, delete";

const MAX_LONG = "9223372036854775807";

/** Kafka's topic-level configs: default and validation (kafka.log.LogConfig). Unknown names are refused. */
const TOPIC_CONFIGS: Readonly<Record<string, { readonly default: string; readonly check: ConfigCheck }>> = {
  "cleanup.policy": { default: "delete", check: cleanupPolicy },
  "compression.type": { default: "producer", check: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer") },
  "delete.retention.ms": { default: "86400000", check: long(0n) },
  "file.delete.delay.ms": { default: "60000", check: long(0n) },
  "flush.messages": { default: MAX_LONG, check: long(1n) },
  "flush.ms": { default: MAX_LONG, check: long(0n) },
  "index.interval.bytes": { default: "4096", check: int(0) },
  "max.compaction.lag.ms": { default: MAX_LONG, check: long(1n) },
  "max.message.bytes": { default: "1048588", check: int(0) },
  "message.downconversion.enable": { default: "true", check: bool },
  "message.timestamp.type": { default: "CreateTime", check: oneOf("CreateTime", "LogAppendTime") },
  "min.cleanable.dirty.ratio": { default: "0.5", check: ratio },
  "min.compaction.lag.ms": { default: "0", check: long(0n) },
  "min.insync.replicas": { default: "1", check: int(1) },
  preallocate: { default: "false", check: bool },
  "retention.bytes": { default: "-1", check: long(-9223372036854775808n) },
  "retention.ms": { default: "604800000", check: long(-1n) },
  "segment.bytes": { default: "1073741824", check: int(14) },
  "segment.index.bytes": { default: "10485760", check: int(4) },
  "segment.jitter.ms": { default: "0", check: long(0n) },
  "segment.ms": { default: "604800000", check: long(1n) },
  "unclean.leader.election.enable": { default: "false", check: bool },
};

function checkConfigs(entries: ReadonlyArray<{ name: string; value: string | null }>): { code: number; message: string } | undefined {
  for (const { name, value } of entries) {
    const spec = TOPIC_CONFIGS[name];
    if (!spec) return { code: ErrorCode.INVALID_CONFIG, message: `Unknown topic config name: ${name}` };
    if (value === null) return { code: ErrorCode.INVALID_CONFIG, message: `Null value not supported for topic configs: ${name}` };
    const problem = spec.check(value);
    if (problem) return { code: ErrorCode.INVALID_CONFIG, message: `Invalid value ${value} for configuration ${name}: ${problem}` };
  }
  return undefined;
}

// ------------------------------------------------------------------ state

interface StoredBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  readonly raw: Buffer;
  readonly batch: WireBatch;
}

interface PartitionState {
  readonly replicas: number[];
  readonly batches: StoredBatch[];
  logStartOffset: bigint;
  highWatermark: bigint;
}

interface TopicState {
  readonly name: string;
  readonly partitions: PartitionState[];
  /** Topic-level overrides only; defaults come from the cluster. */
  configs: Record<string, string>;
}

const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;

function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === "." || name === "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.length > 249) return `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`;
  if (!LEGAL_NAME.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return undefined;
}

class Cluster {
  readonly topics = new Map<string, TopicState>();
  readonly requests: RecordedRequest[] = [];
  readonly appended = new EventEmitter();
  readonly nodes: Array<{ nodeId: number; host: string; port: number }> = [];
  readonly controllerId = 1;
  readonly defaults: Record<string, string>;

  constructor(
    readonly brokerCount: number,
    defaults: Readonly<Record<string, string>>,
    readonly clusterId: string,
  ) {
    this.defaults = Object.fromEntries(Object.entries(TOPIC_CONFIGS).map(([k, v]) => [k, defaults[k] ?? v.default]));
    this.appended.setMaxListeners(0);
  }

  replicasFor(partition: number, replicationFactor: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < replicationFactor; i++) out.push(((partition + i) % this.brokerCount) + 1);
    return out;
  }
}

// ------------------------------------------------------------------ server

/**
 * Starts a test cluster on 127.0.0.1 random ports.
 *
 * @example
 * const server = await startKafkaTestServer({ brokers: 3 });
 * try { ... new Kafka({ brokers: [...server.brokers] }) ... } finally { await server.close(); }
 */
export async function startKafkaTestServer(options: KafkaTestServerOptions = {}): Promise<KafkaTestServer> {
  const count = options.brokers ?? 1;
  const cluster = new Cluster(count, options.defaults ?? {}, options.clusterId ?? "moose-test-cluster");
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  try {
    for (let i = 0; i < count; i++) {
      const nodeId = i + 1;
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        serveConnection(socket, nodeId, cluster);
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no TCP address");
      cluster.nodes.push({ nodeId, host: "127.0.0.1", port: address.port });
    }
  } catch (error) {
    for (const server of servers) server.close();
    throw error;
  }
  let closed = false;
  return {
    brokers: cluster.nodes.map((n) => `${n.host}:${n.port}`),
    requests: cluster.requests,
    requestsOf: (api) => cluster.requests.filter((r) => r.api === api),
    topic(name) {
      const t = cluster.topics.get(name);
      return t && { partitions: t.partitions.length, replicas: t.partitions.map((p) => [...p.replicas]), configs: { ...t.configs } };
    },
    electLeader(topic, partition, nodeId) {
      const replicas = cluster.topics.get(topic)?.partitions[partition]?.replicas;
      if (!replicas || !replicas.includes(nodeId)) throw new Error(`node ${nodeId} holds no replica of ${topic}-${partition}`);
      replicas.sort((a, b) => (a === nodeId ? -1 : b === nodeId ? 1 : 0));
    },
    expireBefore(topic, partition, offset) {
      const p = cluster.topics.get(topic)?.partitions[partition];
      if (!p || BigInt(offset) > p.highWatermark) throw new Error(`cannot expire ${topic}-${partition} before ${offset}`);
      p.logStartOffset = BigInt(offset);
      p.batches.splice(0, p.batches.filter((b) => b.lastOffset < p.logStartOffset).length);
    },
    records(topic, partition) {
      const p = cluster.topics.get(topic)?.partitions[partition];
      if (!p) return [];
      return p.batches.flatMap((b) =>
        (b.batch.records ?? []).map((r) => ({
          offset: Number(b.baseOffset) + r.offsetDelta,
          timestamp: Number(b.batch.firstTimestamp + r.timestampDelta),
          key: r.key === null ? null : r.key.toString("utf8"),
          value: r.value === null ? null : r.value.toString("utf8"),
        })),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      cluster.appended.emit("closed");
    },
  };
}

function serveConnection(socket: Socket, nodeId: number, cluster: Cluster): void {
  let pending = Buffer.alloc(0);
  // Kafka answers in request order on a connection; a long-polling Fetch holds back what follows.
  let chain = Promise.resolve();
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (size < 0 || size > 100 * 1024 * 1024) {
        socket.destroy();
        return;
      }
      if (pending.length < 4 + size) break;
      const frame = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      chain = chain.then(() => handleFrame(frame, socket, nodeId, cluster)).catch(() => {
        socket.destroy();
      });
    }
  });
}

async function handleFrame(frame: Buffer, socket: Socket, nodeId: number, cluster: Cluster): Promise<void> {
  if (socket.destroyed) return;
  const r = new WireReader(frame);
  const apiKey = r.int16();
  const version = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString();
  const name = (Object.keys(API) as ApiName[]).find((k) => API[k] === apiKey);
  const range = SUPPORTED_VERSIONS[apiKey];
  const record = (body: unknown, unsupported?: true) =>
    cluster.requests.push({ api: name ?? `unknown(${apiKey})`, apiKey, version, nodeId, clientId, body, ...(unsupported ? { unsupported } : {}) });

  if (name === "ApiVersions" && range && (version < range[0] || version > range[1])) {
    // KIP-511: answer an unknown ApiVersions version in v0 format with the list, so the client can pick.
    record({}, true);
    send(socket, correlationId, apiVersionsBody(0, ErrorCode.UNSUPPORTED_VERSION));
    return;
  }
  if (!name || !range || version < range[0] || version > range[1]) {
    record({}, true);
    socket.destroy();
    return;
  }
  let body: Buffer | undefined;
  try {
    body = await HANDLERS[name](r, { version, nodeId, cluster, record });
  } catch (error) {
    if (error instanceof WireError) {
      record({ malformed: error.message }, true);
      socket.destroy();
      return;
    }
    throw error;
  }
  if (body !== undefined) send(socket, correlationId, body);
}

function send(socket: Socket, correlationId: number, body: Buffer): void {
  if (socket.destroyed) return;
  const header = Buffer.alloc(8);
  header.writeInt32BE(4 + body.length, 0);
  header.writeInt32BE(correlationId, 4);
  socket.write(Buffer.concat([header, body]));
}

interface Context {
  readonly version: number;
  readonly nodeId: number;
  readonly cluster: Cluster;
  readonly record: (body: unknown) => void;
}

type Handler = (r: WireReader, ctx: Context) => Promise<Buffer | undefined> | Buffer | undefined;

const HANDLERS: Record<ApiName, Handler> = {
  ApiVersions: (_r, ctx) => {
    ctx.record({});
    return apiVersionsBody(ctx.version, ErrorCode.NONE);
  },
  Metadata: metadata,
  CreateTopics: createTopics,
  DeleteTopics: deleteTopics,
  CreatePartitions: createPartitions,
  DescribeConfigs: describeConfigs,
  AlterConfigs: alterConfigs,
  Produce: produce,
  Fetch: fetch,
  ListOffsets: listOffsets,
};

/** ApiVersions v0: error_code [api_key min max]; v1+: ... throttle_time_ms. */
function apiVersionsBody(version: number, errorCode: number): Buffer {
  const w = new WireWriter().int16(errorCode);
  w.array(Object.entries(SUPPORTED_VERSIONS), (w, [key, [min, max]]) => w.int16(Number(key)).int16(min).int16(max));
  if (version >= 1) w.int32(0);
  return w.toBuffer();
}

// Metadata v6 => [topics] allow_auto_topic_creation
function metadata(r: WireReader, { cluster, record }: Context): Buffer {
  const topics = r.nullableArray((r) => r.string());
  const allowAutoTopicCreation = r.bool();
  record({ topics, allowAutoTopicCreation });
  const names = topics ?? [...cluster.topics.keys()].sort();
  const w = new WireWriter().int32(0); // throttle_time_ms
  w.array(cluster.nodes, (w, n) => w.int32(n.nodeId).string(n.host).int32(n.port).string(null));
  w.string(cluster.clusterId).int32(cluster.controllerId);
  w.array(names, (w, name) => {
    const topic = cluster.topics.get(name);
    const problem = topicNameProblem(name);
    const error = problem ? ErrorCode.INVALID_TOPIC_EXCEPTION : topic ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    w.int16(error).string(name).bool(false);
    w.array(topic?.partitions ?? [], (w, p) => {
      const index = topic!.partitions.indexOf(p);
      w.int16(ErrorCode.NONE).int32(index).int32(p.replicas[0]!);
      w.array(p.replicas, (w, id) => w.int32(id));
      w.array(p.replicas, (w, id) => w.int32(id)); // isr: every replica is in sync
      w.array([], () => undefined); // offline replicas
    });
  });
  return w.toBuffer();
}

// CreateTopics v3 => [topic num_partitions replication_factor [assignment] [configs]] timeout_ms validate_only
function createTopics(r: WireReader, { nodeId, cluster, record }: Context): Buffer {
  const topics = r.array((r) => ({
    name: r.string(),
    numPartitions: r.int32(),
    replicationFactor: r.int16(),
    assignments: r.array((r) => ({ partition: r.int32(), brokers: r.array((r) => r.int32()) })),
    configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
  }));
  const timeoutMs = r.int32();
  const validateOnly = r.bool();
  record({ topics: topics.map((t) => ({ ...t, configs: Object.fromEntries(t.configs.map((c) => [c.name, c.value])) })), timeoutMs, validateOnly });
  const results: Array<{ name: string; code: number; message: string | null }> = [];
  const seen = new Set<string>();
  for (const t of topics) {
    const fail = (code: number, message: string) => results.push({ name: t.name, code, message });
    if (nodeId !== cluster.controllerId) {
      fail(ErrorCode.NOT_CONTROLLER, "This is not the correct controller for this cluster.");
      continue;
    }
    if (seen.has(t.name)) {
      fail(ErrorCode.INVALID_REQUEST, `Create topics request from client contains multiple entries for the following topics: ${t.name}`);
      continue;
    }
    seen.add(t.name);
    const nameProblem = topicNameProblem(t.name);
    if (nameProblem) {
      fail(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
      continue;
    }
    if (cluster.topics.has(t.name)) {
      fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
      continue;
    }
    let replicas: number[][];
    if (t.assignments.length > 0) {
      if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
        fail(ErrorCode.INVALID_REQUEST, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.");
        continue;
      }
      const sorted = [...t.assignments].sort((a, b) => a.partition - b.partition);
      const bad = sorted.find((a, i) => a.partition !== i || a.brokers.length === 0 || a.brokers.some((b) => b < 1 || b > cluster.brokerCount) || new Set(a.brokers).size !== a.brokers.length);
      if (bad) {
        fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Invalid replica assignment for partition ${bad.partition}: ${JSON.stringify(bad.brokers)}`);
        continue;
      }
      replicas = sorted.map((a) => a.brokers);
    } else {
      const partitions = t.numPartitions === -1 ? 1 : t.numPartitions;
      const factor = t.replicationFactor === -1 ? 1 : t.replicationFactor;
      if (partitions < 1) {
        fail(ErrorCode.INVALID_PARTITIONS, "Number of partitions must be larger than 0.");
        continue;
      }
      if (factor < 1) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, "Replication factor must be larger than 0.");
        continue;
      }
      if (factor > cluster.brokerCount) {
        fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor: ${factor} larger than available brokers: ${cluster.brokerCount}.`);
        continue;
      }
      replicas = Array.from({ length: partitions }, (_, p) => cluster.replicasFor(p, factor));
    }
    const configProblem = checkConfigs(t.configs);
    if (configProblem) {
      fail(configProblem.code, configProblem.message);
      continue;
    }
    if (!validateOnly) {
      cluster.topics.set(t.name, {
        name: t.name,
        partitions: replicas.map((rs) => ({ replicas: rs, batches: [], logStartOffset: 0n, highWatermark: 0n })),
        configs: Object.fromEntries(t.configs.map((c) => [c.name, c.value!])),
      });
    }
    results.push({ name: t.name, code: ErrorCode.NONE, message: null });
  }
  const w = new WireWriter().int32(0);
  w.array(results, (w, t) => w.string(t.name).int16(t.code).string(t.message));
  return w.toBuffer();
}

// DeleteTopics v1 => [topic_names] timeout_ms
function deleteTopics(r: WireReader, { nodeId, cluster, record }: Context): Buffer {
  const names = r.array((r) => r.string());
  const timeoutMs = r.int32();
  record({ topics: names, timeoutMs });
  const w = new WireWriter().int32(0);
  w.array(names, (w, name) => {
    let code: number = ErrorCode.NONE;
    if (nodeId !== cluster.controllerId) code = ErrorCode.NOT_CONTROLLER;
    else if (!cluster.topics.has(name)) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    else cluster.topics.delete(name);
    w.string(name).int16(code);
  });
  return w.toBuffer();
}

// CreatePartitions v1 => [topic count [assignment]] timeout_ms validate_only
function createPartitions(r: WireReader, { nodeId, cluster, record }: Context): Buffer {
  const topics = r.array((r) => ({ name: r.string(), count: r.int32(), assignments: r.nullableArray((r) => r.array((r) => r.int32())) }));
  const timeoutMs = r.int32();
  const validateOnly = r.bool();
  record({ topics, timeoutMs, validateOnly });
  const w = new WireWriter().int32(0);
  w.array(topics, (w, t) => {
    const topic = cluster.topics.get(t.name);
    let code: number = ErrorCode.NONE;
    let message: string | null = null;
    const current = topic?.partitions.length ?? 0;
    if (nodeId !== cluster.controllerId) {
      code = ErrorCode.NOT_CONTROLLER;
      message = "This is not the correct controller for this cluster.";
    } else if (!topic) {
      code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      message = `The topic '${t.name}' does not exist.`;
    } else if (t.count < current) {
      code = ErrorCode.INVALID_PARTITIONS;
      message = `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`;
    } else if (t.count === current) {
      code = ErrorCode.INVALID_PARTITIONS;
      message = `Topic already has ${current} partitions.`;
    } else if (t.assignments && t.assignments.length > 0 && t.assignments.length !== t.count - current) {
      code = ErrorCode.INVALID_REPLICA_ASSIGNMENT;
      message = `Increasing the number of partitions by ${t.count - current} but ${t.assignments.length} assignments provided.`;
    } else if (!validateOnly) {
      const factor = topic.partitions[0]!.replicas.length;
      for (let p = current; p < t.count; p++) {
        const given = t.assignments && t.assignments.length > 0 ? t.assignments[p - current] : undefined;
        topic.partitions.push({ replicas: given ?? cluster.replicasFor(p, factor), batches: [], logStartOffset: 0n, highWatermark: 0n });
      }
    }
    w.string(t.name).int16(code).string(message);
  });
  return w.toBuffer();
}

// DescribeConfigs v2 => [resource_type resource_name [config_names]] include_synonyms
function describeConfigs(r: WireReader, { cluster, record }: Context): Buffer {
  const resources = r.array((r) => ({ type: r.int8(), name: r.string(), configNames: r.nullableArray((r) => r.string()) }));
  const includeSynonyms = r.bool();
  record({ resources, includeSynonyms });
  const w = new WireWriter().int32(0);
  w.array(resources, (w, res) => {
    const topic = res.type === RESOURCE_TOPIC ? cluster.topics.get(res.name) : undefined;
    if (res.type !== RESOURCE_TOPIC) {
      w.int16(ErrorCode.INVALID_REQUEST).string(`This test broker describes topics only, not resource type ${res.type}`).int8(res.type).string(res.name).array([], () => undefined);
      return;
    }
    if (!topic) {
      w.int16(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).string(`Topic ${res.name} does not exist.`).int8(res.type).string(res.name).array([], () => undefined);
      return;
    }
    const names = (res.configNames ?? Object.keys(cluster.defaults).sort()).filter((n) => n in cluster.defaults);
    w.int16(ErrorCode.NONE).string(null).int8(res.type).string(res.name);
    w.array(names, (w, n) => {
      const override = topic.configs[n];
      const value = override ?? cluster.defaults[n]!;
      w.string(n).string(value).bool(false).int8(override === undefined ? CONFIG_SOURCE_DEFAULT : CONFIG_SOURCE_TOPIC).bool(false);
      const synonyms = includeSynonyms
        ? [...(override === undefined ? [] : [{ value: override, source: CONFIG_SOURCE_TOPIC }]), { value: cluster.defaults[n]!, source: CONFIG_SOURCE_DEFAULT }]
        : [];
      w.array(synonyms, (w, s) => w.string(n).string(s.value).int8(s.source));
    });
  });
  return w.toBuffer();
}

// AlterConfigs v1 => [resource_type resource_name [name value]] validate_only
// Not incremental: the given entries replace the topic's overrides; what is left out returns to the default.
function alterConfigs(r: WireReader, { cluster, record }: Context): Buffer {
  const resources = r.array((r) => ({ type: r.int8(), name: r.string(), configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })) }));
  const validateOnly = r.bool();
  record({ resources: resources.map((res) => ({ ...res, configs: Object.fromEntries(res.configs.map((c) => [c.name, c.value])) })), validateOnly });
  const w = new WireWriter().int32(0);
  w.array(resources, (w, res) => {
    const topic = res.type === RESOURCE_TOPIC ? cluster.topics.get(res.name) : undefined;
    let code: number = ErrorCode.NONE;
    let message: string | null = null;
    if (res.type !== RESOURCE_TOPIC) {
      code = ErrorCode.INVALID_REQUEST;
      message = `This test broker alters topics only, not resource type ${res.type}`;
    } else if (!topic) {
      code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      message = `Topic ${res.name} does not exist.`;
    } else {
      const problem = checkConfigs(res.configs);
      if (problem) ({ code, message } = problem);
      else if (!validateOnly) topic.configs = Object.fromEntries(res.configs.map((c) => [c.name, c.value!]));
    }
    w.int16(code).string(message).int8(res.type).string(res.name);
  });
  return w.toBuffer();
}

// Produce v7 => transactional_id acks timeout_ms [topic [partition records]]
function produce(r: WireReader, { nodeId, cluster, record }: Context): Buffer | undefined {
  const transactionalId = r.nullableString();
  const acks = r.int16();
  const timeoutMs = r.int32();
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ partition: r.int32(), records: r.bytes() })) }));
  const results = topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partition: p.partition, ...append(cluster, nodeId, t.name, p.partition, p.records) })),
  }));
  record({
    transactionalId,
    acks,
    timeoutMs,
    topics: results.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, records: p.count, errorCode: p.code })) })),
  });
  if (acks === 0) return undefined; // no response at all, by protocol
  const w = new WireWriter();
  w.array(results, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.code).int64(p.baseOffset).int64(-1).int64(p.logStartOffset));
  });
  w.int32(0);
  return w.toBuffer();
}

function append(cluster: Cluster, nodeId: number, topicName: string, partitionIndex: number, records: Buffer | null) {
  const failed = (code: number) => ({ code, baseOffset: -1n, logStartOffset: -1n, count: 0 });
  const topic = cluster.topics.get(topicName);
  const partition = topic?.partitions[partitionIndex];
  if (!topic || !partition) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (partition.replicas[0] !== nodeId) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  if (records === null || records.length === 0) return failed(ErrorCode.CORRUPT_MESSAGE);
  let batches: WireBatch[];
  try {
    batches = decodeRecordBatches(records);
  } catch {
    return failed(ErrorCode.CORRUPT_MESSAGE);
  }
  const maxMessageBytes = Number(topic.configs["max.message.bytes"] ?? cluster.defaults["max.message.bytes"]);
  for (const batch of batches) {
    if (batch.magic !== 2) return failed(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
    if (batch.crc !== batch.computedCrc) return failed(ErrorCode.CORRUPT_MESSAGE);
    if (batch.recordCount !== batch.lastOffsetDelta + 1) return failed(ErrorCode.CORRUPT_MESSAGE);
    if (batch.records && batch.records.some((rec, i) => rec.offsetDelta !== i)) return failed(ErrorCode.CORRUPT_MESSAGE);
    if (batch.raw.length > maxMessageBytes) return failed(ErrorCode.MESSAGE_TOO_LARGE);
  }
  const baseOffset = partition.highWatermark;
  let count = 0;
  for (const batch of batches) {
    // Brokers assign offsets by rewriting the batch's base offset; the CRC does not cover it.
    const raw = Buffer.from(batch.raw);
    raw.writeBigInt64BE(partition.highWatermark, 0);
    const lastOffset = partition.highWatermark + BigInt(batch.lastOffsetDelta);
    partition.batches.push({ baseOffset: partition.highWatermark, lastOffset, maxTimestamp: batch.maxTimestamp, raw, batch });
    partition.highWatermark = lastOffset + 1n;
    count += batch.recordCount;
  }
  cluster.appended.emit("append");
  return { code: ErrorCode.NONE, baseOffset, logStartOffset: partition.logStartOffset, count };
}

// Fetch v11 => replica_id max_wait_ms min_bytes max_bytes isolation_level session_id session_epoch
//   [topic [partition current_leader_epoch fetch_offset log_start_offset partition_max_bytes]]
//   [forgotten_topic [partitions]] rack_id
async function fetch(r: WireReader, { nodeId, cluster, record }: Context): Promise<Buffer> {
  const replicaId = r.int32();
  const maxWaitMs = r.int32();
  const minBytes = r.int32();
  const maxBytes = r.int32();
  const isolationLevel = r.int8();
  const sessionId = r.int32();
  const sessionEpoch = r.int32();
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({ partition: r.int32(), currentLeaderEpoch: r.int32(), fetchOffset: r.int64(), logStartOffset: r.int64(), maxBytes: r.int32() })),
  }));
  const forgotten = r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }));
  const rackId = r.string();
  record({
    replicaId,
    maxWaitMs,
    minBytes,
    maxBytes,
    isolationLevel,
    sessionId,
    sessionEpoch,
    topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p, fetchOffset: Number(p.fetchOffset), logStartOffset: Number(p.logStartOffset) })) })),
    forgotten,
    rackId,
  });

  const collect = () => {
    let budget = maxBytes;
    let total = 0;
    let anyError = false;
    const out = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const topic = cluster.topics.get(t.name);
        const partition = topic?.partitions[p.partition];
        const empty = { partition: p.partition, hw: -1n, logStart: -1n, records: Buffer.alloc(0) };
        if (!topic || !partition) return { ...empty, code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        if (partition.replicas[0] !== nodeId) return { ...empty, code: ErrorCode.NOT_LEADER_OR_FOLLOWER };
        const bounds = { hw: partition.highWatermark, logStart: partition.logStartOffset };
        if (p.fetchOffset < partition.logStartOffset || p.fetchOffset > partition.highWatermark) {
          return { ...empty, ...bounds, code: ErrorCode.OFFSET_OUT_OF_RANGE };
        }
        // Whole batches from the one holding fetch_offset; the first always goes out, even when over the limits (KIP-74).
        const chosen: Buffer[] = [];
        let size = 0;
        for (const b of partition.batches) {
          if (b.lastOffset < p.fetchOffset) continue;
          if (chosen.length > 0 && (size + b.raw.length > p.maxBytes || size + b.raw.length > budget)) break;
          if (chosen.length === 0 && total > 0 && b.raw.length > budget) break;
          chosen.push(b.raw);
          size += b.raw.length;
        }
        budget -= size;
        total += size;
        return { partition: p.partition, code: ErrorCode.NONE, ...bounds, records: Buffer.concat(chosen) };
      }),
    }));
    anyError ||= out.some((t) => t.partitions.some((p) => p.code !== ErrorCode.NONE));
    return { out, total, anyError };
  };

  let result = collect();
  if (result.total < minBytes && !result.anyError && maxWaitMs > 0) {
    // Long poll: wait for an append (or max_wait_ms), then answer with whatever is there.
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        cluster.appended.off("append", done);
        cluster.appended.off("closed", done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      cluster.appended.on("append", done);
      cluster.appended.on("closed", done);
    });
    result = collect();
  }

  const w = new WireWriter().int32(0).int16(ErrorCode.NONE).int32(0); // throttle, error, session_id (no sessions)
  w.array(result.out, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => {
      w.int32(p.partition).int16(p.code).int64(p.hw).int64(p.hw).int64(p.logStart);
      w.array(null, () => undefined); // aborted transactions: none
      w.int32(-1); // preferred read replica: the leader
      w.bytes(p.records);
    });
  });
  return w.toBuffer();
}

// ListOffsets v3 => replica_id isolation_level [topic [partition timestamp]]
function listOffsets(r: WireReader, { nodeId, cluster, record }: Context): Buffer {
  const replicaId = r.int32();
  const isolationLevel = r.int8();
  const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() })) }));
  record({ replicaId, isolationLevel, topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, timestamp: Number(p.timestamp) })) })) });
  const w = new WireWriter().int32(0);
  w.array(topics, (w, t) => {
    w.string(t.name);
    w.array(t.partitions, (w, p) => {
      const partition = cluster.topics.get(t.name)?.partitions[p.partition];
      if (!partition) return void w.int32(p.partition).int16(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).int64(-1).int64(-1);
      if (partition.replicas[0] !== nodeId) return void w.int32(p.partition).int16(ErrorCode.NOT_LEADER_OR_FOLLOWER).int64(-1).int64(-1);
      if (p.timestamp === LATEST) return void w.int32(p.partition).int16(ErrorCode.NONE).int64(-1).int64(partition.highWatermark);
      if (p.timestamp === EARLIEST) return void w.int32(p.partition).int16(ErrorCode.NONE).int64(-1).int64(partition.logStartOffset);
      // The first record at or after the timestamp (found by batch: its max timestamp, then its records).
      for (const b of partition.batches) {
        if (b.maxTimestamp < p.timestamp) continue;
        const hit = b.batch.records?.find((rec) => b.batch.firstTimestamp + rec.timestampDelta >= p.timestamp);
        const offset = hit ? b.baseOffset + BigInt(hit.offsetDelta) : b.baseOffset;
        const ts = hit ? b.batch.firstTimestamp + hit.timestampDelta : b.maxTimestamp;
        return void w.int32(p.partition).int16(ErrorCode.NONE).int64(ts).int64(offset);
      }
      w.int32(p.partition).int16(ErrorCode.NONE).int64(-1).int64(-1);
    });
  });
  return w.toBuffer();
}
