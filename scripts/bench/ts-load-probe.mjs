// Loads the TypeScript compiler one way and exits: `esm` (import "typescript", what an ES module
// importing it gets), `require` (a plain require), or `cached` (lib/extract/typescript.cts: require
// semantics from a V8 code cache, written by the first run). `program FILE` then builds and binds
// the Program planning builds for FILE (lib/extract/program.ts): with a file that only imports this
// library, what any Program costs before the app's own files (TypeScript's lib files, the library's
// declarations), under the V8 flags `moose plan` sets.
//   node scripts/bench/ts-load-probe.mjs esm|require|cached|program [FILE]
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
if (process.argv[2] === "esm") await import("typescript");
else if (process.argv[2] === "cached") require("../../dist/lib/extract/typescript.cjs");
else if (process.argv[2] === "program") {
  // Under the V8 flags a reading command runs with (lib/extract/tiering.cts), as `moose plan` does.
  const tiering = require("../../dist/lib/extract/tiering.cjs");
  tiering.keepYoungGenerationSmall();
  tiering.deferOptimization();
  const { AppProgram } = await import("../../dist/lib/extract/program.js");
  new AppProgram(process.argv[3]).update().getTypeChecker();
}
else require("typescript");
