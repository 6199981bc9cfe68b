import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers/cli.js";
import { startKafkaTestServer, type KafkaTestServer } from "./helpers/kafka-test-server.js";
import { startTemporalTestServer, type TemporalTestServer } from "./helpers/temporal-test-server.js";

/**
 * Topics and workflows through the whole path (plan → migration file → deploy → ledger → engine) with the
 * CLI's commands, run in this process. No broker or Temporal server can be installed here: the kafka and Temporal adapters talk to
 * the protocol-level test servers over TCP/gRPC, which keep real state.
 */

let kafka: KafkaTestServer;
let temporal: TemporalTestServer;
test.before(async () => {
  kafka = await startKafkaTestServer();
  temporal = await startTemporalTestServer();
});
test.after.always(async () => {
  await kafka?.close();
  await temporal?.close();
});

const APP = (stream: string, workflow: string) => `import { OlapTable, Stream, Workflow, Task } from "moose-migrate";

interface UserSchema {
  id: string;
  name: string;
}

export const usersTable = new OlapTable<UserSchema>("Users");
export const userEvents = new Stream<UserSchema>("UserEvents", ${stream});
const rollup = new Task<null, void>("rollup", { run: async () => {} });
${workflow}
`;

async function project(): Promise<string> {
  const root = tempDir("sw");
  const r = await runCli(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  writeFileSync(
    join(dir, "moose.config.toml"),
    `[features]\nworkflows = true\n\n[redpanda_config]\nbroker = "${kafka.brokers[0]}"\n\n[temporal_config]\naddress = "${temporal.address}"\n`,
  );
  return dir;
}

async function ship(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, name: string): Promise<string> {
  const g = await runCli(dir, ["migrate", "generate", "--name", name]);
  t.is(g.code, 0, g.stdout + g.stderr);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 0, d.stdout + d.stderr);
  return g.stdout + d.stdout;
}

test.serial("the seed's UserEvents stream and a workflow schedule go through generate → deploy; partitions grow, retention changes, a decrease is refused", async (t) => {
  const dir = await project();
  writeFileSync(join(dir, "app/index.ts"), APP("{ parallelism: 1 }", 'export const nightly = new Workflow("nightly", { startingTask: rollup, schedule: "0 3 * * *", retries: 2, timeout: "1h" });'));
  const first = await ship(t, dir, "create");
  t.regex(first, /\+ UserEvents \(Streaming Topic\)/);
  t.regex(first, /\+ nightly \(Workflow\)/);
  t.deepEqual(kafka.topic("UserEvents")?.partitions, 1);
  t.is(kafka.topic("UserEvents")?.configs["retention.ms"], "604800000");
  const schedule = temporal.schedules("default").get("moose-nightly");
  t.truthy(schedule, "schedule created");
  t.is(schedule?.schedule["action"]?.["startWorkflow"]?.["workflowType"]?.["name"], "nightly");

  writeFileSync(join(dir, "app/index.ts"), APP("{ parallelism: 3, retentionPeriod: 1209600 }", 'export const nightly = new Workflow("nightly", { startingTask: rollup, schedule: "0 4 * * *", retries: 2, timeout: "1h" });'));
  const plan = (await runCli(dir, ["plan"])).stdout;
  t.regex(plan, /~ UserEvents \(Config Change\)\n      ~ partitions 1 → 3\n      ~ retention 7d → 14d/);
  t.regex(plan, /~ nightly \(Config Change\)\n      ~ schedule 0 3 \* \* \* → 0 4 \* \* \*/);
  await ship(t, dir, "more partitions");
  t.is(kafka.topic("UserEvents")?.partitions, 3);
  t.is(kafka.topic("UserEvents")?.configs["retention.ms"], "1209600000");
  t.true(kafka.requestsOf("CreatePartitions").length >= 1);
  t.true(temporal.requestsOf("UpdateSchedule").length >= 1);

  const ls = await runCli(dir, ["ls"]);
  t.regex(ls.stdout, /UserEvents\s+3\s+14d\s+2\s+applied/);
  t.regex(ls.stdout, /nightly\s+0 4 \* \* \*\s+2\s+1h\s+no\s+applied/);

  // Kafka cannot shrink a topic: refused before a file is written, with the way forward.
  writeFileSync(join(dir, "app/index.ts"), APP("{ parallelism: 2, retentionPeriod: 1209600 }", 'export const nightly = new Workflow("nightly", { startingTask: rollup, schedule: "0 4 * * *", retries: 2, timeout: "1h" });'));
  const requestsBefore = kafka.requestsOf("CreatePartitions").length;
  const refused = await runCli(dir, ["migrate", "generate"]);
  t.is(refused.code, 3);
  t.regex(refused.stderr, /error\[TOPIC_PARTITIONS_DECREASE\]: cannot reduce topic UserEvents from 3 to 2 partitions: Kafka can only add partitions/);
  t.regex(refused.stderr, /hint: keep 3 partitions, or create a new version of the stream/);
  t.is(kafka.requestsOf("CreatePartitions").length, requestsBefore);
  t.is(kafka.topic("UserEvents")?.partitions, 3);

  // Removing the workflow deletes its schedule.
  writeFileSync(join(dir, "app/index.ts"), APP("{ parallelism: 3, retentionPeriod: 1209600 }", ""));
  await ship(t, dir, "remove workflow");
  t.is(temporal.schedules("default").get("moose-nightly"), undefined);
  t.is((await runCli(dir, ["migrate", "status"])).code, 0);
});

test.serial("with workflows enabled and Temporal unreachable, deploy says so and records nothing", async (t) => {
  const dir = await project();
  writeFileSync(join(dir, "moose.config.toml"), readFileSync(join(dir, "moose.config.toml"), "utf8").replace(temporal.address, "127.0.0.1:1"));
  writeFileSync(join(dir, "app/index.ts"), APP("{ parallelism: 1 }", 'export const nightly = new Workflow("nightly", { startingTask: rollup, schedule: "0 3 * * *" });'));
  t.is((await runCli(dir, ["migrate", "generate"])).code, 0);
  const d = await runCli(dir, ["migrate", "deploy"]);
  t.is(d.code, 1, d.stdout + d.stderr);
  t.regex(d.stderr, /error\[TEMPORAL_UNAVAILABLE\]: Temporal at 127\.0\.0\.1:1 is unreachable: .*\(workflows are enabled in \[features\]; start Temporal or set workflows = false\)/);
  t.is((await runCli(dir, ["migrate", "status"])).code, 4);
});

test.serial("features.workflows = false (the default): a workflow change is planned and recorded, and nothing is sent to Temporal, as the config's comment says", async (t) => {
  const root = tempDir("sw-off");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const dir = join(root, "p");
  const config = readFileSync(join(dir, "moose.config.toml"), "utf8");
  t.regex(config, /# Workflows\. false: workflow changes are planned and recorded in the ledger but nothing is sent to\n# Temporal[^\n]*\n[^\n]*\nworkflows = false\n/);
  writeFileSync(join(dir, "moose.config.toml"), config.replace(/address = "[^"]*"/, `address = "${temporal.address}"`));
  writeFileSync(join(dir, "app/index.ts"), APP("{}", 'export const weekly = new Workflow("weekly", { startingTask: rollup, schedule: "0 5 * * 1" });'));
  const before = temporal.requestsOf("CreateSchedule").length;
  const out = await ship(t, dir, "workflow off");
  t.regex(out, /\+ weekly \(Workflow\)/);
  t.regex(out, /createWorkflow\("weekly"\)[^\n]*\n\s+-- workflows are disabled in \[features\]: recorded, not sent to Temporal/);
  t.is(temporal.requestsOf("CreateSchedule").length, before, "no request reached Temporal");
  t.is(temporal.schedules("default").get("moose-weekly"), undefined);
  const status = await runCli(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout);
});
