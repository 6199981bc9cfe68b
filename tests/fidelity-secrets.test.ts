import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { capabilitiesFor } from "../lib/engines/olap/capabilities.js";
import { HIDDEN, readIntegrationEngine, withDeclaredSecrets } from "../lib/engines/olap/integration-engines.js";
import { resolveRuntimeEnv, runtimeEnvSlots, scrubRuntimeEnv } from "../lib/engines/olap/runtime-env.js";
import { statementsFor } from "../lib/engines/olap/sql/index.js";
import { extractApp } from "../lib/extract/extract-app.js";
import { quoteString } from "../lib/model/clickhouse-quote.js";
import type { Table } from "../lib/model/infra-map.js";
import { editFile, initProject, moose, runCli, tempDir, type CliResult } from "./helpers/cli.js";
import { loadConfig } from "../lib/config/config.js";
import { DevSession } from "../lib/dev/session.js";
import { openDeployEngines, projectLedger } from "../lib/project/engines.js";
import { errorsOf, tempApp } from "./helpers/extract-apps.js";
import { queryRows } from "./helpers/ledger-sqlite.js";
import { olapPart } from "./helpers/olap-fixtures.js";
import { serverConfigFromEnv } from "./helpers/olap-server.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

/**
 * Run-time secrets (moose-lib's `mooseRuntimeEnv.get("NAME")`) for S3 / S3Queue credentials,
 * S3Queue header values and table settings such as Kafka's `kafka_sasl_password`: extracted as a
 * reference to the variable, written as `${NAME}` in every text moose keeps or prints, filled in
 * from the environment when the statement is sent, and mapped back from ClickHouse's `[HIDDEN]`.
 */

// Hostile values: quotes, backslashes, a newline, a SQL comment.
const KEY_ID = "AKIA'KEY\\ID";
const SECRET = "s3cr'et\\\"x\nline2 -- DROP TABLE";
const KAFKA_PASSWORD = "kafka-pw-'7f3c9e\\";
const SECRETS = [KEY_ID, SECRET, KAFKA_PASSWORD];
const ENV = { S3_KEY_ID: KEY_ID, S3_SECRET: SECRET, KAFKA_PASSWORD };

const APP = [
  'import { OlapTable, ClickHouseEngines, Key, mooseRuntimeEnv } from "@514labs/moose-lib";',
  "interface Row { id: Key<string>; data: string }",
  'export const s3 = new OlapTable<Row>("S3Secret", { engine: ClickHouseEngines.S3, path: "https://test-bucket.s3.amazonaws.com/data/*.csv", format: "CSV",',
  '  awsAccessKeyId: mooseRuntimeEnv.get("S3_KEY_ID"), awsSecretAccessKey: mooseRuntimeEnv.get("S3_SECRET") });',
  'export const kafka = new OlapTable<Row>("KafkaSasl", { engine: ClickHouseEngines.Kafka, brokerList: "127.0.0.1:9", topicList: "t", groupName: "g", format: "JSONEachRow",',
  '  settings: { kafka_security_protocol: "sasl_plaintext", kafka_sasl_mechanism: "PLAIN", kafka_sasl_username: "moose", kafka_sasl_password: mooseRuntimeEnv.get("KAFKA_PASSWORD") } });',
].join("\n");

const columns = [
  { name: "id", type: "String" },
  { name: "data", type: "String" },
];

test("extraction keeps mooseRuntimeEnv.get as a reference to the variable, wherever moose-lib takes one", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      APP,
      'export const q = OlapTable.withS3Queue<Row>("QueueSecret", "https://test-bucket.s3.amazonaws.com/in/*.json", "JSONEachRow", {',
      '  awsAccessKeyId: mooseRuntimeEnv.get("S3_KEY_ID"), awsSecretAccessKey: mooseEnvSecrets.get("S3_SECRET"),',
      '  headers: { "X-Source": "moose", Authorization: mooseRuntimeEnv.get("S3_AUTH") }, settings: { mode: "ordered", keeper_path: "/q" } });',
      'export const hive = new OlapTable<Row>("S3Hive", { engine: ClickHouseEngines.S3, path: "https://test-bucket.s3.amazonaws.com/out/", format: "Parquet", partitionBy: "data",',
      '  partitionStrategy: "hive", partitionColumnsInDataFile: "true" });',
    ]
      .join("\n")
      .replace("Key, mooseRuntimeEnv }", "Key, mooseRuntimeEnv, mooseEnvSecrets }"),
  });
  const { map } = extractApp({ projectDir: dir, mainFile: "app/index.ts" });
  const base = { columns, orderBy: [], lifeCycle: "FULLY_MANAGED" } as const;
  const expected: Table[] = [
    { ...base, name: "S3Secret", settings: {}, engine: { kind: "S3", path: "https://test-bucket.s3.amazonaws.com/data/*.csv", format: "CSV", credentials: { accessKeyId: { runtimeEnv: "S3_KEY_ID" }, secretAccessKey: { runtimeEnv: "S3_SECRET" } } } },
    {
      ...base,
      name: "KafkaSasl",
      engine: { kind: "Kafka", brokerList: "127.0.0.1:9", topicList: "t", groupName: "g", format: "JSONEachRow" },
      settings: { kafka_security_protocol: "sasl_plaintext", kafka_sasl_mechanism: "PLAIN", kafka_sasl_username: "moose", kafka_sasl_password: { runtimeEnv: "KAFKA_PASSWORD" } },
    },
    {
      ...base,
      name: "QueueSecret",
      settings: { mode: "ordered", keeper_path: "/q" },
      engine: {
        kind: "S3Queue",
        path: "https://test-bucket.s3.amazonaws.com/in/*.json",
        format: "JSONEachRow",
        credentials: { accessKeyId: { runtimeEnv: "S3_KEY_ID" }, secretAccessKey: { runtimeEnv: "S3_SECRET" } },
        headers: { "X-Source": "moose", Authorization: { runtimeEnv: "S3_AUTH" } },
      },
    },
    { ...base, name: "S3Hive", partitionBy: "data", settings: { partition_strategy: "hive", partition_columns_in_data_file: "1" }, engine: { kind: "S3", path: "https://test-bucket.s3.amazonaws.com/out/", format: "Parquet" } },
  ];
  t.deepEqual(olapPart(map).tables, Object.fromEntries(expected.map((x) => [x.name, x])));
});

test("a secret written in the source, half a key pair and a name that is no variable are refused at their line, never quoting the value", (t) => {
  const dir = tempApp({
    "app/index.ts": [
      'import { OlapTable, ClickHouseEngines, mooseRuntimeEnv } from "@514labs/moose-lib";',
      "interface Row { id: string }",
      'export const a = new OlapTable<Row>("A", { engine: ClickHouseEngines.S3, path: "s3://test-bucket/x.csv", format: "CSV", awsAccessKeyId: "AKIA-LITERAL-1", awsSecretAccessKey: "literal-secret-1" });',
      'export const b = new OlapTable<Row>("B", { engine: ClickHouseEngines.Kafka, brokerList: "b:9092", topicList: "t", groupName: "g", format: "JSONEachRow", settings: { kafka_sasl_password: "literal-secret-2" } });',
      'export const c = new OlapTable<Row>("C", { engine: ClickHouseEngines.S3, path: "s3://test-bucket/x.csv", format: "CSV", awsSecretAccessKey: mooseRuntimeEnv.get("ONLY_SECRET") });',
      'export const d = new OlapTable<Row>("D", { engine: ClickHouseEngines.S3, path: "s3://test-bucket/x.csv", format: "CSV", awsAccessKeyId: mooseRuntimeEnv.get("ID"), awsSecretAccessKey: mooseRuntimeEnv.get("NOT-A \\"VAR\\"\\n\\\\") });',
      'export const e = new OlapTable<Row>("E", { engine: ClickHouseEngines.S3, path: "s3://test-bucket/x/", format: "CSV", partitionStrategy: "columns" });',
    ].join("\n"),
  });
  const errors = errorsOf(() => extractApp({ projectDir: dir, mainFile: "app/index.ts" }));
  t.deepEqual(
    errors.map((e) => `${e.code} ${e.located}`),
    [
      "SECRET_IN_SOURCE app/index.ts:3:121: table A: awsAccessKeyId is written in the source; moose-migrate would have to copy it into migration files, the ledger and printed SQL",
      "SECRET_IN_SOURCE app/index.ts:4:166: setting kafka_sasl_password is written in the source; moose-migrate would have to copy it into migration files, the ledger and printed SQL",
      "INVALID_CONFIG app/index.ts:5:121: awsSecretAccessKey is set without awsAccessKeyId: table C signs its S3 requests with the pair (leave both out for a public bucket, read unsigned)",
      'RUNTIME_ENV_INVALID app/index.ts:6:184: mooseRuntimeEnv.get("NOT-A \\"VAR\\"\\n\\\\") does not name an environment variable',
      'INVALID_CONFIG app/index.ts:7:118: partitionStrategy must be "wildcard" or "hive"',
    ],
  );
  const text = JSON.stringify(errors.map((e) => [e.located, e.hint]));
  t.false(text.includes("literal-secret"), "no message quotes a secret written in the source");
  t.false(text.includes("AKIA-LITERAL"));
});

test("printed SQL shows ${NAME}; the sent statement has each value as a string literal; what ClickHouse says back is scrubbed", (t) => {
  const table: Table = {
    name: "S3Secret",
    columns,
    orderBy: [],
    settings: {},
    lifeCycle: "FULLY_MANAGED",
    engine: { kind: "S3", path: "https://test-bucket.s3.amazonaws.com/${S3_SECRET}/*.csv", format: "CSV", credentials: { accessKeyId: { runtimeEnv: "S3_KEY_ID" }, secretAccessKey: { runtimeEnv: "S3_SECRET" } } },
  };
  const caps = capabilitiesFor("26.7.2.1");
  const [printed] = statementsFor({ kind: "table.create", table }, { database: "db", capabilities: caps });
  t.true(printed?.endsWith("ENGINE = S3('https://test-bucket.s3.amazonaws.com/${S3_SECRET}/*.csv', ${S3_KEY_ID}, ${S3_SECRET}, 'CSV')"), printed);
  const slots = runtimeEnvSlots();
  const [written] = statementsFor({ kind: "table.create", table }, { database: "db", capabilities: caps, runtimeEnv: slots.write });
  const { text, pieces } = slots.split(written!);
  t.is(text, printed ?? "");
  // The path's own `${S3_SECRET}` is text the user wrote: it stays as written, only slots are filled.
  const sent = resolveRuntimeEnv(pieces ?? [], "the test", ENV);
  t.true(sent.endsWith(`ENGINE = S3('https://test-bucket.s3.amazonaws.com/\${S3_SECRET}/*.csv', ${quoteString(KEY_ID)}, ${quoteString(SECRET)}, 'CSV')`), sent);
  t.is(scrubRuntimeEnv(`Code: 36. Bad argument ${quoteString(SECRET)} near ${SECRET}`, pieces!, ENV), "Code: 36. Bad argument ${S3_SECRET} near ${S3_SECRET}");
  t.throws(() => resolveRuntimeEnv(pieces!, "step 2 of m", { S3_KEY_ID: "x" }), {
    message: "step 2 of m reads the environment variable S3_SECRET (mooseRuntimeEnv.get), which is not set",
  });
});

test("ClickHouse versions without the feature refuse it by name: Kafka SASL settings before 23.3 (18.16), S3 partition_strategy before 25.8", (t) => {
  const kafka: Table = {
    name: "KafkaSasl",
    columns,
    orderBy: [],
    lifeCycle: "FULLY_MANAGED",
    engine: { kind: "Kafka", brokerList: "b:9092", topicList: "t", groupName: "g", format: "JSONEachRow" },
    settings: { kafka_sasl_password: { runtimeEnv: "KAFKA_PASSWORD" } },
  };
  t.throws(() => statementsFor({ kind: "table.create", table: kafka }, { database: "db", capabilities: capabilitiesFor("18.16.1", { server: true }) }), {
    message: "cannot create table KafkaSasl: ClickHouse 18.16.1 does not support the Kafka engine's kafka_sasl_password table setting (ClickHouse 23.3+)",
  });
  const hive: Table = { name: "S3Hive", columns, orderBy: [], lifeCycle: "FULLY_MANAGED", partitionBy: "data", engine: { kind: "S3", path: "https://test-bucket.s3.amazonaws.com/out/", format: "Parquet" }, settings: { partition_strategy: "hive" } };
  t.throws(() => statementsFor({ kind: "table.create", table: hive }, { database: "db", capabilities: capabilitiesFor("25.3.1.1", { server: true }) }), {
    message: "cannot create table S3Hive: ClickHouse 25.3.1.1 does not support the S3 engine's partition_strategy (moose-lib's partitionStrategy; ClickHouse 25.8+)",
  });
  t.notThrows(() => statementsFor({ kind: "table.create", table: hive }, { database: "db", capabilities: capabilitiesFor("25.8.1.1", { server: true }) }));
});

test("introspection reads credentials and header values back as hidden, and the declared references stand in for them", (t) => {
  const live = readIntegrationEngine("S3Queue", "'https://test-bucket.s3.amazonaws.com/in/*.json', 'AKIAKEY', '[HIDDEN]', 'JSONEachRow', headers('Authorization' = '[HIDDEN]', 'X-Source' = '[HIDDEN]')", "db");
  t.deepEqual(live, {
    kind: "S3Queue",
    path: "https://test-bucket.s3.amazonaws.com/in/*.json",
    format: "JSONEachRow",
    credentials: { accessKeyId: { runtimeEnv: HIDDEN }, secretAccessKey: { runtimeEnv: HIDDEN } },
    headers: { Authorization: HIDDEN, "X-Source": HIDDEN },
  });
  t.false(JSON.stringify(live).includes("AKIAKEY"), "the key id ClickHouse shows is not read into the model");
  const declared: Table = {
    name: "Q",
    columns,
    orderBy: [],
    lifeCycle: "FULLY_MANAGED",
    settings: { mode: "ordered" },
    engine: { kind: "S3Queue", path: "https://test-bucket.s3.amazonaws.com/in/*.json", format: "JSONEachRow", credentials: { accessKeyId: { runtimeEnv: "A" }, secretAccessKey: { runtimeEnv: "B" } }, headers: { Authorization: { runtimeEnv: "AUTH" }, "X-Source": "moose" } },
  };
  const liveTable = { ...declared, engine: live as Table["engine"] };
  t.deepEqual(withDeclaredSecrets(liveTable, declared), declared);
  // Another set of header names stays a difference.
  const otherHeaders = { ...declared, engine: { ...declared.engine, headers: { Authorization: { runtimeEnv: "AUTH" } } } as Table["engine"] };
  t.notDeepEqual(withDeclaredSecrets(liveTable, otherHeaders), otherHeaders);
  // A password an old server shows in clear is never kept: the declared reference replaces it.
  const kafka: Table = { ...declared, engine: { kind: "Kafka", brokerList: "b", topicList: "t", groupName: "g", format: "JSONEachRow" }, settings: { kafka_sasl_password: { runtimeEnv: "PW" } } };
  t.deepEqual(withDeclaredSecrets({ ...kafka, settings: { kafka_sasl_password: "in-clear" } }, kafka), kafka);
});

/** Every file under `dir` (but ClickHouse's own data directory), as text. */
function filesUnder(dir: string, skip: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === skip || name === "node_modules") continue;
    const s = statSync(path);
    if (s.isDirectory()) out.push(...filesUnder(path, skip));
    else out.push({ path, text: readFileSync(path).toString("latin1") });
  }
  return out;
}

/** ClickHouse's stored definition of `table` in the embedded engine's data directory (`<uuid>/<table>.sql`). */
function storedDefinition(dataDir: string, table: string): string | undefined {
  for (const name of readdirSync(dataDir)) {
    const path = join(dataDir, name);
    if (statSync(path).isDirectory()) {
      const found = storedDefinition(path, table);
      if (found !== undefined) return found;
    } else if (name === `${table}.sql` && !path.includes(`${join("metadata", "system")}`)) return readFileSync(path, "utf8");
  }
  return undefined;
}

test("embedded, through the binary: the secret reaches ClickHouse and nothing else — files, ledger, plan, migrate sql, dry run, deploy output; a missing variable stops the deploy before anything runs", async (t) => {
  const dir = await initProject("secrets", APP);
  const outputs: CliResult[] = [];
  const run = (args: readonly string[], env: Record<string, string> = {}): CliResult => {
    const r = moose(dir, args, env);
    outputs.push(r);
    return r;
  };
  const plan = run(["plan"], ENV);
  t.is(plan.code, 0, plan.stderr);
  const generated = run(["migrate", "generate", "--name", "secrets"], ENV);
  t.is(generated.code, 0, generated.stderr);
  t.regex(generated.stdout, /ENGINE = S3\('https:\/\/test-bucket\.s3\.amazonaws\.com\/data\/\*\.csv', \$\{S3_KEY_ID\}, \$\{S3_SECRET\}, 'CSV'\)/);
  t.regex(generated.stdout, /kafka_sasl_password = \$\{KAFKA_PASSWORD\}/);
  const file = readdirSync(join(dir, "migrations")).find((f) => f.endsWith("_secrets.ts"))!;
  const source = readFileSync(join(dir, "migrations", file), "utf8");
  t.true(source.includes('secretAccessKey: { runtimeEnv: "S3_SECRET" }'), source);
  t.true(source.includes('kafka_sasl_password: { runtimeEnv: "KAFKA_PASSWORD" }'), source);
  t.is(run(["migrate", "sql", file.replace(/\.ts$/, "")], ENV).code, 0);
  t.is(run(["migrate", "deploy", "--dry-run"], ENV).code, 0);

  // Without the variables: refused naming them and the step, nothing applied or recorded.
  const missing = run(["migrate", "deploy"], { S3_KEY_ID: KEY_ID });
  t.is(missing.code, 2, missing.stdout + missing.stderr);
  t.regex(missing.stderr, /error\[RUNTIME_ENV_MISSING\]: step 1 of \d+_secrets \(table\.create KafkaSasl\) \(and 1 more step\) reads the environment variables KAFKA_PASSWORD, S3_SECRET \(mooseRuntimeEnv\.get\), which are not set/);
  const ledgerPath = join(dir, ".moose", "ledger.sqlite");
  if (existsSync(ledgerPath)) t.deepEqual(await queryRows(ledgerPath, "SELECT migration_id FROM migration_steps"), [], "no step recorded");

  const deployed = run(["migrate", "deploy"], ENV);
  t.is(deployed.code, 0, deployed.stdout + deployed.stderr);
  const status = run(["migrate", "status", "--json"], ENV);
  t.is(status.code, 0, status.stdout + status.stderr);
  const report = JSON.parse(status.stdout) as { verdict: string; drift: unknown[] };
  t.deepEqual([report.verdict, report.drift], ["ok", []], "ClickHouse's [HIDDEN] reads back as the declared references: no drift");
  t.is(run(["plan"], ENV).stdout.includes("No changes"), true, "no false drift against the code");

  // The ledger records the masked statements.
  const recorded = await queryRows<{ statements: string }>(ledgerPath, "SELECT statements FROM migration_steps ORDER BY step_index");
  t.true(recorded.some((r) => r.statements.includes("${S3_SECRET}")), JSON.stringify(recorded));

  // A renamed variable is a drop and a create; the new variable must be set.
  editFile(dir, "app/index.ts", 'mooseRuntimeEnv.get("S3_SECRET")', 'mooseRuntimeEnv.get("S3_SECRET_2")');
  const changed = run(["migrate", "generate", "--name", "rename-var"], ENV);
  t.is(changed.code, 0, changed.stderr);
  t.regex(changed.stdout, /dropTable\("S3Secret"\)[\s\S]*createTable\("S3Secret"\)[\s\S]*\$\{S3_SECRET_2\}/);
  const renamed = run(["migrate", "deploy"], { ...ENV, S3_SECRET_2: SECRET });
  t.is(renamed.code, 0, renamed.stdout + renamed.stderr);

  // ClickHouse has the values exactly (its stored definition is the one place that holds them) ...
  const dataDir = join(dir, ".moose", "clickhouse");
  const s3 = storedDefinition(dataDir, "S3Secret");
  const kafka = storedDefinition(dataDir, "KafkaSasl");
  t.true(s3?.includes(`${quoteString(KEY_ID)}, ${quoteString(SECRET)}`), s3);
  t.true(kafka?.includes(`kafka_sasl_password = ${quoteString(KAFKA_PASSWORD)}`), kafka);
  // ... and no file of moose's (migrations, ledger, .moose/ state, logs) nor any command's output holds one.
  const leaks: string[] = [];
  for (const { path, text } of filesUnder(dir, dataDir)) {
    for (const secret of SECRETS) for (const form of [secret, quoteString(secret), JSON.stringify(secret)]) if (text.includes(form)) leaks.push(`${path} holds ${JSON.stringify(secret)}`);
  }
  outputs.forEach((o, i) => {
    for (const secret of SECRETS) if (o.stdout.includes(secret) || o.stderr.includes(secret)) leaks.push(`command ${i} printed ${JSON.stringify(secret)}`);
  });
  t.deepEqual(leaks, []);
});

const url = process.env["CLICKHOUSE_URL"];
const databases: string[] = [];
test.after.always(async () => {
  if (!url || databases.length === 0) return;
  const olap = await openOlapEngine(serverConfigFromEnv("default")!);
  for (const db of databases) await olap.execute(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
  await olap.close();
});

(url ? test : test.skip)("server 18.16, the ledger in the target: a Kafka setting read from the environment is sent, shown in clear by the server but never kept; _moose_ledger, the mirror and every output hold only ${NAME}; SASL settings are refused naming the version", async (t) => {
  const database = `moose_secrets_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  databases.push(database);
  const SCHEMA = "schema-'9c1d\\ \n-- x";
  const app = [
    'import { OlapTable, ClickHouseEngines, mooseRuntimeEnv } from "@514labs/moose-lib";',
    "interface Row { id: string; data: string }",
    'export const kafka = new OlapTable<Row>("KafkaSchema", { engine: ClickHouseEngines.Kafka, brokerList: "127.0.0.1:9", topicList: "t", groupName: "g", format: "JSONEachRow",',
    '  settings: { kafka_schema: mooseRuntimeEnv.get("KAFKA_SCHEMA") } });',
  ].join("\n");
  const dir = await initProject("secrets-server", app);
  const { hostname, port } = new URL(url!);
  writeFileSync(join(dir, "moose.config.toml"), `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  const env = { KAFKA_SCHEMA: SCHEMA };
  const outputs: CliResult[] = [];
  const run = (args: readonly string[], e: Record<string, string> = env): CliResult => {
    const r = moose(dir, args, e);
    outputs.push(r);
    return r;
  };
  t.is(run(["migrate", "generate", "--name", "kafka"]).code, 0);
  const missing = run(["migrate", "deploy"], {});
  t.is(missing.code, 2, missing.stderr);
  t.regex(missing.stderr, /RUNTIME_ENV_MISSING\]: step 1 of \d+_kafka \(table\.create KafkaSchema\) reads the environment variable KAFKA_SCHEMA/);
  const deployed = run(["migrate", "deploy"]);
  t.is(deployed.code, 0, deployed.stdout + deployed.stderr);
  const status = run(["migrate", "status", "--json"]);
  t.deepEqual((JSON.parse(status.stdout) as { drift: unknown[] }).drift, [], "the value the server shows in clear is not compared, and no drift is reported");

  const olap = await openOlapEngine(serverConfigFromEnv(database)!);
  try {
    const [table] = await olap.query<{ engine_full: string }>(`SELECT engine_full FROM system.tables WHERE database = '${database}' AND name = 'KafkaSchema'`);
    t.true(table?.engine_full.includes(`kafka_schema = ${quoteString(SCHEMA)}`), table?.engine_full);
    const ledger = await olap.query<{ text: string }>("SELECT concat(op, ' ', migration_id, ' ', record) AS text FROM _moose_ledger");
    t.true(ledger.length > 0);
    const recorded = ledger.map((r) => r.text).join("\n");
    t.true(recorded.includes("${KAFKA_SCHEMA}"), recorded);
    t.false(recorded.includes("9c1d"), "the target's ledger never holds the value");
  } finally {
    await olap.close();
  }
  const leaks = filesUnder(dir, join(dir, "node_modules"))
    .filter((f) => f.text.includes("9c1d"))
    .map((f) => f.path);
  outputs.forEach((o, i) => (o.stdout + o.stderr).includes("9c1d") && leaks.push(`output of command ${i}`));
  t.deepEqual(leaks, []);

  // The SASL settings do not exist on this server: refused by name before anything runs.
  editFile(dir, "app/index.ts", 'kafka_schema: mooseRuntimeEnv.get("KAFKA_SCHEMA")', 'kafka_schema: mooseRuntimeEnv.get("KAFKA_SCHEMA"), kafka_sasl_password: mooseRuntimeEnv.get("KAFKA_PASSWORD")');
  t.is(run(["migrate", "generate", "--name", "sasl"]).code, 0);
  const refused = run(["migrate", "deploy"], { ...env, KAFKA_PASSWORD: "pw-3e8a" });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /UNSUPPORTED_BY_SERVER\][\s\S]*ClickHouse 18\.16\.\d+ does not support the Kafka engine's kafka_sasl_password table setting \(ClickHouse 23\.3\+\)/);
});

test.serial("moose dev: a save that reads an unset variable applies nothing and says which; set, it applies, and the draft and ledger show ${NAME}", async (t) => {
  const root = tempDir("secrets-dev");
  t.is((await runCli(root, ["init", "p"])).code, 0);
  const dir = join(root, "p");
  writeFileSync(join(dir, "app/index.ts"), APP);
  const config = await loadConfig(dir, {});
  const engines = await openDeployEngines(config, { streams: false, workflows: false });
  const ledger = await projectLedger(config, "0.1.0-test");
  const names = Object.keys(ENV);
  t.teardown(async () => {
    for (const n of names) delete process.env[n];
    await engines.close();
    await ledger.close();
  });
  const session = new DevSession({ config, engines, ledger, toolVersion: "0.1.0-test", confirmDataLoss: async () => false });
  await session.start();
  for (const n of names) delete process.env[n];
  process.env["S3_KEY_ID"] = KEY_ID;
  const missing = await session.cycle();
  t.is(missing.kind, "invalid");
  t.deepEqual(missing.kind === "invalid" ? missing.errors.map((e) => `${e.code}: ${e.message}`) : [], [
    "RUNTIME_ENV_MISSING: step 1 of this save (table.create KafkaSasl) (and 1 more step) reads the environment variables KAFKA_PASSWORD, S3_SECRET (mooseRuntimeEnv.get), which are not set",
  ]);
  t.deepEqual(await engines.olap.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('KafkaSasl', 'S3Secret')"), [], "nothing was created");
  Object.assign(process.env, ENV);
  const applied = await session.cycle();
  t.is(applied.kind, "applied", JSON.stringify(applied));
  t.deepEqual((await engines.olap.query<{ name: string }>("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ('KafkaSasl', 'S3Secret') ORDER BY name")).map((r) => r.name), ["KafkaSasl", "S3Secret"]);
  const statements = await queryRows<{ statements: string }>(join(dir, ".moose", "ledger.sqlite"), "SELECT statements FROM migration_steps");
  t.true(statements.some((r) => r.statements.includes("${S3_SECRET}")), JSON.stringify(statements));
  const leaks = filesUnder(dir, join(dir, ".moose", "clickhouse")).filter(({ text }) => SECRETS.some((s) => text.includes(s) || text.includes(quoteString(s)))).map((f) => f.path);
  t.deepEqual(leaks, []);
});

(url ? test : test.skip)("server 18.16: migrate baseline adopts a table whose setting the server shows in clear, writing the declared reference, never the value", async (t) => {
  const database = `moose_secrets_b_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  databases.push(database);
  const VALUE = "baseline-'5b7e\\";
  const olap = await openOlapEngine(serverConfigFromEnv(database)!);
  try {
    await olap.execute(`CREATE TABLE \`${database}\`.KafkaSchema (id String, data String) ENGINE = Kafka('127.0.0.1:9', 't', 'g', 'JSONEachRow') SETTINGS kafka_schema = ${quoteString(VALUE)}`);
  } finally {
    await olap.close();
  }
  const app = [
    'import { OlapTable, ClickHouseEngines, mooseRuntimeEnv } from "@514labs/moose-lib";',
    "interface Row { id: string; data: string }",
    'export const kafka = new OlapTable<Row>("KafkaSchema", { engine: ClickHouseEngines.Kafka, brokerList: "127.0.0.1:9", topicList: "t", groupName: "g", format: "JSONEachRow",',
    '  settings: { kafka_schema: mooseRuntimeEnv.get("KAFKA_SCHEMA") } });',
  ].join("\n");
  const dir = await initProject("secrets-baseline", app);
  const { hostname, port } = new URL(url!);
  writeFileSync(join(dir, "moose.config.toml"), `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`);
  const r = moose(dir, ["migrate", "baseline"], { KAFKA_SCHEMA: VALUE });
  t.is(r.code, 0, r.stdout + r.stderr);
  const file = readdirSync(join(dir, "migrations")).find((f) => f.endsWith("_baseline.ts"))!;
  const source = readFileSync(join(dir, "migrations", file), "utf8");
  t.true(source.includes('kafka_schema: { runtimeEnv: "KAFKA_SCHEMA" }'), source);
  t.deepEqual(filesUnder(dir, join(dir, "node_modules")).filter((f) => f.text.includes("5b7e")).map((f) => f.path), []);
  t.false((r.stdout + r.stderr).includes("5b7e"));
  const status = moose(dir, ["migrate", "status", "--json"], { KAFKA_SCHEMA: VALUE });
  t.deepEqual((JSON.parse(status.stdout) as { drift: unknown[] }).drift, []);
});
