// Loads the TypeScript compiler one way and exits: `esm` (import "typescript", what an ES module
// importing it gets), `require` (a plain require), or `cached` (lib/extract/typescript.cts: require
// semantics from a V8 code cache, written by the first run).
//   node scripts/bench/ts-load-probe.mjs esm|require|cached
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
if (process.argv[2] === "esm") await import("typescript");
else if (process.argv[2] === "cached") require("../../dist/lib/extract/typescript.cjs");
else require("typescript");
