import test, { type ExecutionContext } from "ava";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config/config.js";
import { editFile, initProject, runCli } from "./helpers/cli.js";
import { startKafkaTestServer } from "./helpers/kafka-test-server.js";
import { openStreamEngine } from "../lib/engines/stream/open.js";

/**
 * `[redpanda_config] retention_ms` is honoured: every topic whose Stream declares no retention takes it,
 * a change of the key is a topic Config Change in `moose plan` and a migration, and the engines apply it
 * (the embedded log deletes what is older; Kafka gets `retention.ms`). A Stream's own `retentionPeriod`
 * (or `config["retention.ms"]`) wins.
 */

const APP = `import { Stream } from "moose-migrate";

interface Event { id: string; at: number }

export const events = new Stream<Event>("Events");
export const audit = new Stream<Event>("Audit", { retentionPeriod: 3600 });
export const raw = new Stream<Event>("Raw", { config: { "retention.ms": "120000" } });
`;

const REAL_BROKERS = process.env.KAFKA_BROKERS?.split(",").map((b) => b.trim()).filter(Boolean) ?? [];

/** generate, then deploy; `approve`: the reviewer approves the file's data-loss steps first. */
async function ship(t: ExecutionContext, dir: string, name: string, approve = false): Promise<string> {
  const g = await runCli(dir, ["migrate", "generate", "--name", name]);
  t.is(g.code, 0, g.stdout + g.stderr);
  if (approve) {
    const path = /(migrations\/\S+\.ts)/.exec(g.stdout)![1]!;
    const text = readFileSync(join(dir, path), "utf8");
    t.true(text.includes("{ approveDataLoss: false }"), text);
    writeFileSync(join(dir, path), text.replaceAll("{ approveDataLoss: false }", "{ approveDataLoss: true }"));
  }
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  return g.stdout;
}

/** Sets `retention_ms` in the project's [redpanda_config] (the section `moose init` writes, key commented out). */
function setRetention(dir: string, ms: number): void {
  editFile(dir, "moose.config.toml", "# retention_ms = 604800000", `retention_ms = ${ms}`);
}

test("moose init leaves retention_ms commented out, with moose-lib's 7 days as the default it documents", async (t) => {
  const dir = await initProject("ret-init", APP);
  const text = readFileSync(join(dir, "moose.config.toml"), "utf8");
  t.regex(text, /# Retention of every topic whose Stream sets no retentionPeriod[^]*\n# retention_ms = 604800000\n/);
  t.is((await loadConfig(dir)).streaming.retentionMs, 604_800_000);
});

test("plan: topics without their own retention take retention_ms; changing it is a Config Change of exactly those topics", async (t) => {
  const dir = await initProject("ret-plan", APP);
  const first = await runCli(dir, ["plan", "--json"]);
  t.is(first.code, 0, first.stderr);
  const created = Object.fromEntries(
    (JSON.parse(first.stdout).steps as Array<{ change: { kind: string; topic?: { name: string; retentionMs?: number } } }>)
      .filter((s) => s.change.kind === "topic.create")
      .map((s) => [s.change.topic!.name, s.change.topic!.retentionMs]),
  );
  t.deepEqual(created, { Events: 604_800_000, Audit: 3_600_000, Raw: 120_000 });

  const g = await runCli(dir, ["migrate", "generate", "--name", "topics"]);
  t.is(g.code, 0, g.stderr);
  setRetention(dir, 30_000);
  const plan = await runCli(dir, ["plan"]);
  t.is(plan.code, 0, plan.stderr);
  // Shorter retention deletes records: the step is destructive and a migration runs it only when approved.
  t.is(
    plan.stdout,
    "Infrastructure Changes:\n🔄 Modified Components\n  ~ Events (Config Change)  ⚠ shortens (or may shorten) topic retention; older records are deleted\n" +
      "      ~ retention 7d → 30s\n\n⚠ 1 step would lose data; a migration runs them only when its file approves them.\n",
  );
  // The environment override counts the same.
  const env = await runCli(dir, ["plan"], { MOOSE_REDPANDA_CONFIG__RETENTION_MS: "3600000" });
  t.regex(env.stdout, /~ Events \(Config Change\)  ⚠ [^\n]*\n {6}~ retention 7d → 1h/);
  t.notRegex(env.stdout, /Audit|Raw/);
});

test("a Stream whose retentionPeriod and config[\"retention.ms\"] disagree is an error naming the file and line", async (t) => {
  const dir = await initProject("ret-bad", `import { Stream } from "moose-migrate";
interface Event { id: string }
export const both = new Stream<Event>("Both", {
  retentionPeriod: 60,
  config: { "retention.ms": "5000" },
});
`);
  const r = await runCli(dir, ["plan"]);
  t.is(r.code, 2);
  t.regex(r.stderr, /error\[INVALID_CONFIG\]: app\/index\.ts:4:3: retentionPeriod \(60000 ms\) and config\["retention\.ms"\] \(5000\) disagree; keep one of them/);
});

test.serial("embedded stream log: a migration changes the topic's retention and records older than it are deleted", async (t) => {
  const dir = await initProject("ret-emb", APP);
  await ship(t, dir, "topics");
  setRetention(dir, 30_000);
  const refused = await runCli(dir, ["migrate", "generate", "--name", "unapproved"]);
  t.is(refused.code, 0);
  t.is((await runCli(dir, ["migrate", "deploy"])).code, 3, "an unapproved shorter retention is refused");
  rmSync(join(dir, /(migrations\/\S+\.ts)/.exec(refused.stdout)![1]!));
  const out = await ship(t, dir, "shorter retention", true);
  t.regex(out, /~ Events \(Config Change\)  ⚠ [^\n]*\n {6}~ retention 7d → 30s/);

  const config = await loadConfig(dir);
  let now = Date.now();
  const streams = await openStreamEngine(config.streaming, { embedded: { retentionCheckIntervalMs: 0, now: () => now } });
  t.teardown(() => streams.close());
  const described = await streams.introspect();
  t.is(described.Events?.retentionMs, 30_000);
  t.is(described.Audit?.retentionMs, 3_600_000);
  t.is(described.Raw?.retentionMs, 120_000);

  // Retention is a DELETE of the expired head of each partition, checked when a record is produced.
  for (const name of ["Events", "Audit"]) await streams.produce(name, [{ id: "old", at: 1 }]);
  now += 60_000;
  for (const name of ["Events", "Audit"]) await streams.produce(name, [{ id: "new", at: 2 }]);
  t.deepEqual(await streams.offsets("Events"), [{ partition: 0, low: 1, high: 2 }], "Events keeps 30 s: the minute-old record is gone");
  t.deepEqual(await streams.offsets("Audit"), [{ partition: 0, low: 0, high: 2 }], "Audit keeps its own hour");
  t.is((await runCli(dir, ["migrate", "status"])).code, 0, "no drift");
});

test.serial("kafka adapter (test broker): topics are created with retention_ms and altered when it changes", async (t) => {
  const kafka = await startKafkaTestServer();
  t.teardown(() => kafka.close());
  const dir = await initProject("ret-kafka", APP);
  editFile(dir, "moose.config.toml", "[redpanda_config]\n", `[redpanda_config]\nbroker = "${kafka.brokers[0]}"\nretention_ms = 45000\n`);
  await ship(t, dir, "topics");
  t.is(kafka.topic("Events")?.configs["retention.ms"], "45000");
  t.is(kafka.topic("Audit")?.configs["retention.ms"], "3600000");
  t.is(kafka.topic("Raw")?.configs["retention.ms"], "120000");

  editFile(dir, "moose.config.toml", "retention_ms = 45000", "retention_ms = 90000");
  const out = await ship(t, dir, "longer retention");
  t.regex(out, /~ Events \(Config Change\)\n {6}~ retention 45s → 90s/, "longer retention loses nothing: no ⚠");
  t.is(kafka.topic("Events")?.configs["retention.ms"], "90000");
  t.is(kafka.topic("Audit")?.configs["retention.ms"], "3600000");
  t.true(kafka.requestsOf("AlterConfigs").length >= 1);
});

if (REAL_BROKERS.length === 0) {
  test.skip("real broker (set KAFKA_BROKERS): retention_ms reaches the topics", () => undefined);
} else {
  test.serial(`real broker ${REAL_BROKERS.join(",")}: retention_ms reaches the topics`, async (t) => {
    t.timeout(120_000);
    const dir = await initProject("ret-real", APP);
    const namespace = `moosetest_ret_${Date.now().toString(36)}`;
    writeFileSync(join(dir, "moose.config.toml"), `[redpanda_config]\nbroker = "${REAL_BROKERS.join(",")}"\nnamespace = "${namespace}"\nretention_ms = 45000\n`);
    await ship(t, dir, "topics");
    const config = await loadConfig(dir);
    const streams = await openStreamEngine(config.streaming);
    t.teardown(() => streams.close());
    t.like((await streams.introspect()).Events, { retentionMs: 45_000 });
    editFile(dir, "moose.config.toml", "retention_ms = 45000", "retention_ms = 90000");
    await ship(t, dir, "longer retention");
    t.like((await streams.introspect()).Events, { retentionMs: 90_000 });
    t.like((await streams.introspect()).Audit, { retentionMs: 3_600_000 });
    for (const name of ["Events", "Audit", "Raw"]) {
      const topic = (await streams.introspect())[name];
      if (topic) await streams.apply({ kind: "topic.drop", topic: { ...topic, columns: [], lifeCycle: "FULLY_MANAGED" } }).catch(() => undefined);
    }
  });
}
