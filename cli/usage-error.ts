/**
 * How a usage error reads: yargs' message, tidied, with "did you mean --dry-run?" for
 * a mistyped flag or command word. (yargs' own `recommendCommands` knows no flags,
 * and its message would replace "Unknown argument".)
 */

/** A command as far as spelling goes: its name and what it accepts, or its sub-commands. */
export interface CommandWords {
  readonly name: string;
  /** Long and short flag names (without dashes) and positional names. */
  readonly flags?: readonly string[];
  readonly children?: readonly CommandWords[];
}

/**
 * The message for a failed parse of `argv`.
 *
 * @example
 * usageMessage("Unknown argument: dryrun", ["migrate", "deploy", "--dryrun"], tree)
 * // "Unknown argument: dryrun; did you mean --dry-run?"
 */
export function usageMessage(message: string, argv: readonly string[], commands: readonly CommandWords[]): string {
  const tidy = withoutCamelTwins(message);
  const mistyped = didYouMean(argv, commands);
  return mistyped && tidy.includes(mistyped.word) ? `${tidy}; ${mistyped.suggestion}` : tidy;
}

/**
 * yargs lists an unknown dashed flag twice, as given and camel-cased
 * ("Unknown arguments: allow-out-of-oder, allowOutOfOder"): once is enough.
 */
function withoutCamelTwins(message: string): string {
  const m = /^([^:]*: )(.*)$/s.exec(message);
  if (!m) return message;
  const items = m[2]!.split(", ");
  const kept = items.filter((i) => !items.some((other) => other !== i && other.includes("-") && camelCase(other) === i));
  if (kept.length === items.length) return message;
  // Only English has its singular here; other locales keep yargs' plural heading.
  const head = kept.length === 1 && m[1] === "Unknown arguments: " ? "Unknown argument: " : m[1]!;
  return head + kept.join(", ");
}

const camelCase = (s: string) => s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Flags every command accepts. */
const GLOBAL_FLAGS = ["help", "h", "version"];

/**
 * The suggestion for the first word of `argv` that names no command or flag of
 * the command it is given to, when a known one is close enough; `undefined` otherwise.
 *
 * @example
 * didYouMean(["migrate", "deploy", "--dryrun"], tree) // { word: "dryrun", suggestion: "did you mean --dry-run?" }
 * didYouMean(["plna"], tree)                          // { word: "plna", suggestion: "did you mean plan?" }
 */
function didYouMean(argv: readonly string[], commands: readonly CommandWords[]): { word: string; suggestion: string } | undefined {
  const end = argv.indexOf("--");
  const words = end === -1 ? argv : argv.slice(0, end);
  let level: readonly CommandWords[] | undefined = commands;
  let current: CommandWords | undefined;
  for (const word of words) {
    if (word.startsWith("-")) {
      const name = word.replace(/^--?(no-)?/, "").replace(/=.*$/, "");
      const known = [...GLOBAL_FLAGS, ...(current?.flags ?? [])];
      if (name === "" || known.some((k) => sameFlag(k, name))) continue;
      const near = nearest(name, known.filter((k) => k.length > 1));
      if (near !== undefined) return { word: name, suggestion: `did you mean --${near}?` };
      continue;
    }
    // A value of the previous flag, a positional, or the next command word.
    if (level === undefined) continue;
    const next: CommandWords | undefined = level.find((c) => c.name === word);
    if (next) {
      current = next;
      level = next.children;
      continue;
    }
    const near = nearest(word, level.map((c) => c.name));
    if (near !== undefined) return { word, suggestion: `did you mean ${near}?` };
    level = undefined;
  }
  return undefined;
}

/** yargs accepts a flag as declared or camel-cased: `--dry-run` and `--dryRun`. */
function sameFlag(declared: string, given: string): boolean {
  return declared === given || camelCase(declared) === given;
}

/** The candidate nearest to `word`, if at most a third of it (and at least one letter) is off. */
function nearest(word: string, candidates: readonly string[]): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  let best: { name: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = editDistance(plain(word), plain(c));
    if (best === undefined || distance < best.distance) best = { name: c, distance };
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(word.length / 3)) ? best.name : undefined;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
