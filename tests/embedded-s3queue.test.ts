import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initProject, moose } from "./helpers/cli.js";

/**
 * S3Queue tables on the embedded engine, which keeps their processed-file state in an in-memory
 * Keeper (chdb-process.ts). chDB starts S3Queue's state once per process and stops it for good
 * when any embedded ClickHouse of the process closes (EMBEDDED_KEEPER_LIMITS), so every step here
 * is a separate `moose` process, as users run them: each opens the project's data directory once
 * and keeps it open until it exits.
 */

const APP = `import { OlapTable, ClickHouseEngines, Key, DateTime } from "moose-migrate";

interface Row { id: Key<string>; timestamp: DateTime; data: string }

export const incoming = new OlapTable<Row>("S3QueuePublic", {
  engine: ClickHouseEngines.S3Queue,
  s3Path: "s3://public-test-bucket/data/*.csv",
  format: "CSV",
  settings: { mode: "ordered", keeper_path: "/clickhouse/s3queue/test_public" },
});

export const kafka = new OlapTable<Row>("KafkaSource", {
  engine: ClickHouseEngines.Kafka,
  brokerList: "localhost:9092",
  topicList: "events",
  groupName: "moose",
  format: "JSONEachRow",
});
`;

test("an S3Queue table (and a Kafka-engine table) deploys on the embedded engine, reads back without drift, and the data directory opens again in later processes", async (t) => {
  const dir = await initProject("embedded-s3queue", APP);
  const generate = moose(dir, ["migrate", "generate", "--name", "queue"]);
  t.is(generate.code, 0, generate.stderr);
  t.notRegex(generate.stderr, /would refuse/);
  const deploy = moose(dir, ["migrate", "deploy"]);
  t.is(deploy.code, 0, deploy.stdout + deploy.stderr);
  const config = readFileSync(join(dir, ".moose", "clickhouse", "moose-embedded-config.xml"), "utf8");
  t.regex(config, /<implementation>testkeeper<\/implementation>/);
  for (let i = 0; i < 2; i++) {
    // Each a new process: the table attaches again from its metadata, with the in-memory Keeper empty.
    const q = moose(dir, ["query", "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name", "--format", "json"]);
    t.is(q.code, 0, q.stderr);
    t.deepEqual(JSON.parse(q.stdout), [
      { name: "KafkaSource", engine: "Kafka" },
      { name: "S3QueuePublic", engine: "S3Queue" },
    ]);
    const status = moose(dir, ["migrate", "status"]);
    t.is(status.code, 0, status.stdout + status.stderr);
  }
  // A change to its settings is an ALTER; the table is still there afterwards.
  const edited = readFileSync(join(dir, "app/index.ts"), "utf8").replace('mode: "ordered"', 'mode: "ordered", polling_max_timeout_ms: 20000');
  writeFileSync(join(dir, "app/index.ts"), edited);
  t.is(moose(dir, ["migrate", "generate", "--name", "poll"]).code, 0);
  const again = moose(dir, ["migrate", "deploy"]);
  t.is(again.code, 0, again.stdout + again.stderr);
  const show = moose(dir, ["query", "SHOW CREATE TABLE S3QueuePublic", "--format", "json"]);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /polling_max_timeout_ms = 20000/);
});
