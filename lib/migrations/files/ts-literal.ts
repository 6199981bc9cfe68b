/**
 * Prints values as TypeScript literals for migration files: deterministic
 * (`name`, `kind`, `type`, `default`, `after` first, then keys sorted), keys unquoted where they are identifiers,
 * one line when it fits in `width`, otherwise one member per line.
 *
 * @example tsLiteral({ type: "String", name: "id" }) // `{ name: "id", type: "String" }`
 */
export function tsLiteral(value: unknown, indent = "", width = 100): string {
  if (value === null || typeof value !== "object") return scalar(value) as string;
  const flat = oneLine(value, width - indent.length);
  if (flat !== undefined) return flat;
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + tsLiteral(v, inner, width)).join(",\n")},\n${indent}]`;
  }
  const o = value as Record<string, unknown>;
  const keys = orderedKeys(o);
  if (keys.length === 0) return "{}";
  return `{\n${keys.map((k) => `${inner}${key(k)}: ${tsLiteral(o[k], inner, width)}`).join(",\n")},\n${indent}}`;
}

/**
 * The one-line text of an array or object, or undefined when it is longer than `room`.
 * Building stops as soon as the text is too long: a table's one-line text is never
 * finished, so each column is written once (on its own line) rather than once per
 * enclosing level, and a migration of 1,000 tables prints in time proportional to its size.
 */
function oneLine(value: object, room: number): string | undefined {
  if (Array.isArray(value)) {
    // `[` + members joined by `, ` + `]`; holes print as nothing, as `join` does.
    let text = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ", ";
      // What is left for this member once the closing `]` is counted.
      const member = i in value ? memberText(value[i], room - text.length - 1, "") : "";
      if (member === undefined) return undefined;
      text += member;
    }
    return text.length + 1 <= room ? text + "]" : undefined;
  }
  const o = value as Record<string, unknown>;
  const keys = orderedKeys(o);
  if (keys.length === 0) return room >= 2 ? "{}" : undefined;
  // `{ ` + `key: value` joined by `, ` + ` }`
  let text = "{ ";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    text += (i > 0 ? ", " : "") + key(k) + ": ";
    const member = memberText(o[k], room - text.length - 2, "undefined");
    if (member === undefined) return undefined;
    text += member;
  }
  return text.length + 2 <= room ? text + " }" : undefined;
}

/**
 * A member's one-line text, or undefined when longer than `room`. `absent` is what the
 * member prints as when JSON has no text for it (a function): nothing in an array, as
 * `join` prints it, and `undefined` in an object, as a template string does.
 */
function memberText(value: unknown, room: number, absent: string): string | undefined {
  const text = value !== null && typeof value === "object" ? oneLine(value, room) : (scalar(value) ?? absent);
  return text !== undefined && text.length <= room ? text : undefined;
}

function scalar(value: unknown): string | undefined {
  return value === undefined ? "undefined" : JSON.stringify(value);
}

/** Where a key goes: the keys a reader looks for first, in this order, then the rest (`OTHER`) sorted. */
function rankOf(k: string): number {
  switch (k) {
    case "name":
      return 0;
    case "kind":
      return 1;
    case "type":
      return 2;
    case "default":
      return 3;
    case "after":
      return 4;
    default:
      return OTHER;
  }
}
const OTHER = 5;

/** The keys of the members that are not undefined, in print order. */
function orderedKeys(o: Record<string, unknown>): string[] {
  const keys = Object.keys(o);
  // Most objects (every column) already list their keys in print order.
  let inOrder = true;
  for (let i = 0; i < keys.length && inOrder; i++) {
    const k = keys[i] as string;
    if (o[k] === undefined) inOrder = false;
    else if (i > 0) {
      const before = keys[i - 1] as string;
      const a = rankOf(before);
      const b = rankOf(k);
      // The default sort compares UTF-16 code units, as `<` does.
      inOrder = a < b || (a === OTHER && b === OTHER && before < k);
    }
  }
  if (inOrder) return keys;
  const present = keys.filter((k) => o[k] !== undefined);
  return present.filter((k) => rankOf(k) < OTHER).sort((a, b) => rankOf(a) - rankOf(b)).concat(present.filter((k) => rankOf(k) === OTHER).sort());
}

function key(k: string): string {
  return rankOf(k) < OTHER || IDENTIFIER.test(k) ? k : JSON.stringify(k);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
