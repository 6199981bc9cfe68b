/**
 * What the dev and prod servers lend the app's code while it runs: the database client
 * behind `getMooseUtils()`, the topic producer behind `Stream.send`, the table writer
 * behind `OlapTable.insert`, the cache behind `MooseCache` and the terminal behind
 * `cliLog`. The library is one module instance for the server and the app (the loader maps
 * `@514labs/moose-lib` to it), so what the server installs here is what the app's calls
 * reach. Planning never runs the app and never installs anything.
 *
 * @example
 * installRuntime({ client, produce: (t, rows) => streams.produce(t, rows), insert, cache: memoryCache(), log: say });
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { MooseClient } from "./client.js";

/** A string store with expiry: MooseCache's back end (in-process, or Redis). */
export interface CacheStore {
  /** The stored string, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` for `ttlSeconds`; returns the previous value (Redis's `SET … GET`). */
  set(key: string, value: string, ttlSeconds: number): Promise<string | null>;
  delete(keys: readonly string[]): Promise<void>;
  /** Every key starting with `prefix`. */
  keys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface RuntimeServices {
  /** The client of `getMooseUtils()` / `getMooseClients()`. */
  readonly client: MooseClient;
  /** Produces records to a topic (by its physical name). */
  readonly produce: (topic: string, records: readonly unknown[]) => Promise<void>;
  /** Inserts rows into a table (by its physical name). */
  readonly insert: (table: string, rows: ReadonlyArray<Record<string, unknown>>) => Promise<void>;
  /** MooseCache's store and the prefix of its keys (`<key_prefix>::moosecache::`). */
  readonly cache: () => Promise<{ readonly store: CacheStore; readonly keyPrefix: string }>;
  /** A line for the developer's terminal (`cliLog`). */
  readonly log: (line: string) => void;
}

let installed: RuntimeServices | undefined;

/** Installs the services the app's run-time helpers use (the last install wins). */
export function installRuntime(services: RuntimeServices): void {
  installed = services;
}

/** Removes them again (when the server that installed them stops). */
export function uninstallRuntime(services: RuntimeServices): void {
  if (installed === services) installed = undefined;
}

/** The installed services, or undefined when no server runs the app. */
export function runtimeServices(): RuntimeServices | undefined {
  return installed;
}


/** JWT claims of the request, when it carried a verified token. */
export interface JWTPayload {
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly jti?: string;
  readonly [claim: string]: unknown;
}

/** Per request of a web app or API handler: the verified JWT claims, when there are any. */
export const requestContext = new AsyncLocalStorage<{ readonly jwt?: JWTPayload }>();
