import type { Session } from "chdb";

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

/** Opens of a data directory in progress; the parser waits for them (it may borrow what they open). */
let opening: Promise<unknown> = Promise.resolve();

/**
 * Runs `open` (which creates a chDB session on a data directory and offers it) once the
 * parser's own session is closed, with parses started meanwhile held back until it is
 * done: a parse in between would open a session of its own again, and the data directory
 * could not be opened.
 */
export function openingDataDirectory<T>(open: () => T): Promise<T> {
  const run = async (): Promise<T> => {
    await releaseOwnSession();
    return open();
  };
  const result = opening.then(run, run);
  opening = result.catch(() => undefined);
  return result;
}

async function releaseOwnSession(): Promise<void> {
  const current = own;
  if (current === undefined) return;
  own = undefined;
  await current.tail.catch(() => undefined);
  current.session.close();
}

/** A runner for the parser: an open embedded connection, or the parser's own session. */
export function parserRunner(): ChdbRunner {
  return {
    async run(sql, params, format) {
      // Loaded on first use: a command whose statements were all read before never loads ClickHouse.
      const { Session: ChdbSession } = await import("chdb");
      await opening;
      // Chosen after the wait, in the same turn as the session is created or borrowed.
      const host = hosts.values().next();
      if (!host.done) return host.value.run(sql, params, format);
      own ??= { session: new ChdbSession(), tail: Promise.resolve() };
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
