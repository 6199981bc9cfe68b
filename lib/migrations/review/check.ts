import type { LoadedConfig } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { viewModification } from "../../engines/olap/sql/views.js";
import { MooseError, type SourcePosition } from "../../errors.js";
import type { MigrationRecord } from "../../ledger/records.js";
import { applyChange } from "../../model/apply-change.js";
import { classifyChange, guardedByPreflight } from "../../plan/risk.js";
import { projectMigrations } from "../../project/engines.js";
import { unapprovedSteps } from "../apply/deploy.js";
import { planCommittedChecked } from "../author/generate.js";
import type { MigrationFile } from "../files/read.js";
import { describeChange } from "../files/render.js";
import { replayMigrations, type Replay, type ReplayedMigration } from "../files/sequence.js";
import { guardMigrationSql } from "../apply/sql-guard.js";
import { migrationSql, targetSummary, type SqlTarget, type TargetSummary } from "./sql-preview.js";
import { historyProblems, type LedgerView } from "../apply/status.js";
import { stepLabel } from "../files/steps.js";

/**
 * `moose migrate check` and `moose migrate lint`: what CI asks of a branch, offline.
 * Both return findings as data; the CLI prints them and picks the exit code.
 */

export interface Finding {
  /** Stable: `UNCAPTURED_CHANGES`, `MIGRATION_EDITED`, `DATA_LOSS`, `REBUILD`, … */
  readonly code: string;
  /** `error` fails the command; `warning` is reported. */
  readonly severity: "error" | "warning";
  readonly message: string;
  readonly migration?: string;
  readonly position?: SourcePosition;
  /** The step as the file calls it: `dropColumn("Users", …)`. */
  readonly step?: string;
  readonly details?: readonly string[];
  readonly hint?: string;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly migrations: number;
  /** Not recorded as applied in the ledger (every file when there is none). */
  readonly pending: readonly string[];
  readonly ledger: LedgerView["source"];
  readonly findings: readonly Finding[];
}

const position = (m: MigrationFile, line: number, column = 1): SourcePosition => ({ file: m.displayPath, line, column });

function fromError(error: unknown, migration?: string): Finding {
  if (!(error instanceof MooseError)) throw error;
  return {
    code: error.code,
    severity: "error",
    message: error.message,
    ...(migration ? { migration } : {}),
    ...(error.position ? { position: error.position } : {}),
    ...(error.details.length > 0 ? { details: error.details } : {}),
    ...(error.hint ? { hint: error.hint } : {}),
  };
}

/**
 * Applied files against the ledger: removed, renamed or edited (checksum) ones; pending files
 * older than the newest applied one. Every problem, not just the first.
 */
export function ledgerFindings(files: readonly MigrationFile[], records: readonly MigrationRecord[]): Finding[] {
  const out: Finding[] = [];
  for (const problem of historyProblems(files, records)) {
    switch (problem.kind) {
      case "renamed":
        out.push({ code: "MIGRATION_RENAMED", severity: "error", migration: problem.record.id, message: `migration ${problem.record.fileName} was applied, and is now named ${problem.file.fileName}`, hint: `rename it back to ${problem.record.fileName}` });
        break;
      case "removed":
        out.push({ code: "MIGRATION_REMOVED", severity: "error", migration: problem.record.id, message: `migration ${problem.record.fileName} was applied (${problem.record.status}) but its file is gone`, hint: "restore the file from version control; to undo its effect, add a new migration" });
        break;
      case "edited": {
        const { record: r, file } = problem;
        out.push({
          code: "MIGRATION_EDITED",
          severity: "error",
          migration: r.id,
          position: position(file, 1),
          message: `${file.displayPath} was edited after it was ${r.status === "applied" ? "applied" : "started"} (checksum ${r.checksum.slice(0, 12)} recorded, ${file.checksum.slice(0, 12)} now)`,
          hint: "restore the applied version from version control and put the change in a new migration",
        });
        break;
      }
      case "out-of-order":
        for (const f of problem.files) {
          out.push({
            code: "MIGRATION_OUT_OF_ORDER",
            severity: "error",
            migration: f.id,
            position: position(f, 1),
            message: `${f.displayPath} is older than the newest applied migration ${problem.newestApplied} but not applied`,
            hint: `rebase it onto the applied history: moose migrate rebase ${f.id}`,
          });
        }
        break;
    }
  }
  return out;
}

/**
 * `moose migrate check`: the committed migrations read and replay (their hashes hold), applied
 * files are unchanged (against the local ledger, when there is one), pending migrations run
 * without an approval they lack, and the code has no change that no migration captures.
 */
export async function checkMigrations(config: LoadedConfig, ledger: LedgerView): Promise<CheckReport> {
  const files = projectMigrations(config);
  const findings: Finding[] = [];
  findings.push(...ledgerFindings(files, ledger.records));
  let replay: Replay | undefined;
  try {
    replay = replayMigrations(files);
  } catch (error) {
    findings.push(fromError(error));
  }
  const applied = new Set(ledger.records.filter((r) => r.status === "applied").map((r) => r.id));
  const pending = files.filter((f) => !applied.has(f.id));
  for (const m of replay?.migrations ?? []) {
    if (applied.has(m.file.id)) continue;
    const headline = `${m.file.fileName} would lose data and does not approve it`;
    try {
      unapprovedSteps(m.file.up, m.changes, m.before, m.file.displayPath, headline);
      await guardMigrationSql(m.file.up, m.changes, m.file.displayPath, headline);
    } catch (error) {
      findings.push(fromError(error, m.file.id));
    }
  }
  if (replay) {
    const report = await planCommittedChecked(config, {});
    if (report.plan.steps.length > 0) {
      findings.push({
        code: "UNCAPTURED_CHANGES",
        severity: "error",
        message: `the code has ${report.plan.steps.length} change${report.plan.steps.length === 1 ? "" : "s"} that no committed migration captures`,
        details: report.plan.steps.map((s) => describeChange(s.change)),
        hint: "run `moose migrate generate` and commit the file",
      });
    }
  }
  return { ok: findings.every((f) => f.severity !== "error"), migrations: files.length, pending: pending.map((f) => f.id), ledger: ledger.source, findings };
}

export interface LintReport {
  readonly ok: boolean;
  readonly target: TargetSummary;
  /** The migrations linted. */
  readonly migrations: readonly string[];
  readonly findings: readonly Finding[];
}

/**
 * `moose migrate lint`: the risky steps of the migrations not yet applied (or those named),
 * each with a stable code: `DATA_LOSS` (an error while the file does not approve it),
 * `NARROWING_TYPE`, `REBUILD`, `VIEW_RECREATE`, `BACKFILL`, and `UNSUPPORTED_BY_SERVER` for a
 * step the target's version cannot run.
 */
export async function lintMigrations(config: LoadedConfig, target: SqlTarget, ledger: LedgerView, ids?: readonly string[]): Promise<LintReport> {
  const files = projectMigrations(config);
  const replay = replayMigrations(files);
  const applied = new Set(ledger.records.filter((r) => r.status === "applied").map((r) => r.id));
  const chosen = replay.migrations.filter((m) => (ids && ids.length > 0 ? ids.includes(m.file.id) : !applied.has(m.file.id)));
  const findings: Finding[] = [];
  for (const m of chosen) findings.push(...(await lintMigration(m, target)));
  return { ok: findings.every((f) => f.severity !== "error"), target: targetSummary(target), migrations: chosen.map((m) => m.file.id), findings };
}

async function lintMigration(m: ReplayedMigration, target: SqlTarget): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    await migrationSql(m, target);
  } catch (error) {
    out.push(fromError(error, m.file.id));
  }
  let losses = new Map<number, string>();
  try {
    losses = await guardMigrationSql(m.file.up, m.changes, m.file.displayPath, `${m.file.fileName} would lose data and does not approve it`);
  } catch (error) {
    out.push(fromError(error, m.file.id));
  }
  let state = m.before;
  m.file.up.forEach(({ step, origin }, i) => {
    const at = { migration: m.file.id, position: position(m.file, origin.line, origin.column), step: stepLabel(step) };
    const approved = (step.args.at(-1) as { approveDataLoss?: unknown } | undefined)?.approveDataLoss === true;
    const loss = losses.get(i);
    if (loss !== undefined) out.push({ ...at, code: "DATA_LOSS", severity: "warning", message: `hand-written SQL ${loss} (approved in the file)` });
    const change = m.changes[i];
    if (!change) return;
    const risk = classifyChange(change, state);
    for (const f of changeFindings(change, risk.code, target)) out.push({ ...at, ...f });
    if (risk.losesData) {
      const checked = guardedByPreflight(change) && !approved;
      out.push({
        ...at,
        code: "DATA_LOSS",
        severity: approved || checked ? "warning" : "error",
        message: `${risk.code}: ${describeChange(change)}: ${checked ? "stops at deploy if any row would not convert (pre-flight check)" : approved ? "approved in the file" : "not approved: deploy refuses the migration until the step says approveDataLoss: true"}`,
      });
    }
    state = applyChange(state, change);
  });
  return out;
}

function changeFindings(change: Change, riskCode: string, target: SqlTarget): Array<Pick<Finding, "code" | "severity" | "message">> {
  const out: Array<Pick<Finding, "code" | "severity" | "message">> = [];
  if (riskCode === "LOSSY_TYPE_CHANGE") out.push({ code: "NARROWING_TYPE", severity: "warning", message: `${describeChange(change)}: some stored values may not fit the new type` });
  if (change.kind === "table.rebuild" || change.kind === "table.copyRows") {
    out.push({ code: "REBUILD", severity: "warning", message: `${describeChange(change)}: copies every row into a new table (time and disk grow with the table; writes during the copy need care)` });
  }
  if (change.kind === "table.backfillColumn" || change.kind === "view.backfill") {
    out.push({ code: "BACKFILL", severity: "warning", message: `${describeChange(change)}: reads every row of its source` });
  }
  if (change.kind === "view.modify" && viewModification(change.before, change.after, target.capabilities) === "recreate") {
    out.push({ code: "VIEW_RECREATE", severity: "warning", message: `${describeChange(change)}: the view is dropped and created again; rows inserted in between are not transformed` });
  }
  return out;
}
