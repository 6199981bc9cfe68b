import { notStrictEqual, strictEqual } from "node:assert";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import type Yargs from "yargs";

/**
 * yargs, made by its own factory with a platform shim that loads cliui and string-width
 * when a help or usage text is drawn, not when the CLI starts. `import yargs from "yargs"`
 * loads both through yargs' shim for Node (`lib/platform-shims/esm.mjs`), and string-width
 * compiles an emoji pattern (`\p{RGI_Emoji}`) and makes an `Intl.Segmenter` as it loads:
 * ~55 ms of CPU on every command that parses arguments, for text that only `--help` and a
 * wrong command line show. Everything else is the shim as yargs writes it, with every module
 * resolved from yargs' own folder (so the same versions).
 *
 * This reaches inside yargs 18 (`build/lib/yargs-factory.js` and the shim's members are not
 * its public API): tests/cli-yargs checks that the shim has exactly the members of yargs' own
 * and that help text is drawn as stock yargs draws it. When the factory is not where yargs 18
 * keeps it, stock yargs is used (slower, same behaviour).
 */
function build(): typeof Yargs {
  const requireHere = createRequire(import.meta.url);
  let root: string;
  let factory: { YargsFactory: (shim: unknown) => typeof Yargs };
  try {
    root = dirname(requireHere.resolve("yargs/package.json"));
    factory = requireHere(join(root, "build", "lib", "yargs-factory.js")) as typeof factory;
  } catch {
    return (requireHere("yargs") as { default: typeof Yargs }).default;
  }
  return factory.YargsFactory(nodeShim(root));
}

/** The members of yargs' `lib/platform-shims/esm.mjs`, with cliui and string-width loaded on first use. */
export function nodeShim(root: string): Record<string, unknown> {
  const shimFile = join(root, "lib", "platform-shims", "esm.mjs");
  // Resolves as yargs' shim does: its dependencies, in the versions yargs was installed with.
  const requireShim = createRequire(shimFile);
  const load = <T>(id: string): T => {
    const m = requireShim(id) as { default?: T };
    return (m.default ?? m) as T;
  };
  let cliui: ((options: unknown) => unknown) | undefined;
  let stringWidth: ((text: string) => number) | undefined;
  const getCallerFile = load<(position?: number) => string>("get-caller-file");
  const y18n = load<(options: { directory: string; updateFiles: boolean }) => unknown>("y18n");
  const mainFilename = shimFile.substring(0, shimFile.lastIndexOf("node_modules"));
  return {
    assert: { notStrictEqual, strictEqual },
    cliui: (options: unknown) => (cliui ??= load<(options: unknown) => unknown>("cliui"))(options),
    findUp: load("escalade/sync"),
    getEnv: (key: string) => process.env[key],
    inspect,
    getProcessArgvBin: (requireShim(join(root, "build", "lib", "utils", "process-argv.js")) as { getProcessArgvBin: () => string }).getProcessArgvBin,
    mainFilename: mainFilename || process.cwd(),
    Parser: load("yargs-parser"),
    path: { basename, dirname, extname, relative, resolve, join },
    process: {
      argv: () => process.argv,
      cwd: process.cwd,
      emitWarning: (warning: string | Error, type?: string) => process.emitWarning(warning, type),
      execPath: () => process.execPath,
      exit: (code: number) => process.exit(code),
      nextTick: process.nextTick,
      stdColumns: typeof process.stdout.columns !== "undefined" ? process.stdout.columns : null,
    },
    readFileSync,
    readdirSync,
    require: requireShim,
    getCallerFile: () => {
      const callerFile = getCallerFile(3);
      return callerFile.match(/^file:\/\//) ? fileURLToPath(callerFile) : callerFile;
    },
    stringWidth: (text: string) => (stringWidth ??= load<(text: string) => number>("string-width"))(text),
    y18n: y18n({ directory: resolve(shimFile, "../../../locales"), updateFiles: false }),
  };
}

const yargs: typeof Yargs = build();
export default yargs;
