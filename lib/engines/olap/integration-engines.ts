/**
 * The table engines that hold no rows of their own (Buffer, Merge, Kafka, S3, S3Queue, Distributed):
 * their ENGINE clause, what each server can create, and reading `engine_full` back into
 * the model. The MergeTree family lives in sql.ts / introspect.ts; these engines differ
 * in every respect that matters to a migration (no sorting key, most of them cannot be
 * ALTERed, dropping one loses nothing), so they are kept together here.
 */
import { assertNever, InvalidInputError, RefusedError } from "../../errors.js";
import { isRuntimeEnvRef, settingValueLabel, type IntegrationEngine, type RuntimeEnvRef, type SettingValue } from "../../model/infra-map.js";
import type { OlapCapabilities } from "./capabilities.js";
import { parseSettingsClause, splitTopLevel, tokenize } from "./sql-text.js";
import { quoteString } from "../../model/clickhouse-quote.js";
import type { SqlRuntimeEnv } from "./runtime-env.js";

/**
 * What ClickHouse shows for a secret it keeps (S3 credentials, header values, Kafka's SASL
 * password). Introspection reads credentials back as this name, never as a value; the
 * declared reference stands in for it when live and declared tables are compared ({@link withDeclaredSecrets}).
 */
export const HIDDEN = "[HIDDEN]";

/** The S3 engine's settings for hive-style writes (moose-lib's `partitionStrategy`, `partitionColumnsInDataFile`). */
export const S3_PARTITION_SETTINGS = ["partition_strategy", "partition_columns_in_data_file"] as const;

/** The Kafka engine's security settings, which ClickHouse takes in the SETTINGS clause from 23.3 (rounded up). */
const KAFKA_SASL_SETTING = /^kafka_(sasl_|security_protocol$)/;

/** `currentDatabase()`: the database the statement runs in (both engines run DDL in the managed database). */
const CURRENT_DATABASE = "currentDatabase()";

/** Whether a Merge table's `sourceDatabase` is a regular expression over database names rather than a name. */
export function isDatabaseRegexp(sourceDatabase: string): boolean {
  return /^REGEXP\s*\(/i.test(sourceDatabase.trim());
}

function refuse(caps: OlapCapabilities, table: string, feature: string, alternative: string): RefusedError {
  return new RefusedError("UNSUPPORTED_BY_SERVER", `cannot create table ${table}: ClickHouse ${caps.version} does not support ${feature}`, {
    hint: `${alternative}; or upgrade the ClickHouse server`,
  });
}

/**
 * The `ENGINE = …` text of a table with one of these engines, or a refusal naming the server
 * version when this server cannot create it. `home` is the text that stands for the managed
 * database where a target names none: `currentDatabase()`, or the database's quoted name for a
 * table created ON CLUSTER, whose statement each host runs in its DDL worker's database
 * (`default`: measured on 18.16, a Buffer ON CLUSTER with currentDatabase() flushed to default.d).
 *
 * @example integrationEngineClause({ kind: "Merge", tablesRegexp: "^Events_" }, "AllEvents", caps, write, {}, "currentDatabase()") // "Merge(currentDatabase(), '^Events_')"
 */
export function integrationEngineClause(engine: IntegrationEngine, table: string, caps: OlapCapabilities, write: SqlRuntimeEnv, settings: Readonly<Record<string, SettingValue>>, home: string): string {
  switch (engine.kind) {
    case "Buffer": {
      const flush = [engine.flushTime, engine.flushRows, engine.flushBytes];
      const lastFlush = flush.reduce<number>((last, v, i) => (v === undefined ? last : i), -1);
      if (lastFlush >= 0 && !caps.bufferFlushThresholds) {
        throw refuse(caps, table, "Buffer's flush_time / flush_rows / flush_bytes (ClickHouse 21.9+)", "leave out flushTime, flushRows and flushBytes");
      }
      const numbers = [engine.numLayers, engine.minTime, engine.maxTime, engine.minRows, engine.maxRows, engine.minBytes, engine.maxBytes, ...flush.slice(0, lastFlush + 1).map((v) => v ?? 0)];
      for (const n of numbers) {
        if (!Number.isInteger(n) || n < 0) throw new InvalidInputError("ENGINE_INVALID", `table ${table}: Buffer's thresholds must be whole numbers, at least 0 (got ${n})`);
      }
      const database = engine.database === undefined ? home : quoteString(engine.database);
      return `Buffer(${[database, quoteString(engine.table), ...numbers.map(String)].join(", ")})`;
    }
    case "Merge": {
      const source = engine.sourceDatabase;
      if (source !== undefined && isDatabaseRegexp(source) && !caps.mergeDatabaseRegexp) {
        throw refuse(caps, table, "a REGEXP(…) source database in the Merge engine (ClickHouse 21.5+)", "name the source database");
      }
      const database = source === undefined ? home : isDatabaseRegexp(source) ? source.trim() : quoteString(source);
      return `Merge(${database}, ${quoteString(engine.tablesRegexp)})`;
    }
    case "Kafka":
      if (!caps.kafkaEngine) throw refuse(caps, table, "the Kafka engine", "read the topic with moose's topic → table sync instead");
      for (const name of Object.keys(settings).sort()) {
        if (KAFKA_SASL_SETTING.test(name) && !caps.kafkaSaslSettings) {
          throw refuse(caps, table, `the Kafka engine's ${name} table setting (ClickHouse 23.3+)`, "configure SASL for every Kafka table in the server's <kafka> configuration and leave the kafka_sasl_* settings out");
        }
      }
      return `Kafka(${[engine.brokerList, engine.topicList, engine.groupName, engine.format].map(quoteString).join(", ")})`;
    case "S3":
      if (!caps.s3Engine) throw refuse(caps, table, "the S3 engine with NOSIGN (ClickHouse 23.4+)", "read the bucket with the s3() table function in a query");
      for (const name of S3_PARTITION_SETTINGS) {
        if (settings[name] !== undefined && !caps.s3PartitionStrategy) {
          throw refuse(caps, table, `the S3 engine's ${name} (moose-lib's ${name === "partition_strategy" ? "partitionStrategy" : "partitionColumnsInDataFile"}; ClickHouse 25.8+)`, "leave it out: a PARTITION BY table whose path has {_partition_id} writes one object per partition");
        }
      }
      return `S3(${s3Arguments(engine, write)})`;
    case "S3Queue":
      if (!caps.s3QueueEngine) throw refuse(caps, table, "the S3Queue engine (ClickHouse 23.8+)", "load the files with a workflow that runs INSERT … SELECT FROM s3(…)");
      // The embedded engine has an in-memory Keeper (chdb-process.ts; EMBEDDED_KEEPER_LIMITS.s3Queue says what it costs).
      if (!caps.replication && caps.host !== "embedded") {
        const why = `ClickHouse ${caps.version} here has none configured`;
        throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot create table ${table}: S3Queue keeps the files it processed in ZooKeeper/ClickHouse Keeper, and ${why}`, {
          hint: "set clickhouse_config.host to a ClickHouse server with <zookeeper> configured, or keep the table out of this environment with lifeCycle: LifeCycle.EXTERNALLY_MANAGED",
        });
      }
      return `S3Queue(${s3Arguments(engine, write)})`;
    case "Distributed": {
      // ClickHouse's optional arguments are positional: a policy needs a sharding key before it.
      if (engine.policyName !== undefined && engine.shardingKey === undefined) {
        throw new InvalidInputError("ENGINE_INVALID", `table ${table}: Distributed's policyName needs a shardingKey (ClickHouse takes them in that order)`, { hint: "add shardingKey (e.g. rand()), or leave out policyName" });
      }
      const database = engine.database === undefined ? home : quoteString(engine.database);
      const optional = [...(engine.shardingKey === undefined ? [] : [engine.shardingKey]), ...(engine.policyName === undefined ? [] : [quoteString(engine.policyName)])];
      return `Distributed(${[quoteString(engine.targetCluster), database, quoteString(engine.table), ...optional].join(", ")})`;
    }
    default:
      return assertNever(engine, "table engine");
  }
}

/**
 * `'path', NOSIGN | key_id, secret, 'format'[, 'compression'][, headers('name' = 'value', …)]`:
 * without credentials a table reads public buckets unsigned; credentials and run-time header
 * values are written by `write` (slots filled when the statement is sent).
 */
function s3Arguments(engine: Extract<IntegrationEngine, { kind: "S3" | "S3Queue" }>, write: SqlRuntimeEnv): string {
  const auth = engine.credentials === undefined ? ["NOSIGN"] : [write(engine.credentials.accessKeyId), write(engine.credentials.secretAccessKey)];
  const headers = engine.kind === "S3Queue" && engine.headers !== undefined ? Object.entries(engine.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
  return [
    quoteString(engine.path),
    ...auth,
    quoteString(engine.format),
    ...(engine.compression === undefined ? [] : [quoteString(engine.compression)]),
    ...(headers.length === 0 ? [] : [`headers(${headers.map(([k, v]) => `${quoteString(k)} = ${typeof v === "string" ? quoteString(v) : write(v)}`).join(", ")})`]),
  ].join(", ");
}

/**
 * The engine as introspection reads it back from `database`: a Buffer or Distributed target, or a Merge
 * source, naming that database is the same as `currentDatabase()` (absent in the model).
 */
export function relativeTo<E extends { readonly kind: string }>(engine: E, database: string): E {
  if ((engine.kind === "Buffer" || engine.kind === "Distributed") && (engine as { database?: string }).database === database) {
    const { database: _d, ...rest } = engine as E & { database?: string };
    return rest as unknown as E;
  }
  if (engine.kind === "Merge" && (engine as { sourceDatabase?: string }).sourceDatabase === database) {
    const { sourceDatabase: _s, ...rest } = engine as E & { sourceDatabase?: string };
    return rest as unknown as E;
  }
  return engine;
}

/** One engine argument as ClickHouse prints it: a string literal, a bare name, or an expression. */
type Argument = { readonly kind: "string" | "name"; readonly value: string } | { readonly kind: "expression"; readonly text: string };

function argument(text: string): Argument {
  const tokens = tokenize(text).filter((t) => t.kind !== "space" && t.kind !== "comment");
  const only = tokens.length === 1 ? tokens[0] : undefined;
  if (only?.kind === "string") return { kind: "string", value: only.value };
  if (only?.kind === "word" || only?.kind === "quoted") return { kind: "name", value: only.value };
  return { kind: "expression", text: text.trim() };
}

function stringArgument(a: Argument | undefined): string | undefined {
  return a !== undefined && a.kind === "string" ? a.value : undefined;
}

/** A database argument: absent when it is the database being read (however it was written). */
function databaseArgument(a: Argument | undefined, database: string): { readonly value?: string } | undefined {
  if (a === undefined) return undefined;
  if (a.kind === "expression") return a.text.replace(/\s+/g, "") === CURRENT_DATABASE ? {} : { value: a.text };
  return a.value === database ? {} : { value: a.value };
}

/**
 * The engine in the model from `system.tables.engine` and the arguments of `engine_full`,
 * or why it cannot be expressed. `database` is the database being read: a Buffer or Merge
 * table that names it (or `currentDatabase()`, as 18.16 keeps it) reads back without one.
 * S3 credentials are never read back (ClickHouse hides the secret, and shows the key id):
 * they read as references named {@link HIDDEN}, which {@link withDeclaredSecrets} replaces.
 */
export function readIntegrationEngine(engine: string, args: string | undefined, database: string): IntegrationEngine | { readonly reason: string } | undefined {
  const list = args === undefined || args.trim() === "" ? [] : splitTopLevel(args).map(argument);
  const unreadable = { reason: `${engine}(${args ?? ""}) has arguments the model does not express` };
  switch (engine) {
    case "Buffer": {
      const db = databaseArgument(list[0], database);
      const target = list[1];
      const numbers = list.slice(2).map((a) => (a.kind === "expression" && /^\d+$/.test(a.text) ? Number(a.text) : a.kind === "name" && /^\d+$/.test(a.value) ? Number(a.value) : Number.NaN));
      if (db === undefined || target === undefined || target.kind === "expression" || numbers.length < 7 || numbers.length > 10 || numbers.some((n) => Number.isNaN(n))) return unreadable;
      const [numLayers, minTime, maxTime, minRows, maxRows, minBytes, maxBytes, flushTime, flushRows, flushBytes] = numbers as [number, number, number, number, number, number, number, number?, number?, number?];
      // Flush thresholds are positional: a 0 written only to reach a later one means "not set".
      const flush = { flushTime, flushRows, flushBytes };
      return {
        kind: "Buffer",
        ...(db.value === undefined ? {} : { database: db.value }),
        table: target.value,
        numLayers,
        minTime,
        maxTime,
        minRows,
        maxRows,
        minBytes,
        maxBytes,
        ...Object.fromEntries(Object.entries(flush).filter(([, v]) => v !== undefined && v !== 0)),
      };
    }
    case "Merge": {
      const db = databaseArgument(list[0], database);
      const regexp = stringArgument(list[1]);
      if (db === undefined || regexp === undefined || list.length !== 2) return unreadable;
      return { kind: "Merge", ...(db.value === undefined ? {} : { sourceDatabase: db.value }), tablesRegexp: regexp };
    }
    case "Kafka": {
      const values = list.map(stringArgument);
      if (list.length !== 4 || values.some((v) => v === undefined)) {
        return { reason: `Kafka${args === undefined ? "" : `(${args})`} is not written as Kafka('brokers', 'topics', 'group', 'format'), the form moose creates` };
      }
      const [brokerList, topicList, groupName, format] = values as [string, string, string, string];
      return { kind: "Kafka", brokerList, topicList, groupName, format };
    }
    case "S3":
    case "S3Queue": {
      // headers(…) may follow the positional arguments; ClickHouse prints their values as '[HIDDEN]'.
      const headerArgs = list.filter((a) => a.kind === "expression" && /^headers\s*\(/i.test(a.text));
      const positional = list.filter((a) => !headerArgs.includes(a));
      const values = positional.map(stringArgument);
      // ClickHouse prints the NOSIGN keyword as a string; anything else in its place is an access key pair.
      const signed = values[1] !== "NOSIGN";
      const [path, format, compression] = signed ? [values[0], values[3], values[4]] : [values[0], values[2], values[3]];
      const arity = signed ? 5 : 4;
      if (path === undefined || format === undefined || positional.length > arity || (positional.length === arity && compression === undefined) || headerArgs.length > 1 || (signed && values.slice(1, 3).some((v) => v === undefined))) return unreadable;
      if (headerArgs.length > 0 && engine === "S3") return { reason: `${engine}(${args ?? ""}) sends headers, which moose declares on S3Queue tables only` };
      const header = headerArgs[0];
      const headers = header !== undefined && header.kind === "expression" ? parseSettingsClause(header.text.slice(header.text.indexOf("(") + 1, header.text.lastIndexOf(")"))) : undefined;
      return {
        kind: engine,
        path,
        format,
        ...(compression === undefined ? {} : { compression }),
        // Never a value: the names are the declaration's (see withDeclaredSecrets).
        ...(signed ? { credentials: { accessKeyId: { runtimeEnv: HIDDEN }, secretAccessKey: { runtimeEnv: HIDDEN } } } : {}),
        ...(headers === undefined ? {} : { headers }),
      } as IntegrationEngine;
    }
    case "Distributed": {
      const cluster = list[0]?.kind === "expression" ? undefined : list[0]?.value;
      const db = databaseArgument(list[1], database);
      const target = list[2];
      const shardingKey = list[3] === undefined ? undefined : list[3].kind === "expression" ? list[3].text : list[3].kind === "name" ? list[3].value : undefined;
      const policyName = stringArgument(list[4]);
      if (cluster === undefined || db === undefined || target === undefined || target.kind === "expression" || list.length > 5 || (list[3] !== undefined && shardingKey === undefined) || (list[4] !== undefined && policyName === undefined)) return unreadable;
      return {
        kind: "Distributed",
        targetCluster: cluster,
        ...(db.value === undefined ? {} : { database: db.value }),
        table: target.value,
        ...(shardingKey === undefined ? {} : { shardingKey }),
        ...(policyName === undefined ? {} : { policyName }),
      };
    }
    default:
      return undefined;
  }
}

/** The engine in words, for messages: `Kafka(topic Events from broker:9092, group g)`. */
export function describeIntegrationEngine(engine: IntegrationEngine): string {
  switch (engine.kind) {
    case "Buffer":
      return `Buffer(into ${engine.database === undefined ? "" : `${engine.database}.`}${engine.table})`;
    case "Merge":
      return `Merge(${engine.sourceDatabase ?? CURRENT_DATABASE}, ${engine.tablesRegexp})`;
    case "Kafka":
      return `Kafka(topic ${engine.topicList} from ${engine.brokerList}, group ${engine.groupName}, ${engine.format})`;
    case "S3":
    case "S3Queue": {
      const auth = engine.credentials === undefined ? "" : `, key ${settingValueLabel(engine.credentials.accessKeyId)} / ${settingValueLabel(engine.credentials.secretAccessKey)}`;
      const headers = engine.kind === "S3Queue" && engine.headers !== undefined ? `, headers ${Object.keys(engine.headers).sort().join(", ")}` : "";
      return `${engine.kind}(${engine.path}, ${engine.format}${engine.compression === undefined ? "" : `, ${engine.compression}`}${auth}${headers})`;
    }
    case "Distributed":
      return `Distributed(${engine.database === undefined ? "" : `${engine.database}.`}${engine.table} on every shard of ${engine.targetCluster}${engine.shardingKey === undefined ? "" : `, sharded by ${engine.shardingKey}`})`;
    default:
      return assertNever(engine, "table engine");
  }
}

/**
 * `live` (as introspection read it) with the secrets ClickHouse does not show put back as
 * `declared` has them: S3 credentials (read as {@link HIDDEN}), S3Queue header values and
 * settings whose declared value is a run-time reference (Kafka's `kafka_sasl_password`, shown
 * as '[HIDDEN]' by servers that hide it, in clear by older ones: never kept). A different set
 * of header names, credentials where none are declared (or none where some are) stay
 * differences. A changed variable *name* cannot be seen in the database; the ledger's state has it.
 */
export function withDeclaredSecrets<T extends { readonly engine: { readonly kind: string }; readonly settings: Readonly<Record<string, SettingValue>> }>(live: T, declared: T | undefined): T {
  const settings = hideSecretSettings(live.settings, declared?.settings ?? {});
  const engine = live.engine as IntegrationEngine;
  const want = declared?.engine as IntegrationEngine | undefined;
  if ((engine.kind !== "S3" && engine.kind !== "S3Queue") || want?.kind !== engine.kind) return settings === live.settings ? live : { ...live, settings };
  const credentials = engine.credentials !== undefined && want.credentials !== undefined ? want.credentials : engine.credentials;
  let headers = engine.kind === "S3Queue" ? engine.headers : undefined;
  const wantHeaders = want.kind === "S3Queue" ? want.headers : undefined;
  if (headers !== undefined && wantHeaders !== undefined && sameKeys(headers, wantHeaders)) headers = wantHeaders;
  return {
    ...live,
    settings,
    engine: { ...engine, ...(credentials === undefined ? {} : { credentials }), ...(headers === undefined ? {} : { headers }) },
  };
}

function sameKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(a).sort().join("\u0000") === Object.keys(b).sort().join("\u0000");
}

function hideSecretSettings(live: Readonly<Record<string, SettingValue>>, declared: Readonly<Record<string, SettingValue>>): Readonly<Record<string, SettingValue>> {
  const secret = Object.keys(live).filter((k) => isRuntimeEnvRef(declared[k]) || live[k] === HIDDEN);
  if (secret.length === 0) return live;
  const out: Record<string, SettingValue> = { ...live };
  for (const k of secret) {
    const d = declared[k];
    // A hidden value that is declared as text cannot be compared: the declaration stands.
    if (d !== undefined) out[k] = d;
    else out[k] = { runtimeEnv: HIDDEN } satisfies RuntimeEnvRef;
  }
  return out;
}
