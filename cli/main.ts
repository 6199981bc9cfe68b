import yargs, { type Argv } from "yargs";
import { ExitCode } from "../lib/errors.js";
import { reportError } from "./errors.js";
import type { CliIO } from "./io.js";
import { VERSION } from "./version.js";

/** A command module: parse is done by yargs; `run` calls the library and presents the result. */
export type CommandRun = (args: Record<string, unknown>, io: CliIO) => Promise<number>;

const EPILOG = `Exit codes: 0 success (also "no changes"), 1 engine or I/O failure, 2 invalid input (config, app code, usage),
3 refused for safety (unapproved destructive change, edited or removed migration, drift, out-of-order), 4 pending migrations (migrate status).
Docs: README.md of the moose-migrate package.`;

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
    .usage("$0 <command> [options]\n\nInfrastructure as code, with reviewable migrations: ClickHouse tables and views, topics, APIs and workflows declared in app/index.ts.")
    .version(VERSION)
    .strict()
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .epilog(EPILOG)
    .command(
      "init [dir]",
      "scaffold a new project (offline; embedded engines, no server needed)",
      (y) => y.positional("dir", { type: "string", default: ".", describe: "folder to create the project in" }),
      lazy(() => import("./commands/init.js")),
    )
    .command(
      "plan",
      "show what would change to make the infrastructure match the code",
      (y) =>
        y
          .option("json", json)
          .option("url", { type: "string", describe: "plan against a running production instance (moose prod)" })
          .option("token", { type: "string", describe: "admin bearer token for --url (or MOOSE_ADMIN_TOKEN)" }),
      lazy(() => import("./commands/plan.js")),
    )
    .command(
      "ls",
      "list the declared infrastructure objects",
      (y) =>
        y.option("json", json).option("type", {
          type: "string",
          choices: ["table", "view", "topic", "api", "workflow", "process"],
          describe: "only objects of this kind",
        }),
      lazy(() => import("./commands/ls.js")),
    )
    .command("migrate", "write, apply and inspect migration files", (y) =>
      y
        .command(
          "generate",
          "write the pending changes as a migration file in migrations/",
          (g) => g.option("name", { type: "string", describe: "slug for the file name (default: describes the change)" }),
          lazy(() => import("./commands/migrate-generate.js")),
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
        .demandCommand(1, "name a migrate command: generate, deploy, status or unlock"),
    )
    .command(
      "query <sql>",
      "run SQL on the configured OLAP engine (read-only unless --write)",
      (y) =>
        y
          .positional("sql", { type: "string", demandOption: true })
          .option("write", { type: "boolean", default: false, describe: "allow statements that change data or schema" })
          .option("format", { type: "string", choices: ["table", "json"], default: "table" }),
      lazy(() => import("./commands/query.js")),
    )
    .command(
      "dev",
      "watch the app, generate and apply migrations as you save, serve the APIs",
      (y) => y.option("port", { type: "number", describe: "dev server port (default: http_server_config.port)" }),
      lazy(() => import("./commands/not-implemented.js")),
    )
    .command(
      "logs",
      "show the moose log",
      (y) => y.option("follow", { alias: "f", type: "boolean", default: false }).option("filter", { type: "string", describe: "only lines containing TEXT" }),
      lazy(() => import("./commands/not-implemented.js")),
    )
    .command(
      "prod",
      "run the production instance: APIs and the admin API",
      (y) => y.option("port", { type: "number" }),
      lazy(() => import("./commands/not-implemented.js")),
    )
    .command("generate", "generate things", (y) =>
      y
        .command("hash-token", "print a new admin bearer token and the hash for [authentication] admin_api_key", (g) => g.option("json", json), lazy(() => import("./commands/hash-token.js")))
        .demandCommand(1, "name what to generate: hash-token"),
    )
    .demandCommand(1, "name a command (moose --help lists them)")
    .help()
    .alias("help", "h");
}

/** Runs the CLI and returns the exit code; only bin.ts touches process. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  let code: number = ExitCode.success;
  let failed: { message: string | undefined; error: unknown } | undefined;
  const parser = buildParser(io, (c) => (code = c)).fail((message, error) => {
    failed = { message, error };
  });
  let output = "";
  try {
    await parser.parseAsync([...argv], {}, (_err, _argv, out) => {
      output = out;
    });
  } catch (error) {
    if (!failed) return reportError(error, io, argv.includes("--json"));
  }
  if (failed) {
    if (failed.error && !(failed.error instanceof Error && failed.error.name === "YError")) {
      return reportError(failed.error, io, argv.includes("--json"));
    }
    if (output) io.stderr.write(output + "\n");
    io.stderr.write(`error[USAGE]: ${failed.message ?? String(failed.error)}\n  hint: moose --help lists the commands; moose <command> --help its options\n`);
    return ExitCode.invalidInput;
  }
  if (output) io.stdout.write(output + "\n");
  return code;
}
