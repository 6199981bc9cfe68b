/**
 * V8 flags the CLI sets for its own process: the young generation's size (see
 * {@link keepYoungGenerationSmall}), and when the optimizing compiler may run.
 *
 * When V8's optimizing compiler (TurboFan) may run, for commands that read the app once.
 *
 * TurboFan compiles a function on a background thread once it has run hot. In a command that
 * reads one changed model file and plans (about 1.4 s), that compiling is paid for and never
 * earned back: measured on the 1,000-table benchmark app, `moose plan` after a one-file edit
 * took 1.85 s of CPU with it and 1.40 s without it, in the same wall time. In a reading of the
 * whole app it pays: a cold plan of the same app ran 2.5 s with it and 3.4 s without.
 *
 * So the short reading commands start with it off ({@link deferOptimization}, called by the
 * CLI before the command's modules load) and turn it back on where a long job starts
 * ({@link allowOptimization}: a full reading of the app, a replay of the whole history, a plan
 * of hundreds of changes — a first `migrate generate` at 1,000 tables ran 2.4 s with it off
 * and 1.7 s with it on). Only
 * the CLI's own process changes V8's flags: in any other process (tests, a library user)
 * {@link deferOptimization} is never called and {@link allowOptimization} does nothing.
 *
 * V8 keys a code cache to its flags, so typescript.cts keeps one cache per state at load
 * ({@link stateAtLoad}) and writes it under the flags it was loaded with ({@link asAtLoad}).
 */
import v8 = require("node:v8");

/**
 * Keeps V8's young generation at the size it starts with (two semi-spaces of 1 MB) for the
 * whole process, instead of letting it double up to 16 MB each as objects survive. What a
 * command allocates mostly lives to its end (syntax trees, the state caches, the maps), so a
 * bigger young generation saves few collections, and the memory it spans is fresh: on a
 * virtual machine every new 4 KB page is a fault of ~12 µs. Measured on the 1,000-table
 * benchmark app: `moose plan` after a one-file edit, CPU 1.21 s -> 1.07 s, peak RSS 140 -> 110
 * MB; a plan reading the whole app, the same CPU and 221 -> 195 MB. Called by the CLI for the
 * commands that read the app once, with {@link deferOptimization} (not for `moose dev`, whose
 * peak memory was higher with it, one sample each: 629 MB against 606 MB); left alone when the
 * user set a semi-space flag (NODE_OPTIONS or the command line), or with `MOOSE_V8_HEAP=default`.
 */
export function keepYoungGenerationSmall(): void {
  if (process.env["MOOSE_V8_HEAP"] === "default") return;
  const given = [...process.execArgv, ...(process.env["NODE_OPTIONS"] ?? "").split(/\s+/)];
  if (given.some((arg) => /semi[-_]space/.test(arg))) return;
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  youngKept = true;
}

let youngKept = false;

/**
 * The part of a code cache's name that says which of these flags it was written under (V8
 * hashes them into the cache): `-deferred` for TurboFan off at load, `-young1` for a young
 * generation kept small.
 */
export function flagsTag(state: "deferred" | "default"): string {
  return `${state === "deferred" ? "-deferred" : ""}${youngKept ? "-young1" : ""}`;
}

let deferred = false;
let allowed = false;

/** Turns TurboFan off for this process until {@link allowOptimization}; before anything heavy loads. */
export function deferOptimization(): void {
  if (deferred || process.env["MOOSE_ALWAYS_OPTIMIZE"] === "1") return;
  v8.setFlagsFromString("--no-opt");
  deferred = true;
}

/** Turns TurboFan back on: a long job starts (a full reading of the app, a whole replay). */
export function allowOptimization(): void {
  if (!deferred || allowed) return;
  v8.setFlagsFromString("--opt");
  allowed = true;
}

/** `deferred` when TurboFan was off when this is asked (typescript.cts asks as it loads TypeScript). */
export function currentState(): "deferred" | "default" {
  return deferred && !allowed ? "deferred" : "default";
}

/**
 * Runs `write` under the flags of `state` (a code cache carries a hash of V8's flags, and is
 * only accepted by a process whose flags hash the same), then restores the flags.
 */
export function asAtLoad<T>(state: "deferred" | "default", write: () => T): T {
  const now = currentState();
  if (now === state) return write();
  v8.setFlagsFromString(state === "deferred" ? "--no-opt" : "--opt");
  try {
    return write();
  } finally {
    v8.setFlagsFromString(now === "deferred" ? "--no-opt" : "--opt");
  }
}
