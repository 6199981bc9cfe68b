import { register } from "./registry.js";

/** Table engines (values are the ClickHouse engine names). */
export enum ClickHouseEngines {
  MergeTree = "MergeTree",
  ReplacingMergeTree = "ReplacingMergeTree",
  SummingMergeTree = "SummingMergeTree",
  AggregatingMergeTree = "AggregatingMergeTree",
  CollapsingMergeTree = "CollapsingMergeTree",
}

/** Who may change an object: everything (default), additive changes only, or nothing. */
export enum LifeCycle {
  FULLY_MANAGED = "FULLY_MANAGED",
  DELETION_PROTECTED = "DELETION_PROTECTED",
  EXTERNALLY_MANAGED = "EXTERNALLY_MANAGED",
}

type Field<T> = Extract<keyof T, string>;

/** A column of a table, for interpolation into `sql` templates. */
export interface ColumnRef {
  readonly kind: "Column";
  readonly name: string;
}

interface BaseOlapConfig<T> {
  /** ORDER BY these fields, in order. Defaults to the `Key<...>` fields. */
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
  /** The table's previous name: planned as a RENAME, keeping its rows. */
  readonly renamedFrom?: string;
}

/**
 * Table options. The engine-specific keys are only allowed with their engine.
 *
 * @example
 * new OlapTable<Event>("Events", { engine: ClickHouseEngines.ReplacingMergeTree, ver: "updatedAt", orderByFields: ["id"] })
 */
export type OlapConfig<T> = BaseOlapConfig<T> &
  (
    | { readonly engine?: ClickHouseEngines.MergeTree | ClickHouseEngines.AggregatingMergeTree }
    | { readonly engine: ClickHouseEngines.ReplacingMergeTree; readonly ver?: Field<T>; readonly isDeleted?: Field<T> }
    | { readonly engine: ClickHouseEngines.SummingMergeTree; readonly columns?: readonly Field<T>[] }
    | { readonly engine: ClickHouseEngines.CollapsingMergeTree; readonly sign: Field<T> }
  );

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
      get: (_target, key) => (typeof key === "string" ? { kind: "Column", name: key } : undefined),
    });
    register(this);
  }
}
