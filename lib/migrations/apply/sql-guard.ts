import type { Change } from "../../diff/change.js";
import { InvalidInputError, RefusedError, type SourcePosition } from "../../errors.js";
import { parseStatement } from "../../engines/olap/parser.js";
import { checkChangesSql, dataLossOf, readRefusal, readRefused } from "../../engines/olap/statement-policy.js";
import { approvalOf } from "../files/steps.js";
import { readSqlResource } from "../../engines/olap/sql-resource-policy.js";
import type { LocatedStep } from "../files/read.js";

/**
 * Hand-written SQL in migration files, read by ClickHouse's parser before anything of the
 * run starts (deploy, rollback, their dry runs):
 *
 * - every `sql(…)` statement (and its `reverse`) is exactly one statement;
 * - a `sql(…)` statement that drops, truncates, deletes, renames or overwrites data needs
 *   `{ approveDataLoss: true }` on the step, like a generated destructive step;
 * - every `check(…)` is one SELECT that reads only (no INTO OUTFILE, no file/url/remote);
 * - every expression a structured step pastes into DDL (DEFAULT, ORDER BY, PARTITION BY,
 *   TTL, a view's SELECT, a backfill expression) is exactly one of its kind.
 *
 * Returns what each approved losing `sql(…)` step does (by step index) for `⚠` in dry runs.
 */
export async function guardMigrationSql(steps: readonly LocatedStep[], changes: ReadonlyArray<Change | null>, display: string, headline: string): Promise<Map<number, string>> {
  const losses = new Map<number, string>();
  const unapproved: string[] = [];
  for (const [i, { step, origin }] of steps.entries()) {
    const position: SourcePosition = { file: display, line: origin.line, column: origin.column };
    if (step.op === "sql") {
      const text = String(step.args[0]);
      const parsed = await parseStatement(text, { position, what: "sql(…)" });
      const loss = dataLossOf(parsed);
      if (loss !== undefined) {
        losses.set(i, loss);
        if (!approvalOf(step)) unapproved.push(`${display}:${origin.line}: sql(${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}) ${loss}`);
      }
      const options = step.args[1];
      const reverse = options !== null && typeof options === "object" ? (options as { reverse?: unknown }).reverse : undefined;
      if (typeof reverse === "string") await parseStatement(reverse, { position, what: "the reverse of sql(…)" });
      continue;
    }
    if (step.op === "check") {
      const origin_ = { position, what: "check(…)" };
      const parsed = await parseStatement(String(step.args[0]), origin_);
      const refusal = readRefusal(parsed, "check", "");
      if (refusal) throw asInvalid(readRefused(refusal, "check", origin_));
      continue;
    }
    const change = changes[i];
    if (change) await checkChangesSql([change], () => position);
    // A SQL resource's statements, as the plan's policy reads them (hand edits included).
    if (change?.kind === "sqlResource.create") await readSqlResource(change.resource, position);
    if (change?.kind === "sqlResource.drop") await readSqlResource(change.resource, position);
    if (change?.kind === "sqlResource.modify") {
      await readSqlResource(change.before, position);
      await readSqlResource(change.after, position);
    }
  }
  if (unapproved.length > 0) {
    throw new RefusedError("DESTRUCTIVE_NOT_APPROVED", headline, {
      details: unapproved,
      hint: "if the data may go, write `{ approveDataLoss: true }` as the sql step's second argument (code review sees it); otherwise change the statement",
    });
  }
  return losses;
}

/** A check that is not a plain read is a mistake in the file (exit 2), not a refusal of something valid. */
function asInvalid(error: RefusedError): InvalidInputError {
  return new InvalidInputError(error.code, error.message, { ...(error.position ? { position: error.position } : {}), ...(error.hint ? { hint: error.hint } : {}) });
}

/**
 * The steps of `file` that approve losing data, for `⚠` in `migrate status`: an approved
 * `sql(…)` says what its statement does (read by ClickHouse's parser), other approved
 * steps name their operation and object. Text that does not parse is left to deploy's
 * guard, which refuses it with its position.
 */
export async function approvedLosses(file: { readonly up: readonly LocatedStep[] }): Promise<string[]> {
  const out: string[] = [];
  for (const [i, { step }] of file.up.entries()) {
    if (!approvalOf(step)) continue;
    if (step.op !== "sql") {
      out.push(`step ${i + 1} ${step.op}(${step.args.filter((a) => typeof a === "string").map((a) => JSON.stringify(a)).join(", ")})`);
      continue;
    }
    const loss = await parseStatement(String(step.args[0]), { what: "sql(…)" }).then(dataLossOf, () => undefined);
    if (loss !== undefined) out.push(`step ${i + 1} sql: ${loss}`);
  }
  return out;
}
