import { register } from "./registry.js";
import type { Insertable } from "./column-types.js";
import { runtimeServices } from "./runtime-context.js";
import { physicalName, sqlIdentifier } from "./sql.js";

/**
 * Table engines (values are the ClickHouse engine names). moose-migrate plans the MergeTree
 * family (and its Replicated forms), Buffer, Merge, Kafka, S3, S3Queue and Distributed (a
 * Distributed table's `cluster` is also the cluster it is created on); GraphiteMergeTree and
 * IcebergS3 are moose-lib names an app may use, refused when planned.
 */
export enum ClickHouseEngines {
  MergeTree = "MergeTree",
  ReplacingMergeTree = "ReplacingMergeTree",
  SummingMergeTree = "SummingMergeTree",
  AggregatingMergeTree = "AggregatingMergeTree",
  CollapsingMergeTree = "CollapsingMergeTree",
  VersionedCollapsingMergeTree = "VersionedCollapsingMergeTree",
  GraphiteMergeTree = "GraphiteMergeTree",
  S3Queue = "S3Queue",
  S3 = "S3",
  Buffer = "Buffer",
  Distributed = "Distributed",
  IcebergS3 = "IcebergS3",
  Kafka = "Kafka",
  Merge = "Merge",
  ReplicatedMergeTree = "ReplicatedMergeTree",
  ReplicatedReplacingMergeTree = "ReplicatedReplacingMergeTree",
  ReplicatedAggregatingMergeTree = "ReplicatedAggregatingMergeTree",
  ReplicatedSummingMergeTree = "ReplicatedSummingMergeTree",
  ReplicatedCollapsingMergeTree = "ReplicatedCollapsingMergeTree",
  ReplicatedVersionedCollapsingMergeTree = "ReplicatedVersionedCollapsingMergeTree",
}

/** Who may change an object: everything (default), additive changes only, or nothing. */
export enum LifeCycle {
  FULLY_MANAGED = "FULLY_MANAGED",
  DELETION_PROTECTED = "DELETION_PROTECTED",
  EXTERNALLY_MANAGED = "EXTERNALLY_MANAGED",
}

/**
 * The record's field names. `keyof T & string` rather than `Extract<keyof T, string>`:
 * the conditional type is instantiated once per field of every table, which made
 * type-checking an app with this library 60 times the work of plain interfaces.
 */
type Field<T> = keyof T & string;

/** A column of a table, for interpolation into `sql` templates. */
export interface ColumnRef {
  readonly kind: "Column";
  readonly name: string;
}

interface BaseOlapConfig<T> {
  /** ORDER BY these fields, in order. Defaults to the `Key<...>` fields, which must come first when both are given. */
  readonly orderByFields?: readonly Field<T>[];
  /** ORDER BY this SQL expression, e.g. `"(user_id, toDate(ts))"` or `"tuple()"`. */
  readonly orderByExpression?: string;
  /** PARTITION BY expression, e.g. `"toYYYYMM(ts)"`. */
  readonly partitionBy?: string;
  /** TTL expression, e.g. `"ts + INTERVAL 90 DAY"`. Rows past it are deleted. */
  readonly ttl?: string;
  /** Table SETTINGS, e.g. `{ index_granularity: "8192" }`. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  readonly lifeCycle?: LifeCycle;
  /** A version suffix: version "1.2" names the table `<name>_1_2`. */
  readonly version?: string;
  /**
   * The table's previous name: planned as a RENAME, keeping its rows. Leave it in the code
   * after the rename is deployed; a rename that already happened is skipped.
   */
  readonly renamedFrom?: string;
  /**
   * Fields that were columns under another name, `{ newName: "oldName" }`: planned as
   * RENAME COLUMN, keeping the values, instead of a drop and an add.
   *
   * @example new OlapTable<User>("Users", { renamedColumns: { email: "mail" } })
   */
  readonly renamedColumns?: { readonly [K in Field<T>]?: string };
  /** moose-lib's table structure options (and `constraints`, moose-migrate's own): see README *Conformance*. */
  readonly sampleByExpression?: string;
  readonly primaryKeyExpression?: string;
  readonly indexes?: ReadonlyArray<{ name: string; expression: string; type: string; arguments?: string[]; granularity?: number }>;
  readonly projections?: ReadonlyArray<{ name: string; body: string }>;
  readonly database?: string;
  /**
   * The cluster (a `<remote_servers>` entry, listed in `[[clickhouse_config.clusters]]`) whose
   * hosts all hold this table: every statement for it runs `ON CLUSTER`.
   */
  readonly cluster?: string;
  readonly seedFilter?: { limit?: number; where?: string };
  readonly metadata?: { description?: string };
  readonly constraints?: ReadonlyArray<{ name: string; expression: string; type: "CHECK" | "ASSUME" }>;
}

/**
 * Table options. The engine-specific keys (`ver`, `isDeleted`, `columns`, `sign`) are
 * accepted by the type with any engine and refused by planning when they do not belong
 * to the table's engine: one flat interface instead of a union per engine keeps
 * type-checking cheap (the union cost every table a dozen instantiated types).
 *
 * @example
 * new OlapTable<Event>("Events", { engine: ClickHouseEngines.ReplacingMergeTree, ver: "updatedAt", orderByFields: ["id"] })
 */
export interface OlapConfig<T> extends BaseOlapConfig<T> {
  /** The table engine; MergeTree when not given. */
  readonly engine?: ClickHouseEngines;
  /** ReplacingMergeTree only: the version field; the row with the highest version is kept. */
  readonly ver?: Field<T>;
  /** ReplacingMergeTree only: the UInt8 field marking a row deleted. */
  readonly isDeleted?: Field<T>;
  /** SummingMergeTree only: the fields to sum (all numeric fields when not given). */
  readonly columns?: readonly Field<T>[];
  /** CollapsingMergeTree only, and required there: the Int8 field holding 1 or -1. */
  readonly sign?: Field<T>;
  /**
   * Replicated engines only: the table's path in ZooKeeper/Keeper (macros such as `{shard}`,
   * `{database}`, `{table}`). Set with `replicaName`, or neither: moose then uses
   * `/clickhouse/tables/{shard}/{database}/{table}` and `{replica}`.
   */
  readonly keeperPath?: string;
  /** Replicated engines only: this replica's name under `keeperPath`, usually `"{replica}"`. */
  readonly replicaName?: string;

  // Buffer: inserts are kept in memory and flushed to `targetDatabase`.`targetTable` when all
  // min thresholds or any max threshold is reached (time in seconds, rows, bytes).
  /** Buffer and Distributed: the target's database; `"currentDatabase()"` for the managed one. */
  readonly targetDatabase?: string;
  /** Buffer: the table rows are flushed to; Distributed: the table it reads (and writes) on every shard of `cluster`. */
  readonly targetTable?: string;
  /** Distributed only: the expression choosing the shard of an inserted row, e.g. `"rand()"`. */
  readonly shardingKey?: string;
  /** Distributed only: a storage policy for rows waiting to be sent (needs `shardingKey`). */
  readonly policyName?: string;
  readonly numLayers?: number;
  readonly minTime?: number;
  readonly maxTime?: number;
  readonly minRows?: number;
  readonly maxRows?: number;
  readonly minBytes?: number;
  readonly maxBytes?: number;
  readonly flushTime?: number;
  readonly flushRows?: number;
  readonly flushBytes?: number;
  /** Merge only: the database to read (a name, `"currentDatabase()"` or `"REGEXP('…')"`). */
  readonly sourceDatabase?: string;
  /** Merge only: the regular expression table names must match. */
  readonly tablesRegexp?: string;
  /** Kafka only: `host:port[,host:port…]`. */
  readonly brokerList?: string;
  /** Kafka only: the topics to consume (comma-separated). */
  readonly topicList?: string;
  /** Kafka only: the consumer group. */
  readonly groupName?: string;
  /** Kafka, S3 and S3Queue: the data format, e.g. `"JSONEachRow"`, `"CSV"`, `"Parquet"`. */
  readonly format?: string;
  /** S3 only: the object URL, wildcards allowed (`s3://bucket/data/*.csv` or `https://…`). */
  readonly path?: string;
  /** S3Queue only: the object URL pattern to ingest. */
  readonly s3Path?: string;
  /** S3 and S3Queue: `"gzip"`, `"zstd"`, `"auto"`, … */
  readonly compression?: string;
  /** S3 and S3Queue: refused by planning (the statement with them would be kept in migration files). */
  readonly awsAccessKeyId?: string;
  readonly awsSecretAccessKey?: string;
  /** S3Queue: refused by planning (not planned yet). */
  readonly headers?: Readonly<Record<string, string>>;
  /** S3: refused by planning (not planned yet). */
  readonly partitionStrategy?: string;
  readonly partitionColumnsInDataFile?: string;
}

/** What `insert` reports (moose-lib's shape). */
export interface InsertResult<T> {
  readonly successful: number;
  readonly failed: number;
  readonly total: number;
  readonly failedRecords?: ReadonlyArray<{ record: T; error: string; index?: number }>;
}

export interface InsertOptions {
  readonly allowErrors?: number;
  readonly allowErrorsRatio?: number;
  readonly strategy?: "fail-fast" | "discard" | "isolate";
  readonly validate?: boolean;
}

/**
 * A ClickHouse table whose columns are the fields of `T`.
 *
 * @example
 * interface UserSchema { id: Key<string>; name: string; email: string }
 * export const usersTable = new OlapTable<UserSchema>("Users");
 */
export class OlapTable<T> {
  readonly kind = "OlapTable" as const;
  readonly name: string;
  readonly config: OlapConfig<T>;
  /** Phantom member so that `T` is part of the type (never set at run time). */
  declare readonly __schema?: T;
  /** Column references for `sql` templates: `${table.columns.userId}` renders `` `userId` ``. */
  readonly columns: { readonly [K in Field<T>]: ColumnRef };

  constructor(name: string, config?: OlapConfig<T>) {
    this.name = name;
    this.config = config ?? {};
    this.columns = new Proxy({} as { readonly [K in Field<T>]: ColumnRef }, {
      get: (_target, key) => (typeof key === "string" ? sqlIdentifier<ColumnRef>({ kind: "Column", name: key }, () => key) : undefined),
    });
    sqlIdentifier(this, () => physicalName(this.name, this.config.version));
    register(this);
  }

  /**
   * Run-time only (under `moose dev` / `moose prod`): inserts rows, all or none (the
   * options of moose-lib's partial inserts are not supported: every row is validated first).
   */
  async insert(data: Insertable<T>[] | AsyncIterable<unknown>, _options?: InsertOptions): Promise<InsertResult<T>> {
    const services = runtimeServices();
    if (services === undefined) throw new Error(`OlapTable.insert (${this.name}) needs the app to run under moose dev or moose prod`);
    const rows: Array<Record<string, unknown>> = [];
    if (Array.isArray(data)) rows.push(...(data as Array<Record<string, unknown>>));
    else for await (const row of data as AsyncIterable<unknown>) rows.push(row as Record<string, unknown>);
    const json = JSON.parse(JSON.stringify(rows)) as Array<Record<string, unknown>>;
    if (json.length > 0) await services.insert(physicalName(this.name, this.config.version), json);
    return { successful: json.length, failed: 0, total: json.length };
  }

  /**
   * moose-lib's factory for a MergeTree table ordered by `orderByFields`.
   *
   * @example
   * export const events = OlapTable.withMergeTree<Event>("Events", ["id", "at"], { version: "1.0" });
   */
  static withMergeTree<T>(name: string, orderByFields: readonly Field<T>[], options?: Omit<BaseOlapConfig<T>, "orderByFields" | "orderByExpression">): OlapTable<T> {
    return new OlapTable<T>(name, { ...options, orderByFields, engine: ClickHouseEngines.MergeTree });
  }

  /** moose-lib's factory for a ReplacingMergeTree table ordered by `orderByFields`. */
  static withReplacingMergeTree<T>(
    name: string,
    orderByFields: readonly Field<T>[],
    options?: Omit<BaseOlapConfig<T>, "orderByFields" | "orderByExpression"> & { readonly ver?: Field<T>; readonly isDeleted?: Field<T> },
  ): OlapTable<T> {
    return new OlapTable<T>(name, { ...options, orderByFields, engine: ClickHouseEngines.ReplacingMergeTree });
  }

  /** moose-lib's factory for an S3Queue table reading `s3Path` (a public bucket: moose creates it with NOSIGN). */
  static withS3Queue<T>(name: string, s3Path: string, format: string, options?: Readonly<Record<string, unknown>>): OlapTable<T> {
    return new OlapTable<T>(name, { ...options, s3Path, format, engine: ClickHouseEngines.S3Queue } as OlapConfig<T>);
  }
}
