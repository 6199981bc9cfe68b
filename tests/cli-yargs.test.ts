import test from "ava";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { nodeShim } from "../cli/yargs.js";
import { tempDir } from "./helpers/cli.js";

// cli/yargs.ts remakes yargs' platform shim for Node so that cliui and string-width load when
// help text is drawn. These tests hold it to yargs' own shim, which a yargs upgrade may change.

const yargsRoot = dirname(createRequire(import.meta.url).resolve("yargs/package.json"));
const stockShim = async (): Promise<Record<string, unknown>> =>
  ((await import(pathToFileURL(join(yargsRoot, "lib", "platform-shims", "esm.mjs")).href)) as { default: Record<string, unknown> }).default;

const shape = (shim: Record<string, unknown>): Record<string, string | string[]> =>
  Object.fromEntries(
    Object.keys(shim)
      .sort()
      .map((k) => {
        const v = shim[k];
        // Plain groups of members (`path`, `process`, `assert`) are compared member by member.
        return [k, v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype && k !== "y18n" ? Object.keys(v).sort() : typeof v];
      }),
  );

test("the CLI's yargs shim has exactly the members of yargs' own, of the same kinds", async (t) => {
  t.deepEqual(shape(nodeShim(yargsRoot)), shape(await stockShim()));
});

test("the shim measures and lays out text as yargs' own does (string-width, cliui)", async (t) => {
  const ours = nodeShim(yargsRoot);
  const stock = await stockShim();
  for (const text of ["plan", "héllo", "日本語", "👍🏽 ok", "\u001b[31mred\u001b[39m", "a\u0301b", ""]) {
    t.is((ours["stringWidth"] as (s: string) => number)(text), (stock["stringWidth"] as (s: string) => number)(text), JSON.stringify(text));
  }
  const draw = (shim: Record<string, unknown>): string => {
    const ui = (shim["cliui"] as (o: unknown) => { div: (...c: unknown[]) => void; toString: () => string })({ width: 40, wrap: true });
    ui.div({ text: "--server-version", width: 18, padding: [0, 2, 0, 2] }, { text: "ClickHouse version to write the SQL for, e.g. 24.8 (日本語 👍)", padding: [0, 0, 0, 0] });
    return ui.toString();
  };
  t.is(draw(ours), draw(stock));
});

test("parsing a command line loads neither string-width nor cliui; drawing help does", (t) => {
  // A child process: modules load once per process. Each Intl.Segmenter made is counted
  // (string-width makes one as it loads). `migrate status` outside a project parses, runs and
  // fails on the missing config; `plan --help` draws help.
  const project = tempDir("cli-yargs");
  const script = `
    let made = 0;
    const Segmenter = Intl.Segmenter;
    Intl.Segmenter = class extends Segmenter { constructor(...a) { super(...a); made++; } };
    const { main } = await import(${JSON.stringify(pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "..", "cli", "main.js")).href)});
    const quiet = { cwd: ${JSON.stringify(project)}, env: {}, isTTY: false, stdout: { write() {} }, stderr: { write() {} }, stopped: () => new Promise(() => {}) };
    const parsed = await main(["migrate", "status", "--json"], quiet);
    const afterParse = made;
    await main(["plan", "--help"], quiet);
    process.stdout.write(JSON.stringify({ parsed, afterParse, afterHelp: made }));
  `;
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: project, encoding: "utf8" })) as { parsed: number; afterParse: number; afterHelp: number };
  t.not(out.parsed, 0, "migrate status ran and failed (no project): the command line was parsed");
  t.is(out.afterParse, 0);
  t.true(out.afterHelp >= 1);
});
