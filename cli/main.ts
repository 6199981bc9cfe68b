import yargs, { type Argv } from "yargs";
import { ExitCode } from "../lib/errors.js";
import { reportError } from "./errors.js";
import type { CliIO } from "./io.js";
import { EPILOG, NO_COMMAND, TOP_LEVEL_COMMANDS as TOP, USAGE, USAGE_HINT, helpWidth } from "./help.js";
import { VERSION } from "./version.js";

/** A command module: parse is done by yargs; `run` calls the library and presents the result. */
export type CommandRun = (args: Record<string, unknown>, io: CliIO) => Promise<number>;


/**
 * The whole command line, side-effect free: tests drive it with a memory IO.
 * Command modules are imported only when their command runs, so `moose --help`
 * loads neither TypeScript nor any engine.
 */
export function buildParser(io: CliIO, setCode: (code: number) => void): Argv {
  const lazy =
    (load: () => Promise<{ run: CommandRun }>) =>
    async (args: Record<string, unknown>): Promise<void> => {
      const { run } = await load();
      setCode(await run(args, io));
    };
  const json = { type: "boolean", default: false, describe: "print one JSON document on stdout" } as const;

  return yargs()
    .scriptName("moose")
    .usage(USAGE)
    .version(VERSION)
    .strict()
    .wrap(helpWidth(process.stdout.columns))
    .epilog(EPILOG)
    .command(
      TOP.init.command,
      TOP.init.describe,
      (y) => y.positional("dir", { type: "string", default: ".", describe: "folder to create the project in" }),
      lazy(() => import("./commands/init.js")),
    )
    .command(
      TOP.plan.command,
      TOP.plan.describe,
      (y) =>
        y
          .option("json", json)
          .option("url", { type: "string", describe: "plan against a running production instance (moose prod)" })
          .option("token", { type: "string", describe: "admin bearer token for --url (or MOOSE_ADMIN_TOKEN)" })
          .option("timeout", { type: "number", describe: "seconds to wait for the --url instance (default 10)" }),
      lazy(() => import("./commands/plan.js")),
    )
    .command(
      TOP.ls.command,
      TOP.ls.describe,
      (y) =>
        y.option("json", json).option("type", {
          type: "string",
          choices: ["table", "view", "topic", "api", "workflow", "process"],
          describe: "only objects of this kind",
        }),
      lazy(() => import("./commands/ls.js")),
    )
    .command(TOP.migrate.command, TOP.migrate.describe, (y) =>
      y
        .command(
          "generate",
          "write the pending changes as a migration file in migrations/",
          (g) =>
            g
              .option("name", { type: "string", describe: "slug for the file name (default: describes the change)" })
              .option("rename", { type: "string", array: true, describe: "a rename, not a drop + add: Old:New (table) or Table.old:new (column); repeatable" })
              .option("safe-type-change", { type: "boolean", default: false, describe: "write narrowing type changes as new column + backfill + swap, keeping the old values" })
              .option("backfill-views", { type: "boolean", default: false, describe: "backfill new materialized views from the rows their sources hold" })
              .option("non-interactive", { type: "boolean", default: false, describe: "never ask (rename suggestions are printed, not applied)" }),
          lazy(() => import("./commands/migrate-generate.js")),
        )
        .command(
          "baseline",
          "adopt an existing database: write a baseline migration of the declared objects it has, recorded as applied",
          (g) => g.option("name", { type: "string", default: "baseline", describe: "slug for the file name" }).option("json", json),
          lazy(() => import("./commands/migrate-baseline.js")),
        )
        .command(
          "rollback",
          "undo the newest applied migration (or every one after --to) with its reverse steps",
          (g) =>
            g
              .option("to", { type: "string", describe: "roll back every migration applied after this id (which stays applied)" })
              .option("dry-run", { type: "boolean", default: false, describe: "print the reverse steps with their SQL, run nothing" })
              .option("lock-timeout", { type: "number", default: 0, describe: "seconds to wait for another deploy's lock" })
              .option("json", json),
          lazy(() => import("./commands/migrate-rollback.js")),
        )
        .command(
          "deploy",
          "apply the committed migrations that have not run yet",
          (g) =>
            g
              .option("dry-run", { type: "boolean", default: false, describe: "print each pending step with its SQL, apply nothing" })
              .option("allow-out-of-order", { type: "boolean", default: false, describe: "apply pending files older than the newest applied one" })
              .option("lock-timeout", { type: "number", default: 0, describe: "seconds to wait for another deploy's lock" })
              .option("resume-running", { type: "boolean", default: false, describe: "resume a migration whose deploy process died mid-step (check that step first)" })
              .option("json", json),
          lazy(() => import("./commands/migrate-deploy.js")),
        )
        .command("status", "applied / pending / failed / edited / drift", (g) => g.option("json", json), lazy(() => import("./commands/migrate-status.js")))
        .command("unlock", "clear a stale deploy lock", (g) => g, lazy(() => import("./commands/migrate-unlock.js")))
        .demandCommand(1, "name a migrate command: generate, deploy, status, unlock, baseline or rollback"),
    )
    .command(
      TOP.query.command,
      TOP.query.describe,
      (y) =>
        y
          .positional("sql", { type: "string", demandOption: true })
          .option("write", { type: "boolean", default: false, describe: "allow statements that change data or schema" })
          .option("format", { type: "string", choices: ["table", "json"], default: "table" }),
      lazy(() => import("./commands/query.js")),
    )
    .command(
      TOP.dev.command,
      TOP.dev.describe,
      (y) =>
        y
          .option("port", { type: "number", describe: "dev server port (default: http_server_config.port)" })
          .option("accept-data-loss", { type: "boolean", default: false, describe: "apply changes that lose data without asking (for non-interactive runs)" }),
      lazy(() => import("./commands/dev.js")),
    )
    .command(
      TOP.logs.command,
      TOP.logs.describe,
      (y) => y.option("follow", { alias: "f", type: "boolean", default: false }).option("filter", { type: "string", describe: "only lines containing TEXT" }),
      lazy(() => import("./commands/logs.js")),
    )
    .command(
      TOP.prod.command,
      TOP.prod.describe,
      (y) => y.option("port", { type: "number", describe: "port to listen on (default: http_server_config.port)" }),
      lazy(() => import("./commands/prod.js")),
    )
    .command(TOP.generate.command, TOP.generate.describe, (y) =>
      y
        .command("hash-token", "print a new admin bearer token and the hash for [authentication] admin_api_key", (g) => g.option("json", json), lazy(() => import("./commands/hash-token.js")))
        .demandCommand(1, "name what to generate: hash-token"),
    )
    .demandCommand(1, NO_COMMAND)
    .help()
    .alias("help", "h");
}

/** A failed parse: yargs' message, and the error it carries (ours when a check threw). */
class UsageFailure extends Error {
  constructor(
    message: string,
    readonly error: unknown,
  ) {
    super(message);
  }
}

/** Runs the CLI and returns the exit code; only bin.ts touches process. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  let code: number = ExitCode.success;
  const parser = buildParser(io, (c) => (code = c)).fail((message, error) => {
    // yargs goes on to run the command when this returns: only a throw stops it.
    throw new UsageFailure(message ?? String(error), error);
  });
  let output = "";
  try {
    await parser.parseAsync([...argv], {}, (_err, _argv, out) => {
      output = out;
    });
  } catch (error) {
    if (!(error instanceof UsageFailure)) return reportError(error, io, argv.includes("--json"));
    if (error.error && !(error.error instanceof Error && error.error.name === "YError")) {
      return reportError(error.error, io, argv.includes("--json"));
    }
    if (output) io.stderr.write(output + "\n");
    io.stderr.write(`error[USAGE]: ${error.message}\n  hint: ${USAGE_HINT}\n`);
    return ExitCode.invalidInput;
  }
  if (output) io.stdout.write(output + "\n");
  return code;
}
