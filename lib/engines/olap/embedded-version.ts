import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parserRunner } from "./chdb-process.js";

/** A ClickHouse version as text: `24.8`, `18.16.1`, `26.7.1.1`. */
export const VERSION_TEXT = /^\d{1,4}\.\d{1,4}(\.\d{1,6}){0,2}$/;

let embedded: Promise<string> | undefined;

/**
 * The embedded ClickHouse's version (chDB), read from its in-memory session: no data directory is
 * opened. Loading chDB costs a cold command about half a second and 200 MB, so the answer is kept
 * in the user's cache folder (`~/.cache/moose-migrate/embedded-version.json`) keyed by the installed
 * chDB packages (path and version of `chdb` and of its `@chdb/*` native packages): `migrate generate`
 * and `plan --sql` then print SQL without loading ClickHouse. Any other key asks chDB again.
 */
export function embeddedVersion(): Promise<string> {
  embedded ??= (async () => {
    const key = chdbInstallKey();
    const file = join(userCacheDir(), "embedded-version.json");
    if (key !== undefined) {
      try {
        const cached = JSON.parse(readFileSync(file, "utf8")) as { key?: unknown; version?: unknown };
        if (cached.key === key && typeof cached.version === "string" && VERSION_TEXT.test(cached.version)) return cached.version;
      } catch {
        // no cache yet, or an unreadable one: ask chDB
      }
    }
    const version = (await parserRunner().run("SELECT version()", undefined, "TSVRaw")).trim();
    if (key !== undefined && VERSION_TEXT.test(version)) {
      try {
        mkdirSync(dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        writeFileSync(temp, JSON.stringify({ key, version }));
        renameSync(temp, file);
      } catch {
        // best effort: the next command asks chDB again
      }
    }
    return version;
  })();
  return embedded;
}

/** `$XDG_CACHE_HOME/moose-migrate`, `~/.cache/moose-migrate`, else the temp folder (as the TypeScript code cache). */
function userCacheDir(): string {
  const base = process.env["XDG_CACHE_HOME"] || (homedir() ? join(homedir(), ".cache") : tmpdir());
  return join(base, "moose-migrate");
}

/** What identifies the installed chDB: where it is and the versions of it and its native packages; undefined if not found. */
export function chdbInstallKey(): string | undefined {
  try {
    const root = realpathSync(dirname(createRequire(import.meta.url).resolve("chdb")));
    const version = (dir: string) => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: string }).version;
    const parts = [`${root}@${version(root)}`];
    for (const scope of [join(root, "node_modules", "@chdb"), join(root, "..", "@chdb")]) {
      let names: string[];
      try {
        names = readdirSync(scope).sort();
      } catch {
        continue;
      }
      for (const name of names) parts.push(`${realpathSync(join(scope, name))}@${version(join(scope, name))}`);
    }
    return parts.join("\n");
  } catch {
    return undefined;
  }
}
