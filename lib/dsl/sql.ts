/**
 * `sql` tagged template, as in moose-lib. Interpolating a table, view or column inserts
 * its quoted identifier and a nested `sql` fragment is inlined; these are what a view's
 * `selectStatement` may contain (the extractor resolves them statically). Any other
 * value becomes a query parameter `{pN:Type}` for run-time queries.
 *
 * @example
 * sql`SELECT ${events.columns.userId}, count() FROM ${events} GROUP BY 1`
 */
export interface Sql {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
  readonly isFragment?: boolean;
  toString(): string;
}

export interface SqlTemplateTag {
  (strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** A complete statement (moose-lib's newer spelling of `sql`). */
  statement(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** A fragment to interpolate into another statement. */
  fragment(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): Sql;
  /** Joins fragments with `separator` (default `", "`). */
  join(fragments: readonly Sql[], separator?: string): Sql;
  /** Raw SQL text, not parameterised. */
  raw(text: string): Sql;
}

export function quoteIdentifier(name: string): string {
  return "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
}

function isSql(value: unknown): value is Sql {
  return typeof value === "object" && value !== null && Array.isArray((value as Sql).strings) && Array.isArray((value as Sql).values);
}

function isNamed(value: unknown): value is { readonly kind: string; readonly name: string } {
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string" && typeof (value as { kind?: unknown }).kind === "string";
}

/** The physical name: a versioned table or topic is `<name>_<version with . → _>`, as the planner creates it. */
function physicalName(value: { readonly name: string; readonly config?: unknown }): string {
  const version = (value.config as { version?: unknown } | undefined)?.version;
  return typeof version === "string" && version !== "" ? `${value.name}_${version.replace(/\./g, "_")}` : value.name;
}

function parameterType(value: unknown): string {
  // 64-bit: ClickHouse's `Int`/`Float` are Int32/Float32, which wrap or round JavaScript numbers.
  if (typeof value === "number") return Number.isInteger(value) ? "Int64" : "Float64";
  if (typeof value === "boolean") return "Bool";
  if (value instanceof Date) return "DateTime";
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string") return value[0];
  return "String";
}

/**
 * The query text with `{pN:Type}` placeholders, and the parameter values.
 *
 * @example toQuery(sql`SELECT * FROM ${events} WHERE n > ${3}`) // ["SELECT * FROM `events` WHERE n > {p0:Int64}", { p0: 3 }]
 */
export function toQuery(query: Sql): [string, Record<string, unknown>] {
  const params: Record<string, unknown> = {};
  let n = 0;
  const render = (q: Sql): string =>
    q.strings.reduce((out, s, i) => {
      if (i >= q.values.length) return out + s;
      const v = q.values[i];
      if (isSql(v)) return out + s + render(v);
      if (isNamed(v)) return out + s + quoteIdentifier(v.kind === "Column" ? v.name : physicalName(v));
      const key = `p${n++}`;
      params[key] = Array.isArray(v) && v.length === 2 ? v[1] : v;
      return out + s + `{${key}:${parameterType(v)}}`;
    }, "");
  return [render(query), params];
}

function make(strings: readonly string[], values: readonly unknown[], isFragment: boolean | undefined): Sql {
  const q: Sql = {
    strings: [...strings],
    values: [...values],
    ...(isFragment === undefined ? {} : { isFragment }),
    toString: () => toQuery(q)[0],
  };
  return q;
}

export const sql: SqlTemplateTag = Object.assign((strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, undefined), {
  statement: (strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, false),
  fragment: (strings: TemplateStringsArray | readonly string[], ...values: unknown[]) => make(strings, values, true),
  join: (fragments: readonly Sql[], separator = ", ") =>
    make(["", ...fragments.slice(1).map(() => separator), ""].slice(0, Math.max(fragments.length + 1, 1)), fragments, true),
  raw: (text: string) => make([text], [], true),
});
