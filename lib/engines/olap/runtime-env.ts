/**
 * Values read from the environment when a statement is sent (moose-lib's
 * `mooseRuntimeEnv.get("NAME")`: S3 credentials, Kafka's SASL password, …). Moose never
 * holds them: the model, migration files, the ledger, printed SQL and messages carry the
 * variable's name only, and printed SQL shows it as `${NAME}`.
 *
 * The SQL convertors write a reference through {@link SqlRuntimeEnv}; the executor asks
 * them for slots ({@link runtimeEnvSlots}), so each statement comes back as text pieces and
 * references. Nothing reads statement text to find a secret: the slots carry a random nonce
 * no declaration can contain.
 */
import { randomUUID } from "node:crypto";
import { InvalidInputError } from "../../errors.js";
import { quoteString } from "../../model/clickhouse-quote.js";
import type { RuntimeEnvRef } from "../../model/infra-map.js";

/** How a statement shows a reference: `${NAME}`. */
export function maskedRuntimeEnv(ref: RuntimeEnvRef): string {
  return "${" + ref.runtimeEnv + "}";
}

/** A variable name moose accepts: what a POSIX shell can export. */
export const RUNTIME_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A statement whose text carries references: the pieces between them, and the references. */
export type StatementPieces = ReadonlyArray<string | RuntimeEnvRef>;

/** The text a convertor writes for a reference (a slot to fill, or the masked form). */
export type SqlRuntimeEnv = (ref: RuntimeEnvRef) => string;

export interface RuntimeEnvSlots {
  /** Give this to the convertors as `SqlContext.runtimeEnv`. */
  readonly write: SqlRuntimeEnv;
  /** A statement the convertors wrote: its masked text, and its pieces when it has references. */
  split(statement: string): { readonly text: string; readonly pieces?: StatementPieces };
}

/** Slots for one batch of statements. */
export function runtimeEnvSlots(): RuntimeEnvSlots {
  const nonce = randomUUID();
  const refs: RuntimeEnvRef[] = [];
  const slot = new RegExp(`\u0000${nonce}:(\\d+)\u0000`, "g");
  return {
    write: (ref) => {
      refs.push({ runtimeEnv: ref.runtimeEnv });
      return `\u0000${nonce}:${refs.length - 1}\u0000`;
    },
    split: (statement) => {
      if (!statement.includes(nonce)) return { text: statement };
      const pieces: Array<string | RuntimeEnvRef> = [];
      let last = 0;
      for (const m of statement.matchAll(slot)) {
        pieces.push(statement.slice(last, m.index));
        pieces.push(refs[Number(m[1])]!);
        last = (m.index ?? 0) + m[0].length;
      }
      pieces.push(statement.slice(last));
      return { text: pieces.map((p) => (typeof p === "string" ? p : maskedRuntimeEnv(p))).join(""), pieces };
    },
  };
}

/** The variables a statement needs that `env` does not set. */
export function missingRuntimeEnv(pieces: StatementPieces, env: NodeJS.ProcessEnv = process.env): string[] {
  return [...new Set(pieces.filter((p): p is RuntimeEnvRef => typeof p !== "string").map((p) => p.runtimeEnv))].filter((name) => env[name] === undefined);
}

/**
 * The statement to send: each reference is the variable's value as a string literal. `what`
 * names the step for the error when a variable is not set.
 */
export function resolveRuntimeEnv(pieces: StatementPieces, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const missing = missingRuntimeEnv(pieces, env);
  if (missing.length > 0) throw missingError(missing, what);
  return pieces.map((p) => (typeof p === "string" ? p : quoteString(env[p.runtimeEnv] as string))).join("");
}

export function missingError(names: readonly string[], what: string): InvalidInputError {
  const list = names.map((n) => `${n}`).join(", ");
  return new InvalidInputError("RUNTIME_ENV_MISSING", `${what} reads the environment variable${names.length > 1 ? "s" : ""} ${list} (mooseRuntimeEnv.get), which ${names.length > 1 ? "are" : "is"} not set`, {
    hint: `set ${list} in the environment of the process that deploys (moose never stores the value${names.length > 1 ? "s" : ""}); nothing has been run`,
  });
}

/**
 * `text` with every value the statement was sent with replaced by its reference: what
 * ClickHouse says about a statement may quote it.
 */
export function scrubRuntimeEnv(text: string, pieces: StatementPieces, env: NodeJS.ProcessEnv = process.env): string {
  let out = text;
  const refs = pieces.filter((p): p is RuntimeEnvRef => typeof p !== "string");
  // Longest first, so a value that contains another is replaced whole.
  const values = refs
    .map((r) => ({ ref: r, value: env[r.runtimeEnv] }))
    .filter((v): v is { ref: RuntimeEnvRef; value: string } => v.value !== undefined && v.value !== "")
    .sort((a, b) => b.value.length - a.value.length);
  for (const { ref, value } of values) {
    for (const form of [quoteString(value), quoteString(value).slice(1, -1), value]) out = out.split(form).join(maskedRuntimeEnv(ref));
  }
  return out;
}
