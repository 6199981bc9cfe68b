import { register } from "./registry.js";
import { ClickHouseEngines, OlapTable, type LifeCycle, type OlapConfig } from "./olap-table.js";
import { sqlIdentifier, type Sql } from "./sql.js";
import type { View } from "./view.js";

type Field<T> = keyof T & string;

export interface MaterializedViewConfig<T> {
  /** The SELECT that feeds the target table (a string or a `sql` template). */
  readonly selectStatement: string | Sql;
  /** The tables (or views) the SELECT reads. */
  readonly selectTables?: ReadonlyArray<OlapTable<any> | MaterializedView<any> | View>;
  /** Name of the view object (must differ from the target table's). */
  readonly materializedViewName: string;
  /**
   * Write into an existing table, or create the target table from `T`:
   * `{ name, engine?, orderByFields? }`.
   */
  readonly targetTable?: OlapTable<T> | { readonly name: string; readonly engine?: ClickHouseEngines; readonly orderByFields?: readonly Field<T>[] };
  /** moose-lib's older spelling of `targetTable: { name }`. */
  readonly tableName?: string;
  readonly orderByFields?: readonly Field<T>[];
  readonly engine?: ClickHouseEngines;
  readonly lifeCycle?: LifeCycle;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/**
 * A ClickHouse materialized view writing TO a target table with the columns of `T`.
 *
 * @example
 * export const daily = new MaterializedView<DailyCount>({
 *   materializedViewName: "daily_counts_mv",
 *   targetTable: { name: "daily_counts", orderByFields: ["day"] },
 *   selectStatement: sql`SELECT toDate(ts) AS day, count() AS n FROM ${events} GROUP BY day`,
 *   selectTables: [events],
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
    const target = config.targetTable;
    if (target instanceof OlapTable) {
      this.targetTable = target;
    } else {
      const name = target?.name ?? config.tableName ?? `${config.materializedViewName}_target`;
      const orderByFields = target?.orderByFields ?? config.orderByFields;
      this.targetTable = new OlapTable<T>(name, {
        ...(orderByFields ? { orderByFields } : {}),
        engine: target?.engine ?? config.engine ?? ClickHouseEngines.MergeTree,
      } as OlapConfig<T>);
    }
    if (this.targetTable.name === this.name) {
      throw new Error(`materialized view ${this.name}: the view and its target table need different names`);
    }
    // Selecting from a view with TO reads its target table.
    sqlIdentifier(this, () => this.name);
    register(this);
  }
}
