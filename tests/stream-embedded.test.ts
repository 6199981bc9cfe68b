import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { EmbeddedStreamingConfig } from "../lib/config/config.js";
import { EngineError, InvalidInputError, RefusedError } from "../lib/errors.js";
import type { Topic } from "../lib/model/infra-map.js";
import { openEmbeddedStreamEngine, type EmbeddedStreamOptions } from "../lib/engines/stream/embedded.js";
import { openStreamEngine, type StreamEngine } from "../lib/engines/stream/engine.js";
import { murmur2, partitionForKey } from "../lib/engines/stream/partitioner.js";

const ENGINE_URL = pathToFileURL(fileURLToPath(new URL("../lib/engines/stream/engine.js", import.meta.url))).href;

function topic(name: string, more: Partial<Topic> = {}): Topic {
  return { name, partitions: 1, config: {}, columns: [{ name: "id", type: "String" }], lifeCycle: "FULLY_MANAGED", ...more };
}

function configFor(dataDir: string, more: Partial<EmbeddedStreamingConfig> = {}): EmbeddedStreamingConfig {
  return { engine: "embedded", dataDir, messageTimeoutMs: 1000, retentionMs: 30_000, replicationFactor: 1, ...more };
}

async function fresh(t: ExecutionContext, more: Partial<EmbeddedStreamingConfig> = {}, options: EmbeddedStreamOptions = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  const engines: StreamEngine[] = [];
  const open = async (o: EmbeddedStreamOptions = options) => {
    const engine = await openEmbeddedStreamEngine(configFor(dataDir, more), o);
    engines.push(engine);
    return engine;
  };
  t.teardown(async () => {
    for (const engine of engines) await engine.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { dataDir, engine: await open(), open };
}

async function readAll(engine: StreamEngine, name: string, partition: number) {
  const out = [];
  let offset = 0;
  for (;;) {
    const batch = await engine.readFrom(name, partition, offset, 1000);
    out.push(...batch.records);
    if (batch.records.length === 0 || batch.nextOffset >= batch.highWatermark) break;
    offset = batch.nextOffset;
  }
  return out;
}

// ---------------------------------------------------------------- lifecycle

test("openStreamEngine picks the embedded engine for engine = embedded", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const engine = await openStreamEngine(configFor(dataDir));
  t.is(engine.kind, "embedded");
  t.deepEqual(await engine.introspect(), {});
  await engine.close();
  await t.throwsAsync(engine.introspect(), { instanceOf: EngineError, message: /is closed/ });
});

test("create, modify and drop a topic; introspection reports the settings in effect", async (t) => {
  const { engine, dataDir } = await fresh(t, { namespace: "dev", retentionMs: 45_000, replicationFactor: 1 });
  const events = topic("Events", { partitions: 2, config: { "cleanup.policy": "delete" } });
  await engine.apply({ kind: "topic.create", topic: events });
  // Physical name carries the namespace; the logical name comes back.
  t.deepEqual(await readdir(join(dataDir, "topics")), ["dev.Events"]);
  t.deepEqual(await engine.introspect(), {
    Events: { name: "Events", partitions: 2, retentionMs: 45_000, replicationFactor: 1, config: { "cleanup.policy": "delete" } },
  });

  const grown = { ...events, partitions: 4, retentionMs: 1000, config: { "cleanup.policy": "compact", "max.message.bytes": "2048" } };
  await engine.apply({ kind: "topic.modify", before: events, after: grown });
  t.deepEqual(await engine.introspect(), {
    Events: { name: "Events", partitions: 4, retentionMs: 1000, replicationFactor: 1, config: { "cleanup.policy": "compact", "max.message.bytes": "2048" } },
  });
  await engine.produce("Events", [{ id: "p3" }], { partition: 3 });
  t.deepEqual((await engine.readFrom("Events", 3, 0, 10)).records.map((r) => r.value), [{ id: "p3" }]);
  // Settings were replaced atomically: no temp files next to topic.json.
  t.deepEqual((await readdir(join(dataDir, "topics", "dev.Events"))).filter((f) => f.endsWith(".tmp")), []);

  // A columns-only change is nothing to the stream engine.
  await engine.apply({ kind: "topic.modify", before: grown, after: { ...grown, columns: [] } });

  await engine.apply({ kind: "topic.drop", topic: grown });
  t.deepEqual(await engine.introspect(), {});
  t.deepEqual(await readdir(join(dataDir, "topics")), []);
  t.deepEqual(await readdir(join(dataDir, "tmp")), []);
});

test("introspection leaves out topics of other namespaces", async (t) => {
  const { engine, dataDir } = await fresh(t, { namespace: "dev" });
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const prod = await openEmbeddedStreamEngine(configFor(dataDir, { namespace: "prod" }));
  t.teardown(() => prod.close());
  await prod.apply({ kind: "topic.create", topic: topic("Events", { partitions: 3 }) });
  t.deepEqual(await readdir(join(dataDir, "topics")), ["dev.Events", "prod.Events"]);
  t.is((await engine.introspect()).Events?.partitions, 1);
  t.is((await prod.introspect()).Events?.partitions, 3);
  t.deepEqual(Object.keys(await engine.introspect()), ["Events"]);
});

test("refuses to decrease partitions or change the replication factor, and changes nothing", async (t) => {
  const { engine, dataDir } = await fresh(t);
  const events = topic("UserEvents", { partitions: 4, replicationFactor: 1 });
  await engine.apply({ kind: "topic.create", topic: events });
  const before = await readFile(join(dataDir, "topics", "UserEvents", "topic.json"), "utf8");

  const decrease = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: events, after: { ...events, partitions: 2, retentionMs: 5 } }), {
    instanceOf: RefusedError,
  });
  t.is(decrease?.code, "TOPIC_PARTITIONS_DECREASE");
  t.is(decrease?.exit, "refused");
  t.regex(decrease?.message ?? "", /cannot reduce topic UserEvents from 4 to 2 partitions: Kafka can only add partitions/);
  t.regex(decrease?.hint ?? "", /new version of the stream \(topic UserEvents_2, e\.g\. `version: "2"`\) with 2 partitions.*backfill it from UserEvents/);

  const replication = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: events, after: { ...events, replicationFactor: 3 } }), {
    instanceOf: RefusedError,
  });
  t.is(replication?.code, "TOPIC_REPLICATION_FACTOR_CHANGE");
  t.regex(replication?.message ?? "", /from 1 to 3: Kafka changes it only by reassigning partitions/);

  t.is(await readFile(join(dataDir, "topics", "UserEvents", "topic.json"), "utf8"), before);
});

test("the next version of a versioned topic is suggested", async (t) => {
  const { engine } = await fresh(t);
  const v2 = topic("Events_2", { partitions: 3 });
  await engine.apply({ kind: "topic.create", topic: v2 });
  const error = await t.throwsAsync(engine.apply({ kind: "topic.modify", before: v2, after: { ...v2, partitions: 1 } }), { instanceOf: RefusedError });
  t.regex(error?.hint ?? "", /topic Events_3, e\.g\. `version: "3"`/);
});

test("other change kinds are not the stream engine's business", async (t) => {
  const { engine } = await fresh(t);
  await t.throwsAsync(engine.apply({ kind: "workflow.drop", workflow: { name: "w", retries: 1, paused: false } }), {
    message: /applies topic\.\* changes only; workflow\.drop is not its business/,
  });
});

test("errors name the topic: exists, unknown, invalid settings and records", async (t) => {
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const exists = await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 3 }) }), { instanceOf: EngineError });
  t.is(exists?.code, "STREAM_TOPIC_EXISTS");
  t.is(exists?.message, `cannot create topic Events: it already exists in the embedded stream engine at ${dataDir}`);
  t.is((await engine.introspect()).Events?.partitions, 1);

  for (const attempt of [
    engine.produce("Nope", [{}]),
    engine.readFrom("Nope", 0, 0, 1),
    engine.offsets("Nope"),
    engine.apply({ kind: "topic.drop", topic: topic("Nope") }),
    engine.apply({ kind: "topic.modify", before: topic("Nope"), after: topic("Nope", { partitions: 2 }) }),
  ]) {
    const error = await t.throwsAsync(attempt, { instanceOf: EngineError });
    t.is(error?.code, "STREAM_UNKNOWN_TOPIC");
    t.regex(error?.message ?? "", /^topic Nope does not exist in the embedded stream engine/);
  }

  await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("bad/name") }), { instanceOf: InvalidInputError, code: "TOPIC_NAME_INVALID" });
  await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Zero", { partitions: 0 }) }), { instanceOf: InvalidInputError, message: /partitions must be a whole number, at least 1, found 0/ });
  await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic("Both", { retentionMs: 5, config: { "retention.ms": "6" } }) }), { message: /disagree/ });
  await t.throwsAsync(engine.produce("Events", [{ ok: 1 }, undefined]), { instanceOf: InvalidInputError, message: "record 1 for topic Events is not a JSON value (undefined)" });
  await t.throwsAsync(engine.produce("Events", [{ big: 1n }]), { instanceOf: InvalidInputError, message: /record 0 for topic Events cannot be written as JSON/ });
  await t.throwsAsync(engine.produce("Events", [1], { partition: 1 }), { instanceOf: EngineError, message: "topic Events has no partition 1: it has 1 (0 to 0)" });
  t.deepEqual(await engine.offsets("Events"), [{ partition: 0, low: 0, high: 0 }], "nothing was written by the failed produces");
});

// ---------------------------------------------------------------- reads

test("readFrom pages through a partition with offsets, keys and timestamps", async (t) => {
  const { engine } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  await engine.produce("Events", [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }], { partition: 1 });
  await engine.produce("Events", [{ n: 5 }], { partition: 1, key: "user-1" });
  const first = await engine.readFrom("Events", 1, 0, 2);
  t.deepEqual(first.records.map((r) => [r.offset, r.value]), [[0, { n: 0 }], [1, { n: 1 }]]);
  t.is(first.nextOffset, 2);
  t.is(first.highWatermark, 6);
  t.is(first.logStartOffset, 0);
  t.true(first.records.every((r) => r.partition === 1 && Math.abs(r.timestamp - Date.now()) < 60_000));
  const rest = await engine.readFrom("Events", 1, first.nextOffset, 100);
  t.deepEqual(rest.records.map((r) => r.offset), [2, 3, 4, 5]);
  t.is(rest.records[3]?.key, "user-1");
  t.is(rest.records[0]?.key, undefined);
  const atEnd = await engine.readFrom("Events", 1, 6, 10);
  t.deepEqual(atEnd.records, []);
  t.is(atEnd.nextOffset, 6);
  await t.throwsAsync(engine.readFrom("Events", 1, 7, 10), { instanceOf: EngineError, message: /offset 7 is past the end of topic Events partition 1 \(next offset 6\)/ });
  await t.throwsAsync(engine.readFrom("Events", 1, -1, 10), { instanceOf: InvalidInputError });
  t.deepEqual(await engine.offsets("Events"), [
    { partition: 0, low: 0, high: 0 },
    { partition: 1, low: 0, high: 6 },
  ]);
});

test("records without a partition are spread round-robin; a key always picks Kafka's partition for it", async (t) => {
  const { engine } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 3 }) });
  await engine.produce("Events", Array.from({ length: 9 }, (_, i) => ({ i })));
  t.deepEqual((await engine.offsets("Events")).map((o) => o.high), [3, 3, 3]);
  await engine.produce("Events", [{ k: 1 }, { k: 2 }], { key: "customer-42" });
  const keyed = partitionForKey("customer-42", 3);
  t.is((await engine.offsets("Events"))[keyed]?.high, 5);
});

test("murmur2 matches kafkajs's DefaultPartitioner hash (and so Java's)", (t) => {
  const require = createRequire(import.meta.url);
  const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: Buffer) => number;
  for (const key of ["", "a", "ab", "abc", "abcd", "customer-42", "ünïcödé", "x".repeat(101)]) {
    t.is(murmur2(Buffer.from(key)), kafkajsMurmur2(Buffer.from(key)), key);
  }
});

// ---------------------------------------------------------------- durability

test("topics and records survive closing and reopening the engine", async (t) => {
  const { engine, open } = await fresh(t, {}, { segmentBytes: 256 });
  const events = topic("Events", { partitions: 2, retentionMs: 60_000, config: { "cleanup.policy": "delete" } });
  await engine.apply({ kind: "topic.create", topic: events });
  for (let i = 0; i < 20; i++) await engine.produce("Events", [{ i, text: "x".repeat(20) }], { partition: i % 2 });
  const described = await engine.introspect();
  await engine.close();

  const reopened = await open();
  t.deepEqual(await reopened.introspect(), described);
  const evens = await readAll(reopened, "Events", 0);
  t.deepEqual(evens.map((r) => [r.offset, (r.value as { i: number }).i]), Array.from({ length: 10 }, (_, k) => [k, 2 * k]));
  // Appends continue the offsets, across several (small) segments.
  await reopened.produce("Events", [{ i: 100 }], { partition: 0 });
  t.deepEqual((await reopened.readFrom("Events", 0, 10, 5)).records.map((r) => [r.offset, r.value]), [[10, { i: 100 }]]);
});

test("a torn last line (a writer that died mid-write) is cut off before the next append", async (t) => {
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  await engine.produce("Events", [{ n: 0 }, { n: 1 }]);
  const segment = join(dataDir, "topics", "Events", "0", "00000000000000000000.log");
  await appendFile(segment, '{"offset":2,"timestamp":1,"value":{"n":');
  // Readers never see the partial line.
  t.is((await engine.readFrom("Events", 0, 0, 10)).records.length, 2);
  t.is((await engine.offsets("Events"))[0]?.high, 2);
  await engine.produce("Events", [{ n: 2 }]);
  t.deepEqual((await readAll(engine, "Events", 0)).map((r) => [r.offset, r.value]), [[0, { n: 0 }], [1, { n: 1 }], [2, { n: 2 }]]);
});

test("retention deletes whole old segments lazily; reads then start at the log start offset", async (t) => {
  const { engine, dataDir } = await fresh(t, {}, { segmentBytes: 100, retentionCheckIntervalMs: 0 });
  await engine.apply({ kind: "topic.create", topic: topic("Events", { retentionMs: 60_000 }) });
  for (let i = 0; i < 6; i++) await engine.produce("Events", [{ i, pad: "y".repeat(60) }]);
  const dir = join(dataDir, "topics", "Events", "0");
  const segments = (await readdir(dir)).filter((f) => f.endsWith(".log")).sort();
  t.true(segments.length >= 3, `rolled into ${segments.length} segments`);
  // Age every segment but the active one past retention.
  const old = new Date(Date.now() - 120_000);
  for (const s of segments.slice(0, -1)) await utimes(join(dir, s), old, old);
  await engine.produce("Events", [{ i: 6 }]);
  const left = (await readdir(dir)).filter((f) => f.endsWith(".log")).sort();
  t.false(left.includes(segments[0]!), "the oldest segment is gone");
  const offsets = (await engine.offsets("Events"))[0]!;
  t.true(offsets.low > 0);
  t.is(offsets.high, 7);
  const read = await engine.readFrom("Events", 0, 0, 100);
  t.is(read.logStartOffset, offsets.low);
  t.is(read.records[0]?.offset, offsets.low);
  t.is(read.records[read.records.length - 1]?.offset, 6);
});

test("a lock left by a dead process is broken", async (t) => {
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const dead = spawn(process.execPath, ["-e", ""]);
  const pid = await new Promise<number>((resolve) => dead.on("exit", () => resolve(dead.pid!)));
  const { hostname } = await import("node:os");
  await writeFile(join(dataDir, "topics", "Events", "0", "append.lock"), `${pid}@${hostname()} deadbeef`);
  await engine.produce("Events", [{ after: "crash" }]);
  t.deepEqual((await engine.readFrom("Events", 0, 0, 10)).records.map((r) => r.value), [{ after: "crash" }]);
  t.false((await readdir(join(dataDir, "topics", "Events", "0"))).includes("append.lock"));
});

// ---------------------------------------------------------------- concurrency

test("concurrent appends from two engines in one process lose nothing", async (t) => {
  const { engine, open } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  const other = await open();
  const calls = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? engine : other).produce("Events", [{ w: i % 2, i, j: 0 }, { w: i % 2, i, j: 1 }]));
  await Promise.all(calls);
  const seen = new Set<string>();
  for (const partition of [0, 1]) {
    const records = await readAll(engine, "Events", partition);
    t.deepEqual(records.map((r) => r.offset), records.map((_, k) => k), `partition ${partition} offsets are gap-free`);
    for (const r of records) seen.add(JSON.stringify(r.value));
  }
  t.is(seen.size, 200);
});

test("two processes appending concurrently lose nothing and never share an offset", async (t) => {
  t.timeout(90_000);
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  const CALLS = 200;
  const PER_CALL = 3;
  // Each worker opens its own engine, says "ready", waits for "go" so both contend at once,
  // then fires all its produce calls concurrently.
  const worker = `
    const [url, dataDir, tag, calls, perCall] = process.argv.slice(1);
    const { openStreamEngine } = await import(url);
    const engine = await openStreamEngine({ engine: "embedded", dataDir, messageTimeoutMs: 1000, retentionMs: 600000, replicationFactor: 1 });
    process.stdout.write("ready\\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    // 10 concurrent lanes of sequential produce calls, so the two processes overlap for a while.
    let next = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let c = next++; c < Number(calls); c = next++) {
        await engine.produce("Events", Array.from({ length: Number(perCall) }, (_, k) => ({ tag, c, k })));
      }
    }));
    await engine.close();
    process.stdout.write("done\\n");
    process.exit(0);
  `;
  const children = ["A", "B"].map((tag) =>
    spawn(process.execPath, ["--input-type=module", "-e", worker, ENGINE_URL, dataDir, tag, String(CALLS), String(PER_CALL)], { stdio: ["pipe", "pipe", "pipe"] }),
  );
  t.teardown(() => {
    for (const child of children) if (child.exitCode === null) child.kill();
  });
  const outputs = children.map((child) => {
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const ready = new Promise<void>((resolve) => child.stdout.on("data", () => out.includes("ready") && resolve()));
    const exit = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
    return { ready, exit };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const child of children) child.stdin.write("go\n");
  const results = await Promise.all(outputs.map((o) => o.exit));
  for (const r of results) t.is(r.code, 0, r.err);

  const seen = new Map<string, number>();
  let total = 0;
  for (const partition of [0, 1]) {
    const records = await readAll(engine, "Events", partition);
    t.deepEqual(records.map((r) => r.offset), records.map((_, k) => k), `partition ${partition} offsets are gap-free and unique`);
    // How often the writer changes along the log: > 1 shows the two processes really interleaved.
    const switches = records.filter((r, k) => k > 0 && (r.value as { tag: string }).tag !== (records[k - 1]!.value as { tag: string }).tag).length;
    t.log(`partition ${partition}: ${records.length} records, writer switched ${switches} times`);
    for (const r of records) {
      const id = JSON.stringify(r.value);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    total += records.length;
  }
  t.is(total, 2 * CALLS * PER_CALL);
  t.is(seen.size, 2 * CALLS * PER_CALL, "every record exactly once");
  t.true([...seen.values()].every((n) => n === 1));
});
