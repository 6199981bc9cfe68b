// Checks that the fast path of `moose --help`, `-h`, `--version` and a bare `moose` (cli/help.ts,
// no yargs) prints exactly what the yargs parser (cli/main.ts) prints, with the same exit code.
//   node scripts/bench/verify-fast-help.mjs
const { fastTopLevel } = await import("../../dist/cli/help.js");
const { main } = await import("../../dist/cli/main.js");
const { memoryIO } = await import("../../dist/cli/io.js");
let failed = false;
for (const argv of [[], ["--help"], ["-h"], ["--version"]]) {
  const env = { LANG: "C.UTF-8" };
  const slow = memoryIO(process.cwd(), env);
  const fast = memoryIO(process.cwd(), env);
  // Not a terminal: yargs wraps at 110 columns, as the fast path does.
  const slowCode = await main(argv, slow);
  const fastCode = fastTopLevel(argv, fast, undefined);
  const same = fastCode === slowCode && fast.out() === slow.out() && fast.err() === slow.err();
  process.stdout.write(`${same ? "ok" : "MISMATCH"}: moose ${argv.join(" ")}\n`);
  if (!same) {
    failed = true;
    process.stdout.write(`yargs (exit ${slowCode}):\n${slow.out()}${slow.err()}\nfast (exit ${fastCode}):\n${fast.out()}${fast.err()}\n`);
  }
}
process.exit(failed ? 1 : 0);
