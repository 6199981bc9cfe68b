import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidInputErrors, type MooseError } from "../../lib/errors.js";
import { extractApp, type ExtractedApp } from "../../lib/extract/extract-app.js";

/** `fixtures/` of the repository (tests run from `dist/tests/`). */
export const FIXTURES_DIR = fileURLToPath(new URL("../../../fixtures/", import.meta.url));

/** A fixture app's project folder: `fixtures/apps/<name>` (its main file is `app/index.ts`). */
export function fixtureApp(name: string): string {
  return join(FIXTURES_DIR, "apps", name);
}

export function extractFixture(name: string): ExtractedApp {
  return extractApp({ projectDir: fixtureApp(name), mainFile: "app/index.ts" });
}

/** Writes `files` (paths relative to the project) into a fresh temp project and returns its folder. */
export function tempApp(files: Readonly<Record<string, string>>, prefix = "moose-extract-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [path, text] of Object.entries(files)) writeFile(join(dir, path), text);
  return dir;
}

export function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** What a user sees of one error: its code, `file:line:column: message`, and the hint. */
export interface ErrorView {
  readonly code: string;
  readonly located: string;
  readonly hint: string | undefined;
}

/**
 * Runs `fn`, which must throw the extractor's error list, and returns every error in it.
 * Anything else (no error, another kind of error) fails loudly.
 */
export function errorsOf(fn: () => unknown): ErrorView[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputErrors) return e.errors.map((x: MooseError) => ({ code: x.code, located: x.located, hint: x.hint }));
    throw e;
  }
  throw new Error("expected the extraction to fail, but it succeeded");
}

/** Memoizes a synchronous computation shared by several tests of one file. */
export function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}
