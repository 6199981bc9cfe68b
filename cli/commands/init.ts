import { relative } from "node:path";
import { resolve } from "node:path";
import { ExitCode } from "../../lib/errors.js";
import { initProject } from "../../lib/project/init.js";
import type { CliIO } from "../io.js";
import type { InitArgs } from "./init.args.js";

export async function run(args: InitArgs, io: CliIO): Promise<number> {
  const dir = resolve(io.cwd, args.dir);
  const result = initProject(dir);
  const shown = relative(io.cwd, result.projectDir) || ".";
  io.stdout.write(`Created a moose project in ${result.projectDir}\n`);
  for (const f of result.written) io.stdout.write(`  + ${f}\n`);
  io.stdout.write(
    [
      "",
      "It uses the embedded engines (ClickHouse via chDB, a local stream log): no server to start.",
      "Next:",
      ...(shown === "." ? [] : [`  cd ${shown}`]),
      "  npx moose plan      # what the code declares, as a plan",
      "  npx moose dev       # watch app/, apply changes as you save",
      "",
    ].join("\n"),
  );
  return ExitCode.success;
}
