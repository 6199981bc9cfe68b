import type { Change } from "../diff/change.js";
import { subjects, type Subject } from "../diff/change-meta.js";
import { canonicalJson, type InfraMap, type LifeCycle } from "../model/infra-map.js";
import { classifyChange } from "./risk.js";

/** A change the planner leaves out because the object's life cycle does not allow it. */
export interface HeldChange {
  readonly change: Change;
  /** The life cycle that holds it back. */
  readonly lifeCycle: Exclude<LifeCycle, "FULLY_MANAGED">;
  /** The object, as `tables:Events`, `views:DailyTotals`, `topics:Events`. */
  readonly object: string;
  /**
   * The way forward, as data for the presenter: `unprotect` (change the life cycle in the
   * code first, then change the object), `new-version` (declare a new version of the table;
   * the planner copies the rows into it), `manage` (an externally managed object is never
   * touched: set it FULLY_MANAGED to let moose change it).
   */
  readonly wayForward: "unprotect" | "new-version" | "manage";
}

const STRICTNESS: Readonly<Record<LifeCycle, number>> = { FULLY_MANAGED: 0, DELETION_PROTECTED: 1, EXTERNALLY_MANAGED: 2 };

/**
 * Splits changes into those the objects' life cycles allow and those they hold back:
 *
 * - `FULLY_MANAGED` (the default): everything;
 * - `DELETION_PROTECTED`: only additive and widening changes (new columns, renames,
 *   wider types, rows inserted by a copy or a view backfill); drops, rebuilds, lossy or
 *   rewriting changes are held;
 * - `EXTERNALLY_MANAGED`: nothing, not even creation.
 *
 * A life cycle change itself always passes: it is how an object is unprotected, and it
 * is a reviewed step of its own. The stricter of the current and desired life cycles
 * applies, so lifting a protection and dropping the object take two migrations.
 *
 * @example
 * holdByLifeCycle(diff(current, desired), current, desired)
 * // { kept: [...], held: [{ change: { kind: "table.drop", ... }, lifeCycle: "DELETION_PROTECTED", object: "tables:Audit", wayForward: "unprotect" }] }
 */
export function holdByLifeCycle(changes: readonly Change[], from: InfraMap, to: InfraMap | undefined): { kept: Change[]; held: HeldChange[] } {
  const kept: Change[] = [];
  const held: HeldChange[] = [];
  for (const change of changes) {
    const subject = subjectOf(change);
    if (subject === undefined || isLifeCycleOnly(change)) {
      kept.push(change);
      continue;
    }
    const lifeCycle = stricter(subject.names.map((n) => lifeCycleOf(from, subject.collection, n)).concat(subject.names.map((n) => lifeCycleOf(to, subject.collection, n))));
    if (lifeCycle === "FULLY_MANAGED") {
      kept.push(change);
      continue;
    }
    const object = `${subject.collection}:${subject.names[subject.names.length - 1]}`;
    if (lifeCycle === "EXTERNALLY_MANAGED") {
      held.push({ change, lifeCycle, object, wayForward: "manage" });
      continue;
    }
    const risk = classifyChange(change, from);
    // Inserting rows (a copy into a new version, a view's backfill) only adds data.
    if (risk.class === "additive" || risk.class === "widening" || change.kind === "table.copyRows" || change.kind === "view.backfill") kept.push(change);
    else held.push({ change, lifeCycle, object, wayForward: change.kind === "table.drop" || change.kind === "table.dropColumn" || change.kind === "table.modifyColumn" ? "new-version" : "unprotect" });
  }
  return { kept, held };
}

function stricter(cycles: ReadonlyArray<LifeCycle | undefined>): LifeCycle {
  return cycles.reduce<LifeCycle>((worst, c) => (c !== undefined && STRICTNESS[c] > STRICTNESS[worst] ? c : worst), "FULLY_MANAGED");
}

type Collection = "tables" | "views" | "topics";

function lifeCycleOf(map: InfraMap | undefined, collection: Collection, name: string): LifeCycle | undefined {
  if (!map) return undefined;
  const objects = map[collection] as Readonly<Record<string, { lifeCycle: LifeCycle }>>;
  return Object.prototype.hasOwnProperty.call(objects, name) ? objects[name]?.lifeCycle : undefined;
}

/** A change that only changes an object's life cycle (topics carry it inside topic.modify). */
function isLifeCycleOnly(change: Change): boolean {
  if (change.kind === "table.setLifeCycle") return true;
  if (change.kind === "topic.modify" || change.kind === "view.modify") {
    return canonicalJson({ ...change.before, lifeCycle: "" }) === canonicalJson({ ...change.after, lifeCycle: "" });
  }
  return false;
}

/** The objects with a life cycle that a change alters (old and new name for renames; not what it only reads). */
function subjectOf(change: Change): { collection: Collection; names: string[] } | undefined {
  const named = subjects(change).filter((s): s is Subject & { collection: Collection } => (s.role === "changed" || s.role === "previous") && LIFE_CYCLED.has(s.collection));
  if (named.length === 0) return undefined;
  // The changed object (the new name of a renamed one) is last: held changes are reported by it.
  return { collection: named[0]!.collection, names: named.map((s) => s.name).reverse() };
}

const LIFE_CYCLED: ReadonlySet<string> = new Set<Collection>(["tables", "views", "topics"]);
