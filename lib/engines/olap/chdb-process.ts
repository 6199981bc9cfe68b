import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Session } from "chdb";

/**
 * chDB holds one data directory per process. The SQL parser (see `parser.ts`) needs a
 * ClickHouse too, also in processes that never open the project's data: it borrows an
 * open embedded connection when there is one, and otherwise keeps a session of its own:
 * on the data directory the process announced it will open ({@link willOpenDataDirectory}),
 * else on a temporary directory, which is closed before an embedded engine opens another.
 */
export interface ChdbRunner {
  /** Runs one query, with `{name:Type}` parameters bound by ClickHouse; the result as text. */
  run(sql: string, params: Record<string, unknown> | undefined, format: string): Promise<string>;
}

/** Open embedded connections, by the data directory each is on. */
const hosts = new Map<ChdbRunner, string>();
let own: { session: Session; dataDir: string | undefined; tail: Promise<unknown> } | undefined;

/**
 * The server configuration the embedded engine is opened with: an in-memory Keeper (ClickHouse's
 * `testkeeper`), which S3Queue tables keep their processed-file state in. It lives only as long as
 * the process: see README *Clusters*, "On the embedded engine", for what that means.
 */
const EMBEDDED_CONFIG = `<clickhouse>
  <!-- Written by moose-migrate for its embedded ClickHouse; rewritten when it differs. -->
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
</clickhouse>
`;

/**
 * How every session on a project's data directory is opened (the parser's too, when it opens
 * there): 64-bit integers as strings, as the server adapter returns them (a JS number would round
 * them), and the server configuration above, written into the data directory.
 */
export function dataDirectoryArgs(dataDir: string): string[] {
  mkdirSync(dataDir, { recursive: true });
  const file = join(resolve(dataDir), "moose-embedded-config.xml");
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current !== EMBEDDED_CONFIG) writeFileSync(file, EMBEDDED_CONFIG);
  return ["--output_format_json_quote_64bit_integers=1", `--config-file=${file}`];
}

/**
 * The data directory this process is going to open. chDB stops its background pools for the
 * rest of the process once an embedded ClickHouse closes (measured on chDB 3.4: the parser's
 * temporary session closed before the data directory opens, then `CREATE TABLE … ENGINE =
 * Kafka(…)` or `S3Queue(…)` fails with "Shutdown was called"). A command that will open the
 * project's data directory says so before it reads any SQL (`opensEmbedded` in cli/project.ts):
 * the parser's own session is then opened there and closed only with the last connection on
 * it, so no embedded ClickHouse closes before the project's is done.
 */
let announced: string | undefined;

export function willOpenDataDirectory(dataDir: string): void {
  announced = resolve(dataDir);
}

/** An embedded connection offers itself while it is open (its own queue keeps chDB's one-query-per-session rule). */
export function offerRunner(runner: ChdbRunner, dataDir: string): () => void {
  const dir = resolve(dataDir);
  hosts.set(runner, dir);
  return () => {
    hosts.delete(runner);
    // The parser's own session on this directory goes with the last connection: the data
    // directory is free for other processes once the command that opened it is done with it.
    if (own?.dataDir === dir && ![...hosts.values()].includes(dir)) void releaseOwnSession(undefined);
  };
}

/** Opens of a data directory in progress; the parser waits for them (it may borrow what they open). */
let opening: Promise<unknown> = Promise.resolve();

/**
 * Runs `open` (which creates a chDB session on a data directory and offers it) once the
 * parser's own session is closed, with parses started meanwhile held back until it is
 * done: a parse in between would open a session of its own again, and the data directory
 * could not be opened.
 */
export function openingDataDirectory<T>(dataDir: string, open: () => T): Promise<T> {
  const run = async (): Promise<T> => {
    await releaseOwnSession(resolve(dataDir));
    return open();
  };
  const result = opening.then(run, run);
  opening = result.catch(() => undefined);
  return result;
}

async function releaseOwnSession(dataDir: string | undefined): Promise<void> {
  const current = own;
  // A session on the directory being opened stays: chDB admits several on one directory.
  if (current === undefined || current.dataDir === dataDir) return;
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
      const host = hosts.keys().next();
      if (!host.done) return host.value.run(sql, params, format);
      if (own === undefined) {
        const dataDir = announced;
        own = { session: dataDir === undefined ? new ChdbSession() : new ChdbSession(dataDir, { connectionArgs: dataDirectoryArgs(dataDir) }), dataDir, tail: Promise.resolve() };
      }
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
