import { canonicalJson } from "../model/infra-map.js";
import type { Change, ChangeOf } from "./change.js";
import type { ColumnRename, DiffOptions, TableRename } from "./diff.js";

/**
 * A drop and an add that look like one rename: the same column type (or the same
 * columns, for a table) under a similar name. Only a suggestion: `diff` never guesses,
 * the caller asks (the dev prompt, `generate` on a terminal) or shows it (`moose plan`).
 */
export type RenameSuggestion =
  | { readonly kind: "table"; readonly from: string; readonly to: string }
  | { readonly kind: "column"; readonly table: string; readonly from: string; readonly to: string; readonly type: string };

/** Answers one suggestion: `true` makes it a rename, `false` keeps the drop and the add. */
export type RenameResolver = (suggestion: RenameSuggestion) => Promise<boolean>;

/** Names at least this similar pair up even when other candidates of the same type exist. */
const SIMILAR = 0.5;

/**
 * Renames that the drops and adds of `changes` (from `diff` without hints) may be.
 * Deterministic: tables first, then columns by table, each pairing the most similar
 * names first; every drop and every add is used at most once.
 *
 * A column pair qualifies when type and DEFAULT are identical and either the names are
 * similar (edit distance, case-insensitive, a name contained in the other) or it is the
 * only drop and the only add of that type in the table. A table pair qualifies when
 * both have the same columns (names and types).
 *
 * @example
 * suggestRenames(diff(current, desired))
 * // [{ kind: "column", table: "Users", from: "mail", to: "email", type: "String" }]
 */
export function suggestRenames(changes: readonly Change[]): RenameSuggestion[] {
  const out: RenameSuggestion[] = [];
  const drops = changes.filter((c): c is ChangeOf<"table.drop"> => c.kind === "table.drop");
  const creates = changes.filter((c): c is ChangeOf<"table.create"> => c.kind === "table.create");
  const sameShape = (a: ChangeOf<"table.drop">, b: ChangeOf<"table.create">): boolean => canonicalJson(a.table.columns) === canonicalJson(b.table.columns);
  for (const [d, c] of pairUp(drops, creates, (d) => d.table.name, (c) => c.table.name, sameShape, () => true)) {
    out.push({ kind: "table", from: d.table.name, to: c.table.name });
  }
  const tables = [...new Set(changes.flatMap((c) => (c.kind === "table.dropColumn" || c.kind === "table.addColumn" ? [c.table] : [])))].sort();
  for (const table of tables) {
    const dropped = changes.filter((c): c is ChangeOf<"table.dropColumn"> => c.kind === "table.dropColumn" && c.table === table);
    const added = changes.filter((c): c is ChangeOf<"table.addColumn"> => c.kind === "table.addColumn" && c.table === table);
    const sameType = (d: ChangeOf<"table.dropColumn">, a: ChangeOf<"table.addColumn">): boolean => d.column.type === a.column.type && d.column.default === a.column.default;
    const onlyOfType = (d: ChangeOf<"table.dropColumn">, a: ChangeOf<"table.addColumn">): boolean =>
      dropped.filter((x) => sameType(x, a)).length === 1 && added.filter((x) => sameType(d, x)).length === 1;
    for (const [d, a] of pairUp(dropped, added, (d) => d.column.name, (a) => a.column.name, sameType, onlyOfType)) {
      out.push({ kind: "column", table, from: d.column.name, to: a.column.name, type: d.column.type });
    }
  }
  return out;
}

/** Rename hints for `diff` from accepted suggestions. */
export function renameHints(accepted: readonly RenameSuggestion[], extra: DiffOptions["renames"] = {}): { tables: TableRename[]; columns: ColumnRename[] } {
  const tables: TableRename[] = [...(extra.tables ?? [])];
  const columns: ColumnRename[] = [...(extra.columns ?? [])];
  for (const s of accepted) {
    if (s.kind === "table") tables.push({ from: s.from, to: s.to });
    else columns.push({ table: s.table, from: s.from, to: s.to });
  }
  return { tables, columns };
}

/**
 * Greedy pairing by name similarity, most similar first (ties by names, so the result
 * does not depend on input order). A pair needs `compatible`, and either similar names
 * or `unambiguous`.
 */
function pairUp<A, B>(
  as: readonly A[],
  bs: readonly B[],
  nameA: (a: A) => string,
  nameB: (b: B) => string,
  compatible: (a: A, b: B) => boolean,
  unambiguous: (a: A, b: B) => boolean,
): Array<[A, B]> {
  const candidates: Array<{ a: A; b: B; score: number; key: string }> = [];
  for (const a of as) {
    for (const b of bs) {
      if (!compatible(a, b)) continue;
      const score = similarity(nameA(a), nameB(b));
      if (score >= SIMILAR || unambiguous(a, b)) candidates.push({ a, b, score, key: `${nameA(a)}\u0000${nameB(b)}` });
    }
  }
  candidates.sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  const usedA = new Set<A>();
  const usedB = new Set<B>();
  const out: Array<[A, B]> = [];
  for (const c of candidates) {
    if (usedA.has(c.a) || usedB.has(c.b)) continue;
    usedA.add(c.a);
    usedB.add(c.b);
    out.push([c.a, c.b]);
  }
  return out;
}

/** 1 for equal names, 0 for nothing in common; `mail`/`email` 0.8, `name`/`full_name` 0.6. */
export function similarity(a: string, b: string): number {
  const x = a.toLowerCase().replace(/[_-]/g, "");
  const y = b.toLowerCase().replace(/[_-]/g, "");
  if (x === y) return 1;
  const longest = Math.max(x.length, y.length);
  if (longest === 0) return 1;
  const edit = 1 - levenshtein(x, y) / longest;
  // One name inside the other (`name` → `fullName`) reads as a rename even when much longer.
  return x.includes(y) || y.includes(x) ? Math.max(edit, 0.6) : edit;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}
