import { readFile, stat } from "node:fs/promises";
import { posix, resolve as resolvePath } from "node:path";
import { InvalidInputError, InvalidInputErrors, type SourcePosition } from "../errors.js";
import { DEFAULT_TOPIC_RETENTION_MS } from "../model/infra-map.js";
import {
  CONFIG_SCHEMA,
  SECTION_NAMES,
  TOP_LEVEL_KEYS,
  envVarName,
  isSectionName,
  keyNames,
  keySpec,
  topLevelKeySpec,
  type ClusterSpec,
  type KeyName,
  type KeySpec,
  type SectionName,
  type TopLevelKey,
  type ValueOf,
} from "./schema.js";
import {
  IGNORED_KEYS,
  IGNORED_SECTIONS,
  IGNORED_TOP_LEVEL_KEYS,
  SECTION_ALIASES,
  ignoredKeyReason,
  ignoredSectionChildren,
} from "./moose-keys.js";
import { closestName } from "./suggest.js";
import { readTomlEntries, type TomlEntry } from "./toml-document.js";
import { coerce, describeEnvKind, describeRaw, rawFromEnv, type CoercedValue } from "./values.js";

export { renderDefaultConfig, renderConfigReference } from "./render.js";
export { CONFIG_SCHEMA, envVarName } from "./schema.js";

/** The file `moose init` writes and every command reads, at the project root. */
export const CONFIG_FILE_NAME = "moose.config.toml";

export interface FeaturesConfig {
  readonly olap: boolean;
  readonly streamingEngine: boolean;
  readonly workflows: boolean;
  readonly apis: boolean;
}

/** What both OLAP engines share: Moose's `additional_databases` and `clusters`, when set. */
export interface OlapExtras {
  /** Created next to `database` when the engine opens (`CREATE DATABASE IF NOT EXISTS`). */
  readonly additionalDatabases?: readonly string[];
  /** `[[clickhouse_config.clusters]]`, validated: names unique. */
  readonly clusters?: readonly ClusterSpec[];
}

/** In-process ClickHouse (chDB): nothing to install or start. */
export interface EmbeddedOlapConfig extends OlapExtras {
  readonly engine: "embedded";
  /** `<state_dir>/clickhouse`; absolute after `loadConfig`. */
  readonly dataDir: string;
  readonly database: string;
  /** `server_version`: the version SQL is written for offline (default: chDB's own). */
  readonly serverVersion?: string;
}

export interface ServerOlapConfig extends OlapExtras {
  readonly engine: "server";
  readonly host: string;
  /** HTTP port. */
  readonly port: number;
  readonly nativePort: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly useSsl: boolean;
  /** `server_version`: the server's version, for SQL written offline; unset: assumed to be chDB's. */
  readonly serverVersion?: string;
}

export type OlapConfig = EmbeddedOlapConfig | ServerOlapConfig;

/** Producer and new-topic defaults, the same whichever engine carries the topics. */
export interface TopicDefaults {
  readonly messageTimeoutMs: number;
  readonly retentionMs: number;
  readonly replicationFactor: number;
  /** Prefix of every topic name, when set. */
  readonly namespace?: string;
}

/** A local append-only log per topic: nothing to install or start. */
export interface EmbeddedStreamingConfig extends TopicDefaults {
  readonly engine: "embedded";
  /** `<state_dir>/streams`; absolute after `loadConfig`. */
  readonly dataDir: string;
}

export type SaslMechanism = ValueOf<"redpanda_config", "sasl_mechanism">;
export type SecurityProtocol = ValueOf<"redpanda_config", "security_protocol">;

export interface SaslConfig {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaStreamingConfig extends TopicDefaults {
  readonly engine: "kafka";
  readonly brokers: readonly string[];
  readonly securityProtocol: SecurityProtocol;
  readonly sasl?: SaslConfig;
}

export type StreamingConfig = EmbeddedStreamingConfig | KafkaStreamingConfig;

export interface AuthenticationConfig {
  /** Hashed admin token; validated by the auth module, not here. */
  readonly adminApiKey?: string;
}

export interface TemporalConfig {
  readonly address: string;
  readonly namespace: string;
}

export interface HttpServerConfig {
  readonly host: string;
  readonly port: number;
  /** Moose's `management_port`: a second listener answering `GET /health`, when set. */
  readonly managementPort?: number;
}

/** Moose's `[redis_config]`, present when any of its keys is set: MooseCache then uses that Redis. */
export interface RedisConfig {
  readonly url: string;
  readonly keyPrefix: string;
}

export interface WatcherConfig {
  /** Globs relative to `paths.appDir` (see `compileGlob`); matching paths never start a dev cycle. */
  readonly ignorePatterns: readonly string[];
}

/**
 * What `moose dev` runs itself instead of connecting, as Moose does with Docker:
 * with `load_infra` (default true), a loopback `clickhouse_config.host` and no
 * explicit `engine`, dev runs the embedded ClickHouse and serves its HTTP
 * interface at that host and port with the configured user and password; a
 * loopback broker (no SASL, no explicit engine) becomes the embedded stream log.
 */
export interface DevInfraConfig {
  readonly clickhouse?: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
  };
  readonly streams: boolean;
  /**
   * `[temporal_config]` points at this machine (Moose's Docker Temporal): when nothing
   * answers there, dev runs the embedded workflow engine instead.
   */
  readonly temporal: boolean;
}

/** Something the config said that is accepted and not acted on, with the reason. */
export interface ConfigNotice {
  readonly message: string;
  readonly position?: SourcePosition;
}

/** Project paths, relative to the project directory (absolute after `loadConfig`). */
export interface PathsConfig {
  /** The app's folder: Moose's `source_dir`, else the folder of `mainFile`. */
  readonly appDir: string;
  readonly mainFile: string;
  readonly migrationsDir: string;
  readonly stateDir: string;
  readonly ledgerPath: string;
  readonly logFile: string;
}

/** A validated `moose.config.toml` with every default and environment override applied. */
export interface MooseConfig {
  readonly features: FeaturesConfig;
  readonly olap: OlapConfig;
  readonly streaming: StreamingConfig;
  readonly authentication: AuthenticationConfig;
  readonly temporal: TemporalConfig;
  readonly httpServer: HttpServerConfig;
  readonly redis?: RedisConfig;
  readonly watcher: WatcherConfig;
  readonly devInfra: DevInfraConfig;
  readonly paths: PathsConfig;
  /** Moose keys that were accepted and are ignored here, one notice per reason (commands print them). */
  readonly notices: readonly ConfigNotice[];
}

export interface LoadedConfig extends MooseConfig {
  /** Absolute project directory. */
  readonly projectDir: string;
  /** Absolute path of the `moose.config.toml` that was read. */
  readonly configFile: string;
}

export interface ParseConfigOptions {
  /** Reported in error positions. */
  readonly file: string;
  /** `MOOSE_<SECTION>__<KEY>` overrides; none when omitted (parsing stays pure). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Where a value came from: a key in the file or an environment variable. */
type Origin =
  | { readonly source: "file"; readonly position: SourcePosition }
  | { readonly source: "env"; readonly name: string };

interface Setting {
  readonly value: CoercedValue;
  readonly origin: Origin;
}

/**
 * Validates `moose.config.toml` text and resolves it, with environment
 * overrides, to a fully defaulted config. Throws `InvalidInputError` (code
 * `CONFIG_INVALID`, positioned at the offending key) or, when several things
 * are wrong, `InvalidInputErrors` listing all of them.
 *
 * @example
 * const config = parseConfig('[clickhouse_config]\nhost = "localhost"\n', {
 *   file: "moose.config.toml",
 *   env: { MOOSE_CLICKHOUSE_CONFIG__PASSWORD: "secret" },
 * });
 * config.olap; // { engine: "server", host: "localhost", port: 18123, ..., password: "secret" }
 */
export function parseConfig(text: string, options: ParseConfigOptions): MooseConfig {
  const errors: InvalidInputError[] = [];
  let entries: TomlEntry[] = [];
  try {
    entries = readTomlEntries(text, options.file);
  } catch (error) {
    // A syntax error ends reading the file, not the check of the environment.
    if (!(error instanceof InvalidInputError)) throw error;
    errors.push(error);
  }
  // Keys whose value was rejected: already reported, so no rule that combines keys may call them missing.
  const invalid = new Set<string>();
  const notices: ConfigNotice[] = [];
  const fromFile = readFileSettings(entries, errors, invalid, notices);
  const fromEnv = readEnvSettings(options.env ?? {}, errors, invalid, notices);

  // An environment broker list replaces the file's, whichever of the two spellings each uses.
  if (["redpanda_config.broker", "redpanda_config.brokers"].some((id) => fromEnv.has(id))) {
    fromFile.delete("redpanda_config.broker");
    fromFile.delete("redpanda_config.brokers");
  }
  const settings = new Map([...fromFile, ...fromEnv]);
  checkCombinations(settings, invalid, errors);

  if (errors.length > 0) throw collect(errors);
  return resolveConfig(settings, notices);
}

/**
 * Reads and validates `<projectDir>/moose.config.toml`, applies `MOOSE_*`
 * environment overrides and makes every path absolute against `projectDir`.
 * Throws `InvalidInputError` `CONFIG_NOT_FOUND` when the file is missing.
 *
 * @example
 * const config = await loadConfig(process.cwd());
 * if (config.olap.engine === "embedded") openChdb(config.olap.dataDir);
 */
/** Larger config files are refused unread. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export async function loadConfig(
  projectDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<LoadedConfig> {
  const dir = resolvePath(projectDir);
  const configFile = resolvePath(dir, CONFIG_FILE_NAME);
  let text: string;
  try {
    // Only a regular file: reading a FIFO would wait for a writer for ever, and a huge file is not a config.
    const info = await stat(configFile);
    if (!info.isFile()) {
      throw new InvalidInputError("CONFIG_UNREADABLE", `${configFile} is not a regular file (${info.isDirectory() ? "a folder" : info.isFIFO() ? "a named pipe" : "a special file"})`, {
        hint: `replace it with the ${CONFIG_FILE_NAME} file (moose init writes one)`,
      });
    }
    if (info.size > MAX_CONFIG_BYTES) {
      throw new InvalidInputError("CONFIG_UNREADABLE", `${configFile} is ${info.size} bytes; a moose config is a few kilobytes (at most ${MAX_CONFIG_BYTES})`, {
        hint: "check that this is the project's config file",
      });
    }
    text = await readFile(configFile, "utf8");
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new InvalidInputError(
        "CONFIG_NOT_FOUND",
        `no ${CONFIG_FILE_NAME} in ${dir}: run \`moose init\` to create a project there, or cd to your project's directory`,
        { cause: error },
      );
    }
    throw new InvalidInputError("CONFIG_UNREADABLE", `cannot read ${configFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { ...absolutePaths(parseConfig(text, { file: configFile, env }), dir), projectDir: dir, configFile };
}

/** Makes every path in `config` absolute against `projectDir`. */
export function absolutePaths(config: MooseConfig, projectDir: string): MooseConfig {
  const abs = (p: string): string => resolvePath(projectDir, p);
  const { paths, olap, streaming } = config;
  return {
    ...config,
    olap: olap.engine === "embedded" ? { ...olap, dataDir: abs(olap.dataDir) } : olap,
    streaming: streaming.engine === "embedded" ? { ...streaming, dataDir: abs(streaming.dataDir) } : streaming,
    paths: {
      appDir: abs(paths.appDir),
      mainFile: abs(paths.mainFile),
      migrationsDir: abs(paths.migrationsDir),
      stateDir: abs(paths.stateDir),
      ledgerPath: abs(paths.ledgerPath),
      logFile: abs(paths.logFile),
    },
  };
}

function readFileSettings(
  entries: readonly TomlEntry[],
  errors: InvalidInputError[],
  invalid: Set<string>,
  notices: ConfigNotice[],
): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  const badSections = new Set<string>();
  // Ignored Moose keys, grouped by their reason, for one notice per reason.
  const ignored = new Map<string, { keys: string[]; position: SourcePosition }>();
  const ignore = (name: string, why: string, position: SourcePosition): void => {
    const group = ignored.get(why);
    if (group === undefined) ignored.set(why, { keys: [name], position });
    else group.keys.push(name);
  };
  // `[kafka_config]` is read as `[redpanda_config]`; both at once would be two sources for one thing.
  const aliasUsed = new Map<string, SourcePosition>();

  for (const { path: rawPath, position, value } of entries) {
    const alias = rawPath[0] === undefined ? undefined : SECTION_ALIASES[rawPath[0]];
    const path = alias === undefined ? rawPath : [alias, ...rawPath.slice(1)];
    const [section, key] = path;
    if (section === undefined) continue;
    if (path.length === 1) {
      if (alias !== undefined) {
        const other = entries.find((e) => e.path.length === 1 && e.path[0] === alias);
        if (other) {
          errors.push(configError(`[${rawPath[0]}] and [${alias}] are both set; they are the same section (Moose's two names for it): keep one`, position));
          badSections.add(section);
          continue;
        }
        aliasUsed.set(rawPath[0]!, position);
      }
      const topSpec = topLevelKeySpec(section);
      if (topSpec !== undefined) {
        readSetting(section, section, topSpec, value, position, settings, errors, invalid);
      } else if (Object.hasOwn(IGNORED_TOP_LEVEL_KEYS, section)) {
        ignore(section, IGNORED_TOP_LEVEL_KEYS[section]!, position);
      } else if (Object.hasOwn(IGNORED_SECTIONS, section)) {
        if (value.type !== "table") {
          badSections.add(section);
          errors.push(configError(`${section} must be a table ([${section}]), found ${describeRaw(value)}`, position));
        } else ignore(`[${section}]`, IGNORED_SECTIONS[section]!.why, position);
      } else if (!isSectionName(section)) {
        badSections.add(section);
        errors.push(
          value.type === "table" || value.type === "tableArray"
            ? unknownSection(section, position)
            : unknownTopLevelKey(section, position),
        );
      } else if (value.type !== "table") {
        badSections.add(section);
        errors.push(
          configError(`${section} must be a table ([${section}]), found ${describeRaw(value)}`, position),
        );
      }
      continue;
    }
    if (key === undefined || badSections.has(section)) continue;
    const ignoredSection = Object.hasOwn(IGNORED_SECTIONS, section) ? IGNORED_SECTIONS[section]! : undefined;
    if (ignoredSection !== undefined) {
      checkIgnoredSectionKey(section, ignoredSection, path.slice(1), value, position, errors);
      continue;
    }
    // Deeper paths are reported through their parent (an unknown key, or a value that is not a table).
    if (path.length > 2 || !isSectionName(section)) continue;
    const spec = keySpec(section, key);
    if (spec === undefined) {
      const why = ignoredKeyReason(section, key);
      if (why !== undefined) ignore(`${section}.${key}`, why, position);
      else errors.push(unknownKey(section, key, position));
      continue;
    }
    readSetting(`${section}.${key}`, `${section}.${key}`, spec, value, position, settings, errors, invalid);
  }
  for (const [name, position] of aliasUsed) {
    notices.push({ message: `[${name}] is read as [${SECTION_ALIASES[name]}] (Moose's other name for it)`, position });
  }
  for (const [why, { keys, position }] of ignored) {
    notices.push({ message: `${describeIgnored(keys)} accepted from Moose and ignored: ${why}`, position });
  }
  return settings;
}

/** `language is`, `temporal_config.db_user, db_port are`, `[git_config] is`. */
function describeIgnored(keys: readonly string[]): string {
  const [first, ...rest] = keys;
  const section = first?.includes(".") ? first.slice(0, first.indexOf(".") + 1) : "";
  const shown = [first, ...rest.map((k) => (section !== "" && k.startsWith(section) ? k.slice(section.length) : k))];
  return `${shown.join(", ")} ${keys.length === 1 ? "is" : "are"}`;
}

function readSetting(
  id: string,
  label: string,
  spec: KeySpec,
  value: TomlEntry["value"],
  position: SourcePosition,
  settings: Map<string, Setting>,
  errors: InvalidInputError[],
  invalid: Set<string>,
): void {
  const result = coerce(spec.kind, value, { secret: spec.secret === true });
  if (result.ok) {
    settings.set(id, { value: result.value, origin: { source: "file", position } });
    return;
  }
  invalid.add(id);
  const index = result.index === undefined ? "" : `[${result.index}]`;
  errors.push(configError(`${label}${index} must be ${result.expected}, found ${result.found}`, result.position ?? position));
}

/**
 * A key inside a section that is all ignored must still be one Moose has (a
 * typo there is as wrong as anywhere). Moose's `jwt.enforce_*` keys are refused
 * when true: ignoring them would serve the APIs without the check asked for.
 */
function checkIgnoredSectionKey(
  section: string,
  spec: (typeof IGNORED_SECTIONS)[string],
  rest: readonly string[],
  value: TomlEntry["value"],
  position: SourcePosition,
  errors: InvalidInputError[],
): void {
  if (spec.keys === "any") return;
  const dotted = rest.join(".");
  const known = spec.keys.some((k) => k === dotted || k.startsWith(`${dotted}.`));
  if (!known) {
    const parent = rest.slice(0, -1);
    const children = ignoredSectionChildren(spec, parent);
    const where = [section, ...parent].join(".");
    const suggestion = closestName(rest[rest.length - 1]!, children);
    errors.push(
      configError(
        withChoices(`unknown key ${section}.${dotted}`, suggestion && `${where}.${suggestion}`, `Keys Moose allows in [${where}]`, children),
        position,
      ),
    );
    return;
  }
  if (section === "jwt" && dotted.startsWith("enforce_on_all_") && value.type === "boolean" && value.value) {
    errors.push(
      configError(
        `jwt.${dotted} = true asks for JWT checks on every API, and moose does not verify JWTs: the APIs would answer without the check`,
        position,
        "remove the key (or set it to false) and protect the APIs in front of moose, e.g. at your gateway",
      ),
    );
  }
}

function readEnvSettings(
  env: Readonly<Record<string, string | undefined>>,
  errors: InvalidInputError[],
  invalid: Set<string>,
  notices: ConfigNotice[],
): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith("MOOSE_")) continue;
    const split = name.indexOf("__", "MOOSE_".length);
    if (split < 0) {
      // Top-level keys: MOOSE_SOURCE_DIR, MOOSE_LOAD_INFRA (other MOOSE_* names belong to other tools).
      const key = name.slice("MOOSE_".length).toLowerCase();
      const spec = topLevelKeySpec(key);
      if (spec === undefined || text === undefined || text === "") continue;
      const result = coerce(spec.kind, rawFromEnv(spec.kind, text));
      if (result.ok) settings.set(key, { value: result.value, origin: { source: "env", name } });
      else {
        invalid.add(key);
        errors.push(configError(`${name} (${key}) must be ${describeEnvKind(spec.kind)}, found ${JSON.stringify(text)}`));
      }
      continue;
    }
    const section = name.slice("MOOSE_".length, split).toLowerCase();
    const key = name.slice(split + 2).toLowerCase();
    // Other tools' MOOSE_* variables are none of our business; typos inside our sections are.
    if (!isSectionName(section)) continue;
    const spec = keySpec(section, key);
    if (spec === undefined) {
      const why = ignoredKeyReason(section, key);
      if (why !== undefined) notices.push({ message: `${name} (${section}.${key}) is accepted from Moose and ignored: ${why}` });
      else errors.push(unknownEnvVar(name, section, key));
      continue;
    }
    // `FOO=` is how shells and CI templates spell "unset".
    if (text === undefined || text === "") continue;
    const result = coerce(spec.kind, rawFromEnv(spec.kind, text));
    if (result.ok) settings.set(`${section}.${key}`, { value: result.value, origin: { source: "env", name } });
    else {
      invalid.add(`${section}.${key}`);
      errors.push(
        configError(`${name} (${section}.${key}) must be ${describeEnvKind(spec.kind)}, found ${JSON.stringify(text)}`),
      );
    }
  }
  return settings;
}

const SASL_KEYS = ["sasl_username", "sasl_password", "sasl_mechanism"] as const;

/** Rules that involve more than one key. */
function checkCombinations(
  settings: ReadonlyMap<string, Setting>,
  invalid: ReadonlySet<string>,
  errors: InvalidInputError[],
): void {
  const broker = settings.get("redpanda_config.broker");
  const brokers = settings.get("redpanda_config.brokers");
  if (broker && brokers) {
    errors.push(
      configError(
        `${describeOrigin("redpanda_config", "broker", broker.origin)} and ${describeOrigin("redpanda_config", "brokers", brokers.origin)} are both set; keep one of them`,
        positionOf(brokers.origin),
      ),
    );
  }

  const address = settings.get("temporal_config.address");
  const temporalHostPort = settings.get("temporal_config.temporal_host") ?? settings.get("temporal_config.temporal_port");
  if (address && temporalHostPort) {
    const which = settings.has("temporal_config.temporal_host") ? "temporal_host" : "temporal_port";
    errors.push(
      configError(
        `${describeOrigin("temporal_config", "address", address.origin)} and ${describeOrigin("temporal_config", which, temporalHostPort.origin)} are both set; keep address, or Moose's temporal_host and temporal_port`,
        positionOf(temporalHostPort.origin) ?? positionOf(address.origin),
      ),
    );
  }

  const management = settings.get("http_server_config.management_port");
  const port = settings.get("http_server_config.port")?.value ?? keySpec("http_server_config", "port")?.default;
  if (management && management.value === port) {
    errors.push(
      configError(
        `${describeOrigin("http_server_config", "management_port", management.origin)} is ${String(port)}, the same as http_server_config.port; give the management listener a port of its own`,
        positionOf(management.origin),
      ),
    );
  }

  const present = SASL_KEYS.filter((k) => settings.has(`redpanda_config.${k}`));
  const rejected = SASL_KEYS.filter((k) => invalid.has(`redpanda_config.${k}`));
  const first = present[0];
  if (first !== undefined && present.length + rejected.length < SASL_KEYS.length) {
    const missing = SASL_KEYS.filter((k) => !present.includes(k) && !rejected.includes(k)).map(
      (k) => `redpanda_config.${k}`,
    );
    const origin = settings.get(`redpanda_config.${first}`)?.origin;
    errors.push(
      configError(
        `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} required when ${describeOrigin("redpanda_config", first, origin)} is set: SASL needs sasl_username, sasl_password and sasl_mechanism`,
        positionOf(origin),
      ),
    );
  }

  const protocol = settings.get("redpanda_config.security_protocol");
  if (protocol && typeof protocol.value === "string") {
    const label = describeOrigin("redpanda_config", "security_protocol", protocol.origin);
    const wantsSasl = protocol.value.startsWith("SASL_");
    if (wantsSasl && present.length === 0 && rejected.length === 0) {
      errors.push(
        configError(
          `${label} is ${JSON.stringify(protocol.value)}, which needs redpanda_config.sasl_username, sasl_password and sasl_mechanism`,
          positionOf(protocol.origin),
        ),
      );
    } else if (!wantsSasl && present.length > 0) {
      errors.push(
        configError(
          `${label} must be "SASL_PLAINTEXT" or "SASL_SSL" when SASL credentials are set, found ${JSON.stringify(protocol.value)}`,
          positionOf(protocol.origin),
        ),
      );
    }
  }
}

function resolveConfig(settings: ReadonlyMap<string, Setting>, notices: readonly ConfigNotice[]): MooseConfig {
  function get<S extends SectionName, K extends KeyName<S>>(section: S, key: K): ValueOf<S, K> {
    const spec = keySpec(section, key) as KeySpec;
    const setting = settings.get(`${section}.${key}`);
    return (setting === undefined ? spec.default : setting.value) as ValueOf<S, K>;
  }
  const optional = <S extends SectionName, K extends KeyName<S>>(section: S, key: K) =>
    get(section, key) as ValueOf<S, K> | undefined;

  const top = <K extends TopLevelKey>(key: K) => (settings.get(key)?.value ?? TOP_LEVEL_KEYS[key].default) as
    | (typeof TOP_LEVEL_KEYS)[K]["default"]
    | CoercedValue;

  const stateDir = get("moose", "state_dir");
  const sourceDir = top("source_dir") as string | undefined;
  const mainFile = settings.has("moose.main_file") || sourceDir === undefined ? get("moose", "main_file") : posix.join(sourceDir, "index.ts");
  const loadInfra = top("load_infra") as boolean;

  const database = get("clickhouse_config", "db_name");
  const host = optional("clickhouse_config", "host");
  const explicitOlapEngine = optional("clickhouse_config", "engine");
  const olapEngine = explicitOlapEngine ?? (host === undefined ? "embedded" : "server");
  const serverVersion = optional("clickhouse_config", "server_version");
  const additionalDatabases = optional("clickhouse_config", "additional_databases")?.filter((d) => d !== database);
  const clusters = optional("clickhouse_config", "clusters");
  const extras = {
    ...(additionalDatabases === undefined || additionalDatabases.length === 0 ? {} : { additionalDatabases }),
    ...(clusters === undefined || clusters.length === 0 ? {} : { clusters }),
  };
  const versioned = serverVersion === undefined ? {} : { serverVersion };
  const olap: OlapConfig =
    olapEngine === "embedded"
      ? { engine: "embedded", dataDir: posix.join(stateDir, "clickhouse"), database, ...versioned, ...extras }
      : {
          ...versioned,
          engine: "server",
          host: host ?? "localhost",
          port: get("clickhouse_config", "host_port"),
          nativePort: get("clickhouse_config", "native_port"),
          database,
          user: get("clickhouse_config", "user"),
          password: get("clickhouse_config", "password"),
          useSsl: get("clickhouse_config", "use_ssl"),
          ...extras,
        };

  const brokers = optional("redpanda_config", "brokers") ?? optional("redpanda_config", "broker");
  const streamEngine = optional("redpanda_config", "engine") ?? (brokers === undefined ? "embedded" : "kafka");
  const namespace = optional("redpanda_config", "namespace");
  const topicDefaults: TopicDefaults = {
    messageTimeoutMs: get("redpanda_config", "message_timeout_ms"),
    retentionMs: optional("redpanda_config", "retention_ms") ?? DEFAULT_TOPIC_RETENTION_MS,
    replicationFactor: get("redpanda_config", "replication_factor"),
    ...(namespace === undefined ? {} : { namespace }),
  };
  const username = optional("redpanda_config", "sasl_username");
  const password = optional("redpanda_config", "sasl_password");
  const mechanism = optional("redpanda_config", "sasl_mechanism");
  // checkCombinations guarantees all three or none.
  const sasl = username !== undefined && password !== undefined && mechanism !== undefined
    ? { mechanism, username, password }
    : undefined;
  const streaming: StreamingConfig =
    streamEngine === "embedded"
      ? { engine: "embedded", dataDir: posix.join(stateDir, "streams"), ...topicDefaults }
      : {
          engine: "kafka",
          brokers: brokers ?? ["localhost:19092"],
          ...topicDefaults,
          // Never send credentials in clear text unless asked to explicitly.
          securityProtocol: optional("redpanda_config", "security_protocol") ?? (sasl ? "SASL_SSL" : "PLAINTEXT"),
          ...(sasl === undefined ? {} : { sasl }),
        };

  const devClickHouse =
    loadInfra && explicitOlapEngine === undefined && olap.engine === "server" && !olap.useSsl && isLoopback(olap.host)
      ? { host: olap.host, port: olap.port, user: olap.user, password: olap.password }
      : undefined;
  const devStreams =
    loadInfra &&
    optional("redpanda_config", "engine") === undefined &&
    streaming.engine === "kafka" &&
    streaming.sasl === undefined &&
    streaming.brokers.every((b) => isLoopback(b.slice(0, b.lastIndexOf(":"))));

  const temporalHost = optional("temporal_config", "temporal_host");
  const temporalPort = optional("temporal_config", "temporal_port");
  let temporalAddress = get("temporal_config", "address");
  if (temporalHost !== undefined || temporalPort !== undefined) {
    const split = temporalAddress.lastIndexOf(":");
    const h = temporalHost ?? temporalAddress.slice(0, split);
    temporalAddress = `${h.includes(":") && !h.startsWith("[") ? `[${h}]` : h}:${temporalPort ?? temporalAddress.slice(split + 1)}`;
  }

  const devTemporal = loadInfra && isLoopback(temporalAddress.slice(0, temporalAddress.lastIndexOf(":")));

  const redisSet = [...settings.keys()].some((k) => k.startsWith("redis_config."));
  const redisUrl =
    optional("redis_config", "url") ??
    `${get("redis_config", "tls") ? "rediss" : "redis"}://${get("redis_config", "hostname")}:${get("redis_config", "port")}`;
  const managementPort = optional("http_server_config", "management_port");

  const adminApiKey = optional("authentication", "admin_api_key");
  return {
    features: {
      olap: get("features", "olap"),
      streamingEngine: get("features", "streaming_engine"),
      workflows: get("features", "workflows"),
      apis: get("features", "apis"),
    },
    olap,
    streaming,
    authentication: adminApiKey === undefined ? {} : { adminApiKey },
    temporal: { address: temporalAddress, namespace: get("temporal_config", "namespace") },
    httpServer: {
      host: get("http_server_config", "host"),
      port: get("http_server_config", "port"),
      ...(managementPort === undefined ? {} : { managementPort }),
    },
    ...(redisSet ? { redis: { url: redisUrl, keyPrefix: get("redis_config", "key_prefix") } } : {}),
    watcher: { ignorePatterns: optional("watcher_config", "ignore_patterns") ?? [] },
    devInfra: { ...(devClickHouse ? { clickhouse: devClickHouse } : {}), streams: devStreams, temporal: devTemporal },
    notices,
    paths: {
      appDir: sourceDir ?? posix.dirname(mainFile),
      mainFile,
      migrationsDir: get("moose", "migrations_dir"),
      stateDir,
      ledgerPath: optional("moose", "ledger_path") ?? posix.join(stateDir, "ledger.sqlite"),
      logFile: optional("moose", "log_file") ?? posix.join(stateDir, "moose.log"),
    },
  };
}

/** `localhost`, 127.0.0.0/8 and `::1`: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return bare.toLowerCase() === "localhost" || /^127(\.\d{1,3}){3}$/.test(bare) || bare === "::1";
}

function configError(message: string, position?: SourcePosition, hint?: string): InvalidInputError {
  return new InvalidInputError("CONFIG_INVALID", message, {
    ...(position === undefined ? {} : { position }),
    ...(hint === undefined ? {} : { hint }),
  });
}

function collect(errors: readonly InvalidInputError[]): InvalidInputError {
  // File errors in reading order, then environment errors (already sorted by name).
  const sorted = [...errors].sort((a, b) => {
    if (!a.position || !b.position) return a.position ? -1 : b.position ? 1 : 0;
    return a.position.line - b.position.line || a.position.column - b.position.column;
  });
  return sorted.length === 1 && sorted[0] ? sorted[0] : new InvalidInputErrors(sorted);
}

function describeOrigin(section: string, key: string, origin: Origin | undefined): string {
  return origin?.source === "env" ? `${origin.name} (${section}.${key})` : `${section}.${key}`;
}

function positionOf(origin: Origin | undefined): SourcePosition | undefined {
  return origin?.source === "file" ? origin.position : undefined;
}

/** `head; did you mean X? Allowed …: a, b` or `head; allowed …: a, b`. */
function withChoices(head: string, suggestion: string | undefined, allowed: string, choices: readonly string[]): string {
  const list = `${allowed}: ${choices.join(", ")}`;
  return suggestion === undefined
    ? `${head}; ${list.charAt(0).toLowerCase()}${list.slice(1)}`
    : `${head}; did you mean ${suggestion}? ${list}`;
}

/** Sections a file may have: ours, then those Moose has that are ignored here, then Moose's other names. */
const ALL_SECTIONS = [...SECTION_NAMES, ...Object.keys(IGNORED_SECTIONS), ...Object.keys(SECTION_ALIASES)];

function unknownSection(section: string, position: SourcePosition): InvalidInputError {
  const suggestion = closestName(section, ALL_SECTIONS);
  return configError(
    withChoices(
      `unknown section [${section}]`,
      suggestion && `[${suggestion}]`,
      "Allowed sections",
      SECTION_NAMES,
    ),
    position,
  );
}

function unknownTopLevelKey(key: string, position: SourcePosition): InvalidInputError {
  // A key pasted above its section header is the usual cause.
  const home = SECTION_NAMES.find((s) => keySpec(s, key) !== undefined);
  const topLevel = [...Object.keys(TOP_LEVEL_KEYS), ...Object.keys(IGNORED_TOP_LEVEL_KEYS)];
  const candidates = Object.entries(TOP_LEVEL_KEYS).map(([name, spec]: [string, KeySpec]) => ({ name, ...(spec.aliases ? { aliases: spec.aliases } : {}) }));
  const near = closestName(key, [...candidates, ...Object.keys(IGNORED_TOP_LEVEL_KEYS)]);
  return configError(
    withChoices(
      `unknown top-level key ${key}`,
      home ? `${home}.${key} (under [${home}])` : near,
      `Top-level keys are ${topLevel.join(", ")}; other keys belong in a section`,
      SECTION_NAMES,
    ),
    position,
  );
}

function keyCandidates(section: SectionName) {
  const ours = Object.entries(CONFIG_SCHEMA[section].keys).map(([name, spec]: [string, KeySpec]) => ({
    name,
    ...(spec.aliases === undefined ? {} : { aliases: spec.aliases }),
  }));
  return [...ours, ...(IGNORED_KEYS[section] ?? []).flatMap((g) => g.keys)];
}

function unknownKey(section: SectionName, key: string, position: SourcePosition): InvalidInputError {
  const suggestion = closestName(key, keyCandidates(section));
  return configError(
    withChoices(
      `unknown key ${section}.${key}`,
      suggestion && `${section}.${suggestion}`,
      `Allowed keys in [${section}]`,
      keyNames(section),
    ),
    position,
  );
}

function unknownEnvVar(name: string, section: SectionName, key: string): InvalidInputError {
  const suggestion = closestName(key, keyCandidates(section));
  return configError(
    withChoices(
      `unknown environment variable ${name}: ${section}.${key} is not a config key`,
      suggestion && envVarName(section, suggestion),
      `Allowed keys in [${section}]`,
      keyNames(section),
    ),
  );
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * What an empty `moose.config.toml` means: every feature but workflows, the
 * embedded ClickHouse and stream engines, and state under `.moose`.
 */
export const DEFAULT_CONFIG: MooseConfig = deepFreeze(parseConfig("", { file: CONFIG_FILE_NAME }));
