import { ExitCode } from "../../lib/errors.js";
import { rollback, type RollbackReport } from "../../lib/migrations/apply/rollback.js";
import { runProgress } from "../present/run-progress.js";
import { migrationLog, type MigrationLog } from "../../lib/project/migration-log.js";
import { openDeployEngines, projectLedger, projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import { writePlannedSteps } from "../present/steps.js";
import type { MigrateRollbackArgs } from "./migrate-rollback.args.js";
import { stepLabel } from "../../lib/migrations/files/steps.js";

export async function run(args: MigrateRollbackArgs, io: CliIO): Promise<number> {
  const { json, dryRun } = args;
  let log: MigrationLog | undefined;
  try {
    const config = opensEmbedded(await loadProject(io));
    if (!dryRun) log = migrationLog(config.paths.logFile, "rollback", []);
    const files = projectMigrations(config);
    if (!dryRun) log = migrationLog(config.paths.logFile, "rollback", files);
    const ledger = await projectLedger(config, VERSION);
    writeNotices(io, ledger.notices);
    const labels = new Map(files.map((f) => [f.id, (f.down ?? []).map((l) => stepLabel(l.step))]));
    const shown = runProgress(io, (id, i) => labels.get(id)?.[i] ?? `reverse step ${i + 1}`);
    try {
      const report = await rollback(files, ledger, (needs) => openDeployEngines(config, needs), {
        dryRun,
        ...(args.to === undefined ? {} : { to: args.to }),
        acceptDataLoss: args.acceptDataLoss,
        lockWaitMs: args.lockTimeout * 1000,
        onTakeover: (previous) => io.stderr.write(`note: took over the migration lock from ${previous.owner} (held since ${previous.acquiredAt}): its process is gone or stopped renewing it\n`),
        onEvent: (e) => {
          if (!json) shown.onEvent(e);
          log?.event(e);
        },
      }).finally(shown.stop);
      for (const m of report.migrations) log?.outcome(m.id, m);
      if (json) io.stdout.write(JSON.stringify({ ok: report.ok, dryRun, migrations: report.migrations }, null, 2) + "\n");
      else summary(report, dryRun, io);
      return report.ok ? ExitCode.success : ExitCode.failure;
    } finally {
      await ledger.close();
    }
  } catch (error) {
    log?.error(error);
    return reportError(error, io, json);
  }
}

function summary(report: RollbackReport, dryRun: boolean, io: CliIO): void {
  if (report.migrations.length === 0) {
    io.stdout.write("Nothing to roll back.\n");
    return;
  }
  for (const m of report.migrations) {
    if (m.status === "planned") {
      writePlannedSteps(io, m.id, m.steps);
    } else if (m.status === "failed") {
      io.stderr.write(`error[STEP_FAILED]: rolling back ${m.id}: reverse step ${m.failedStep + 1} failed: ${m.error}\n  hint: fix the cause and run \`moose migrate rollback\` again; it resumes at that step\n`);
    } else if (m.status === "not-run") {
      io.stdout.write(`${m.id}: not rolled back (an earlier rollback failed)\n`);
    } else {
      io.stdout.write(`Rolled back ${m.id}: its file is pending again; delete or change it before the next deploy.\n`);
    }
  }
  if (dryRun) io.stdout.write("\nDry run: nothing was rolled back.\n");
}
