import { ExitCode } from "../../lib/errors.js";
import { checkMigrations } from "../../lib/migrations/review/check.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import { writeFindings } from "../present/findings.js";
import type { MigrateCheckArgs } from "./migrate-check.args.js";
import { localLedgerView } from "../../lib/migrations/apply/status.js";

export async function run(args: MigrateCheckArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = await loadProject(io);
    const report = await checkMigrations(config, await localLedgerView(config));
    if (json) io.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else {
      writeFindings(io, report.findings);
      const ledger = report.ledger === "local" ? "checked against the local ledger" : "no local ledger: every file is treated as pending";
      io.stdout.write(
        report.ok
          ? `OK: ${report.migrations} migration${report.migrations === 1 ? "" : "s"} capture the code; ${report.pending.length} pending (${ledger}).\n`
          : `\nCheck failed: ${report.findings.filter((f) => f.severity === "error").length} problem(s) (${ledger}).\n`,
      );
    }
    return report.ok ? ExitCode.success : ExitCode.refused;
  } catch (error) {
    return reportError(error, io, json);
  }
}
