import { hostname } from "node:os";
import { DATA_CHANGE_KINDS, type Change } from "../../diff/change.js";
import { enginesNeeded, liveObjects, ownerOf, subjectName } from "../../diff/change-meta.js";
import { parseStatement } from "../../engines/olap/parser.js";
import { readRefusal } from "../../engines/olap/statement-policy.js";
import { EngineError, MooseError, RefusedError } from "../../errors.js";
import type { LockHolder, MigrationRecord } from "../../ledger/records.js";
import { applyChange } from "../../model/apply-change.js";
import { liveDrift, sqlResourceLiveState, type SqlResourceLiveState } from "./status.js";
import type { OlapCapabilities } from "../../engines/olap/capabilities.js";
import type { BeginMigration, Ledger } from "../../ledger/ledger.js";
import type { InfraMap } from "../../model/infra-map.js";
import { assertRuntimeEnv, effectsForSteps, effectText, executeStep, type Effect, type EffectsRun, type Engines, type ExecutableStep } from "./execute.js";
import { dropStagedLeftovers, uncertainty } from "../../engines/olap/staged-insert.js";
import { rebuildTail } from "../../engines/olap/sql/rebuild.js";
import { identifiersIn } from "../../engines/olap/sql-text.js";
import { statementCluster } from "../../engines/olap/cluster.js";

/**
 * The one executor behind `deploy` and `rollback` (and their dry runs): a direction
 * decides which steps a unit holds and what its completion means; taking and renewing
 * the lock, opening the engines the steps need, recording every step in the ledger and
 * resuming at the first step not recorded are the same both ways.
 */

export type Direction = "deploy" | "rollback";

export interface RunEngines extends Engines {
  /** Closes every engine it opened. */
  close(): Promise<void>;
}

/** Which non-OLAP engines the steps need, so nothing unneeded is contacted. */
export interface EngineNeeds {
  readonly streams: boolean;
  readonly workflows: boolean;
}

export type OpenEngines = (needs: EngineNeeds) => Promise<RunEngines>;

/** One migration run in one direction: its steps in order, recorded under `record.id`. */
export interface RunUnit {
  /** The migration's id, for events and outcomes. */
  readonly id: string;
  /** The ledger record the run keeps (`<id>` deploying, `<id>.rollback` rolling back). */
  readonly record: BeginMigration;
  readonly steps: readonly ExecutableStep[];
  /** The state the first step starts from (statements are written against it). */
  readonly state: InfraMap;
}

export type RunEvent =
  | { readonly kind: "start"; readonly direction: Direction; readonly id: string; readonly resumeFrom: number; readonly steps: number }
  | { readonly kind: "step-start"; readonly direction: Direction; readonly id: string; readonly index: number; readonly steps: number }
  | { readonly kind: "step-done"; readonly direction: Direction; readonly id: string; readonly index: number; readonly statements: readonly string[]; readonly ms: number }
  | { readonly kind: "step-skipped"; readonly direction: Direction; readonly id: string; readonly index: number }
  /**
   * While a step's INSERT runs on an engine that can tell (a server; see `OlapEngine.writeProgress`),
   * about every half second: rows read so far and the server's estimate of all it will read (0: none yet).
   */
  | { readonly kind: "step-progress"; readonly direction: Direction; readonly id: string; readonly index: number; readonly rows: number; readonly total: number; readonly written: number; readonly unit: "rows" | "parts" }
  | { readonly kind: "done"; readonly direction: Direction; readonly id: string; readonly ms: number };

export type UnitOutcome =
  | { readonly id: string; readonly status: "done"; readonly stepsRun: number; readonly resumedFrom: number }
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

/** How long a lock lives without a heartbeat (the holder renews it every third of this). */
export const DEFAULT_LOCK_TTL_MS = 2 * 60_000;

/** Throws `DEPLOY_LOCK_LOST` once the run's lock was taken over or released under it. */
export type LockCheck = () => void;

export interface LockOptions {
  /** Told when the lock was taken over from a holder that died (its name and when it took the lock). */
  readonly onTakeover?: (previous: { readonly owner: string; readonly acquiredAt: string }) => void;
  /** How long to wait for another run's lock before giving up (default 0: fail at once). */
  readonly lockWaitMs?: number;
  readonly owner?: string;
  readonly lockTtlMs?: number;
}

export interface RunHooks {
  /** With the engines open, before the first unit: what must hold for the whole run (deploy's drift check). */
  readonly beforeAll?: (engines: RunEngines, units: readonly RunUnit[]) => Promise<void>;
  /** Before a unit's record is begun, with the steps it already recorded and its record (rollback's drift check, a discarded failed record). */
  readonly beforeUnit?: (unit: RunUnit, engines: RunEngines, done: ReadonlySet<number>, existing: MigrationRecord | undefined) => Promise<void>;
  /** After a unit's last step is recorded and the record completed (rollback forgets the migration). */
  readonly afterUnit?: (unit: RunUnit) => Promise<void>;
  /** Called before every step (see {@link withMigrationLock}). */
  readonly held?: LockCheck;
  /**
   * Re-run a step left `running` by a dead process even when moose cannot tell whether it
   * ran (a hand-written write, a data copy, a stream or workflow change). Steps it can
   * tell about are settled without it (see {@link settleInterrupted}).
   */
  readonly resumeRunning?: boolean;
  readonly onEvent?: (event: RunEvent) => void;
  /**
   * The ledger's records as the caller read them under the lock (no other process writes them
   * meanwhile), so no unit's record is read again. A unit with none is begun, with its first
   * step marked started, by the same ledger write that completes the unit before it
   * (`Ledger.completeAndBegin`): one durable write between two migrations. Such a unit gets no
   * `beforeUnit` call (deploy's concerns recorded units only); not for runs with `afterUnit`.
   */
  readonly records?: ReadonlyMap<string, MigrationRecord>;
  /**
   * What the units' steps run, by ledger record id, as the caller already worked it out on the
   * engines `openEngines` returns, with the unit's {@link effectsRun} (deploy's pre-flight does, for
   * every pending migration): taken as it is instead of being written again for every unit.
   */
  readonly effects?: ReadonlyMap<string, readonly Effect[][]>;
}

/** A unit begun, with its first step marked started, by the write that completed the unit before it. */
interface Handoff {
  readonly unit: RunUnit;
  readonly effects: readonly Effect[][];
  readonly begun: MigrationRecord;
}

/**
 * Runs the lock-taking part: `work` runs while this process holds the migration lock,
 * which is renewed in the background (the ledger does not check it per write) and
 * released however `work` ends.
 */
export async function withMigrationLock<T>(ledger: Ledger, direction: Direction, options: LockOptions, work: (held: LockCheck) => Promise<T>): Promise<T> {
  const owner = options.owner ?? `${hostname()}:${process.pid}:${direction === "rollback" ? "rollback:" : ""}${Math.random().toString(36).slice(2, 10)}`;
  const ttl = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
  const taken = await takeLock(ledger, owner, ttl, options.lockWaitMs ?? 0);
  if (taken) options.onTakeover?.(taken);
  let lost: string | undefined;
  const renew = setInterval(() => {
    void ledger.renewLock(owner, ttl).then(
      (r) => {
        if (!r.renewed) lost ??= r.holder ? `${r.holder.owner} took it over` : "it was released (moose migrate unlock?)";
      },
      () => {},
    );
  }, Math.max(1000, Math.floor(ttl / 3)));
  renew.unref();
  // Checked before every step: a run that lost its lock stops rather than race the new holder.
  const held: LockCheck = () => {
    if (lost !== undefined) {
      throw new EngineError("DEPLOY_LOCK_LOST", `this ${direction} lost the migration lock: ${lost}; it stopped before the next step`, {
        hint: "check who holds it (moose migrate status) and run the command again when it is free",
      });
    }
  };
  try {
    return await work(held);
  } finally {
    clearInterval(renew);
    await ledger.releaseLock(owner);
  }
}

/** Takes the lock; returns the holder it was taken over from, if any. */
async function takeLock(ledger: Ledger, owner: string, ttl: number, waitMs: number): Promise<LockHolder | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = await ledger.acquireLock(owner, ttl);
    if (lock.acquired) return lock.takenOverFrom;
    if (Date.now() >= deadline) {
      throw new EngineError("DEPLOY_LOCKED", `another deploy holds the migration lock: ${lock.holder.owner}, since ${lock.holder.acquiredAt} (expires ${lock.holder.expiresAt})`, {
        hint: "wait for it to finish (or pass --lock-timeout SECONDS to wait); if that process is gone, run `moose migrate unlock`",
      });
    }
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
  }
}

/** Names a unit's writes (see staged-insert.ts): its ledger record and direction. */
export function effectsRun(unit: RunUnit): EffectsRun {
  return { migrationId: unit.record.id, direction: unit.record.id.endsWith(".rollback") ? "down" : "up" };
}

/** What each step of each unit would run, as text, without running anything (`--dry-run`). Only ClickHouse is opened. */
export async function planUnits(units: readonly RunUnit[], openEngines: OpenEngines): Promise<string[][][]> {
  const engines = await openEngines({ streams: false, workflows: false });
  try {
    const ctx = { database: engines.olap.database, capabilities: await engines.olap.capabilities() };
    const out: string[][][] = [];
    for (const u of units) out.push((await effectsForSteps(u.steps, { ...ctx, state: u.state, run: effectsRun(u) }, engines.workflows !== undefined)).map((effects) => effects.map(effectText)));
    return out;
  } finally {
    await engines.close();
  }
}

/**
 * Runs `units` in order (the caller holds the lock); stops at the first failed unit and
 * reports the rest as `not-run`. Every engine the units need is opened (and so reached)
 * before the first step runs: an unreachable broker or Temporal fails the run with
 * nothing applied or recorded.
 */
export async function runUnits(units: readonly RunUnit[], ledger: Ledger, openEngines: OpenEngines, hooks: RunHooks, direction: Direction): Promise<UnitOutcome[]> {
  if (units.length === 0) return [];
  const engines = await openEngines(enginesNeeded(units.flatMap((u) => u.steps.map((s) => s.change))));
  const outcomes: UnitOutcome[] = [];
  try {
    const ctx = { database: engines.olap.database, capabilities: await engines.olap.capabilities() };
    await checkRuntimeEnv(units, ctx, engines.workflows !== undefined, hooks.effects);
    await hooks.beforeAll?.(engines, units);
    let ok = true;
    let handoff: Handoff | undefined;
    for (const [k, unit] of units.entries()) {
      if (!ok) {
        outcomes.push({ id: unit.id, status: "not-run" });
        continue;
      }
      const next = units[k + 1];
      const chain = hooks.records !== undefined && hooks.afterUnit === undefined && next !== undefined && next.steps.length > 0 && !hooks.records.has(next.record.id) ? next : undefined;
      const result = await runUnit(unit, ledger, engines, ctx, hooks, direction, handoff?.unit === unit ? handoff : undefined, chain);
      handoff = result.handoff;
      outcomes.push(result.outcome);
      if (result.outcome.status === "failed") ok = false;
    }
  } finally {
    await engines.close();
  }
  return outcomes;
}

/** What the unit's steps run, for its ledger record and the run's staging tables (the caller's, when it worked them out: see RunHooks.effects). */
async function unitEffects(unit: RunUnit, engines: RunEngines, ctx: { readonly database: string; readonly capabilities: OlapCapabilities }, known: RunHooks["effects"]): Promise<readonly Effect[][]> {
  return known?.get(unit.record.id) ?? effectsForSteps(unit.steps, { ...ctx, state: unit.state, run: effectsRun(unit) }, engines.workflows !== undefined);
}

/** Writes with keyed INSERTs leave staging "done" marks, dropped after the unit completes (see staged-insert.ts). */
function writesStaged(effects: readonly Effect[][]): boolean {
  return effects.some((step) => step.some((e) => e.kind === "insert" && e.plan.key !== ""));
}

/**
 * Every environment variable the units' statements read (`mooseRuntimeEnv.get`) is set, or
 * `RUNTIME_ENV_MISSING` names the first missing one and its step before anything runs or is recorded.
 */
async function checkRuntimeEnv(units: readonly RunUnit[], ctx: { readonly database: string; readonly capabilities: OlapCapabilities }, workflowsEnabled: boolean, known: RunHooks["effects"]): Promise<void> {
  for (const unit of units) {
    const planned = known?.get(unit.record.id);
    // Only a step whose change names a variable can read one; most runs have none to look for.
    if (!planned && !unit.steps.some((s) => s.change !== null && JSON.stringify(s.change).includes('"runtimeEnv":'))) continue;
    const effects = planned ?? (await effectsForSteps(unit.steps, { ...ctx, state: unit.state, run: effectsRun(unit) }, workflowsEnabled));
    assertRuntimeEnv(effects, (step) => `step ${step + 1} of ${unit.id}${stepSubject(unit.steps[step]?.change ?? null)}`);
  }
}

function stepSubject(change: Change | null): string {
  return change === null ? "" : ` (${change.kind} ${subjectName(change)})`;
}

async function runUnit(
  unit: RunUnit,
  ledger: Ledger,
  engines: RunEngines,
  ctx: { readonly database: string; readonly capabilities: OlapCapabilities },
  hooks: RunHooks,
  direction: Direction,
  handed: Handoff | undefined,
  next: RunUnit | undefined,
): Promise<{ readonly outcome: UnitOutcome; readonly handoff?: Handoff }> {
  const ledgerId = unit.record.id;
  const emit = hooks.onEvent ?? (() => {});
  let done: Set<number>;
  let allEffects: readonly Effect[][];
  let markedNext = -1;
  if (handed) {
    // Begun, and its first step marked started, by the write that completed the unit before it.
    done = new Set();
    allEffects = handed.effects;
    markedNext = 0;
  } else {
    const existing = hooks.records ? hooks.records.get(ledgerId) : await ledger.get(ledgerId);
    done = new Set(existing ? await ledger.stepsDone(ledgerId) : []);
    await hooks.beforeUnit?.(unit, engines, done, existing);
    // Everything that can fail before the first statement runs happens before the ledger records a start.
    allEffects = await unitEffects(unit, engines, ctx, hooks.effects);
    // The lock is ours, so a record left `running` belongs to a run that died: settle the step it was on.
    const interrupted = existing?.status === "running" && (await ledger.get(ledgerId))?.status === "running";
    if (interrupted) await settleInterrupted(unit, done, allEffects, ledger, engines, hooks.resumeRunning ?? false);
    if (existing) done = new Set(await ledger.stepsDone(ledgerId));
    const begun = await ledger.begin(unit.record, { resumeRunning: interrupted });
    // `begin` returns the record as it made it ours, with its count of applied steps: only a record
    // changed since the read above (a process writing without the lock) makes that differ.
    if (begun.stepsApplied !== done.size) done = new Set(await ledger.stepsDone(ledgerId));
    // A step that failed ON CLUSTER (a host failed or timed out) may have run on some hosts only.
    const failed = existing?.status === "failed" || existing?.status === "partially_applied" ? existing.failedStep : null;
    if (failed !== null && failed !== undefined && !done.has(failed) && (await settleFailedOnCluster(unit, failed, allEffects, engines)) === "done") {
      await ledger.stepDone(ledgerId, failed, (allEffects[failed] ?? []).map(effectText));
      done = new Set(await ledger.stepsDone(ledgerId));
    }
  }
  const started = performance.now();
  const total = unit.steps.length;
  emit({ kind: "start", direction, id: unit.id, resumeFrom: done.size, steps: total });
  let run = 0;
  let completed = false;
  let handoff: Handoff | undefined;
  const lastToRun = Math.max(-1, ...unit.steps.map((_, i) => i).filter((i) => !done.has(i)));
  for (let i = 0; i < total; i++) {
    if (done.has(i)) {
      emit({ kind: "step-skipped", direction, id: unit.id, index: i });
      continue;
    }
    const effects: readonly Effect[] = allEffects[i] ?? [];
    const statements = effects.map(effectText);
    hooks.held?.();
    const t0 = performance.now();
    emit({ kind: "step-start", direction, id: unit.id, index: i, steps: total });
    try {
      // Marked started first: after a crash, the next run knows which step may have happened
      // (the step after a done one is marked in the same write as that one).
      if (i !== markedNext) await ledger.stepStarted(ledgerId, i, statements);
      const watch = hooks.onEvent ? watchProgress(engines.olap, (p) => emit({ kind: "step-progress", direction, id: unit.id, index: i, ...p })) : undefined;
      try {
        await executeStep(effects, engines);
      } finally {
        watch?.();
      }
    } catch (error) {
      const message = error instanceof MooseError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
      const record = await ledger.stepFailed(ledgerId, i, message, statements);
      return { outcome: { id: unit.id, status: "failed", failedStep: i, error: message, stepsApplied: record.stepsApplied, ...(error instanceof MooseError ? { code: error.code } : {}) } };
    }
    // The last step completes the record in the same ledger transaction (and begins the next
    // unit, when it can be: see RunHooks.records); any other marks the next step started.
    const following = unit.steps.findIndex((_, k) => k > i && !done.has(k));
    markedNext = i !== lastToRun && following >= 0 ? following : -1;
    const chained = i === lastToRun && next !== undefined && !writesStaged(allEffects) ? await unitEffects(next, engines, ctx, hooks.effects).catch(() => undefined) : undefined;
    if (chained !== undefined && next !== undefined) {
      const first = { index: 0, statements: (chained[0] ?? []).map(effectText) };
      const { begun } = await ledger.completeAndBegin(ledgerId, i, statements, { migration: next.record, step: first });
      if (begun) handoff = { unit: next, effects: chained, begun };
    } else {
      await ledger.stepDone(ledgerId, i, statements, i === lastToRun ? { complete: true } : markedNext >= 0 ? { next: { index: markedNext, statements: (allEffects[markedNext] ?? []).map(effectText) } } : {});
    }
    completed = i === lastToRun;
    run++;
    emit({ kind: "step-done", direction, id: unit.id, index: i, statements, ms: performance.now() - t0 });
  }
  if (!completed) await ledger.complete(ledgerId);
  // The writes' "done" marks (empty ready tables) are not needed once the ledger has the steps.
  if (writesStaged(allEffects)) await dropStagedLeftovers(engines.olap, new Set());
  await hooks.afterUnit?.(unit);
  emit({ kind: "done", direction, id: unit.id, ms: performance.now() - started });
  return { outcome: { id: unit.id, status: "done", stepsRun: run, resumedFrom: done.size }, ...(handoff ? { handoff } : {}) };
}

/** How often a running step's row progress is read (servers only). */
const PROGRESS_EVERY_MS = 500;

/**
 * Reads the engine's write progress every {@link PROGRESS_EVERY_MS} while a step runs, one
 * read at a time, and reports what it finds; returns the stop. Nothing on an engine that
 * cannot tell (the embedded one). A read that fails is skipped: progress is never a reason
 * for a step to fail.
 */
function watchProgress(olap: RunEngines["olap"], report: (p: { rows: number; total: number; written: number; unit: "rows" | "parts" }) => void): (() => void) | undefined {
  const read = olap.writeProgress;
  if (!read) return undefined;
  let busy = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void read()
      .then((p) => {
        if (p && !stopped) report({ rows: p.readRows, total: p.totalRows, written: p.writtenRows, unit: p.unit ?? "rows" });
      }, () => undefined)
      .finally(() => (busy = false));
  }, PROGRESS_EVERY_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * Settles the step a dead run was on (the first one not recorded as done), so a plain
 * run can go on: a step recorded as never started did not run; a ClickHouse DDL step is
 * compared with the live database — as after it: recorded as done (a rebuild's clean-up
 * after its swap is finished first); as before it: run again; anything else is refused
 * (`STEP_INTERRUPTED`, with the differences). Steps that can run again are left to run:
 * checks, reads, state-only steps, row writes (copies, view backfills, hand-written
 * INSERTs: they resume from their staging tables, see staged-insert.ts) and backfills
 * of a column from other columns (the same UPDATE again writes the same values). What
 * moose cannot see the effect of (other hand-written statements, a backfill reading the
 * column it writes, topic and workflow changes) is refused (`STEP_UNCERTAIN`) unless
 * `rerun` (`--resume-running`) says to run it again.
 */
export async function settleInterrupted(unit: RunUnit, done: ReadonlySet<number>, effects: readonly Effect[][], ledger: Ledger, engines: RunEngines, rerun: boolean): Promise<void> {
  const ledgerId = unit.record.id;
  const index = unit.steps.findIndex((_, i) => !done.has(i));
  if (index < 0) return;
  const started = (await ledger.steps(ledgerId)).some((s) => s.index === index && s.status === "running");
  if (!started) return;
  const step = unit.steps[index]!;
  const change = step.change;
  const label = `step ${index + 1} of ${unit.id}`;
  const statements = (effects[index] ?? []).map(effectText);
  const repeatable = (effects[index] ?? []).every((e) => e.kind === "check" || e.kind === "state" || (e.kind === "insert" && e.plan.key !== ""));
  if (repeatable) {
    for (const e of effects[index] ?? []) {
      const found = e.kind === "insert" ? await uncertainty(e.plan, engines.olap) : undefined;
      if (found && !rerun) throw new RefusedError("STEP_UNCERTAIN", `${label} was running when its run stopped, and ${found.message}; nothing more was run`, { details: statements.slice(0, 3), hint: found.hint });
    }
    return;
  }
  if (change === null && step.sql !== undefined && (await readsOnly(step.sql))) return;
  if (change?.kind === "table.backfillColumn" && !(change.expression !== undefined && identifiersIn(change.expression).has(change.column))) return;
  let before = unit.state;
  for (const s of unit.steps.slice(0, index)) if (s.change) before = applyChange(before, s.change);
  if (change?.kind === "sqlResource.create" || change?.kind === "sqlResource.drop" || change?.kind === "sqlResource.modify") {
    // Raw DDL: the objects its setup creates tell before from after (and a view's SELECT, old from new).
    const full = (s: SqlResourceLiveState) => s.present === s.total && s.differing.length === 0;
    let afterOk: boolean;
    let beforeOk: boolean;
    let details: string[];
    if (change.kind === "sqlResource.create") {
      const s = await sqlResourceLiveState(change.resource, engines.olap);
      [afterOk, beforeOk, details] = [full(s), s.present === 0, [`${s.present} of the ${s.total} objects its setup creates exist`, ...s.differing]];
    } else if (change.kind === "sqlResource.drop") {
      const s = await sqlResourceLiveState(change.resource, engines.olap);
      [afterOk, beforeOk, details] = [s.present === 0, full(s), [`${s.present} of the ${s.total} objects its setup created still exist`, ...s.differing]];
    } else {
      const [a, b] = [await sqlResourceLiveState(change.after, engines.olap), await sqlResourceLiveState(change.before, engines.olap)];
      [afterOk, beforeOk, details] = [full(a), full(b), [...a.differing, ...b.differing]];
    }
    if (afterOk && !beforeOk) {
      await ledger.stepDone(ledgerId, index, statements);
      return;
    }
    if (beforeOk && !afterOk) return;
    if (!afterOk && !beforeOk) {
      throw new RefusedError("STEP_INTERRUPTED", `${label} was interrupted, and the live database is neither as before it nor as after it; nothing more was run`, {
        details,
        hint: "finish or undo that step by hand (its statements are in the migration file), then `moose migrate resolve` or run deploy again",
      });
    }
    // Before and after look the same from outside (a table re-created under its name): only a person can tell.
  }
  if (change !== null && ownerOf(change) === "olap" && !(DATA_CHANGE_KINDS as readonly string[]).includes(change.kind) && !change.kind.startsWith("sqlResource.")) {
    const after = applyChange(before, change);
    const scope = liveObjects([change]);
    const differences = await liveDrift(after, engines.olap, scope);
    if (differences.length === 0) {
      if (change.kind === "table.rebuild") {
        const ctx = { database: engines.olap.database, capabilities: await engines.olap.capabilities(), state: before };
        for (const sql of rebuildTail(change, ctx)) await engines.olap.execute(sql);
      }
      await ledger.stepDone(ledgerId, index, statements);
      return;
    }
    if ((await liveDrift(before, engines.olap, scope)).length === 0) return;
    throw new RefusedError("STEP_INTERRUPTED", `${label} was interrupted, and the live database is neither as before it nor as after it; nothing more was run`, {
      details: differences,
      hint: "finish or undo that step by hand, then `moose migrate resolve` or run deploy again",
    });
  }
  if (rerun) return;
  const why =
    change?.kind === "table.backfillColumn"
      ? `its expression reads ${change.column}, the column it writes, so running it twice would not write the same values`
      : change === null
        ? "a hand-written statement that is neither an INSERT nor a read"
        : `a ${change.kind} change, whose effect moose cannot read back`;
  throw new RefusedError("STEP_UNCERTAIN", `${label} (${change?.kind ?? "hand-written SQL"}) was running when its run stopped, and moose cannot see whether it took effect (${why}); nothing more was run`, {
    details: statements.slice(0, 3),
    hint: "check the database: if it took effect, record the migration with `moose migrate resolve --applied`; to run the step again, `moose migrate deploy --resume-running`",
  });
}

/** How long a resumed deploy waits for hosts to run the distributed DDL queued for them while they were away. */
const CLUSTER_SETTLE_MS = Number(process.env["MOOSE_CLUSTER_SETTLE_S"] ?? 30) * 1000;

/**
 * Settles a ClickHouse DDL step that failed ON CLUSTER before it is run again: the
 * statement may have run on the hosts that answered, and ClickHouse keeps it queued for
 * the others, which run it when they are back. Every replica is read (introspection,
 * as drift does): as after the step everywhere → "done" (recorded without running it
 * again: an `ALTER … ADD COLUMN` would fail on the hosts that have the column, and 18.16
 * has no `IF NOT EXISTS` for columns); as before it everywhere → "rerun". In between
 * (some hosts done, others not yet), the hosts are read again for a while
 * (`MOOSE_CLUSTER_SETTLE_S`, 30 s) while their queue catches up; then
 * `OLAP_CLUSTER_PARTIAL` names the replicas that differ. Other steps → "rerun".
 */
async function settleFailedOnCluster(unit: RunUnit, index: number, effects: readonly Effect[][], engines: RunEngines): Promise<"done" | "rerun"> {
  const step = unit.steps[index];
  const change = step?.change ?? null;
  const onCluster = (effects[index] ?? []).some((e) => statementCluster(effectText(e)) !== undefined);
  if (!onCluster || change === null || ownerOf(change) !== "olap" || (DATA_CHANGE_KINDS as readonly string[]).includes(change.kind) || change.kind === "table.rebuild") return "rerun";
  let before = unit.state;
  for (const s of unit.steps.slice(0, index)) if (s.change) before = applyChange(before, s.change);
  const after = applyChange(before, change);
  const scope = liveObjects([change]);
  const until = Date.now() + CLUSTER_SETTLE_MS;
  for (;;) {
    const differences = await liveDrift(after, engines.olap, scope);
    if (differences.length === 0) return "done";
    if ((await liveDrift(before, engines.olap, scope)).length === 0) return "rerun";
    if (Date.now() > until) {
      throw new RefusedError("OLAP_CLUSTER_PARTIAL", `step ${index + 1} of ${unit.id} failed ON CLUSTER and has run on some hosts only; nothing more was run`, {
        details: differences,
        hint: "bring the hosts named back (ClickHouse runs the statement queued for them when they return), then run moose migrate deploy again; it records the step once every host has it",
      });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A hand-written statement that only reads (re-running it changes nothing). */
async function readsOnly(sql: string): Promise<boolean> {
  const parsed = await parseStatement(sql, { what: "sql(…)" }).catch(() => undefined);
  return parsed !== undefined && readRefusal(parsed, "query", "") === undefined;
}
