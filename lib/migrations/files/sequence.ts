import { RefusedError } from "../../errors.js";
import { applyChange } from "../../model/apply-change.js";
import { emptyInfraMap, infraMapHasher, type InfraMap } from "../../model/infra-map.js";
import type { Change } from "../../diff/change.js";
import type { MigrationFile } from "./read.js";
import { changeOf } from "./steps.js";

export interface ReplayedMigration {
  readonly file: MigrationFile;
  /** The structured changes of its up steps, in order (`sql` steps have none). */
  readonly changes: ReadonlyArray<Change | null>;
  readonly before: InfraMap;
  readonly after: InfraMap;
}

export interface Replay {
  readonly migrations: readonly ReplayedMigration[];
  /** The state after the whole sequence. */
  readonly state: InfraMap;
  readonly hash: string;
}

/**
 * The state after the committed sequence, computed offline from the files'
 * structured steps: no database needed. Each file must start from the state
 * the previous ones produce (`parent`) and produce the state it records
 * (`result`); a file edited so that this no longer holds is refused with both
 * hashes, so a tampered or reordered sequence never plans silently.
 */
export function replayMigrations(files: readonly MigrationFile[], start: InfraMap = emptyInfraMap()): Replay {
  let state = start;
  // The states share every entry a file does not touch: each is hashed for its new entries only.
  // The texts are kept for the planner, which compares the last state with the code (`knownEqualEntries`).
  const hashInfraMap = infraMapHasher({ keepEntries: true });
  let hash = hashInfraMap(state);
  const migrations: ReplayedMigration[] = [];
  for (const file of files) {
    if (file.parent !== hash) {
      const sibling = migrations.find((m) => m.file.parent === file.parent);
      if (sibling) throw forked(sibling, file, migrations);
      throw new RefusedError(
        "MIGRATION_CHAIN_BROKEN",
        `${file.fileName} expects to start from state ${short(file.parent)}, but the migrations before it produce ${short(hash)}`,
        {
          position: { file: file.displayPath, line: 1, column: 1 },
          hint: `a migration before it was edited, removed or reordered: restore it from version control; if ${file.id} itself has not been deployed anywhere, \`moose migrate rebase ${file.id}\` re-bases it onto the files before it`,
        },
      );
    }
    const before = state;
    const changes: Array<Change | null> = [];
    for (const { step, origin } of file.up) {
      const change = changeOf(step, state, origin);
      changes.push(change);
      if (change) state = applyChange(state, change);
    }
    hash = hashInfraMap(state);
    if (file.result !== hash) {
      throw new RefusedError("MIGRATION_RESULT_MISMATCH", `${file.fileName}'s steps produce state ${short(hash)}, but the file records result ${short(file.result)}`, {
        position: { file: file.displayPath, line: 1, column: 1 },
        hint: `if you edited its steps on purpose and it has not been deployed anywhere, set \`result: "${hash}"\` in the file`,
      });
    }
    migrations.push({ file, changes, before, after: state });
  }
  return { migrations, state, hash };
}

/**
 * Two files that start from the same state: two branches each generated a migration and
 * were merged. Both are named, with the state they share (the migration before them).
 */
function forked(first: ReplayedMigration, second: MigrationFile, before: readonly ReplayedMigration[]): RefusedError {
  const base = before[before.indexOf(first) - 1]?.file.id;
  return new RefusedError(
    "MIGRATION_FORKED",
    `${first.file.fileName} and ${second.fileName} both start from the state ${base ? `after ${base}` : "of an empty project"} (${short(second.parent)}): they were generated on two branches and merged`,
    {
      position: { file: second.displayPath, line: 1, column: 1 },
      details: [`${first.file.displayPath}: parent ${short(first.file.parent)}`, `${second.displayPath}: parent ${short(second.parent)}`],
      hint: `re-base the one that has not been deployed onto the other: \`moose migrate rebase <its id>\` (it moves after the other, keeps its steps, and gets new hashes); if both were deployed somewhere, see "Team branches" in the README`,
    },
  );
}

function short(hash: string): string {
  return hash.replace(/^sha256:/, "").slice(0, 12);
}
