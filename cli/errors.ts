import { ExitCode, InvalidInputErrors, MooseError } from "../lib/errors.js";
import type { CliIO } from "./io.js";

/**
 * Prints an error the way every command does and returns its exit code:
 * `error[CODE]: file:line:col: message`, then the hint. Unknown errors are
 * engine/IO failures (exit 1) and show their stack only with MOOSE_DEBUG=1.
 */
export function reportError(error: unknown, io: CliIO, json = false): number {
  if (error instanceof MooseError) {
    const list = error instanceof InvalidInputErrors ? error.errors : [error];
    if (json) {
      io.stdout.write(
        JSON.stringify(
          {
            ok: false,
            errors: list.map((e) => ({
              code: e.code,
              message: e.message,
              ...(e.position ? { position: e.position } : {}),
              ...(e.hint ? { hint: e.hint } : {}),
            })),
          },
          null,
          2,
        ) + "\n",
      );
    } else {
      for (const e of list) {
        io.stderr.write(`error[${e.code}]: ${e.located}\n`);
        for (const d of e.details) io.stderr.write(`  ${d}\n`);
        if (e.hint) io.stderr.write(`  hint: ${e.hint}\n`);
      }
    }
    return ExitCode[error.exit];
  }
  const message = error instanceof Error ? error.message : String(error);
  if (json) io.stdout.write(JSON.stringify({ ok: false, errors: [{ code: "INTERNAL", message }] }, null, 2) + "\n");
  else io.stderr.write(`error: ${message}\n`);
  if (io.env["MOOSE_DEBUG"] && error instanceof Error && error.stack) io.stderr.write(error.stack + "\n");
  return ExitCode.failure;
}

/** Notes a command's library calls returned (e.g. `Ledger.notices`), on stderr: `note: …`. */
export function writeNotices(io: CliIO, notices: readonly string[]): void {
  for (const n of notices) io.stderr.write(`note: ${n}\n`);
}
