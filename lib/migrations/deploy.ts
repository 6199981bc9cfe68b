import { hostname } from "node:os";
import type { Change } from "../diff/change.js";
import type { InfraMap } from "../model/infra-map.js";
import type { Step } from "../migration/index.js";
import { EngineError, MooseError, RefusedError } from "../errors.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { executeStep, statementsForSteps, type Engines, type ExecutableStep } from "./execute.js";
import type { Ledger } from "../ledger/ledger.js";
import type { MigrationRecord } from "../ledger/records.js";
import { applyChange } from "../model/apply-change.js";
import { classifyChange, needsApproval, RISK_CODES } from "../plan/risk.js";
import { holdByLifeCycle } from "../plan/life-cycle.js";
import { DRAFT_ID, type MigrationFile } from "./read.js";
import { replayMigrations, type ReplayedMigration } from "./sequence.js";
import { editableAfterFailure, liveDrift } from "./status.js";
import { guardMigrationSql } from "./sql-guard.js";
import { approvalOf } from "./steps.js";

export type { ChangeApplier } from "./execute.js";

export interface DeployEngines extends Engines {
  /** Closes every engine it opened. */
  close(): Promise<void>;
}

export type DeployEvent =
  | { readonly kind: "migration-start"; readonly id: string; readonly resumeFrom: number; readonly steps: number }
  | { readonly kind: "step-done"; readonly id: string; readonly index: number; readonly statements: readonly string[]; readonly ms: number }
  | { readonly kind: "step-skipped"; readonly id: string; readonly index: number }
  | { readonly kind: "migration-done"; readonly id: string; readonly ms: number };

export interface DeployOptions {
  readonly dryRun?: boolean;
  /**
   * Resume a migration the ledger shows as `running`: its deploy process died
   * mid-step (the lock keeps live deploys apart), so the step it was on may be
   * half-applied. An operator's decision, never the default.
   */
  readonly resumeRunning?: boolean;
  /** How long to wait for another deploy's lock before giving up (default 0: fail at once). */
  readonly lockWaitMs?: number;
  /** Apply pending files older than the newest applied one. */
  readonly allowOutOfOrder?: boolean;
  readonly owner?: string;
  readonly lockTtlMs?: number;
  readonly onEvent?: (event: DeployEvent) => void;
}

export type MigrationOutcome =
  | { readonly id: string; readonly status: "already-applied" }
  | { readonly id: string; readonly status: "applied"; readonly stepsRun: number; readonly resumedFrom: number }
  | { readonly id: string; readonly status: "planned"; readonly steps: ReadonlyArray<PlannedStep> }
  | {
      readonly id: string;
      readonly status: "failed";
      readonly failedStep: number;
      readonly error: string;
      readonly stepsApplied: number;
      /** The error's code when it has one; `CHECK_FAILED` is a pre-flight check that stopped the step before it changed anything. */
      readonly code?: string;
    }
  | { readonly id: string; readonly status: "not-run" };

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
  const byId = new Map(files.map((f) => [f.id, f]));
  const byChecksum = new Map(files.map((f) => [f.checksum, f]));
  for (const r of records) {
    const file = byId.get(r.id);
    if (!file) {
      const renamed = byChecksum.get(r.checksum);
      if (renamed) {
        throw new RefusedError("MIGRATION_RENAMED", `migration ${r.fileName} was applied, and is now named ${renamed.fileName}`, {
          hint: `rename it back to ${r.fileName}: applied migrations are history and keep their names`,
        });
      }
      throw new RefusedError("MIGRATION_REMOVED", `migration ${r.fileName} was applied (${r.status}) but its file is no longer in the migrations folder`, {
        hint: "restore the file from version control; to undo its effect, add a new migration",
      });
    }
    if (file.checksum !== r.checksum && !editableAfterFailure(r)) {
      throw new RefusedError("MIGRATION_EDITED", `migration ${file.displayPath} was edited after it was ${r.status === "applied" ? "applied" : "started"} (checksum ${r.checksum.slice(0, 12)} recorded, ${file.checksum.slice(0, 12)} now)`, {
        hint:
          r.status === "applied"
            ? "restore the applied version from version control and put the change in a new migration (moose migrate generate)"
            : "restore the version that was started, or run `moose migrate deploy` after discarding the failed run",
      });
    }
  }
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const pending = files.filter((f) => !applied.has(f.id));
  const newestApplied = [...applied].sort().at(-1);
  if (!allowOutOfOrder && newestApplied !== undefined) {
    const late = pending.filter((f) => f.id < newestApplied);
    if (late.length > 0) {
      throw new RefusedError("MIGRATION_OUT_OF_ORDER", `${late.map((f) => f.displayPath).join(", ")} ${late.length === 1 ? "is" : "are"} older than the newest applied migration ${newestApplied} but not applied`, {
        hint: "usually a merge brought in an older migration: regenerate it on top of the others, or run with --allow-out-of-order if it is independent",
      });
    }
  }
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

/** Ledger ids of unfinished rollbacks (`<migration id>.rollback`); see rollback.ts. */
export function isRollbackRecord(id: string): boolean {
  return id.endsWith(".rollback");
}


/**
 * `moose migrate deploy`: applies the pending committed migrations in order,
 * step by step, recording progress in the ledger after every step. A failed
 * run resumes at the failed step. Steps that lose data run only when the file
 * approves them; live objects must match what the migration expects.
 */
/** Which non-OLAP engines the pending migrations need, so nothing unneeded is contacted. */
export interface EngineNeeds {
  readonly streams: boolean;
  readonly workflows: boolean;
}

function needsOf(migrations: readonly ReplayedMigration[]): EngineNeeds {
  const kinds = migrations.flatMap((m) => m.changes.map((c) => c?.kind ?? "sql"));
  return { streams: kinds.some((k) => k.startsWith("topic.")), workflows: kinds.some((k) => k.startsWith("workflow.")) };
}

export async function deploy(
  files: readonly MigrationFile[],
  ledger: Ledger,
  openEngines: (needs: EngineNeeds) => Promise<DeployEngines>,
  options: DeployOptions = {},
): Promise<DeployReport> {
  const replay = replayMigrations(files);
  const replayed = new Map(replay.migrations.map((m) => [m.file.id, m]));
  const records = await ledger.list();
  const pending = pendingMigrations(files, records, options.allowOutOfOrder);
  const outcomes: MigrationOutcome[] = files.filter((f) => !pending.includes(f)).map((f) => ({ id: f.id, status: "already-applied" as const }));
  const emit = options.onEvent ?? (() => {});

  // Approval comes first and for the whole sequence: nothing of a migration runs when one of its steps is unapproved.
  for (const file of pending) checkApprovals(replayed.get(file.id)!);
  // Hand-written SQL is read by ClickHouse's parser, for the whole sequence, before anything runs.
  const losses = new Map<string, Map<number, string>>();
  for (const file of pending) {
    const m = replayed.get(file.id)!;
    losses.set(file.id, await guardMigrationSql(m.file.up, m.changes, m.file.displayPath, `${m.file.fileName} would lose data and does not approve it; nothing of it was applied`));
  }
  if (pending.length === 0) return { migrations: outcomes, ok: true };

  if (options.dryRun) {
    const engines = await openEngines({ streams: false, workflows: false });
    try {
      return await dryRun(pending, replayed, engines, outcomes, files, losses);
    } finally {
      await engines.close();
    }
  }

  const owner = options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  const ttl = options.lockTtlMs ?? 10 * 60_000;
  await takeLock(ledger, owner, ttl, options.lockWaitMs ?? 0);
  let ok = true;
  // The ledger does not check the lock per write: keep it alive through long ClickHouse steps.
  const renew = setInterval(() => void ledger.renewLock(owner, ttl).catch(() => {}), Math.max(1000, Math.floor(ttl / 3)));
  renew.unref();
  try {
    // Re-read under the lock: another deploy may have applied some of these meanwhile. While this
    // deploy holds the lock, only it writes these records, so this one read stands in for a read per migration.
    const underLock = await ledger.list();
    const recorded = new Map(underLock.map((r) => [r.id, r]));
    const now = pendingMigrations(files, underLock, options.allowOutOfOrder);
    const todo = pending.filter((f) => now.includes(f));
    for (const f of pending) if (!todo.includes(f)) outcomes.push({ id: f.id, status: "already-applied" });
    if (todo.length > 0) {
      // Engines open only under the lock: the embedded engine admits one process per data folder.
      // Every engine is opened (and so reached) before the first step runs: an unreachable
      // broker or Temporal fails the deploy with nothing applied or recorded.
      const engines = await openEngines(needsOf(todo.map((f) => replayed.get(f.id)!)));
      try {
        const ctx = { database: engines.olap.database, capabilities: await engines.olap.capabilities() };
        await checkDriftOnce(todo.map((f) => replayed.get(f.id)!), recorded, ledger, engines.olap);
        for (const file of todo) {
          if (!ok) {
            outcomes.push({ id: file.id, status: "not-run" });
            continue;
          }
          const outcome = await applyMigration(replayed.get(file.id)!, recorded.get(file.id), ledger, engines, ctx, emit, options.resumeRunning ?? false);
          outcomes.push(outcome);
          if (outcome.status === "failed") ok = false;
        }
      } finally {
        await engines.close();
      }
    }
  } finally {
    clearInterval(renew);
    await ledger.releaseLock(owner);
  }
  return { migrations: sortOutcomes(outcomes, files), ok };
}

async function takeLock(ledger: Ledger, owner: string, ttl: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = await ledger.acquireLock(owner, ttl);
    if (lock.acquired) return;
    if (Date.now() >= deadline) {
      throw new EngineError("DEPLOY_LOCKED", `another deploy holds the migration lock: ${lock.holder.owner}, since ${lock.holder.acquiredAt} (expires ${lock.holder.expiresAt})`, {
        hint: "wait for it to finish (or pass --lock-timeout SECONDS to wait); if that process is gone, run `moose migrate unlock`",
      });
    }
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

async function dryRun(
  pending: readonly MigrationFile[],
  replayed: ReadonlyMap<string, ReplayedMigration>,
  engines: DeployEngines,
  outcomes: MigrationOutcome[],
  files: readonly MigrationFile[],
  losses: ReadonlyMap<string, ReadonlyMap<number, string>>,
): Promise<DeployReport> {
  const ctx = { database: engines.olap.database, capabilities: await engines.olap.capabilities() };
  for (const file of pending) {
    const m = replayed.get(file.id)!;
    const statements = statementsForSteps(executable(m), { ...ctx, state: m.before }, engines.workflows !== undefined);
    const lost = losses.get(file.id);
    outcomes.push({
      id: file.id,
      status: "planned",
      steps: file.up.map((s, i) => {
        const loss = lost?.get(i);
        return { index: i, description: s.step.op, statements: statements[i] ?? [], ...(loss !== undefined ? { dataLoss: loss } : {}) };
      }),
    });
  }
  return { migrations: sortOutcomes(outcomes, files), ok: true };
}


function sortOutcomes(outcomes: MigrationOutcome[], files: readonly MigrationFile[]): MigrationOutcome[] {
  const order = new Map(files.map((f, i) => [f.id, i]));
  return outcomes.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/** Every step that loses data must say `approveDataLoss: true` in the file. */
export function executable(m: ReplayedMigration): ExecutableStep[] {
  return executableSteps(m.file.up.map((l) => l.step), m.changes);
}

/** File steps with their replayed changes, as the executor takes them. */
export function executableSteps(steps: readonly Step[], changes: ReadonlyArray<Change | null>): ExecutableStep[] {
  return steps.map((step, i) => {
    const base = { change: changes[i] ?? null, ...(approvalOf(step) ? { approved: true } : {}) };
    if (step.op === "sql") return { ...base, sql: String(step.args[0]) };
    if (step.op === "check") {
      const options = step.args[1];
      const message = options !== null && typeof options === "object" && typeof (options as { message?: unknown }).message === "string" ? String((options as { message: string }).message) : "check failed";
      return { ...base, check: { query: String(step.args[0]), message } };
    }
    return base;
  });
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
    state = applyChange(state, change);
  });
  if (refused.length > 0) {
    throw new RefusedError("LIFECYCLE_PROTECTED", `${m.file.fileName} changes objects their life cycle protects; nothing of it was applied`, {
      details: refused,
      hint: "change the object's lifeCycle in the code (a migration of its own) first, or remove these steps",
    });
  }
}

/** `dropColumn("Users", …)`: a step as messages name it; an object argument by its name. */
export function stepLabel(step: Step): string {
  const first = step.args[0];
  const shown = first !== null && typeof first === "object" && "name" in first ? (first as { name: unknown }).name : first;
  return `${step.op}(${JSON.stringify(shown)?.slice(0, 80) ?? ""}${step.args.length > 1 ? ", …" : ""})`;
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
    state = applyChange(state, change);
  });
  if (unapproved.length > 0) {
    throw new RefusedError("DESTRUCTIVE_NOT_APPROVED", headline, {
      details: unapproved,
      hint: "if the data may go, write `{ approveDataLoss: true }` on each of these steps in the file (code review sees it); otherwise change the code so nothing is dropped",
    });
  }
}


async function applyMigration(
  m: ReplayedMigration,
  recorded: MigrationRecord | undefined,
  ledger: Ledger,
  engines: DeployEngines,
  ctx: { database: string; capabilities: Awaited<ReturnType<OlapEngine["capabilities"]>> },
  emit: (e: DeployEvent) => void,
  resumeRunning: boolean,
): Promise<MigrationOutcome> {
  const file = m.file;
  let existing = recorded;
  if (existing && existing.checksum !== file.checksum && editableAfterFailure(existing)) {
    await ledger.discardFailed(file.id);
    existing = undefined;
  }
  let done = new Set(existing ? await ledger.stepsDone(file.id) : []);
  // Everything that can fail before the first statement runs happens before the ledger records a start.
  const steps = executable(m);
  const allStatements = statementsForSteps(steps, { ...ctx, state: m.before }, engines.workflows !== undefined);
  const begun = await ledger.begin({
    id: file.id,
    fileName: file.fileName,
    checksum: file.checksum,
    checksumAlgorithm: file.checksumAlgorithm,
    parentHash: file.parent,
    resultHash: file.result,
    stepsTotal: file.up.length,
  }, { resumeRunning });
  // `begin` returns the record as it made it ours, with its count of applied steps: only a record
  // changed since the read under the lock (a process writing without the lock) makes that differ.
  if (begun.stepsApplied !== done.size) done = new Set(await ledger.stepsDone(file.id));
  const started = performance.now();
  emit({ kind: "migration-start", id: file.id, resumeFrom: done.size, steps: file.up.length });
  let run = 0;
  let completed = false;
  const lastToRun = Math.max(-1, ...file.up.map((_, i) => i).filter((i) => !done.has(i)));
  for (let i = 0; i < file.up.length; i++) {
    if (done.has(i)) {
      emit({ kind: "step-skipped", id: file.id, index: i });
      continue;
    }
    const statements = allStatements[i] ?? [];
    const t0 = performance.now();
    try {
      // A step of several statements is marked started first, so a crash in the middle shows which step
      // may be half-applied; one statement either ran or did not, and the commit is saved.
      if (statements.length > 1) await ledger.stepStarted(file.id, i, statements);
      await executeStep(steps[i]!, statements, engines);
    } catch (error) {
      const message = error instanceof MooseError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
      const record = await ledger.stepFailed(file.id, i, message, statements);
      return { id: file.id, status: "failed", failedStep: i, error: message, stepsApplied: record.stepsApplied, ...(error instanceof MooseError ? { code: error.code } : {}) };
    }
    // The last step completes the migration in the same ledger transaction.
    await ledger.stepDone(file.id, i, statements, { complete: i === lastToRun });
    completed = i === lastToRun;
    run++;
    emit({ kind: "step-done", id: file.id, index: i, statements, ms: performance.now() - t0 });
  }
  if (!completed) await ledger.complete(file.id);
  emit({ kind: "migration-done", id: file.id, ms: performance.now() - started });
  return { id: file.id, status: "applied", stepsRun: run, resumedFrom: done.size };
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
  const scope = { tables: new Set<string>(), views: new Set<string>() };
  const seen = new Set<string>();
  let blamed: ReplayedMigration | undefined;
  for (const m of pending) {
    // No record, no steps (they belong to it); only a record can have some.
    const fresh = !recorded.has(m.file.id) || (await ledger.stepsDone(m.file.id)).length === 0;
    const touched = touchedObjects(m);
    for (const [kind, names] of [["tables", touched.tables], ["views", touched.views]] as const) {
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

function touchedObjects(m: ReplayedMigration): { tables: Set<string>; views: Set<string> } {
  const tables = new Set<string>();
  const views = new Set<string>();
  for (const c of m.changes) {
    if (!c) continue;
    if (c.kind === "table.create" || c.kind === "table.drop") tables.add(c.table.name);
    else if (c.kind === "table.rename") {
      tables.add(c.from);
      tables.add(c.to);
    } else if (c.kind === "table.rebuild") tables.add(c.before.name);
    else if (c.kind === "table.copyRows") {
      tables.add(c.from);
      tables.add(c.to);
    } else if (c.kind.startsWith("table.")) tables.add((c as { table: string }).table);
    else if (c.kind === "view.create" || c.kind === "view.drop" || c.kind === "view.backfill") views.add(c.view.name);
    else if (c.kind === "view.modify") views.add(c.after.name);
  }
  return { tables, views };
}
