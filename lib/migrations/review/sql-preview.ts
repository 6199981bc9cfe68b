import type { LoadedConfig } from "../../config/config.js";
import { learnChangedSqlResources } from "../../engines/olap/sql-resource-policy.js";
import { capabilitiesFor, type OlapCapabilities } from "../../engines/olap/capabilities.js";
import { embeddedVersion, VERSION_TEXT } from "../../engines/olap/embedded-version.js";
import { InvalidInputError } from "../../errors.js";
import { effectsLocated, effectText, executable } from "../apply/execute.js";
import type { PlanReport } from "../../project/plan-project.js";
import type { CommittedState } from "../files/committed-state.js";
import { readMigrationText } from "../files/read.js";
import { renderMigration } from "../files/render.js";
import { replayMigrations, type ReplayedMigration } from "../files/sequence.js";
import { stepLabel } from "../files/steps.js";

/**
 * The SQL a migration will run, computed offline: the same `effectsForSteps` and
 * `effectText` the runner calls at deploy (and records in the ledger), fed with
 * capabilities decided from a version named in the config or on the command line
 * instead of one read from a live server. Reviewers see what deploy will send.
 */

/** Where the version the SQL is written for came from. */
export type VersionSource = "flag" | "config" | "embedded" | "assumed";

export interface SqlTarget {
  readonly version: string;
  readonly source: VersionSource;
  readonly database: string;
  readonly capabilities: OlapCapabilities;
  readonly workflowsEnabled: boolean;
  /** ZooKeeper/Keeper assumed on the server (the project names clusters); offline nothing else says. */
  readonly keeperAssumed?: boolean;
}

/** One step of a migration as deploy will run it. */
export interface StepSql {
  readonly index: number;
  /** `addColumn("Users", …)`. */
  readonly step: string;
  readonly line: number;
  readonly statements: readonly string[];
}

export interface MigrationSql {
  readonly id: string;
  readonly file: string;
  readonly steps: readonly StepSql[];
}

/** Checks a version given as text (`24.8`, `18.16.1`); `what` names where it came from. */
export function checkVersion(text: string, what: string): string {
  const v = text.trim();
  if (!VERSION_TEXT.test(v)) {
    throw new InvalidInputError(what.startsWith("--") ? "USAGE" : "CONFIG_INVALID", `${what} ${JSON.stringify(text)} is not a ClickHouse version`, {
      hint: 'write the server\'s version as `SELECT version()` prints it, e.g. "24.8" or "18.16.1"',
    });
  }
  return v;
}

/**
 * The target the SQL is written for: `--server-version`, else `clickhouse_config.server_version`,
 * else the embedded engine's own version (for a server without the key, `assumed`: callers say so).
 */
export async function sqlTarget(config: LoadedConfig, flag?: string): Promise<SqlTarget> {
  const configured = config.olap.serverVersion;
  const [version, source]: [string, VersionSource] =
    flag !== undefined
      ? [checkVersion(flag, "--server-version"), "flag"]
      : configured !== undefined
        ? [checkVersion(configured, "clickhouse_config.server_version"), "config"]
        : [await embeddedVersion(), config.olap.engine === "embedded" ? "embedded" : "assumed"];
  const server = source !== "embedded";
  // Offline nothing says whether the server has ZooKeeper/Keeper. A project that names clusters in
  // clickhouse_config.clusters runs ON CLUSTER DDL, which needs it on every server of the cluster:
  // assumed there, so its SQL can be reviewed (deploy still reads the live server).
  const keeperAssumed = server && (config.olap.clusters?.length ?? 0) > 0;
  // Offline nothing says the database is not Atomic (the default since 20.10): EXCHANGE TABLES (and,
  // with Keeper, the {uuid} macro) are assumed where the version has them.
  const capabilities = capabilitiesFor(version, server ? { server: true, ...(keeperAssumed ? { zooKeeper: true, databaseEngine: "Atomic" } : {}) } : { embedded: true });
  return { version, source, database: config.olap.database, capabilities, workflowsEnabled: config.features.workflows, ...(keeperAssumed ? { keeperAssumed } : {}) };
}

/** What a report says of its target (`--json`): the version, where it came from, and an assumed Keeper. */
export type TargetSummary = Pick<SqlTarget, "version" | "source" | "keeperAssumed">;

export function targetSummary(target: TargetSummary): TargetSummary {
  return { version: target.version, source: target.source, ...(target.keeperAssumed ? { keeperAssumed: true } : {}) };
}

/** How a target reads in a heading: `ClickHouse 18.16.1 (clickhouse_config.server_version)`. */
export function describeTarget(target: TargetSummary): string {
  const from: Record<VersionSource, string> = {
    flag: "--server-version",
    config: "clickhouse_config.server_version",
    embedded: "the embedded engine",
    assumed: "assumed: set clickhouse_config.server_version to the server's version",
  };
  return `ClickHouse ${target.version} (${from[target.source]}${target.keeperAssumed ? "; with ZooKeeper/Keeper, as clickhouse_config.clusters implies" : ""})`;
}

/**
 * Every step's statements, as deploy runs them on a server of `target`'s version. What the
 * server cannot run is refused as at deploy (`UNSUPPORTED_BY_SERVER`, `NEEDS_REBUILD`), here
 * naming the file, line and step.
 */
export async function migrationSql(m: ReplayedMigration, target: Pick<SqlTarget, "database" | "capabilities" | "workflowsEnabled">): Promise<MigrationSql> {
  const steps = executable(m);
  // What SQL resources' statements create decides what this version can run (as deploy's guard reads them).
  await learnChangedSqlResources(m.changes);
  // Named as deploy names the run, so row writes show the staging tables deploy uses.
  const ctx = { database: target.database, capabilities: target.capabilities, state: m.before, run: { migrationId: m.file.id, direction: "up" as const } };
  const effects = await effectsLocated(steps, ctx, target.workflowsEnabled, m);
  return {
    id: m.file.id,
    file: m.file.displayPath,
    steps: m.file.up.map((l, i) => ({ index: i, step: stepLabel(l.step), line: l.origin.line, statements: (effects[i] ?? []).map(effectText) })),
  };
}

/**
 * A plan as the migration `migrate generate` would write for it, read back and replayed from
 * the state the committed files lead to (`committed`, as `plan` and `generate` read it: from
 * the history cache, replaying only files committed since), without writing anything:
 * `plan --sql` shows the statements of that file. The replay checks that the file starts
 * from that state, as it would after the committed files.
 */
export function planAsMigration(committed: Pick<CommittedState, "state">, report: PlanReport, id: string, toolVersion: string): ReplayedMigration {
  const text = renderMigration({ id, plan: report.plan, parent: report.fromHash, result: report.resultHash, toolVersion });
  const file = readMigrationText(text, `${id}.ts`, `${id}.ts`, "(plan)");
  return replayMigrations([file], committed.state).migrations[0]!;
}
