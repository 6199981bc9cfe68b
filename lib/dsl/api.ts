import { register } from "./registry.js";
import type { Stream } from "./stream.js";
import type { OlapTable } from "./olap-table.js";

export interface IngestConfig<T> {
  /** Where accepted rows go: a stream (and on to its destination table) or a table directly. */
  readonly destination: Stream<T> | OlapTable<T>;
  /** Served at `ingest/<name>/<version>` when set. */
  readonly version?: string;
}

/**
 * `POST /ingest/<name>`: validates JSON rows against `T` and delivers them.
 *
 * @example
 * export const userIngest = new IngestApi<UserSchema>("Users", { destination: userEvents });
 */
export class IngestApi<T> {
  readonly kind = "IngestApi" as const;
  readonly name: string;
  readonly config: IngestConfig<T>;
  declare readonly __schema?: T;

  constructor(name: string, config: IngestConfig<T>) {
    this.name = name;
    this.config = config;
    register(this);
  }
}

/** What an API handler receives besides its parameters. */
export interface ApiUtils {
  /** Runs a read-only query on the OLAP engine and returns the rows. */
  readonly query: <R = Record<string, unknown>>(sql: string, params?: Record<string, unknown>) => Promise<R[]>;
}

export type ApiHandler<P, R> = (params: P, utils: ApiUtils) => R | Promise<R>;

export interface ApiConfig {
  /** Served at `api/<name>/<version>` when set. */
  readonly version?: string;
  /** Served at `api/<path>` instead of `api/<name>`. */
  readonly path?: string;
}

/**
 * `GET /api/<name>?...`: query parameters are typed by `P` and validated.
 *
 * @example
 * export const metrics = new ConsumptionApi<{ limit?: number }, Row[]>("metrics", async ({ limit = 10 }, { query }) =>
 *   query("SELECT * FROM Users LIMIT {limit:UInt32}", { limit }), { version: "v2" });
 */
export class ConsumptionApi<P, R = unknown> {
  readonly kind = "ConsumptionApi" as const;
  readonly name: string;
  readonly handler: ApiHandler<P, R>;
  readonly config: ApiConfig;
  declare readonly __params?: P;

  constructor(name: string, handler: ApiHandler<P, R>, config?: ApiConfig) {
    this.name = name;
    this.handler = handler;
    this.config = config ?? {};
    register(this);
  }
}

/** moose-lib's current name for a consumption API. */
export class Api<P, R = unknown> extends ConsumptionApi<P, R> {}
