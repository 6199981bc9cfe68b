import { createHash } from "node:crypto";
import { EngineError, RefusedError } from "../../errors.js";
import type { InfraMap } from "../../model/infra-map.js";
import type { OlapEngine } from "./engine.js";
import { MOOSE_INTERNAL_PREFIX } from "./introspect.js";
import { parseStatement, type AstNode, type ParsedStatement } from "./parser.js";
import { qualifiedName, quoteIdentifier } from "../../model/clickhouse-quote.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/**
 * Writing rows exactly once, however often a run is killed.
 *
 * ClickHouse commits an `INSERT` block by block and has no transactions, so a run killed
 * inside one (or between it and the ledger's record of it) cannot tell by itself whether
 * the rows went in. A staged insert makes every moment of the write recognisable in the
 * database itself, so a later run resumes from what it sees:
 *
 * 1. the rows are written into a staging table made like the target
 *    (`_moose_stage_<key>`; dropped and written again if a run died while filling it);
 * 2. the full staging table is renamed `_moose_ready_<key>` — a rename is atomic, so
 *    "ready" means complete;
 * 3. its partitions are moved into the target one at a time:
 *    `ALTER TABLE ready MOVE PARTITION ID … TO TABLE target`, atomic per partition
 *    (a partition is in one table or the other, never both); where the server has no
 *    MOVE (before 20.1), `ATTACH PARTITION ID … FROM ready` then `DROP PARTITION` from it,
 *    with a marker table recording the target's highest block number in that partition
 *    first: after a kill between the two, a target partition with no block above the
 *    marker did not receive the rows (attach again); one with newer blocks is reported
 *    (`STEP_UNCERTAIN`) — that takes a kill inside one ALTER while something else
 *    writes to the same partition;
 * 4. the empty ready table stays as the step's "done" mark until the ledger records the
 *    step; the next run drops it ({@link dropStagedLeftovers}).
 *
 * Moving partitions does not run the target's materialized views, so an insert into a
 * table a view reads from, into a table with another engine, or with inline data
 * (`VALUES`, `FORMAT`) is written directly, behind a marker of the target's block numbers:
 * a resumed run that finds no newer block re-runs it, otherwise it reports the step
 * (`STEP_UNCERTAIN`) with the evidence instead of guessing.
 */

/** An insert as the executor runs it (plain data: it is shown by `--dry-run` and kept in the ledger). */
export interface InsertPlan {
  /** The table the rows end up in. */
  readonly table: string;
  /** Names this write's staging and marker tables; unique per migration, direction, step and effect. */
  readonly key: string;
  /** `staged`: the statement writes into the staging table; `direct`: the statement as written, behind a block marker. */
  readonly mode: "staged" | "direct";
  readonly sql: string;
  /** Why a write is direct (shown in `--dry-run`). */
  readonly why?: string;
  /** Refuse to start (nothing written) when the target already holds rows: a copy into a table that must be empty. */
  readonly requireEmpty?: string;
}

/** Staging tables of one write. */
export function stagingNames(key: string): { readonly stage: string; readonly ready: string; readonly mark: string } {
  return { stage: `${MOOSE_INTERNAL_PREFIX}stage_${key}`, ready: `${MOOSE_INTERNAL_PREFIX}ready_${key}`, mark: `${MOOSE_INTERNAL_PREFIX}mark_${key}` };
}

const STAGING_PREFIXES = ["stage_", "ready_", "mark_"].map((p) => MOOSE_INTERNAL_PREFIX + p);

/**
 * A write's key: the migration, the direction and the position of the write, hashed to a
 * short identifier (the same every time that write runs, so a resumed run finds its tables).
 */
export function insertKey(migrationId: string, direction: "up" | "down", step: number, effect: number): string {
  const h = createHash("sha256").update(migrationId).digest("hex").slice(0, 12);
  return `${h}_${direction === "up" ? "u" : "d"}${step}_${effect}`;
}

/**
 * How rows written to `table` are made exactly once: staged and moved in (a MergeTree
 * table no view reads); direct behind a block marker (a MergeTree table a view reads: only
 * an INSERT runs the view); or direct with no way to resume (`key` dropped: any other engine,
 * or a table moose does not manage, whose parts it cannot see).
 */
export function writeMode(table: string, state: Pick<InfraMap, "tables"> & Partial<Pick<InfraMap, "views">>): { readonly mode: "staged" } | { readonly mode: "direct"; readonly why: string; readonly marker: boolean } {
  const t = state.tables[table];
  if (t === undefined) return { mode: "direct", why: `${table} is not a table of this project`, marker: false };
  if (!/^(Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree$/.test(t.engine.kind)) return { mode: "direct", why: `${table} has engine ${t.engine.kind}, whose parts cannot be moved between tables`, marker: false };
  // A staging copy of a replicated table would share its keeper path; a cluster table's parts live on every host.
  if (t.engine.replicated !== undefined || t.engine.cluster !== undefined) return { mode: "direct", why: `${table} is replicated or on a cluster, where moose does not stage writes yet`, marker: false };
  const reader = Object.values(state.views ?? {}).find((v) => v.sourceTables.includes(table));
  if (reader !== undefined) return { mode: "direct", why: `materialized view ${reader.name} reads ${table}, and only a direct INSERT runs it`, marker: true };
  return { mode: "staged" };
}

function directPlan(table: string, sql: string, key: string | undefined, why: string, marker: boolean): InsertPlan {
  return { table, key: key !== undefined && marker ? key : "", mode: "direct", sql, why };
}

/**
 * A generated write: `select` produces the rows (its columns named by `columns`) for `table`.
 */
export function generatedInsert(
  table: string,
  columns: readonly string[],
  select: string,
  key: string | undefined,
  ctx: { readonly database: string; readonly state: Pick<InfraMap, "tables"> & Partial<Pick<InfraMap, "views">> },
  requireEmpty?: string,
): InsertPlan {
  const list = columns.length === 0 ? "" : ` (${columns.map(quoteIdentifier).join(", ")})`;
  const into = (name: string): string => `INSERT INTO ${qualifiedName(ctx.database, name)}${list}\n${select}`;
  const empty = requireEmpty ? { requireEmpty } : {};
  if (key === undefined) return { ...directPlan(table, into(table), key, "not run from a migration", false), ...empty };
  const mode = writeMode(table, ctx.state);
  if (mode.mode === "direct") return { ...directPlan(table, into(table), key, mode.why, mode.marker), ...empty };
  return { table, key, mode: "staged", sql: into(stagingNames(key).stage), ...empty };
}

/**
 * A hand-written statement as a write, or `undefined` when it is not an `INSERT` (it then
 * runs as it is). An `INSERT … SELECT` into a stageable table of the project's database is
 * rewritten to write into the staging table: the text is ClickHouse's own canonical
 * rendering with only the target's name changed, and the rewrite is kept only when
 * ClickHouse parses it to the same statement apart from that name.
 */
export async function handWrittenInsert(
  sql: string,
  key: string | undefined,
  ctx: { readonly database: string; readonly state: Pick<InfraMap, "tables"> & Partial<Pick<InfraMap, "views">> },
): Promise<InsertPlan | undefined> {
  const parsed = await parseStatement(sql, { what: "sql(…)" }).catch(() => undefined);
  if (parsed === undefined || parsed.kind !== "InsertQuery") return undefined;
  const target = insertTarget(parsed.ast);
  if (target === undefined || (target.database !== undefined && target.database !== ctx.database)) return undefined;
  if (key === undefined) return directPlan(target.table, sql, key, "not run from a migration", false);
  const mode = writeMode(target.table, ctx.state);
  if (mode.mode === "direct") return directPlan(target.table, sql, key, mode.why, mode.marker);
  const direct = (why: string): InsertPlan => directPlan(target.table, sql, key, why, true);
  if (!parsed.ast.children.some((c) => c.name === "SelectWithUnionQuery")) return direct("its rows are written inline (VALUES or FORMAT), so they cannot be redirected to a staging table");
  const rewritten = await redirected(parsed, target, qualifiedName(ctx.database, stagingNames(key).stage));
  if (rewritten === undefined) return direct("ClickHouse does not read it back unchanged with the staging table as its target");
  return { table: target.table, key, mode: "staged", sql: rewritten };
}

function insertTarget(ast: AstNode): { readonly database?: string; readonly table: string } | undefined {
  const names = ast.children.filter((c) => c.name === "Identifier");
  const first = names[0];
  if (first === undefined || ast.children[0]?.name !== "Identifier") return undefined;
  // `InsertQuery` lists the database and the table as two leading identifiers when qualified.
  if (ast.children[1]?.name === "Identifier") return { database: first.detail, table: ast.children[1].detail };
  return { table: first.detail };
}

async function redirected(parsed: ParsedStatement, target: { readonly database?: string; readonly table: string }, staging: string): Promise<string | undefined> {
  // ClickHouse's own spelling of the target's name, read from its rendering of a probe.
  const named = target.database === undefined ? quoteIdentifier(target.table) : qualifiedName(target.database, target.table);
  const probe = (await parseStatement(`INSERT INTO ${named} SELECT 1`, { what: "probe" })).formatted.trim();
  const suffix = " SELECT 1";
  if (!probe.endsWith(suffix)) return undefined;
  const prefix = probe.slice(0, -suffix.length);
  const formatted = parsed.formatted.trim();
  if (!formatted.startsWith(`${prefix} `)) return undefined;
  const candidate = `INSERT INTO ${staging}${formatted.slice(prefix.length)}`;
  const again = await parseStatement(candidate, { what: "staged insert" }).catch(() => undefined);
  if (again === undefined || !sameTree(withoutTarget(again.ast), withoutTarget(parsed.ast))) return undefined;
  return candidate;
}

function withoutTarget(ast: AstNode): AstNode {
  let skip = 0;
  while (ast.children[skip]?.name === "Identifier" && skip < 2) skip++;
  return { ...ast, detail: "", children: ast.children.slice(skip) };
}

function sameTree(a: AstNode, b: AstNode): boolean {
  return a.name === b.name && a.detail === b.detail && a.children.length === b.children.length && a.children.every((c, i) => sameTree(c, b.children[i] as AstNode));
}

/** How the write reads in the ledger and `--dry-run`. */
export function insertText(plan: InsertPlan): string {
  if (plan.mode === "staged") {
    return `-- exactly once: written to ${stagingNames(plan.key).stage}, then moved into ${plan.table} partition by partition\n${plan.sql}`;
  }
  return `-- direct write (${plan.why ?? "not staged"})\n${plan.sql}`;
}

/**
 * Carries out a write, resuming from what a previous run of the same write left (see the
 * module comment): calling it again after a kill at any point finishes the write with
 * every row in the target once, or throws `STEP_UNCERTAIN` naming what it found.
 */
export async function runInsert(plan: InsertPlan, olap: OlapEngine): Promise<void> {
  const db = olap.database;
  const target = qualifiedName(db, plan.table);
  if (plan.mode === "direct") {
    if (plan.key === "") {
      await requireEmpty(plan, olap);
      await olap.execute(plan.sql);
      return;
    }
    const { mark } = stagingNames(plan.key);
    if (await exists(olap, mark)) {
      await refuseUncertain(plan, olap);
      await olap.execute(`DROP TABLE ${qualifiedName(db, mark)}`);
    }
    await requireEmpty(plan, olap);
    await olap.execute(`CREATE TABLE ${qualifiedName(db, mark)} ENGINE = Log AS ${blockQuery(db, plan.table)}`);
    await olap.execute(plan.sql);
    return;
  }
  const { stage, ready, mark } = stagingNames(plan.key);
  if (!(await exists(olap, ready))) {
    await olap.execute(`DROP TABLE IF EXISTS ${qualifiedName(db, stage)}`);
    await requireEmpty(plan, olap);
    await olap.execute(`CREATE TABLE ${qualifiedName(db, stage)} AS ${target}`);
    await olap.execute(plan.sql);
    await olap.execute(`RENAME TABLE ${qualifiedName(db, stage)} TO ${qualifiedName(db, ready)}`);
  }
  const caps = await olap.capabilities();
  const readyName = qualifiedName(db, ready);
  if (caps.movePartitionToTable) {
    for (const p of await partitions(olap, ready)) await olap.execute(`ALTER TABLE ${readyName} MOVE PARTITION ID ${quoteString(p)} TO TABLE ${target}`);
    return;
  }
  const markName = qualifiedName(db, mark);
  const interrupted = await attachState(olap, plan.table, ready, mark);
  if (interrupted.kind === "uncertain") await refuseUncertain(plan, olap);
  // A run died between marking a partition and dropping it from the ready table.
  if (interrupted.kind === "not-attached") await attach(olap, plan.table, ready, interrupted.partition);
  if (interrupted.kind === "attached") await olap.execute(`ALTER TABLE ${readyName} DROP PARTITION ID ${quoteString(interrupted.partition)}`);
  await olap.execute(`DROP TABLE IF EXISTS ${markName}`);
  for (const p of await partitions(olap, ready)) {
    await olap.execute(`CREATE TABLE ${markName} ENGINE = Log AS SELECT ${quoteString(p)} AS partition_id, toUInt64(${await maxBlock(olap, plan.table, p)}) AS max_block`);
    await attach(olap, plan.table, ready, p);
    await olap.execute(`DROP TABLE ${markName}`);
  }
}

/**
 * What a resumed write cannot decide by itself, or `undefined`: a direct write with rows
 * newer than its marker; a partition attach interrupted while the target received new
 * parts in that partition. Reads only.
 */
export async function uncertainty(plan: InsertPlan, olap: OlapEngine): Promise<{ readonly message: string; readonly hint: string } | undefined> {
  if (plan.key === "") return undefined;
  const db = olap.database;
  const { ready, mark } = stagingNames(plan.key);
  if (!(await exists(olap, mark))) return undefined;
  if (plan.mode === "direct") {
    const newer = await blocksSince(olap, plan.table, mark);
    if (newer === 0) return undefined;
    return {
      message: `its write into ${plan.table} stopped, and ${newer} row(s) have been written to ${plan.table} since it started (by it or by another writer); moose cannot tell which`,
      hint: `check ${plan.table}: if the rows are there, record the migration with \`moose migrate resolve --applied\`; otherwise drop table ${mark} and run deploy again`,
    };
  }
  const state = await attachState(olap, plan.table, ready, mark);
  if (state.kind !== "uncertain") return undefined;
  return {
    message: `it stopped while attaching partition ${state.partition} of ${ready} to ${plan.table}, and ${plan.table} has received other new parts in that partition since; moose cannot tell whether they hold these rows`,
    hint: `compare ${ready} with ${plan.table}: if the rows are in ${plan.table}, run ALTER TABLE ${qualifiedName(db, ready)} DROP PARTITION ID ${quoteString(state.partition)}; then drop ${mark} and run deploy again`,
  };
}

type AttachState =
  | { readonly kind: "none" }
  | { readonly kind: "not-attached" | "attached" | "uncertain"; readonly partition: string };

interface PartSignature {
  readonly rows: string | number;
  readonly data_compressed_bytes: string | number;
  readonly data_uncompressed_bytes: string | number;
}

/**
 * Where an interrupted attach of one partition stands (the marker names it and the
 * target's highest block number before): no part of the target's partition newer than the
 * marker — not attached; newer parts that are exactly the ready partition's parts (an
 * attach hard-links them: same rows, same bytes) — attached; anything else — uncertain.
 */
async function attachState(olap: OlapEngine, table: string, ready: string, mark: string): Promise<AttachState> {
  const db = olap.database;
  if (!(await exists(olap, mark)) || !(await exists(olap, ready))) return { kind: "none" };
  const [row] = await olap.query<{ partition_id: string; max_block: string | number }>(`SELECT partition_id, max_block FROM ${qualifiedName(db, mark)}`);
  if (row === undefined || !(await partitions(olap, ready)).includes(row.partition_id)) return { kind: "none" };
  const partition = row.partition_id;
  const signatures = async (t: string, newerThan?: number): Promise<string[]> =>
    (
      await olap.query<PartSignature>(
        `SELECT rows, data_compressed_bytes, data_uncompressed_bytes FROM system.parts WHERE database = ${quoteString(db)} AND table = ${quoteString(t)} AND active AND partition_id = ${quoteString(partition)}${newerThan === undefined ? "" : ` AND max_block_number > ${newerThan}`}`,
      )
    )
      .map((p) => `${p.rows}/${p.data_compressed_bytes}/${p.data_uncompressed_bytes}`)
      .sort();
  const newer = await signatures(table, Number(row.max_block));
  if (newer.length === 0) return { kind: "not-attached", partition };
  const staged = await signatures(ready);
  return { kind: newer.join(",") === staged.join(",") ? "attached" : "uncertain", partition };
}

async function refuseUncertain(plan: InsertPlan, olap: OlapEngine): Promise<void> {
  const found = await uncertainty(plan, olap);
  if (found) throw new RefusedError("STEP_UNCERTAIN", `a run of this write stopped: ${found.message}; nothing was run again`, { hint: found.hint });
}

async function attach(olap: OlapEngine, table: string, ready: string, partition: string): Promise<void> {
  const db = olap.database;
  await olap.execute(`ALTER TABLE ${qualifiedName(db, table)} ATTACH PARTITION ID ${quoteString(partition)} FROM ${qualifiedName(db, ready)}`);
  await olap.execute(`ALTER TABLE ${qualifiedName(db, ready)} DROP PARTITION ID ${quoteString(partition)}`);
}

async function requireEmpty(plan: InsertPlan, olap: OlapEngine): Promise<void> {
  if (plan.requireEmpty === undefined) return;
  const [row] = await olap.query<{ n: string | number }>(`SELECT count() AS n FROM ${qualifiedName(olap.database, plan.table)}`);
  const n = Number(row?.n ?? 0);
  if (n > 0) throw new RefusedError("CHECK_FAILED", `${plan.requireEmpty}: ${plan.table} already holds ${n} rows`);
}

async function exists(olap: OlapEngine, name: string): Promise<boolean> {
  const rows = await olap.query(`SELECT name FROM system.tables WHERE database = ${quoteString(olap.database)} AND name = ${quoteString(name)}`);
  return rows.length > 0;
}

async function partitions(olap: OlapEngine, table: string): Promise<string[]> {
  const rows = await olap.query<{ partition_id: string }>(
    `SELECT DISTINCT partition_id FROM system.parts WHERE database = ${quoteString(olap.database)} AND table = ${quoteString(table)} AND active ORDER BY partition_id`,
  );
  return rows.map((r) => String(r.partition_id));
}

async function maxBlock(olap: OlapEngine, table: string, partition: string): Promise<number> {
  const [row] = await olap.query<{ b: string | number }>(
    `SELECT max(max_block_number) AS b FROM system.parts WHERE database = ${quoteString(olap.database)} AND table = ${quoteString(table)} AND active AND partition_id = ${quoteString(partition)}`,
  );
  return Number(row?.b ?? 0);
}

/** The target's highest block number per partition (what a direct write's marker keeps). */
function blockQuery(database: string, table: string): string {
  return `SELECT partition_id, max(max_block_number) AS max_block FROM system.parts WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND active GROUP BY partition_id`;
}

/** Rows in parts of `table` newer than the marker (in a partition the marker knows, above its block; or in a new partition). */
async function blocksSince(olap: OlapEngine, table: string, mark: string): Promise<number> {
  const db = olap.database;
  const marked = new Map((await olap.query<{ partition_id: string; max_block: string | number }>(`SELECT partition_id, max_block FROM ${qualifiedName(db, mark)}`)).map((r) => [String(r.partition_id), Number(r.max_block)]));
  const parts = await olap.query<{ partition_id: string; max_block_number: string | number; rows: string | number }>(
    `SELECT partition_id, max_block_number, rows FROM system.parts WHERE database = ${quoteString(db)} AND table = ${quoteString(table)} AND active`,
  );
  return parts.filter((p) => Number(p.max_block_number) > (marked.get(String(p.partition_id)) ?? -1)).reduce((n, p) => n + Number(p.rows), 0);
}

/**
 * Drops the staging, ready and marker tables that no interrupted write needs: every one
 * whose key is not in `keep` (the keys of the step a dead run was on). Runs under the lock.
 */
export async function dropStagedLeftovers(olap: OlapEngine, keep: ReadonlySet<string>): Promise<string[]> {
  const like = STAGING_PREFIXES.map((p) => `startsWith(name, ${quoteString(p)})`).join(" OR ");
  const rows = await olap.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = ${quoteString(olap.database)} AND (${like})`);
  const dropped: string[] = [];
  for (const { name } of rows) {
    const prefix = STAGING_PREFIXES.find((p) => name.startsWith(p)) as string;
    if (keep.has(name.slice(prefix.length))) continue;
    await olap.execute(`DROP TABLE IF EXISTS ${qualifiedName(olap.database, name)}`);
    dropped.push(name);
  }
  return dropped;
}

/** How long a step waits for a table's mutations on a server without `mutations_sync`. */
const MUTATION_WAIT_MS = 30 * 60_000;

/** Waits until ClickHouse has finished `table`'s mutations (for servers without `mutations_sync`); `MUTATION_TIMEOUT` after 30 minutes. */
export async function mutationsDone(olap: OlapEngine, table: string): Promise<void> {
  const deadline = Date.now() + MUTATION_WAIT_MS;
  for (let pause = 20; ; pause = Math.min(pause * 2, 1000)) {
    const [row] = await olap.query<{ n: string | number; parts: string | number }>(
      `SELECT count() AS n, sum(parts_to_do) AS parts FROM system.mutations WHERE database = currentDatabase() AND table = ${quoteString(table)} AND is_done = 0`,
    );
    if (Number(row?.n ?? 0) === 0) return;
    if (Date.now() > deadline) {
      throw new EngineError("MUTATION_TIMEOUT", `the mutations of ${table} are not done after ${MUTATION_WAIT_MS / 60_000} minutes (${Number(row?.parts ?? 0)} parts to do)`, {
        hint: `watch SELECT * FROM system.mutations WHERE table = '${table}' AND NOT is_done; run deploy again once they finish (the step runs again: its UPDATE writes the same values)`,
      });
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}
