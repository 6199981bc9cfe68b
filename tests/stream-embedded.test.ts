import test, { type ExecutionContext } from "ava";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import sqlite3 from "sqlite3";
import type { EmbeddedStreamingConfig } from "../lib/config/config.js";
import { EngineError, InvalidInputError, RefusedError } from "../lib/errors.js";
import type { Topic } from "../lib/model/infra-map.js";
import { LOG_FILE, openEmbeddedStreamEngine, type EmbeddedStreamOptions } from "../lib/engines/stream/embedded.js";
import { type StreamEngine, type StreamRecord } from "../lib/engines/stream/engine.js";
import { murmur2, partitionForKey } from "../lib/engines/stream/partitioner.js";
import { queryRows } from "./helpers/ledger-sqlite.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

const ENGINE_URL = pathToFileURL(fileURLToPath(new URL("../lib/engines/stream/open.js", import.meta.url))).href;

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
  const out: StreamRecord[] = [];
  let offset = 0;
  for (;;) {
    const batch = await engine.readFrom(name, partition, offset, 1000);
    out.push(...batch.records);
    if (batch.records.length === 0 || batch.nextOffset >= batch.highWatermark) break;
    offset = batch.nextOffset;
  }
  return out;
}

/** Looks into the log's database through its own read-only connection, never through the engine. */
function inspect(dataDir: string, sql: string, params: unknown[] = []) {
  return queryRows<Record<string, unknown>>(join(dataDir, LOG_FILE), sql, params);
}

async function partitionTables(dataDir: string): Promise<string[]> {
  const rows = await inspect(dataDir, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'log\\_%' ESCAPE '\\' ORDER BY name");
  return rows.map((r) => String(r.name));
}

async function catalog(dataDir: string): Promise<string[]> {
  return (await inspect(dataDir, "SELECT name FROM topics ORDER BY name")).map((r) => String(r.name));
}

// ---------------------------------------------------------------- lifecycle

test("openStreamEngine picks the embedded engine for engine = embedded", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const engine = await openStreamEngine(configFor(dataDir));
  t.is(engine.kind, "embedded");
  t.deepEqual(await engine.introspect(), {});
  t.true((await stat(join(dataDir, LOG_FILE))).isFile());
  t.deepEqual(await inspect(dataDir, "PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
  await engine.close();
  await t.throwsAsync(engine.introspect(), { instanceOf: EngineError, message: /is closed/ });
});

test("a file in the way of the log is reported with its path", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await writeFile(join(dataDir, LOG_FILE), "not a database, just some text that is long enough to have a header page".repeat(20));
  const error = await t.throwsAsync(openEmbeddedStreamEngine(configFor(dataDir)), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_IO_FAILED");
  t.is(error?.message, `cannot open the embedded stream log (${join(dataDir, LOG_FILE)}): SQLITE_NOTADB: file is not a database`);
});

test("create, modify and drop a topic; introspection reports the settings in effect", async (t) => {
  const { engine, dataDir } = await fresh(t, { namespace: "dev", retentionMs: 45_000, replicationFactor: 1 });
  const events = topic("Events", { partitions: 2, config: { "cleanup.policy": "delete" } });
  await engine.apply({ kind: "topic.create", topic: events });
  // Physical name carries the namespace; the logical name comes back.
  t.deepEqual(await catalog(dataDir), ["dev.Events"]);
  t.deepEqual(await partitionTables(dataDir), ["log_1_0", "log_1_1"]);
  t.deepEqual(await engine.introspect(), {
    Events: { name: "Events", partitions: 2, retentionMs: 45_000, replicationFactor: 1, config: { "cleanup.policy": "delete" } },
  });

  const grown = { ...events, partitions: 4, retentionMs: 1000, config: { "cleanup.policy": "compact", "max.message.bytes": "2048" } };
  await engine.apply({ kind: "topic.modify", before: events, after: grown });
  t.deepEqual(await engine.introspect(), {
    Events: { name: "Events", partitions: 4, retentionMs: 1000, replicationFactor: 1, config: { "cleanup.policy": "compact", "max.message.bytes": "2048" } },
  });
  t.deepEqual(await partitionTables(dataDir), ["log_1_0", "log_1_1", "log_1_2", "log_1_3"]);
  await engine.produce("Events", [{ id: "p3" }], { partition: 3 });
  t.deepEqual((await engine.readFrom("Events", 3, 0, 10)).records.map((r) => r.value), [{ id: "p3" }]);

  // A columns-only change is nothing to the stream engine.
  await engine.apply({ kind: "topic.modify", before: grown, after: { ...grown, columns: [] } });

  await engine.apply({ kind: "topic.drop", topic: grown });
  t.deepEqual(await engine.introspect(), {});
  t.deepEqual(await catalog(dataDir), []);
  t.deepEqual(await partitionTables(dataDir), []);
});

test("deleting a topic drops its tables; created again, it is a new log from offset 0", async (t) => {
  const { engine, dataDir } = await fresh(t);
  const events = topic("Events", { partitions: 3 });
  await engine.apply({ kind: "topic.create", topic: events });
  await engine.apply({ kind: "topic.create", topic: topic("Other") });
  await engine.produce("Events", Array.from({ length: 9 }, (_, i) => ({ i })));
  t.deepEqual(await partitionTables(dataDir), ["log_1_0", "log_1_1", "log_1_2", "log_2_0"]);

  await engine.apply({ kind: "topic.drop", topic: events });
  t.deepEqual(await partitionTables(dataDir), ["log_2_0"], "only the other topic's table is left");
  t.deepEqual(await catalog(dataDir), ["Other"]);

  // A new id, never the dropped one's: nobody still holding the old topic can write into this one.
  await engine.apply({ kind: "topic.create", topic: events });
  t.deepEqual(await partitionTables(dataDir), ["log_2_0", "log_3_0", "log_3_1", "log_3_2"]);
  t.deepEqual(await engine.offsets("Events"), [0, 1, 2].map((partition) => ({ partition, low: 0, high: 0 })));
  await t.throwsAsync(engine.readFrom("Events", 0, 3, 10), { instanceOf: EngineError, code: "STREAM_OFFSET_OUT_OF_RANGE" });
  await engine.produce("Events", [{ again: true }], { partition: 0 });
  t.deepEqual((await engine.readFrom("Events", 0, 0, 10)).records.map((r) => [r.offset, r.value]), [[0, { again: true }]]);
});

test("topic names: case, dots and dashes make distinct topics; names SQL would choke on never reach it", async (t) => {
  const { engine, dataDir } = await fresh(t);
  // SQLite folds the case of identifiers: tables named after topics would make these two one.
  const names = ["Events", "events", "my.topic-v_2", "log_1_0", "topics"];
  for (const name of names) await engine.apply({ kind: "topic.create", topic: topic(name) });
  for (const name of names) await engine.produce(name, [{ from: name }]);
  for (const name of names) t.deepEqual((await engine.readFrom(name, 0, 0, 10)).records.map((r) => r.value), [{ from: name }], name);
  t.deepEqual(Object.keys(await engine.introspect()).sort(), [...names].sort());

  const hostile = [`Ev"ents`, "Ev`ents", "Ev'ents", "Événements", "事件", "x]; DROP TABLE topics; --", ""];
  for (const name of hostile) {
    await t.throwsAsync(engine.apply({ kind: "topic.create", topic: topic(name) }), { instanceOf: InvalidInputError, code: "TOPIC_NAME_INVALID" }, name);
    await t.throwsAsync(engine.produce(name, [{}]), { instanceOf: InvalidInputError, code: "TOPIC_NAME_INVALID" }, name);
    await t.throwsAsync(engine.readFrom(name, 0, 0, 1), { instanceOf: InvalidInputError, code: "TOPIC_NAME_INVALID" }, name);
  }
  t.deepEqual(await catalog(dataDir), [...names].sort());
});

test("introspection leaves out topics of other namespaces", async (t) => {
  const { engine, dataDir } = await fresh(t, { namespace: "dev" });
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const prod = await openEmbeddedStreamEngine(configFor(dataDir, { namespace: "prod" }));
  t.teardown(() => prod.close());
  await prod.apply({ kind: "topic.create", topic: topic("Events", { partitions: 3 }) });
  t.deepEqual(await catalog(dataDir), ["dev.Events", "prod.Events"]);
  t.is((await engine.introspect()).Events?.partitions, 1);
  t.is((await prod.introspect()).Events?.partitions, 3);
  t.deepEqual(Object.keys(await engine.introspect()), ["Events"]);
});

test("refuses to decrease partitions or change the replication factor, and changes nothing", async (t) => {
  const { engine, dataDir } = await fresh(t);
  const events = topic("UserEvents", { partitions: 4, replicationFactor: 1 });
  await engine.apply({ kind: "topic.create", topic: events });
  const before = await inspect(dataDir, "SELECT * FROM topics");

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

  t.deepEqual(await inspect(dataDir, "SELECT * FROM topics"), before);
  t.is((await partitionTables(dataDir)).length, 4);
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

test("any JSON value round-trips: strings, numbers, null, arrays, quotes and unicode", async (t) => {
  const { engine } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const values = ["text", `a "quoted" 'one' and a \`tick\``, "ünïcödé 事件 🙂", 0, -1.5, 1e300, null, true, [], [1, [2]], {}, { "k\"ey": { nested: ["x"] } }];
  await engine.produce("Events", values, { key: `k"ey 🙂` });
  const read = await engine.readFrom("Events", 0, 0, 100);
  t.deepEqual(read.records.map((r) => r.value), values);
  t.true(read.records.every((r) => r.key === `k"ey 🙂`));
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

test("offsets covers topics with more partitions than one SQLite compound statement takes", async (t) => {
  const { engine } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Wide", { partitions: 601 }) });
  await engine.produce("Wide", [{ last: true }], { partition: 600 });
  const offsets = await engine.offsets("Wide");
  t.is(offsets.length, 601);
  t.deepEqual(offsets[600], { partition: 600, low: 0, high: 1 });
  t.deepEqual(offsets[0], { partition: 0, low: 0, high: 0 });
});

test("murmur2 matches kafkajs's DefaultPartitioner hash (and so Java's)", (t) => {
  const require = createRequire(import.meta.url);
  const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: Buffer) => number;
  for (const key of ["", "a", "ab", "abc", "abcd", "customer-42", "ünïcödé", "x".repeat(101)]) {
    t.is(murmur2(Buffer.from(key)), kafkajsMurmur2(Buffer.from(key)), key);
  }
});

// ---------------------------------------------------------------- durability and retention

test("topics and records survive closing and reopening the engine", async (t) => {
  const { engine, open } = await fresh(t);
  const events = topic("Events", { partitions: 2, retentionMs: 60_000, config: { "cleanup.policy": "delete" } });
  await engine.apply({ kind: "topic.create", topic: events });
  for (let i = 0; i < 20; i++) await engine.produce("Events", [{ i, text: "x".repeat(20) }], { partition: i % 2 });
  const described = await engine.introspect();
  await engine.close();

  const reopened = await open();
  t.deepEqual(await reopened.introspect(), described);
  const evens = await readAll(reopened, "Events", 0);
  t.deepEqual(evens.map((r) => [r.offset, (r.value as { i: number }).i]), Array.from({ length: 10 }, (_, k) => [k, 2 * k]));
  // Appends continue the offsets.
  await reopened.produce("Events", [{ i: 100 }], { partition: 0 });
  t.deepEqual((await reopened.readFrom("Events", 0, 10, 5)).records.map((r) => [r.offset, r.value]), [[10, { i: 100 }]]);
});

test("retention deletes the records older than retention.ms from the start of the log; reads then start at the log start offset", async (t) => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const { engine, dataDir } = await fresh(t, {}, { retentionCheckIntervalMs: 0, now: () => now });
  await engine.apply({ kind: "topic.create", topic: topic("Events", { retentionMs: 60_000 }) });
  const start = now;
  for (let i = 0; i < 6; i++) {
    await engine.produce("Events", [{ i }]);
    now += 1000;
  }
  t.deepEqual(await engine.offsets("Events"), [{ partition: 0, low: 0, high: 6 }], "nothing is old enough yet");

  // Records 0-3 (stamped start .. start+3s) fall out of a 60 s retention at start+63.5s.
  now = start + 63_500;
  await engine.produce("Events", [{ i: 6 }]);
  t.deepEqual(await engine.offsets("Events"), [{ partition: 0, low: 4, high: 7 }]);
  t.deepEqual(await inspect(dataDir, "SELECT count(*) AS n FROM log_1_0"), [{ n: 3 }], "the rows are deleted, not hidden");
  const read = await engine.readFrom("Events", 0, 0, 100);
  t.is(read.logStartOffset, 4);
  t.deepEqual(read.records.map((r) => [r.offset, r.value]), [[4, { i: 4 }], [5, { i: 5 }], [6, { i: 6 }]]);
  t.is(read.nextOffset, 7);

  // Everything expired: the newest record stays, so the next offset continues from it.
  now += 3_600_000;
  await engine.apply({ kind: "topic.modify", before: topic("Events", { retentionMs: 60_000 }), after: topic("Events", { retentionMs: 1000 }) });
  await engine.produce("Events", [{ i: 7 }]);
  now += 5000;
  await engine.produce("Events", [{ i: 8 }]);
  t.deepEqual(await engine.offsets("Events"), [{ partition: 0, low: 8, high: 9 }]);
  t.deepEqual((await engine.readFrom("Events", 0, 2, 10)).records.map((r) => r.offset), [8]);
});

test("retention never punches a hole: a record stamped earlier than the one before it waits for its predecessors", async (t) => {
  let now = 100_000;
  const { engine } = await fresh(t, {}, { retentionCheckIntervalMs: 0, now: () => now });
  await engine.apply({ kind: "topic.create", topic: topic("Events", { retentionMs: 10_000 }) });
  // Two processes whose clocks disagree: offset 1 carries the older stamp.
  for (const [at, i] of [[100_000, 0], [90_000, 1], [100_500, 2]] as const) {
    now = at;
    await engine.produce("Events", [{ i }]);
  }
  now = 105_000; // cutoff 95 000: offset 1 is older, but offset 0 is not
  await engine.produce("Events", [{ i: 3 }]);
  t.deepEqual((await readAll(engine, "Events", 0)).map((r) => r.offset), [0, 1, 2, 3]);
  now = 110_200; // cutoff 100 200: offsets 0 and 1 go together
  await engine.produce("Events", [{ i: 4 }]);
  t.deepEqual((await readAll(engine, "Events", 0)).map((r) => r.offset), [2, 3, 4]);
});

test("retention -1 keeps every record", async (t) => {
  let now = 0;
  const { engine } = await fresh(t, {}, { retentionCheckIntervalMs: 0, now: () => now });
  await engine.apply({ kind: "topic.create", topic: topic("Forever", { retentionMs: -1 }) });
  for (let i = 0; i < 3; i++) {
    await engine.produce("Forever", [{ i }]);
    now += 365 * 86_400_000;
  }
  t.deepEqual(await engine.offsets("Forever"), [{ partition: 0, low: 0, high: 3 }]);
});

/** Runs a script in a fresh Node.js process with the engine module's URL and the data directory as arguments. */
function child(script: string, args: readonly string[]): { proc: ChildProcessWithoutNullStreams; saw: (text: string) => Promise<void>; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> } {
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script, ENGINE_URL, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const waiters: Array<() => void> = [];
  proc.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    for (const w of waiters) w();
  });
  proc.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const saw = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => out.includes(text) && resolve();
      waiters.push(check);
      proc.on("exit", () => reject(new Error(`child exited before printing ${text}: ${err}`)));
      check();
    });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal, out, err })),
  );
  return { proc, saw, exit };
}

test("a producer killed mid-write leaves no partial batch, no gap and no lock behind", async (t) => {
  t.timeout(60_000);
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  const script = `
    const [url, dataDir] = process.argv.slice(1);
    const { openStreamEngine } = await import(url);
    const engine = await openStreamEngine({ engine: "embedded", dataDir, messageTimeoutMs: 1000, retentionMs: 600000, replicationFactor: 1 });
    for (let batch = 0; ; batch++) {
      await engine.produce("Events", Array.from({ length: 50 }, (_, k) => ({ batch, k, pad: "x".repeat(200) })));
      if (batch === 3) process.stdout.write("going\\n");
    }
  `;
  const writer = child(script, [dataDir]);
  t.teardown(() => void writer.proc.kill("SIGKILL"));
  await writer.saw("going");
  await sleep(150);
  writer.proc.kill("SIGKILL");
  t.is((await writer.exit).signal, "SIGKILL");

  const records = await readAll(engine, "Events", 0);
  t.true(records.length >= 200, `${records.length} records written before the kill`);
  t.deepEqual(records.map((r) => r.offset), records.map((_, k) => k), "gap-free");
  t.is(records.length % 50, 0, "whole batches only");
  // The dead process's lock went with it: this append neither waits nor fails.
  const started = Date.now();
  await engine.produce("Events", [{ after: "kill" }]);
  t.true(Date.now() - started < 5000);
  t.deepEqual((await engine.readFrom("Events", 0, records.length, 10)).records.map((r) => [r.offset, r.value]), [[records.length, { after: "kill" }]]);
});

test("a producer waits while another connection holds the write lock, up to busyTimeoutMs", async (t) => {
  const { engine, dataDir, open } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events") });
  await engine.produce("Events", [{ n: 0 }]);
  const holder = await new Promise<sqlite3.Database>((resolve, reject) => {
    const db: sqlite3.Database = new sqlite3.Database(join(dataDir, LOG_FILE), (error) => (error ? reject(error) : resolve(db)));
  });
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const exec = (sql: string) => new Promise<void>((resolve, reject) => holder.exec(sql, (error) => (error ? reject(error) : resolve())));
  const impatient = await open({ busyTimeoutMs: 200 });
  await exec("BEGIN IMMEDIATE; INSERT INTO log_1_0 (\"offset\", \"timestamp\", \"value\") VALUES (1, 0, '{\"n\":\"held\"}')");

  const error = await t.throwsAsync(impatient.produce("Events", [{ n: "gives up" }]), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_LOCK_TIMEOUT");
  t.regex(error?.message ?? "", /^cannot produce to topic Events: the embedded stream log .*log\.sqlite stayed locked by another process for longer than 200 ms$/);

  let done = false;
  const waiting = engine.produce("Events", [{ n: "waited" }]).then(() => (done = true));
  await sleep(300);
  t.false(done, "still waiting for the lock");
  await exec("COMMIT");
  await waiting;
  t.deepEqual((await readAll(engine, "Events", 0)).map((r) => [r.offset, r.value]), [
    [0, { n: 0 }],
    [1, { n: "held" }],
    [2, { n: "waited" }],
  ]);
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

/**
 * Starts one process per tag; each opens its own engine, says "ready", waits for "go" so
 * all contend at once, then makes `calls` produce calls of `perCall` records from 10
 * concurrent lanes of sequential calls.
 */
async function produceFromProcesses(t: ExecutionContext, dataDir: string, tags: readonly string[], calls: number, perCall: number, partition?: number) {
  const script = `
    const [url, dataDir, tag, calls, perCall, partition] = process.argv.slice(1);
    const { openStreamEngine } = await import(url);
    const engine = await openStreamEngine({ engine: "embedded", dataDir, messageTimeoutMs: 1000, retentionMs: 600000, replicationFactor: 1 });
    const options = partition === "" ? {} : { partition: Number(partition) };
    process.stdout.write("ready\\n");
    await new Promise((resolve) => process.stdin.once("data", resolve));
    let next = 0;
    await Promise.all(Array.from({ length: 10 }, async (_, lane) => {
      for (let c = next++; c < Number(calls); c = next++) {
        await engine.produce("Events", Array.from({ length: Number(perCall) }, (_, k) => ({ tag, lane, c, k })), options);
      }
    }));
    await engine.close();
    process.stdout.write("done\\n");
    process.exit(0);
  `;
  const children = tags.map((tag) => child(script, [dataDir, tag, String(calls), String(perCall), partition === undefined ? "" : String(partition)]));
  t.teardown(() => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  });
  await Promise.all(children.map((c) => c.saw("ready")));
  for (const c of children) c.proc.stdin.write("go\n");
  const results = await Promise.all(children.map((c) => c.exit));
  for (const r of results) t.is(r.code, 0, r.err);
}

test("two processes appending concurrently lose nothing and never share an offset", async (t) => {
  t.timeout(90_000);
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  const CALLS = 200;
  const PER_CALL = 3;
  await produceFromProcesses(t, dataDir, ["A", "B"], CALLS, PER_CALL);

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

test("two processes producing 1,000 records each into one partition get offsets 0..1999, each record once, each lane in order", async (t) => {
  t.timeout(90_000);
  const { engine, dataDir } = await fresh(t);
  await engine.apply({ kind: "topic.create", topic: topic("Events", { partitions: 2 }) });
  await produceFromProcesses(t, dataDir, ["A", "B"], 1000, 1, 1);

  const records = await readAll(engine, "Events", 1);
  t.deepEqual(records.map((r) => r.offset), Array.from({ length: 2000 }, (_, k) => k));
  t.deepEqual(await engine.offsets("Events"), [
    { partition: 0, low: 0, high: 0 },
    { partition: 1, low: 0, high: 2000 },
  ]);
  const values = records.map((r) => r.value as { tag: string; lane: number; c: number });
  t.is(new Set(values.map((v) => `${v.tag}/${v.c}`)).size, 2000, "no record lost or duplicated");
  for (const tag of ["A", "B"]) t.is(values.filter((v) => v.tag === tag).length, 1000, tag);
  // A lane makes its calls one after the other: its records must appear in that order.
  const lastCall = new Map<string, number>();
  for (const v of values) {
    const lane = `${v.tag}/${v.lane}`;
    t.true((lastCall.get(lane) ?? -1) < v.c, `lane ${lane} in order`);
    lastCall.set(lane, v.c);
  }
  const switches = values.filter((v, k) => k > 0 && v.tag !== values[k - 1]!.tag).length;
  t.log(`writer switched ${switches} times`);
});

// ---------------------------------------------------------------- data directories of the segment-file format

/** Writes a data directory as the segment-file engine left it. */
async function writeLegacyDataDir(dataDir: string): Promise<void> {
  const topicDir = join(dataDir, "topics", "dev.Events");
  await mkdir(join(topicDir, "0"), { recursive: true });
  await mkdir(join(topicDir, "1"), { recursive: true });
  await mkdir(join(dataDir, "topics", "prod.Other", "0"), { recursive: true });
  await mkdir(join(dataDir, "tmp", "create-0123456789ab"), { recursive: true });
  const meta = (name: string, partitions: number, retentionMs: number, config: Record<string, string>) =>
    JSON.stringify({ format: 1, name, partitions, replicationFactor: 1, retentionMs, config, createdAt: "2026-01-01T00:00:00.000Z" }, null, 2) + "\n";
  await writeFile(join(topicDir, "topic.json"), meta("dev.Events", 2, 60_000, { "cleanup.policy": "delete" }));
  await writeFile(
    join(topicDir, "0", "00000000000000000007.log"),
    '{"offset":7,"timestamp":1000,"value":{"n":7}}\n{"offset":8,"timestamp":1001,"key":"user-1","value":{"n":8}}\n{"offset":9,"timestamp":1002,"value":"text"}\n',
  );
  // The active segment, with the torn line of a writer that died mid-write.
  await writeFile(join(topicDir, "0", "00000000000000000010.log"), '{"offset":10,"timestamp":2000,"value":[1,{"q":"\\"x\\""}]}\n{"offset":11,"timestamp":2001,"value":{"n":');
  await writeFile(join(topicDir, "0", "append.lock"), "12345@host deadbeef");
  await writeFile(join(topicDir, "1", "00000000000000000000.log"), "");
  await writeFile(join(dataDir, "topics", "prod.Other", "topic.json"), meta("prod.Other", 1, -1, {}));
  await writeFile(join(dataDir, "topics", "prod.Other", "0", "00000000000000000000.log"), '{"offset":0,"timestamp":5,"value":null}\n');
}

test("a data directory of the segment-file format is imported once: settings, offsets, keys and timestamps kept, old folders removed", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await writeLegacyDataDir(dataDir);

  // Two engines opening at once: one imports, the other waits for it and finds the claim.
  const [dev, alsoDev] = await Promise.all([openEmbeddedStreamEngine(configFor(dataDir, { namespace: "dev" })), openEmbeddedStreamEngine(configFor(dataDir, { namespace: "dev" }))]);
  t.teardown(async () => {
    await dev.close();
    await alsoDev.close();
  });
  t.deepEqual(await readdir(dataDir).then((names) => names.filter((n) => !n.startsWith(LOG_FILE))), [], "topics/ and tmp/ are gone");
  t.deepEqual(await catalog(dataDir), ["dev.Events", "prod.Other"]);
  t.deepEqual(await dev.introspect(), { Events: { name: "Events", partitions: 2, retentionMs: 60_000, replicationFactor: 1, config: { "cleanup.policy": "delete" } } });
  t.deepEqual(await dev.offsets("Events"), [
    { partition: 0, low: 7, high: 11 },
    { partition: 1, low: 0, high: 0 },
  ]);
  const read = await dev.readFrom("Events", 0, 0, 10);
  t.is(read.logStartOffset, 7);
  t.deepEqual(
    read.records.map((r) => ({ ...r })),
    [
      { partition: 0, offset: 7, timestamp: 1000, value: { n: 7 } },
      { partition: 0, offset: 8, timestamp: 1001, key: "user-1", value: { n: 8 } },
      { partition: 0, offset: 9, timestamp: 1002, value: "text" },
      { partition: 0, offset: 10, timestamp: 2000, value: [1, { q: '"x"' }] },
    ],
  );
  await alsoDev.produce("Events", [{ n: 11 }], { partition: 0 });
  t.deepEqual((await dev.readFrom("Events", 0, 11, 10)).records.map((r) => [r.offset, r.value]), [[11, { n: 11 }]]);
  const prod = await openEmbeddedStreamEngine(configFor(dataDir, { namespace: "prod" }));
  t.teardown(() => prod.close());
  t.deepEqual((await prod.readFrom("Other", 0, 0, 10)).records.map((r) => [r.offset, r.timestamp, r.value]), [[0, 5, null]]);
  t.is((await prod.introspect()).Other?.retentionMs, -1);
  t.is((await inspect(dataDir, "SELECT count(*) AS n FROM meta WHERE key = 'segments_imported'"))[0]?.n, 1);
});

test("a damaged segment file stops the import with the file named, and nothing is imported", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "moose-streams-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await writeLegacyDataDir(dataDir);
  const bad = join(dataDir, "topics", "prod.Other", "0", "00000000000000000000.log");
  await writeFile(bad, '{"offset":0,"timestamp":5,"value":null}\nnot json\n');
  const error = await t.throwsAsync(openEmbeddedStreamEngine(configFor(dataDir)), { instanceOf: EngineError });
  t.is(error?.code, "STREAM_LOG_CORRUPT");
  t.true(error?.message.startsWith(`cannot import the old embedded stream log: ${bad}: line 2: `), error?.message);
  t.regex(error?.hint ?? "", /fix or remove the file named/);
  t.deepEqual(await catalog(dataDir), []);
  t.deepEqual(await inspect(dataDir, "SELECT key FROM meta ORDER BY key"), [{ key: "format" }], "the claim was rolled back with the rest");
  t.true((await stat(join(dataDir, "topics"))).isDirectory(), "the old folder is kept");
});
