import test from "ava";
import { cpSync, readdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { moose, tempDir } from "./helpers/cli.js";

/**
 * moose-lib's own test app (templates/typescript-tests of 514-labs/moosestack, copied unchanged to
 * fixtures/moose-templates/typescript-tests) on the embedded engines: every table feature moose-lib
 * tests (engines from MergeTree to S3Queue and the Replicated family, codecs, TTLs, indexes,
 * projections, materialized and alias columns, JSON, geo and nested types, drizzle-inferred records,
 * credentials from `mooseRuntimeEnv`) is planned, written to a migration, deployed and read back with
 * no drift. The optional packages its models import (drizzle-orm) are this package's devDependencies.
 */

const TEMPLATE_DIR = fileURLToPath(new URL("../../fixtures/moose-templates/typescript-tests", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** Secrets the app reads with mooseRuntimeEnv.get(...): values no file or output may contain. */
const SECRETS = {
  TEST_AWS_ACCESS_KEY_ID: `AKIATESTKEY${process.pid}`,
  TEST_AWS_SECRET_ACCESS_KEY: `s3cr3t-${process.pid}-${Math.random().toString(36).slice(2)}`,
};

/**
 * The app's own moose.config.toml names loopback servers (ClickHouse at localhost:18123, Redpanda at
 * localhost:19092, Temporal at localhost:7233) that `moose dev` would run itself; deploy is told to use the
 * embedded engines instead. Workflows stay off here: only `moose dev` runs an embedded Temporal.
 */
const ENV: Record<string, string> = {
  MOOSE_CLICKHOUSE_CONFIG__ENGINE: "embedded",
  MOOSE_REDPANDA_CONFIG__ENGINE: "embedded",
  MOOSE_FEATURES__WORKFLOWS: "false",
  ...SECRETS,
};

/** Warnings that say nothing was left out of the database: code that is served, not planned, and packages only the run-time code imports. */
const HARMLESS_WARNINGS = [
  /cannot find module '[^']+' \(ignored for planning; install it before `moose dev` runs the code that imports it\)/,
  /imports of @514labs\/moose-lib are planned against moose-migrate's declaration library/,
  /typia is not installed: its type tags are read from moose-migrate's copy of them/,
  /WebApp "\w+" \(mounted at \/\w+\) is code served by `moose dev`; it has no infrastructure to plan/,
];

function warnings(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("warning:") && !HARMLESS_WARNINGS.some((re) => re.test(l)));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

test("moose-lib's typescript-tests app, unchanged: plans with nothing refused or dropped, deploys on the embedded engine, reads back without drift, keeps its secrets out of every file and output", async (t) => {
  const dir = join(tempDir("template-tests"), "typescript-tests");
  cpSync(TEMPLATE_DIR, dir, { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const outputs: string[] = [];
  const run = (args: string[]) => {
    const r = moose(dir, args, ENV);
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  const plan = run(["plan"]);
  t.is(plan.code, 0, plan.stderr);
  t.deepEqual(warnings(plan.stderr), [], "every warning is about code that is served, never about a declaration left out");
  t.notRegex(plan.stderr, /error\[/);

  const generate = run(["migrate", "generate", "--name", "typescript tests"]);
  t.is(generate.code, 0, generate.stderr);
  t.notRegex(generate.stderr, /would refuse/, "the embedded engine can run every step");
  const [file] = readdirSync(join(dir, "migrations")).filter((f) => f.endsWith(".ts"));
  t.truthy(file);
  const migration = readFileSync(join(dir, "migrations", file!), "utf8");
  const created = [...migration.matchAll(/createTable\(\{\s*name: "([^"]+)"/g)].map((m) => m[1]!);
  t.true(created.length >= 80, `${created.length} tables in the migration`);

  const deploy = run(["migrate", "deploy"]);
  t.is(deploy.code, 0, deploy.stdout + deploy.stderr);

  const status = run(["migrate", "status"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  t.notRegex(status.stdout, /drift/i);

  const listed = run(["query", "SELECT database, name, engine FROM system.tables WHERE database IN ('local', 'analytics') AND name NOT LIKE '\\_moose%' ORDER BY name", "--format", "json"]);
  t.is(listed.code, 0, listed.stderr);
  const rows = JSON.parse(listed.stdout) as { database: string; name: string; engine: string }[];
  const live = new Map(rows.map((r) => [r.database === "local" ? r.name : `${r.database}.${r.name}`, r.engine]));
  t.deepEqual(created.filter((name) => !live.has(name)), [], "every table the migration creates exists");
  t.is(live.get("S3QueueWithSecrets"), "S3Queue");
  // One node: the embedded engine creates a Replicated table without replication; the migration keeps the declared engine.
  t.is(live.get("ReplicatedAggregatingMergeTreeTest"), "AggregatingMergeTree");
  const declared = migration.slice(migration.indexOf('name: "ReplicatedAggregatingMergeTreeTest"'));
  t.regex(declared.slice(0, declared.indexOf("createTable(")), /engine: \{\s*kind: "AggregatingMergeTree",\s*replicated: \{\s*keeperPath: "\/clickhouse\/tables\/\{database\}\/\{shard\}\/replicated_aggregating_test"/);
  t.is(live.get("KafkaTestSource"), "Kafka");
  t.is(live.get("NonDeclaredType"), "MergeTree");

  const again = run(["migrate", "generate"]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /No changes/);

  for (const secret of Object.values(SECRETS)) {
    t.false(outputs.some((o) => o.includes(secret)), "no command printed a secret");
    // The embedded ClickHouse's own data folder keeps the table's definition with its credentials, as a server
    // does: the database is where they are meant to be. Everything else moose writes is searched.
    const written = [...filesUnder(join(dir, "migrations")), ...filesUnder(join(dir, ".moose")).filter((p) => !p.startsWith(join(dir, ".moose", "clickhouse")))];
    t.true(written.some((p) => p.endsWith(".sqlite") || p.endsWith(".db")), "the ledger is among the files searched");
    for (const path of written) {
      t.false(readFileSync(path).includes(secret), `${path} holds no secret`);
    }
  }
});
