import { register } from "./registry.js";
import type { OlapTable } from "./olap-table.js";
import { sqlIdentifier, type Sql } from "./sql.js";

/**
 * A plain ClickHouse view (moose-lib's `View`). Accepted so moose-lib apps compile;
 * moose-migrate does not plan plain views yet: `moose plan` names each one it skips.
 *
 * @example
 * export const recent = new View("recent_events", sql`SELECT * FROM ${events} WHERE ts > now() - INTERVAL 1 DAY`, [events]);
 */
export class View {
  readonly kind = "View" as const;
  readonly name: string;
  readonly selectStatement: string | Sql;
  readonly baseTables: ReadonlyArray<OlapTable<any> | View>;
  readonly metadata: Readonly<Record<string, unknown>>;

  constructor(name: string, selectStatement: string | Sql, baseTables: ReadonlyArray<OlapTable<any> | View>, metadata?: Readonly<Record<string, unknown>>) {
    this.name = name;
    this.selectStatement = selectStatement;
    this.baseTables = baseTables;
    this.metadata = metadata ?? {};
    sqlIdentifier(this, () => this.name);
    register(this);
  }
}
