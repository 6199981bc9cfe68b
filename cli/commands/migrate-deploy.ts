import { ExitCode } from "../../lib/errors.js";
import { deploy, type DeployReport } from "../../lib/migrations/apply/deploy.js";
import { runProgress } from "../present/run-progress.js";
import { migrationLog, type MigrationLog } from "../../lib/project/migration-log.js";
import { openDeployEngines, projectLedger, projectMigrations } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import { writePlannedSteps } from "../present/steps.js";
import type { MigrateDeployArgs } from "./migrate-deploy.args.js";
import { stepLabel } from "../../lib/migrations/files/steps.js";

export async function run(args: MigrateDeployArgs, io: CliIO): Promise<number> {
  const { json, dryRun } = args;
  let log: MigrationLog | undefined;
  try {
    const config = opensEmbedded(await loadProject(io));
    if (!dryRun) log = migrationLog(config.paths.logFile, "deploy", []);
    const files = projectMigrations(config);
    if (!dryRun) log = migrationLog(config.paths.logFile, "deploy", files);
    const ledger = await projectLedger(config, VERSION);
    writeNotices(io, ledger.notices);
    const labels = new Map(files.map((f) => [f.id, f.up.map((l) => stepLabel(l.step))]));
    const shown = runProgress(io, (id, i) => labels.get(id)?.[i] ?? `step ${i + 1}`);
    try {
      const report = await deploy(files, ledger, (needs) => openDeployEngines(config, needs), {
        dryRun,
        allowOutOfOrder: args.allowOutOfOrder,
        resumeRunning: args.resumeRunning,
        verifyUpToDate: true,
        lockWaitMs: args.lockTimeout * 1000,
        onTakeover: (previous) => io.stderr.write(`note: took over the migration lock from ${previous.owner} (held since ${previous.acquiredAt}): its process is gone or stopped renewing it\n`),
        onEvent: (e) => {
          if (!json) shown.onEvent(e);
          log?.event(e);
        },
      }).finally(shown.stop);
      for (const m of report.migrations) log?.outcome(m.id, m);
      if (json) io.stdout.write(JSON.stringify({ ok: report.ok, dryRun, migrations: report.migrations }, null, 2) + "\n");
      else summary(report, dryRun, io, (id, i) => labels.get(id)?.[i] ?? `step ${i + 1}`);
      // A pre-flight check that stopped a step changed nothing: a refusal for safety, like an unapproved drop.
      const refused = report.migrations.some((m) => m.status === "failed" && m.code === "CHECK_FAILED");
      return report.ok ? ExitCode.success : refused ? ExitCode.refused : ExitCode.failure;
    } finally {
      await ledger.close();
    }
  } catch (error) {
    log?.error(error);
    return reportError(error, io, json);
  }
}

function summary(report: DeployReport, dryRun: boolean, io: CliIO, label: (id: string, index: number) => string): void {
  const pending = report.migrations.filter((m) => m.status !== "already-applied");
  if (pending.length === 0) {
    io.stdout.write("No pending migrations: the database is up to date.\n");
    return;
  }
  for (const m of report.migrations) {
    if (m.status === "planned") {
      writePlannedSteps(io, m.id, m.steps);
    } else if (m.status === "failed") {
      if (m.code === "CHECK_FAILED") {
        io.stderr.write(`error[CHECK_FAILED]: ${m.id}: step ${m.failedStep + 1} (${label(m.id, m.failedStep)}) was stopped by its pre-flight check; nothing of that step ran: ${m.error.replace(/^CHECK_FAILED: /, "")}\n  hint: ${m.stepsApplied === 0 ? "you may edit the migration file (fix the data first, or approve the step); the next deploy starts it afresh" : `fix the data and run \`moose migrate deploy\` again; it resumes at step ${m.failedStep + 1}`}\n`);
      } else {
        io.stderr.write(`error[STEP_FAILED]: ${m.id}: step ${m.failedStep + 1} (${label(m.id, m.failedStep)}) failed after ${m.stepsApplied} applied step(s): ${m.error}\n  hint: fix the cause and run \`moose migrate deploy\` again; it resumes at step ${m.failedStep + 1}\n`);
      }
    } else if (m.status === "not-run") {
      io.stdout.write(`${m.id}: not run (an earlier migration failed)\n`);
    }
  }
  if (dryRun) io.stdout.write("\nDry run: nothing was applied.\n");
  else if (report.ok) io.stdout.write(`\n${pending.length} migration${pending.length === 1 ? "" : "s"} applied.\n`);
}
