// Loads the TypeScript compiler one way and exits: `esm` (import "typescript", what an ES module
// importing it gets) or `require` (what lib/extract/typescript.cts does).
//   node scripts/bench/ts-load-probe.mjs esm|require
import { createRequire } from "node:module";
if (process.argv[2] === "esm") await import("typescript");
else createRequire(import.meta.url)("typescript");
