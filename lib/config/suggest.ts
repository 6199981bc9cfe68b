/**
 * "Did you mean …?" for misspelt names. Names are compared case-insensitively
 * with `-` read as `_`, so `Host-Port` and `hostPort` both find `host_port`.
 */

export interface SuggestCandidate {
  readonly name: string;
  /** Other spellings that should lead to `name` (e.g. `database` → `db_name`). */
  readonly aliases?: readonly string[];
}

/** The candidate closest to `input`, or `undefined` when none is a likely typo. */
export function closestName(input: string, candidates: readonly (string | SuggestCandidate)[]): string | undefined {
  const wanted = normalize(input);
  if (wanted === "") return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(wanted.length / 3)));
  let best: { name: string; score: number } | undefined;
  for (const candidate of candidates) {
    const { name, aliases = [] } = typeof candidate === "string" ? { name: candidate } : candidate;
    for (const spelling of [name, ...aliases]) {
      const score = similarity(wanted, normalize(spelling), limit);
      if (score !== undefined && (best === undefined || score < best.score)) best = { name, score };
    }
  }
  return best?.name;
}

function normalize(name: string): string {
  return name.toLowerCase().replaceAll("-", "_");
}

/** Lower is closer; `undefined` means not similar. */
function similarity(a: string, b: string, limit: number): number | undefined {
  if (a === b) return 0;
  if (a.replaceAll("_", "") === b.replaceAll("_", "")) return 0.5;
  const distance = editDistance(a, b);
  if (distance <= limit) return distance;
  // A fragment of a longer name (`port` for `host_port`, `sasl_user` for `sasl_username`).
  if (Math.min(a.length, b.length) >= 4 && (a.includes(b) || b.includes(a))) return limit + Math.abs(a.length - b.length);
  return undefined;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`hots` → `host` is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      d[i * cols + j] = value;
    }
  }
  return at(a.length, b.length);
}
