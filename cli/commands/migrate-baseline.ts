import { relative } from "node:path";
import { ExitCode } from "../../lib/errors.js";
import { baselineDatabase } from "../../lib/migrations/author/baseline.js";
import { extractProject } from "../../lib/project/plan-project.js";
import { projectLedger, projectOlap } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { loadProject, opensEmbedded, printWarnings } from "../project.js";
import { VERSION } from "../version.js";
import type { MigrateBaselineArgs } from "./migrate-baseline.args.js";

export async function run(args: MigrateBaselineArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    const config = opensEmbedded(await loadProject(io));
    const app = extractProject(config);
    printWarnings(app.warnings, io);
    const ledger = await projectLedger(config, VERSION);
    writeNotices(io, ledger.notices);
    try {
      const olap = await projectOlap(config);
      try {
        const result = await baselineDatabase(config, app, ledger, olap, { toolVersion: VERSION, name: args.name });
        const path = relative(io.cwd, result.path);
        if (json) {
          io.stdout.write(JSON.stringify({ ok: true, id: result.id, path, adopted: result.adopted, differing: result.differing, missing: result.missing, undeclared: result.undeclared }, null, 2) + "\n");
          return ExitCode.success;
        }
        const list = (items: readonly string[]) => items.map((i) => `  ${i.replace(/^tables:/, "table ").replace(/^views:/, "view ").replace(/^plainViews:/, "plain view ").replace(/^sqlResources:/, "SQL resource ")}\n`).join("");
        io.stdout.write(`Wrote ${path}, recorded as applied (nothing was run).\n`);
        if (result.adopted.length > 0) io.stdout.write(`Adopted from the database:\n${list(result.adopted)}`);
        else io.stdout.write("The database has none of the declared tables and views; the baseline is empty.\n");
        if (result.differing.length > 0) io.stdout.write(`Recorded as the database has them (they differ from the code; the next \`moose migrate generate\` plans the difference):\n${list(result.differing)}`);
        if (result.missing.length > 0) io.stdout.write(`Declared but not in the database (the next migration creates them):\n${list(result.missing)}`);
        if (result.undeclared.length > 0) io.stdout.write(`In the database but not declared (left alone):\n${list(result.undeclared)}`);
        return ExitCode.success;
      } finally {
        await olap.close();
      }
    } finally {
      await ledger.close();
    }
  } catch (error) {
    return reportError(error, io, json);
  }
}
