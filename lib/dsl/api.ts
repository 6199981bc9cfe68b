import { register } from "./registry.js";
import type { Stream } from "./stream.js";
import type { OlapTable } from "./olap-table.js";
import type { DeadLetterQueue } from "./stream.js";
import type { MooseUtils } from "./runtime.js";

export interface IngestConfig<T> {
  /** Where accepted rows go: a stream (and on to its destination table) or a table directly. */
  readonly destination: Stream<T> | OlapTable<T>;
  /** Served at `ingest/<name>/<version>` when set. */
  readonly version?: string;
  /** Served at `ingest/<path>` instead of `ingest/<name>` (moose-lib's custom path). */
  readonly path?: string;
  /** Run-time only: where rows that fail validation go. */
  readonly deadLetterQueue?: DeadLetterQueue<T>;
  readonly metadata?: { description?: string };
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

/** What an API handler receives besides its parameters: moose-lib's `client`, `sql` and `jwt`, and `query`. */
export interface ApiUtils extends MooseUtils {
  /** Runs a read-only query on the OLAP engine and returns the rows. */
  readonly query: <R = Record<string, unknown>>(sql: string, params?: Record<string, unknown>) => Promise<R[]>;
}

export type ApiHandler<P, R> = (params: P, utils: ApiUtils) => R | Promise<R>;

export interface ApiConfig<_P = unknown> {
  /** Served at `api/<name>/<version>` when set. */
  readonly version?: string;
  /** Served at `api/<path>` instead of `api/<name>`. */
  readonly path?: string;
  readonly metadata?: { description?: string };
}
/** @deprecated moose-lib's older name for {@link ApiConfig}. */
export type EgressConfig<P = unknown> = ApiConfig<P>;

/**
 * `GET /api/<name>?...`: query parameters are typed by `P` and validated.
 *
 * @example
 * export const metrics = new ConsumptionApi<{ limit?: number }, Row[]>("metrics", async ({ limit = 10 }, { query }) =>
 *   query("SELECT * FROM Users LIMIT {limit:UInt32}", { limit }), { version: "v2" });
 */
export class ConsumptionApi<P, R = any> {
  readonly kind = "ConsumptionApi" as const;
  readonly name: string;
  readonly handler: ApiHandler<P, R>;
  readonly config: ApiConfig<P>;
  declare readonly __params?: P;

  constructor(name: string, handler: ApiHandler<P, R>, config?: ApiConfig<P>) {
    this.name = name;
    this.handler = handler;
    this.config = config ?? {};
    register(this);
  }

  /** moose-lib's accessor for the handler. */
  getHandler(): ApiHandler<P, R> {
    return this.handler;
  }
}

/** moose-lib's current name for a consumption API. */
export class Api<P, R = any> extends ConsumptionApi<P, R> {}
