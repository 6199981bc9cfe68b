import { ExitCode } from "../../lib/errors.js";
import { projectOlap } from "../../lib/project/engines.js";
import { runQuery } from "../../lib/project/query.js";
import { devQuery } from "../../lib/dev/client.js";
import { runningDevInstance } from "../../lib/dev/instance.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { renderTable } from "../present/table.js";
import { loadProjectForReading } from "../project.js";
import type { QueryArgs } from "./query.args.js";

export async function run(args: QueryArgs, io: CliIO): Promise<number> {
  const json = args.format === "json";
  try {
    const config = await loadProjectForReading(io);
    const { sql, write } = args;
    // A running `moose dev` holds the embedded engine: ask it.
    const dev = config.olap.engine === "embedded" ? runningDevInstance(config.paths.stateDir) : undefined;
    const olap = dev ? undefined : await projectOlap(config);
    try {
      const result = dev ? await devQuery(dev, sql, write) : await runQuery(olap!, sql, { write });
      if (result.text !== undefined) {
        // The statement named its own FORMAT: ClickHouse's output, as it wrote it.
        io.stdout.write(result.text.endsWith("\n") || result.text === "" ? result.text : result.text + "\n");
      } else if (json) {
        io.stdout.write(JSON.stringify(result.rows, null, 2) + "\n");
      } else if (result.rows.length === 0) {
        io.stdout.write(write && result.statement && !result.statement.startsWith("Select") ? "OK\n" : "(0 rows)\n");
      } else {
        const header = Object.keys(result.rows[0]!);
        io.stdout.write(renderTable(header, result.rows.map((r) => header.map((h) => cell(r[h])))));
        io.stdout.write(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})\n`);
      }
      return ExitCode.success;
    } finally {
      await olap?.close();
    }
  } catch (error) {
    return reportError(error, io, json);
  }
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}
