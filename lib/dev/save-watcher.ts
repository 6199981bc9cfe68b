import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { relative } from "node:path";

/** Saves closer together than this are one change (editors write several times per save). */
export const SAVE_DEBOUNCE_MS = 25;

/**
 * chokidar 4 drops a `change` of a path that comes within 50 ms of the previous one it
 * emitted for that path, and never emits it later (`FSWatcher._emit`: `_throttle("change",
 * path, 50)`); its fs.watch listener also drops events within 5 ms of the last. A save made
 * that soon — the next edit as soon as a fast cycle printed (25 ms debounce + a 15 ms
 * extraction) — would never reach `moose dev`. So each file an event named is looked at
 * again after this long, when chokidar would report a new change itself.
 */
const RECHECK_MS = 60;

export interface SaveWatcherOptions {
  /** Paths handed to `onSave` are relative to this folder. */
  readonly projectDir: string;
  /** Folders to watch, recursively. */
  readonly paths: readonly string[];
  /** Absolute paths never watched (node_modules, the draft, `watcher_config.ignore_patterns`). */
  readonly ignored: (path: string) => boolean;
  /**
   * Called once per burst of saves, with the project-relative paths saved that still exist
   * (none when the burst only removed files).
   */
  readonly onSave: (files: readonly string[]) => void;
  /** Events closer together than this are one burst ({@link SAVE_DEBOUNCE_MS} unless told). */
  readonly debounceMs?: number;
}

export interface SaveWatcher {
  close(): Promise<void>;
}

/**
 * Watches the app's folders and reports every save: each burst of file events becomes one
 * `onSave` call, and no save is lost to chokidar's throttling (see {@link RECHECK_MS}). A file
 * is reported again only when it differs from what it was when last reported — content,
 * size, times or inode — so a late or repeated event for a save already reported is not a
 * second cycle, while saving the same text again (to retry a failed apply) still is one.
 * Resolves once the initial scan is done: a save made after that is seen.
 *
 * @example
 * const watcher = await watchSaves({ projectDir, paths: [appDir], ignored: () => false, onSave: (files) => runCycle(files) });
 * await watcher.close();
 */
export async function watchSaves(options: SaveWatcherOptions): Promise<SaveWatcher> {
  // Loaded here, not at the top: only `moose dev` watches.
  const { watch } = await import("chokidar");
  const debounceMs = options.debounceMs ?? SAVE_DEBOUNCE_MS;
  const watcher = watch([...options.paths], { ignoreInitial: true, ignored: options.ignored });
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  /** Each file as it was when last handed to `onSave` (before the cycle read it). */
  const reported = new Map<string, string>();
  /** Paths with events since the last `onSave`. */
  const burst = new Set<string>();
  const rechecks = new Map<string, NodeJS.Timeout>();
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = (): void => {
    debounce = undefined;
    const paths = [...burst];
    burst.clear();
    for (const p of paths) reported.set(p, fileState(p));
    options.onSave(paths.filter((p) => reported.get(p) !== ABSENT).map((p) => relative(options.projectDir, p)));
  };
  const take = (path: string, file: boolean): void => {
    burst.add(path);
    clearTimeout(debounce);
    debounce = setTimeout(flush, debounceMs);
    // Only files: a folder's events are its entries', each reported for itself.
    if (!file) return;
    clearTimeout(rechecks.get(path));
    rechecks.set(
      path,
      setTimeout(() => {
        rechecks.delete(path);
        // In a burst not yet handed on, the file is read as it is then: nothing was lost.
        if (!closed && !burst.has(path) && fileState(path) !== reported.get(path)) take(path, true);
      }, RECHECK_MS),
    );
  };
  watcher.on("all", (event: string, path: string) => {
    // The change was handed on already (the recheck found it before chokidar reported it).
    if (event === "change" && !burst.has(path) && reported.get(path) === fileState(path)) return;
    take(path, event === "add" || event === "change" || event === "unlink");
  });
  return {
    close: async () => {
      closed = true;
      clearTimeout(debounce);
      for (const timer of rechecks.values()) clearTimeout(timer);
      rechecks.clear();
      await watcher.close();
    },
  };
}

const ABSENT = "absent";

/**
 * What a path holds now, as a string that changes with any save: a file's inode, size, times
 * and a hash of its text (two saves of the same size within one timestamp tick still differ).
 */
function fileState(path: string): string {
  try {
    const st = statSync(path);
    if (!st.isFile()) return `other:${st.ino}:${st.mtimeMs}`;
    const hash = createHash("sha1").update(readFileSync(path)).digest("hex");
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${hash}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? ABSENT : `unreadable:${(error as NodeJS.ErrnoException).code ?? ""}`;
  }
}
