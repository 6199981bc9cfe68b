import { collectInputErrors, InvalidInputError, InvalidInputErrors, MooseError, throwCollected, type SourcePosition } from "../../errors.js";
import { plainViewsOf, sqlResourcesOf, type InfraMap, type SqlResource } from "../../model/infra-map.js";
import { readQuoted } from "../../model/clickhouse-quote.js";
import {
  objectLabel,
  rememberSqlResourceFacts,
  sameObject,
  sqlResourceFacts,
  type CreatedObject,
  type SqlObjectKind,
  type SqlObjectRef,
  type SqlResourceFacts,
} from "../../model/sql-resource-facts.js";
import { parseStatement, type AstNode, type ParsedStatement } from "./parser.js";

/**
 * What a `SqlResource`'s raw statements may be, read with ClickHouse's own parser (never
 * from the text by hand):
 *
 * - a **setup** statement is one `CREATE TABLE`, `CREATE VIEW`, `CREATE MATERIALIZED VIEW`,
 *   `CREATE DICTIONARY` or `CREATE FUNCTION` (with or without `IF NOT EXISTS` / `ON
 *   CLUSTER`); not `OR REPLACE`, `TEMPORARY`, `DATABASE`, `LIVE`/`WINDOW VIEW`, and no other
 *   kind of statement (`INSERT`, `ALTER`, `SYSTEM`, `GRANT`, …): a resource creates objects;
 *   rows and settings belong in migrations' `sql(…)` steps, which are reviewed as such;
 * - a **teardown** statement is one `DROP TABLE | VIEW | DICTIONARY | FUNCTION [IF EXISTS]`
 *   of exactly one object that the same resource's setup creates;
 * - an object a setup creates must not be one another declaration manages (an OlapTable, a
 *   view, a materialized view's table, another resource's object).
 *
 * The ClickHouse AST names the statement (`CreateQuery`, `DropQuery`, …) and its object's
 * identifiers; what kind of object (`TABLE`, `VIEW`, …) is read from the start of
 * ClickHouse's own canonical rendering of the statement, which the AST dump leaves out.
 */

const CREATE_KIND = /^CREATE (TABLE|VIEW|MATERIALIZED VIEW|DICTIONARY) /;
const DROP_KIND = /^DROP (TABLE|VIEW|DICTIONARY) /;
const DROP_FUNCTION = /^DROP FUNCTION (?:IF EXISTS )?(`(?:[^`\\]|\\.)*`|[A-Za-z_][A-Za-z0-9_]*)/;
const KIND_OF: Readonly<Record<string, SqlObjectKind>> = { TABLE: "table", VIEW: "view", "MATERIALIZED VIEW": "materializedView", DICTIONARY: "dictionary" };

/** Table engines whose tables keep no rows of their own: dropping one loses nothing stored. */
const ENGINES_WITHOUT_ROWS: ReadonlySet<string> = new Set(["Null", "View", "Merge", "Distributed", "Dictionary", "Kafka", "S3", "S3Queue", "URL", "Buffer", "GenerateRandom"]);

const SETUP_ALLOWED = "a setup statement must be one CREATE TABLE, CREATE VIEW, CREATE MATERIALIZED VIEW, CREATE DICTIONARY or CREATE FUNCTION";
const TEARDOWN_ALLOWED = "a teardown statement must be one DROP TABLE, DROP VIEW, DROP DICTIONARY or DROP FUNCTION of an object this resource's setup creates";

/** Names other declarations of the map manage, for the ownership check. */
export interface ManagedNames {
  /** name → what declares it (`OlapTable Users`). */
  readonly byName: ReadonlyMap<string, string>;
}

/** The names `map` declares outside SQL resources (tables, views, materialized views' targets), with what declares each. */
export function managedNames(map: InfraMap): ManagedNames {
  const byName = new Map<string, string>();
  for (const t of Object.keys(map.tables)) byName.set(t, `table ${t}`);
  for (const v of Object.values(map.views)) {
    byName.set(v.name, `materialized view ${v.name}`);
    if (!byName.has(v.targetTable)) byName.set(v.targetTable, `the target table of materialized view ${v.name}`);
  }
  for (const v of Object.keys(plainViewsOf(map))) byName.set(v, `view ${v}`);
  return { byName };
}

function statementText(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(one.length > 100 ? `${one.slice(0, 100)}…` : one);
}

function leadingIdentifiers(ast: AstNode): string[] {
  const out: string[] = [];
  for (const c of ast.children) {
    if (c.name !== "Identifier") break;
    out.push(c.detail);
  }
  return out;
}

function refOf(ids: readonly string[]): { database?: string; name: string } | undefined {
  if (ids.length === 1) return { name: ids[0]! };
  if (ids.length === 2) return { database: ids[0]!, name: ids[1]! };
  return undefined;
}

/** Whether the table a `CREATE TABLE` makes keeps rows: its engine (from the AST's Storage node). */
function tableHoldsRows(ast: AstNode): boolean {
  const storage = ast.children.find((c) => c.name === "Storage");
  const engine = storage?.children.find((c) => c.name === "Function")?.detail.split(" ")[0];
  // `CREATE TABLE t AS other` copies another table's engine: assume it stores rows.
  return engine === undefined || !ENGINES_WITHOUT_ROWS.has(engine.replace(/^`|`$/g, ""));
}

function created(parsed: ParsedStatement, index: number): CreatedObject | string {
  if (parsed.kind === "CreateSQLFunctionQuery") {
    const name = parsed.ast.children.find((c) => c.name === "Identifier")?.detail;
    if (name === undefined || /^CREATE OR REPLACE/.test(parsed.formatted)) return "CREATE OR REPLACE FUNCTION replaces a function without its teardown";
    return { kind: "function", name, holdsRows: false, statement: index };
  }
  if (parsed.kind !== "CreateQuery") return `ClickHouse parses it as ${parsed.kind}`;
  const m = CREATE_KIND.exec(parsed.formatted);
  if (!m) {
    const head = /^(\w+(?: \w+)?(?: \w+)?)/.exec(parsed.formatted)?.[1] ?? parsed.kind;
    return `ClickHouse reads it as ${head} …`;
  }
  const kind = KIND_OF[m[1]!]!;
  const ref = refOf(leadingIdentifiers(parsed.ast));
  if (ref === undefined) return "ClickHouse's parse tree does not name one object it creates";
  const holdsRows =
    kind === "table" ? tableHoldsRows(parsed.ast) : kind === "materializedView" ? parsed.ast.children.some((c) => c.name === "ViewTargets" && c.children.some((s) => s.name === "Storage")) : false;
  return { kind, ...ref, holdsRows, statement: index };
}

function dropped(parsed: ParsedStatement): SqlObjectRef | string {
  if (parsed.kind === "DropFunctionQuery") {
    const m = DROP_FUNCTION.exec(parsed.formatted);
    if (!m) return "ClickHouse's rendering of it does not name one function";
    const quoted = m[1]!;
    return { kind: "function", name: quoted.startsWith("`") ? readQuoted(quoted, 0).value : quoted };
  }
  if (parsed.kind !== "DropQuery") return `ClickHouse parses it as ${parsed.kind}`;
  const m = DROP_KIND.exec(parsed.formatted);
  if (!m) return `ClickHouse reads it as ${/^(\w+ \w+)/.exec(parsed.formatted)?.[1] ?? parsed.kind} …`;
  const ref = refOf(leadingIdentifiers(parsed.ast));
  if (ref === undefined) return "it drops more than one object (one DROP per object)";
  return { kind: KIND_OF[m[1]!]!, ...ref };
}

/**
 * Reads every statement of `resource` with ClickHouse's parser and checks it against the
 * policy above; records the facts (what its setup creates and its teardown drops) for the
 * planner's risk and the adapter's version checks. With `managed` (at plan time, from the
 * code), an object another declaration manages is refused too. Every problem is reported
 * (`InvalidInputErrors` when more than one), each naming the resource, the statement and
 * what to do, at `position`.
 *
 * @example await readSqlResource({ name: "R", setup: ["CREATE VIEW v AS SELECT 1"], teardown: ["DROP VIEW v"], pullsDataFrom: [], pushesDataTo: [] }, pos)
 */
export async function readSqlResource(resource: SqlResource, position: SourcePosition | undefined, managed?: ManagedNames): Promise<SqlResourceFacts> {
  const errors: MooseError[] = [];
  const at = position ? { position } : {};
  const creates: CreatedObject[] = [];
  const drops: SqlObjectRef[] = [];
  const read = async (text: string, what: string): Promise<ParsedStatement | undefined> => {
    try {
      return await parseStatement(text, { ...at, what } as { position: SourcePosition; what: string });
    } catch (error) {
      if (error instanceof MooseError && error.exit === "invalidInput") errors.push(error);
      else throw error;
      return undefined;
    }
  };
  for (const [i, text] of resource.setup.entries()) {
    const what = `setup statement ${i + 1} of SqlResource ${resource.name} (${statementText(text)})`;
    const parsed = await read(text, what);
    if (!parsed) continue;
    const c = created(parsed, i);
    if (typeof c === "string") {
      errors.push(new InvalidInputError("SQL_RESOURCE_STATEMENT", `${what}: ${c}; ${SETUP_ALLOWED}`, { ...at, hint: "rows, ALTERs and other statements belong in a migration's sql(…) step (moose migrate generate --empty), where they are reviewed as such" }));
      continue;
    }
    const owner = c.database === undefined && c.kind !== "function" ? managed?.byName.get(c.name) : undefined;
    if (owner !== undefined) {
      errors.push(new InvalidInputError("SQL_RESOURCE_NOT_OWNED", `${what} creates ${objectLabel(c)}, which ${owner} declares: two declarations cannot own one object`, { ...at, hint: `rename the object in the statement, or remove the other declaration` }));
      continue;
    }
    creates.push(c);
  }
  for (const [i, text] of resource.teardown.entries()) {
    const what = `teardown statement ${i + 1} of SqlResource ${resource.name} (${statementText(text)})`;
    const parsed = await read(text, what);
    if (!parsed) continue;
    const d = dropped(parsed);
    if (typeof d === "string") {
      errors.push(new InvalidInputError("SQL_RESOURCE_STATEMENT", `${what}: ${d}; ${TEARDOWN_ALLOWED}`, { ...at, hint: "a teardown undoes its own setup, one DROP per object it created" }));
      continue;
    }
    if (!creates.some((c) => sameObject(c, d))) {
      const owner = d.database === undefined ? managed?.byName.get(d.name) : undefined;
      errors.push(
        new InvalidInputError("SQL_RESOURCE_NOT_OWNED", `${what} drops ${objectLabel(d)}, which ${owner ?? `no setup statement of ${resource.name}`} ${owner ? "declares" : "creates"}; ${TEARDOWN_ALLOWED}`, {
          ...at,
          hint: owner ? `remove the statement: ${owner} is dropped by removing its declaration, with an approval` : "drop only what the setup creates (same kind and name)",
        }),
      );
      continue;
    }
    drops.push(d);
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new InvalidInputErrors(errors);
  const facts: SqlResourceFacts = { creates, drops };
  rememberSqlResourceFacts(resource, facts);
  return facts;
}

/**
 * Checks every SQL resource of the code's `map` (see {@link readSqlResource}), with the
 * names the map's other declarations own and the objects of the other resources. All
 * problems are reported at once.
 */
export async function checkSqlResources(map: InfraMap, positionOf: (key: string) => SourcePosition | undefined): Promise<void> {
  const resources = Object.values(sqlResourcesOf(map));
  if (resources.length === 0) return;
  const base = managedNames(map);
  const errors: MooseError[] = [];
  const byName = new Map(base.byName);
  const owners = new Map<string, string>();
  for (const r of resources) {
    try {
      const facts = await readSqlResource(r, positionOf(`sqlResources:${r.name}`), { byName: base.byName });
      for (const c of facts.creates) {
        const key = `${c.kind === "function" ? "fn" : "rel"}:${objectLabel(c)}`;
        const other = owners.get(key);
        if (other !== undefined) {
          errors.push(new InvalidInputError("SQL_RESOURCE_NOT_OWNED", `SqlResource ${r.name} creates ${objectLabel(c)}, which SqlResource ${other} creates too: two declarations cannot own one object`, { ...(positionOf(`sqlResources:${r.name}`) ? { position: positionOf(`sqlResources:${r.name}`)! } : {}), hint: "keep the statement in one of them" }));
        } else owners.set(key, r.name);
        if (c.database === undefined) byName.set(c.name, `SqlResource ${r.name}`);
      }
    } catch (error) {
      collectInputErrors(errors, error);
    }
  }
  throwCollected(errors);
}

/**
 * Reads the SQL resources of a state (the committed migrations' or a live one's) so the
 * planner knows what their teardowns drop; statements that do not read are left to deploy's
 * guard (their facts stay unknown, which the planner takes as losing data).
 */
export async function learnSqlResources(map: InfraMap): Promise<void> {
  for (const r of Object.values(sqlResourcesOf(map))) {
    if (sqlResourceFacts(r) !== undefined) continue;
    try {
      await readSqlResource(r, undefined);
    } catch (error) {
      if (!(error instanceof MooseError && error.exit === "invalidInput") && !(error instanceof InvalidInputErrors)) throw error;
    }
  }
}

/** {@link learnSqlResources} for the resources a list of changes carries (a migration's steps). */
export async function learnChangedSqlResources(changes: ReadonlyArray<{ readonly kind: string } | null>): Promise<void> {
  const resources: Record<string, SqlResource> = {};
  let i = 0;
  for (const c of changes) {
    if (c === null) continue;
    for (const r of [(c as { resource?: SqlResource }).resource, (c as { before?: SqlResource }).before, (c as { after?: SqlResource }).after]) {
      if (c.kind.startsWith("sqlResource.") && r !== undefined) resources[`r${i++}`] = r;
    }
  }
  if (i > 0) await learnSqlResources({ version: 1, tables: {}, views: {}, topics: {}, apis: {}, workflows: {}, processes: {}, sqlResources: resources });
}
