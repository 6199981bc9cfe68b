import type { InferredOptionType, Options, PositionalOptions } from "yargs";
import type { CliIO } from "./io.js";

/**
 * What a command accepts, as yargs declares it and as its `run` receives it. Each
 * command's `*.args.ts` holds one; it loads nothing but this file, so the parser can
 * know every command's flags without loading the commands.
 *
 * @example
 * export const deploy = defineCommand({
 *   command: "deploy",
 *   describe: "apply the committed migrations that have not run yet",
 *   options: { "dry-run": { type: "boolean", default: false, describe: "apply nothing" } },
 * });
 * export type DeployArgs = Args<typeof deploy>; // { readonly dryRun: boolean }
 */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs, P extends PositionalSpecs = PositionalSpecs> {
  /** As yargs reads it: the name, then `<required>` and `[optional]` positionals. */
  readonly command: string;
  readonly describe: string;
  readonly positionals?: P;
  readonly options: O;
}

export type OptionSpecs = Readonly<Record<string, Options>>;
export type PositionalSpecs = Readonly<Record<string, PositionalOptions>>;

/** Keeps the literal types of `spec` (choices, defaults), from which {@link Args} is inferred. */
export function defineCommand<const O extends OptionSpecs, const P extends PositionalSpecs = {}>(spec: CommandSpec<O, P>): CommandSpec<O, P> {
  return spec;
}

/**
 * The parsed arguments `run` receives: one camelCase key per option and positional,
 * typed from its declaration. No index signature, so a misspelt key does not compile.
 */
export type Args<S extends CommandSpec<any, any>> = Typed<S["options"]> & Typed<NonNullable<S["positionals"]>>;

type Typed<O> = { readonly [K in keyof O & string as CamelCase<K>]: O[K] extends Options | PositionalOptions ? InferredOptionType<O[K]> : never };
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** Runs a command; parsing is done by yargs before it is called. */
export type CommandRun<S extends CommandSpec<any, any>> = (args: Args<S>, io: CliIO) => Promise<number>;

/** `--json`, the same on every command that has it. */
export const JSON_OPTION = { type: "boolean", default: false, describe: "print one JSON document on stdout" } as const;

/**
 * A number flag checked by the parser, so a wrong value stops the command before it
 * starts: yargs turns `--port abc` into NaN and would pass it on. The check runs on
 * the default too.
 */
export function checkedNumber(flag: string, what: string, ok: (n: number) => boolean): (value: number) => number {
  return (value) => {
    if (typeof value !== "number" || !ok(value)) {
      // NaN stands for a word or a missing value: yargs has dropped the text by now.
      throw new Error(typeof value === "number" && !Number.isNaN(value) ? `--${flag} ${value} must be ${what}` : `--${flag} must be ${what}`);
    }
    return value;
  };
}

/** Seconds to wait: zero or more. */
export const seconds = (flag: string) => checkedNumber(flag, "a number of seconds, 0 or more", (n) => Number.isFinite(n) && n >= 0);

/** A TCP port; 0 asks the system for a free one. */
export const port = (flag: string) => checkedNumber(flag, "a port number 0–65535", (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
