import { openLogFile, type LogFile } from "../../lib/dev/log.js";
import { ExitCode } from "../../lib/errors.js";
import type { ProductionEvent } from "../../lib/prod/start.js";
import type { CliIO } from "../io.js";
import { reportError } from "../errors.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import type { ProdArgs } from "./prod.args.js";

/**
 * `moose prod [--port N]`: serves the deployed project until SIGINT or SIGTERM,
 * then closes gracefully (exit 0). Refusals before listening use the usual
 * exit codes: 2 malformed admin key or config, 3 broken history, 4 pending
 * migrations, 1 a failed migration or an engine error.
 */
export async function run(args: ProdArgs, io: CliIO): Promise<number> {
  try {
    const config = opensEmbedded(await loadProject(io));
    // Lines go to stderr and to the project log, where `moose logs` finds them.
    let log: LogFile | undefined;
    try {
      log = openLogFile(config.paths.logFile);
    } catch (error) {
      io.stderr.write(`warning: cannot write the log file ${config.paths.logFile}: ${(error as Error).message}\n`);
    }
    const onEvent = (e: ProductionEvent) => {
      const line = logLine(e);
      io.stderr.write(e.kind === "warning" ? `warning: ${line}\n` : `${new Date().toISOString()} ${line}\n`);
      try {
        log?.write(e.kind === "warning" ? `warning: ${line}` : line);
      } catch {
        // A full disk must not take the server down; stderr still has the line.
      }
    };
    const { startProduction } = await import("../../lib/prod/start.js");
    const prod = await startProduction(config, {
      toolVersion: VERSION,
      ...(args.port !== undefined ? { port: args.port } : {}),
      onEvent,
    });
    log?.write(`moose prod ${VERSION} listening on ${prod.url}`);
    const admin = prod.adminEnabled ? "/admin/inframap, /admin/migrations (bearer token)" : "admin API disabled";
    io.stdout.write(
      `moose prod ${VERSION}: ${prod.state.migrations.applied.length} migration(s) applied (state ${prod.state.hash.slice(7, 19)})\n` +
        `  endpoints: ${prod.endpoints.length > 0 ? prod.endpoints.map((p) => `/${p}`).join(", ") : "none"}; ${admin}; /health\n` +
        `Listening on ${prod.url} (Ctrl-C to stop)\n`,
    );
    const signal = await io.stopped();
    io.stdout.write(`${signal}: closing…\n`);
    await prod.close();
    log?.write(`moose prod stopped (${signal})`);
    io.stdout.write("Stopped.\n");
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io);
  }
}

/** One log line per event, without its timestamp (never a token: events carry none). */
function logLine(e: ProductionEvent): string {
  switch (e.kind) {
    case "warning":
      return e.message;
    case "log":
      return e.line;
    case "auth-failed":
      return `admin auth failed: client=${e.client} route="${e.method} ${e.path}" reason=${e.reason}`;
    case "admin-error":
      return `admin ${e.path} failed for ${e.client}: ${e.error instanceof Error ? e.error.message : String(e.error)}`;
  }
}
