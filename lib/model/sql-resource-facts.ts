import type { SqlResource } from "./infra-map.js";

/**
 * What a SQL resource's statements do, as ClickHouse's parser read them (see
 * `lib/engines/olap/sql-resource-policy.ts`, which fills this in). The model keeps only the
 * statements as written; the planner, which never parses, asks here what their teardown
 * drops. A resource nobody has read yet has no facts: the planner then assumes its teardown
 * loses data (approval needed), which is never less safe.
 */

export type SqlObjectKind = "table" | "view" | "materializedView" | "dictionary" | "function";

export interface SqlObjectRef {
  readonly kind: SqlObjectKind;
  /** Database named in the statement; absent for the managed (current) database. */
  readonly database?: string;
  readonly name: string;
}

export interface CreatedObject extends SqlObjectRef {
  /** Whether dropping it loses stored rows: a table of a row-storing engine, a materialized view with an inner table. */
  readonly holdsRows: boolean;
  /** Index of the setup statement that creates it. */
  readonly statement: number;
}

export interface SqlResourceFacts {
  readonly creates: readonly CreatedObject[];
  readonly drops: readonly SqlObjectRef[];
}

const known = new Map<string, SqlResourceFacts>();

function keyOf(resource: Pick<SqlResource, "setup" | "teardown">): string {
  return JSON.stringify([resource.setup, resource.teardown]);
}

/** Records what ClickHouse's parser read in `resource`'s statements. */
export function rememberSqlResourceFacts(resource: Pick<SqlResource, "setup" | "teardown">, facts: SqlResourceFacts): void {
  if (known.size > 10_000) known.clear();
  known.set(keyOf(resource), facts);
}

/** The facts read for these statements, or `undefined` when they have not been read in this process. */
export function sqlResourceFacts(resource: Pick<SqlResource, "setup" | "teardown">): SqlResourceFacts | undefined {
  return known.get(keyOf(resource));
}

/**
 * The objects holding rows that `resource`'s teardown drops (those its setup creates and its
 * teardown names), or `undefined` when its statements have not been read (assume the worst).
 */
export function teardownDropsRows(resource: Pick<SqlResource, "setup" | "teardown">): readonly CreatedObject[] | undefined {
  const facts = sqlResourceFacts(resource);
  if (facts === undefined) return undefined;
  return facts.creates.filter((c) => c.holdsRows && facts.drops.some((d) => sameObject(c, d)));
}

export function sameObject(a: SqlObjectRef, b: SqlObjectRef): boolean {
  const fn = (k: SqlObjectKind) => (k === "function" ? "function" : "relation");
  return fn(a.kind) === fn(b.kind) && a.name === b.name && (a.database ?? "") === (b.database ?? "");
}

/** `db.name` or `name`, for messages. */
export function objectLabel(o: SqlObjectRef): string {
  return o.database === undefined ? o.name : `${o.database}.${o.name}`;
}

/**
 * Names (in the managed database) of the tables and views that the SQL resources of `map`
 * create, as far as their statements have been read: they belong to the resource, not to
 * the tables and views a live database is compared with.
 */
export function sqlResourceRelations(map: { readonly sqlResources?: Readonly<Record<string, Pick<SqlResource, "setup" | "teardown">>> }): Set<string> {
  const out = new Set<string>();
  for (const r of Object.values(map.sqlResources ?? {})) {
    for (const c of sqlResourceFacts(r)?.creates ?? []) if (c.database === undefined && c.kind !== "function") out.add(c.name);
  }
  return out;
}
