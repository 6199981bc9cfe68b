import { Stream, type ConsumerConfig, type StreamConfig, type TransformConfig, type ZeroOrMany } from "./stream.js";

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
    super.addTransform(to, fn as (row: DeadLetterModel) => ZeroOrMany<U>, config);
  }

  /** Run-time only: called for every dead letter (with `asTyped()`). */
  override addConsumer(fn: (row: DeadLetter<T>) => void | Promise<void>, config?: ConsumerConfig<DeadLetterModel>): void {
    super.addConsumer(fn as (row: DeadLetterModel) => void, config);
  }
}
