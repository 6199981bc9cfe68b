/**
 * `sql` tagged template for view queries. Interpolating a table or a column
 * inserts its quoted identifier; anything else is an error at plan time (the
 * extractor resolves these statically) and at run time.
 *
 * @example
 * sql`SELECT ${events.columns.userId}, count() FROM ${events} GROUP BY 1`
 */
export interface Sql {
  readonly strings: readonly string[];
  readonly values: readonly unknown[];
  toString(): string;
}

export function quoteIdentifier(name: string): string {
  return "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
}

function render(value: unknown): string {
  if (value !== null && typeof value === "object" && "name" in value && typeof (value as { name: unknown }).name === "string") {
    return quoteIdentifier((value as { name: string }).name);
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new TypeError(`sql\`\`: only tables, views, columns and numbers can be interpolated, found ${typeof value}`);
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return {
    strings: [...strings],
    values,
    toString() {
      return strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]) : ""), "");
    },
  };
}
