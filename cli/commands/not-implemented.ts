import { ExitCode } from "../../lib/errors.js";
import type { CliIO } from "../io.js";

/** Commands whose issue has not landed yet say so plainly and fail. */
export async function run(args: Record<string, unknown>, io: CliIO): Promise<number> {
  const name = (args["_"] as string[] | undefined)?.join(" ") ?? "this command";
  io.stderr.write(`error[NOT_IMPLEMENTED]: \`moose ${name}\` is not implemented yet in this version of moose-migrate\n`);
  return ExitCode.failure;
}
