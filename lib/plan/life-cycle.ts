import type { Change } from "../diff/change.js";
import { assertNever } from "../errors.js";
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

/** The objects with a life cycle that a change touches (old and new name for renames). */
function subjectOf(change: Change): { collection: Collection; names: string[] } | undefined {
  switch (change.kind) {
    case "table.create":
    case "table.drop":
      return { collection: "tables", names: [change.table.name] };
    case "table.rename":
      return { collection: "tables", names: [change.from, change.to] };
    case "table.rebuild":
      return { collection: "tables", names: [change.before.name] };
    case "table.copyRows":
      return { collection: "tables", names: [change.to] };
    case "table.addColumn":
    case "table.dropColumn":
    case "table.renameColumn":
    case "table.modifyColumn":
    case "table.moveColumn":
    case "table.setOrderBy":
    case "table.setEngine":
    case "table.setPartitionBy":
    case "table.setTtl":
    case "table.setSettings":
    case "table.setLifeCycle":
    case "table.backfillColumn":
      return { collection: "tables", names: [change.table] };
    case "view.create":
    case "view.drop":
    case "view.backfill":
      return { collection: "views", names: [change.view.name] };
    case "view.modify":
      return { collection: "views", names: [change.after.name] };
    case "topic.create":
    case "topic.drop":
      return { collection: "topics", names: [change.topic.name] };
    case "topic.modify":
      return { collection: "topics", names: [change.after.name] };
    case "api.create":
    case "api.drop":
    case "api.modify":
    case "workflow.create":
    case "workflow.drop":
    case "workflow.modify":
    case "process.create":
    case "process.drop":
    case "process.modify":
      return undefined;
    default:
      return assertNever(change, "change kind");
  }
}
