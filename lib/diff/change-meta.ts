import { assertNever } from "../errors.js";
import type { Change, ChangeKind } from "./change.js";

/**
 * What a change touches and which engine carries it out: the one place that answers
 * "which objects does this change name", so deploy's drift scope, life-cycle holds,
 * replay's working state and the SQL adapter's grouping agree. A new change kind adds
 * one case to {@link subjects}, one entry to {@link OWNER} and one to {@link ALTERS_TABLE_IN_PLACE}
 * (the compiler asks for each).
 */

/** The InfraMap collection an object lives in. */
export type Collection = "tables" | "views" | "plainViews" | "sqlResources" | "topics" | "apis" | "workflows" | "processes";

/**
 * How a change names an object:
 * - `changed`: the object it creates, alters, drops or fills (renames: the new name);
 * - `previous`: the old name of a renamed object, or the replaced version of a modified one;
 * - `source`: an object it reads rows from without changing it (`copyRows` from);
 * - `target`: the table a view writes into (not changed by the view's DDL).
 */
export type Role = "changed" | "previous" | "source" | "target";

export interface Subject {
  readonly collection: Collection;
  readonly name: string;
  readonly role: Role;
}

/** The engine whose API carries a change out; `state` changes are only recorded (moose enforces them). */
export type Owner = "olap" | "stream" | "workflow" | "state";

const OWNER = {
  "table.create": "olap",
  "table.drop": "olap",
  "table.rename": "olap",
  "table.addColumn": "olap",
  "table.dropColumn": "olap",
  "table.renameColumn": "olap",
  "table.modifyColumn": "olap",
  "table.moveColumn": "olap",
  "table.setOrderBy": "olap",
  "table.setEngine": "olap",
  "table.setPartitionBy": "olap",
  "table.setTtl": "olap",
  "table.setSettings": "olap",
  "table.setPrimaryKey": "olap",
  "table.setSampleBy": "olap",
  "table.setIndexes": "olap",
  "table.setConstraints": "olap",
  "table.setProjections": "olap",
  // Life cycles are enforced by moose, not stored in ClickHouse.
  "table.setLifeCycle": "state",
  "table.rebuild": "olap",
  "table.backfillColumn": "olap",
  "table.copyRows": "olap",
  "view.create": "olap",
  "view.drop": "olap",
  "view.modify": "olap",
  "view.backfill": "olap",
  "plainView.create": "olap",
  "plainView.drop": "olap",
  "plainView.modify": "olap",
  "sqlResource.create": "olap",
  "sqlResource.drop": "olap",
  "sqlResource.modify": "olap",
  "topic.create": "stream",
  "topic.drop": "stream",
  "topic.modify": "stream",
  // APIs and sync processes live in moose's own runtime: recorded, served from the state.
  "api.create": "state",
  "api.drop": "state",
  "api.modify": "state",
  "workflow.create": "workflow",
  "workflow.drop": "workflow",
  "workflow.modify": "workflow",
  "process.create": "state",
  "process.drop": "state",
  "process.modify": "state",
} as const satisfies { readonly [K in ChangeKind]: Owner };

/** The change kinds engine `O` carries out: an engine's convertor table is keyed by exactly these. */
export type KindsOwnedBy<O extends Owner> = { [K in ChangeKind]: (typeof OWNER)[K] extends O ? K : never }[ChangeKind];

/**
 * Whether a change alters its table's definition in place (an `ALTER TABLE` of the table it
 * names first): not a create, drop, rename or rebuild, not a write of rows, not a label moose
 * keeps for itself (life cycle).
 */
const ALTERS_TABLE_IN_PLACE = {
  "table.create": false,
  "table.drop": false,
  "table.rename": false,
  "table.addColumn": true,
  "table.dropColumn": true,
  "table.renameColumn": true,
  "table.modifyColumn": true,
  "table.moveColumn": true,
  "table.setOrderBy": true,
  "table.setEngine": true,
  "table.setPartitionBy": true,
  "table.setTtl": true,
  "table.setSettings": true,
  "table.setPrimaryKey": true,
  "table.setSampleBy": true,
  "table.setIndexes": true,
  "table.setConstraints": true,
  "table.setProjections": true,
  "table.setLifeCycle": false,
  "table.rebuild": false,
  "table.backfillColumn": false,
  "table.copyRows": false,
  "view.create": false,
  "view.drop": false,
  "view.modify": false,
  "view.backfill": false,
  "plainView.create": false,
  "plainView.drop": false,
  "plainView.modify": false,
  "sqlResource.create": false,
  "sqlResource.drop": false,
  "sqlResource.modify": false,
  "topic.create": false,
  "topic.drop": false,
  "topic.modify": false,
  "api.create": false,
  "api.drop": false,
  "api.modify": false,
  "workflow.create": false,
  "workflow.drop": false,
  "workflow.modify": false,
  "process.create": false,
  "process.drop": false,
  "process.modify": false,
} as const satisfies { readonly [K in ChangeKind]: boolean };

/** The table `change` alters in place, if it does (see {@link ALTERS_TABLE_IN_PLACE}). */
export function tableAlteredInPlace(change: Change): string | undefined {
  return ALTERS_TABLE_IN_PLACE[change.kind] ? subjects(change)[0]?.name : undefined;
}

/** Which engine carries `change` out. */
export function ownerOf(change: Change | ChangeKind): Owner {
  return OWNER[typeof change === "string" ? change : change.kind];
}

/**
 * Every object `change` names, with how it names it; the `changed` subject comes first.
 *
 * @example subjects({ kind: "table.rename", from: "A", to: "B" }) // [{ tables, B, changed }, { tables, A, previous }]
 */
export function subjects(change: Change): Subject[] {
  const table = (name: string, role: Role = "changed"): Subject => ({ collection: "tables", name, role });
  switch (change.kind) {
    case "table.create":
    case "table.drop":
      return [table(change.table.name)];
    case "table.rename":
      return [table(change.to), table(change.from, "previous")];
    case "table.rebuild":
      return [table(change.after.name), ...(change.before.name !== change.after.name ? [table(change.before.name, "previous")] : [])];
    case "table.copyRows":
      return [table(change.to), table(change.from, "source")];
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
    case "table.setPrimaryKey":
    case "table.setSampleBy":
    case "table.setIndexes":
    case "table.setConstraints":
    case "table.setProjections":
    case "table.setLifeCycle":
    case "table.backfillColumn":
      return [table(change.table)];
    case "view.create":
    case "view.drop":
    case "view.backfill":
      return [{ collection: "views", name: change.view.name, role: "changed" }, table(change.view.targetTable, "target")];
    case "view.modify":
      return [
        { collection: "views", name: change.after.name, role: "changed" },
        ...(change.before.name !== change.after.name ? [{ collection: "views", name: change.before.name, role: "previous" } as const] : []),
        table(change.after.targetTable, "target"),
        ...(change.before.targetTable !== change.after.targetTable ? [table(change.before.targetTable, "target")] : []),
      ];
    case "plainView.create":
    case "plainView.drop":
      return [{ collection: "plainViews", name: change.view.name, role: "changed" }];
    case "plainView.modify":
      return [
        { collection: "plainViews", name: change.after.name, role: "changed" },
        ...(change.before.name !== change.after.name ? [{ collection: "plainViews", name: change.before.name, role: "previous" } as const] : []),
      ];
    case "sqlResource.create":
    case "sqlResource.drop":
      return [{ collection: "sqlResources", name: change.resource.name, role: "changed" }];
    case "sqlResource.modify":
      return [{ collection: "sqlResources", name: change.after.name, role: "changed" }];
    case "topic.create":
    case "topic.drop":
      return [{ collection: "topics", name: change.topic.name, role: "changed" }];
    case "api.create":
    case "api.drop":
      return [{ collection: "apis", name: change.api.name, role: "changed" }];
    case "workflow.create":
    case "workflow.drop":
      return [{ collection: "workflows", name: change.workflow.name, role: "changed" }];
    case "process.create":
    case "process.drop":
      return [{ collection: "processes", name: change.process.name, role: "changed" }];
    case "topic.modify":
    case "api.modify":
    case "workflow.modify":
    case "process.modify": {
      const collection = COLLECTION_OF_PREFIX[change.kind.slice(0, change.kind.indexOf(".")) as "topic" | "api" | "workflow" | "process"];
      return [
        { collection, name: change.after.name, role: "changed" },
        ...(change.before.name !== change.after.name ? [{ collection, name: change.before.name, role: "previous" } as const] : []),
      ];
    }
    default:
      return assertNever(change, "change kind");
  }
}

const COLLECTION_OF_PREFIX = { topic: "topics", api: "apis", workflow: "workflows", process: "processes" } as const;

/** The name of the object a change is about (the new name for renames). */
export function subjectName(change: Change): string {
  return subjects(change)[0]!.name;
}

/**
 * The tables and views whose live definition a change depends on or alters (a view's
 * target table is not: its DDL leaves the table as it is): what a deploy compares with
 * the live database before it runs.
 */
export function liveObjects(changes: ReadonlyArray<Change | null>): { tables: Set<string>; views: Set<string>; plainViews: Set<string> } {
  const tables = new Set<string>();
  const views = new Set<string>();
  const plainViews = new Set<string>();
  for (const c of changes) {
    if (!c) continue;
    for (const s of subjects(c)) {
      if (s.role === "target") continue;
      if (s.collection === "tables") tables.add(s.name);
      else if (s.collection === "views") views.add(s.name);
      else if (s.collection === "plainViews") plainViews.add(s.name);
    }
  }
  return { tables, views, plainViews };
}

/** The engines other than ClickHouse that `changes` need, so nothing unneeded is contacted. */
export function enginesNeeded(changes: ReadonlyArray<Change | null>): { readonly streams: boolean; readonly workflows: boolean } {
  const owners = new Set(changes.flatMap((c) => (c ? [ownerOf(c)] : [])));
  return { streams: owners.has("stream"), workflows: owners.has("workflow") };
}
