import { liveObjects } from "../../diff/change-meta.js";
import { RefusedError } from "../../errors.js";
import type { Ledger } from "../../ledger/ledger.js";
import type { MigrationRecord } from "../../ledger/records.js";
import type { MigrationFile } from "../files/read.js";
import { withMigrationLock, type LockOptions, type OpenEngines } from "./runner.js";
import { replayMigrations } from "../files/sequence.js";
import { liveDrift } from "./status.js";
import { isRollbackRecord } from "../../ledger/records.js";

export type Resolution = "applied" | "rolled-back";

export interface ResolveReport {
  readonly id: string;
  readonly resolution: Resolution;
  /** The record it replaced (a failed or half-applied run), if any. */
  readonly previous?: MigrationRecord;
}

/**
 * `moose migrate resolve --applied <id>` / `--rolled-back <id>`: records a migration's
 * state without running it, after someone finished (or undid) it by hand, as Prisma's
 * `migrate resolve`. The live objects it touches must agree: `applied` needs them as
 * the migration leaves them, `rolled-back` as it found them; otherwise nothing is
 * recorded (`RESOLVE_CONTRADICTED`, with the differences). Taken under the deploy lock.
 *
 * - `applied`: a pending migration, or one whose run failed or died part-way.
 * - `rolled-back`: a migration whose run failed or died part-way; it is pending again.
 */
export async function resolveMigration(
  files: readonly MigrationFile[],
  ledger: Ledger,
  openEngines: OpenEngines,
  id: string,
  resolution: Resolution,
  options: LockOptions = {},
): Promise<ResolveReport> {
  const replay = replayMigrations(files);
  const m = replay.migrations.find((x) => x.file.id === id);
  if (!m) {
    throw new RefusedError("RESOLVE_UNKNOWN", `${id} is not a migration file in the migrations folder`, {
      details: files.slice(-5).map((f) => `file: ${f.id}`),
      hint: "name the id: the file name without .ts",
    });
  }
  return withMigrationLock(ledger, "deploy", options, async () => {
    const records = await ledger.list();
    const unfinishedRollback = records.find((r) => isRollbackRecord(r.id));
    if (unfinishedRollback) {
      throw new RefusedError("ROLLBACK_UNFINISHED", `a rollback is unfinished (${unfinishedRollback.id}); finish it first with \`moose migrate rollback\``);
    }
    const previous = records.find((r) => r.id === id);
    if (resolution === "applied" && previous?.status === "applied") {
      throw new RefusedError("RESOLVE_NOTHING_TO_DO", `${id} is already recorded as applied`);
    }
    if (resolution === "rolled-back" && (previous === undefined || previous.status === "applied")) {
      throw new RefusedError("RESOLVE_NOT_FAILED", previous ? `${id} is applied; undo an applied migration with \`moose migrate rollback\`` : `${id} has no record to resolve: it is pending`, {
        hint: "`--rolled-back` is for a migration whose run failed or died part-way, after you undid what it did by hand",
      });
    }
    if (resolution === "applied") {
      const earlier = replay.migrations.slice(0, replay.migrations.indexOf(m));
      const missing = earlier.filter((e) => records.find((r) => r.id === e.file.id)?.status !== "applied");
      if (missing.length > 0) {
        throw new RefusedError("RESOLVE_OUT_OF_ORDER", `${id} comes after migrations that are not applied: ${missing.map((e) => e.file.id).join(", ")}`, {
          hint: "deploy (or resolve) them first",
        });
      }
    }
    const expected = resolution === "applied" ? m.after : m.before;
    const engines = await openEngines({ streams: false, workflows: false });
    try {
      const differences = await liveDrift(expected, engines.olap, liveObjects(m.changes));
      if (differences.length > 0) {
        throw new RefusedError(
          "RESOLVE_CONTRADICTED",
          `the live database is not as ${m.file.fileName} ${resolution === "applied" ? "leaves it" : "found it"}; nothing was recorded`,
          { details: differences, hint: resolution === "applied" ? "finish the migration's steps by hand first (or deploy it)" : "undo what its applied steps did by hand first" },
        );
      }
    } finally {
      await engines.close();
    }
    if (previous) await ledger.forget(id);
    if (resolution === "applied") {
      await ledger.adopt({
        id,
        fileName: m.file.fileName,
        checksum: m.file.checksum,
        checksumAlgorithm: m.file.checksumAlgorithm,
        parentHash: m.file.parent,
        resultHash: m.file.result,
        stepsTotal: m.file.up.length,
      });
    }
    return { id, resolution, ...(previous ? { previous } : {}) };
  });
}
