import type { Argv } from "yargs";
import yargs from "./yargs.js";
import { ExitCode } from "../lib/errors.js";
import type { CommandRun, CommandSpec } from "./command-spec.js";
import { initCommand } from "./commands/init.args.js";
import { planCommand } from "./commands/plan.args.js";
import { lsCommand } from "./commands/ls.args.js";
import { migrateGenerateCommand } from "./commands/migrate-generate.args.js";
import { migrateBaselineCommand } from "./commands/migrate-baseline.args.js";
import { migrateRollbackCommand } from "./commands/migrate-rollback.args.js";
import { migrateDeployCommand } from "./commands/migrate-deploy.args.js";
import { migrateStatusCommand } from "./commands/migrate-status.args.js";
import { migrateUnlockCommand } from "./commands/migrate-unlock.args.js";
import { migrateResolveCommand } from "./commands/migrate-resolve.args.js";
import { migrateSqlCommand } from "./commands/migrate-sql.args.js";
import { migrateCheckCommand } from "./commands/migrate-check.args.js";
import { migrateLintCommand } from "./commands/migrate-lint.args.js";
import { migrateRebaseCommand } from "./commands/migrate-rebase.args.js";
import { queryCommand } from "./commands/query.args.js";
import { devCommand } from "./commands/dev.args.js";
import { logsCommand } from "./commands/logs.args.js";
import { prodCommand } from "./commands/prod.args.js";
import { hashTokenCommand } from "./commands/hash-token.args.js";
import * as workflowArgs from "./commands/workflow.args.js";
import { reportError } from "./errors.js";
import { usageMessage, type CommandWords } from "./usage-error.js";
import type { CliIO } from "./io.js";
import { EPILOG, NO_COMMAND, TOP_LEVEL_COMMANDS as TOP, USAGE, USAGE_HINT, helpWidth } from "./help.js";
import { VERSION } from "./version.js";
import { deferOptimization, keepYoungGenerationSmall } from "../lib/extract/tiering.cjs";

/** A command the parser runs: its declared arguments and the module with its `run`, loaded when it runs. */
interface Leaf {
  readonly spec: CommandSpec;
  readonly load: () => Promise<{ run: CommandRun<any> }>;
  /** A short command whose work is one reading of the app: V8's optimizing compiler waits (tiering.cts). */
  readonly readsOnce?: true;
}

/** A command that only groups others (`moose migrate …`). */
interface Group {
  readonly command: string;
  readonly describe: string;
  /** Said when no sub-command is named. */
  readonly demand: string;
  readonly children: readonly Leaf[];
}

/** Ties a command's `run` to its declaration: `run` must take exactly the arguments the spec declares. */
function leaf<S extends CommandSpec<any, any>>(spec: S, load: () => Promise<{ run: CommandRun<S> }>, readsOnce?: "reads once"): Leaf {
  return readsOnce ? { spec, load, readsOnce: true } : { spec, load };
}

/**
 * Every command, in the order `--help` lists them. Command modules are imported
 * only when their command runs, so `moose --help` loads neither TypeScript nor any engine.
 */
const COMMANDS: ReadonlyArray<Leaf | Group> = [
  leaf(initCommand, () => import("./commands/init.js")),
  leaf(planCommand, () => import("./commands/plan.js"), "reads once"),
  leaf(lsCommand, () => import("./commands/ls.js"), "reads once"),
  {
    ...TOP.migrate,
    demand: "name a migrate command: generate, deploy, status, unlock, baseline, rollback, resolve, sql, check, lint or rebase",
    children: [
      leaf(migrateGenerateCommand, () => import("./commands/migrate-generate.js"), "reads once"),
      leaf(migrateBaselineCommand, () => import("./commands/migrate-baseline.js")),
      leaf(migrateRollbackCommand, () => import("./commands/migrate-rollback.js")),
      leaf(migrateDeployCommand, () => import("./commands/migrate-deploy.js")),
      leaf(migrateStatusCommand, () => import("./commands/migrate-status.js")),
      leaf(migrateUnlockCommand, () => import("./commands/migrate-unlock.js")),
      leaf(migrateResolveCommand, () => import("./commands/migrate-resolve.js")),
      leaf(migrateSqlCommand, () => import("./commands/migrate-sql.js"), "reads once"),
      leaf(migrateCheckCommand, () => import("./commands/migrate-check.js"), "reads once"),
      leaf(migrateLintCommand, () => import("./commands/migrate-lint.js"), "reads once"),
      leaf(migrateRebaseCommand, () => import("./commands/migrate-rebase.js")),
    ],
  },
  leaf(queryCommand, () => import("./commands/query.js")),
  leaf(devCommand, () => import("./commands/dev.js")),
  leaf(logsCommand, () => import("./commands/logs.js")),
  leaf(prodCommand, () => import("./commands/prod.js")),
  {
    ...TOP.workflow,
    demand: "name a workflow command: run, resume, list, history, status, cancel, terminate, pause or unpause",
    children: [
      leaf(workflowArgs.workflowRunCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.runWorkflow }))),
      leaf(workflowArgs.workflowResumeCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.resumeWorkflow }))),
      leaf(workflowArgs.workflowListCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.listWorkflows }))),
      leaf(workflowArgs.workflowHistoryCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.workflowHistory }))),
      leaf(workflowArgs.workflowStatusCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.workflowStatus }))),
      leaf(workflowArgs.workflowCancelCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.cancelWorkflow }))),
      leaf(workflowArgs.workflowTerminateCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.terminateWorkflow }))),
      leaf(workflowArgs.workflowPauseCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.pauseWorkflow }))),
      leaf(workflowArgs.workflowUnpauseCommand, () => import("./commands/workflow.js").then((m) => ({ run: m.unpauseWorkflow }))),
    ],
  },
  {
    ...TOP.generate,
    demand: "name what to generate: hash-token",
    children: [leaf(hashTokenCommand, () => import("./commands/hash-token.js"))],
  },
];

/**
 * The whole command line, side-effect free: tests drive it with a memory IO.
 * yargs validates a command's arguments before its handler runs, provided the
 * `fail` handler throws (see {@link main}).
 */
export function buildParser(io: CliIO, setCode: (code: number) => void, options: MainOptions = {}): Argv {
  const register = (y: Argv, node: Leaf | Group): Argv => {
    if ("children" in node) {
      return y.command(node.command, node.describe, (g) => node.children.reduce(register, g).demandCommand(1, node.demand));
    }
    const { spec, load, readsOnce } = node;
    return y.command(
      spec.command,
      spec.describe,
      (g) => Object.entries(spec.positionals ?? {}).reduce((p, [name, o]) => p.positional(name, o), g).options(spec.options),
      async (args) => {
        // Before the command's modules (TypeScript among them) load: see tiering.cts.
        if (readsOnce && options.tuneOptimizer) {
          keepYoungGenerationSmall();
          deferOptimization();
        }
        const { run } = await load();
        setCode(await run(args, io));
      },
    );
  };
  return COMMANDS.reduce(
    register,
    yargs()
      .scriptName("moose")
      .usage(USAGE)
      .version(VERSION)
      .strict()
      .wrap(helpWidth(process.stdout.columns))
      .epilog(EPILOG),
  )
    .demandCommand(1, NO_COMMAND)
    .help()
    .alias("help", "h");
}

/**
 * Once a command's handler has started, yargs renders that command's whole help text
 * and keeps it (\`cacheHelpMessage\`), for a later \`showHelp()\`, which nothing here calls:
 * ~50 ms of CPU on every command, most of it compiling string-width's emoji pattern.
 * That step is turned into nothing; \`--help\` renders its text as before. Internal to
 * yargs 17: if a later yargs lacks it, this does nothing and the command is only slower.
 */
function skipHelpCache(parser: Argv): void {
  const internals = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }).getInternalMethods?.();
  const usage = internals?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === "function") usage.cacheHelpMessage = () => {};
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

export interface MainOptions {
  /** Whether this process's V8 flags are the CLI's to set (bin.ts; never in a test's or a library user's process). */
  readonly tuneOptimizer?: boolean;
}

/** Runs the CLI and returns the exit code; only bin.ts touches process. */
export async function main(argv: readonly string[], io: CliIO, options: MainOptions = {}): Promise<number> {
  let code: number = ExitCode.success;
  const parser = buildParser(io, (c) => (code = c), options).fail((message, error) => {
    // yargs runs the command anyway when this returns: only a throw stops it.
    throw new UsageFailure(message ?? String(error), error);
  });
  skipHelpCache(parser);
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
    io.stderr.write(`error[USAGE]: ${usageMessage(error.message, argv, COMMANDS.map(words))}\n  hint: ${USAGE_HINT}\n`);
    return ExitCode.invalidInput;
  }
  if (output) io.stdout.write(output + "\n");
  return code;
}


/** What a command accepts, for spelling suggestions. */
function words(node: Leaf | Group): CommandWords {
  if ("children" in node) return { name: node.command, children: node.children.map(words) };
  const { spec } = node;
  const aliases = Object.values(spec.options).flatMap((o) => (o.alias === undefined ? [] : Array.isArray(o.alias) ? o.alias : [o.alias]));
  return { name: spec.command.split(" ")[0]!, flags: [...Object.keys(spec.options), ...aliases, ...Object.keys(spec.positionals ?? {})] };
}
