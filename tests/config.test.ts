import test from "ava";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CONFIG_FILE_NAME,
  CONFIG_SCHEMA,
  DEFAULT_CONFIG,
  loadConfig,
  parseConfig,
  renderConfigReference,
  renderDefaultConfig,
  type MooseConfig,
} from "../lib/config/config.js";
import { TOP_LEVEL_KEYS } from "../lib/config/schema.js";
import { closestName } from "../lib/config/suggest.js";
import { InvalidInputError, InvalidInputErrors, type MooseError } from "../lib/errors.js";

// Compiled to dist/tests/, so the fixtures are two levels up.
const fixtures = fileURLToPath(new URL("../../fixtures/config/", import.meta.url));
const repositoryRoot = fileURLToPath(new URL("../../", import.meta.url));
const FILE = "moose.config.toml";

function parse(text: string, env: Record<string, string | undefined> = {}): MooseConfig {
  return parseConfig(text, { file: FILE, env });
}

/** The error `parse` throws, as plain data that is easy to compare. */
function failure(text: string, env: Record<string, string | undefined> = {}) {
  try {
    parse(text, env);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const flat = (e: MooseError) => ({ code: e.code, message: e.message, position: e.position });
    return error instanceof InvalidInputErrors ? error.errors.map(flat) : flat(error);
  }
  throw new Error("expected parseConfig to throw");
}

const at = (line: number, column: number) => ({ file: FILE, line, column });

// ---------------------------------------------------------------- defaults

test("an empty file means the defaults: embedded engines, state under .moose", (t) => {
  t.deepEqual(parse(""), DEFAULT_CONFIG);
  t.deepEqual(DEFAULT_CONFIG, {
    features: { olap: true, streamingEngine: true, workflows: false, apis: true },
    olap: { engine: "embedded", dataDir: ".moose/clickhouse", database: "local" },
    streaming: {
      engine: "embedded",
      dataDir: ".moose/streams",
      messageTimeoutMs: 1000,
      retentionMs: 604_800_000,
      replicationFactor: 1,
    },
    authentication: {},
    temporal: { address: "localhost:7233", namespace: "default" },
    httpServer: { host: "localhost", port: 4000 },
    watcher: { ignorePatterns: [] },
    devInfra: { streams: false, temporal: true },
    notices: [],
    paths: {
      appDir: "app",
      mainFile: "app/index.ts",
      migrationsDir: "migrations",
      stateDir: ".moose",
      ledgerPath: ".moose/ledger.sqlite",
      logFile: ".moose/moose.log",
    },
  });
  t.true(Object.isFrozen(DEFAULT_CONFIG.olap));
});

test("renderDefaultConfig parses back to the defaults and selects the embedded engines", async (t) => {
  const text = renderDefaultConfig();
  const config = parse(text);
  t.deepEqual(config, DEFAULT_CONFIG);
  t.is(config.olap.engine, "embedded");
  t.is(config.streaming.engine, "embedded");
  // The reference config at the repository's top level is what `moose init` writes; review its diff when
  // the schema changes (regenerate: node -e 'import("./dist/lib/config/config.js").then(m => process.stdout.write(m.renderDefaultConfig()))' > moose.config.toml).
  t.is(text, await readFile(join(repositoryRoot, "moose.config.toml"), "utf8"));
});

test("renderDefaultConfig shows every section and every key with a comment above it", (t) => {
  const lines = renderDefaultConfig().split("\n");
  for (const [section, spec] of Object.entries(CONFIG_SCHEMA)) {
    const header = lines.indexOf(`[${section}]`);
    t.true(header > 0, `[${section}] is missing`);
    t.true(lines[header - 1]?.startsWith("# "), `[${section}] has no comment`);
    for (const key of Object.keys(spec.keys)) {
      const line = lines.findIndex((l, i) => i > header && (l.startsWith(`${key} = `) || l.startsWith(`# ${key} = `)));
      t.true(line > header, `${section}.${key} is missing`);
      t.regex(lines[line - 1] ?? "", /^# (?![a-z_]+ = )/, `${section}.${key} has no comment`);
    }
  }
  t.true(lines.every((l) => l.length <= 100), "lines fit in 100 columns");
});

test("uncommenting host and broker in the rendered file switches to servers", (t) => {
  const text = renderDefaultConfig()
    .replace('# host = "localhost"', 'host = "localhost"')
    .replace('# broker = "localhost:19092"', 'broker = "localhost:19092"');
  const config = parse(text);
  t.deepEqual(config.olap, {
    engine: "server",
    host: "localhost",
    port: 18123,
    nativePort: 9000,
    database: "local",
    user: "panda",
    password: "",
    useSsl: false,
  });
  t.like(config.streaming, { engine: "kafka", brokers: ["localhost:19092"] });
});

test("renderConfigReference has one row per key", (t) => {
  const rows = renderConfigReference().trim().split("\n").slice(2);
  const keys = [
    ...Object.keys(TOP_LEVEL_KEYS),
    ...Object.entries(CONFIG_SCHEMA).flatMap(([s, spec]) => Object.keys(spec.keys).map((k) => `${s}.${k}`)),
  ];
  t.deepEqual(
    rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1]),
    keys,
  );
});

// ---------------------------------------------------------------- the seed's block

test("the documentation's config block, pasted as is, means a ClickHouse server and a Kafka broker", async (t) => {
  const text = await readFile(join(fixtures, "seed-docs.moose.config.toml"), "utf8");
  const config = parse(text);
  t.deepEqual(config.features, { olap: true, streamingEngine: true, workflows: false, apis: true });
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
  t.deepEqual(config.streaming, {
    engine: "kafka",
    brokers: ["localhost:19092"],
    messageTimeoutMs: 1000,
    retentionMs: 30000,
    replicationFactor: 1,
    securityProtocol: "PLAINTEXT",
  });
});

test("the documentation's [authentication] block", (t) => {
  const config = parse('[authentication]\nadmin_api_key = "your-hashed-token"\n');
  t.deepEqual(config.authentication, { adminApiKey: "your-hashed-token" });
});

// ---------------------------------------------------------------- engine choice

test("an explicit engine wins over the host/broker rule", (t) => {
  const embedded = parse('[clickhouse_config]\nengine = "embedded"\nhost = "ch.internal"\n[redpanda_config]\nengine = "embedded"\nbroker = "k:9092"\n');
  t.is(embedded.olap.engine, "embedded");
  t.is(embedded.streaming.engine, "embedded");

  const servers = parse('[clickhouse_config]\nengine = "server"\n[redpanda_config]\nengine = "kafka"\n');
  t.like(servers.olap, { engine: "server", host: "localhost", port: 18123 });
  t.like(servers.streaming, { engine: "kafka", brokers: ["localhost:19092"] });
});

test("brokers: one, a comma-separated list, or an array", (t) => {
  t.like(parse('[redpanda_config]\nbroker = "a:9092, b:9092"\n').streaming, { brokers: ["a:9092", "b:9092"] });
  t.like(parse('[redpanda_config]\nbrokers = ["a:9092", "[::1]:9092"]\n').streaming, {
    engine: "kafka",
    brokers: ["a:9092", "[::1]:9092"],
  });
});

test("SASL: canonical mechanism, SASL_SSL unless told otherwise", (t) => {
  const config = parse(
    '[redpanda_config]\nbroker = "k:9092"\nsasl_username = "u"\nsasl_password = "p"\nsasl_mechanism = "SCRAM-SHA-256"\nnamespace = "dev"\n',
  );
  t.deepEqual(config.streaming, {
    engine: "kafka",
    brokers: ["k:9092"],
    messageTimeoutMs: 1000,
    retentionMs: 604_800_000,
    replicationFactor: 1,
    namespace: "dev",
    securityProtocol: "SASL_SSL",
    sasl: { mechanism: "scram-sha-256", username: "u", password: "p" },
  });
});

test("[moose] paths; ledger and log follow state_dir unless set", (t) => {
  t.deepEqual(parse('[moose]\nstate_dir = "var/moose"\nmain_file = "src/main.ts"\n').paths, {
    appDir: "src",
    mainFile: "src/main.ts",
    migrationsDir: "migrations",
    stateDir: "var/moose",
    ledgerPath: "var/moose/ledger.sqlite",
    logFile: "var/moose/moose.log",
  });
  const config = parse('[moose]\nstate_dir = "var"\nledger_path = "db/ledger.sqlite"\n');
  t.is(config.paths.ledgerPath, "db/ledger.sqlite");
  t.like(config.olap, { dataDir: "var/clickhouse" });
});

test("other TOML spellings of the same sections: dotted keys, inline tables, BOM, CRLF", (t) => {
  t.like(parse('clickhouse_config.host = "ch"\nhttp_server_config = { port = 4100 }\n'), {
    olap: { engine: "server", host: "ch" },
    httpServer: { port: 4100 },
  });
  t.like(parse('\uFEFF[http_server_config]\r\nport = 4200\r\n'), { httpServer: { port: 4200 } });
});

// ---------------------------------------------------------------- environment

test("environment variables override the file", (t) => {
  const text = '[clickhouse_config]\nhost = "localhost"\npassword = "pandapass"\n[http_server_config]\nport = 4000\n';
  const config = parse(text, {
    MOOSE_CLICKHOUSE_CONFIG__PASSWORD: "s3cret",
    MOOSE_HTTP_SERVER_CONFIG__PORT: "4001",
    MOOSE_FEATURES__WORKFLOWS: "true",
    MOOSE_AUTHENTICATION__ADMIN_API_KEY: "hashed",
    MOOSE_REDPANDA_CONFIG__BROKERS: "a:1,b:2",
    // Not ours: ignored.
    MOOSE_LOG_LEVEL: "debug",
    MOOSE_TELEMETRY__ENABLED: "nope",
    PATH: "/usr/bin",
    // Empty means unset.
    MOOSE_CLICKHOUSE_CONFIG__USER: "",
  });
  t.like(config.olap, { engine: "server", password: "s3cret", user: "panda" });
  t.is(config.httpServer.port, 4001);
  t.true(config.features.workflows);
  t.deepEqual(config.authentication, { adminApiKey: "hashed" });
  t.like(config.streaming, { engine: "kafka", brokers: ["a:1", "b:2"] });
});

test("an environment broker replaces the file's brokers, whichever spelling each uses", (t) => {
  const config = parse('[redpanda_config]\nbrokers = ["file:9092"]\n', { MOOSE_REDPANDA_CONFIG__BROKER: "env:9092" });
  t.like(config.streaming, { brokers: ["env:9092"] });
});

test("environment host switches ClickHouse to the server", (t) => {
  t.like(parse("", { MOOSE_CLICKHOUSE_CONFIG__HOST: "clickhouse" }).olap, { engine: "server", host: "clickhouse" });
});

const badEnv: [string, Record<string, string>, string][] = [
  [
    "port not a number",
    { MOOSE_HTTP_SERVER_CONFIG__PORT: "abc" },
    'MOOSE_HTTP_SERVER_CONFIG__PORT (http_server_config.port) must be an integer port 1–65535, found "abc"',
  ],
  [
    "port out of range",
    { MOOSE_CLICKHOUSE_CONFIG__HOST_PORT: "70000" },
    'MOOSE_CLICKHOUSE_CONFIG__HOST_PORT (clickhouse_config.host_port) must be an integer port 1–65535, found "70000"',
  ],
  [
    "boolean",
    { MOOSE_FEATURES__OLAP: "yes" },
    'MOOSE_FEATURES__OLAP (features.olap) must be true or false, found "yes"',
  ],
  [
    "enum",
    { MOOSE_REDPANDA_CONFIG__ENGINE: "redpanda" },
    'MOOSE_REDPANDA_CONFIG__ENGINE (redpanda_config.engine) must be one of "embedded", "kafka", found "redpanda"',
  ],
  [
    "broker list",
    { MOOSE_REDPANDA_CONFIG__BROKERS: "a:1,b" },
    'MOOSE_REDPANDA_CONFIG__BROKERS (redpanda_config.brokers) must be a comma-separated list of "host:port" strings, found "a:1,b"',
  ],
  [
    "unknown key in one of our sections",
    { MOOSE_CLICKHOUSE_CONFIG__PASWORD: "x" },
    "unknown environment variable MOOSE_CLICKHOUSE_CONFIG__PASWORD: clickhouse_config.pasword is not a config key; " +
      "did you mean MOOSE_CLICKHOUSE_CONFIG__PASSWORD? " +
      "Allowed keys in [clickhouse_config]: engine, host, host_port, native_port, db_name, user, password, use_ssl, server_version, additional_databases, clusters",
  ],
];

for (const [name, env, message] of badEnv) {
  test(`bad environment variable: ${name}`, (t) => {
    t.deepEqual(failure("", env), { code: "CONFIG_INVALID", message, position: undefined });
  });
}

// ---------------------------------------------------------------- errors in the file

const badFiles: [string, string, string, number, number][] = [
  [
    "unknown section, with a suggestion",
    '[features]\nolap = true\n\n[clickhous_config]\nhost = "localhost"\n',
    "unknown section [clickhous_config]; did you mean [clickhouse_config]? " +
      "Allowed sections: features, clickhouse_config, redpanda_config, authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
    4,
    2,
  ],
  [
    "unknown section, nothing close",
    "[telemetry]\nenabled = false\n",
    "unknown section [telemetry]; " +
      "allowed sections: features, clickhouse_config, redpanda_config, authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
    1,
    2,
  ],
  [
    "unknown key, typo",
    '[clickhouse_config]\nhots = "localhost"\n',
    "unknown key clickhouse_config.hots; did you mean clickhouse_config.host? " +
      "Allowed keys in [clickhouse_config]: engine, host, host_port, native_port, db_name, user, password, use_ssl, server_version, additional_databases, clusters",
    2,
    1,
  ],
  [
    "unknown key, another name for a key",
    '[clickhouse_config]\n  database = "analytics"\n',
    "unknown key clickhouse_config.database; did you mean clickhouse_config.db_name? " +
      "Allowed keys in [clickhouse_config]: engine, host, host_port, native_port, db_name, user, password, use_ssl, server_version, additional_databases, clusters",
    2,
    3,
  ],
  [
    "unknown key, nothing close",
    "[http_server_config]\ncors = 4\n",
    "unknown key http_server_config.cors; allowed keys in [http_server_config]: host, port, management_port",
    2,
    1,
  ],
  [
    "key above its section",
    "host_port = 18123\n[clickhouse_config]\n",
    "unknown top-level key host_port; did you mean clickhouse_config.host_port (under [clickhouse_config])? " +
      "Top-level keys are source_dir, load_infra, language; other keys belong in a section: features, clickhouse_config, redpanda_config, authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
    1,
    1,
  ],
  [
    "wrong type: string for a port",
    '[clickhouse_config]\nhost_port = "abc"\n',
    'clickhouse_config.host_port must be an integer port 1–65535, found "abc"',
    2,
    1,
  ],
  [
    "wrong type: quoted number",
    '[http_server_config]\nport = "4000"\n',
    'http_server_config.port must be an integer port 1–65535, found "4000"',
    2,
    1,
  ],
  ["wrong type: string for a boolean", '[features]\nolap = "true"\n', 'features.olap must be true or false, found "true"', 2, 1],
  [
    "wrong type: float for an integer",
    "[redpanda_config]\nmessage_timeout_ms = 1000.0\n",
    "redpanda_config.message_timeout_ms must be a positive integer, found 1000.0",
    2,
    1,
  ],
  ["port 70000", "[clickhouse_config]\nhost_port = 70000\n", "clickhouse_config.host_port must be an integer port 1–65535, found 70000", 2, 1],
  ["port 0", "[http_server_config]\nport = 0\n", "http_server_config.port must be an integer port 1–65535, found 0", 2, 1],
  [
    "bad enum value",
    '[clickhouse_config]\nengine = "docker"\n',
    'clickhouse_config.engine must be one of "embedded", "server", found "docker"',
    2,
    1,
  ],
  [
    "bad enum value, SASL mechanism",
    '[redpanda_config]\nsasl_mechanism = "gssapi"\n',
    'redpanda_config.sasl_mechanism must be one of "plain", "scram-sha-256", "scram-sha-512", found "gssapi"',
    2,
    1,
  ],
  [
    "host with a scheme",
    '[clickhouse_config]\nhost = "http://localhost:8123"\n',
    'clickhouse_config.host must be a host name or IP address (no scheme, port or path), found "http://localhost:8123"',
    2,
    1,
  ],
  [
    "broker without a port",
    '[redpanda_config]\nbroker = "localhost"\n',
    'redpanda_config.broker must be a "host:port" string or a comma-separated list of them, found "localhost"',
    2,
    1,
  ],
  [
    "one bad element of brokers",
    '[redpanda_config]\nbrokers = ["a:1", 9092]\n',
    'redpanda_config.brokers[1] must be a "host:port" string, found 9092',
    2,
    19,
  ],
  [
    "db_name that is not an identifier",
    '[clickhouse_config]\ndb_name = "my-db"\n',
    'clickhouse_config.db_name must be a database name (letters, digits and _, not starting with a digit), found "my-db"',
    2,
    1,
  ],
  [
    "section that is not a table",
    "features = true\n",
    "features must be a table ([features]), found true",
    1,
    1,
  ],
  [
    "array of tables",
    "[[redpanda_config]]\n",
    "redpanda_config must be a table ([redpanda_config]), found an array of tables",
    1,
    3,
  ],
  [
    "dotted key at top level",
    "clickhouse_config.host_port = 99999\n",
    "clickhouse_config.host_port must be an integer port 1–65535, found 99999",
    1,
    19,
  ],
  [
    "broker and brokers",
    '[redpanda_config]\nbroker = "a:1"\nbrokers = ["b:2"]\n',
    "redpanda_config.broker and redpanda_config.brokers are both set; keep one of them",
    3,
    1,
  ],
  [
    "incomplete SASL",
    '[redpanda_config]\nbroker = "a:1"\nsasl_username = "u"\n',
    "redpanda_config.sasl_password and redpanda_config.sasl_mechanism are required when redpanda_config.sasl_username is set: " +
      "SASL needs sasl_username, sasl_password and sasl_mechanism",
    3,
    1,
  ],
  [
    "SASL protocol without credentials",
    '[redpanda_config]\nsecurity_protocol = "SASL_SSL"\n',
    'redpanda_config.security_protocol is "SASL_SSL", which needs redpanda_config.sasl_username, sasl_password and sasl_mechanism',
    2,
    1,
  ],
  [
    "a secret of the wrong type is not echoed",
    "[clickhouse_config]\npassword = 123456\n",
    "clickhouse_config.password must be a string, found an integer",
    2,
    1,
  ],
  [
    "a rejected SASL key is not also reported missing",
    '[redpanda_config]\nsasl_username = "u"\nsasl_password = 42\nsasl_mechanism = "plain"\nsecurity_protocol = "SASL_SSL"\n',
    "redpanda_config.sasl_password must be a string, found an integer",
    3,
    1,
  ],
  ["TOML syntax error: missing value", "[features]\nolap =\n", "invalid TOML: unspecified values are invalid", 3, 1],
  ["TOML syntax error: bare word", '[clickhouse_config]\nhost = localhost\n', 'invalid TOML: unexpected character "l"', 2, 8],
  ["TOML syntax error: duplicate key", "[features]\nolap = true\nolap = false\n", "invalid TOML: defining a key multiple times is invalid", 3, 1],
  ["TOML syntax error: unterminated string", '[moose]\nmain_file = "app/index.ts\n', "invalid TOML: unterminated string constant", 2, 26],
];

for (const [name, text, message, line, column] of badFiles) {
  test(`bad config: ${name}`, (t) => {
    t.deepEqual(failure(text), { code: "CONFIG_INVALID", message, position: at(line, column) });
  });
}

test("a TOML syntax error is reported together with bad environment variables", (t) => {
  t.deepEqual(failure("[features\n", { MOOSE_FEATURES__APIS: "on" }), [
    { code: "CONFIG_INVALID", message: "invalid TOML: unterminated table-key", position: at(2, 1) },
    {
      code: "CONFIG_INVALID",
      message: 'MOOSE_FEATURES__APIS (features.apis) must be true or false, found "on"',
      position: undefined,
    },
  ]);
});

test("a bare word value gets a hint about quotes", (t) => {
  const error = t.throws(() => parse('[clickhouse_config]\nhost = localhost\n'), { instanceOf: InvalidInputError });
  t.is(error?.hint, 'text values need quotes (host = "localhost"); booleans are true or false, unquoted');
  t.is(error?.located, 'moose.config.toml:2:8: invalid TOML: unexpected character "l"');
});

test("every mistake is reported at once, file errors in order, then environment errors", async (t) => {
  const text = await readFile(join(fixtures, "invalid.moose.config.toml"), "utf8");
  const error = t.throws(() => parse(text, { MOOSE_HTTP_SERVER_CONFIG__PORT: "http" }), { instanceOf: InvalidInputErrors });
  t.is(error?.code, "CONFIG_INVALID");
  t.is(error?.exit, "invalidInput");
  t.deepEqual(
    (error as InvalidInputErrors).errors.map((e) => e.located),
    [
      'moose.config.toml:3:1: features.olap must be true or false, found "yes"',
      "moose.config.toml:7:1: unknown key clickhouse_config.hots_port; did you mean clickhouse_config.host_port? " +
        "Allowed keys in [clickhouse_config]: engine, host, host_port, native_port, db_name, user, password, use_ssl, server_version, additional_databases, clusters",
      "moose.config.toml:8:1: clickhouse_config.native_port must be an integer port 1–65535, found 70000",
      'moose.config.toml:12:1: redpanda_config.security_protocol must be one of "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", found "TLS"',
      "moose.config.toml:14:2: unknown section [telemetry]; allowed sections: features, clickhouse_config, redpanda_config, " +
        "authentication, temporal_config, http_server_config, redis_config, watcher_config, moose",
      'MOOSE_HTTP_SERVER_CONFIG__PORT (http_server_config.port) must be an integer port 1–65535, found "http"',
    ],
  );
  t.is(
    error?.message,
    'moose.config.toml:3:1: features.olap must be true or false, found "yes" (and 5 more)',
  );
});

// ---------------------------------------------------------------- loadConfig

test("loadConfig reads <projectDir>/moose.config.toml and makes paths absolute", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moose-config-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, CONFIG_FILE_NAME), renderDefaultConfig());
  const config = await loadConfig(dir, { MOOSE_HTTP_SERVER_CONFIG__PORT: "4500" });
  t.is(config.projectDir, dir);
  t.is(config.configFile, join(dir, CONFIG_FILE_NAME));
  t.deepEqual(config.paths, {
    appDir: join(dir, "app"),
    mainFile: join(dir, "app/index.ts"),
    migrationsDir: join(dir, "migrations"),
    stateDir: join(dir, ".moose"),
    ledgerPath: join(dir, ".moose/ledger.sqlite"),
    logFile: join(dir, ".moose/moose.log"),
  });
  t.deepEqual(config.olap, { engine: "embedded", dataDir: join(dir, ".moose/clickhouse"), database: "local" });
  t.like(config.streaming, { engine: "embedded", dataDir: join(dir, ".moose/streams") });
  t.is(config.httpServer.port, 4500);
});

test("loadConfig positions errors in the absolute config path", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moose-config-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, CONFIG_FILE_NAME), "[http_server_config]\nport = 70000\n");
  const error = await t.throwsAsync(loadConfig(dir, {}), { instanceOf: InvalidInputError });
  t.deepEqual(error?.position, { file: join(dir, CONFIG_FILE_NAME), line: 2, column: 1 });
});

test("loadConfig without a config file says to run moose init or cd to the project", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "moose-config-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const error = await t.throwsAsync(loadConfig(dir, {}), { instanceOf: InvalidInputError });
  t.is(error?.code, "CONFIG_NOT_FOUND");
  t.is(error?.exit, "invalidInput");
  t.is(
    error?.message,
    `no moose.config.toml in ${dir}: run \`moose init\` to create a project there, or cd to your project's directory`,
  );
});

// ---------------------------------------------------------------- suggestions

test("closestName finds typos and other spellings, and nothing for unrelated words", (t) => {
  const keys = ["host", "host_port", "native_port", "db_name", "user", "password"];
  t.is(closestName("hots", keys), "host");
  t.is(closestName("Host-Port", keys), "host_port");
  t.is(closestName("hostPort", keys), "host_port");
  t.is(closestName("pasword", keys), "password");
  t.is(closestName("port", keys), "host_port");
  t.is(closestName("database", [{ name: "db_name", aliases: ["database"] }]), "db_name");
  t.is(closestName("telemetry", keys), undefined);
  t.is(closestName("x", keys), undefined);
});

test("loadConfig refuses a config that is a named pipe, a folder or huge, unread and without hanging", async (t) => {
  const { execFileSync } = await import("node:child_process");
  const { mkdir } = await import("node:fs/promises");
  for (const [what, make, says] of [
    ["a named pipe", (path: string) => execFileSync("mkfifo", [path]), /is not a regular file \(a named pipe\)/],
    ["a folder", (path: string) => mkdir(path), /is not a regular file \(a folder\)/],
    ["2 MB", (path: string) => writeFile(path, "#".repeat(2 * 1024 * 1024)), /is 2097152 bytes; a moose config is a few kilobytes/],
  ] as const) {
    const dir = await mkdtemp(join(tmpdir(), "moose-config-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await make(join(dir, CONFIG_FILE_NAME));
    const error = await t.throwsAsync(loadConfig(dir, {}), { instanceOf: InvalidInputError }, what);
    t.is(error?.code, "CONFIG_UNREADABLE", what);
    t.regex(error?.message ?? "", says, what);
  }
});

test("a config nesting arrays or inline tables 100,000 deep is CONFIG_INVALID, not a stack overflow", async (t) => {
  for (const text of ["a = " + "[".repeat(100_000) + "]".repeat(100_000) + "\n", "a = " + "{ b = ".repeat(100_000) + "1" + " }".repeat(100_000) + "\n"]) {
    const dir = await mkdtemp(join(tmpdir(), "moose-config-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, CONFIG_FILE_NAME), text);
    const error = await t.throwsAsync(loadConfig(dir, {}), { instanceOf: InvalidInputError });
    t.is(error?.code, "CONFIG_INVALID");
    t.regex(error?.message ?? "", /nested too deeply/);
  }
});
