import type { ChangeOf } from "../../../diff/change.js";
import { InvalidInputError } from "../../../errors.js";
import { canonicalJson, type Table } from "../../../model/infra-map.js";
import { createHash } from "node:crypto";
import { clusterRebuildRefusal, onCluster } from "../cluster.js";
import { MOOSE_NAME_INFIX } from "../sql-text.js";
import { sameRowsCheck } from "./checks.js";
import { type SqlContext, databaseOf, unsupported } from "./context.js";
import { createTableStatement, insertable } from "./tables.js";
import { createViewStatement, dropViewStatement, viewCluster } from "./views.js";
import { qualifiedName, quoteIdentifier } from "../../../model/clickhouse-quote.js";

/**
 * Statements that rebuild table `before` as `after` (same name) keeping its rows, for
 * what ClickHouse cannot ALTER in place (`NEEDS_REBUILD`: engine, PARTITION BY,
 * ORDER BY, read-only settings): create `<name>__moose_rebuild` with the new
 * definition, copy the columns both versions have (new ones get their DEFAULT), swap
 * the two names (`EXCHANGE TABLES`, or a double `RENAME` where the server has no
 * EXCHANGE), then drop the old data. Views keep working: they name tables, and the
 * name now holds the new table.
 *
 * Rows written to the table between the copy and the swap are lost, and rows that the
 * new engine merges (a different key under Replacing/Summing/...) merge: stop writers
 * first, and let the planner classify the risk.
 *
 * @example rebuildTableStatements(current, { ...current, orderBy: ["tenant", "id"] }, ctx)
 */
export function rebuildTableStatements(before: Table, after: Table, ctx: SqlContext): string[] {
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `cannot rebuild table ${before.name} as ${after.name}: a rebuild keeps the name; rename the table as a separate change`);
  }
  const name = before.name;
  const temp = `${name}__moose_rebuild`;
  const target = qualifiedName(ctx.database, name);
  const staged = qualifiedName(ctx.database, temp);
  const kept = after.columns.filter((c) => insertable(c) && before.columns.some((b) => b.name === c.name)).map((c) => quoteIdentifier(c.name));
  const out = [createTableStatement({ ...after, name: temp }, ctx)];
  if (kept.length > 0) out.push(`INSERT INTO ${staged} (${kept.join(", ")})\nSELECT ${kept.join(", ")} FROM ${target}`);
  if (ctx.capabilities.exchangeTables) {
    out.push(`EXCHANGE TABLES ${target} AND ${staged}`, `DROP TABLE ${staged}`);
  } else {
    const old = qualifiedName(ctx.database, `${name}__moose_old`);
    out.push(`RENAME TABLE ${target} TO ${old}, ${staged} TO ${target}`, `DROP TABLE ${old}`);
  }
  return out;
}

/**
 * Rebuilds a table keeping its rows (`table.rebuild`). Every run of the list is safe to
 * repeat from its first statement until the swap, which is its last data statement:
 *
 * 1. the copy is built from scratch under a name only the rebuild uses (dropped first if a
 *    failed run left it), with the new definition;
 * 2. the rows are copied (for a merging engine with `optimize_on_insert = 0`, so nothing
 *    merges before it is counted) and checked: same row count and checksum, or the step
 *    stops with both and the table is untouched;
 * 3. the names are swapped: `EXCHANGE TABLES` (atomic; views follow the name), or where the
 *    server has none a double `RENAME`, after which the views that read or write the table
 *    are re-pointed (`MODIFY QUERY`, or re-created);
 * 4. the previous table stays under `keepOldAs`, or is dropped when the step has none
 *    (which the file has to approve).
 *
 * Rows written to the table between the copy and the swap are not copied: stop writers first.
 */
export function rebuildStatements(change: ChangeOf<"table.rebuild">, ctx: SqlContext): string[] {
  const { build, tail } = rebuildParts(change, ctx);
  return [...build, ...tail];
}

/**
 * What finishes a rebuild whose swap has happened (a run killed after it): drop the
 * previous table unless kept, re-point the views. Every statement may run again.
 */
export function rebuildTail(change: ChangeOf<"table.rebuild">, ctx: SqlContext): string[] {
  return rebuildParts(change, ctx).tail;
}

function rebuildParts(change: ChangeOf<"table.rebuild">, ctx: SqlContext): { readonly build: string[]; readonly tail: string[] } {
  const { before, after, keepOldAs } = change;
  if (before.name !== after.name) {
    throw new InvalidInputError("CHANGE_INVALID", `cannot rebuild table ${before.name} as ${after.name}: a rebuild keeps the name; rename the table as a separate change`);
  }
  const caps = ctx.capabilities;
  const name = before.name;
  const refusal = clusterRebuildRefusal(before, after);
  if (refusal) throw refusal;
  const cluster = after.engine.cluster;
  const on = onCluster(cluster);
  const target = qualifiedName(ctx.database, name);
  // MATERIALIZED and ALIAS columns are computed by the new table, not copied.
  const shared = after.columns.filter((c) => insertable(c) && before.columns.some((b) => b.name === c.name));
  const list = shared.map((c) => quoteIdentifier(c.name)).join(", ");
  const settings = after.engine.kind !== "MergeTree" && caps.optimizeOnInsert ? " SETTINGS optimize_on_insert = 0" : "";
  // The copy gets a keeper path of its own ({table} stands for this name): after the swap the
  // table keeps it, so the next rebuild's copy must not land on it again.
  const pathName = `${name}${MOOSE_NAME_INFIX}${createHash("sha256").update(`${canonicalJson(after)}\n${keepOldAs ?? ""}`).digest("hex").slice(0, 8)}`;
  const copy = (staging: string): string[] => [
    ...databaseOf(name, cluster, ctx),
    `DROP TABLE IF EXISTS ${qualifiedName(ctx.database, staging)}${on}`,
    createTableStatement({ ...after, name: staging }, ctx, pathName),
    ...(shared.length === 0 ? [] : [`INSERT INTO ${qualifiedName(ctx.database, staging)} (${list})${settings}\nSELECT ${list} FROM ${target}`]),
    sameRowsCheck(name, staging, shared, ctx, `the copy of ${name} does not hold the same rows; ${name} is unchanged`),
  ];
  if (caps.exchangeTables) {
    // The copy is built under the name the old table ends up with, so the swap is the step's last data statement.
    const staging = keepOldAs ?? `${name}__moose_rebuild`;
    return {
      build: [...copy(staging), `EXCHANGE TABLES ${target} AND ${qualifiedName(ctx.database, staging)}${on}`],
      tail: keepOldAs === undefined ? [`DROP TABLE IF EXISTS ${qualifiedName(ctx.database, staging)}${on}`] : [],
    };
  }
  const staging = `${name}__moose_rebuild`;
  const old = keepOldAs ?? `${name}__moose_old`;
  return {
    build: [...copy(staging), `RENAME TABLE ${target} TO ${qualifiedName(ctx.database, old)}, ${qualifiedName(ctx.database, staging)} TO ${target}${on}`],
    tail: [...(keepOldAs === undefined ? [`DROP TABLE IF EXISTS ${qualifiedName(ctx.database, old)}${on}`] : []), ...repointViews(name, ctx)],
  };
}

/**
 * After a RENAME swap the views that read or write the table still point at the renamed
 * old one: re-resolve their source with `MODIFY QUERY`, or re-create them (a view writing
 * TO the table has no ALTER for its target). A view storing its own rows is not re-created.
 */
function repointViews(table: string, ctx: SqlContext): string[] {
  const out: string[] = [];
  const views = Object.values(ctx.state?.views ?? {}).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const v of views) {
    const reads = v.sourceTables.includes(table);
    const writes = !v.inner && v.targetTable === table;
    if (!reads && !writes) continue;
    if (!writes && ctx.capabilities.modifyQuery) out.push(`ALTER TABLE ${qualifiedName(ctx.database, v.name)}${onCluster(viewCluster(v, ctx))} MODIFY QUERY\n${v.selectStatement}`);
    else if (v.inner) {
      throw unsupported(ctx.capabilities, `re-point materialized view ${v.name} (which stores its own rows) after rebuilding ${table}`, "ALTER TABLE … MODIFY QUERY and EXCHANGE TABLES", "rebuild the table by hand, or re-create the view with a backfill");
    } else out.push(dropViewStatement(v, ctx, true), createViewStatement(v, ctx));
  }
  return out;
}
