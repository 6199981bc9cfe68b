import { Session } from "chdb";

/**
 * chDB holds one data directory per process. The SQL parser (see `parser.ts`) needs a
 * ClickHouse too, also in processes that never open the project's data: it borrows an
 * open embedded connection when there is one, and otherwise keeps a session of its own
 * on a temporary directory, which is closed before an embedded engine opens its data
 * directory.
 */
export interface ChdbRunner {
  /** Runs one query, with `{name:Type}` parameters bound by ClickHouse; the result as text. */
  run(sql: string, params: Record<string, unknown> | undefined, format: string): Promise<string>;
}

const hosts = new Set<ChdbRunner>();
let own: { session: Session; tail: Promise<unknown> } | undefined;

/** An embedded connection offers itself while it is open (its own queue keeps chDB's one-query-per-session rule). */
export function offerRunner(runner: ChdbRunner): () => void {
  hosts.add(runner);
  return () => hosts.delete(runner);
}

/** Closes the parser's own session, so the process may open a data directory. */
export async function releaseOwnSession(): Promise<void> {
  const current = own;
  if (current === undefined) return;
  own = undefined;
  await current.tail.catch(() => undefined);
  current.session.close();
}

/** A runner for the parser: an open embedded connection, or the parser's own session. */
export function parserRunner(): ChdbRunner {
  const host = hosts.values().next();
  if (!host.done) return host.value;
  return {
    run(sql, params, format) {
      own ??= { session: new Session(), tail: Promise.resolve() };
      const current = own;
      const work = async (): Promise<string> => {
        const result =
          params === undefined ? await current.session.queryAsync(sql, { format }) : await current.session.queryBindAsync(sql, params, { format });
        return result.text();
      };
      const next = current.tail.then(work, work);
      current.tail = next.catch(() => undefined);
      return next;
    },
  };
}
