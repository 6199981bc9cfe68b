import test from "ava";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { watchSaves } from "../lib/dev/save-watcher.js";
import { tempDir } from "./helpers/cli.js";

/**
 * `moose dev`'s watcher reports every save, however soon it follows the previous one.
 * chokidar emits no second `change` for a file within 50 ms of the last and never emits it
 * later: a save made as soon as a fast cycle printed (a "No changes" or a type error: 25 ms
 * debounce + a 15–20 ms extraction) used to be lost, and dev printed nothing
 * (tests/migration-log.test.ts failed so in CI). Each save here is made the moment the
 * previous one is reported (debounce 0), so it always lands inside that window.
 */

/** A watched project with app/index.ts; each report carries the text the file had when reported. */
async function watched(t: { teardown(fn: () => unknown): void }) {
  const dir = tempDir("watch");
  mkdirSync(join(dir, "app"));
  const file = join(dir, "app", "index.ts");
  writeFileSync(file, "// 0\n");
  const reports: Array<{ files: readonly string[]; text: string }> = [];
  let wake: (() => void) | undefined;
  const watcher = await watchSaves({
    projectDir: dir,
    paths: [join(dir, "app")],
    ignored: (path) => /\/\.[^/]*$/.test(path),
    debounceMs: 0,
    onSave: (files) => {
      reports.push({ files, text: readFileSync(file, "utf8") });
      wake?.();
    },
  });
  t.teardown(() => watcher.close());
  /** The next report whose text is `text`; rejects after 10 s (a lost save: nothing would come). */
  const reported = (text: string) =>
    new Promise<readonly string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no report of ${JSON.stringify(text)} in 10 s; reports: ${JSON.stringify(reports)}`)), 10_000);
      const check = () => {
        const r = reports.find((x) => x.text === text);
        if (!r) return;
        clearTimeout(timer);
        wake = undefined;
        resolve(r.files);
      };
      wake = check;
      check();
    });
  return { dir, file, reports, reported };
}

test("a save made the moment the previous one was reported is reported too", async (t) => {
  const { file, reported } = await watched(t);
  for (let i = 1; i <= 6; i++) {
    const text = `// ${i}\n`;
    writeFileSync(file, text);
    t.deepEqual(await reported(text), ["app/index.ts"]);
  }
});

test("so is one saved through a temporary file renamed over it (editors' atomic save)", async (t) => {
  const { file, reported } = await watched(t);
  const tmp = join(file, "..", ".index.ts.tmp");
  for (let i = 1; i <= 6; i++) {
    const text = `// atomic ${i}\n`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    t.deepEqual(await reported(text), ["app/index.ts"]);
  }
});
