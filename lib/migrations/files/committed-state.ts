import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "../../extract/typescript.cjs";
import { PACKAGE_ROOT } from "../../extract/program.js";
import { checksumOf } from "../../ledger/checksum.js";
import { emptyInfraMap, hashInfraMap, hashKeepingEntries, parseInfraMap, type InfraMap } from "../../model/infra-map.js";
import { MIGRATION_FILE, readMigrations } from "./read.js";
import { replayMigrations, type Replay } from "./sequence.js";
import { allowOptimization } from "../../extract/tiering.cjs";

/** Name of the cache file in the state folder (`.moose/`). */
export const COMMITTED_STATE_CACHE = "committed-state.json";
/** Bumped when the cache's layout or the meaning of a replay changes. */
const CACHE_FORMAT = 1;

/** The state the committed migration files lead to. */
export interface CommittedState {
  readonly state: InfraMap;
  /** `hashInfraMap(state)`. */
  readonly hash: string;
  /** How many committed files there are. */
  readonly count: number;
  /** The newest file's timestamp (`yyyyMMddHHmmss`), if any. */
  readonly newest: string | undefined;
  /**
   * How many of the files were replayed by this call; the rest came from the cache
   * (`count - replayed`). 0 on a full hit.
   */
  readonly replayed: number;
}

/** What `.moose/committed-state.json` holds. */
interface CacheFile {
  readonly format: number;
  /** Tool version that wrote it: a new version replays once rather than trust an older replay. */
  readonly tool: string;
  /** Every committed file the state covers, in order: name, checksum of its text, the `result` it records. */
  readonly files: ReadonlyArray<readonly [name: string, checksum: string, result: string]>;
  readonly hash: string;
  readonly state: unknown;
}

/**
 * The state after the committed sequence, as {@link replayMigrations} computes it, without
 * replaying what an earlier command already replayed. Planning (`moose plan`, `migrate
 * generate`) would otherwise parse and replay every committed file on every run, a cost that
 * grows with the history; the state after the longest cached prefix of the files is kept in
 * `<stateDir>/committed-state.json` and only the files after it are read and replayed.
 *
 * The cache is used only when all of this holds, else the files are replayed as before (and
 * the cache rewritten):
 * - it was written by this format and tool version;
 * - the names and checksums of its files are, in order, those of the first committed files
 *   on disk now (so an edited, removed, renamed or reordered file is never covered by it);
 * - its state hashes to the hash it records, and that hash is the `result` the last of its
 *   files records in its text on disk now (read with TypeScript's scanner; a state that
 *   hashes to a file's recorded result is that state), so a corrupted, truncated or foreign
 *   cache is never used;
 * - the first file after it starts from that state (`parent`), which the replay checks.
 *
 * Deploy, status and rollback replay every file, whatever this cache says.
 *
 * @example
 * const { state, hash, count } = readCommittedState("migrations", "migrations", ".moose");
 */
export function readCommittedState(migrationsDir: string, displayDir: string, stateDir: string | undefined): CommittedState {
  const listed = listCommitted(migrationsDir);
  // A misnamed file, an unreadable one or no folder: the plain reader reports it (or finds nothing).
  if (listed === undefined || stateDir === undefined) return replayAll(migrationsDir, displayDir, stateDir);
  if (listed.length === 0) {
    const state = emptyInfraMap();
    return { state, hash: hashInfraMap(state), count: 0, newest: undefined, replayed: 0 };
  }
  const cacheFile = join(stateDir, COMMITTED_STATE_CACHE);
  const cached = usableCache(cacheFile, listed);
  if (cached === undefined) return replayAll(migrationsDir, displayDir, stateDir);
  const newest = listed.at(-1)!.name.slice(0, 14);
  const rest = listed.slice(cached.files.length);
  if (rest.length === 0) return { state: cached.state, hash: cached.hash, count: listed.length, newest, replayed: 0 };
  // Only the files after the cached prefix are parsed; the replay checks that the first starts from the cached state.
  const files = readMigrations(migrationsDir, displayDir, new Set(rest.map((f) => f.name)));
  let replay: Replay;
  try {
    replay = replayMigrations(files, cached.state);
  } catch {
    // A refusal (a fork, a broken chain) names files before the cached prefix: the full replay says it whole.
    return replayAll(migrationsDir, displayDir, stateDir);
  }
  writeCache(cacheFile, [...cached.files, ...files.map((f) => [f.fileName, f.checksum, f.result] as const)], replay.hash, replay.state);
  return { state: replay.state, hash: replay.hash, count: listed.length, newest, replayed: files.length };
}

interface Listed {
  readonly name: string;
  readonly checksum: string;
  readonly text: string;
}

/** The committed files' names, texts and checksums, in order; undefined when the plain reader must speak. */
function listCommitted(dir: string): Listed[] | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const out: Listed[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".ts") || name.startsWith(".")) continue;
    if (!MIGRATION_FILE.test(name)) return undefined;
    let text: string;
    try {
      text = readFileSync(join(dir, name), "utf8");
    } catch {
      return undefined;
    }
    out.push({ name, text, checksum: checksumOf(text).checksum });
  }
  return out;
}

function replayAll(migrationsDir: string, displayDir: string, stateDir: string | undefined): CommittedState {
  allowOptimization(); // a long job: tiering.cts
  const files = readMigrations(migrationsDir, displayDir);
  const replay = replayMigrations(files);
  if (stateDir !== undefined && files.length > 0) {
    writeCache(join(stateDir, COMMITTED_STATE_CACHE), files.map((f) => [f.fileName, f.checksum, f.result] as const), replay.hash, replay.state);
  }
  return { state: replay.state, hash: replay.hash, count: files.length, newest: files.at(-1)?.id.slice(0, 14), replayed: files.length };
}

/** The cache, if it passes every check of {@link readCommittedState}; undefined otherwise. */
function usableCache(file: string, listed: readonly Listed[]): { files: CacheFile["files"]; hash: string; state: InfraMap } | undefined {
  let cache: CacheFile;
  try {
    cache = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
  } catch {
    return undefined;
  }
  if (cache === null || typeof cache !== "object" || cache.format !== CACHE_FORMAT || cache.tool !== toolVersion() || !Array.isArray(cache.files)) return undefined;
  const n = cache.files.length;
  if (n === 0 || n > listed.length) return undefined;
  for (let i = 0; i < n; i++) {
    const entry = cache.files[i];
    if (!Array.isArray(entry) || entry[0] !== listed[i]!.name || entry[1] !== listed[i]!.checksum) return undefined;
  }
  const last = listed[n - 1]!;
  const recorded = recordedResult(last.text);
  if (recorded === undefined || recorded !== cache.hash || cache.files[n - 1]![2] !== recorded) return undefined;
  let state: InfraMap;
  try {
    state = parseInfraMap(cache.state);
  } catch {
    return undefined;
  }
  // Kept entry texts: the planner compares this state with the code next (`knownEqualEntries`).
  if (hashKeepingEntries(state) !== recorded) return undefined;
  return { files: cache.files, hash: recorded, state };
}

/**
 * The `result` a migration file records (`export default migration({ …, result: "sha256:…", … })`),
 * found with TypeScript's scanner: generated files state it in their first lines, so this reads
 * a few hundred tokens where parsing the file would build the tree of every step. Undefined when
 * the file is not shaped so (the full reader then reports why).
 */
export function recordedResult(text: string): string | undefined {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  const K = ts.SyntaxKind;
  // `export default migration ( {`, then properties at depth 1 inside that object.
  const opening = [K.ExportKeyword, K.DefaultKeyword, K.Identifier, K.OpenParenToken, K.OpenBraceToken];
  let matched = 0;
  let token = scanner.scan();
  for (; token !== K.EndOfFileToken; token = scanner.scan()) {
    if (token === opening[matched] && (matched !== 2 || scanner.getTokenValue() === "migration")) {
      if (++matched === opening.length) break;
    } else {
      matched = token === opening[0] ? 1 : 0;
    }
  }
  if (matched !== opening.length) return undefined;
  let depth = 1;
  let previous: ts.SyntaxKind = K.OpenBraceToken;
  let key: string | undefined;
  for (token = scanner.scan(); token !== K.EndOfFileToken && depth > 0; token = scanner.scan()) {
    if (token === K.OpenBraceToken || token === K.OpenBracketToken || token === K.OpenParenToken) depth++;
    else if (token === K.CloseBraceToken || token === K.CloseBracketToken || token === K.CloseParenToken) depth--;
    else if (depth === 1 && (previous === K.OpenBraceToken || previous === K.CommaToken) && (token === K.Identifier || token === K.StringLiteral)) key = scanner.getTokenValue();
    else if (depth === 1 && key === "result" && previous === K.ColonToken && (token === K.StringLiteral || token === K.NoSubstitutionTemplateLiteral)) return scanner.getTokenValue();
    else if (token !== K.ColonToken) key = undefined;
    previous = token;
  }
  return undefined;
}

/** Best effort: a cache that cannot be written only costs the next command a replay. */
function writeCache(file: string, files: CacheFile["files"], hash: string, state: InfraMap): void {
  const cache: CacheFile = { format: CACHE_FORMAT, tool: toolVersion(), files, hash, state };
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(cache));
    renameSync(temp, file);
  } catch {
    // not fatal
  }
}

let version: string | undefined;
function toolVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
    version = `${pkg.version}`;
  }
  return version;
}
