import test from "ava";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig, type MooseConfig } from "../lib/config/config.js";
import { compileGlob, GlobError } from "../lib/config/glob.js";
import { watchIgnorer } from "../lib/dev/watch-ignore.js";
import { InvalidInputError, InvalidInputErrors } from "../lib/errors.js";
import { openOlapEngine } from "../lib/engines/olap/open.js";

// Compiled to dist/tests/, so the fixtures are two levels up.
const apps = fileURLToPath(new URL("../../fixtures/config/moose-apps/", import.meta.url));
const FILE = "moose.config.toml";

function parse(text: string, env: Record<string, string | undefined> = {}): MooseConfig {
  return parseConfig(text, { file: FILE, env });
}

function failure(text: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    parse(text, env);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    return error instanceof InvalidInputErrors ? error.errors.map((e) => e.located) : [error.located];
  }
  throw new Error("expected parseConfig to throw");
}

const readApp = (name: string) => readFile(join(apps, `${name}.moose.config.toml`), "utf8");

// ---------------------------------------------------------------- the public apps' own configs

test("every Moose app's own moose.config.toml loads, and each notice names keys of that file", async (t) => {
  const files = (await readdir(apps)).filter((f) => f.endsWith(".moose.config.toml"));
  t.is(files.length, 26);
  for (const file of files) {
    const text = await readFile(join(apps, file), "utf8");
    const config = parseConfig(text, { file, env: {} });
    t.true(config.notices.length > 0, `${file}: Moose keys are named`);
    for (const notice of config.notices) {
      // The notice points at a line of this file that holds the first key it names.
      const line = text.split("\n")[(notice.position?.line ?? 0) - 1] ?? "";
      const first = /^(\[?[a-z_.]+\]?)/.exec(notice.message)?.[1]?.split(".").pop() ?? "";
      t.true(line.includes(first.replace(/[[\]]/g, "")), `${file}:${notice.position?.line}: ${notice.message}`);
    }
  }
});

test("the typescript template: what is understood and what is ignored, one line per reason", async (t) => {
  const config = parseConfig(await readApp("templates_typescript"), { file: FILE, env: {} });
  t.deepEqual(
    config.notices.map((n) => `${n.position?.line}: ${n.message}`),
    [
      "1: language is accepted from Moose and ignored: moose reads the TypeScript app at moose.main_file (<source_dir>/index.ts); the language is not a setting",
      "3: [typescript_config] is accepted from Moose and ignored: moose never installs dependencies; install them with your package manager",
      "33: [git_config] is accepted from Moose and ignored: moose reads no git state",
      "37: temporal_config.db_user, db_password, db_port, temporal_version, admin_tools_version, ui_version, ui_port, ui_cors_origins, config_path, postgresql_version are accepted from Moose and ignored: they configured the Temporal containers of Moose's Docker set-up; moose starts none (it connects to address)",
      "51: [supported_old_versions] is accepted from Moose and ignored: old versions are migration files and the ledger here, not builds kept per version",
    ],
  );
  t.deepEqual(config.olap, {
    engine: "server",
    host: "localhost",
    port: 18123,
    nativePort: 9000,
    database: "local",
    user: "panda",
    password: "pandapass",
    useSsl: false,
  });
  t.deepEqual(config.devInfra, {
    clickhouse: { host: "localhost", port: 18123, user: "panda", password: "pandapass" },
    streams: true,
    temporal: true,
  });
  t.deepEqual(config.httpServer, { host: "localhost", port: 4000, managementPort: 5001 });
  t.deepEqual(config.redis, { url: "redis://127.0.0.1:6379", keyPrefix: "MS" });
  t.is(config.temporal.address, "localhost:7233");
  t.deepEqual(config.watcher, { ignorePatterns: [] });
  t.is(config.features.workflows, true);
  t.is(config.paths.mainFile, "app/index.ts");
});

test("source_dir = \"src\" is where the app lives: main file src/index.ts, dev watches src/", async (t) => {
  const config = parseConfig(await readApp("templates_typescript-tests"), { file: FILE, env: {} });
  t.like(config.paths, { appDir: "src", mainFile: "src/index.ts" });
  t.deepEqual(config.olap.additionalDatabases, ["analytics"]);
  // An explicit main_file wins; the app folder stays source_dir.
  t.like(parse('source_dir = "src"\n[moose]\nmain_file = "src/main.ts"\n').paths, { appDir: "src", mainFile: "src/main.ts" });
  t.like(parse("", { MOOSE_SOURCE_DIR: "lib" }).paths, { appDir: "lib", mainFile: "lib/index.ts" });
});

test("clusters: Moose's [[clickhouse_config.clusters]] tables are read and validated", async (t) => {
  const config = parseConfig(await readApp("templates_typescript-cluster"), { file: FILE, env: {} });
  t.deepEqual(config.olap.clusters, [{ name: "cluster_a" }, { name: "cluster_b" }]);
  t.deepEqual(parse('[clickhouse_config]\nclusters = [{ name = "c1" }]\n').olap.clusters, [{ name: "c1" }]);
  t.deepEqual(parse("", { MOOSE_CLICKHOUSE_CONFIG__CLUSTERS: "a, b" }).olap.clusters, [{ name: "a" }, { name: "b" }]);
  t.is(parse("[clickhouse_config]\nclusters = []\n").olap.clusters, undefined);
  t.deepEqual(failure('[[clickhouse_config.clusters]]\nname = "a"\n[[clickhouse_config.clusters]]\nname = "a"\n'), [
    'moose.config.toml:4:1: clickhouse_config.clusters[1] must be a cluster name not listed before, found "a"',
  ]);
  t.deepEqual(failure('[[clickhouse_config.clusters]]\nnmae = "a"\n'), [
    'moose.config.toml:2:1: clickhouse_config.clusters[0] must be only name = "<cluster>" (unknown key nmae), found "a"',
  ]);
  t.deepEqual(failure("[[clickhouse_config.clusters]]\n"), [
    'moose.config.toml:1:21: clickhouse_config.clusters[0] must be a table with name = "<cluster>", found a table',
  ]);
  t.deepEqual(failure('[clickhouse_config]\nclusters = "main"\n'), [
    'moose.config.toml:2:1: clickhouse_config.clusters must be an array of tables, each with name = "<cluster>" ([[clickhouse_config.clusters]]), found "main"',
  ]);
  t.deepEqual(failure('[[clickhouse_config.clusters]]\nname = "a b"\n'), [
    "moose.config.toml:2:1: clickhouse_config.clusters[0] must be a cluster name (letters, digits, '_', '.' and '-'), found \"a b\"",
  ]);
  // A sub-table of an element is a key of that element.
  t.deepEqual(failure('[[clickhouse_config.clusters]]\nname = "a"\n[clickhouse_config.clusters.shards]\nn = 1\n'), [
    'moose.config.toml:3:29: clickhouse_config.clusters[0] must be only name = "<cluster>" (unknown key shards), found a table',
  ]);
});

test("additional_databases: names validated, each once; db_name itself is not repeated", (t) => {
  t.deepEqual(parse('[clickhouse_config]\nadditional_databases = ["a", "local"]\n').olap.additionalDatabases, ["a"]);
  t.deepEqual(failure('[clickhouse_config]\nadditional_databases = ["ok", "no-dash"]\n'), [
    'moose.config.toml:2:31: clickhouse_config.additional_databases[1] must be a database name (letters, digits and _, not starting with a digit), found "no-dash"',
  ]);
  t.deepEqual(failure('[clickhouse_config]\nadditional_databases = ["a", "a"]\n'), [
    'moose.config.toml:2:30: clickhouse_config.additional_databases[1] must be a database name not listed before, found "a"',
  ]);
});

test("additional_databases are created when the engine opens (embedded ClickHouse)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moose-adddb-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = parse('[clickhouse_config]\nengine = "embedded"\nadditional_databases = ["analytics", "staging"]\n');
  if (config.olap.engine !== "embedded") throw new Error("embedded expected");
  const olap = await openOlapEngine({ ...config.olap, dataDir: join(dir, "clickhouse") });
  try {
    const rows = await olap.query("SELECT name FROM system.databases WHERE name IN ('local', 'analytics', 'staging') ORDER BY name");
    t.deepEqual(rows.map((r) => r.name), ["analytics", "local", "staging"]);
  } finally {
    await olap.close();
  }
});

test("temporal_config: Moose's temporal_host and temporal_port make the address; not both spellings", (t) => {
  t.is(parse('[temporal_config]\ntemporal_host = "temporal.internal"\ntemporal_port = 7234\n').temporal.address, "temporal.internal:7234");
  t.is(parse("[temporal_config]\ntemporal_port = 7300\n").temporal.address, "localhost:7300");
  t.is(parse('[temporal_config]\ntemporal_host = "::1"\n').temporal.address, "[::1]:7233");
  t.deepEqual(failure('[temporal_config]\naddress = "a:1"\ntemporal_port = 2\n'), [
    "moose.config.toml:3:1: temporal_config.address and temporal_config.temporal_port are both set; keep address, or Moose's temporal_host and temporal_port",
  ]);
});

test("redis_config: in-process cache unless a key is set; url, or hostname/port/tls", (t) => {
  t.is(parse("").redis, undefined);
  t.deepEqual(parse('[redis_config]\nurl = "redis://cache:6380/2"\nkey_prefix = "app"\n').redis, { url: "redis://cache:6380/2", keyPrefix: "app" });
  t.deepEqual(parse('[redis_config]\nhostname = "cache"\ntls = true\n').redis, { url: "rediss://cache:6379", keyPrefix: "MS" });
  t.deepEqual(parse("", { MOOSE_REDIS_CONFIG__URL: "redis://127.0.0.1:6390" }).redis, { url: "redis://127.0.0.1:6390", keyPrefix: "MS" });
  // The URL may hold a password: never echoed.
  t.deepEqual(failure('[redis_config]\nurl = "http://user:secret@cache"\n'), [
    'moose.config.toml:2:1: redis_config.url must be a "redis://host:port" or "rediss://host:port" URL, found a string',
  ]);
  t.deepEqual(parse('[redis_config]\nlast_key_prefix = "MS"\n').notices.map((n) => n.message), [
    "redis_config.last_key_prefix is accepted from Moose and ignored: Moose kept its own state in Redis under it; moose keeps none there",
  ]);
});

test("http_server_config.management_port is understood; it cannot be the API port", (t) => {
  t.deepEqual(parse("[http_server_config]\nmanagement_port = 5001\n").httpServer, { host: "localhost", port: 4000, managementPort: 5001 });
  t.deepEqual(failure("[http_server_config]\nport = 5001\nmanagement_port = 5001\n"), [
    "moose.config.toml:3:1: http_server_config.management_port is 5001, the same as http_server_config.port; give the management listener a port of its own",
  ]);
});

test("watcher_config.ignore_patterns: validated globs, matched against the path in the app folder", async (t) => {
  const config = parseConfig(await readApp("templates_typescript-migrate-test"), { file: FILE, env: {} });
  t.deepEqual(config.watcher.ignorePatterns, ["migration/**"]);
  t.deepEqual(failure('[watcher_config]\nignore_patterns = ["ok/**", "bad/[x"]\n'), [
    'moose.config.toml:2:29: watcher_config.ignore_patterns[1] must be a valid glob pattern (unclosed [ at character 5), found "bad/[x"',
  ]);
  const ignored = watchIgnorer("/p/app", ["migration/**", "*.test.ts", "gen/{a,b}.ts", "tmp?/x"]);
  t.true(ignored("/p/app/migration"), "the folder itself, so it is not watched at all");
  t.true(ignored("/p/app/migration/sub/file.ts"));
  t.true(ignored("/p/app/lib/deep/x.test.ts"), "* crosses /, as in Moose");
  t.true(ignored("/p/app/gen/b.ts"));
  t.true(ignored("/p/app/tmp1/x"));
  t.false(ignored("/p/app/index.ts"));
  t.false(ignored("/p/app/gen/c.ts"));
  t.false(ignored("/p/migrations/x.test.ts"), "outside the app folder");
  t.false(ignored("/p/app"));
});

test("compileGlob: globset's syntax", (t) => {
  const cases: Array<[string, string, boolean]> = [
    ["*.ts", "a/b.ts", true],
    ["a/**/c", "a/b/b/c", true],
    ["[a-c]x", "bx", true],
    ["[!a-c]x", "bx", false],
    ["[]]", "]", true],
    ["{x,y}z", "yz", true],
    ["a\\*", "a*", true],
    ["a\\*", "ab", false],
    ["a.b", "axb", false],
    ["(a)|b", "(a)|b", true],
  ];
  for (const [pattern, path, expected] of cases) t.is(compileGlob(pattern).test(path), expected, `${pattern} ~ ${path}`);
  for (const [pattern, message] of <Array<[string, string]>>[
    ["a{b{c}}", "nested { at character 4 (alternatives do not nest)"],
    ["a}", "} without { at character 2"],
    ["{a", "unclosed {"],
    ["x\\", "ends with a lone \\"],
  ]) {
    t.is(t.throws(() => compileGlob(pattern), { instanceOf: GlobError })?.message, message);
  }
});

// ---------------------------------------------------------------- dev's local infrastructure

test("dev runs the local infrastructure for loopback servers unless told to use them", (t) => {
  const moose = '[clickhouse_config]\nhost = "localhost"\nhost_port = 18123\nuser = "u"\npassword = "p"\n[redpanda_config]\nbroker = "localhost:19092"\n';
  t.deepEqual(parse(moose).devInfra, { clickhouse: { host: "localhost", port: 18123, user: "u", password: "p" }, streams: true, temporal: true });
  t.deepEqual(parse(`load_infra = false\n${moose}`).devInfra, { streams: false, temporal: false });
  t.deepEqual(parse(moose.replace("[clickhouse_config]\n", '[clickhouse_config]\nengine = "server"\n')).devInfra, { streams: true, temporal: true });
  // Temporal on this machine (Moose's Docker one) is run embedded when it does not answer; elsewhere it is connected to.
  t.is(parse(`${moose}[temporal_config]\ntemporal_host = "temporal.internal"\n`).devInfra.temporal, false);
  t.is(parse(`${moose}[temporal_config]\naddress = "[::1]:7233"\n`).devInfra.temporal, true);
  t.deepEqual(parse(moose.replace("[redpanda_config]\n", '[redpanda_config]\nengine = "kafka"\n')).devInfra.streams, false);
  t.deepEqual(parse(moose.replace('"localhost"', '"db.internal"')).devInfra.clickhouse, undefined);
  t.deepEqual(parse(moose.replace('"localhost"', '"127.0.0.2"')).devInfra.clickhouse?.host, "127.0.0.2");
  t.deepEqual(parse(moose.replace('"localhost:19092"', '"localhost:19092,kafka:9092"')).devInfra.streams, false);
  t.deepEqual(parse("").devInfra, { streams: false, temporal: true }, "embedded already: nothing to run instead (Temporal at localhost:7233 only if it does not answer)");
  t.deepEqual(parse(moose, { MOOSE_LOAD_INFRA: "false" }).devInfra, { streams: false, temporal: false });
});

// ---------------------------------------------------------------- still errors

test("a key neither Moose nor moose knows is an error with a suggestion, in Moose's sections too", (t) => {
  t.deepEqual(failure('langauge = "Typescript"\n'), [
    "moose.config.toml:1:1: unknown top-level key langauge; did you mean language? Top-level keys are source_dir, load_infra, language; other keys belong in a section: features, clickhouse_config, redpanda_config, authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
  ]);
  t.deepEqual(failure("[typscript_config]\n"), [
    "moose.config.toml:1:2: unknown section [typscript_config]; did you mean [typescript_config]? Allowed sections: features, clickhouse_config, redpanda_config, authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
  ]);
  t.deepEqual(failure('[typescript_config]\npackage_manger = "npm"\n'), [
    "moose.config.toml:2:1: unknown key typescript_config.package_manger; did you mean typescript_config.package_manager? Keys Moose allows in [typescript_config]: package_manager",
  ]);
  t.deepEqual(failure('[temporal_config]\ntemporal_verison = "1"\n'), [
    "moose.config.toml:2:1: unknown key temporal_config.temporal_verison; did you mean temporal_config.temporal_version? Allowed keys in [temporal_config]: address, namespace, temporal_host, temporal_port",
  ]);
  t.deepEqual(failure('[dev.remote_clickhouse]\nhots = "x"\n'), [
    "moose.config.toml:2:1: unknown key dev.remote_clickhouse.hots; did you mean dev.remote_clickhouse.host? Keys Moose allows in [dev.remote_clickhouse]: protocol, host, port, database, use_ssl",
  ]);
  t.deepEqual(failure("[http_server_config]\nworkers = 4\n"), [
    "moose.config.toml:2:1: unknown key http_server_config.workers; did you mean http_server_config.api_workers? Allowed keys in [http_server_config]: host, port, management_port",
  ]);
  // Free-form in Moose: any key.
  t.deepEqual(parse('[supported_old_versions]\n"0.3.1" = "v0.3.1"\n').notices.length, 1);
  // A Moose section that is not a table.
  t.deepEqual(failure('git_config = "main"\n'), ['moose.config.toml:1:1: git_config must be a table ([git_config]), found "main"']);
});

test("jwt: accepted, except enforcement moose cannot do (the APIs would answer unchecked)", (t) => {
  t.deepEqual(parse('[jwt]\nsecret = "s"\nissuer = "i"\naudience = "a"\nenforce_on_all_ingest_apis = false\n').notices.map((n) => n.message), [
    "[jwt] is accepted from Moose and ignored: moose does not verify JWTs",
  ]);
  t.deepEqual(failure('[jwt]\nsecret = "s"\nenforce_on_all_consumptions_apis = true\n'), [
    "moose.config.toml:3:1: jwt.enforce_on_all_consumptions_apis = true asks for JWT checks on every API, and moose does not verify JWTs: the APIs would answer without the check",
  ]);
});

test("[kafka_config] is Moose's other name for [redpanda_config]; environment spellings of ignored keys are noted", (t) => {
  const config = parse('[kafka_config]\nbroker = "k:9092"\n');
  t.like(config.streaming, { engine: "kafka", brokers: ["k:9092"] });
  t.deepEqual(config.notices.map((n) => n.message), ["[kafka_config] is read as [redpanda_config] (Moose's other name for it)"]);
  t.deepEqual(failure('[kafka_config]\nbroker = "a:1"\n[redpanda_config]\n'), [
    "moose.config.toml:1:2: [kafka_config] and [redpanda_config] are both set; they are the same section (Moose's two names for it): keep one",
  ]);
  t.deepEqual(parse("", { MOOSE_TEMPORAL_CONFIG__DB_USER: "t" }).notices.map((n) => n.message), [
    "MOOSE_TEMPORAL_CONFIG__DB_USER (temporal_config.db_user) is accepted from Moose and ignored: they configured the Temporal containers of Moose's Docker set-up; moose starts none (it connects to address)",
  ]);
});
