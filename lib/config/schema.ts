/**
 * The shape of `moose.config.toml` as data: sections, keys, value kinds,
 * defaults and one-line docs. The parser validates against it, `moose init`
 * renders the default file from it and the README table is generated from it,
 * so the three cannot drift apart.
 */

/** What a key accepts. Each kind has one validator (see `values.ts`). */
export type ValueKind =
  | { readonly type: "boolean" }
  | { readonly type: "port" }
  | { readonly type: "positiveInteger" }
  | { readonly type: "string"; readonly allowEmpty: boolean }
  | { readonly type: "host" }
  | { readonly type: "identifier" }
  | { readonly type: "topicPrefix" }
  | { readonly type: "hostPort" }
  /** One `host:port` or a comma-separated list of them. */
  | { readonly type: "hostPortList" }
  /** A TOML array of `host:port` strings. */
  | { readonly type: "hostPortArray" }
  | { readonly type: "enum"; readonly values: readonly string[] }
  | { readonly type: "path" }
  /** An array of database names, each once (may be empty). */
  | { readonly type: "identifierArray" }
  /** An array of glob patterns (`*`, `?`, `**`, `[a-z]`, `{a,b}`), as Moose's watcher reads them. */
  | { readonly type: "globArray" }
  /** A `redis://` or `rediss://` URL. */
  | { readonly type: "redisUrl" }
  /** Moose's `[[clickhouse_config.clusters]]`: an array of tables, each `{ name = "..." }`, names unique. */
  | { readonly type: "clusters" };

/** One `[[clickhouse_config.clusters]]` entry. */
export interface ClusterSpec {
  readonly name: string;
}

/** The TypeScript type a kind validates to. */
export type KindValue<K extends ValueKind> = K extends { readonly type: "boolean" }
  ? boolean
  : K extends { readonly type: "port" | "positiveInteger" }
    ? number
    : K extends { readonly type: "hostPortList" | "hostPortArray" | "identifierArray" | "globArray" }
      ? readonly string[]
      : K extends { readonly type: "clusters" }
        ? readonly ClusterSpec[]
      : K extends { readonly type: "enum"; readonly values: readonly (infer V)[] }
        ? V
        : string;

export type TomlLiteral = string | number | boolean | readonly string[] | readonly ClusterSpec[];

export interface KeySpec {
  readonly kind: ValueKind;
  /** Default when neither the file nor the environment sets the key; `undefined` means unset. */
  readonly default: TomlLiteral | undefined;
  /** Documentation of a default that depends on other keys (shown instead of `default`). */
  readonly defaultText?: string;
  /** One or two sentences; rendered as a comment above the key and into the README table. */
  readonly doc: string;
  /** Value shown (commented out) in the rendered file when the key has no default. */
  readonly example?: TomlLiteral;
  /**
   * `active`: `moose init` writes `key = default`. `commented`: written as a
   * comment, because setting it changes behaviour (e.g. `host` switches to a
   * server) or because its default is derived from another key.
   */
  readonly render: "active" | "commented";
  /** Other names people type for this key; only used to suggest it. */
  readonly aliases?: readonly string[];
  /** Never echo the value in an error message. */
  readonly secret?: boolean;
}

export interface SectionSpec {
  readonly doc: string;
  readonly keys: Readonly<Record<string, KeySpec>>;
}

const bool = { type: "boolean" } as const;
const port = { type: "port" } as const;
const positiveInteger = { type: "positiveInteger" } as const;
const nonEmptyString = { type: "string", allowEmpty: false } as const;
const anyString = { type: "string", allowEmpty: true } as const;
const path = { type: "path" } as const;

export const CONFIG_SCHEMA = {
  features: {
    doc: "Which parts of the stack this project uses. A disabled feature is neither planned nor applied.",
    keys: {
      olap: { kind: bool, default: true, render: "active", doc: "ClickHouse tables and materialized views." },
      streaming_engine: {
        kind: bool,
        default: true,
        render: "active",
        doc: "Streaming topics (Kafka/Redpanda, or the embedded log).",
        aliases: ["streaming", "streams"],
      },
      workflows: {
        kind: bool,
        default: false,
        render: "active",
        doc: "Workflows. false: workflow changes are planned and recorded in the ledger but nothing is sent to Temporal (no schedule is created or changed). true: they are applied to Temporal at temporal_config (moose dev runs them embedded when nothing answers at a loopback address).",
      },
      apis: { kind: bool, default: true, render: "active", doc: "HTTP API endpoints.", aliases: ["api"] },
    },
  },
  clickhouse_config: {
    doc:
      "OLAP storage. With no `host` (as written by `moose init`) Moose uses embedded ClickHouse (chDB): no server,\n" +
      "data under <state_dir>/clickhouse. Set `host` to connect to a ClickHouse server instead.",
    keys: {
      engine: {
        kind: { type: "enum", values: ["embedded", "server"] },
        default: undefined,
        defaultText: '"server" if `host` is set, else "embedded"',
        example: "embedded",
        render: "commented",
        doc: 'Force the engine: "embedded" (chDB, in-process) or "server". Wins over the `host` rule.',
      },
      host: {
        kind: { type: "host" },
        default: undefined,
        defaultText: 'unset (embedded); "localhost" when engine = "server"',
        example: "localhost",
        render: "commented",
        doc: "ClickHouse server host name or IP address. Setting it means: connect to that server.",
        aliases: ["hostname", "server"],
      },
      host_port: {
        kind: port,
        default: 18123,
        render: "commented",
        doc: "ClickHouse HTTP port on the server.",
        aliases: ["port", "http_port"],
      },
      native_port: {
        kind: port,
        default: 9000,
        render: "commented",
        doc: "ClickHouse native (TCP) protocol port on the server.",
        aliases: ["tcp_port"],
      },
      db_name: {
        kind: { type: "identifier" },
        default: "local",
        render: "active",
        doc: "Database that holds the project's tables (embedded and server).",
        aliases: ["database", "db", "database_name"],
      },
      user: {
        kind: nonEmptyString,
        default: "panda",
        render: "commented",
        doc: "User name on the server.",
        aliases: ["username", "login"],
      },
      password: {
        kind: anyString,
        default: "",
        render: "commented",
        doc: "Password on the server. Prefer MOOSE_CLICKHOUSE_CONFIG__PASSWORD over committing it.",
        aliases: ["pass", "passwd"],
        secret: true,
      },
      use_ssl: {
        kind: bool,
        default: false,
        render: "commented",
        doc: "Connect over HTTPS.",
        aliases: ["ssl", "tls", "use_tls", "secure"],
      },
      server_version: {
        kind: nonEmptyString,
        default: undefined,
        defaultText: "the embedded ClickHouse's version (chDB)",
        example: "24.8",
        render: "commented",
        doc: "ClickHouse version of the deploy target, e.g. \"24.8\": `migrate generate`, `migrate sql` and `plan --sql` print the SQL that version will run, without connecting.",
        aliases: ["version", "clickhouse_version"],
      },
      additional_databases: {
        kind: { type: "identifierArray" },
        default: undefined,
        defaultText: "none",
        example: ["analytics"],
        render: "commented",
        doc: "More databases to create next to db_name (as Moose does at start-up), embedded and server.",
        aliases: ["databases", "extra_databases"],
      },
      clusters: {
        kind: { type: "clusters" },
        default: undefined,
        defaultText: "none",
        example: [{ name: "default" }],
        render: "commented",
        doc: 'ClickHouse clusters for ON CLUSTER, as Moose writes them: [[clickhouse_config.clusters]] with name = "...".',
        aliases: ["cluster"],
      },
    },
  },
  redpanda_config: {
    doc:
      "Streaming. With no `broker` (as written by `moose init`) Moose uses an embedded local log under\n" +
      "<state_dir>/streams: no server. Set `broker` to use Kafka/Redpanda instead.",
    keys: {
      engine: {
        kind: { type: "enum", values: ["embedded", "kafka"] },
        default: undefined,
        defaultText: '"kafka" if `broker`/`brokers` is set, else "embedded"',
        example: "embedded",
        render: "commented",
        doc: 'Force the engine: "embedded" (local log) or "kafka" (Kafka/Redpanda). Wins over the `broker` rule.',
      },
      broker: {
        kind: { type: "hostPortList" },
        default: undefined,
        defaultText: 'unset (embedded); "localhost:19092" when engine = "kafka"',
        example: "localhost:19092",
        render: "commented",
        doc: 'Kafka/Redpanda bootstrap broker "host:port", or a comma-separated list. Setting it means: use Kafka.',
        aliases: ["bootstrap_servers", "bootstrap_server", "broker_list"],
      },
      brokers: {
        kind: { type: "hostPortArray" },
        default: undefined,
        defaultText: "unset",
        example: ["localhost:19092", "localhost:29092"],
        render: "commented",
        doc: "Same as `broker`, as an array. Set one of `broker` and `brokers`, not both.",
      },
      message_timeout_ms: {
        kind: positiveInteger,
        default: 1000,
        render: "active",
        doc: "How long a produced message may wait for delivery, in milliseconds.",
        aliases: ["timeout_ms", "message_timeout"],
      },
      retention_ms: {
        kind: positiveInteger,
        default: undefined,
        defaultText: "604800000 (7 days, moose-lib's Stream default)",
        example: 604800000,
        render: "commented",
        doc: "Retention of every topic whose Stream sets no retentionPeriod, in milliseconds. Changing it changes those topics at the next migration (moose plan shows it as a Config Change).",
        aliases: ["retention"],
      },
      replication_factor: {
        kind: positiveInteger,
        default: 1,
        render: "active",
        doc: "Default replication factor of new topics (a topic can set its own).",
        aliases: ["replicas", "replication"],
      },
      namespace: {
        kind: { type: "topicPrefix" },
        default: undefined,
        defaultText: "unset",
        example: "dev",
        render: "commented",
        doc: "Prefix for topic names, to share one cluster between environments.",
        aliases: ["prefix", "topic_prefix"],
      },
      sasl_username: {
        kind: nonEmptyString,
        default: undefined,
        defaultText: "unset",
        example: "moose",
        render: "commented",
        doc: "SASL user. The three sasl_* keys go together.",
        aliases: ["username", "user", "sasl_user"],
      },
      sasl_password: {
        kind: anyString,
        default: undefined,
        defaultText: "unset",
        example: "",
        render: "commented",
        doc: "SASL password. Prefer MOOSE_REDPANDA_CONFIG__SASL_PASSWORD over committing it.",
        aliases: ["password", "sasl_pass"],
        secret: true,
      },
      sasl_mechanism: {
        kind: { type: "enum", values: ["plain", "scram-sha-256", "scram-sha-512"] },
        default: undefined,
        defaultText: "unset",
        example: "scram-sha-256",
        render: "commented",
        doc: 'SASL mechanism: "plain", "scram-sha-256" or "scram-sha-512".',
        aliases: ["mechanism"],
      },
      security_protocol: {
        kind: { type: "enum", values: ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] },
        default: undefined,
        defaultText: '"SASL_SSL" when SASL is configured, else "PLAINTEXT"',
        example: "SASL_SSL",
        render: "commented",
        doc: '"PLAINTEXT", "SSL", "SASL_PLAINTEXT" or "SASL_SSL".',
        aliases: ["protocol"],
      },
    },
  },
  authentication: {
    doc: "Who may call the admin API (`moose plan --url ... --token ...`).",
    keys: {
      admin_api_key: {
        kind: nonEmptyString,
        default: undefined,
        defaultText: "unset (admin API disabled)",
        example: "<output of `moose generate hash-token`>",
        render: "commented",
        doc: "Hashed admin token, from `moose generate hash-token`. Never put the plain token here.",
        aliases: ["api_key", "admin_key", "token"],
        secret: true,
      },
    },
  },
  temporal_config: {
    doc: "Temporal, for workflows (used when features.workflows = true).",
    keys: {
      address: {
        kind: { type: "hostPort" },
        default: "localhost:7233",
        render: "active",
        doc: 'Temporal frontend "host:port".',
        aliases: ["host", "url", "temporal_address"],
      },
      namespace: { kind: nonEmptyString, default: "default", render: "active", doc: "Temporal namespace." },
      temporal_host: {
        kind: { type: "host" },
        default: undefined,
        defaultText: "the host of `address`",
        example: "localhost",
        render: "commented",
        doc: "Moose's spelling of the Temporal host; with or without temporal_port it replaces `address`.",
      },
      temporal_port: {
        kind: port,
        default: undefined,
        defaultText: "the port of `address`",
        example: 7233,
        render: "commented",
        doc: "Moose's spelling of the Temporal port (see temporal_host).",
      },
    },
  },
  http_server_config: {
    doc: "The local HTTP server that serves APIs and the admin API.",
    keys: {
      host: {
        kind: { type: "host" },
        default: "localhost",
        render: "active",
        doc: "Interface to listen on (0.0.0.0 for all).",
        aliases: ["hostname", "bind", "address"],
      },
      port: { kind: port, default: 4000, render: "active", doc: "Port to listen on.", aliases: ["http_port"] },
      management_port: {
        kind: port,
        default: undefined,
        defaultText: "unset (no management listener)",
        example: 5001,
        render: "commented",
        doc:
          "Port of the management listener (GET /health) that moose dev also opens, as Moose does; " +
          "if it is taken, a warning and /health stays on `port`.",
        aliases: ["admin_port"],
      },
    },
  },
  redis_config: {
    doc:
      "Redis, for MooseCache in the app's code. With no key of this section set, the cache is in-process;\n" +
      "any key set (as Moose's templates do) means: use that Redis.",
    keys: {
      url: {
        kind: { type: "redisUrl" },
        default: undefined,
        defaultText: "built from hostname, port and tls",
        example: "redis://127.0.0.1:6379",
        render: "commented",
        doc: "Redis URL (redis:// or rediss://); wins over hostname, port and tls.",
        secret: true,
      },
      hostname: {
        kind: { type: "host" },
        default: "127.0.0.1",
        render: "commented",
        doc: "Redis host, when url is not set.",
        aliases: ["host"],
      },
      port: { kind: port, default: 6379, render: "commented", doc: "Redis port, when url is not set." },
      tls: { kind: bool, default: false, render: "commented", doc: "Connect with TLS (rediss://), when url is not set.", aliases: ["ssl", "use_ssl"] },
      key_prefix: {
        kind: nonEmptyString,
        default: "MS",
        render: "commented",
        doc: "Prefix of every cache key, so several apps can share one Redis.",
        aliases: ["prefix"],
      },
    },
  },
  watcher_config: {
    doc: "What `moose dev` watches.",
    keys: {
      ignore_patterns: {
        kind: { type: "globArray" },
        default: undefined,
        defaultText: "none",
        example: ["**/*.test.ts", "generated/**"],
        render: "commented",
        doc:
          "Glob patterns, relative to the app folder (source_dir), of files whose changes moose dev ignores. " +
          "As in Moose, `*` also crosses `/`.",
        aliases: ["ignore", "ignored", "exclude"],
      },
    },
  },
  moose: {
    doc: "Where this project's files live. Relative paths are relative to the directory of this file.",
    keys: {
      main_file: {
        kind: path,
        default: "app/index.ts",
        render: "active",
        doc: "Module whose exports declare the infrastructure.",
        aliases: ["main", "entry", "index"],
      },
      migrations_dir: {
        kind: path,
        default: "migrations",
        render: "active",
        doc: "Where `moose migrate generate` writes migration files.",
        aliases: ["migrations", "migrations_path"],
      },
      state_dir: {
        kind: path,
        default: ".moose",
        render: "active",
        doc: "Local state: embedded engine data, ledger, logs. Keep it out of version control.",
        aliases: ["state", "data_dir"],
      },
      ledger_path: {
        kind: path,
        default: undefined,
        defaultText: '"<state_dir>/ledger.sqlite"',
        example: ".moose/ledger.sqlite",
        render: "commented",
        doc: "SQLite ledger of applied migrations.",
        aliases: ["ledger", "ledger_file"],
      },
      log_file: {
        kind: path,
        default: undefined,
        defaultText: '"<state_dir>/moose.log"',
        example: ".moose/moose.log",
        render: "commented",
        doc: "Log file read by `moose logs`.",
        aliases: ["log", "log_path", "logs"],
      },
    },
  },
} as const satisfies Readonly<Record<string, SectionSpec>>;

/**
 * Keys outside any section (TOML puts them before the first `[section]`), as
 * Moose writes them. Environment: `MOOSE_<KEY>` (e.g. `MOOSE_SOURCE_DIR`).
 */
export const TOP_LEVEL_KEYS = {
  source_dir: {
    kind: path,
    default: undefined,
    defaultText: '"app"; with moose.main_file set, the folder of that file',
    example: "app",
    render: "commented",
    doc:
      "Folder of the app's code, as in Moose (some apps use \"src\"). The main file defaults to " +
      "<source_dir>/index.ts, and moose dev watches this folder.",
    aliases: ["src_dir", "app_dir", "source", "app"],
  },
  load_infra: {
    kind: bool,
    default: true,
    render: "commented",
    doc:
      "As in Moose: true lets moose dev run the local infrastructure for a loopback clickhouse_config.host " +
      "and redpanda_config.broker (embedded engines, ClickHouse served at host:host_port); false means dev " +
      "uses the servers configured there.",
    aliases: ["infra", "load_infrastructure"],
  },
} as const satisfies Readonly<Record<string, KeySpec>>;

export type TopLevelKey = keyof typeof TOP_LEVEL_KEYS;

export function topLevelKeySpec(key: string): KeySpec | undefined {
  const keys: Readonly<Record<string, KeySpec>> = TOP_LEVEL_KEYS;
  return Object.hasOwn(keys, key) ? keys[key] : undefined;
}

export type ConfigSchema = typeof CONFIG_SCHEMA;
export type SectionName = keyof ConfigSchema;
export type KeyName<S extends SectionName> = keyof ConfigSchema[S]["keys"] & string;
export type ValueOf<S extends SectionName, K extends KeyName<S>> = ConfigSchema[S]["keys"][K] extends {
  readonly kind: infer Kind extends ValueKind;
}
  ? KindValue<Kind>
  : never;

export const SECTION_NAMES = Object.keys(CONFIG_SCHEMA) as SectionName[];

export function isSectionName(name: string): name is SectionName {
  return Object.hasOwn(CONFIG_SCHEMA, name);
}

export function sectionSpec(section: SectionName): SectionSpec {
  return CONFIG_SCHEMA[section];
}

export function keySpec(section: SectionName, key: string): KeySpec | undefined {
  const keys: Readonly<Record<string, KeySpec>> = CONFIG_SCHEMA[section].keys;
  return Object.hasOwn(keys, key) ? keys[key] : undefined;
}

export function keyNames(section: SectionName): string[] {
  return Object.keys(CONFIG_SCHEMA[section].keys);
}

/** `MOOSE_CLICKHOUSE_CONFIG__PASSWORD` for (`clickhouse_config`, `password`). */
export function envVarName(section: string, key: string): string {
  return `MOOSE_${section.toUpperCase()}__${key.toUpperCase()}`;
}
