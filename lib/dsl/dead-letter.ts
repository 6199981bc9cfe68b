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
