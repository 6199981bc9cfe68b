import { mkdirSync, writeFileSync } from "node:fs";
import { withDeclaredSecrets } from "../../engines/olap/integration-engines.js";
import { declaredDatabases } from "../../model/clickhouse-quote.js";
import { join, relative } from "node:path";
import type { LoadedConfig } from "../../config/config.js";
import { diff } from "../../diff/diff.js";
import type { OlapEngine } from "../../engines/olap/engine.js";
import { RefusedError } from "../../errors.js";
import type { ExtractedApp } from "../../extract/extract-app.js";
import type { Ledger } from "../../ledger/ledger.js";
import { checksumOf } from "../../ledger/checksum.js";
import {
  canonicalJson,
  emptyInfraMap,
  hashInfraMap,
  plainViewsOf,
  sqlResourcesOf,
  withPlainViews,
  withSqlResources,
  type InfraMap,
  type MaterializedView,
  type PlainView,
  type SqlResource,
  type Table,
} from "../../model/infra-map.js";
import { quoteString } from "../../model/clickhouse-quote.js";
import { sqlResourceRelations } from "../../model/sql-resource-facts.js";
import { readSqlResource } from "../../engines/olap/sql-resource-policy.js";
import { plan } from "../../plan/plan.js";
import { DRAFT_ID, readMigrations } from "../files/read.js";
import { renderMigration, slugify, timestampId } from "../files/render.js";

export interface BaselineOptions {
  readonly toolVersion: string;
  readonly name?: string;
  readonly now?: Date;
}

export interface BaselineResult {
  readonly id: string;
  readonly path: string;
  /** Declared objects found in the database, now recorded (`tables:Events`, `views:DailyTotals`). */
  readonly adopted: readonly string[];
  /** Of those, the ones whose live definition differs from the code: the baseline records them as they are, so the next `generate` shows the difference. */
  readonly differing: readonly string[];
  /** Declared objects the database does not have: the next `generate` creates them. */
  readonly missing: readonly string[];
  /** Objects in the database the code does not declare: left alone, not recorded. */
  readonly undeclared: readonly string[];
  /** The state the baseline records. */
  readonly state: InfraMap;
}

/**
 * `moose migrate baseline`: adopts a database that existed before moose managed it.
 * The tables and materialized views the code declares are read back from the database
 * (introspection), written as the first migration, `<timestamp>_baseline.ts`, and that
 * migration is recorded in the ledger as applied without running. Later migrations
 * replay from it, so `generate` then plans only the real differences.
 *
 * An object that matches the code (compared in ClickHouse's own spelling, `normalize`)
 * is recorded as the code declares it; one that differs is recorded as it is, so the next
 * migration changes it like any other. Topics, APIs, workflows and sync processes are not
 * read from the database: the next migration declares them.
 *
 * Refused (`BASELINE_NOT_FIRST`) when the project already has migrations or ledger records.
 */
export async function baselineDatabase(config: LoadedConfig, app: ExtractedApp, ledger: Ledger, olap: OlapEngine, options: BaselineOptions): Promise<BaselineResult> {
  const dir = config.paths.migrationsDir;
  const display = relative(config.projectDir, dir) || ".";
  const files = readMigrations(dir, display);
  const records = (await ledger.list()).filter((r) => r.id !== DRAFT_ID);
  if (files.length > 0 || records.length > 0) {
    throw new RefusedError("BASELINE_NOT_FIRST", `${display} already has ${files.length} migration file(s) and the ledger ${records.length} record(s); a baseline can only be the first migration`, {
      hint: "baseline a database once, before any migration: in a fresh checkout of the project, or after moving the migrations away",
    });
  }

  const live = await olap.introspect(declaredDatabases(Object.keys(app.map.tables)));
  const declared = app.map;
  const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  const tableNames = Object.keys(declared.tables).filter((n) => has(live.tables, n)).sort();
  // A view is adopted with the tables it needs: normalizing it creates it from them.
  const viewNames = Object.keys(declared.views)
    .filter((n) => has(live.views, n))
    .filter((n) => {
      const v = declared.views[n] as MaterializedView;
      return [...v.sourceTables, ...(v.inner ? [] : [v.targetTable])].every((t) => tableNames.includes(t));
    })
    .sort();
  // A plain view likewise, once what it reads is adopted (tables, and plain views before it).
  const declaredPlain = plainViewsOf(declared);
  const plainNames: string[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const n of Object.keys(declaredPlain).sort()) {
      if (plainNames.includes(n) || !has(live.plainViews, n)) continue;
      if ((declaredPlain[n] as PlainView).sourceTables.every((s) => tableNames.includes(s) || plainNames.includes(s))) {
        plainNames.push(n);
        grew = true;
      }
    }
  }
  plainNames.sort();
  const code = await olap.normalize({
    tables: Object.fromEntries(tableNames.map((n) => [n, declared.tables[n] as Table])),
    views: Object.fromEntries(viewNames.map((n) => [n, declared.views[n] as MaterializedView])),
    ...(plainNames.length > 0 ? { plainViews: Object.fromEntries(plainNames.map((n) => [n, declaredPlain[n] as PlainView])) } : {}),
  });

  const differing: string[] = [];
  const tables: Record<string, Table> = {};
  for (const name of tableNames) {
    const want = declared.tables[name] as Table;
    // What ClickHouse hides (credentials) or an old server shows in clear (a setting read from the environment) is the declaration's reference, never a value.
    const got = withDeclaredSecrets({ ...(live.tables[name] as Table), lifeCycle: want.lifeCycle }, want);
    const same = canonicalJson(withDeclaredSecrets({ ...(code.tables[name] as Table), lifeCycle: want.lifeCycle }, want)) === canonicalJson(got);
    tables[name] = same ? want : got;
    if (!same) differing.push(`tables:${name}`);
  }
  const views: Record<string, MaterializedView> = {};
  for (const name of viewNames) {
    const want = declared.views[name] as MaterializedView;
    const got = { ...(live.views[name] as MaterializedView), lifeCycle: want.lifeCycle };
    const same = canonicalJson({ ...code.views[name], lifeCycle: want.lifeCycle }) === canonicalJson(got);
    views[name] = same ? want : got;
    if (!same) differing.push(`views:${name}`);
  }
  const plainViews: Record<string, PlainView> = {};
  for (const name of plainNames) {
    const want = declaredPlain[name] as PlainView;
    const same = canonicalJson(code.plainViews[name]?.selectStatement) === canonicalJson(live.plainViews[name]?.selectStatement);
    plainViews[name] = same ? want : { ...(live.plainViews[name] as PlainView), sourceTables: want.sourceTables };
    if (!same) differing.push(`plainViews:${name}`);
  }
  // A SQL resource cannot be read back: it is adopted as declared when every object its setup
  // creates (read by ClickHouse's parser) is in the database.
  const resources: Record<string, SqlResource> = {};
  for (const r of Object.values(sqlResourcesOf(declared)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const facts = await readSqlResource(r, app.locations[`sqlResources:${r.name}`]);
    let all = facts.creates.length > 0;
    for (const c of facts.creates) {
      const rows =
        c.kind === "function"
          ? await olap.query(`SELECT name FROM system.functions WHERE name = ${quoteString(c.name)}`)
          : await olap.query(`SELECT name FROM system.tables WHERE database = ${c.database === undefined ? "currentDatabase()" : quoteString(c.database)} AND name = ${quoteString(c.name)}`);
      if (rows.length === 0) all = false;
    }
    if (all) resources[r.name] = r;
  }
  const resourceNames = Object.keys(resources).sort();
  const state: InfraMap = withSqlResources(withPlainViews({ ...emptyInfraMap(), tables, views }, plainViews), resources);

  const now = options.now ?? new Date();
  const id = `${timestampId(now)}_${slugify(options.name ?? "baseline") || "baseline"}`;
  const empty = emptyInfraMap();
  const text = renderMigration({
    id,
    plan: plan(diff(empty, state), { from: empty, to: state }),
    parent: hashInfraMap(empty),
    result: hashInfraMap(state),
    toolVersion: options.toolVersion,
    notes: [
      `Baseline: these objects existed in the database before moose managed them. This migration is recorded as applied without running; later migrations replay from it.`,
      ...(differing.length > 0 ? [`Recorded as the database has them, which differs from the code: ${differing.join(", ")}. The next \`moose migrate generate\` plans the difference.`] : []),
    ],
    irreversible: "a baseline adopts objects that existed before; rolling it back would drop them with their data.",
  });
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${id}.ts`);
  writeFileSync(path, text);
  const { checksum, algorithm } = checksumOf(text);
  await ledger.adopt({ id, fileName: `${id}.ts`, checksum, checksumAlgorithm: algorithm, parentHash: hashInfraMap(empty), resultHash: hashInfraMap(state), stepsTotal: tableNames.length + viewNames.length + plainNames.length + resourceNames.length });

  const adopted = [...tableNames.map((n) => `tables:${n}`), ...viewNames.map((n) => `views:${n}`), ...plainNames.map((n) => `plainViews:${n}`), ...resourceNames.map((n) => `sqlResources:${n}`)];
  const missing = [
    ...Object.keys(declared.tables).filter((n) => !tableNames.includes(n)).map((n) => `tables:${n}`),
    ...Object.keys(declared.views).filter((n) => !viewNames.includes(n)).map((n) => `views:${n}`),
    ...Object.keys(declaredPlain).filter((n) => !plainNames.includes(n)).map((n) => `plainViews:${n}`),
    ...Object.keys(sqlResourcesOf(declared)).filter((n) => !resourceNames.includes(n)).map((n) => `sqlResources:${n}`),
  ].sort();
  // What the declared SQL resources create is theirs, not undeclared.
  const theirs = sqlResourceRelations(declared);
  const undeclared = [
    ...Object.keys(live.tables).filter((n) => !has(declared.tables, n) && !theirs.has(n)).map((n) => `tables:${n}`),
    ...Object.keys(live.views).filter((n) => !has(declared.views, n) && !theirs.has(n)).map((n) => `views:${n}`),
    ...Object.keys(live.plainViews).filter((n) => !has(declaredPlain, n) && !theirs.has(n)).map((n) => `plainViews:${n}`),
  ].sort();
  return { id, path, adopted, differing, missing, undeclared, state };
}
