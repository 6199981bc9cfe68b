import { register } from "./registry.js";
import type { OlapTable } from "./olap-table.js";
import type { LifeCycle } from "./olap-table.js";
import { runtimeServices } from "./runtime-context.js";
import { physicalName, sqlIdentifier } from "./sql.js";

/** moose-lib's default topic retention: 7 days, in seconds. */
export const DEFAULT_RETENTION_SECONDS = 60 * 60 * 24 * 7;

export interface StreamConfig<T> {
  /** Number of partitions of the topic (default 1). Kafka cannot reduce it later. */
  readonly parallelism?: number;
  /** Retention in seconds (default 604800, 7 days, as in moose-lib). */
  readonly retentionPeriod?: number;
  /** Rows produced to the stream are written to this table. */
  readonly destination?: OlapTable<T>;
  /** Extra topic configs, e.g. `{ "cleanup.policy": "compact" }`. */
  readonly config?: Readonly<Record<string, string | number>>;
  readonly version?: string;
  readonly lifeCycle?: LifeCycle;
  readonly metadata?: { description?: string };
  /** Run-time only: where failed transforms and consumers send records by default. */
  readonly defaultDeadLetterQueue?: DeadLetterQueue<T>;
  /** Schema registry settings (moose-lib); not planned. */
  readonly schemaConfig?: { kind: "JSON" | "AVRO" | "PROTOBUF"; reference: { id: number } | { subjectLatest: string } | { subject: string; version: number } };
}

/** Zero, one or many records: what a transform may return. */
export type ZeroOrMany<T> = T | T[] | undefined | null;

export interface TransformConfig<T> {
  readonly version?: string;
  readonly metadata?: { description?: string };
  /** Records whose transform throws go here (null: nowhere). */
  readonly deadLetterQueue?: DeadLetterQueue<T> | null;
}

export interface ConsumerConfig<T> {
  readonly version?: string;
  readonly deadLetterQueue?: DeadLetterQueue<T> | null;
}

/** A record bound for a given stream, returned by `addMultiTransform` functions. */
export class RoutedMessage {
  constructor(
    readonly destination: Stream<any>,
    readonly values: ZeroOrMany<any>,
  ) {}
}

/**
 * A streaming topic (Redpanda/Kafka, or the embedded log) carrying records of `T`.
 *
 * @example
 * export const userEvents = new Stream<UserSchema>("UserEvents", { destination: usersTable });
 */
export class Stream<T> {
  readonly kind: "Stream" | "DeadLetterQueue" = "Stream";
  readonly name: string;
  readonly config: StreamConfig<T>;
  declare readonly __schema?: T;
  /** Run-time hooks, used by the dev server; planning ignores them. */
  readonly transforms: Array<{ readonly to: Stream<unknown>; readonly fn: (row: T) => unknown; readonly config?: TransformConfig<T> }> = [];
  readonly consumers: Array<{ readonly fn: (row: T) => void | Promise<void>; readonly config?: ConsumerConfig<T> }> = [];
  readonly multiTransforms: Array<(row: T) => RoutedMessage[] | Promise<RoutedMessage[]>> = [];

  constructor(name: string, config?: StreamConfig<T>) {
    this.name = name;
    this.config = config ?? {};
    sqlIdentifier(this, () => physicalName(this.name, this.config.version));
    register(this);
  }

  get defaultDeadLetterQueue(): DeadLetterQueue<T> | undefined {
    return this.config.defaultDeadLetterQueue;
  }

  /** Run-time only: rows of this stream are transformed and produced to `to`. Never affects planning. */
  addTransform<U>(to: Stream<U>, fn: (row: T) => ZeroOrMany<U> | Promise<ZeroOrMany<U>>, config?: TransformConfig<T>): void {
    this.transforms.push({ to: to as Stream<unknown>, fn: fn as (row: T) => unknown, ...(config ? { config } : {}) });
  }

  /** Run-time only: called for every row of this stream. */
  addConsumer(fn: (row: T) => void | Promise<void>, config?: ConsumerConfig<T>): void {
    this.consumers.push({ fn, ...(config ? { config } : {}) });
  }

  /** Run-time only: one function routing each record to several streams (`dest.routed(values)`). */
  addMultiTransform(fn: (row: T) => RoutedMessage[] | Promise<RoutedMessage[]>): void {
    this.multiTransforms.push(fn);
  }

  /** Wraps records for `addMultiTransform`. */
  routed(values: ZeroOrMany<T>): RoutedMessage {
    return new RoutedMessage(this, values);
  }

  /** Run-time only (under `moose dev` / `moose prod`): produces records to the topic. */
  async send(values: ZeroOrMany<T>): Promise<void> {
    const records = Array.isArray(values) ? values.filter((v) => v !== undefined && v !== null) : values === undefined || values === null ? [] : [values];
    if (records.length === 0) return;
    const services = runtimeServices();
    if (services === undefined) throw new Error(`Stream.send (${this.name}) needs the app to run under moose dev or moose prod`);
    // Records travel as JSON (a Date as its ISO text), as moose-lib sends them.
    await services.produce(physicalName(this.name, this.config.version), JSON.parse(JSON.stringify(records)) as unknown[]);
  }
}

// ---------------------------------------------------------------------------
// Dead-letter queues: streams of records that failed (Stream and DeadLetterQueue refer to
// each other, so they live in one module).

/**
 * A record that failed on its way in (moose-lib's `DeadLetterModel`). As a table schema
 * (`new OlapTable<DeadLetterModel>(...)`) it gives the columns originalRecord `JSON`,
 * errorMessage/errorType `String`, failedAt `DateTime('UTC')`, source `LowCardinality(String)`.
 */
export interface DeadLetterModel {
  /** The record as it arrived. */
  originalRecord: Record<string, any>;
  errorMessage: string;
  /** e.g. `ValidationError`, `TransformError`. */
  errorType: string;
  failedAt: Date;
  /** Where it failed. */
  source: "api" | "transform" | "table";
}

/** A dead letter that can give back the record typed as it was declared. */
export interface DeadLetter<T> extends DeadLetterModel {
  asTyped: () => T;
}

/**
 * A topic for records of `T` that failed a transform, a consumer or an insert. Whatever
 * `T` is, the topic carries moose-lib's fixed dead-letter columns: originalRecord `JSON`,
 * errorMessage, errorType `String`, failedAt `DateTime('UTC')`, source `String`.
 *
 * @example
 * export const eventsDlq = new DeadLetterQueue<Event>("EventsDLQ", { destination: failedEvents });
 */
export class DeadLetterQueue<T> extends Stream<DeadLetterModel> {
  override readonly kind = "DeadLetterQueue" as const;
  declare readonly __original?: T;

  constructor(name: string, config?: StreamConfig<DeadLetterModel>) {
    super(name, config);
  }

  /** Run-time only: transforms dead letters (with `asTyped()`). */
  override addTransform<U>(to: Stream<U>, fn: (row: DeadLetter<T>) => ZeroOrMany<U> | Promise<ZeroOrMany<U>>, config?: TransformConfig<DeadLetterModel>): void {
    super.addTransform(to, (row: DeadLetterModel) => fn(withAsTyped<T>(row)), config);
  }

  /** Run-time only: called for every dead letter (with `asTyped()`). */
  override addConsumer(fn: (row: DeadLetter<T>) => void | Promise<void>, config?: ConsumerConfig<DeadLetterModel>): void {
    super.addConsumer((row: DeadLetterModel) => fn(withAsTyped<T>(row)), config);
  }
}

/**
 * Gives a dead letter `asTyped()`: the original record as `T`. moose-lib checks it with
 * the compiled typia guard; here it is the record as it arrived, without the
 * `__source…` fields the runner added (no compiler plugin runs on the app).
 */
function withAsTyped<T>(row: DeadLetterModel): DeadLetter<T> {
  const letter = row as DeadLetter<T>;
  Object.defineProperty(letter, "asTyped", {
    value: (): T => {
      const original = { ...(letter.originalRecord ?? {}) } as Record<string, unknown>;
      for (const key of Object.keys(original)) if (key.startsWith("__source")) delete original[key];
      return original as T;
    },
    enumerable: false,
    configurable: true,
  });
  return letter;
}
