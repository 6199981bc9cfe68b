import test from "ava";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { moose, tempDir } from "./helpers/cli.js";

/**
 * The seed walkthrough against a real ClickHouse server (CI installs Debian's
 * clickhouse-server 18.16 and sets CLICKHOUSE_URL; see .ci/run). Skipped, with a
 * line saying so, when CLICKHOUSE_URL is not set.
 */
const url = process.env["CLICKHOUSE_URL"];
const run = url ? test : test.skip;
if (!url) console.log("deploy-server: CLICKHOUSE_URL is not set; skipping the walkthrough on a ClickHouse server (.ci/run sets it)");

function project(database: string): string {
  const root = tempDir("server");
  const r = moose(root, ["init", "p"]);
  if (r.code !== 0) throw new Error(r.stderr);
  const dir = join(root, "p");
  const { hostname, port } = new URL(url!);
  writeFileSync(
    join(dir, "moose.config.toml"),
    `[clickhouse_config]\nhost = "${hostname}"\nhost_port = ${port || 8123}\ndb_name = "${database}"\nuser = "default"\npassword = ""\n`,
  );
  return dir;
}

function edit(dir: string, from: string, to: string): void {
  const path = join(dir, "app/index.ts");
  writeFileSync(path, readFileSync(path, "utf8").replace(from, to));
}

run("seed walkthrough on a ClickHouse server: Users + UserEvents → Analytics → age; old rows read NULL; no drift", (t) => {
  const dir = project(`moose_walk_${process.pid}_${Date.now().toString(36)}`);
  const step = (args: string[]) => {
    const r = moose(dir, args);
    t.is(r.code, 0, `moose ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  step(["migrate", "generate", "--name", "create users"]);
  t.regex(step(["migrate", "deploy"]), /1 migration applied\./);
  step(["query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')", "--write"]);

  edit(dir, "export const usersTable", 'interface AnalyticsSchema {\n  event: string;\n  at: Date;\n}\nexport const analyticsTable = new OlapTable<AnalyticsSchema>("Analytics");\nexport const usersTable');
  step(["migrate", "generate", "--name", "add analytics"]);
  step(["migrate", "deploy"]);

  edit(dir, "  email: string;\n", "  email: string;\n  age?: number;\n");
  t.regex(step(["plan"]), /~ Users \(Schema Update\)\n      \+ age Nullable\(Float64\)\n/);
  step(["migrate", "generate", "--name", "add age"]);
  step(["migrate", "deploy"]);
  t.deepEqual(JSON.parse(step(["query", "SELECT id, age FROM Users", "--format", "json"])), [{ id: "u1", age: null }]);
  const status = moose(dir, ["migrate", "status", "--json"]);
  t.is(status.code, 0, status.stdout + status.stderr);
  const doc = JSON.parse(status.stdout) as { verdict: string; drift: string[] };
  t.deepEqual(doc.drift, []);
  t.is(doc.verdict, "ok");
  t.is(step(["plan"]), "No changes: the infrastructure matches the code.\n");
});

run("a type this server cannot store is refused before anything is sent", (t) => {
  const dir = project(`moose_refuse_${process.pid}_${Date.now().toString(36)}`);
  writeFileSync(join(dir, "app/index.ts"), 'import { OlapTable } from "moose-migrate";\ninterface Flag {\n  id: string;\n  on: boolean;\n}\nexport const flags = new OlapTable<Flag>("Flags");\n');
  t.is(moose(dir, ["migrate", "generate"]).code, 0);
  const d = moose(dir, ["migrate", "deploy"]);
  t.is(d.code, 3, d.stdout + d.stderr);
  t.regex(d.stderr, /UNSUPPORTED_BY_SERVER/);
  t.regex(d.stderr, /18\.16/);
  const status = moose(dir, ["migrate", "status"]);
  t.is(status.code, 4, status.stdout);
});
