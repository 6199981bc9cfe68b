/**
 * The TypeScript compiler, loaded with `require`. Importing the 9 MB CommonJS
 * `typescript` package from an ES module makes Node scan the whole file for named
 * exports (cjs-module-lexer) before running it, which costs 0.3-0.7 s on every
 * cold command; `require` skips that scan. Modules import this file instead of
 * `"typescript"` (`import ts from "./typescript.cjs"`): same value, same types.
 */
import ts = require("typescript");
export = ts;
