import { ExitCode } from "../../lib/errors.js";
import type { StatusReport } from "../../lib/migrations/apply/status.js";
import { openAndReportStatus } from "../../lib/project/status.js";
import { devRequest } from "../../lib/dev/client.js";
import { runningDevInstance } from "../../lib/dev/instance.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { renderTable } from "../present/table.js";
import { loadProjectForReading } from "../project.js";
import { VERSION } from "../version.js";
import type { MigrateStatusArgs } from "./migrate-status.args.js";

const EXIT = { ok: ExitCode.success, pending: ExitCode.pending, failed: ExitCode.failure, refused: ExitCode.refused } as const;

export async function run(args: MigrateStatusArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = await loadProjectForReading(io);
    const dev = config.olap.engine === "embedded" ? runningDevInstance(config.paths.stateDir) : undefined;
    const report = dev ? (await devRequest<{ report: StatusReport }>(dev, "status")).report : await openAndReportStatus(config, VERSION);
    writeNotices(io, report.notices ?? []);
    if (json) {
      io.stdout.write(JSON.stringify({ ok: report.verdict === "ok", verdict: report.verdict, migrations: report.rows, drift: report.drift }, null, 2) + "\n");
    } else {
      io.stdout.write(
        report.rows.length === 0
          ? "No migrations yet (moose migrate generate writes the first).\n"
          : renderTable(
              ["migration", "state", "detail"],
              report.rows.map((r) => [r.id, r.state, r.detail ?? (r.record?.finishedAt ? `at ${r.record.finishedAt}` : "")]),
            ),
      );
      if (!report.driftChecked && report.rows.length > 0) io.stdout.write("\nDrift not checked: history is edited or removed, or a migration is half-applied.\n");
      if (report.drift.length > 0) {
        io.stdout.write("\nDrift: the live database differs from the applied migrations:\n");
        for (const d of report.drift) io.stdout.write(`  ${d}\n`);
      }
      io.stdout.write(`\n${VERDICT_TEXT[report.verdict]}\n`);
    }
    return EXIT[report.verdict];
  } catch (error) {
    return reportError(error, io, json);
  }
}

const VERDICT_TEXT = {
  ok: "Up to date.",
  pending: "Pending migrations: run `moose migrate deploy`.",
  failed: "A migration failed part-way: fix the cause and run `moose migrate deploy` to resume.",
  refused: "Refused: applied history was edited or removed, a migration is out of order, or the database drifted (see above).",
} as const;
