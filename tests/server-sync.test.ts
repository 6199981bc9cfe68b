import test, { type ExecutionContext } from "ava";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type OlapEngine } from "../lib/engines/olap/engine.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { type StreamEngine } from "../lib/engines/stream/engine.js";
import { emptyInfraMap, type InfraMap } from "../lib/model/infra-map.js";
import { startSyncs, type SyncManager, type SyncOptions } from "../lib/server/sync.js";
import { syncProcess, table, topic } from "./helpers/model-builders.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

// chDB holds one data directory per process (ava runs each file in its own process);
// every test gets its own table, topic and state dir in it.
const dir = mkdtempSync(join(tmpdir(), "moose-server-sync-"));
let olap: OlapEngine | undefined;
let streams: StreamEngine | undefined;

test.before(async () => {
  olap = await openOlapEngine({ engine: "embedded", dataDir: join(dir, "clickhouse"), database: "local" });
  streams = await openStreamEngine({ engine: "embedded", dataDir: join(dir, "streams"), messageTimeoutMs: 1000, retentionMs: 600_000, replicationFactor: 1 });
});

test.after.always(async () => {
  await streams?.close();
  await olap?.close();
  rmSync(dir, { recursive: true, force: true });
});

function engines(): { olap: OlapEngine; streams: StreamEngine } {
  if (olap === undefined || streams === undefined) throw new Error("engines not open");
  return { olap, streams };
}

/** A table and a topic named `name` (2 partitions), and the state with the sync between them. */
async function setup(name: string): Promise<InfraMap> {
  const { olap, streams } = engines();
  const t = table(name, [["id", "String"], ["v", "Float64"], ["at", "DateTime('UTC')"]]);
  for (const sql of statementsFor({ kind: "table.create", table: t }, { database: olap.database, capabilities: await olap.capabilities() })) await olap.execute(sql);
  const tp = topic(name, { partitions: 2, columns: t.columns });
  await streams.apply({ kind: "topic.create", topic: tp });
  const process = syncProcess(`${name}_to_${name}`, name, name);
  return { ...emptyInfraMap(), tables: { [name]: t }, topics: { [name]: tp }, processes: { [process.name]: process } };
}

function manager(t: ExecutionContext, options: Partial<SyncOptions> & Pick<SyncOptions, "getState" | "stateDir">, logs: string[] = []): SyncManager {
  const syncs = startSyncs({ ...engines(), log: (l) => logs.push(l), pollIntervalMs: 20, ...options });
  t.teardown(() => syncs.stop());
  return syncs;
}

const row = (id: string, v = 1) => ({ id, v, at: "2024-01-31T12:00:00Z" });

async function ids(name: string): Promise<string[]> {
  return (await engines().olap.query<{ id: string }>(`SELECT id FROM \`${name}\` ORDER BY id`)).map((r) => r.id);
}

test("the sync writes valid records, skips and logs invalid ones, and persists its offsets", async (t) => {
  const state = await setup("Skips");
  const stateDir = mkdtempSync(join(dir, "state-"));
  await engines().streams.produce("Skips", [row("a"), row("b"), { id: "bad-1", v: "x", at: "2024-01-31T12:00:00Z" }, row("c"), { id: "bad-2" }, row("d")]);
  const logs: string[] = [];
  const syncs = manager(t, { getState: () => state, stateDir }, logs);
  await syncs.flush();
  t.deepEqual(await ids("Skips"), ["a", "b", "c", "d"]);
  const skipped = logs.filter((l) => l.includes("skipped record"));
  t.is(skipped.length, 2);
  t.true(skipped.some((l) => /^sync Skips_to_Skips: skipped record Skips\/\d@\d+ \(does not fit Skips\): v: expected Float64 \(a number\), got the string "x"$/.test(l)), skipped.join("\n"));
  t.true(skipped.some((l) => l.endsWith("(does not fit Skips): v: required field is missing (Float64); at: required field is missing (DateTime('UTC'))")), skipped.join("\n"));

  const stored = JSON.parse(readFileSync(join(stateDir, "sync", "Skips_to_Skips.json"), "utf8")) as { offsets: Record<string, number>; sourceTopic: string };
  t.is(stored.sourceTopic, "Skips");
  t.is(Object.values(stored.offsets).reduce((a, b) => a + b, 0), 6);
  t.deepEqual(syncs.status(), [{ name: "Skips_to_Skips", sourceTopic: "Skips", targetTable: "Skips", offsets: stored.offsets }]);
});

test("a restart resumes at the stored offsets: nothing twice, nothing lost", async (t) => {
  const state = await setup("Restart");
  const stateDir = mkdtempSync(join(dir, "state-"));
  const { streams } = engines();
  await streams.produce("Restart", [row("1"), row("2"), row("3")]);
  const first = startSyncs({ ...engines(), getState: () => state, stateDir, log: () => {}, pollIntervalMs: 20 });
  await first.flush();
  await first.stop();
  t.deepEqual(await ids("Restart"), ["1", "2", "3"]);

  // Produced while no sync runs.
  await streams.produce("Restart", [row("4"), row("5")]);
  const second = manager(t, { getState: () => state, stateDir });
  await second.flush();
  t.deepEqual(await ids("Restart"), ["1", "2", "3", "4", "5"]);
});

test("the background loop keeps up without flush, in batches", async (t) => {
  const state = await setup("Loop");
  const stateDir = mkdtempSync(join(dir, "state-"));
  manager(t, { getState: () => state, stateDir, batchSize: 7 });
  await engines().streams.produce("Loop", Array.from({ length: 30 }, (_, i) => row(`r${String(i).padStart(2, "0")}`, i)));
  const deadline = Date.now() + 20_000;
  while ((await ids("Loop")).length < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const got = await ids("Loop");
  t.is(got.length, 30);
  t.is(new Set(got).size, 30);
});

test("refresh stops a sync the state dropped and starts it again when it comes back", async (t) => {
  const full = await setup("Toggle");
  let state = full;
  const stateDir = mkdtempSync(join(dir, "state-"));
  const syncs = manager(t, { getState: () => state, stateDir });
  await engines().streams.produce("Toggle", [row("x")]);
  await syncs.flush();
  t.deepEqual(await ids("Toggle"), ["x"]);

  state = { ...full, processes: {} };
  syncs.refresh();
  t.deepEqual(syncs.status(), []);
  await engines().streams.produce("Toggle", [row("y")]);
  await syncs.flush();
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(await ids("Toggle"), ["x"]);

  state = full;
  syncs.refresh();
  await syncs.flush();
  t.deepEqual(await ids("Toggle"), ["x", "y"]);
});

test("a sync whose table is missing fails flush with the reason and logs it once", async (t) => {
  const base = await setup("NoTable");
  const state: InfraMap = { ...base, tables: {} };
  const stateDir = mkdtempSync(join(dir, "state-"));
  const logs: string[] = [];
  const syncs = manager(t, { getState: () => state, stateDir, maxBackoffMs: 20 }, logs);
  await engines().streams.produce("NoTable", [row("z")]);
  await t.throwsAsync(syncs.flush(), { message: "table NoTable is not in the current state" });
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(
    logs.filter((l) => l.includes("not in the current state")),
    ["sync NoTable_to_NoTable: table NoTable is not in the current state (retrying)"],
  );
  t.is(syncs.status()[0]?.error, "table NoTable is not in the current state");
});

test("offsets stored for another topic are ignored (the process was redefined)", async (t) => {
  const a = await setup("TopicA");
  const b = await setup("TopicB");
  const stateDir = mkdtempSync(join(dir, "state-"));
  await engines().streams.produce("TopicA", [row("a1"), row("a2"), row("a3")]);
  const first = startSyncs({ ...engines(), getState: () => ({ ...a, processes: { P: { name: "P", sourceTopic: "TopicA", targetTable: "TopicA" } } }), stateDir, log: () => {} });
  await first.flush();
  await first.stop();
  // With TopicA's offsets, the first records of each TopicB partition would be skipped.
  await engines().streams.produce("TopicB", [row("b1"), row("b2"), row("b3"), row("b4"), row("b5"), row("b6")]);
  const state: InfraMap = { ...b, processes: { P: { name: "P", sourceTopic: "TopicB", targetTable: "TopicB" } } };
  const second = manager(t, { getState: () => state, stateDir });
  await second.flush();
  t.deepEqual(await ids("TopicB"), ["b1", "b2", "b3", "b4", "b5", "b6"]);
});
