import { ExitCode, InvalidInputError } from "../../lib/errors.js";
import { extractProjectChecked, type PlanReport } from "../../lib/project/plan-project.js";
import type { LoadedConfig } from "../../lib/config/config.js";
import { committedState, nextTimestamp, planCommitted } from "../../lib/migrations/author/generate.js";
import type { CommittedState } from "../../lib/migrations/files/committed-state.js";
import { learnSqlResources } from "../../lib/engines/olap/sql-resource-policy.js";
import { migrationSql, planAsMigration, sqlTarget, type MigrationSql, type SqlTarget } from "../../lib/migrations/review/sql-preview.js";
import { migrationSqlJson, writeMigrationSql } from "../present/sql.js";
import { DEFAULT_REMOTE_TIMEOUT_MS, type RemoteState, type TokenSource } from "../../lib/remote/fetch-state.js";
import type { CliIO } from "../io.js";
import { renderPlanText } from "../present/plan-text.js";
import { loadProject, printWarnings } from "../project.js";
import { reportError } from "../errors.js";
import type { PlanArgs } from "./plan.args.js";
import { VERSION } from "../version.js";

export async function run(args: PlanArgs, io: CliIO): Promise<number> {
  const { json } = args;
  try {
    if (args.url !== undefined && args.sql) throw new InvalidInputError("USAGE", "--sql shows the SQL of the plan against the committed migrations, not against --url", { hint: "run moose plan --sql without --url" });
    if (args.url !== undefined) return await runRemote(args, args.url, io, json);
    const config = await loadProject(io);
    if (!args.sql && args.serverVersion !== undefined) throw new InvalidInputError("USAGE", "--server-version only applies with --sql", { hint: "moose plan --sql --server-version 24.8" });
    const app = await extractProjectChecked(config);
    // The committed state as `plan` reads it (history cache; see committed-state.ts), once for the plan and its SQL.
    const committed = committedState(config);
    // With --sql the plan is the file `migrate generate` would write now (its rebuilds name the same timestamp).
    const stamp = nextTimestamp(new Date(), committed.newest);
    // What the committed SQL resources' teardowns drop decides their steps' risks.
    await learnSqlResources(committed.state);
    const report = planCommitted(config, args.sql ? { rebuildSuffix: stamp } : {}, app, committed);
    printWarnings(report.app.warnings, io);
    const sql = args.sql && report.plan.steps.length > 0 ? await planSql(config, committed, report, `${stamp}_plan`, args.serverVersion) : undefined;
    if (json) {
      io.stdout.write(JSON.stringify({ ...(planJson(report) as object), ...(sql ? { sql: migrationSqlJson(sql.target, [sql.migration]) } : {}) }, null, 2) + "\n");
    } else {
      io.stdout.write(renderPlanText(report.plan, report.suggestions));
      if (sql) {
        io.stdout.write("\n");
        writeMigrationSql(io, sql.target, [sql.migration]);
      }
    }
    return ExitCode.success;
  } catch (error) {
    return reportError(error, io, json);
  }
}

/** The plan's steps as the file `migrate generate` would write, with the SQL deploy would run for each. */
async function planSql(config: LoadedConfig, committed: CommittedState, report: PlanReport, id: string, version: string | undefined): Promise<{ target: SqlTarget; migration: MigrationSql }> {
  const target = await sqlTarget(config, version);
  return { target, migration: await migrationSql(planAsMigration(committed, report, id, VERSION), target) };
}

/** `moose plan --url <instance>`: the code against what that instance has applied. */
async function runRemote(args: PlanArgs, url: string, io: CliIO, json: boolean): Promise<number> {
  if (url === "") throw new InvalidInputError("USAGE", "--url needs the instance's URL, e.g. --url https://moose.example.com");
  const fromFlag = args.token || undefined;
  const fromEnv = io.env["MOOSE_ADMIN_TOKEN"] || undefined;
  const token = fromFlag ?? fromEnv;
  const tokenSource: TokenSource | undefined = fromFlag !== undefined ? "--token" : fromEnv !== undefined ? "MOOSE_ADMIN_TOKEN" : undefined;
  // The parser has checked that a given --timeout is a positive number.
  const timeout = args.timeout ?? DEFAULT_REMOTE_TIMEOUT_MS / 1000;

  const config = await loadProject(io);
  // Lazy: the fetch client is only needed here, the compiler only after the fetch succeeded.
  const { planRemote } = await import("../../lib/remote/plan-remote.js");
  const { report, remote } = await planRemote(config, url, {
    ...(token !== undefined ? { token } : {}),
    ...(tokenSource !== undefined ? { tokenSource } : {}),
    timeoutMs: Math.round(timeout * 1000),
  });
  printWarnings(report.app.warnings, io);
  printWarnings(remoteWarnings(remote), io);
  io.stdout.write(json ? JSON.stringify({ ...(planJson(report) as object), remote: remoteJson(remote) }, null, 2) + "\n" : renderPlanText(report.plan));
  return ExitCode.success;
}

/** What the instance reported besides its state: worth knowing before a deploy. */
function remoteWarnings(remote: RemoteState): string[] {
  const out: string[] = [];
  const { pending, issues } = remote.migrations;
  if (pending.length > 0) out.push(`${remote.url} has ${pending.length} committed migration(s) not yet deployed: ${pending.join(", ")}; the plan starts from what is applied`);
  for (const i of issues) out.push(`${remote.url}: migration ${i.id} is ${i.state}${i.detail ? ` (${i.detail})` : ""}`);
  if (remote.drift.length > 0) {
    out.push(`${remote.url}: the live database differs from its applied migrations (a deploy touching these objects is refused until it is resolved):`);
    for (const d of remote.drift) out.push(`  ${d}`);
  }
  return out;
}

function remoteJson(remote: RemoteState): unknown {
  return { url: remote.url, version: remote.serverVersion, hash: remote.hash, migrations: remote.migrations, drift: remote.drift, driftChecked: remote.driftChecked };
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
    held: report.plan.held ?? [],
    renameSuggestions: report.suggestions,
  };
}
