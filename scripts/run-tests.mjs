// Runs the ava suite and ends with one plain summary line ("tests: N passed, M failed, K skipped")
// that CI reads; the exit code is ava's.
import { spawn } from "node:child_process";

const args = ["ava", ...process.argv.slice(2)];
const child = spawn("npx", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
let text = "";
for (const stream of [child.stdout, child.stderr]) {
  stream.on("data", (chunk) => {
    text += chunk;
    (stream === child.stdout ? process.stdout : process.stderr).write(chunk);
  });
}
child.on("close", (code) => {
  const count = (re) => Number(text.match(re)?.[1] ?? 0);
  // ava prints "N tests passed" only when nothing failed: count the ✔ lines instead.
  const passed = (text.match(/^\s*✔ /gm) ?? []).length;
  const failed = count(/(\d+) tests? failed/) + count(/(\d+) uncaught exceptions?/) + count(/(\d+) unhandled rejections?/);
  const skipped = count(/(\d+) tests? skipped/) + count(/(\d+) tests? todo/);
  process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(code ?? 1);
});
