/**
 * Prints values as TypeScript literals for migration files: deterministic
 * (`name`, `kind`, `type`, `default`, `after` first, then keys sorted), keys unquoted where they are identifiers,
 * one line when it fits in `width`, otherwise one member per line.
 */
export function tsLiteral(value: unknown, indent = "", width = 100): string {
  const flat = oneLine(value);
  if (indent.length + flat.length <= width) return flat;
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + tsLiteral(v, inner, width)).join(",\n")},\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = orderedEntries(value as Record<string, unknown>);
    if (entries.length === 0) return "{}";
    return `{\n${entries.map(([k, v]) => `${inner}${key(k)}: ${tsLiteral(v, inner, width)}`).join(",\n")},\n${indent}}`;
  }
  return flat;
}

function oneLine(value: unknown): string {
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return `[${value.map(oneLine).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    const entries = orderedEntries(value as Record<string, unknown>);
    return entries.length === 0 ? "{}" : `{ ${entries.map(([k, v]) => `${key(k)}: ${oneLine(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

/** Keys a reader looks for first, in this order; the rest follow sorted. */
const LEADING_KEYS = ["name", "kind", "type", "default", "after"];

function orderedEntries(o: Record<string, unknown>): Array<[string, unknown]> {
  const rank = (k: string) => {
    const i = LEADING_KEYS.indexOf(k);
    return i < 0 ? LEADING_KEYS.length : i;
  };
  return Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => [k, o[k]]);
}

function key(k: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k);
}
