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
moose(project, "migrate", "generate", "--name", "create users");
moose(project, "migrate", "deploy");
moose(project, "query", "INSERT INTO Users (id, name, email) VALUES ('u1', 'Ada', 'ada@example.com')", "--write");
moose(project, "query", "SELECT * FROM Users");
moose(project, "migrate", "status");
process.stdout.write(`\nThe project is in ${project}: embedded ClickHouse data and the ledger are under .moose/.\nNext: cd there and run \`npx moose dev\`, then edit app/index.ts.\n`);
