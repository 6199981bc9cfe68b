/**
 * Glob patterns as Moose's watcher reads `watcher_config.ignore_patterns`
 * (Rust `globset` with its defaults): `?` one character, `*` and `**` any
 * characters including `/`, `[a-z]` / `[!a-z]` classes, `{a,b}` alternatives
 * (not nested), `\` escapes the next character. A pattern matches a whole
 * path relative to the app folder, `/`-separated.
 *
 * @example
 * compileGlob("migration/**").test("migration/a/b.ts"); // true
 * compileGlob("*.test.ts").test("lib/x.test.ts");       // true: `*` crosses `/`
 */
export function compileGlob(pattern: string): RegExp {
  let out = "";
  let inAlternation = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    switch (c) {
      case "\\": {
        const next = pattern[i + 1];
        if (next === undefined) throw new GlobError("ends with a lone \\");
        out += escapeRegExp(next);
        i++;
        break;
      }
      case "?":
        out += "[^]";
        break;
      case "*":
        while (pattern[i + 1] === "*") i++;
        out += "[^]*";
        break;
      case "[": {
        const close = classEnd(pattern, i);
        if (close < 0) throw new GlobError(`unclosed [ at character ${i + 1}`);
        let body = pattern.slice(i + 1, close);
        const negated = body.startsWith("!") || body.startsWith("^");
        if (negated) body = body.slice(1);
        out += `[${negated ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
        i = close;
        break;
      }
      case "{":
        if (inAlternation) throw new GlobError(`nested { at character ${i + 1} (alternatives do not nest)`);
        inAlternation = true;
        out += "(?:";
        break;
      case "}":
        if (!inAlternation) throw new GlobError(`} without { at character ${i + 1}`);
        inAlternation = false;
        out += ")";
        break;
      case ",":
        out += inAlternation ? "|" : ",";
        break;
      default:
        out += escapeRegExp(c);
    }
  }
  if (inAlternation) throw new GlobError("unclosed {");
  return new RegExp(`^${out}$`);
}

export class GlobError extends Error {}

/** Index of the `]` closing the class opened at `open`; a `]` right after `[` or `[!` is a member. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === "!" || pattern[i] === "^") i++;
  if (pattern[i] === "]") i++;
  const close = pattern.indexOf("]", i);
  return close;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, (m) => `\\${m}`);
}
