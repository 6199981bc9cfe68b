import { ExitCode, InvalidInputError } from "../../lib/errors.js";
import { resolveMigration } from "../../lib/migrations/apply/resolve.js";
import { openDeployEngines, projectLedger, projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import type { MigrateResolveArgs } from "./migrate-resolve.args.js";

export async function run(args: MigrateResolveArgs, io: CliIO): Promise<number> {
  try {
    const applied = args.applied;
    const rolledBack = args.rolledBack;
    if ((applied === undefined) === (rolledBack === undefined)) {
      throw new InvalidInputError("RESOLVE_USAGE", "name exactly one of --applied <id> or --rolled-back <id>");
    }
    const id = String(applied ?? rolledBack);
    const config = opensEmbedded(await loadProject(io));
    const files = projectMigrations(config);
    const ledger = await projectLedger(config, VERSION);
    writeNotices(io, ledger.notices);
    try {
      const report = await resolveMigration(files, ledger, (needs) => openDeployEngines(config, needs), id, applied !== undefined ? "applied" : "rolled-back", {
        lockWaitMs: args.lockTimeout * 1000,
      });
      const was = report.previous ? ` (was ${report.previous.status.replace("_", " ")})` : "";
      io.stdout.write(
        report.resolution === "applied"
          ? `Recorded ${id} as applied${was}; nothing was run.\n`
          : `Recorded ${id} as rolled back${was}: it is pending again; edit or delete its file before the next deploy.\n`,
      );
      return ExitCode.success;
    } finally {
      await ledger.close();
    }
  } catch (error) {
    return reportError(error, io);
  }
}
