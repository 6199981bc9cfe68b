import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileFragment } from "./fragments.js";
import ts from "./typescript.cjs";

/** Name of the cache file in the state folder (`.moose/`). */
export const EXTRACTION_CACHE = "extraction-cache.json";
/** Bumped when the layout or the meaning of an entry changes. */
const CACHE_FORMAT = 2;

/**
 * What the cache knows of one of the app's files (a source file, or a `.d.ts` or JSON file of the
 * app's own, not node_modules): everything needed to decide, without parsing it, whether
 * what extraction found in it last time still holds.
 */
export interface CacheEntry {
  /** sha256 of the text TypeScript read. */
  readonly hash: string;
  /** Every module name TypeScript resolved for it, and where it went (null: nowhere), checked again each run. */
  readonly resolutions: ReadonlyArray<readonly [name: string, resolved: string | null]>;
  /** The app files its imports added to the Program, in TypeScript's order (the file order follows from these). */
  readonly children: readonly string[];
  /** A script or a file with `declare global` / `declare module "x"`: it can change any file's types. */
  readonly global: boolean;
  /** The other app files whose text its fragment depends on (what it imports, directly or not), with their hashes then. */
  readonly consulted: ReadonlyArray<readonly [file: string, hash: string]>;
  /**
   * Of the files it imports directly by name only: the names it takes and the hash of the
   * declarations they stand on in that file (declaration-uses.ts). Such a file may change
   * elsewhere (its hash in `consulted` differs) and the fragment still hold.
   */
  readonly uses?: ReadonlyArray<readonly [file: string, names: readonly string[], hash: string]>;
  /** What extraction found in it (source files only). */
  readonly fragment?: FileFragment;
}

export interface CacheContents {
  /** Files outside the app the Programs loaded (node_modules, this library's declarations), with their hashes. */
  readonly externals: Readonly<Record<string, string>>;
  readonly entries: Readonly<Record<string, CacheEntry>>;
}

/**
 * The file is two lines: this header, then the contents as JSON. `checksum` is the sha256 of
 * the second line, so a truncated, corrupted or hand-edited cache is never read.
 */
interface CacheHeader {
  readonly format: number;
  /** Everything besides the files that decides what extraction gives (see {@link cacheKey}). */
  readonly key: string;
  readonly checksum: string;
}

/**
 * What decides an extraction besides the app's files: this format, the tool's version, the
 * TypeScript version (its lib files), the compiler options, the extraction options (project
 * folder, main file, retention, database, clusters) and where this tool's declaration library
 * is. A cache written under any other key is not read.
 */
export function cacheKey(parts: Readonly<Record<string, unknown>>): string {
  return sha256(JSON.stringify({ format: CACHE_FORMAT, typescript: ts.version, ...parts }));
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The cache's contents when it was written under `key`; undefined when there is none, or it is unreadable, foreign or of another key. */
export function readExtractionCache(stateDir: string, key: string): CacheContents | undefined {
  let header: Partial<CacheHeader>;
  let body: Partial<CacheContents>;
  try {
    const text = readFileSync(join(stateDir, EXTRACTION_CACHE), "utf8");
    const newline = text.indexOf("\n");
    if (newline < 0) return undefined;
    header = JSON.parse(text.slice(0, newline)) as Partial<CacheHeader>;
    if (!isObject(header) || header.format !== CACHE_FORMAT || header.key !== key) return undefined;
    const rest = text.slice(newline + 1);
    if (header.checksum !== sha256(rest)) return undefined;
    body = JSON.parse(rest) as Partial<CacheContents>;
  } catch {
    return undefined;
  }
  if (!isObject(body) || !isObject(body.entries) || !isObject(body.externals)) return undefined;
  for (const entry of Object.values(body.entries)) if (!wellFormed(entry)) return undefined;
  return { externals: body.externals as Record<string, string>, entries: body.entries as Record<string, CacheEntry> };
}

/** Writes the cache (through a rename: a reader never sees half of it). A cache that cannot be written only costs the next run its reuse. */
export function writeExtractionCache(stateDir: string, key: string, contents: CacheContents): void {
  const target = join(stateDir, EXTRACTION_CACHE);
  try {
    mkdirSync(stateDir, { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    // Encoded once: hashed and written as bytes (hashing and writing the text would encode it twice).
    const body = Buffer.from(JSON.stringify({ externals: contents.externals, entries: contents.entries }));
    const header = `${JSON.stringify({ format: CACHE_FORMAT, key, checksum: createHash("sha256").update(body).digest("hex") } satisfies CacheHeader)}\n`;
    writeFileSync(temp, Buffer.concat([Buffer.from(header), body]));
    renameSync(temp, target);
  } catch {
    // Not fatal: see above.
  }
}

/** Removes the cache (a run whose result it could not reproduce must not leave an older one behind). */
export function dropExtractionCache(stateDir: string): void {
  rmSync(join(stateDir, EXTRACTION_CACHE), { force: true });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The shape of an entry (a tampered file with the right key but wrong shapes is not used). */
function wellFormed(e: unknown): e is CacheEntry {
  if (!isObject(e)) return false;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === "string");
  const pairs = (v: unknown, second: (x: unknown) => boolean) => Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && second(p[1]));
  if (typeof e["hash"] !== "string" || typeof e["global"] !== "boolean" || !strings(e["children"])) return false;
  if (!pairs(e["resolutions"], (x) => x === null || typeof x === "string") || !pairs(e["consulted"], (x) => typeof x === "string")) return false;
  const uses = e["uses"];
  if (uses !== undefined && !(Array.isArray(uses) && uses.every((u) => Array.isArray(u) && u.length === 3 && typeof u[0] === "string" && strings(u[1]) && typeof u[2] === "string"))) return false;
  const f = e["fragment"];
  if (f === undefined) return true;
  if (!isObject(f) || typeof f["candidate"] !== "boolean") return false;
  return ["diagnostics", "puts", "warnings", "renames", "flows", "redirected"].every((k) => Array.isArray(f[k]));
}
