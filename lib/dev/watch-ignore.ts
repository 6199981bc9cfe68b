import { relative, sep } from "node:path";
import { compileGlob } from "../config/glob.js";

/**
 * `watcher_config.ignore_patterns` as a chokidar `ignored` test, matched as
 * Moose matches them: against the path relative to the app folder. A folder a
 * pattern like `dir/**` covers is skipped whole (tested as `dir/`), so its
 * files are never watched. Paths outside the app folder are never ignored here.
 *
 * @example
 * const ignored = watchIgnorer("/p/app", ["generated/**"]);
 * ignored("/p/app/generated/a.ts"); // true
 */
export function watchIgnorer(appDir: string, patterns: readonly string[]): (path: string) => boolean {
  if (patterns.length === 0) return () => false;
  const globs = patterns.map(compileGlob);
  return (path: string) => {
    const rel = relative(appDir, path).split(sep).join("/");
    if (rel === "" || rel === ".." || rel.startsWith("../")) return false;
    return globs.some((g) => g.test(rel) || g.test(`${rel}/`));
  };
}
