import { register } from "./registry.js";
import { OlapTable, type LifeCycle, type OlapConfig } from "./olap-table.js";
import type { Sql } from "./sql.js";

export interface MaterializedViewConfig<T> {
  /** The SELECT that feeds the target table (a string or a `sql` template). */
  readonly selectStatement: string | Sql;
  /** The tables (or views) the SELECT reads. */
  readonly selectTables: ReadonlyArray<OlapTable<any> | MaterializedView<any>>;
  /** Name of the view object. */
  readonly materializedViewName: string;
  /** Create the target table with this name and the columns of `T`... */
  readonly tableName?: string;
  /** ...or write into an existing table. */
  readonly targetTable?: OlapTable<T>;
  readonly orderByFields?: OlapConfig<T>["orderByFields"];
  readonly engine?: OlapConfig<T>["engine"];
  readonly lifeCycle?: LifeCycle;
}

/**
 * A ClickHouse materialized view writing TO a target table with the columns of `T`.
 *
 * @example
 * export const daily = new MaterializedView<DailyCount>({
 *   materializedViewName: "daily_counts_mv",
 *   tableName: "daily_counts",
 *   selectStatement: sql`SELECT toDate(ts) AS day, count() AS n FROM ${events} GROUP BY day`,
 *   selectTables: [events],
 *   orderByFields: ["day"],
 * });
 */
export class MaterializedView<T> {
  readonly kind = "MaterializedView" as const;
  readonly name: string;
  readonly config: MaterializedViewConfig<T>;
  readonly targetTable: OlapTable<T>;
  declare readonly __schema?: T;

  constructor(config: MaterializedViewConfig<T>) {
    this.name = config.materializedViewName;
    this.config = config;
    this.targetTable =
      config.targetTable ??
      new OlapTable<T>(config.tableName ?? `${config.materializedViewName}_target`, {
        orderByFields: config.orderByFields,
      } as OlapConfig<T>);
    register(this);
  }
}
