/**
 * The table engines that hold no rows of their own (Buffer, Merge, Kafka, S3, S3Queue):
 * their ENGINE clause, what each server can create, and reading `engine_full` back into
 * the model. The MergeTree family lives in sql.ts / introspect.ts; these engines differ
 * in every respect that matters to a migration (no sorting key, most of them cannot be
 * ALTERed, dropping one loses nothing), so they are kept together here.
 */
import { assertNever, InvalidInputError, RefusedError } from "../../errors.js";
import type { IntegrationEngine } from "../../model/infra-map.js";
import { EMBEDDED_KEEPER_LIMITS, type OlapCapabilities } from "./capabilities.js";
import { splitTopLevel, tokenize } from "./sql-text.js";
import { quoteString } from "../../model/clickhouse-quote.js";

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
 * version when this server cannot create it.
 *
 * @example integrationEngineClause({ kind: "Merge", tablesRegexp: "^Events_" }, "AllEvents", caps) // "Merge(currentDatabase(), '^Events_')"
 */
export function integrationEngineClause(engine: IntegrationEngine, table: string, caps: OlapCapabilities): string {
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
      const database = engine.database === undefined ? CURRENT_DATABASE : quoteString(engine.database);
      return `Buffer(${[database, quoteString(engine.table), ...numbers.map(String)].join(", ")})`;
    }
    case "Merge": {
      const source = engine.sourceDatabase;
      if (source !== undefined && isDatabaseRegexp(source) && !caps.mergeDatabaseRegexp) {
        throw refuse(caps, table, "a REGEXP(…) source database in the Merge engine (ClickHouse 21.5+)", "name the source database");
      }
      const database = source === undefined ? CURRENT_DATABASE : isDatabaseRegexp(source) ? source.trim() : quoteString(source);
      return `Merge(${database}, ${quoteString(engine.tablesRegexp)})`;
    }
    case "Kafka":
      if (!caps.kafkaEngine) throw refuse(caps, table, "the Kafka engine", "read the topic with moose's topic → table sync instead");
      return `Kafka(${[engine.brokerList, engine.topicList, engine.groupName, engine.format].map(quoteString).join(", ")})`;
    case "S3":
      if (!caps.s3Engine) throw refuse(caps, table, "the S3 engine with NOSIGN (ClickHouse 23.4+)", "read the bucket with the s3() table function in a query");
      return `S3(${s3Arguments(engine)})`;
    case "S3Queue":
      if (!caps.s3QueueEngine) throw refuse(caps, table, "the S3Queue engine (ClickHouse 23.8+)", "load the files with a workflow that runs INSERT … SELECT FROM s3(…)");
      if (!caps.replication) {
        const why = caps.host === "embedded" ? `${EMBEDDED_KEEPER_LIMITS.s3Queue} (ClickHouse ${caps.version})` : `ClickHouse ${caps.version} here has none configured`;
        throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot create table ${table}: S3Queue keeps the files it processed in ZooKeeper/ClickHouse Keeper, and ${why}`, {
          hint: "set clickhouse_config.host to a ClickHouse server with <zookeeper> configured, or keep the table out of this environment with lifeCycle: LifeCycle.EXTERNALLY_MANAGED",
        });
      }
      return `S3Queue(${s3Arguments(engine)})`;
    default:
      return assertNever(engine, "table engine");
  }
}

/** `'path', NOSIGN, 'format'[, 'compression']`: moose-lib's S3 tables without credentials read public buckets unsigned. */
function s3Arguments(engine: { readonly path: string; readonly format: string; readonly compression?: string }): string {
  return [quoteString(engine.path), "NOSIGN", quoteString(engine.format), ...(engine.compression === undefined ? [] : [quoteString(engine.compression)])].join(", ");
}

/**
 * The engine as introspection reads it back from `database`: a Buffer destination or Merge
 * source naming that database is the same as `currentDatabase()` (absent in the model).
 */
export function relativeTo<E extends { readonly kind: string }>(engine: E, database: string): E {
  if (engine.kind === "Buffer" && (engine as { database?: string }).database === database) {
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
 * S3 credentials are never read back (ClickHouse hides the secret): such a table is skipped.
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
      const values = list.map(stringArgument);
      // ClickHouse prints the NOSIGN keyword as a string.
      if (values[1] !== "NOSIGN") return { reason: `${engine}(${args ?? ""}) reads with credentials, which moose does not manage (it creates public-bucket tables with NOSIGN)` };
      const [path, , format, compression] = values;
      if (path === undefined || format === undefined || list.length > 4 || (list.length === 4 && compression === undefined)) return unreadable;
      return { kind: engine, path, format, ...(compression === undefined ? {} : { compression }) };
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
    case "S3Queue":
      return `${engine.kind}(${engine.path}, ${engine.format}${engine.compression === undefined ? "" : `, ${engine.compression}`})`;
    default:
      return assertNever(engine, "table engine");
  }
}
