import { relative } from "node:path";
import { ExitCode } from "../../lib/errors.js";
import { generateMigration } from "../../lib/migrations/generate.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { renderPlanText } from "../present/plan-text.js";
import { loadProject, printWarnings } from "../project.js";
import { VERSION } from "../version.js";

export async function run(args: Record<string, unknown>, io: CliIO): Promise<number> {
  try {
    const config = await loadProject(io);
    const name = args["name"] === undefined ? undefined : String(args["name"]);
    const result = generateMigration(config, { toolVersion: VERSION, ...(name === undefined ? {} : { name }) });
    printWarnings(result.report.app.warnings, io);
    if (result.kind === "no-changes") {
      io.stdout.write("No changes: the code matches the state of the committed migrations; nothing written.\n");
      return ExitCode.success;
    }
    io.stdout.write(renderPlanText(result.report.plan));
    io.stdout.write(`\nWrote ${relative(io.cwd, result.path)}\n`);
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io);
  }
}
