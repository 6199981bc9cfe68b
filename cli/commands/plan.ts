import { ExitCode } from "../../lib/errors.js";
import type { PlanReport } from "../../lib/project/plan-project.js";
import { planCommitted } from "../../lib/migrations/generate.js";
import type { CliIO } from "../io.js";
import { renderPlanText } from "../present/plan-text.js";
import { loadProject, printWarnings } from "../project.js";
import { reportError } from "../errors.js";

export async function run(args: Record<string, unknown>, io: CliIO): Promise<number> {
  const json = Boolean(args["json"]);
  try {
    if (args["url"] !== undefined) {
      io.stderr.write("error[NOT_IMPLEMENTED]: `moose plan --url` (remote planning) is not implemented yet\n");
      return ExitCode.failure;
    }
    const config = await loadProject(io);
    const report = planCommitted(config);
    printWarnings(report.app.warnings, io);
    io.stdout.write(json ? JSON.stringify(planJson(report), null, 2) + "\n" : renderPlanText(report.plan));
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}

/** The plan as data: the same steps the text shows, with their risk and reverse. */
export function planJson(report: PlanReport): unknown {
  return {
    ok: true,
    source: report.source,
    fromHash: report.fromHash,
    toHash: report.toHash,
    changes: report.changes.length,
    steps: report.plan.steps,
  };
}
