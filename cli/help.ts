import { ExitCode } from "../lib/errors.js";
import type { CliIO } from "./io.js";
import { VERSION } from "./version.js";

/**
 * The top-level commands as `moose --help` lists them. `buildParser` registers
 * each under this name and description, and `fastTopLevel` prints the same
 * list without loading yargs, so the text exists once.
 */
export const TOP_LEVEL_COMMANDS = {
  init: { command: "init [dir]", describe: "scaffold a new project (offline; embedded engines, no server needed)" },
  plan: { command: "plan", describe: "show what would change to make the infrastructure match the code" },
  ls: { command: "ls", describe: "list the declared infrastructure objects" },
  migrate: { command: "migrate", describe: "write, apply and inspect migration files" },
  query: { command: "query <sql>", describe: "run SQL on the configured OLAP engine (read-only unless --write)" },
  dev: { command: "dev", describe: "watch the app, generate and apply migrations as you save, serve the APIs" },
  logs: { command: "logs", describe: "show the moose log" },
  prod: { command: "prod", describe: "run the production instance: APIs and the admin API" },
  workflow: { command: "workflow", describe: "run and inspect the app's workflows (in moose dev's embedded engine)" },
  generate: { command: "generate", describe: "generate things" },
} as const;

export const USAGE = "$0 <command> [options]\n\nInfrastructure as code, with reviewable migrations: ClickHouse tables and views, topics, APIs and workflows declared in app/index.ts.";

export const EPILOG = `Exit codes: 0 success (also "no changes"), 1 engine or I/O failure, 2 invalid input (config, app code, usage),
3 refused for safety (unapproved destructive change, edited or removed migration, drift, out-of-order), 4 pending migrations (migrate status, prod).
Docs: README.md of the moose-migrate package.`;

export const NO_COMMAND = "name a command (moose --help lists them)";
export const USAGE_HINT = "moose --help lists the commands; moose <command> --help its options";

/** Help is wrapped at this width, or narrower on a narrower terminal. */
export const HELP_WIDTH = 110;

/** The width yargs wraps help at for this terminal. */
export function helpWidth(columns: number | undefined): number {
  return Math.min(HELP_WIDTH, columns || HELP_WIDTH);
}

/**
 * `moose --help`, `-h`, `--version` and `moose` alone, answered without loading
 * yargs (about 80 ms of a cold start) in the text yargs prints for them. Returns
 * undefined for anything else, and where yargs would print something else: a
 * terminal narrower than {@link HELP_WIDTH} (yargs re-flows its columns) or a
 * locale yargs translates its headings into.
 */
export function fastTopLevel(argv: readonly string[], io: CliIO, columns: number | undefined): number | undefined {
  if (argv.length === 0) {
    io.stderr.write(`error[USAGE]: ${NO_COMMAND}\n  hint: ${USAGE_HINT}\n`);
    return ExitCode.invalidInput;
  }
  if (argv.length !== 1) return undefined;
  if (argv[0] === "--version") {
    io.stdout.write(VERSION + "\n");
    return ExitCode.success;
  }
  if ((argv[0] === "--help" || argv[0] === "-h") && helpWidth(columns) === HELP_WIDTH && englishLocale(io.env)) {
    io.stdout.write(topLevelHelp(HELP_WIDTH) + "\n");
    return ExitCode.success;
  }
  return undefined;
}

/** yargs picks its locale from these variables and translates "Commands:" etc. unless it is English. */
function englishLocale(env: CliIO["env"]): boolean {
  const locale = (env["LC_ALL"] || env["LC_MESSAGES"] || env["LANG"] || env["LANGUAGE"] || "en_US").replace(/[.:].*/, "");
  return locale === "" || locale === "C" || locale === "POSIX" || /^en(_|$)/.test(locale);
}

/** The top-level help exactly as yargs lays it out at `width` (commands and options fit on one line each). */
export function topLevelHelp(width: number): string {
  const [usage = "", ...about] = USAGE.replace(/\$0/g, "moose").split("\n");
  const lines: string[] = [usage, ...about.flatMap((l) => (l === "" ? [""] : wrap(l, width))), "", "Commands:"];
  const commands = Object.values(TOP_LEVEL_COMMANDS).map((c) => [`moose ${c.command}`, c.describe] as const);
  const commandWidth = Math.max(...commands.map(([c]) => c.length)) + 2;
  for (const [c, d] of commands) lines.push(`  ${c.padEnd(commandWidth)}${d}`);
  lines.push("", "Options:");
  const options = [
    ["    --version", "Show version number"],
    ["-h, --help", "Show help"],
  ] as const;
  const optionWidth = Math.max(...options.map(([o]) => o.length)) + 2;
  for (const [o, d] of options) {
    const left = `  ${o.padEnd(optionWidth)}${d}`;
    lines.push(left + "[boolean]".padStart(width - left.length));
  }
  lines.push("", ...EPILOG.split("\n").flatMap((l) => wrap(l, width)));
  return lines.join("\n");
}

/** Greedy word wrap: lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += " " + word;
    else {
      out.push(line);
      line = word;
    }
  }
  out.push(line);
  return out;
}
