/**
 * Every error a user can cause or meet carries a stable `code`, and each code
 * belongs to one exit-code class. The library throws these; only `cli/` maps
 * them to exit codes and prints them.
 */

/** Exit-code classes, documented in the README. */
export const ExitCode = {
  success: 0,
  failure: 1,
  invalidInput: 2,
  refused: 3,
  pending: 4,
  notImplemented: 5,
} as const;
export type ExitCodeName = keyof typeof ExitCode;

/** Where in a user's file something went wrong (1-based line and column). */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.column}`;
}

export interface MooseErrorOptions {
  readonly position?: SourcePosition;
  readonly hint?: string;
  readonly cause?: unknown;
  readonly details?: readonly string[];
}

export class MooseError extends Error {
  readonly code: string;
  readonly exit: ExitCodeName;
  readonly position: SourcePosition | undefined;
  readonly hint: string | undefined;
  readonly details: readonly string[];

  constructor(code: string, exit: ExitCodeName, message: string, options: MooseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MooseError";
    this.code = code;
    this.exit = exit;
    this.position = options.position;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  /** One human line: `file:line:col: message`, or just the message. */
  get located(): string {
    return this.position ? `${formatPosition(this.position)}: ${this.message}` : this.message;
  }
}

/** Bad input from the user: config, app code, command-line usage. */
export class InvalidInputError extends MooseError {
  constructor(code: string, message: string, options: MooseErrorOptions = {}) {
    super(code, "invalidInput", message, options);
    this.name = "InvalidInputError";
  }
}

/** Several input errors found in one pass (e.g. every bad type in an app). */
export class InvalidInputErrors extends InvalidInputError {
  readonly errors: readonly MooseError[];
  constructor(errors: readonly MooseError[]) {
    const first = errors[0];
    const head = first ? first.located : "invalid input";
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
    super(first?.code ?? "INVALID_INPUT", `${head}${more}`);
    this.name = "InvalidInputErrors";
    this.errors = errors;
  }
}

/**
 * Adds the input errors `error` carries to `errors` (one, or each of several); anything else
 * (an engine failure, a bug) is thrown on. For checks that report every problem in one pass.
 */
export function collectInputErrors(errors: MooseError[], error: unknown): void {
  if (error instanceof InvalidInputErrors) errors.push(...error.errors);
  else if (error instanceof MooseError && error.exit === "invalidInput") errors.push(error);
  else throw error;
}

/** Throws what {@link collectInputErrors} gathered: the one error, or all of them together. */
export function throwCollected(errors: readonly MooseError[]): void {
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new InvalidInputErrors(errors);
}

/** Engine or I/O failure. */
export class EngineError extends MooseError {
  constructor(code: string, message: string, options: MooseErrorOptions = {}) {
    super(code, "failure", message, options);
    this.name = "EngineError";
  }
}

/** Refused because running it could lose data or hide a problem. */
export class RefusedError extends MooseError {
  constructor(code: string, message: string, options: MooseErrorOptions = {}) {
    super(code, "refused", message, options);
    this.name = "RefusedError";
  }
}

export function assertNever(value: never, what = "value"): never {
  throw new Error(`unhandled ${what}: ${JSON.stringify(value)}`);
}
