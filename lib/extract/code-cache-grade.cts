/**
 * Whether this process read an app with TypeScript (built a Program and asked its checker for
 * types): the V8 code cache of TypeScript (typescript.cts) written at its exit then holds the
 * parser's, binder's and checker's functions, not only what loading TypeScript compiles.
 */
let readApp = false;

/** Called after an extraction read files with TypeScript. */
export function noteAppRead(): void {
  readApp = true;
}

export function appRead(): boolean {
  return readApp;
}
