import test from "ava";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type StreamEngine } from "../lib/engines/stream/engine.js";
import { emptyInfraMap, type InfraMap } from "../lib/model/infra-map.js";
import { loadApp, type LoadedApp } from "../lib/runtime/load-app.js";
import { startStreamFunctions } from "../lib/server/stream-functions.js";
import { topic } from "./helpers/model-builders.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

// The app's stream functions on the embedded log: what each kind of return value produces,
// dead letters with Moose's columns, consumers, addMultiTransform, and offsets kept across a restart.
const dir = mkdtempSync(join(tmpdir(), "moose-stream-functions-"));
let streams: StreamEngine | undefined;

test.before(async () => {
  streams = await openStreamEngine({ engine: "embedded", dataDir: join(dir, "streams"), messageTimeoutMs: 1000, retentionMs: 600_000, replicationFactor: 1 });
});

test.after.always(async () => {
  await streams?.close();
  rmSync(dir, { recursive: true, force: true });
});

const APP = `import { Stream, DeadLetterQueue } from "moose-migrate";

interface In { id: string; n: number; at: Date }
interface Out { id: string; k: number }

export const src = new Stream<In>("Src");
export const a = new Stream<Out>("A");
export const b = new Stream<Out>("B");
export const dlq = new DeadLetterQueue<In>("SrcDLQ");
export const seen: string[] = [];

// n = 0: nothing (undefined); n < 0: null; else n records.
src.addTransform(a, (r) => (r.n === 0 ? undefined : r.n < 0 ? null : Array.from({ length: r.n }, (_, k) => ({ id: r.id, k }))));
// One record, or a throw for "bad"; the date field arrives as a Date.
src.addTransform(b, (r) => {
  if (r.id === "bad") throw new RangeError("bad record " + r.id);
  return { id: r.id, k: r.at.getUTCFullYear() };
}, { deadLetterQueue: dlq });
src.addConsumer((r) => {
  seen.push(r.id);
});
src.addMultiTransform((r) => [a.routed({ id: "m-" + r.id, k: -1 }), b.routed([])]);
dlq.addConsumer((letter) => {
  seen.push("dlq:" + (letter.asTyped() as In).id + ":" + letter.errorType);
});
`;

const col = (name: string, type: string) => ({ name, type });

test.serial("transforms, consumers and multi-transforms run on their topics; a throw becomes Moose's dead letter; offsets survive a restart", async (t) => {
  const s = streams!;
  const project = join(dir, "p");
  mkdirSync(join(project, "app"), { recursive: true });
  writeFileSync(join(project, "app", "index.ts"), APP);
  const app: LoadedApp = await loadApp(join(project, "app", "index.ts"));

  const state: InfraMap = {
    ...emptyInfraMap(),
    topics: {
      Src: topic("Src", { columns: [col("id", "String"), col("n", "Float64"), col("at", "DateTime('UTC')")] }),
      A: topic("A", { columns: [col("id", "String"), col("k", "Float64")] }),
      B: topic("B", { columns: [col("id", "String"), col("k", "Float64")] }),
      SrcDLQ: topic("SrcDLQ", { columns: [col("originalRecord", "JSON"), col("errorMessage", "String"), col("errorType", "String"), col("failedAt", "DateTime('UTC')"), col("source", "String")] }),
    },
  };
  for (const tp of Object.values(state.topics)) await s.apply({ kind: "topic.create", topic: tp });
  const appLog: string[] = [];
  const start = () => startStreamFunctions({ app: () => app, getState: () => state, streams: s, stateDir: join(dir, "state"), log: () => {}, appLog: (l) => appLog.push(l), projectDir: project, pollIntervalMs: 20 });

  let fns = start();
  fns.refresh();
  t.deepEqual(fns.running(), ["SrcDLQ__consumer", "Src__A", "Src__B", "Src__consumer", "Src__multi"]);
  await s.produce("Src", [
    { id: "two", n: 2, at: "2024-05-01T00:00:00Z" },
    { id: "none", n: 0, at: "2023-01-01T00:00:00Z" },
    { id: "null", n: -1, at: "2022-01-01T00:00:00Z" },
    { id: "bad", n: 1, at: "2021-01-01T00:00:00Z" },
  ]);
  await fns.flush();
  await fns.flush(); // the dead-letter consumer reads what the first flush produced

  const read = async (name: string) => (await s.readFrom(name, 0, 0, 100)).records.map((r) => r.value as Record<string, unknown>);
  // Transform to A: an array gives each element, undefined and null give nothing; the multi-transform adds one per record.
  const toA = await read("A");
  t.deepEqual(toA.filter((r) => !String(r.id).startsWith("m-")), [
    { id: "two", k: 0 },
    { id: "two", k: 1 },
    { id: "bad", k: 0 },
  ]);
  t.deepEqual(toA.filter((r) => String(r.id).startsWith("m-")).map((r) => r.id), ["m-two", "m-none", "m-null", "m-bad"]);
  // Transform to B: one record each, the Date field was a Date; "bad" threw.
  t.deepEqual(await read("B"), [
    { id: "two", k: 2024 },
    { id: "none", k: 2023 },
    { id: "null", k: 2022 },
  ]);
  const dead = await read("SrcDLQ");
  t.is(dead.length, 1);
  t.like(dead[0], { errorMessage: "bad record bad", errorType: "RangeError", source: "transform" });
  t.like(dead[0]!.originalRecord as object, { id: "bad", n: 1, at: "2021-01-01T00:00:00Z", __sourcePartition: 0, __sourceOffset: 3 });
  t.regex(String(dead[0]!.failedAt), /^\d{4}-\d\d-\d\dT/);
  t.is(appLog.length, 1);
  t.regex(appLog[0]!, /^✗ transform Src → B failed on record Src\/0@3: app\/index\.ts:16:\d+: RangeError: bad record bad; sent to SrcDLQ$/);
  t.deepEqual(app.exports.seen, ["two", "none", "null", "bad", "dlq:bad:RangeError"]);

  // Stopped and started again: nothing is read twice.
  await fns.stop();
  fns = start();
  fns.refresh();
  await s.produce("Src", [{ id: "later", n: 1, at: "2020-01-01T00:00:00Z" }]);
  await fns.flush();
  await fns.stop();
  t.deepEqual((await read("B")).map((r) => r.id), ["two", "none", "null", "later"]);
  t.deepEqual(app.exports.seen, ["two", "none", "null", "bad", "dlq:bad:RangeError", "later"]);
});
