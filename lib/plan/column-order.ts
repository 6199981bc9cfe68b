import { knownEqualEntries, type Column, type InfraMap } from "../model/infra-map.js";

/** Renames the plan applies (table and column renames), so a renamed column keeps its place. */
export interface OrderRenames {
  readonly tables: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  readonly columns: ReadonlyArray<{ readonly table: string; readonly from: string; readonly to: string }>;
}

/**
 * `desired` with the columns of every table, topic and API that `current` already has
 * kept in `current`'s order; new columns go right after the column they follow in the
 * declaration (first when they come first). Column order alone is not worth a migration:
 * the order of an existing table changes only when the user asks (`migrate generate
 * --reorder-columns`), so a declaration whose order moved (moose-lib's `extends` order,
 * which moose-migrate follows since it creates tables as Moose does) plans nothing.
 * Objects whose common columns are already in order are returned as they are.
 *
 * @example
 * keepColumnOrder(code /* Users: name, id, email *\/, state /* Users: id, name *\/, none)
 * // Users: id, name, email
 */
export function keepColumnOrder(desired: InfraMap, current: InfraMap, renames: OrderRenames = { tables: [], columns: [] }): InfraMap {
  const oldTableName = new Map(renames.tables.map((r) => [r.to, r.from]));
  const has = (record: object, key: string) => Object.prototype.hasOwnProperty.call(record, key);
  const reorder = <T extends { readonly name: string; readonly columns: readonly Column[] }>(objects: Readonly<Record<string, T>>, before: Readonly<Record<string, T>>, table: boolean): Readonly<Record<string, T>> => {
    let out: Record<string, T> | undefined;
    for (const [name, object] of Object.entries(objects)) {
      const oldName = table ? (oldTableName.get(name) ?? name) : name;
      const previous = has(before, oldName) ? before[oldName] : undefined;
      // Equal entries (known when both maps were hashed keeping their texts) are in the same order.
      if (previous === undefined || (oldName === name && knownEqualEntries(name, previous, object) === true)) continue;
      const oldColumn = new Map(table ? renames.columns.filter((r) => r.table === name || r.table === oldName).map((r) => [r.to, r.from]) : []);
      const columns = keptOrder(object.columns, previous.columns.map((c) => c.name), (n) => oldColumn.get(n) ?? n);
      if (columns === object.columns) continue;
      out ??= { ...objects };
      out[name] = { ...object, columns };
    }
    return out ?? objects;
  };
  const tables = reorder(desired.tables, current.tables, true);
  const topics = reorder(desired.topics, current.topics, false);
  const apis = reorder(desired.apis, current.apis, false);
  return tables === desired.tables && topics === desired.topics && apis === desired.apis ? desired : { ...desired, tables, topics, apis };
}

function keptOrder(declared: readonly Column[], existing: readonly string[], previousName: (name: string) => string): readonly Column[] {
  const position = new Map(existing.map((n, i) => [n, i]));
  const common = declared.filter((c) => position.has(previousName(c.name)));
  const inOrder = common.every((c, i) => i === 0 || (position.get(previousName(c.name)) as number) > (position.get(previousName((common[i - 1] as Column).name)) as number));
  if (inOrder) return declared;
  const out = [...common].sort((a, b) => (position.get(previousName(a.name)) as number) - (position.get(previousName(b.name)) as number));
  declared.forEach((c, i) => {
    if (position.has(previousName(c.name))) return;
    const predecessor = i === 0 ? undefined : (declared[i - 1] as Column).name;
    const at = predecessor === undefined ? 0 : out.findIndex((o) => o.name === predecessor) + 1;
    out.splice(at, 0, c);
  });
  return out;
}
