import type { Change, ChangeOf } from "../diff/change.js";
import { holdsNoRows, type InfraMap, type Table } from "../model/infra-map.js";
import type { HeldChange } from "./life-cycle.js";
import { REBUILD_INFIX } from "./rebuild.js";
import { classifyTypeChange } from "../model/type-lattice.js";

/** Names the safe type change pattern uses next to the column `name`. */
export function safeTypeChangeNames(name: string): { readonly staged: string; readonly kept: string } {
  return { staged: `${name}${REBUILD_INFIX}new`, kept: `${name}${REBUILD_INFIX}old` };
}

/**
 * The safe pattern for a type change that some values may not survive: a new column
 * of the new type, filled from the old one by a conversion, then the names swapped.
 * The old column stays (as `<name>__moose_old`) with every original value, so the next
 * plan proposes dropping it, which needs an approval like any drop.
 *
 * @example
 * safeTypeChange({ kind: "table.modifyColumn", table: "Users", before: { name: "score", type: "Int64" }, after: { name: "score", type: "Int8" } })
 * // addColumn score__moose_new Int8 after score, backfillColumn score__moose_new from score,
 * // renameColumn score -> score__moose_old, renameColumn score__moose_new -> score
 */
export function safeTypeChange(change: ChangeOf<"table.modifyColumn">): Change[] {
  const { table, before, after } = change;
  const { staged, kept } = safeTypeChangeNames(after.name);
  return [
    { kind: "table.addColumn", table, column: { ...after, name: staged }, after: before.name },
    { kind: "table.backfillColumn", table, column: staged, convertFrom: before.name },
    { kind: "table.renameColumn", table, from: before.name, to: kept },
    { kind: "table.renameColumn", table, from: staged, to: after.name },
  ];
}

/** Replaces every narrowing or incompatible type change by {@link safeTypeChange}. */
export function safeTypeChanges(changes: readonly Change[]): Change[] {
  return changes.flatMap((c) => (c.kind === "table.modifyColumn" && classifyTypeChange(c.before.type, c.after.type) === "lossy" ? safeTypeChange(c) : [c]));
}

/** `Events_2_0` → `Events`: moose names a table version `<name>_<version with . → _>`. */
function versionBase(name: string): string {
  return name.replace(/(_\d+)+$/, "");
}

/**
 * The way forward for a deletion-protected table whose code now declares a new
 * version of it: the old table stays (its drop is held), and its rows are copied
 * into the new version, column by column where the names match.
 */
export function copiesToNewVersions(held: readonly HeldChange[], kept: readonly Change[], from: InfraMap): Change[] {
  const out: Change[] = [];
  for (const h of held) {
    if (h.change.kind !== "table.drop") continue;
    const old: Table | undefined = from.tables[h.change.table.name];
    // A Kafka, S3, Merge, Buffer or S3Queue table has no rows of its own to copy (reading a Kafka one would consume the topic).
    if (!old || holdsNoRows(old.engine)) continue;
    const successor = kept.find(
      (c): c is ChangeOf<"table.create"> => c.kind === "table.create" && c.table.name !== old.name && versionBase(c.table.name) === versionBase(old.name),
    );
    if (!successor) continue;
    const columns = successor.table.columns.filter((c) => old.columns.some((o) => o.name === c.name)).map((c) => c.name);
    if (columns.length > 0) out.push({ kind: "table.copyRows", from: old.name, to: successor.table.name, columns });
  }
  return out;
}

/**
 * Backfills for views: a view re-created with inner storage lost its rows and gets them
 * back from its sources; new views only when asked (`backfillNewViews`), since rows
 * arriving between the view's creation and the backfill are counted twice.
 */
export function viewBackfills(changes: readonly Change[], backfillNewViews: boolean): Change[] {
  return changes.flatMap((c): Change[] => {
    if (c.kind === "view.create" && backfillNewViews) return [{ kind: "view.backfill", view: c.view }];
    if (c.kind === "view.modify" && c.after.inner) return [{ kind: "view.backfill", view: c.after }];
    return [];
  });
}
