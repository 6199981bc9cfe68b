import type { Change } from "../../diff/change.js";
import { liveObjects } from "../../diff/change-meta.js";
import type { InfraMap } from "../../model/infra-map.js";
import type { Step } from "../files/api.js";
import { RefusedError } from "../../errors.js";
import type { OlapEngine } from "../../engines/olap/engine.js";
import { executable } from "./execute.js";
import type { Ledger } from "../../ledger/ledger.js";
import { isRollbackRecord, type MigrationRecord } from "../../ledger/records.js";
import { applyChange } from "../../model/apply-change.js";
import { classifyChange, needsApproval, RISK_CODES } from "../../plan/risk.js";
import { holdByLifeCycle } from "../../plan/life-cycle.js";
import { DRAFT_ID, type LocatedStep, type MigrationFile } from "../files/read.js";
import { replayMigrations, type ReplayedMigration } from "../files/sequence.js";
import { editableAfterFailure, historyProblems, liveDrift } from "./status.js";
import { guardMigrationSql } from "./sql-guard.js";
import { approvalOf, stepLabel } from "../files/steps.js";
import { effectsRun, planUnits, runUnits, withMigrationLock, type LockOptions, type OpenEngines, type RunEngines, type RunEvent, type RunUnit, type UnitOutcome } from "./runner.js";
import { effectsLocated, type Effect } from "./execute.js";

export type { ChangeApplier } from "./execute.js";

export type { EngineNeeds } from "./runner.js";
export type DeployEngines = RunEngines;
export type DeployEvent = RunEvent;

export interface DeployOptions extends LockOptions {
  readonly dryRun?: boolean;
  /**
   * Re-run a step a dead run left half-way when moose cannot see whether it took effect
   * (`STEP_UNCERTAIN`: a hand-written write, a data copy, a topic or workflow change).
   * Steps it can see are settled without it.
   */
  readonly resumeRunning?: boolean;
  /** Apply pending files older than the newest applied one. */
  readonly allowOutOfOrder?: boolean;
  /**
   * With nothing pending, check the live database before saying "up to date": a lost
   * embedded data folder or dropped objects are refused (`STATE_LOST`), never reported as up to date.
   */
  readonly verifyUpToDate?: boolean;
  readonly onEvent?: (event: RunEvent) => void;
}

export type MigrationOutcome =
  | { readonly id: string; readonly status: "already-applied" }
  | { readonly id: string; readonly status: "applied"; readonly stepsRun: number; readonly resumedFrom: number }
  | { readonly id: string; readonly status: "planned"; readonly steps: ReadonlyArray<PlannedStep> }
  /** A failed migration (`CHECK_FAILED`: a pre-flight check stopped the step before it changed anything), or one not run after it. */
  | Extract<UnitOutcome, { readonly status: "failed" | "not-run" }>;

export interface DeployReport {
  readonly migrations: readonly MigrationOutcome[];
  /** True when every migration is applied (or, for a dry run, could be planned). */
  readonly ok: boolean;
}


/**
 * Checks the committed files against the ledger without touching anything:
 * edited, removed or renamed applied files, and out-of-order pending ones, are
 * refused with the file named. Returns the files still to run.
 */
export function pendingMigrations(files: readonly MigrationFile[], allRecords: readonly MigrationRecord[], allowOutOfOrder = false): MigrationFile[] {
  const unfinished = allRecords.find((r) => isRollbackRecord(r.id));
  if (unfinished) {
    throw new RefusedError("ROLLBACK_UNFINISHED", `the rollback of ${unfinished.id.replace(/\.rollback$/, "")} stopped at step ${(unfinished.failedStep ?? 0) + 1}: ${unfinished.error ?? unfinished.status}`, {
      hint: "run `moose migrate rollback` again to finish it (it resumes at that step) before deploying",
    });
  }
  const records = allRecords.filter((r) => r.id !== DRAFT_ID);
  for (const problem of historyProblems(files, records)) {
    switch (problem.kind) {
      case "renamed":
        throw new RefusedError("MIGRATION_RENAMED", `migration ${problem.record.fileName} was applied, and is now named ${problem.file.fileName}`, {
          hint: `rename it back to ${problem.record.fileName}: applied migrations are history and keep their names`,
        });
      case "removed":
        throw new RefusedError("MIGRATION_REMOVED", `migration ${problem.record.fileName} was applied (${problem.record.status}) but its file is no longer in the migrations folder`, {
          hint: "restore the file from version control; to undo its effect, add a new migration",
        });
      case "edited": {
        const { record: r, file } = problem;
        throw new RefusedError("MIGRATION_EDITED", `migration ${file.displayPath} was edited after it was ${r.status === "applied" ? "applied" : "started"} (checksum ${r.checksum.slice(0, 12)} recorded, ${file.checksum.slice(0, 12)} now)`, {
          hint:
            r.status === "applied"
              ? "restore the applied version from version control and put the change in a new migration (moose migrate generate)"
              : "restore the version that was started, or run `moose migrate deploy` after discarding the failed run",
        });
      }
      case "out-of-order": {
        if (allowOutOfOrder) break;
        const { files: late, newestApplied } = problem;
        throw new RefusedError("MIGRATION_OUT_OF_ORDER", `${late.map((f) => f.displayPath).join(", ")} ${late.length === 1 ? "is" : "are"} older than the newest applied migration ${newestApplied} but not applied`, {
          hint: `usually a merge brought in a migration generated on another branch: it has not been applied here, so \`moose migrate rebase ${late[0]!.id}\` moves it after ${newestApplied} with new hashes (keep the applied files as they are); --allow-out-of-order applies it where it is`,
        });
      }
    }
  }
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const pending = files.filter((f) => !applied.has(f.id));
  return pending;
}

export { editableAfterFailure } from "./status.js";

/** A step of a dry run: what it will run, and (hand-written SQL) what it does to data when that needs approval. */
export interface PlannedStep {
  readonly index: number;
  readonly description: string;
  readonly statements: readonly string[];
  readonly dataLoss?: string;
}



/**
 * `moose migrate deploy`: applies the pending committed migrations in order,
 * step by step, recording progress in the ledger after every step. A failed
 * run resumes at the failed step. Steps that lose data run only when the file
 * approves them; live objects must match what the migration expects.
 */
export async function deploy(files: readonly MigrationFile[], ledger: Ledger, openEngines: OpenEngines, options: DeployOptions = {}): Promise<DeployReport> {
  const replay = replayMigrations(files);
  const replayed = new Map(replay.migrations.map((m) => [m.file.id, m]));
  const records = await ledger.list();
  const pending = pendingMigrations(files, records, options.allowOutOfOrder);
  const outcomes: MigrationOutcome[] = files.filter((f) => !pending.includes(f)).map((f) => ({ id: f.id, status: "already-applied" as const }));

  // Approval comes first and for the whole sequence: nothing of a migration runs when one of its steps is unapproved.
  for (const file of pending) checkApprovals(replayed.get(file.id)!);
  // Hand-written SQL is read by ClickHouse's parser, for the whole sequence, before anything runs.
  const losses = new Map<string, Map<number, string>>();
  for (const file of pending) {
    const m = replayed.get(file.id)!;
    losses.set(file.id, await guardMigrationSql(m.file.up, m.changes, m.file.displayPath, `${m.file.fileName} would lose data and does not approve it; nothing of it was applied`));
  }
  if (pending.length === 0) {
    // Engines open only under the lock: the embedded engine admits one process per data folder.
    if (options.verifyUpToDate && !options.dryRun) await withMigrationLock(ledger, "deploy", options, async () => verifyApplied(files, await ledger.list(), openEngines));
    return { migrations: outcomes, ok: true };
  }

  // What the target's version cannot run is refused before any step, naming the file, line and step.
  const planned = new Map<string, readonly Effect[][]>();
  const openEnginesChecked = preflightStatements(pending.map((f) => replayed.get(f.id)!), openEngines, planned);
  if (options.dryRun) {
    const planned = await planUnits(pending.map((f) => deployUnit(replayed.get(f.id)!)), openEnginesChecked);
    pending.forEach((file, k) => outcomes.push({ id: file.id, status: "planned", steps: plannedSteps(file.up, planned[k]!, losses.get(file.id)) }));
    return { migrations: sortOutcomes(outcomes, files), ok: true };
  }

  return withMigrationLock(ledger, "deploy", options, async (held) => {
    // Re-read under the lock: another deploy may have applied some of these meanwhile. While this
    // deploy holds the lock, only it writes these records, so this one read stands in for a read per migration.
    const underLock = await ledger.list();
    const recorded = new Map(underLock.map((r) => [r.id, r]));
    const now = pendingMigrations(files, underLock, options.allowOutOfOrder);
    const todo = pending.filter((f) => now.includes(f)).map((f) => replayed.get(f.id)!);
    for (const f of pending) if (!now.includes(f)) outcomes.push({ id: f.id, status: "already-applied" });
    const results = await runUnits(
      todo.map(deployUnit),
      ledger,
      openEnginesChecked,
      {
        held,
        beforeAll: (engines) => checkDriftOnce(todo, recorded, ledger, engines.olap),
        // A file edited after its pre-flight check stopped it starts afresh.
        beforeUnit: async (unit) => {
          const r = recorded.get(unit.id);
          if (r && r.checksum !== unit.record.checksum && editableAfterFailure(r)) await ledger.discardFailed(unit.id);
        },
        resumeRunning: options.resumeRunning ?? false,
        // Read under the lock above: a migration with no record is begun by the write that completes the one before it.
        records: recorded,
        effects: planned,
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      },
      "deploy",
    );
    outcomes.push(...results.map(deployOutcome));
    // Another runner applied them meanwhile: "up to date" is checked as above.
    if (todo.length === 0 && options.verifyUpToDate) await verifyApplied(files, underLock, openEngines);
    return { migrations: sortOutcomes(outcomes, files), ok: results.every((r) => r.status === "done") };
  });
}

/**
 * The engines, opened, once every pending migration's statements could be written for the
 * server's version: a step it cannot run (`UNSUPPORTED_BY_SERVER`, `NEEDS_REBUILD`) is refused
 * with its file:line and step before anything is recorded or run. What they were written as is
 * kept in `planned` by migration id, for the runner to run as they are (RunHooks.effects).
 */
function preflightStatements(pending: readonly ReplayedMigration[], openEngines: OpenEngines, planned: Map<string, readonly Effect[][]>): OpenEngines {
  return async (needs) => {
    const engines = await openEngines(needs);
    try {
      const capabilities = await engines.olap.capabilities();
      for (const m of pending) {
        const unit = deployUnit(m);
        planned.set(unit.record.id, await effectsLocated(unit.steps, { database: engines.olap.database, capabilities, state: unit.state, run: effectsRun(unit) }, engines.workflows !== undefined, m));
      }
    } catch (error) {
      await engines.close();
      throw error;
    }
    return engines;
  };
}

function deployUnit(m: ReplayedMigration): RunUnit {
  const file = m.file;
  return {
    id: file.id,
    record: {
      id: file.id,
      fileName: file.fileName,
      checksum: file.checksum,
      checksumAlgorithm: file.checksumAlgorithm,
      parentHash: file.parent,
      resultHash: file.result,
      stepsTotal: file.up.length,
    },
    steps: executable(m),
    state: m.before,
  };
}

function deployOutcome(r: UnitOutcome): MigrationOutcome {
  return r.status === "done" ? { id: r.id, status: "applied", stepsRun: r.stepsRun, resumedFrom: r.resumedFrom } : r;
}

/** A dry run's steps: what each runs, and (hand-written SQL) what it does to data. */
export function plannedSteps(steps: readonly LocatedStep[], statements: readonly string[][], losses: ReadonlyMap<number, string> | undefined): PlannedStep[] {
  return steps.map((s, i) => {
    const loss = losses?.get(i);
    return { index: i, description: s.step.op, statements: statements[i] ?? [], ...(loss !== undefined ? { dataLoss: loss } : {}) };
  });
}

function sortOutcomes(outcomes: MigrationOutcome[], files: readonly MigrationFile[]): MigrationOutcome[] {
  const order = new Map(files.map((f, i) => [f.id, i]));
  return outcomes.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

function checkApprovals(m: ReplayedMigration): void {
  checkLifeCycles(m);
  unapprovedSteps(m.file.up, m.changes, m.before, m.file.displayPath, `${m.file.fileName} would lose data and does not approve it; nothing of it was applied`);
}

/**
 * A hand-edited file must not do what the objects' life cycles forbid (the planner never
 * writes such steps): a deletion-protected table only takes additive steps, an externally
 * managed one none. Refused (`LIFECYCLE_PROTECTED`) naming each step.
 */
function checkLifeCycles(m: ReplayedMigration): void {
  let state = m.before;
  const refused: string[] = [];
  m.file.up.forEach(({ step, origin }, i) => {
    const change = m.changes[i];
    if (!change) return;
    const [held] = holdByLifeCycle([change], state, undefined).held;
    if (held) refused.push(`${m.file.displayPath}:${origin.line}: ${stepLabel(step)} on ${held.object.replace(/^[a-z]+:/, "")}, which is ${held.lifeCycle}`);
    // The state after the last step is not read (applying it copies every table of the map).
    if (i < m.file.up.length - 1) state = applyChange(state, change);
  });
  if (refused.length > 0) {
    throw new RefusedError("LIFECYCLE_PROTECTED", `${m.file.fileName} changes objects their life cycle protects; nothing of it was applied`, {
      details: refused,
      hint: "change the object's lifeCycle in the code (a migration of its own) first, or remove these steps",
    });
  }
}



/**
 * Refuses (`DESTRUCTIVE_NOT_APPROVED`) when a step that loses data lacks `approveDataLoss: true`,
 * naming each with its file:line. Steps guarded by a pre-flight check need none.
 */
export function unapprovedSteps(steps: ReadonlyArray<{ step: Step; origin: { line: number } }>, changes: ReadonlyArray<Change | null>, before: InfraMap, display: string, headline: string): void {
  let state = before;
  const unapproved: string[] = [];
  steps.forEach(({ step, origin }, i) => {
    const change = changes[i];
    if (!change) return;
    if (needsApproval(change, state) && !approvalOf(step)) {
      const risk = classifyChange(change, state);
      unapproved.push(`${display}:${origin.line}: ${stepLabel(step)} ${RISK_CODES[risk.code].meaning}`);
    }
    if (i < steps.length - 1) state = applyChange(state, change);
  });
  if (unapproved.length > 0) {
    throw new RefusedError("DESTRUCTIVE_NOT_APPROVED", headline, {
      details: unapproved,
      hint: "if the data may go, write `{ approveDataLoss: true }` on each of these steps in the file (code review sees it); otherwise change the code so nothing is dropped",
    });
  }
}


/**
 * Before a migration first runs, the live tables and views it touches must be
 * what the migration sequence says they are; otherwise someone changed them by
 * hand and running the steps could do something nobody reviewed.
 */
/**
 * One drift check for the whole run, before anything is applied: every object
 * a pending migration touches is compared with the state before the first
 * pending migration. That is exact, because objects are only changed by the
 * migrations of this run while it holds the lock: an object first touched by
 * the third migration is, until then, as the first one found it. Objects first
 * touched by a migration that is being resumed are half-way and left out.
 */
async function checkDriftOnce(
  pending: readonly ReplayedMigration[],
  recorded: ReadonlyMap<string, MigrationRecord>,
  ledger: Ledger,
  olap: OlapEngine,
): Promise<void> {
  const first = pending[0];
  if (!first) return;
  const scope = { tables: new Set<string>(), views: new Set<string>(), plainViews: new Set<string>() };
  const seen = new Set<string>();
  let blamed: ReplayedMigration | undefined;
  for (const m of pending) {
    // No record, no steps (they belong to it); only a record can have some.
    // A run that died mid-step leaves its record `running`: that step is settled by the runner, not called drift.
    const record = recorded.get(m.file.id);
    const fresh = !record || (record.status !== "running" && (await ledger.stepsDone(m.file.id)).length === 0);
    const touched = liveObjects(m.changes);
    for (const [kind, names] of [["tables", touched.tables], ["views", touched.views], ["plainViews", touched.plainViews]] as const) {
      for (const name of names) {
        if (seen.has(`${kind}:${name}`)) continue;
        seen.add(`${kind}:${name}`);
        if (fresh) {
          scope[kind].add(name);
          blamed ??= m;
        }
      }
    }
  }
  if (!blamed) return;
  const differences = await liveDrift(first.before, olap, scope);
  if (differences.length === 0) return;
  throw new RefusedError("DRIFT", `the live database differs from what ${blamed.file.fileName} expects; nothing of it was applied`, {
    details: differences,
    hint: "someone changed these objects outside migrations: undo that by hand, or capture it in a migration before this one",
  });
}

/**
 * Nothing is pending: the live tables and views must be what the applied migrations
 * made, or the ledger and the engine contradict each other (a deleted data folder, a
 * dropped table, a database restored from an older backup).
 */
async function verifyApplied(files: readonly MigrationFile[], records: readonly MigrationRecord[], openEngines: OpenEngines): Promise<void> {
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const prefix: MigrationFile[] = [];
  for (const f of files) {
    if (!applied.has(f.id)) break;
    prefix.push(f);
  }
  if (prefix.length === 0) return;
  const engines = await openEngines({ streams: false, workflows: false });
  try {
    const differences = await liveDrift(replayMigrations(prefix).state, engines.olap);
    if (differences.length === 0) return;
    const missing = differences.filter((d) => / is missing from the database$/.test(d)).length;
    throw new RefusedError(
      "STATE_LOST",
      `the ledger records ${prefix.length} applied migration${prefix.length === 1 ? "" : "s"}, but the live database does not hold what they made${missing === differences.length ? " (every difference is a missing object)" : ""}; nothing was run`,
      {
        details: differences,
        hint:
          missing > 0
            ? "if the database (or the embedded data folder .moose/) was lost or replaced, restore it from a backup; to rebuild it empty, move the ledger away (it then says nothing is applied) and deploy again"
            : "someone changed these objects outside migrations: undo that by hand, or capture it in a migration",
      },
    );
  } finally {
    await engines.close();
  }
}
