import type { OlapEngine } from "../engines/olap/engine.js";
import { MooseError, RefusedError } from "../errors.js";
import type { MigrationRecord } from "../ledger/records.js";
import type { MigrationFile } from "../migrations/files/read.js";
import { readProductionState, type ProductionState } from "./state.js";

/**
 * `moose prod` serves the committed project as deployed; it never changes
 * infrastructure itself. Before it listens, the engines must have every
 * committed migration applied:
 *
 * - edited, removed or out-of-order history → `RefusedError` `PROD_HISTORY_REFUSED` (exit 3);
 * - a failed or half-applied migration → `PROD_MIGRATION_FAILED` (exit 1);
 * - pending migrations → `MIGRATIONS_PENDING` (exit 4), naming each.
 *
 * Drift (a live object differing from the migrations) does not stop it: it is
 * returned for a warning and served on `/admin/inframap`, where `moose plan --url`
 * shows it. Returns the state it computed.
 */
export async function checkReadyToServe(
  files: readonly MigrationFile[],
  records: readonly MigrationRecord[],
  olap: OlapEngine | undefined,
  version: string,
): Promise<ProductionState> {
  const state = await readProductionState(files, records, olap, version);
  const { issues, pending } = state.migrations;
  const describe = (i: { id: string; state: string; detail?: string }) => `${i.id}: ${i.state}${i.detail ? ` (${i.detail})` : ""}`;

  const history = issues.filter((i) => i.state === "edited" || i.state === "removed" || i.state === "out-of-order");
  if (history.length > 0) {
    throw new RefusedError("PROD_HISTORY_REFUSED", `refusing to start: the committed migrations disagree with what this environment applied (${history.map((i) => i.id).join(", ")})`, {
      details: history.map(describe),
      hint: "restore applied migration files as they were deployed (moose migrate status shows each); put new changes in new migrations",
    });
  }
  const failed = issues.filter((i) => !history.includes(i));
  if (failed.length > 0) {
    throw new MooseError("PROD_MIGRATION_FAILED", "failure", `refusing to start: ${failed.length === 1 ? "a migration" : `${failed.length} migrations`} did not finish (${failed.map((i) => i.id).join(", ")})`, {
      details: failed.map(describe),
      hint: "fix the cause and run `moose migrate deploy`; it resumes at the failed step",
    });
  }
  if (pending.length > 0) {
    throw new MooseError(
      "MIGRATIONS_PENDING",
      "pending",
      `refusing to start: the engines are behind the committed migrations; ${pending.length} pending: ${pending.join(", ")}`,
      { hint: "run `moose migrate deploy` first: moose prod serves the deployed project and never changes infrastructure itself" },
    );
  }
  return state;
}
