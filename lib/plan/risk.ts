import type { Change, ChangeOf } from "../diff/change.js";
import { assertNever } from "../errors.js";
import { canonicalJson, holdsNoRows, type InfraMap, type TableEngine, type Topic } from "../model/infra-map.js";
import { classifyTypeChange, conversionCheckable } from "../model/type-lattice.js";
import { teardownDropsRows } from "../model/sql-resource-facts.js";

/**
 * How far a step reaches into what exists, from least to most severe:
 *
 * - `additive`: adds or renames something; no stored data is touched;
 * - `widening`: existing data is kept exactly, the object now accepts more;
 * - `rewrite`: existing data or behaviour changes (a conversion, a rebuild, new config), nothing is lost;
 * - `destructive`: data is lost, or an object goes away.
 */
export type RiskClass = "additive" | "widening" | "rewrite" | "destructive";

export const RISK_CLASSES = ["additive", "widening", "rewrite", "destructive"] as const satisfies readonly RiskClass[];

interface RiskCodeInfo {
  readonly class: RiskClass;
  readonly losesData: boolean;
  /** One line, printed by the CLI and the migration template. */
  readonly meaning: string;
}

/**
 * Every risk code with its class, whether it loses stored data, and a one-line meaning.
 * Codes are stable strings: the CLI, the migration template and safety gates match on them.
 */
export const RISK_CODES = {
  ADD_OBJECT: { class: "additive", losesData: false, meaning: "creates a new object" },
  ADD_COLUMN: { class: "additive", losesData: false, meaning: "adds a column; existing rows read its default" },
  RENAME: { class: "additive", losesData: false, meaning: "renames an object or column; data is unchanged, queries using the old name break" },
  MOVE_COLUMN: { class: "additive", losesData: false, meaning: "changes a column's position; metadata only" },
  REMOVE_TTL: { class: "additive", losesData: false, meaning: "removes a TTL; rows stop expiring" },
  TOPIC_ADD_PARTITIONS: { class: "additive", losesData: false, meaning: "adds topic partitions; key-to-partition mapping changes for new records" },
  WIDEN_TYPE: { class: "widening", losesData: false, meaning: "changes a column type to one that holds every existing value unchanged" },
  CONVERT_TYPE: { class: "rewrite", losesData: false, meaning: "changes a column type; every value converts but its representation changes" },
  CHANGE_DEFAULT: { class: "rewrite", losesData: false, meaning: "changes a column's DEFAULT or MATERIALIZED expression; affects new rows and rows where the column was never written" },
  CHANGE_CODEC: { class: "rewrite", losesData: false, meaning: "changes a column's compression codec; new parts use it, existing parts as they merge" },
  REBUILD_TABLE: { class: "rewrite", losesData: false, meaning: "changes ORDER BY, PARTITION BY or engine; the table is rebuilt, no rows are lost" },
  CHANGE_SETTINGS: { class: "rewrite", losesData: false, meaning: "changes table settings" },
  CHANGE_INDEXES: { class: "rewrite", losesData: false, meaning: "adds or drops data-skipping indexes; new ones are built for the rows already stored" },
  CHANGE_CONSTRAINTS: { class: "rewrite", losesData: false, meaning: "adds or drops constraints; inserts are checked from then on, rows already stored are not" },
  CHANGE_PROJECTIONS: { class: "rewrite", losesData: false, meaning: "adds or drops projections; new ones are built for the rows already stored" },
  CHANGE_LIFECYCLE: { class: "rewrite", losesData: false, meaning: "changes who may alter or delete the object" },
  TOPIC_CONFIG: { class: "rewrite", losesData: false, meaning: "changes topic configuration (replication, retention kept or longer, other configs)" },
  SCHEMA_UPDATE: { class: "rewrite", losesData: false, meaning: "changes a topic's record schema; records already in the topic keep their old shape" },
  MODIFY_PLAIN_VIEW: { class: "rewrite", losesData: false, meaning: "replaces a view's SELECT (dropped and created again); queries reading it in between fail" },
  SQL_RESOURCE_DEPENDENCIES: { class: "additive", losesData: false, meaning: "changes what a SQL resource is declared to read or write (or only its teardown); no statement runs" },
  REPLACE_SQL_RESOURCE: { class: "rewrite", losesData: false, meaning: "runs a SQL resource's old teardown, then its new setup; what it drops holds no rows of its own (views, dictionaries, functions), queries using it fail in between" },
  MODIFY_VIEW: { class: "rewrite", losesData: false, meaning: "replaces a materialized view; rows inserted while it is replaced are not transformed" },
  MODIFY_API: { class: "rewrite", losesData: false, meaning: "changes an API endpoint; clients may see a different contract" },
  MODIFY_WORKFLOW: { class: "rewrite", losesData: false, meaning: "changes a workflow's schedule, retries, timeout or paused state" },
  MODIFY_PROCESS: { class: "rewrite", losesData: false, meaning: "changes a topic-to-table sync process" },
  BACKFILL: { class: "rewrite", losesData: false, meaning: "writes rows or values computed from data already stored; nothing is deleted" },
  LOSSY_TYPE_CHANGE: { class: "destructive", losesData: true, meaning: "changes a column type so that some existing values cannot convert or change" },
  REBUILD_TABLE_LOSSY: { class: "destructive", losesData: true, meaning: "rebuilds the table with an engine or sorting key under which rows that were distinct may merge" },
  REBUILD_DROP_OLD: { class: "destructive", losesData: true, meaning: "rebuilds the table keeping its rows, then drops the previous table once the copy is verified" },
  RECREATE_VIEW_LOSSY: { class: "destructive", losesData: true, meaning: "re-creates a materialized view that stores its own rows: they are dropped with it (a backfill recomputes them from the source tables)" },
  DROP_VIEW_INNER: { class: "destructive", losesData: true, meaning: "drops a materialized view that stores its own rows, and those rows" },
  SET_TTL: { class: "destructive", losesData: true, meaning: "sets or changes a TTL; rows older than it are deleted" },
  SET_COLUMN_TTL: { class: "destructive", losesData: true, meaning: "sets or changes a column TTL; values older than it are reset to the column's default" },
  COLUMN_TO_ALIAS: { class: "destructive", losesData: true, meaning: "turns a stored column into an ALIAS; its stored values are dropped and it is computed when read" },
  DROP_COLUMN: { class: "destructive", losesData: true, meaning: "drops a column and its data" },
  DROP_TABLE: { class: "destructive", losesData: true, meaning: "drops a table and its data" },
  DROP_TABLE_NO_ROWS: {
    class: "destructive",
    losesData: false,
    meaning:
      "drops a table that holds no rows of its own: nothing stored is lost for Kafka (the consumer group keeps its offsets), S3 (the objects stay) and Merge; a Buffer flushes its pending rows to its destination first; an S3Queue's record of the files it processed goes with it",
  },
  DROP_SQL_RESOURCE: { class: "destructive", losesData: true, meaning: "runs a SQL resource's teardown, which drops a table (or a materialized view's own table) and its rows, or statements moose has not read" },
  REPLACE_SQL_RESOURCE_LOSSY: { class: "destructive", losesData: true, meaning: "runs a SQL resource's old teardown, which drops a table (or a materialized view's own table) and its rows, then its new setup" },
  DROP_SQL_RESOURCE_NO_ROWS: { class: "destructive", losesData: false, meaning: "runs a SQL resource's teardown; what it drops holds no rows of its own (views, dictionaries, functions), but queries using it fail" },
  DROP_TOPIC: { class: "destructive", losesData: true, meaning: "deletes a topic and the records in it" },
  TOPIC_REDUCE_PARTITIONS: { class: "destructive", losesData: true, meaning: "reduces topic partitions; Kafka cannot do this without recreating the topic" },
  TOPIC_SHORTEN_RETENTION: { class: "destructive", losesData: true, meaning: "shortens (or may shorten) topic retention; older records are deleted" },
  DROP_VIEW: { class: "destructive", losesData: false, meaning: "drops a materialized view; its target table keeps its rows but stops receiving new ones" },
  DROP_PLAIN_VIEW: { class: "destructive", losesData: false, meaning: "drops a view; it holds no rows, but queries reading it fail" },
  DROP_API: { class: "destructive", losesData: false, meaning: "removes an API endpoint; its clients get errors" },
  DROP_WORKFLOW: { class: "destructive", losesData: false, meaning: "removes a workflow; scheduled runs stop" },
  DROP_PROCESS: { class: "destructive", losesData: false, meaning: "removes a topic-to-table sync; records stop reaching the table" },
} as const satisfies Readonly<Record<string, RiskCodeInfo>>;

export type RiskCode = keyof typeof RISK_CODES;

export interface Risk {
  readonly class: RiskClass;
  readonly code: RiskCode;
  readonly losesData: boolean;
}

export function riskOf(code: RiskCode): Risk {
  const info: RiskCodeInfo = RISK_CODES[code];
  return { class: info.class, code, losesData: info.losesData };
}

/**
 * Whether a step that may lose data is guarded instead: a narrowing type change of a
 * scalar column runs behind a pre-flight check that stops it, changing nothing, while
 * any row would not convert. Such a step needs no approval; approving it converts those
 * rows to the type's default (or NULL) instead of stopping.
 */
export function guardedByPreflight(change: Change): boolean {
  return change.kind === "table.modifyColumn" && classifyTypeChange(change.before.type, change.after.type) === "lossy" && conversionCheckable(change.before.type, change.after.type);
}

/** Whether a change needs `approveDataLoss: true` in its migration file to run. */
export function needsApproval(change: Change, state?: InfraMap): boolean {
  return classifyChange(change, state).losesData && !guardedByPreflight(change);
}

/** Orders risks by severity: class first, then whether data is lost. */
export function compareRisk(a: Risk, b: Risk): number {
  const rank = (r: Risk) => RISK_CLASSES.indexOf(r.class) * 2 + (r.losesData ? 1 : 0);
  return rank(a) - rank(b);
}

function worstOf(risks: readonly Risk[], fallback: RiskCode): Risk {
  return risks.reduce((w, r) => (compareRisk(r, w) > 0 ? r : w), risks[0] ?? riskOf(fallback));
}

/**
 * The risk of one change. A change that does several things (a topic whose partitions
 * and retention both change) gets the risk of its most severe part.
 *
 * `state` is the map just before the change, when known; it sharpens the rules that
 * depend on the table (a new ORDER BY is only lossy on an engine that merges rows).
 *
 * @example classifyChange({ kind: "table.dropColumn", table: "Users", column }) // { class: "destructive", code: "DROP_COLUMN", losesData: true }
 */
export function classifyChange(change: Change, state?: InfraMap): Risk {
  switch (change.kind) {
    case "table.create":
    case "view.create":
    case "plainView.create":
    case "topic.create":
    case "api.create":
    case "workflow.create":
    case "process.create":
    case "sqlResource.create":
      return riskOf("ADD_OBJECT");
    case "sqlResource.drop":
      // The teardown's statements were read by ClickHouse's parser (unread: assume rows go).
      return riskOf(teardownDropsRows(change.resource)?.length === 0 ? "DROP_SQL_RESOURCE_NO_ROWS" : "DROP_SQL_RESOURCE");
    case "sqlResource.modify":
      if (canonicalJson(change.before.setup) === canonicalJson(change.after.setup)) return riskOf("SQL_RESOURCE_DEPENDENCIES");
      return riskOf(teardownDropsRows(change.before)?.length === 0 ? "REPLACE_SQL_RESOURCE" : "REPLACE_SQL_RESOURCE_LOSSY");
    case "table.drop":
      return riskOf(holdsNoRows(change.table.engine) ? "DROP_TABLE_NO_ROWS" : "DROP_TABLE");
    case "view.drop":
      return riskOf(change.view.inner ? "DROP_VIEW_INNER" : "DROP_VIEW");
    case "plainView.drop":
      return riskOf("DROP_PLAIN_VIEW");
    case "plainView.modify":
      return riskOf("MODIFY_PLAIN_VIEW");
    case "topic.drop":
      return riskOf("DROP_TOPIC");
    case "api.drop":
      return riskOf("DROP_API");
    case "workflow.drop":
      return riskOf("DROP_WORKFLOW");
    case "process.drop":
      return riskOf("DROP_PROCESS");
    case "table.rename":
    case "table.renameColumn":
      return riskOf("RENAME");
    case "table.addColumn":
      return riskOf("ADD_COLUMN");
    case "table.dropColumn":
      return riskOf("DROP_COLUMN");
    case "table.moveColumn":
      return riskOf("MOVE_COLUMN");
    case "table.modifyColumn":
      return modifyColumnRisk(change);
    case "table.setEngine":
      return mergesRows(change.after) && canonicalJson(change.before) !== canonicalJson(change.after)
        ? riskOf("REBUILD_TABLE_LOSSY")
        : riskOf("REBUILD_TABLE");
    case "table.setOrderBy":
      return orderByRisk(change, state);
    case "table.setPartitionBy":
      return riskOf("REBUILD_TABLE");
    case "table.setTtl":
      // Any TTL, even a longer one, deletes the rows older than it; only removing it is safe.
      return riskOf(change.after === undefined ? "REMOVE_TTL" : "SET_TTL");
    case "table.setSettings":
      return riskOf("CHANGE_SETTINGS");
    case "table.setPrimaryKey":
    case "table.setSampleBy":
      return riskOf("REBUILD_TABLE");
    case "table.setIndexes":
      return riskOf("CHANGE_INDEXES");
    case "table.setConstraints":
      return riskOf("CHANGE_CONSTRAINTS");
    case "table.setProjections":
      return riskOf("CHANGE_PROJECTIONS");
    case "table.setLifeCycle":
      return riskOf("CHANGE_LIFECYCLE");
    case "table.rebuild":
      return rebuildRisk(change);
    case "table.backfillColumn":
    case "table.copyRows":
    case "view.backfill":
      return riskOf("BACKFILL");
    case "view.modify":
      // A view without TO keeps its rows in an inner table, which goes when the view is re-created.
      return (change.before.inner || change.after.inner) && canonicalJson(change.before) !== canonicalJson(change.after)
        ? riskOf("RECREATE_VIEW_LOSSY")
        : riskOf("MODIFY_VIEW");
    case "topic.modify":
      return topicRisk(change.before, change.after);
    case "api.modify":
      return riskOf("MODIFY_API");
    case "workflow.modify":
      return riskOf("MODIFY_WORKFLOW");
    case "process.modify":
      return riskOf("MODIFY_PROCESS");
    default:
      return assertNever(change, "change kind");
  }
}

function modifyColumnRisk(change: ChangeOf<"table.modifyColumn">): Risk {
  const risks: Risk[] = [];
  const type = classifyTypeChange(change.before.type, change.after.type);
  switch (type) {
    case "same":
      break;
    case "widening":
      risks.push(riskOf("WIDEN_TYPE"));
      break;
    case "conversion":
      risks.push(riskOf("CONVERT_TYPE"));
      break;
    case "lossy":
      risks.push(riskOf("LOSSY_TYPE_CHANGE"));
      break;
    default:
      assertNever(type, "type change class");
  }
  const { before, after } = change;
  if (before.alias === undefined && after.alias !== undefined) risks.push(riskOf("COLUMN_TO_ALIAS"));
  else if (before.default !== after.default || before.materialized !== after.materialized || before.alias !== after.alias) risks.push(riskOf("CHANGE_DEFAULT"));
  if (before.codec !== after.codec) risks.push(riskOf("CHANGE_CODEC"));
  if (before.ttl !== after.ttl) risks.push(riskOf(after.ttl === undefined ? "REMOVE_TTL" : "SET_COLUMN_TTL"));
  // Only the spelling of the type changed (e.g. `Decimal32(2)` vs `Decimal(9, 2)`): nothing happens to values.
  return worstOf(risks, "WIDEN_TYPE");
}

/** The worst of what the rebuild changes, and dropping the previous table when the step says so. */
function rebuildRisk(change: ChangeOf<"table.rebuild">): Risk {
  const { before, after } = change;
  const risks: Risk[] = [];
  if (canonicalJson(before.engine) !== canonicalJson(after.engine)) {
    risks.push(classifyChange({ kind: "table.setEngine", table: before.name, before: before.engine, after: after.engine }));
  }
  if (canonicalJson(before.orderBy) !== canonicalJson(after.orderBy)) {
    // Rows merge under the new key only if the new engine merges them.
    const state = { tables: { [after.name]: after } } as unknown as InfraMap;
    risks.push(orderByRisk({ kind: "table.setOrderBy", table: after.name, before: before.orderBy, after: after.orderBy }, state));
  }
  if (change.keepOldAs === undefined) risks.push(riskOf("REBUILD_DROP_OLD"));
  return worstOf(risks, "REBUILD_TABLE");
}

/** Engines that merge rows sharing a sorting key; every MergeTree variant except plain MergeTree. */
function mergesRows(engine: TableEngine): boolean {
  return engine.kind !== "MergeTree" && !holdsNoRows(engine);
}

/**
 * A new ORDER BY on a plain MergeTree only re-sorts. On an engine that merges rows by
 * the sorting key, a key that lacks some old expression can put distinct rows under one
 * key, and merges then collapse them; a key with every old expression (reordered or
 * extended) never merges rows the old one kept apart. Without the table at hand the
 * engine is unknown and treated as merging.
 */
function orderByRisk(change: ChangeOf<"table.setOrderBy">, state: InfraMap | undefined): Risk {
  const table = state && Object.prototype.hasOwnProperty.call(state.tables, change.table) ? state.tables[change.table] : undefined;
  if (table && !mergesRows(table.engine)) return riskOf("REBUILD_TABLE");
  return change.before.every((e) => change.after.includes(e)) ? riskOf("REBUILD_TABLE") : riskOf("REBUILD_TABLE_LOSSY");
}

/** Whether retention provably did not get shorter; undefined means "the broker's default", which we cannot compare. */
function retentionKeptOrLonger(before: number | undefined, after: number | undefined): boolean {
  if (before === after) return true;
  if (before === undefined || after === undefined) return false;
  if (after === -1) return true; // -1: keep forever
  return before !== -1 && after > before;
}

function topicRisk(before: Topic, after: Topic): Risk {
  const risks: Risk[] = [];
  if (after.partitions > before.partitions) risks.push(riskOf("TOPIC_ADD_PARTITIONS"));
  if (after.partitions < before.partitions) risks.push(riskOf("TOPIC_REDUCE_PARTITIONS"));
  if (before.retentionMs !== after.retentionMs) {
    risks.push(riskOf(retentionKeptOrLonger(before.retentionMs, after.retentionMs) ? "TOPIC_CONFIG" : "TOPIC_SHORTEN_RETENTION"));
  }
  if (before.replicationFactor !== after.replicationFactor || canonicalJson(before.config) !== canonicalJson(after.config)) {
    risks.push(riskOf("TOPIC_CONFIG"));
  }
  if (canonicalJson(before.columns) !== canonicalJson(after.columns)) risks.push(riskOf("SCHEMA_UPDATE"));
  if (before.lifeCycle !== after.lifeCycle) risks.push(riskOf("CHANGE_LIFECYCLE"));
  return worstOf(risks, "TOPIC_CONFIG");
}
