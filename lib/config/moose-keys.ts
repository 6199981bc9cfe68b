/**
 * Keys that real Moose's `moose.config.toml` accepts and that mean nothing
 * here. They are accepted, so a Moose project's own config loads as it is,
 * and each is named once in a notice with the reason it is ignored. A key
 * neither Moose nor this tool knows stays an error.
 *
 * Read from Moose's config structs (514-labs/moosestack, apps/framework-cli:
 * `project.rs` `Project`, `ProjectFeatures`, `TypescriptConfig`, `StateConfig`,
 * `DockerConfig`, `MigrationConfig`, `DevConfig`, `JwtConfig`;
 * `clickhouse/config.rs`; `kafka/models.rs`; `local_webserver.rs`;
 * `orchestration/temporal.rs`; `redis_client.rs`; `utilities/git.rs`).
 * Keys Moose no longer reads but its templates still write
 * (`features.data_model_v2`, `features.scripts`) are listed too.
 */

/** Keys of one section (or top-level keys) ignored for one reason. */
export interface IgnoredGroup {
  /** Key paths relative to the section; nested tables dotted (`remote_clickhouse.host`). */
  readonly keys: readonly string[];
  readonly why: string;
}

/** A whole section that means nothing here. */
export interface IgnoredSection {
  /** Its keys, dotted for nested tables; `"any"` for a free-form table. */
  readonly keys: readonly string[] | "any";
  readonly why: string;
}

/** Top-level keys Moose writes that are ignored here (`source_dir` and `load_infra` are understood). */
export const IGNORED_TOP_LEVEL_KEYS: Readonly<Record<string, string>> = {
  language:
    "moose reads the TypeScript app at moose.main_file (<source_dir>/index.ts); the language is not a setting",
};

export const IGNORED_SECTIONS: Readonly<Record<string, IgnoredSection>> = {
  typescript_config: {
    keys: ["package_manager"],
    why: "moose never installs dependencies; install them with your package manager",
  },
  git_config: { keys: ["main_branch_name"], why: "moose reads no git state" },
  supported_old_versions: {
    keys: "any",
    why: "old versions are migration files and the ledger here, not builds kept per version",
  },
  state_config: {
    keys: ["storage"],
    why: "the state is the ledger (the local SQLite file, and on a server the _moose_ledger table), not Redis",
  },
  docker_config: { keys: ["custom_dockerfile", "dockerfile_path"], why: "moose builds no Docker image" },
  migration_config: {
    keys: ["ignore_operations"],
    why: "plans list every difference; leave an operation out by editing the generated migration file",
  },
  dev: {
    keys: [
      "externally_managed.tables.create_local_mirrors",
      "externally_managed.tables.sample_size",
      "externally_managed.tables.refresh_on_startup",
      "remote_clickhouse.protocol",
      "remote_clickhouse.host",
      "remote_clickhouse.port",
      "remote_clickhouse.database",
      "remote_clickhouse.use_ssl",
    ],
    why: "moose dev makes no local mirrors of remote tables; use `moose plan --url` to compare with a remote instance",
  },
  jwt: {
    // The enforce_* keys are refused when true (config.ts): ignoring them would serve the APIs unchecked.
    keys: ["enforce_on_all_consumptions_apis", "enforce_on_all_ingest_apis", "secret", "issuer", "audience"],
    why: "moose does not verify JWTs",
  },
};

/** Keys of the sections this tool understands that it ignores, by section. */
export const IGNORED_KEYS: Readonly<Record<string, readonly IgnoredGroup[]>> = {
  features: [
    { keys: ["data_model_v2"], why: "every data model is read the v2 way (OlapTable, Stream, IngestPipeline)" },
    { keys: ["scripts"], why: "the old name of workflows; set features.workflows" },
    {
      keys: ["ddl_plan"],
      why: "every change is planned: `moose migrate generate` writes the plan and `moose migrate deploy` applies only that",
    },
  ],
  clickhouse_config: [
    { keys: ["host_data_path"], why: "the embedded engine keeps its data under <state_dir>/clickhouse; a server keeps its own" },
  ],
  redpanda_config: [{ keys: ["schema_registry_url"], why: "topics carry JSON; no schema registry is used" }],
  http_server_config: [
    {
      keys: [
        "on_reload_complete_script",
        "on_change_script",
        "post_dev_server_ready_script",
        "on_first_start_script",
        "post_dev_server_start_script",
      ],
      why: "moose dev runs no scripts of its own; run them beside it",
    },
    { keys: ["proxy_port", "api_workers"], why: "APIs are served by the one moose process on port" },
    { keys: ["path_prefix"], why: "routes are served without a prefix (put a reverse proxy in front for one)" },
    { keys: ["max_request_body_size"], why: "the server's own request limits apply" },
  ],
  temporal_config: [
    {
      keys: [
        "db_user",
        "db_password",
        "db_port",
        "postgresql_version",
        "temporal_version",
        "admin_tools_version",
        "ui_version",
        "ui_port",
        "ui_cors_origins",
        "config_path",
        "temporal_region",
      ],
      why: "they configured the Temporal containers of Moose's Docker set-up; moose starts none (it connects to address)",
    },
    {
      keys: ["temporal_scheme", "client_cert", "client_key", "ca_cert", "api_key"],
      why: "the connection to Temporal is plain gRPC to address; TLS and Temporal Cloud API keys are not supported",
    },
  ],
  redis_config: [{ keys: ["last_key_prefix"], why: "Moose kept its own state in Redis under it; moose keeps none there" }],
};

/** `[kafka_config]` is Moose's other name for `[redpanda_config]`. */
export const SECTION_ALIASES: Readonly<Record<string, string>> = { kafka_config: "redpanda_config" };

/** The reason `key` of an understood `section` is ignored, if it is one of those. */
export function ignoredKeyReason(section: string, key: string): string | undefined {
  return IGNORED_KEYS[section]?.find((g) => g.keys.includes(key))?.why;
}

/** Every key name in the ignored section at `prefix` (its first-level names), for "did you mean". */
export function ignoredSectionChildren(section: IgnoredSection, prefix: readonly string[]): string[] {
  if (section.keys === "any") return [];
  const depth = prefix.length;
  const names = new Set<string>();
  for (const key of section.keys) {
    const parts = key.split(".");
    if (parts.length > depth && prefix.every((p, i) => parts[i] === p)) names.add(parts[depth]!);
  }
  return [...names];
}
