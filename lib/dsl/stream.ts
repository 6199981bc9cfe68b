import { register } from "./registry.js";
import type { OlapTable } from "./olap-table.js";
import type { LifeCycle } from "./olap-table.js";

export interface StreamConfig<T> {
  /** Number of partitions of the topic (default 1). Kafka cannot reduce it later. */
  readonly parallelism?: number;
  /** Retention in seconds (default: `[redpanda_config] retention_ms`). */
  readonly retentionPeriod?: number;
  /** Rows produced to the stream are written to this table. */
  readonly destination?: OlapTable<T>;
  /** Extra topic configs, e.g. `{ "cleanup.policy": "compact" }`. */
  readonly config?: Readonly<Record<string, string | number>>;
  readonly version?: string;
  readonly lifeCycle?: LifeCycle;
}

/**
 * A streaming topic (Redpanda/Kafka, or the embedded log) carrying records of `T`.
 *
 * @example
 * export const userEvents = new Stream<UserSchema>("UserEvents", { destination: usersTable });
 */
export class Stream<T> {
  readonly kind = "Stream" as const;
  readonly name: string;
  readonly config: StreamConfig<T>;
  declare readonly __schema?: T;
  /** Run-time hooks, used by the dev server; planning ignores them. */
  readonly transforms: Array<{ readonly to: Stream<unknown>; readonly fn: (row: T) => unknown }> = [];
  readonly consumers: Array<(row: T) => void | Promise<void>> = [];

  constructor(name: string, config?: StreamConfig<T>) {
    this.name = name;
    this.config = config ?? {};
    register(this);
  }

  /** Run-time only: rows of this stream are transformed and produced to `to`. Never affects planning. */
  addTransform<U>(to: Stream<U>, fn: (row: T) => U | U[] | null | undefined | Promise<U | U[] | null | undefined>): void {
    this.transforms.push({ to: to as Stream<unknown>, fn: fn as (row: T) => unknown });
  }

  /** Run-time only: called for every row of this stream. */
  addConsumer(fn: (row: T) => void | Promise<void>): void {
    this.consumers.push(fn);
  }
}
