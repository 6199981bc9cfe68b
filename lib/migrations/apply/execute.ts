import { ownerOf, subjectName } from "../../diff/change-meta.js";
import type { Change } from "../../diff/change.js";
import { assertNever, EngineError, InvalidInputError, MooseError, RefusedError } from "../../errors.js";
import type { OlapCapabilities, OlapEngine } from "../../engines/olap/engine.js";
import { checkStatement, parseCheck } from "../../engines/olap/sql/checks.js";
import { typeChangeGuard } from "../../engines/olap/sql/columns.js";
import { statementsForChanges } from "../../engines/olap/sql/index.js";
import { rowWriteFor } from "../../engines/olap/sql/row-writes.js";
import { missingError, missingRuntimeEnv, resolveRuntimeEnv, runtimeEnvSlots, scrubRuntimeEnv, type RuntimeEnvSlots, type StatementPieces } from "../../engines/olap/runtime-env.js";
import { generatedInsert, handWrittenInsert, insertKey, insertText, mutationsDone, runInsert, type InsertPlan } from "../../engines/olap/staged-insert.js";
import type { InfraMap } from "../../model/infra-map.js";
import { applyChange } from "../../model/apply-change.js";
import type { Step } from "../files/api.js";
import type { ReplayedMigration } from "../files/sequence.js";
import { approvalOf, stepLabel } from "../files/steps.js";

/** Engines that carry out non-OLAP changes; each applies the changes of its kind. */
export interface ChangeApplier {
  apply(change: Change): Promise<void>;
}

export interface Engines {
  readonly olap: OlapEngine;
  /** Topics; without it topic steps fail with a clear error. */
  readonly streams?: ChangeApplier;
  /** Temporal schedules; `undefined` when `[features] workflows = false` (steps are recorded, not sent). */
  readonly workflows?: ChangeApplier;
}

/** A step to run: a structured change, or hand-written SQL or a check (`change: null`). */
export interface ExecutableStep {
  readonly change: Change | null;
  /** For `sql(...)` steps: the statement. */
  readonly sql?: string;
  /** For `check(...)` steps: the query whose rows are problems, and what they mean. */
  readonly check?: { readonly query: string; readonly message: string };
  /** The file approves data loss on this step (`approveDataLoss: true`). */
  readonly approved?: boolean;
}

const RECORDED_ONLY = "recorded: the dev and prod servers serve endpoints and run topic-to-table syncs from the recorded state";

/** Changes with no effect outside moose's own state. */
export function isStateOnly(change: Change): boolean {
  return ownerOf(change) === "state";
}

/**
 * What one step does, as typed data: the executor runs it and the ledger and `--dry-run`
 * show its text ({@link effectText}). Nothing is routed by the text of a statement.
 */
export type Effect =
  /**
   * A statement ClickHouse runs. With `pieces`, it reads values from the environment
   * (`mooseRuntimeEnv.get`): `sql` shows them as `${NAME}` and the executor fills them in
   * from `pieces` when it sends the statement.
   */
  | { readonly kind: "olap"; readonly sql: string; readonly pieces?: StatementPieces }
  /** Rows written exactly once (staged and moved in, or behind a block marker): see lib/engines/olap/staged-insert.ts. */
  | { readonly kind: "insert"; readonly plan: InsertPlan }
  /** Waits until ClickHouse has finished the table's mutations (servers without `mutations_sync`). */
  | { readonly kind: "mutations"; readonly table: string }
  /** A read-only query whose rows are problems: any row stops the step (`CHECK_FAILED`), naming them. */
  | { readonly kind: "check"; readonly query: string; readonly message: string }
  /** A topic change the stream engine carries out. */
  | { readonly kind: "stream"; readonly change: Change }
  /** A schedule change Temporal carries out; with workflows disabled in [features] only recorded. */
  | { readonly kind: "workflow"; readonly change: Change; readonly enabled: boolean }
  /** Recorded in moose's state only (life cycles, APIs, syncs). */
  | { readonly kind: "state"; readonly note: string };

/** How an effect reads in the ledger and a dry run. */
export function effectText(effect: Effect): string {
  switch (effect.kind) {
    case "olap":
      return effect.sql;
    case "insert":
      return insertText(effect.plan);
    case "mutations":
      return `-- wait until the mutations of ${effect.table} are done (system.mutations)`;
    case "check":
      return checkStatement(effect.query, effect.message);
    case "stream":
      return `-- stream engine: ${effect.change.kind} ${subjectName(effect.change)}`;
    case "workflow":
      return effect.enabled ? `-- temporal: ${effect.change.kind} ${subjectName(effect.change)}` : "-- workflows are disabled in [features]: recorded, not sent to Temporal";
    case "state":
      return `-- ${effect.note}`;
    default:
      return assertNever(effect, "effect");
  }
}

/** The SQL adapter's statements as effects: its pre-flight checks become `check` effects here, at the adapter's edge. */
function olapEffect(statement: string, slots?: RuntimeEnvSlots): Effect {
  const { text, pieces } = slots ? slots.split(statement) : { text: statement, pieces: undefined };
  if (pieces) return { kind: "olap", sql: text, pieces };
  const check = parseCheck(text);
  return check ? { kind: "check", ...check } : { kind: "olap", sql: text };
}

/**
 * The environment variables each step's statements read (`mooseRuntimeEnv.get`) that `env`
 * does not set: checked for every step before any runs, so a missing one stops the run with
 * nothing applied or recorded.
 */
export function missingRuntimeEnvByStep(effects: readonly (readonly Effect[])[], env: NodeJS.ProcessEnv = process.env): Array<{ readonly step: number; readonly names: readonly string[] }> {
  const out: Array<{ step: number; names: string[] }> = [];
  effects.forEach((list, step) => {
    const names = [...new Set(list.flatMap((e) => (e.kind === "olap" && e.pieces ? missingRuntimeEnv(e.pieces, env) : [])))];
    if (names.length > 0) out.push({ step, names });
  });
  return out;
}

/** Refuses (`RUNTIME_ENV_MISSING`) when a step reads a variable the environment does not set; `what` names a step by its index. */
export function assertRuntimeEnv(effects: readonly (readonly Effect[])[], what: (step: number) => string, env: NodeJS.ProcessEnv = process.env): void {
  const missing = missingRuntimeEnvByStep(effects, env);
  const [first] = missing;
  if (!first) return;
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more step${missing.length > 2 ? "s" : ""})` : "";
  const error = missingError([...new Set(missing.flatMap((m) => m.names))], `${what(first.step)}${more}`);
  throw new InvalidInputError(error.code, error.message, { ...(error.hint ? { hint: error.hint } : {}), details: missing.map((m) => `${what(m.step)}: ${m.names.join(", ")}`) });
}

/** Which run the effects belong to: names the staging tables of its writes, so a resumed run finds them. */
export interface EffectsRun {
  readonly migrationId: string;
  readonly direction: "up" | "down";
}

/**
 * What each step will do: ClickHouse statements for OLAP changes (converted together,
 * because ClickHouse needs some in one ALTER: a new column and the ORDER BY that appends
 * it), the change itself for the engine that owns it, a note for state-only changes.
 * Row writes (copies, view backfills, hand-written INSERTs) become `insert` effects that
 * run exactly once when `ctx.run` names the migration (see staged-insert.ts).
 */
export async function effectsForSteps(
  steps: readonly ExecutableStep[],
  ctx: { readonly database: string; readonly capabilities: OlapCapabilities; readonly state: InfraMap; readonly run?: EffectsRun },
  workflowsEnabled: boolean,
): Promise<Effect[][]> {
  const indexes: number[] = [];
  const olapChanges: Change[] = [];
  steps.forEach((s, i) => {
    const c = s.change;
    if (c && ownerOf(c) === "olap") {
      indexes.push(i);
      olapChanges.push(c);
    }
  });
  // Values read from the environment are written as slots, so each statement comes back as pieces (see runtime-env.ts).
  const slots = runtimeEnvSlots();
  const sqlCtx = { ...ctx, runtimeEnv: slots.write };
  const effect = (statement: string): Effect => olapEffect(statement, slots);
  const byChange = statementsForChanges(olapChanges, sqlCtx);
  const key = (step: number): string | undefined => (ctx.run ? insertKey(ctx.run.migrationId, ctx.run.direction, step, 0) : undefined);
  const stateBefore = statesBefore(ctx.state, steps);
  const out: Effect[][] = [];
  for (const [i, s] of steps.entries()) {
    const c = s.change;
    if (c === null) {
      if (s.check) out.push([{ kind: "check", query: s.check.query, message: s.check.message }]);
      else {
        const plan = await handWrittenInsert(s.sql ?? "", key(i), { database: ctx.database, state: stateBefore(i) });
        out.push([plan ? { kind: "insert", plan } : { kind: "olap", sql: s.sql ?? "" }]);
      }
      continue;
    }
    switch (ownerOf(c)) {
      case "state":
        out.push([{ kind: "state", note: c.kind === "table.setLifeCycle" ? "recorded: life cycles are enforced by moose, not stored in ClickHouse" : RECORDED_ONLY }]);
        break;
      case "stream":
        out.push([{ kind: "stream", change: c }]);
        break;
      case "workflow":
        out.push([{ kind: "workflow", change: c, enabled: workflowsEnabled }]);
        break;
      case "olap":
        out.push([]);
        break;
    }
  }
  indexes.forEach((stepIndex, k) => {
    const step = steps[stepIndex] as ExecutableStep;
    const change = step.change as Change;
    const state = stateBefore(stepIndex);
    const write = rowWriteFor(change, { ...sqlCtx, state });
    if (write !== undefined) {
      const plan = generatedInsert(write.table, write.columns, write.select, key(stepIndex), { database: ctx.database, state }, write.requireEmpty);
      out[stepIndex] = [{ kind: "insert", plan }, ...write.after.map(effect)];
      return;
    }
    // A narrowing type change runs behind its pre-flight check (or, approved, its conversion of the rows that do not fit).
    out[stepIndex] = [...typeChangeGuard(change, sqlCtx, step.approved ?? false), ...(byChange[k] ?? [])].map(effect);
    if (change.kind === "table.backfillColumn" && !ctx.capabilities.mutationsSync) out[stepIndex]!.push({ kind: "mutations", table: change.table });
  });
  return out;
}

/**
 * The map as it is just before step `index` runs (the steps before it applied to `state`). Each
 * state is computed once, from the one before it: replaying the steps from the start for every
 * step made a 1,000-step migration cost a minute (`migrate generate` printing its SQL).
 */
function statesBefore(state: InfraMap, steps: readonly ExecutableStep[]): (index: number) => InfraMap {
  const known: InfraMap[] = [state];
  return (index) => {
    for (let i = known.length; i <= index; i++) {
      const change = steps[i - 1]!.change;
      known.push(change ? applyChange(known[i - 1]!, change) : known[i - 1]!);
    }
    return known[index]!;
  };
}

/** Runs a check: a read-only query, stopping the step with `CHECK_FAILED` when it returns rows, naming them. */
async function runCheck(olap: OlapEngine, query: string, message: string): Promise<void> {
  // ClickHouse's read-only mode: a check reads, whatever it says.
  const rows = await olap.readOnlyQuery<Record<string, unknown>>(query);
  if (rows.length === 0) return;
  const shown = rows.slice(0, 5).map((r) => (typeof r["problem"] === "string" ? r["problem"] : JSON.stringify(r)));
  const more = rows.length > 5 ? ` (and ${rows.length - 5} more)` : "";
  throw new RefusedError("CHECK_FAILED", `${message}: ${shown.join("; ")}${more}`);
}

/** Runs one OLAP statement as the SQL adapter wrote it (its checks included); for tests and tools that hold text. */
export async function runStatement(olap: OlapEngine, sql: string): Promise<void> {
  await runEffect(olapEffect(sql), { olap });
}

/** Carries out one effect on the engine that owns it. */
export async function runEffect(effect: Effect, engines: Engines): Promise<void> {
  switch (effect.kind) {
    case "olap":
      if (effect.pieces === undefined) {
        await engines.olap.execute(effect.sql);
        return;
      }
      try {
        await engines.olap.execute(resolveRuntimeEnv(effect.pieces, `the statement ${effect.sql.split("\n")[0]}`));
      } catch (error) {
        // What ClickHouse says about a statement may quote it: never with the values in.
        throw scrubbed(error, effect.pieces);
      }
      return;
    case "insert":
      await runInsert(effect.plan, engines.olap);
      return;
    case "mutations":
      await mutationsDone(engines.olap, effect.table);
      return;
    case "check":
      await runCheck(engines.olap, effect.query, effect.message);
      return;
    case "stream":
      if (!engines.streams) {
        throw new EngineError("STREAMS_UNAVAILABLE", `no stream engine is configured to carry out ${effect.change.kind} for ${subjectName(effect.change)}`, { hint: "enable [features] streaming_engine" });
      }
      await engines.streams.apply(effect.change);
      return;
    case "workflow":
      if (effect.enabled && engines.workflows) await engines.workflows.apply(effect.change);
      return;
    case "state":
      return;
    default:
      assertNever(effect, "effect");
  }
}

/** Runs one step's effects in order. */
export async function executeStep(effects: readonly Effect[], engines: Engines): Promise<void> {
  for (const effect of effects) await runEffect(effect, engines);
}

/** A replayed migration's up steps as the executor takes them. */
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

/**
 * `effectsForSteps`, with a refusal located: the statements are written for all steps at once
 * (some changes fuse into one ALTER), so on a refusal the steps are tried in growing prefixes
 * to find the first one that cannot be written, and the error names its file:line and step.
 */
export async function effectsLocated(
  steps: readonly ExecutableStep[],
  ctx: Parameters<typeof effectsForSteps>[1],
  workflowsEnabled: boolean,
  m: ReplayedMigration,
): ReturnType<typeof effectsForSteps> {
  try {
    return await effectsForSteps(steps, ctx, workflowsEnabled);
  } catch (error) {
    if (!(error instanceof MooseError)) throw error;
    for (let k = 1; k <= steps.length; k++) {
      try {
        await effectsForSteps(steps.slice(0, k), ctx, workflowsEnabled);
      } catch {
        const located = m.file.up[k - 1];
        if (!located) break;
        const position = { file: m.file.displayPath, line: located.origin.line, column: located.origin.column };
        const message = `step ${k} of ${m.file.id}, ${stepLabel(located.step)}: ${error.message}`;
        const options = { position, details: error.details, cause: error, ...(error.hint ? { hint: error.hint } : {}) };
        throw error instanceof RefusedError ? new RefusedError(error.code, message, options) : new MooseError(error.code, error.exit, message, options);
      }
    }
    throw error;
  }
}

/** `error` (and its causes) with every value `pieces` was sent with replaced by its `${NAME}`. */
function scrubbed(error: unknown, pieces: StatementPieces): unknown {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    e.message = scrubRuntimeEnv(e.message, pieces);
    if (e.stack !== undefined) e.stack = scrubRuntimeEnv(e.stack, pieces);
    const details = (e as { details?: unknown }).details;
    if (Array.isArray(details)) {
      try {
        (e as unknown as { details: unknown[] }).details = details.map((d) => (typeof d === "string" ? scrubRuntimeEnv(d, pieces) : d));
      } catch {
        // read-only details carry no statement text
      }
    }
  }
  return error;
}
