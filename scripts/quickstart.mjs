// `npm run quickstart`: a new project from `moose init`, then the commands a new user runs first,
// all on the embedded engines (no server). Prints every command and its output.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../dist/cli/bin.js", import.meta.url));
const root = process.argv[2] ?? mkdtempSync(join(tmpdir(), "moose-quickstart-"));
const project = join(root, "demo");

function moose(cwd, ...args) {
  process.stdout.write(`\n$ moose ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`quickstart: \`moose ${args.join(" ")}\` exited with ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}

moose(root, "init", "demo");
moose(project, "plan");
moose(project, "ls");
process.stdout.write(`\nThe project is in ${project}. Edit app/index.ts and run \`npx moose plan\` there.\n`);
