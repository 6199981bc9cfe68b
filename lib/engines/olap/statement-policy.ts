import { createHash } from "node:crypto";
import { PARSER_ID } from "./parser.js";
import type { Change } from "../../diff/change.js";
import { assertNever, collectInputErrors, InvalidInputError, InvalidInputErrors, MooseError, RefusedError, throwCollected, type SourcePosition } from "../../errors.js";
import { plainViewsOf, type Column, type InfraMap, type MaterializedView, type PlainView, type Table } from "../../model/infra-map.js";
import { parseStatement, type AstNode, type ParsedStatement, type SqlOrigin } from "./parser.js";
import { checkSqlResources } from "./sql-resource-policy.js";

/**
 * What a parsed statement may do where it came from. Every answer is read from
 * ClickHouse's own AST (see parser.ts), never from the text; anything the tree does not
 * show to be harmless is refused (allow-lists, not deny-lists, wherever a list decides).
 */

/** Root nodes of ClickHouse's AST that only read. */
export const READ_ROOTS: ReadonlySet<string> = new Set([
  "SelectWithUnionQuery",
  "SelectQuery",
  "SelectIntersectExceptQuery",
  "ShowTables",
  "ShowTablesQuery",
  "ShowCreateTableQuery",
  "ShowCreateViewQuery",
  "ShowCreateDatabaseQuery",
  "ShowColumns",
  "ShowIndexes",
  "DescribeQuery",
  "ExistsTableQuery",
  "ExistsViewQuery",
  "ExistsDatabaseQuery",
  "Explain",
  "ExplainQuery",
  "ShowProcesslistQuery",
  "ShowSettingQuery",
]);

const SELECT_ROOTS: ReadonlySet<string> = new Set(["SelectWithUnionQuery", "SelectIntersectExceptQuery"]);

/**
 * Table functions an API handler may use: they produce rows from their arguments alone.
 * Every other one (`file`, `url`, `s3`, `remote`, `mysql`, `executable`, `merge`, …)
 * reaches outside the project's database.
 */
const PURE_TABLE_FUNCTIONS: ReadonlySet<string> = new Set(["numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generateRandom", "null", "view", "generate_series", "generateSeries"]);

/** Ordinary functions that read outside the query's tables: files, dictionaries, Join tables. */
const OUTSIDE_FUNCTION = /^(file|dict[A-Z]\w*|dictGet\w*|dictHas|joinGet\w*|getServerSetting|getMergeTreeSetting)$/;

/** Depth-first over the tree, with each node's parent. */
export function walk(node: AstNode, visit: (node: AstNode, parent: AstNode | undefined) => void, parent?: AstNode): void {
  visit(node, parent);
  for (const child of node.children) walk(child, visit, node);
}

/** `SELECT … INTO OUTFILE 'x'`: ClickHouse keeps the file name as a literal child of the statement's root. */
export function writesFile(parsed: ParsedStatement): boolean {
  return parsed.ast.children.some((c) => c.name === "Literal");
}

/** Databases the statement names explicitly (`db.table`); unqualified names are the current database. */
export function databasesNamed(parsed: ParsedStatement): string[] {
  const out = new Set<string>();
  walk(parsed.ast, (n) => {
    if (n.name !== "TableIdentifier") return;
    const name = n.detail.split(" ")[0] ?? "";
    const dot = name.indexOf(".");
    if (dot > 0) out.add(name.slice(0, dot));
  });
  return [...out];
}

/** Table functions the statement calls (`FROM file(…)`, `INSERT INTO FUNCTION url(…)`). */
export function tableFunctions(parsed: ParsedStatement): string[] {
  const out = new Set<string>();
  walk(parsed.ast, (n, parent) => {
    if (n.name === "Function" && (parent?.name === "TableExpression" || parent?.name === "InsertQuery")) out.add(n.detail.split(" ")[0] ?? "");
  });
  return [...out];
}

export type ReadScope =
  /** `moose query` without `--write`: any read, on any database, no files written. */
  | "query"
  /** An API handler: one SELECT on the project's database, nothing outside it. */
  | "api"
  /** A migration's `check(…)`: one SELECT; system tables allowed, nothing outside ClickHouse. */
  | "check";

export interface Refusal {
  readonly code: string;
  readonly reason: string;
}

/**
 * Why `parsed` may not run as a read in `scope`, or `undefined` when it may. The engine
 * still runs what passes in ClickHouse's read-only mode (`readonly = 1`); this refuses
 * what that mode lets through (`INTO OUTFILE` on the embedded engine, another database,
 * on old servers `SETTINGS`).
 */
export function readRefusal(parsed: ParsedStatement, scope: ReadScope, database: string): Refusal | undefined {
  const roots = scope === "query" ? READ_ROOTS : SELECT_ROOTS;
  if (!roots.has(parsed.kind)) {
    return { code: "WRITES", reason: scope === "query" ? `ClickHouse parses it as ${parsed.kind}, which can change data or schema` : `ClickHouse parses it as ${parsed.kind}, not as a SELECT` };
  }
  if (writesFile(parsed)) return { code: "WRITES_FILE", reason: "INTO OUTFILE writes a file" };
  if (scope === "query") return undefined;
  const outside = tableFunctions(parsed).filter((f) => !PURE_TABLE_FUNCTIONS.has(f));
  if (outside.length > 0) return { code: "OUTSIDE", reason: `the table function ${outside.join(", ")} reaches outside the project's database` };
  let called: string | undefined;
  walk(parsed.ast, (n) => {
    const name = n.name === "Function" ? (n.detail.split(" ")[0] ?? "") : "";
    if (called === undefined && OUTSIDE_FUNCTION.test(name)) called = name;
  });
  if (called !== undefined) return { code: "OUTSIDE", reason: `the function ${called} reads outside the query's tables` };
  let settings = false;
  walk(parsed.ast, (n) => {
    if (n.name === "Set") settings = true;
  });
  if (settings) {
    return { code: "SETTINGS", reason: scope === "check" ? "SETTINGS in a check could lift read-only mode or limits" : "SETTINGS in an API query could change limits; set them in the server's profile instead" };
  }
  // A check may read system tables and other databases (it runs read-only).
  if (scope === "check") return undefined;
  const others = databasesNamed(parsed).filter((d) => d !== database);
  if (others.length > 0) return { code: "OUTSIDE", reason: `it reads from database ${others.join(", ")}; an API reads only the project's database (${database})` };
  if (parsed.ast.children.some((c) => c.name === "Identifier")) return { code: "FORMAT", reason: "FORMAT in an API query: the API answers JSON" };
  if (/\{[^{}:]+:\s*Identifier\s*\}/.test(parsed.formatted)) return { code: "IDENTIFIER_PARAMETER", reason: "a query parameter of type Identifier would let a request name any table" };
  return undefined;
}

/** ALTER commands that keep every row and value. */
const SAFE_ALTER_COMMANDS: ReadonlySet<string> = new Set([
  "ADD_COLUMN",
  "COMMENT_COLUMN",
  "MODIFY_COMMENT",
  "ADD_INDEX",
  "DROP_INDEX",
  "MATERIALIZE_INDEX",
  "CLEAR_INDEX",
  "ADD_STATISTICS",
  "DROP_STATISTICS",
  "MATERIALIZE_STATISTICS",
  "ADD_PROJECTION",
  "DROP_PROJECTION",
  "MATERIALIZE_PROJECTION",
  "CLEAR_PROJECTION",
  "ADD_CONSTRAINT",
  "DROP_CONSTRAINT",
  "MODIFY_SETTING",
  "RESET_SETTING",
  "MODIFY_ORDER_BY",
  "MODIFY_SAMPLE_BY",
  "REMOVE_TTL",
  "MATERIALIZE_COLUMN",
  "ATTACH_PARTITION",
  "FREEZE_PARTITION",
  "FREEZE_ALL",
  "UNFREEZE_PARTITION",
  "UNFREEZE_ALL",
  "MODIFY_QUERY",
  "MODIFY_REFRESH",
  "MODIFY_DATABASE_SETTING",
]);

/** Statement kinds that keep every row: reads, inserts, new objects, settings. */
const KEEPING_ROOTS: ReadonlySet<string> = new Set([...READ_ROOTS, "InsertQuery", "CreateQuery", "Set", "UseQuery", "SYSTEM", "KillQueryQuery", "CheckQuery", "OptimizeQuery", "AlterQuery"]);

/**
 * What a hand-written statement does to data that needs `approveDataLoss`, or `undefined`
 * when it keeps every row: DROP, TRUNCATE, DETACH, RENAME/EXCHANGE, DELETE, `CREATE OR
 * REPLACE`, `OPTIMIZE … DEDUPLICATE`, and ALTER commands that drop, delete, overwrite,
 * move, rename or retype. A statement kind moose does not know is treated as losing data.
 *
 * @example dataLossOf(await parseStatement("TRUNCATE TABLE Users", origin)) // "truncates a table"
 */
export function dataLossOf(parsed: ParsedStatement): string | undefined {
  const { kind } = parsed;
  if (kind === "DropQuery") return `drops ${objectOf(parsed)}`;
  if (kind === "TruncateQuery") return `truncates ${objectOf(parsed)}`;
  if (kind === "DetachQuery") return `detaches ${objectOf(parsed)}`;
  if (kind === "Rename") return "renames or exchanges tables (queries and views naming them lose them)";
  if (kind === "DeleteQuery") return "deletes rows";
  if (!KEEPING_ROOTS.has(kind)) return `ClickHouse parses it as ${kind}, which moose cannot show keeps every row`;
  if (kind === "CreateQuery" && /^(CREATE\s+OR\s+REPLACE|REPLACE)\b/i.test(parsed.formatted)) return "replaces an existing object and its rows";
  if (kind === "OptimizeQuery" && /deduplicate/i.test(parsed.ast.detail)) return "removes duplicate rows (OPTIMIZE … DEDUPLICATE)";
  if (kind === "AlterQuery") {
    const commands: string[] = [];
    walk(parsed.ast, (n) => {
      if (n.name === "AlterCommand") commands.push(n.detail.split(" ")[0] ?? "");
    });
    const losing = commands.filter((c) => !SAFE_ALTER_COMMANDS.has(c));
    if (losing.length > 0) return `ALTER ${[...new Set(losing)].join(", ").replace(/_/g, " ")} can drop, delete, overwrite or move data`;
  }
  return undefined;
}

function objectOf(parsed: ParsedStatement): string {
  const name = parsed.ast.detail.trim().split(" ")[0];
  return name ? `\`${name}\`` : "an object";
}

/** What an expression pasted into DDL must be. */
export type Grammar =
  /** One scalar expression: a DEFAULT, an ORDER BY entry, a PARTITION BY key, a backfill expression. */
  | "expression"
  /** A table TTL clause (`ts + INTERVAL 1 DAY DELETE, …`). */
  | "ttl"
  /** A materialized view's SELECT. */
  | "select";

export interface SqlText {
  /** What the text is, for messages: `the DEFAULT of Users.age`. */
  readonly what: string;
  readonly text: string;
  readonly grammar: Grammar;
}

/**
 * Checks that `text` is exactly one piece of its grammar, so pasting it into the DDL
 * moose writes cannot add a statement, another ALTER command or another column: read
 * by ClickHouse's parser inside a statement of its own (`SELECT <expr>`,
 * `ALTER TABLE t MODIFY TTL <ttl>`). Throws `SQL_EXPRESSION_INVALID` (or the parser's
 * `SQL_MULTI_STATEMENT`/`SQL_SYNTAX`) naming `origin`.
 */
export async function checkSqlText(item: SqlText, position: SourcePosition | undefined): Promise<void> {
  const origin: SqlOrigin = position ? { position, what: item.what } : { what: item.what };
  const refuse = (why: string) =>
    new InvalidInputError("SQL_EXPRESSION_INVALID", `${item.what} must be ${describe(item.grammar)}; ${why}: ${JSON.stringify(item.text.length > 120 ? `${item.text.slice(0, 120)}…` : item.text)}`, {
      ...(position ? { position } : {}),
      hint: "write one expression; statements belong in their own sql(...) step of a migration",
    });
  if (item.grammar === "select") {
    const parsed = await parseStatement(item.text, origin);
    if (!SELECT_ROOTS.has(parsed.kind)) throw refuse(`ClickHouse parses it as ${parsed.kind}`);
    if (parsed.ast.children.length !== 1) throw refuse("it has INTO OUTFILE or FORMAT");
    return;
  }
  if (item.grammar === "ttl") {
    const parsed = await parseStatement(`ALTER TABLE _moose_check MODIFY TTL ${item.text}`, origin);
    const commands: AstNode[] = [];
    walk(parsed.ast, (n) => {
      if (n.name === "AlterCommand") commands.push(n);
    });
    let settings = false;
    walk(parsed.ast, (n) => (settings ||= n.name === "Set"));
    if (commands.length !== 1 || !commands[0]!.detail.startsWith("MODIFY_TTL") || settings) throw refuse("ClickHouse reads more than a TTL clause in it");
    await endsCleanly(`ALTER TABLE _moose_check MODIFY TTL ${item.text}`, origin, refuse);
    return;
  }
  const parsed = await parseStatement(`SELECT ${item.text}`, origin);
  const select = parsed.ast.children[0]?.children;
  const query = select?.length === 1 ? select[0] : undefined;
  if (parsed.ast.children.length !== 1 || query?.name !== "SelectQuery" || query.children.length !== 1 || query.children[0]!.children.length !== 1) {
    throw refuse("ClickHouse reads more than one expression (or a clause) in it");
  }
  await endsCleanly(`SELECT ${item.text}`, origin, refuse);
}

/**
 * A trailing `-- comment` would swallow what moose writes after the text on its line (the
 * next column, the next ALTER command): with a clause appended on the same line, ClickHouse
 * must still read that clause.
 */
async function endsCleanly(statement: string, origin: SqlOrigin, refuse: (why: string) => Error): Promise<void> {
  let parsed: ParsedStatement | undefined;
  try {
    parsed = await parseStatement(`${statement} SETTINGS max_threads = 1`, origin);
  } catch {
    parsed = undefined;
  }
  let settings = false;
  if (parsed) walk(parsed.ast, (n) => (settings ||= n.name === "Set"));
  if (!settings) throw refuse("it ends inside a comment, so what follows it on the line would be lost");
}

function describe(grammar: Grammar): string {
  return grammar === "expression" ? "one SQL expression" : grammar === "ttl" ? "one TTL clause" : "one SELECT statement";
}

/** The SQL text a table pastes into its DDL. */
export function sqlTextsOfTable(t: Table): SqlText[] {
  return [
    ...t.columns.flatMap((c) => sqlTextsOfColumn(t.name, c)),
    ...t.orderBy.map((e) => ({ what: `the ORDER BY of ${t.name}`, text: e, grammar: "expression" as const })),
    ...(t.partitionBy === undefined ? [] : [{ what: `the PARTITION BY of ${t.name}`, text: t.partitionBy, grammar: "expression" as const }]),
    ...(t.ttl === undefined ? [] : [{ what: `the TTL of ${t.name}`, text: t.ttl, grammar: "ttl" as const }]),
    ...sqlTextsOfTableParts(t),
  ];
}

/** The SQL a column definition pastes: its DEFAULT / MATERIALIZED / ALIAS expression, its TTL and its codec list. */
export function sqlTextsOfColumn(table: string, c: Column): SqlText[] {
  const out: SqlText[] = [];
  const expression = (kind: string, text: string | undefined) => {
    if (text !== undefined) out.push({ what: `the ${kind} of ${table}.${c.name}`, text, grammar: "expression" });
  };
  expression("DEFAULT", c.default);
  expression("MATERIALIZED expression", c.materialized);
  expression("ALIAS expression", c.alias);
  expression("TTL", c.ttl);
  // `ZSTD(3)`, `Delta, LZ4`: the inside of CODEC(...) is a list of expressions.
  if (c.codec !== undefined) out.push({ what: `the CODEC of ${table}.${c.name}`, text: `tuple(${c.codec})`, grammar: "expression" });
  return out;
}

/** The SQL a table's indexes, projections and constraints paste. */
function sqlTextsOfTableParts(t: Pick<Table, "name" | "indexes" | "projections" | "primaryKey" | "sampleBy" | "constraints">): SqlText[] {
  return [
    ...(t.constraints ?? []).map((c) => ({ what: `constraint ${c.name} of ${t.name}`, text: c.expression, grammar: "expression" as const })),
    ...(t.indexes ?? []).flatMap((i) => [
      { what: `the expression of index ${i.name} of ${t.name}`, text: i.expression, grammar: "expression" as const },
      { what: `the type of index ${i.name} of ${t.name}`, text: i.type, grammar: "expression" as const },
    ]),
    ...(t.projections ?? []).map((p) => ({ what: `projection ${p.name} of ${t.name}`, text: p.body, grammar: "select" as const })),
    ...(t.primaryKey ?? []).map((e) => ({ what: `the PRIMARY KEY of ${t.name}`, text: e, grammar: "expression" as const })),
    ...(t.sampleBy === undefined ? [] : [{ what: `the SAMPLE BY of ${t.name}`, text: t.sampleBy, grammar: "expression" as const }]),
  ];
}

/** The SQL text a materialized view pastes into its DDL. */
export function sqlTextsOfView(v: MaterializedView): SqlText[] {
  return [
    { what: `the SELECT of materialized view ${v.name}`, text: v.selectStatement, grammar: "select" },
    ...(v.inner?.orderBy ?? []).map((e) => ({ what: `the ORDER BY of materialized view ${v.name}`, text: e, grammar: "expression" as const })),
    ...(v.inner?.partitionBy === undefined ? [] : [{ what: `the PARTITION BY of materialized view ${v.name}`, text: v.inner.partitionBy, grammar: "expression" as const }]),
  ];
}

/** The SQL text a plain view pastes into its DDL: its SELECT, checked as a materialized view's is. */
export function sqlTextsOfPlainView(v: PlainView): SqlText[] {
  return [{ what: `the SELECT of view ${v.name}`, text: v.selectStatement, grammar: "select" }];
}

/** The user-written SQL text a change pastes into the statements that carry it out. */
export function sqlTextsOfChange(c: Change): SqlText[] {
  switch (c.kind) {
    case "table.create":
      return sqlTextsOfTable(c.table);
    case "table.rebuild":
      return sqlTextsOfTable(c.after);
    case "table.addColumn":
      return sqlTextsOfColumn(c.table, c.column);
    case "table.modifyColumn":
      return sqlTextsOfColumn(c.table, c.after);
    case "table.setIndexes":
      return sqlTextsOfTableParts({ name: c.table, indexes: c.after });
    case "table.setConstraints":
      return sqlTextsOfTableParts({ name: c.table, constraints: c.after });
    case "table.setProjections":
      return sqlTextsOfTableParts({ name: c.table, projections: c.after });
    case "table.setPrimaryKey":
      return sqlTextsOfTableParts({ name: c.table, ...(c.after === undefined ? {} : { primaryKey: c.after }) });
    case "table.setSampleBy":
      return sqlTextsOfTableParts({ name: c.table, ...(c.after === undefined ? {} : { sampleBy: c.after }) });
    case "table.setOrderBy":
      return c.after.map((e) => ({ what: `the ORDER BY of ${c.table}`, text: e, grammar: "expression" as const }));
    case "table.setPartitionBy":
      return c.after === undefined ? [] : [{ what: `the PARTITION BY of ${c.table}`, text: c.after, grammar: "expression" }];
    case "table.setTtl":
      return c.after === undefined ? [] : [{ what: `the TTL of ${c.table}`, text: c.after, grammar: "ttl" }];
    case "table.backfillColumn":
      return c.expression === undefined ? [] : [{ what: `the backfill expression of ${c.table}.${c.column}`, text: c.expression, grammar: "expression" }];
    case "view.create":
      return sqlTextsOfView(c.view);
    case "view.modify":
      return sqlTextsOfView(c.after);
    case "plainView.create":
      return sqlTextsOfPlainView(c.view);
    case "plainView.modify":
      return sqlTextsOfPlainView(c.after);
    case "table.drop":
    case "table.rename":
    case "table.dropColumn":
    case "table.renameColumn":
    case "table.moveColumn":
    case "table.setEngine":
    case "table.setSettings":
    case "table.setLifeCycle":
    case "table.copyRows":
    case "view.drop":
    case "view.backfill":
    case "plainView.drop":
    // A SQL resource's statements are whole statements, read by readSqlResource (sql-resource-policy.ts).
    case "sqlResource.create":
    case "sqlResource.drop":
    case "sqlResource.modify":
    case "topic.create":
    case "topic.drop":
    case "topic.modify":
    case "api.create":
    case "api.drop":
    case "api.modify":
    case "workflow.create":
    case "workflow.drop":
    case "workflow.modify":
    case "process.create":
    case "process.drop":
    case "process.modify":
      return [];
    default:
      return assertNever(c, "change kind");
  }
}

/** Checks every SQL text `changes` paste into DDL (see {@link checkSqlText}); `positionOf` says where each change was written. */
export async function checkChangesSql(changes: ReadonlyArray<Change | null>, positionOf: (index: number) => SourcePosition | undefined): Promise<void> {
  for (const [i, change] of changes.entries()) {
    if (change === null) continue;
    for (const item of sqlTextsOfChange(change)) {
      if (item.grammar === "expression" && BARE_NAME.test(item.text)) continue;
      await checkSqlText(item, positionOf(i));
    }
  }
}

/** A read refused in `scope`, as the error callers throw. */
export function readRefused(refusal: Refusal, scope: ReadScope, origin: SqlOrigin): RefusedError {
  const code = scope === "query" ? `QUERY_${refusal.code}` : scope === "api" ? "API_QUERY_REFUSED" : "CHECK_INVALID";
  const hint =
    scope === "query"
      ? refusal.code === "WRITES" || refusal.code === "WRITES_FILE"
        ? "add --write to run it; schema changes belong in migrations (moose migrate generate), or they show up as drift"
        : "run it with --write if you mean it"
      : scope === "api"
        ? "an API handler runs one read-only SELECT on the project's database; write through an ingest endpoint or a migration"
        : "a check is one SELECT whose rows are the problems it found";
  return new RefusedError(code, `${origin.what} refused: ${refusal.reason}`, { ...(origin.position ? { position: origin.position } : {}), hint });
}

/** A bare name needs no parser: it is one expression and cannot hold a comment or a `;`. */
const BARE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks every SQL text the tables and views of `map` paste into DDL (see
 * {@link checkSqlText}), naming where each object was declared. All problems are reported
 * at once (`InvalidInputErrors`).
 *
 * @example await checkMapSql(app.map, (key) => app.locations[key])
 */
/** Texts already found to be one piece of their grammar (see `checkedTextKey`); checked texts are added. */
export interface CheckedTexts {
  has(key: string): boolean;
  add(key: string): void;
}

/** The key of a checked text: its grammar, its text and the parser that read it. */
export function checkedTextKey(item: SqlText): string {
  return createHash("sha256").update(`${PARSER_ID}\0${item.grammar}\0${item.text}`).digest("hex");
}

export async function checkMapSql(map: InfraMap, positionOf: (key: string) => SourcePosition | undefined, checked?: CheckedTexts): Promise<void> {
  const errors: MooseError[] = [];
  const items: Array<[SqlText, SourcePosition | undefined]> = [
    ...Object.values(map.tables).flatMap((t) => sqlTextsOfTable(t).map((item): [SqlText, SourcePosition | undefined] => [item, positionOf(`tables:${t.name}`)])),
    ...Object.values(map.views).flatMap((v) => sqlTextsOfView(v).map((item): [SqlText, SourcePosition | undefined] => [item, positionOf(`views:${v.name}`)])),
    ...Object.values(plainViewsOf(map)).flatMap((v) => sqlTextsOfPlainView(v).map((item): [SqlText, SourcePosition | undefined] => [item, positionOf(`plainViews:${v.name}`)])),
  ];
  for (const [item, position] of items) {
    if (item.grammar === "expression" && BARE_NAME.test(item.text)) continue;
    const key = checked ? checkedTextKey(item) : "";
    if (checked?.has(key)) continue;
    try {
      await checkSqlText(item, position);
      checked?.add(key);
    } catch (error) {
      if (error instanceof MooseError && error.exit === "invalidInput") errors.push(error);
      else throw error;
    }
  }
  try {
    await checkSqlResources(map, positionOf);
  } catch (error) {
    collectInputErrors(errors, error);
  }
  throwCollected(errors);
}
