import { relative } from "node:path";
import { ExitCode } from "../../lib/errors.js";
import { rebaseMigration } from "../../lib/migrations/author/rebase.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject } from "../project.js";
import type { MigrateRebaseArgs } from "./migrate-rebase.args.js";
import { localLedgerView } from "../../lib/migrations/apply/status.js";

export async function run(args: MigrateRebaseArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = await loadProject(io);
    const r = rebaseMigration(config, args.id, await localLedgerView(config));
    if (json) io.stdout.write(JSON.stringify({ ok: true, ...r, path: relative(io.cwd, r.path) }, null, 2) + "\n");
    else {
      io.stdout.write(`Rebased ${r.from} onto ${r.after ?? "an empty history"}: now ${relative(io.cwd, r.path)} (parent ${r.parent.slice(7, 19)}, result ${r.result.slice(7, 19)}; steps unchanged).\n`);
      io.stdout.write("Review the diff, then run `moose migrate check`.\n");
    }
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}
