import type { Change } from "../../diff/change.js";
import { liveObjects } from "../../diff/change-meta.js";
import { RefusedError } from "../../errors.js";
import type { Ledger } from "../../ledger/ledger.js";
import { applyChange } from "../../model/apply-change.js";
import { hashInfraMap, type InfraMap } from "../../model/infra-map.js";
import { reverseChange } from "../../plan/plan.js";
import { classifyChange, guardedByPreflight, RISK_CODES } from "../../plan/risk.js";
import { plannedSteps, unapprovedSteps, type PlannedStep } from "./deploy.js";
import { guardMigrationSql } from "./sql-guard.js";
import { planUnits, runUnits, withMigrationLock, type LockOptions, type OpenEngines, type RunEvent, type RunUnit } from "./runner.js";
import { DRAFT_ID, type LocatedStep, type MigrationFile } from "../files/read.js";
import { replayMigrations, type ReplayedMigration } from "../files/sequence.js";
import { liveDrift } from "./status.js";
import { changeOf } from "../files/steps.js";
import { executableSteps } from "./execute.js";
import { isRollbackRecord } from "../../ledger/records.js";
import { stepLabel } from "../files/steps.js";

export interface RollbackOptions extends LockOptions {
  /** Roll back every applied migration after this one (which stays applied); default: only the newest. */
  readonly to?: string;
  readonly dryRun?: boolean;
  /** Run down steps that lose data (a rollback never does without being told, whatever the file approves). */
  readonly acceptDataLoss?: boolean;
  readonly onEvent?: (event: RunEvent) => void;
}

export type RollbackEvent = RunEvent;

export type RollbackOutcome =
  | { readonly id: string; readonly status: "rolled-back"; readonly steps: number }
  | { readonly id: string; readonly status: "planned"; readonly steps: ReadonlyArray<PlannedStep> }
  | { readonly id: string; readonly status: "failed"; readonly failedStep: number; readonly error: string }
  | { readonly id: string; readonly status: "not-run" };

export interface RollbackReport {
  /** Newest first, in the order they are (or would be) undone. */
  readonly migrations: readonly RollbackOutcome[];
  readonly ok: boolean;
}

/** A migration to undo, with its down steps replayed from the state it produced. */
interface Undo {
  readonly migration: ReplayedMigration;
  readonly down: readonly LocatedStep[];
  readonly changes: ReadonlyArray<Change | null>;
}

/** The ledger record of a rollback in progress: resumable like a deploy. */
function rollbackId(id: string): string {
  return `${id}.rollback`;
}

/**
 * `moose migrate rollback [--to <id>]`: runs the `down` steps of the newest applied
 * migration (or of every one applied after `to`, newest first), then forgets them in the
 * ledger, so the files are pending again (edit or delete them before the next deploy).
 *
 * Everything is checked before anything runs: a migration without `down` is refused
 * naming the first step that has no reverse and why; `down` steps must lead back exactly
 * to the state before the migration, and those that lose data (undoing an added column)
 * must be approved in the file, as `generate` writes them. Progress is recorded in the
 * ledger under `<id>.rollback`, so a failed rollback resumes at its failed step.
 *
 * @example await rollback(files, ledger, (needs) => openDeployEngines(config, needs), { to: "20261126031500_add_age" })
 */
export async function rollback(
  files: readonly MigrationFile[],
  ledger: Ledger,
  openEngines: OpenEngines,
  options: RollbackOptions = {},
): Promise<RollbackReport> {
  const replay = replayMigrations(files);
  const records = await ledger.list();
  const unsettled = records.filter((r) => r.id !== DRAFT_ID && !isRollbackRecord(r.id) && r.status !== "applied");
  if (unsettled.length > 0) {
    throw new RefusedError("ROLLBACK_UNSETTLED", `${unsettled.map((r) => `${r.id} is ${r.status.replace("_", " ")}`).join(", ")}; roll back only from a settled state`, {
      hint: "finish it with `moose migrate deploy` (it resumes), then roll back",
    });
  }
  if (records.some((r) => r.id === DRAFT_ID)) {
    throw new RefusedError("ROLLBACK_UNSETTLED", "moose dev has applied uncommitted changes (migrations/.draft.ts) on top of the migrations", {
      hint: "commit them with `moose migrate generate` and deploy, or undo them in the code, before rolling back",
    });
  }
  const applied = new Set(records.filter((r) => r.status === "applied").map((r) => r.id));
  const appliedInOrder = replay.migrations.filter((m) => applied.has(m.file.id));
  let targets: ReplayedMigration[];
  if (options.to !== undefined) {
    const at = appliedInOrder.findIndex((m) => m.file.id === options.to);
    if (at < 0) {
      throw new RefusedError("ROLLBACK_TARGET_UNKNOWN", `--to ${options.to} is not an applied migration`, {
        details: appliedInOrder.map((m) => `applied: ${m.file.id}`),
        hint: "name the id (file name without .ts) of the migration to go back to",
      });
    }
    targets = appliedInOrder.slice(at + 1).reverse();
  } else {
    const newest = appliedInOrder.at(-1);
    targets = newest ? [newest] : [];
  }
  // A rollback that stopped half-way is finished first, whatever was asked.
  const unfinished = records.find((r) => isRollbackRecord(r.id));
  if (unfinished) {
    const id = unfinished.id.replace(/\.rollback$/, "");
    const m = appliedInOrder.find((x) => x.file.id === id);
    if (m && !targets.includes(m)) targets = [m, ...targets];
  }
  if (targets.length === 0) return { migrations: [], ok: true };

  const undos = targets.map(undoOf);
  const losses = new Map<string, Map<number, string>>();
  for (const u of undos) {
    const file = u.migration.file;
    losses.set(file.id, await guardMigrationSql(u.down, u.changes, file.displayPath, `rolling back ${file.fileName} would lose data and its down steps do not approve it; nothing was rolled back`));
  }

  // What each down step loses, generated approvals or not: a rollback never loses data unannounced.
  for (const u of undos) {
    const lost = losses.get(u.migration.file.id)!;
    let state = u.migration.after;
    u.down.forEach(({ step }, i) => {
      const change = u.changes[i];
      if (!change) return;
      const risk = classifyChange(change, state);
      if (risk.losesData && !guardedByPreflight(change)) lost.set(i, `${stepLabel(step)} ${RISK_CODES[risk.code].meaning}`);
      state = applyChange(state, change);
    });
  }
  const units = undos.map(rollbackUnit);
  if (!options.dryRun && !options.acceptDataLoss) {
    const losing = undos.flatMap((u) => [...losses.get(u.migration.file.id)!.entries()].map(([i, what]) => `${u.migration.file.displayPath}:${u.down[i]!.origin.line}: ${what}`));
    if (losing.length > 0) {
      throw new RefusedError("ROLLBACK_LOSES_DATA", `rolling back would lose data; nothing was rolled back`, {
        details: losing,
        hint: "check with `moose migrate rollback --dry-run` (⚠ marks these steps), then run it with --accept-data-loss if the data may go",
      });
    }
  }
  if (options.dryRun) {
    const planned = await planUnits(units, openEngines);
    return { ok: true, migrations: undos.map((u, k) => ({ id: u.migration.file.id, status: "planned" as const, steps: plannedSteps(u.down, planned[k]!, losses.get(u.migration.file.id)) })) };
  }

  return withMigrationLock(ledger, "rollback", options, async (held) => {
    const byId = new Map(undos.map((u) => [u.migration.file.id, u]));
    const results = await runUnits(
      units,
      ledger,
      openEngines,
      {
        held,
        // Before its first reverse step, the objects a rollback touches must be as the migration left them.
        beforeUnit: async (unit, engines, done, existing) => {
          if (done.size > 0 || existing?.status === "running") return;
          const u = byId.get(unit.id)!;
          const differences = await liveDrift(u.migration.after, engines.olap, liveObjects([...u.migration.changes, ...u.changes]));
          if (differences.length > 0) {
            throw new RefusedError("DRIFT", `the live database differs from what ${u.migration.file.fileName} left; nothing was rolled back`, {
              details: differences,
              hint: "someone changed these objects outside migrations: undo that by hand first",
            });
          }
        },
        // Undone: the migration is pending again, and the rollback's own record has served its purpose.
        afterUnit: async (unit) => {
          await ledger.forget(unit.id);
          await ledger.forget(unit.record.id);
        },
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      },
      "rollback",
    );
    const migrations: RollbackOutcome[] = results.map((r) =>
      r.status === "done" ? { id: r.id, status: "rolled-back", steps: byId.get(r.id)!.down.length } : r.status === "failed" ? { id: r.id, status: "failed", failedStep: r.failedStep, error: r.error } : r,
    );
    return { migrations, ok: results.every((r) => r.status === "done") };
  });
}

function rollbackUnit(u: Undo): RunUnit {
  const file = u.migration.file;
  const id = rollbackId(file.id);
  const steps = executableSteps(u.down.map((d) => d.step), u.changes);
  return {
    id: file.id,
    record: { id, fileName: `${id}.ts`, checksum: file.checksum, checksumAlgorithm: file.checksumAlgorithm, parentHash: file.result, resultHash: file.parent, stepsTotal: steps.length },
    steps,
    state: u.migration.after,
  };
}

/** Checks that a migration can be undone, and replays its down steps. */
function undoOf(m: ReplayedMigration): Undo {
  const file = m.file;
  if (file.down === null) {
    const culprit = irreversibleStep(m);
    throw new RefusedError("ROLLBACK_IRREVERSIBLE", `${file.fileName} cannot be rolled back: ${culprit ?? "the file says `down: null`"}; nothing was rolled back`, {
      position: { file: file.displayPath, line: 1, column: 1 },
      hint: "undo it with a new migration instead (change the code and `moose migrate generate`), or write its `down` steps by hand if the change can be undone",
    });
  }
  let state = m.after;
  const changes: Array<Change | null> = [];
  for (const { step, origin } of file.down) {
    const change = changeOf(step, state, origin);
    changes.push(change);
    if (change) state = applyChange(state, change);
  }
  if (hashInfraMap(state) !== hashInfraMap(m.before)) {
    throw new RefusedError("ROLLBACK_MISMATCH", `the down steps of ${file.fileName} do not lead back to the state before it (${short(hashInfraMap(state))} instead of ${short(hashInfraMap(m.before))}); nothing was rolled back`, {
      position: { file: file.displayPath, line: 1, column: 1 },
      hint: "make `down` undo every structured step of `up`, newest first",
    });
  }
  unapprovedSteps(file.down, changes, m.after, file.displayPath, `rolling back ${file.fileName} would lose data and its down steps do not approve it; nothing was rolled back`);
  return { migration: m, down: file.down, changes };
}

/** The first up step with no reverse, in words with its position, or undefined. */
function irreversibleStep(m: ReplayedMigration): string | undefined {
  let state: InfraMap = m.before;
  for (let i = 0; i < m.file.up.length; i++) {
    const { step, origin } = m.file.up[i] as LocatedStep;
    const change = m.changes[i] ?? null;
    const where = `step ${i + 1} ${stepLabel(step)} at line ${origin.line}`;
    if (change === null) {
      if (step.op === "sql") {
        const options = step.args[1];
        if (!(options !== null && typeof options === "object" && typeof (options as { reverse?: unknown }).reverse === "string")) return `${where} runs hand-written SQL without a reverse`;
      }
    } else if (reverseChange(change, state) === null) {
      return `${where} ${whyIrreversible(change)}`;
    }
    if (change) state = applyChange(state, change);
  }
  // Every step has a reverse, yet the file has none: a baseline (or a hand edit) says so on purpose.
  return /baseline/.test(m.file.id)
    ? "it is a baseline: it adopted objects that existed before, and undoing it would drop them with their data"
    : undefined;
}

function whyIrreversible(change: Change): string {
  switch (change.kind) {
    case "view.backfill":
      return `inserted rows into ${change.view.targetTable} that cannot be told apart from the others`;
    case "table.copyRows":
      return `copied rows into ${change.to} that cannot be told apart from the others`;
    case "table.dropColumn":
      return "dropped a column whose position is unknown";
    default:
      return "has no reverse";
  }
}


function short(hash: string): string {
  return hash.replace(/^sha256:/, "").slice(0, 12);
}
