import type { Change } from "../diff/change.js";
import { subjects } from "../diff/change-meta.js";
import { applyChange } from "../model/apply-change.js";
import type { Collection } from "../diff/change-meta.js";
import { COMPONENT_KINDS, withPlainViews, withSqlResources, type InfraMap, type PlainView, type SqlResource } from "../model/infra-map.js";

type Entries = Record<string, unknown>;

/**
 * The map a sequence of changes leads through, for a planner that looks at the state
 * before each change. `applyChange` returns a new map with a copy of the collection it
 * changes, so applying a plan that creates 1,000 tables copied half a million entries.
 * Here a change is applied to a map holding only the entries it names, and the result
 * is written back in place: `applyChange` stays the one definition of what a change does
 * and when it does not fit, with the same errors.
 *
 * `map` is live: it always shows the state after the changes applied so far. Entries are
 * replaced, never edited, so an object read from it stays as it was.
 *
 * @example
 * const state = new WorkingState(current);
 * for (const change of changes) {
 *   reverseChange(change, state.map); // the state just before the change
 *   state.apply(change);
 * }
 */
export class WorkingState {
  private live: InfraMap;
  private readonly collections: Record<Collection, Entries>;

  /** The state after the changes applied so far (`plainViews` and `sqlResources` absent while there are none). */
  get map(): InfraMap {
    const p = this.collections.plainViews;
    if ((this.live.plainViews !== undefined) !== (Object.keys(p).length > 0)) this.live = withPlainViews(this.live, p as Record<string, PlainView>);
    const r = this.collections.sqlResources;
    if ((this.live.sqlResources !== undefined) !== (Object.keys(r).length > 0)) this.live = withSqlResources(this.live, r as Record<string, SqlResource>);
    return this.live;
  }

  constructor(start: InfraMap) {
    const copy = (kind: Collection): Entries => ({ ...((start[kind] ?? {}) as Entries) });
    this.collections = {
      tables: copy("tables"),
      topics: copy("topics"),
      views: copy("views"),
      processes: copy("processes"),
      apis: copy("apis"),
      workflows: copy("workflows"),
      plainViews: copy("plainViews"),
      sqlResources: copy("sqlResources"),
    };
    const { plainViews: _p, sqlResources: _r, ...others } = this.collections;
    this.live = withSqlResources(
      withPlainViews({ ...start, ...others } as InfraMap, this.collections.plainViews as Record<string, PlainView>),
      this.collections.sqlResources as Record<string, SqlResource>,
    );
  }

  /** Applies one change; throws what `applyChange` throws, leaving the state as it was. */
  apply(change: Change): void {
    const named = entriesNamed(change);
    const part: Record<string, unknown> = { ...this.map };
    for (const kind of COMPONENT_KINDS) part[kind] = {};
    part.plainViews = {};
    part.sqlResources = {};
    for (const [kind, name] of named) {
      const from = this.collections[kind];
      if (hasOwn(from, name)) define(part[kind] as Entries, name, from[name]);
    }
    const after = applyChange(part as unknown as InfraMap, change);
    for (const [kind, name] of named) {
      const result = (after[kind] ?? {}) as Entries;
      if (hasOwn(result, name)) define(this.collections[kind], name, result[name]);
      else delete this.collections[kind][name];
    }
  }
}

const hasOwn = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key);

/** Sets an own member, in place when it exists (the key keeps its position); `__proto__` too, as a member. */
function define(record: Entries, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}

/**
 * Every entry `applyChange` may read or write for a change: each object the change
 * names in its own collection (a view's target table is not read). Naming more than it
 * uses is harmless; naming less would hide an entry from it.
 */
function entriesNamed(change: Change): Array<[Collection, string]> {
  return subjects(change)
    .filter((s) => s.role !== "target")
    .map((s) => [s.collection, s.name]);
}
