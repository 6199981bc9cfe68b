/**
 * The TypeScript compiler, loaded with `require` semantics and a V8 code cache.
 *
 * Importing the 9 MB CommonJS `typescript` package from an ES module makes Node
 * scan the whole file for named exports (cjs-module-lexer) before running it,
 * which costs 0.3-0.7 s on every cold command; `require` skips that scan. What is
 * left is compiling the file (~100 ms) and, during extraction, compiling each
 * parser and checker function on first use. Node 20 has no compile cache
 * (`module.enableCompileCache` came in Node 22), so this file keeps one: after the
 * first command that loads TypeScript, V8's code for the file (with the functions
 * that command compiled) is written to the user's cache folder, and later
 * commands start from it. V8 checks the data against the source and its own
 * version and flags; rejected data is rewritten. A cache written by a command
 * that read no app with TypeScript (a `plan` whose files all came from the
 * extraction cache, `ls`) lacks the parser's, binder's and checker's functions,
 * which every later reading would compile again (about 0.4 s of CPU at 1,000
 * tables): the first command that reads an app rewrites it, once. Its first byte
 * says which kind it is. `MOOSE_NO_COMPILE_CACHE=1` turns the cache off.
 *
 * Modules import this file instead of `"typescript"` (`import ts from
 * "./typescript.cjs"`): same value, same types.
 */
import buffer = require("node:buffer");
import fs = require("node:fs");
import os = require("node:os");
import path = require("node:path");
import vm = require("node:vm");
import NodeModule = require("node:module");
import grade = require("./code-cache-grade.cjs");
import tiering = require("./tiering.cjs");

/** The cache file's first byte: written by a command that read an app with TypeScript, or not. */
const READ_APP = 1;
const LOAD_ONLY = 0;

/** Where the code cache lives: `$XDG_CACHE_HOME/moose-migrate`, `~/.cache/moose-migrate`, else the temp folder. */
function cacheDir(): string {
  const base = process.env["XDG_CACHE_HOME"] || (os.homedir() ? path.join(os.homedir(), ".cache") : os.tmpdir());
  return path.join(base, "moose-migrate");
}

/**
 * `NodeModule.wrap(text of typescript.js)`, as one flat string, and the file's stat.
 *
 * Node 20 decodes 9 MB of UTF-8 at ~90 MB/s (~100 ms here); the file is ASCII, whose bytes
 * are the same text read as Latin-1, which is a copy. And the wrapper is written around the
 * file's bytes before they become a string: `wrap(source)` is a concatenation that V8 copies
 * into one flat string of 9 MB more to compile it, and fresh memory is what costs most on a
 * virtual machine (a fault per 4 KB page, ~12 µs each here). Anything but ASCII is decoded as
 * UTF-8 and wrapped as Node does.
 */
function readWrapped(file: string): { readonly wrapped: string; readonly stat: fs.Stats } {
  const [head = "", tail = ""] = NodeModule.wrap("\0").split("\0");
  const fd = fs.openSync(file, "r");
  try {
    const stat = fs.fstatSync(fd);
    const bytes = Buffer.allocUnsafeSlow(head.length + stat.size + tail.length);
    bytes.write(head, 0, "latin1");
    let read = 0;
    for (let n = -1; n !== 0 && read < stat.size; read += n) n = fs.readSync(fd, bytes, head.length + read, stat.size - read, null);
    if (read !== stat.size) throw new Error(`${file} changed while it was read`);
    bytes.write(tail, head.length + stat.size, "latin1");
    const wrapped = buffer.isAscii(bytes) ? bytes.toString("latin1") : NodeModule.wrap(bytes.toString("utf8", head.length, head.length + stat.size));
    return { wrapped, stat };
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs `typescript.js` from the code cache and leaves the module in `require.cache`, where `require` finds it. */
function preload(): void {
  const file = require.resolve("typescript");
  if (process.env["MOOSE_NO_COMPILE_CACHE"] === "1" || require.cache[file]) return;
  let wrapped: string;
  let stat: fs.Stats;
  try {
    ({ wrapped, stat } = readWrapped(file));
  } catch {
    return;
  }
  const key = `${stat.size}-${Math.trunc(stat.mtimeMs)}-${process.version}-${process.arch}`.replace(/[^A-Za-z0-9._-]/g, "_");
  // V8 accepts a cache only under the flags it was written with: one per optimizer state (tiering.cts).
  const state = tiering.currentState();
  const cacheFile = path.join(cacheDir(), `typescript-${key}${tiering.flagsTag(state)}.graded.v8cache`);
  let cachedData: Buffer | undefined;
  let kind: number | undefined;
  try {
    const raw = fs.readFileSync(cacheFile);
    kind = raw[0];
    cachedData = raw.length > 1 && (kind === READ_APP || kind === LOAD_ONLY) ? raw.subarray(1) : undefined;
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const mod = new NodeModule(file, module);
  mod.filename = file;
  mod.paths = (NodeModule as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeModule, filename: string, dirname: string) => void;
  run.call(mod.exports, mod.exports, NodeModule.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  require.cache[file] = mod;
  const missing = !cachedData || script.cachedDataRejected;
  // Written when the process ends, so that the cache holds the functions this command compiled.
  process.once("exit", () => {
    if (missing || (kind !== READ_APP && grade.appRead())) tiering.asAtLoad(state, () => writeCache(script, cacheFile, key, grade.appRead() ? READ_APP : LOAD_ONLY));
  });
}

function writeCache(script: vm.Script, cacheFile: string, key: string, kind: number): void {
  try {
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    const temp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(temp, Buffer.concat([Buffer.from([kind]), script.createCachedData()]));
    fs.renameSync(temp, cacheFile);
    // Caches of other TypeScript or Node.js versions are never read again.
    for (const name of fs.readdirSync(path.dirname(cacheFile))) {
      if (name.startsWith("typescript-") && name.endsWith(".v8cache") && !name.startsWith(`typescript-${key}.`) && !name.startsWith(`typescript-${key}-`)) fs.rmSync(path.join(path.dirname(cacheFile), name), { force: true });
    }
  } catch {
    // A cache that cannot be written only costs the next command the compile time.
  }
}

preload();
import ts = require("typescript");
export = ts;
