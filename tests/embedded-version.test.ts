import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chdbInstallKey } from "../lib/engines/olap/embedded-version.js";

// Each case runs in its own process: the version is asked once per process.
const MODULE = new URL("../lib/engines/olap/embedded-version.js", import.meta.url).href;

function versionWithCache(cache: unknown): { printed: string; cached: unknown } {
  const home = mkdtempSync(join(tmpdir(), "moose-embedded-version-"));
  if (cache !== undefined) {
    mkdirSync(join(home, "moose-migrate"), { recursive: true });
    writeFileSync(join(home, "moose-migrate", "embedded-version.json"), typeof cache === "string" ? cache : JSON.stringify(cache));
  }
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(MODULE)}); process.stdout.write(await m.embeddedVersion());`], {
    env: { ...process.env, XDG_CACHE_HOME: home },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return { printed: r.stdout, cached: JSON.parse(readFileSync(join(home, "moose-migrate", "embedded-version.json"), "utf8")) };
}

test("the embedded engine's version is asked of chDB once, then read from the user's cache under the installed chDB's key", (t) => {
  const key = chdbInstallKey();
  t.truthy(key);
  const first = versionWithCache(undefined);
  t.regex(first.printed, /^\d+\.\d+\.\d+(\.\d+)?$/);
  t.deepEqual(first.cached, { key, version: first.printed });
  // A cached answer under the same key is used as it is (chDB is not asked: it would say otherwise).
  t.is(versionWithCache({ key, version: "99.1" }).printed, "99.1");
});

test("a cached version under another key, or an unreadable cache, is asked again and rewritten", (t) => {
  const key = chdbInstallKey();
  const real = versionWithCache(undefined).printed;
  const other = versionWithCache({ key: `${key}\nsomething else`, version: "99.1" });
  t.is(other.printed, real);
  t.deepEqual(other.cached, { key, version: real });
  t.is(versionWithCache("{ not json").printed, real);
  t.is(versionWithCache({ key, version: "not a version" }).printed, real);
});
