/**
 * What an app sees of `typia` when typia is not installed: its type tags (for column
 * types) and its validators as stubs. Planning only reads the types; the stubs exist
 * so that run-time code using `typia.is<T>(x)` type-checks, and throw if ever called
 * (install typia to run such code).
 *
 * @example
 * import typia, { tags } from "typia";
 * interface Row { day: number & typia.tags.Type<"int64">; id: string & tags.Format<"uuid"> }
 */
import * as typiaTags from "./typia-tags.js";

export { typiaTags as tags };

export interface IValidation<T> {
  readonly success: boolean;
  readonly data?: T;
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly expected: string; readonly value: unknown }>;
}

function notInstalled(name: string): never {
  throw new Error(`typia.${name}() needs the typia package at run time; moose-migrate only provides its types for planning`);
}

namespace typia {
  export import tags = typiaTags;
  export function is<T>(_input: unknown): _input is T {
    return notInstalled("is");
  }
  export function assert<T>(_input: unknown): T {
    return notInstalled("assert");
  }
  export function validate<T>(_input: unknown): IValidation<T> {
    return notInstalled("validate");
  }
  export function equals<T>(_input: unknown): _input is T {
    return notInstalled("equals");
  }
  export function assertEquals<T>(_input: unknown): T {
    return notInstalled("assertEquals");
  }
  export function random<T>(): T {
    return notInstalled("random");
  }
  export function createIs<T>(): (input: unknown) => input is T {
    return notInstalled("createIs");
  }
  export function createAssert<T>(): (input: unknown) => T {
    return notInstalled("createAssert");
  }
}

export default typia;
