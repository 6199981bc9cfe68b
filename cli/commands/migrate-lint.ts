import { ExitCode } from "../../lib/errors.js";
import { findMigration } from "../../lib/migrations/author/rebase.js";
import { lintMigrations } from "../../lib/migrations/review/check.js";
import { describeTarget, sqlTarget } from "../../lib/migrations/review/sql-preview.js";
import { projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import { writeFindings } from "../present/findings.js";
import type { MigrateLintArgs } from "./migrate-lint.args.js";
import { localLedgerView } from "../../lib/migrations/apply/status.js";

export async function run(args: MigrateLintArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = await loadProject(io);
    const files = projectMigrations(config);
    const ids = (args.ids ?? []).map((wanted) => findMigration(files, wanted).id);
    const target = await sqlTarget(config, args.serverVersion);
    const report = await lintMigrations(config, target, await localLedgerView(config), ids);
    if (json) io.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else {
      writeFindings(io, report.findings);
      const errors = report.findings.filter((f) => f.severity === "error").length;
      io.stdout.write(`${report.findings.length === 0 ? "" : "\n"}Linted ${report.migrations.length} migration${report.migrations.length === 1 ? "" : "s"} for ${describeTarget(report.target)}: ${errors} error(s), ${report.findings.length - errors} warning(s).\n`);
    }
    return report.ok ? ExitCode.success : ExitCode.refused;
  } catch (error) {
    return reportError(error, io, json);
  }
}
