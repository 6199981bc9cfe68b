import type { SqlResource } from "../../../model/infra-map.js";
import { objectLabel, sqlResourceFacts } from "../../../model/sql-resource-facts.js";
import { type SqlContext, unsupported } from "./context.js";

/**
 * A SQL resource's statements run as written, one by one: unqualified names resolve in the
 * connection's current database, which both engines set to the managed database. What they
 * create and drop was read by ClickHouse's parser before (sql-resource-policy.ts); where the
 * target's version lacks a statement kind, the step is refused naming the version instead of
 * failing half-way.
 *
 * @example setupStatements({ name: "R", setup: ["CREATE VIEW v AS SELECT 1"], teardown: ["DROP VIEW v"], pullsDataFrom: [], pushesDataTo: [] }, ctx)
 * // ["CREATE VIEW v AS SELECT 1"]
 */
export function setupStatements(resource: SqlResource, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  for (const c of sqlResourceFacts(resource)?.creates ?? []) {
    if (c.kind === "function" && !caps.sqlUserFunctions) {
      throw unsupported(caps, `run the setup of SqlResource ${resource.name} (it creates function ${c.name})`, "CREATE FUNCTION (ClickHouse 21.10+)", "upgrade the server, or write the expression where it is used");
    }
    if (c.kind === "dictionary" && !caps.dictionaryDdl) {
      throw unsupported(caps, `run the setup of SqlResource ${resource.name} (it creates dictionary ${objectLabel(c)})`, "CREATE DICTIONARY (ClickHouse 19.17+)", "declare the dictionary in the server's configuration files, or upgrade the server");
    }
  }
  return resource.setup.map((s) => s.trim().replace(/;\s*$/, ""));
}

export function teardownStatements(resource: SqlResource, ctx: SqlContext): string[] {
  const caps = ctx.capabilities;
  for (const d of sqlResourceFacts(resource)?.drops ?? []) {
    if (d.kind === "view" && !caps.dropView) {
      throw unsupported(caps, `run the teardown of SqlResource ${resource.name} (DROP VIEW ${objectLabel(d)})`, "DROP VIEW (ClickHouse 20.8+)", `write \`DROP TABLE ${objectLabel(d)}\`, which drops a view on every version`);
    }
    if (d.kind === "function" && !caps.sqlUserFunctions) {
      throw unsupported(caps, `run the teardown of SqlResource ${resource.name} (DROP FUNCTION ${d.name})`, "DROP FUNCTION (ClickHouse 21.10+)", "upgrade the server");
    }
    if (d.kind === "dictionary" && !caps.dictionaryDdl) {
      throw unsupported(caps, `run the teardown of SqlResource ${resource.name} (DROP DICTIONARY ${objectLabel(d)})`, "DROP DICTIONARY (ClickHouse 19.17+)", "upgrade the server");
    }
  }
  return resource.teardown.map((s) => s.trim().replace(/;\s*$/, ""));
}

/**
 * The old definition's teardown, then the new setup. Only the declared dependencies (or the
 * teardown alone) changed: nothing runs, the state records the new declaration.
 */
export function modifyStatements(before: SqlResource, after: SqlResource, ctx: SqlContext): string[] {
  if (JSON.stringify(before.setup) === JSON.stringify(after.setup)) return [];
  return [...teardownStatements(before, ctx), ...setupStatements(after, ctx)];
}
