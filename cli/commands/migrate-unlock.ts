import { ExitCode } from "../../lib/errors.js";
import { projectLedger } from "../../lib/project/engines.js";
import type { CliIO } from "../io.js";
import { reportError, writeNotices } from "../errors.js";
import { loadProject, opensEmbedded } from "../project.js";
import { VERSION } from "../version.js";
import type { MigrateUnlockArgs } from "./migrate-unlock.args.js";

export async function run(_args: MigrateUnlockArgs, io: CliIO): Promise<number> {
  try {
    const config = opensEmbedded(await loadProject(io));
    const ledger = await projectLedger(config, VERSION);
    writeNotices(io, ledger.notices);
    try {
      const holder = await ledger.forceUnlock();
      io.stdout.write(holder ? `Released the migration lock held by ${holder.owner} since ${holder.acquiredAt} (it would have expired at ${holder.expiresAt}).\n` : "The migration lock was not held.\n");
      return ExitCode.success;
    } finally {
      await ledger.close();
    }
  } catch (error) {
    return reportError(error, io);
  }
}
