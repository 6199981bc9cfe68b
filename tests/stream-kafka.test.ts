/**
 * The kafka stream adapter over TCP.
 *
 * Every scenario runs against tests/helpers/kafka-test-server.ts, a Kafka wire-protocol
 * broker with real state (no Kafka can be installed here). When KAFKA_BROKERS is set
 * (e.g. `KAFKA_BROKERS=localhost:19092`), the same scenarios also run against that real
 * Kafka/Redpanda, each in its own topic namespace, cleaned up afterwards. CI sets no
 * KAFKA_BROKERS, so it skips the real-broker suite; assertions about the exact requests
 * sent are made against the test broker only.
 */
import test, { type ExecutionContext } from "ava";
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import kafkajs from "kafkajs";
import type { KafkaStreamingConfig } from "../lib/config/config.js";
import { EngineError, InvalidInputError, RefusedError } from "../lib/errors.js";
import type { Topic } from "../lib/model/infra-map.js";
import { type StreamEngine } from "../lib/engines/stream/engine.js";
import { kafkaClientConfig, openKafkaStreamEngine, type KafkaStreamOptions } from "../lib/engines/stream/kafka.js";
import { partitionForKey } from "../lib/engines/stream/partitioner.js";
import { startKafkaTestServer, SUPPORTED_VERSIONS, type KafkaTestServer } from "./helpers/kafka-test-server.js";
import { crc32c, WireReader, WireWriter } from "./helpers/kafka-wire.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

const REAL_BROKERS = process.env.KAFKA_BROKERS?.split(",").map((b) => b.trim()).filter(Boolean) ?? [];
/** Replication factor the real cluster can hold (its broker count, at most). */
const REAL_REPLICATION = Number(process.env.KAFKA_REPLICATION_FACTOR ?? 1);

if (REAL_BROKERS.length === 0) {
  console.log("stream-kafka: KAFKA_BROKERS is not set, so the real-broker suite is skipped (CI has no broker); every scenario runs against the Kafka test broker.");
}

interface Target {
  readonly brokers: readonly string[];
  /** Present for the test broker: state and recorded requests to assert on. */
  readonly server?: KafkaTestServer;
  /** Largest replication factor the target can hold. */
  readonly maxReplication: number;
  /** A namespace of this test's own (real broker: keeps runs and tests apart). */
  readonly namespace: string | undefined;
}

type Scenario = (t: ExecutionContext, target: Target) => Promise<void>;

/** Registers a scenario against the test broker, and against the real broker when KAFKA_BROKERS is set. */
function scenario(title: string, fn: Scenario, options: { brokers?: number } = {}): void {
  test(`test broker: ${title}`, async (t) => {
    const server = await startKafkaTestServer({ brokers: options.brokers ?? 1 });
    t.teardown(() => server.close());
    await fn(t, { brokers: server.brokers, server, maxReplication: options.brokers ?? 1, namespace: undefined });
  });
  if (REAL_BROKERS.length === 0) {
    test.skip(`real broker (set KAFKA_BROKERS): ${title}`, () => undefined);
    return;
  }
  test.serial(`real broker ${REAL_BROKERS.join(",")}: ${title}`, async (t) => {
    t.timeout(60_000);
    const namespace = `moosetest_${randomBytes(4).toString("hex")}`;
    t.teardown(async () => {
      const cleaner = await openKafkaStreamEngine(kafkaConfig(REAL_BROKERS, { namespace }), FAST);
      try {
        for (const described of Object.values(await cleaner.introspect())) {
          await cleaner.apply({ kind: "topic.drop", topic: { ...described, columns: [], lifeCycle: "FULLY_MANAGED" } }).catch(() => undefined);
        }
      } finally {
        await cleaner.close();
      }
    });
    await fn(t, { brokers: REAL_BROKERS, maxReplication: REAL_REPLICATION, namespace });
  });
}

const FAST: KafkaStreamOptions = { retries: 1, connectionTimeoutMs: 1000, requestTimeoutMs: 10_000 };

function kafkaConfig(brokers: readonly string[], more: Partial<KafkaStreamingConfig> = {}): KafkaStreamingConfig {
  return { engine: "kafka", brokers: [...brokers], securityProtocol: "PLAINTEXT", messageTimeoutMs: 1000, retentionMs: 30_000, replicationFactor: 1, ...more };
}

async function open(t: ExecutionContext, target: Target, more: Partial<KafkaStreamingConfig> = {}): Promise<StreamEngine> {
  const engine = await openStreamEngine(kafkaConfig(target.brokers, { ...(target.namespace ? { namespace: target.namespace } : {}), ...more }), { kafka: FAST });
  t.teardown(() => engine.close());
  return engine;
}

function topic(name: string, more: Partial<Topic> = {}): Topic {
  return { name, partitions: 1, config: {}, columns: [{ name: "id", type: "String" }], lifeCycle: "FULLY_MANAGED", ...more };
}

/** The physical name of a topic in the target (its namespace applied). */
function physical(target: Target, name: string): string {
  return target.namespace ? `${target.namespace}.${name}` : name;
}

// ---------------------------------------------------------------- topic lifecycle

scenario(
  "creates a topic with partitions, replication factor and configs; introspection returns them",
  async (t, target) => {
    const engine = await open(t, target);
    const replicationFactor = Math.min(3, target.maxReplication);
    const events = topic("Events", { partitions: 3, replicationFactor, retentionMs: 45_000, config: { "cleanup.policy": "delete", "max.message.bytes": "2000000" } });
    await engine.apply({ kind: "topic.create", topic: events });
    const expected = { name: "Events", partitions: 3, retentionMs: 45_000, replicationFactor, config: { "cleanup.policy": "delete", "max.message.bytes": "2000000" } };
    const described = await engine.introspect();
    t.like(described, { Events: expected });
    if (!target.server) return;
    t.deepEqual(described, { Events: expected });
    const [create] = target.server.requestsOf("CreateTopics");
    t.like(create?.body, {
      topics: [{ name: "Events", numPartitions: 3, replicationFactor: 3, configs: { "retention.ms": "45000", "cleanup.policy": "delete", "max.message.bytes": "2000000" } }],
      validateOnly: false,
    });
    t.deepEqual(target.server.topic("Events")?.replicas, [
      [1, 2, 3],
      [2, 3, 1],
      [3, 1, 2],
    ]);
    // kafkajs negotiated the versions the test broker serves, and never asked for anything else.
    for (const request of target.server.requests) {
      t.falsy(request.unsupported, `${request.api} v${request.version}`);
      t.is(request.version as number | undefined, request.api === "ApiVersions" ? 2 : SUPPORTED_VERSIONS[request.apiKey]?.[1], request.api);
    }
  },
  { brokers: 3 },
);

scenario("a topic without retention gets [redpanda_config] retention_ms", async (t, target) => {
  const engine = await open(t, target, { retentionMs: 123_000 });
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  t.like((await engine.introspect()).Events, { partitions: 1, retentionMs: 123_000, replicationFactor: 1, config: {} });
  if (target.server) t.deepEqual(target.server.topic("Events")?.configs, { "retention.ms": "123000" });
});

scenario("the namespace prefixes physical names; introspection lists only its own topics", async (t, target) => {
  const base = target.namespace ?? "moose";
  const dev = await open(t, target, { namespace: `${base}_dev` });
  const prod = await open(t, target, { namespace: `${base}_prod` });
  await dev.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  await prod.apply({ kind: "topic.create", topic: topic("Events", { partitions: 1 }) });
  t.deepEqual(Object.keys(await dev.introspect()), ["Events"]);
  t.is((await dev.introspect()).Events?.partitions, 2);
  t.is((await prod.introspect()).Events?.partitions, 1);
  if (target.server) {
    t.truthy(target.server.topic(`${base}_dev.Events`));
    t.truthy(target.server.topic(`${base}_prod.Events`));
  }
  for (const engine of [dev, prod]) {
    const described = (await engine.introspect()).Events!;
    await engine.apply({ kind: "topic.drop", topic: { ...described, columns: [], lifeCycle: "FULLY_MANAGED" } });
  }
});

scenario("increases partitions with CreatePartitions", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events", { partitions: 2 });
  await engine.apply({ kind: "topic.create", topic: events });
  await engine.apply({ kind: "topic.modify", before: events, after: { ...events, partitions: 5 } });
  t.is((await engine.introspect()).Events?.partitions, 5);
  if (!target.server) return;
  t.like(target.server.requestsOf("CreatePartitions")[0]?.body, { topics: [{ name: "Events", count: 5 }] });
  t.deepEqual(target.server.requestsOf("AlterConfigs"), [], "partitions only: no config change sent");
});

scenario("changes retention and other configs with AlterConfigs, sending the whole set", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events", { retentionMs: 10_000, config: { "cleanup.policy": "compact" } });
  await engine.apply({ kind: "topic.create", topic: events });
  const after = { ...events, retentionMs: 20_000, config: { "max.message.bytes": "3000000" } };
  await engine.apply({ kind: "topic.modify", before: events, after });
  // cleanup.policy is no longer set by the code, so it is back to the broker's default.
  t.like((await engine.introspect()).Events, { retentionMs: 20_000, config: { "max.message.bytes": "3000000" } });
  t.is((await engine.introspect()).Events?.config["cleanup.policy"], undefined);
  if (!target.server) return;
  t.deepEqual((target.server.requestsOf("AlterConfigs")[0]?.body as { resources: unknown }).resources, [
    { type: 2, name: "Events", configs: { "retention.ms": "20000", "max.message.bytes": "3000000" } },
  ]);
  t.deepEqual(target.server.requestsOf("CreatePartitions"), []);
});

scenario("refuses a partition decrease before sending anything", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("UserEvents", { partitions: 4 });
  await engine.apply({ kind: "topic.create", topic: events });
  const sent = target.server?.requests.length;
  const error = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: events, after: { ...events, partitions: 2, retentionMs: 1000 } }), {
    instanceOf: RefusedError,
  });
  t.is(error?.code, "TOPIC_PARTITIONS_DECREASE");
  t.is(
    error?.message,
    "cannot reduce topic UserEvents from 4 to 2 partitions: Kafka can only add partitions, never remove them (records are spread over all 4, and keys hash to a partition by the count)",
  );
  t.regex(error?.hint ?? "", /create a new version of the stream \(topic UserEvents_2, e\.g\. `version: "2"`\) with 2 partitions, point producers at it, backfill it from UserEvents, then drop UserEvents/);
  if (target.server) {
    t.is(target.server.requests.length as number | undefined, sent, "not a single request was sent");
    t.deepEqual(target.server.requestsOf("CreatePartitions"), []);
    t.deepEqual(target.server.requestsOf("AlterConfigs"), []);
  }
  t.like((await engine.introspect()).UserEvents, { partitions: 4, retentionMs: 30_000 });
});

scenario("refuses a replication factor change before sending anything", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events");
  await engine.apply({ kind: "topic.create", topic: events });
  const sent = target.server?.requests.length;
  const error = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: events, after: { ...events, replicationFactor: 3, partitions: 2 } }), {
    instanceOf: RefusedError,
  });
  t.is(error?.code, "TOPIC_REPLICATION_FACTOR_CHANGE");
  t.regex(error?.message ?? "", /cannot change the replication factor of topic Events from 1 to 3: Kafka changes it only by reassigning partitions/);
  if (target.server) t.is(target.server.requests.length as number | undefined, sent);
  t.is((await engine.introspect()).Events?.partitions, 1);
});

scenario("creating an existing topic is STREAM_TOPIC_EXISTS, naming the topic and the brokers", async (t, target) => {
  const engine = await open(t, target);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const error = await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 4 }) }), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_TOPIC_EXISTS");
  t.is(error?.message, `cannot create topic Events on Kafka at ${target.brokers.join(",")}: it already exists`);
  t.is((await engine.introspect()).Events?.partitions, 1);
});

scenario("partitions that drifted are the broker's INVALID_PARTITIONS, mapped to STREAM_INVALID_PARTITIONS", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events");
  await engine.apply({ kind: "topic.create", topic: events });
  // Someone grows the topic by hand, behind the migrations' back.
  const admin = new kafkajs.Kafka({ brokers: [...target.brokers], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 1 } }).admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic: physical(target, "Events"), count: 3 }] });
  } finally {
    await admin.disconnect();
  }
  const error = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: events, after: { ...events, partitions: 2 } }), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_INVALID_PARTITIONS");
  t.regex(error?.message ?? "", new RegExp(`^cannot grow to 2 partitions topic Events on Kafka at ${target.brokers.join(",").replace(/\./g, "\\.")}: the broker refused the partition count`));
  t.regex(error?.hint ?? "", /drifted/);
});

scenario("a replication factor above the broker count is STREAM_INVALID_REPLICATION_FACTOR", async (t, target) => {
  const engine = await open(t, target);
  const error = await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Events", { replicationFactor: target.maxReplication + 1 + (target.server ? 0 : 100) }) }), {
    instanceOf: EngineError,
  });
  t.is(error?.code, "STREAM_INVALID_REPLICATION_FACTOR");
  t.regex(error?.message ?? "", /^cannot create topic Events on Kafka at .*: the broker refused the replication factor/);
  t.deepEqual(await engine.introspect(), {});
});

scenario("a config the broker does not know is STREAM_INVALID_CONFIG", async (t, target) => {
  const engine = await open(t, target);
  const error = await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Events", { config: { "no.such.config": "1" } }) }), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_INVALID_CONFIG");
  t.deepEqual(await engine.introspect(), {});
});

scenario("drops a topic; dropping a missing topic is STREAM_UNKNOWN_TOPIC", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events");
  await engine.apply({ kind: "topic.create", topic: events });
  await engine.apply({ kind: "topic.drop", topic: events });
  t.deepEqual(await engine.introspect(), {});
  if (target.server) t.is(target.server.topic("Events"), undefined);
  const error = await t.throwsAsync(engine.apply({ kind: "topic.drop", topic: events }), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_UNKNOWN_TOPIC");
  t.regex(error?.message ?? "", /^cannot delete topic Events on Kafka at .*: the topic \(or the partition\) does not exist$/);
});

// ---------------------------------------------------------------- records

scenario("produces JSON records and fetches them back by partition and offset", async (t, target) => {
  const engine = await open(t, target);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  await engine.produce("Events", [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 4, nested: { list: [1, "two", null] } }], { partition: 1 });
  const first = await engine.readFrom("Events", 1, 0, 2);
  t.deepEqual(first.records.map((r) => [r.partition, r.offset, r.value]), [
    [1, 0, { n: 0 }],
    [1, 1, { n: 1 }],
  ]);
  t.is(first.nextOffset, 2);
  t.is(first.highWatermark, 5);
  t.is(first.logStartOffset, 0);
  const rest = await engine.readFrom("Events", 1, first.nextOffset, 100);
  t.deepEqual(rest.records.map((r) => r.value), [{ n: 2 }, { n: 3 }, { n: 4, nested: { list: [1, "two", null] } }]);
  t.is(rest.nextOffset, 5);
  t.true(rest.records.every((r) => Math.abs(r.timestamp - Date.now()) < 120_000 && r.key === undefined));
  t.deepEqual((await engine.readFrom("Events", 1, 5, 10)).records, [], "reading at the high watermark returns nothing");
  const past = await t.throwsAsync(engine.readFrom("Events", 1, 9, 10), { instanceOf: EngineError });
  t.is(past?.code, "STREAM_OFFSET_OUT_OF_RANGE");
  t.regex(past?.message ?? "", /^offset 9 is past the end of topic Events partition 1 \(next offset 5\) on Kafka at /);
  t.deepEqual(await engine.offsets("Events"), [
    { partition: 0, low: 0, high: 0 },
    { partition: 1, low: 0, high: 5 },
  ]);

  // A key picks the partition Kafka's default partitioner picks (and the embedded engine too).
  await engine.apply({ kind: "topic.create", topic: topic("Keyed", { partitions: 3 }) });
  await engine.produce("Keyed", [{ keyed: 1 }, { keyed: 2 }], { key: "customer-42" });
  const keyedPartition = partitionForKey("customer-42", 3);
  const keyed = await engine.readFrom("Keyed", keyedPartition, 0, 100);
  t.deepEqual(keyed.records.map((r) => [r.key, r.value]), [
    ["customer-42", { keyed: 1 }],
    ["customer-42", { keyed: 2 }],
  ]);
  if (!target.server) return;
  t.true(target.server.requestsOf("Produce").every((r) => (r.body as { acks: number }).acks === -1), "acks = all");
  t.deepEqual(
    target.server.records("Events", 1).slice(0, 2).map((r) => [r.offset, r.value]),
    [
      [0, '{"n":0}'],
      [1, '{"n":1}'],
    ],
  );
});

scenario(
  "data requests go to partition leaders, admin requests to the controller",
  async (t, target) => {
    const engine = await open(t, target);
    await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 3, replicationFactor: Math.min(2, target.maxReplication) }) });
    for (let p = 0; p < 3; p++) await engine.produce("Events", [{ p }], { partition: p });
    for (let p = 0; p < 3; p++) t.deepEqual((await engine.readFrom("Events", p, 0, 10)).records.map((r) => r.value), [{ p }]);
    if (!target.server) return;
    const leaders = target.server.topic("Events")!.replicas.map((r) => r[0]);
    for (const request of [...target.server.requestsOf("Produce"), ...target.server.requestsOf("Fetch")]) {
      const body = request.body as { topics: Array<{ partitions: Array<{ partition: number }> }> };
      for (const p of body.topics.flatMap((tp) => tp.partitions)) t.is(request.nodeId as number | undefined, leaders[p.partition], `${request.api} partition ${p.partition}`);
    }
    t.true(target.server.requestsOf("CreateTopics").every((r) => r.nodeId === 1));
  },
  { brokers: 3 },
);

test("test broker: a reader follows a partition whose leader moved", async (t) => {
  const server = await startKafkaTestServer({ brokers: 3 });
  t.teardown(() => server.close());
  const engine = await openStreamEngine(kafkaConfig(server.brokers), { kafka: FAST });
  t.teardown(() => engine.close());
  await engine.apply({ kind: "topic.create", topic: topic("Events", { replicationFactor: 3 }) });
  await engine.produce("Events", [{ n: 1 }]);
  t.is((await engine.readFrom("Events", 0, 0, 10)).records.length, 1);
  server.electLeader("Events", 0, 3);
  t.deepEqual((await engine.readFrom("Events", 0, 0, 10)).records.map((r) => r.value), [{ n: 1 }]);
  const fetches = server.requestsOf("Fetch");
  t.deepEqual(fetches.map((r) => r.nodeId), [1, 1, 3], "the stale leader answered NOT_LEADER, then the new one served");
  t.deepEqual((await engine.offsets("Events"))[0], { partition: 0, low: 0, high: 1 });
});

test("test broker: after retention removed old records, a read starts at the log start offset", async (t) => {
  const server = await startKafkaTestServer();
  t.teardown(() => server.close());
  const engine = await openStreamEngine(kafkaConfig(server.brokers), { kafka: FAST });
  t.teardown(() => engine.close());
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  for (let n = 0; n < 5; n++) await engine.produce("Events", [{ n }]);
  t.is((await engine.readFrom("Events", 0, 0, 2)).nextOffset, 2);
  server.expireBefore("Events", 0, 3);
  const read = await engine.readFrom("Events", 0, 2, 10);
  t.is(read.logStartOffset, 3);
  t.deepEqual(read.records.map((r) => [r.offset, r.value]), [
    [3, { n: 3 }],
    [4, { n: 4 }],
  ]);
  t.deepEqual(await engine.offsets("Events"), [{ partition: 0, low: 3, high: 5 }]);
});

scenario("partitions added after the first produce and read are written and read (never silently skipped)", async (t, target) => {
  const engine = await open(t, target);
  const events = topic("Events");
  await engine.apply({ kind: "topic.create", topic: events });
  await engine.produce("Events", [{ early: true }], { partition: 0 });
  t.is((await engine.readFrom("Events", 0, 0, 10)).records.length, 1);
  await engine.apply({ kind: "topic.modify", before: events, after: { ...events, partitions: 3 } });
  await engine.produce("Events", [{ late: true }], { partition: 2 });
  t.deepEqual((await engine.readFrom("Events", 2, 0, 10)).records.map((r) => r.value), [{ late: true }]);
  await engine.produce("Events", Array.from({ length: 6 }, (_, i) => ({ i })));
  t.true((await engine.offsets("Events")).every((o) => o.high >= 1), "round-robin reaches the new partitions");

  // kafkajs would drop records for a partition it does not know, without a word.
  const before = await engine.offsets("Events");
  const unknown = await t.throwsAsync(engine.produce("Events", [{ lost: true }], { partition: 7 }), { instanceOf: EngineError });
  t.is(unknown?.code, "STREAM_UNKNOWN_PARTITION");
  t.regex(unknown?.message ?? "", /^topic Events has no partition 7 on Kafka at .*; nothing was produced$/);
  t.deepEqual(await engine.offsets("Events"), before);
  const missing = await t.throwsAsync(engine.readFrom("Events", 7, 0, 10), { instanceOf: EngineError });
  t.is(missing?.code, "STREAM_UNKNOWN_PARTITION");
});

scenario("a dropped topic does not break producing to and reading from the others", async (t, target) => {
  const engine = await open(t, target);
  const gone = topic("Gone");
  await engine.apply({ kind: "topic.create", topic: gone });
  await engine.apply({ kind: "topic.create", topic: topic("Kept") });
  await engine.produce("Gone", [{ g: 1 }]);
  t.is((await engine.readFrom("Gone", 0, 0, 10)).records.length, 1);
  t.is((await engine.offsets("Gone"))[0]?.high, 1);
  // Dropped by another client: this engine's clients still have it in their metadata.
  const other = await open(t, target);
  await other.apply({ kind: "topic.drop", topic: gone });
  await engine.produce("Kept", [{ k: 1 }]);
  t.deepEqual((await engine.readFrom("Kept", 0, 0, 10)).records.map((r) => r.value), [{ k: 1 }]);
  t.deepEqual(await engine.offsets("Kept"), [{ partition: 0, low: 0, high: 1 }]);
  await engine.apply({ kind: "topic.create", topic: topic("Later") });
  t.deepEqual(Object.keys(await engine.introspect()).sort(), ["Kept", "Later"]);
  const error = await t.throwsAsync(engine.readFrom("Gone", 0, 0, 10), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_UNKNOWN_TOPIC");
});

scenario("a record another producer wrote that is not JSON is reported with its offset, and can be skipped", async (t, target) => {
  const engine = await open(t, target);
  await engine.apply({ kind: "topic.create", topic: topic("Mixed") });
  const producer = new kafkajs.Kafka({ brokers: [...target.brokers], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 1 } }).producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({ topic: physical(target, "Mixed"), messages: [{ value: '{"ok":1}' }, { value: "not json" }, { value: '{"ok":2}' }] });
  } finally {
    await producer.disconnect();
  }
  const first = await engine.readFrom("Mixed", 0, 0, 10);
  t.deepEqual(first.records.map((r) => r.value), [{ ok: 1 }], "what precedes the bad record");
  t.is(first.nextOffset, 1);
  const error = await t.throwsAsync(engine.readFrom("Mixed", 0, 1, 10), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_RECORD_NOT_JSON");
  t.is(error?.message, 'record at offset 1 of topic Mixed partition 0 is not JSON: "not json"');
  t.regex(error?.hint ?? "", /reading from offset 2/);
  t.deepEqual((await engine.readFrom("Mixed", 0, 2, 10)).records.map((r) => [r.offset, r.value]), [[2, { ok: 2 }]]);
});

scenario("producing to a missing topic is STREAM_UNKNOWN_TOPIC and creates nothing", async (t, target) => {
  const engine = await open(t, target);
  const error = await t.throwsAsync(engine.produce("Nope", [{ a: 1 }]), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_UNKNOWN_TOPIC");
  t.regex(error?.message ?? "", /^cannot produce to Nope on Kafka at /);
  t.deepEqual(await engine.introspect(), {});
  if (target.server) t.deepEqual(target.server.requestsOf("CreateTopics"), []);
  await t.throwsAsync(engine.produce("Nope", [() => 1]), { instanceOf: InvalidInputError, message: "record 0 for topic Nope is not a JSON value (function)" });
});

// ---------------------------------------------------------------- connection failures (test broker only)

test("an unreachable broker fails with STREAM_UNREACHABLE within seconds", async (t) => {
  const server = await startKafkaTestServer();
  const [address] = server.brokers;
  await server.close(); // nothing listens there any more
  const started = Date.now();
  const error = await t.throwsAsync(openStreamEngine(kafkaConfig([address!])), { instanceOf: EngineError });
  const elapsed = Date.now() - started;
  t.is(error?.code, "STREAM_UNREACHABLE");
  t.regex(error?.message ?? "", new RegExp(`^cannot connect to Kafka at ${address!.replace(/\./g, "\\.")}: .*ECONNREFUSED`));
  t.regex(error?.hint ?? "", /embedded stream engine/);
  t.true(elapsed < 5000, `failed after ${elapsed} ms`);
});

test("a broker that accepts connections but never answers times out within seconds", async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        silent.close(() => resolve());
      }),
  );
  const address = silent.address();
  const broker = typeof address === "object" && address ? `127.0.0.1:${address.port}` : "";
  const started = Date.now();
  const error = await t.throwsAsync(openKafkaStreamEngine(kafkaConfig([broker]), { connectionTimeoutMs: 500, requestTimeoutMs: 1000, retries: 1 }), { instanceOf: EngineError });
  const elapsed = Date.now() - started;
  t.is(error?.code, "STREAM_UNREACHABLE");
  t.is(error?.message, `cannot connect to Kafka at ${broker}: the broker accepted the connection but did not answer the Kafka handshake in time`);
  t.true(elapsed < 8000, `failed after ${elapsed} ms`);
});

test("other change kinds are not the kafka engine's business", async (t) => {
  const server = await startKafkaTestServer();
  t.teardown(() => server.close());
  const engine = await openStreamEngine(kafkaConfig(server.brokers), { kafka: FAST });
  t.teardown(() => engine.close());
  t.is(engine.kind, "kafka");
  await t.throwsAsync(engine.apply({ kind: "process.drop", process: { name: "p", sourceTopic: "a", targetTable: "b" } }), {
    message: /the kafka stream engine applies topic\.\* changes only; process\.drop is not its business/,
  });
});

// ---------------------------------------------------------------- client configuration (pure)

test("kafkaClientConfig maps the security protocol, SASL and timeouts", (t) => {
  const sasl = { mechanism: "scram-sha-512" as const, username: "moose", password: "secret" };
  const saslSsl = kafkaClientConfig(kafkaConfig(["a:9092", "b:9092"], { securityProtocol: "SASL_SSL", sasl, messageTimeoutMs: 3000 }));
  t.like(saslSsl, { clientId: "moose-migrate", brokers: ["a:9092", "b:9092"], ssl: true, sasl, connectionTimeout: 3000, requestTimeout: 10_000, retry: { retries: 2 } });
  t.like(kafkaClientConfig(kafkaConfig(["a:9092"], { securityProtocol: "SASL_PLAINTEXT", sasl })), { ssl: false, sasl });
  const ssl = kafkaClientConfig(kafkaConfig(["a:9092"], { securityProtocol: "SSL" }));
  t.is(ssl.ssl, true);
  t.is(ssl.sasl, undefined);
  const plain = kafkaClientConfig(kafkaConfig(["a:9092"], { messageTimeoutMs: 60_000 }), { clientId: "x", retries: 0 });
  t.like(plain, { clientId: "x", ssl: false, connectionTimeout: 10_000, requestTimeout: 120_000, retry: { retries: 0 } });
  t.is(plain.sasl, undefined);
  t.is(plain.logLevel, kafkajs.logLevel.NOTHING, "the library never prints");
});

// ---------------------------------------------------------------- the test broker itself, over raw TCP

/** Sends one request frame and returns the response body (after the correlation id). */
async function rawRequest(broker: string, apiKey: number, version: number, body: Buffer): Promise<Buffer> {
  const [host, port] = broker.split(":");
  const { connect } = await import("node:net");
  const socket = connect(Number(port), host!);
  try {
    const header = new WireWriter().int16(apiKey).int16(version).int32(42).string("raw-test").toBuffer();
    const payload = Buffer.concat([header, body]);
    socket.write(Buffer.concat([new WireWriter().int32(payload.length).toBuffer(), payload]));
    let received = Buffer.alloc(0);
    for await (const chunk of socket) {
      received = Buffer.concat([received, chunk as Buffer]);
      if (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) break;
    }
    if (received.length < 8) throw new Error("connection closed without a response");
    if (received.readInt32BE(4) !== 42) throw new Error("wrong correlation id");
    return received.subarray(8, 4 + received.readInt32BE(0));
  } finally {
    socket.destroy();
  }
}

/** A one-record v2 batch holding `value`, with its CRC-32C right or deliberately wrong. */
function recordBatch(value: string, corruptCrc: boolean): Buffer {
  const bytes = Buffer.from(value);
  // attributes, timestamp delta, offset delta, key = null (-1), value length, value, no headers: zigzag varints < 64 are one byte.
  const record = Buffer.concat([Buffer.from([0, 0, 0, 1, bytes.length * 2]), bytes, Buffer.from([0])]);
  const afterCrc = new WireWriter()
    .int16(0)
    .int32(0)
    .int64(Date.now())
    .int64(Date.now())
    .int64(-1)
    .int16(-1)
    .int32(-1)
    .int32(1)
    .raw(Buffer.from([record.length * 2]))
    .raw(record)
    .toBuffer();
  const crc = (crc32c(afterCrc) ^ (corruptCrc ? 1 : 0)) >>> 0;
  const afterLength = new WireWriter().int32(0).int8(2).uint32(crc).raw(afterCrc).toBuffer();
  return new WireWriter().int64(0).int32(afterLength.length).raw(afterLength).toBuffer();
}

test("test broker: a batch whose CRC-32C does not match is refused with CORRUPT_MESSAGE and not stored", async (t) => {
  const server = await startKafkaTestServer();
  t.teardown(() => server.close());
  const engine = await openStreamEngine(kafkaConfig(server.brokers), { kafka: FAST });
  t.teardown(() => engine.close());
  await engine.apply({ kind: "topic.create", topic: topic("Raw") });
  const produce = (batch: Buffer) =>
    new WireWriter()
      .string(null)
      .int16(-1)
      .int32(1000)
      .array([0], (w) => w.string("Raw").array([0], (w) => w.int32(0).bytes(batch)))
      .toBuffer();
  const answer = (body: Buffer) => {
    const r = new WireReader(body);
    return r.array((r) => ({ topic: r.string(), partitions: r.array((r) => ({ partition: r.int32(), errorCode: r.int16(), baseOffset: Number(r.int64()) })) }));
  };
  const good = answer(await rawRequest(server.brokers[0]!, 0, 7, produce(recordBatch('{"raw":1}', false))));
  t.like(good[0]?.partitions[0], { errorCode: 0, baseOffset: 0 });
  const bad = answer(await rawRequest(server.brokers[0]!, 0, 7, produce(recordBatch('{"raw":2}', true))));
  t.like(bad[0]?.partitions[0], { errorCode: 2, baseOffset: -1 });
  t.deepEqual((await engine.readFrom("Raw", 0, 0, 10)).records.map((r) => r.value), [{ raw: 1 }]);
});

test("test broker: ApiVersions at an unknown version answers UNSUPPORTED_VERSION with the versions it serves", async (t) => {
  const server = await startKafkaTestServer();
  t.teardown(() => server.close());
  const r = new WireReader(await rawRequest(server.brokers[0]!, 18, 9, Buffer.alloc(0)));
  t.is(r.int16(), 35);
  const versions = r.array((r) => [r.int16(), r.int16(), r.int16()]);
  t.deepEqual(versions.find(([key]) => key === 18), [18, 0, 2]);
  t.deepEqual(versions.find(([key]) => key === 3), [3, 6, 6]);
  t.like(server.requests[0], { api: "ApiVersions", version: 9, unsupported: true });
});
