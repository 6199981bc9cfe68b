import type { PlainView, TableEngine } from "../../model/infra-map.js";
import { tableParts } from "../../model/clickhouse-quote.js";
import { capabilitiesFor, type OlapCapabilities } from "./capabilities.js";
import { introspectDatabase, mergeIntrospections, qualifyIntrospection, type OlapIntrospection } from "./introspect.js";
import { statementsFor } from "./sql/index.js";
import { EngineError, InvalidInputError, RefusedError } from "../../errors.js";
import { checkDistributedAnswer, clusterFailure, hostName, readReplication, replicationArguments, statementCluster, type ClusterHost } from "./cluster.js";
import { tokenize } from "./sql-text.js";
import { assertSingleStatement } from "./parser.js";
import { relativeTo } from "./integration-engines.js";
import type { ConnectionFactory, OlapConnection, OlapEngine, OlapObjects, RawQueryOptions, WriteProgress } from "./engine.js";
import { quoteIdentifier } from "../../model/clickhouse-quote.js";
import { quoteString } from "../../model/clickhouse-quote.js";

/** ClickHouse's own failure of a raw text: `message` is its `Code: N. DB::Exception: … (NAME)` text, unchanged. */
export class RawQueryError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "RawQueryError";
  }
}

/**
 * `read` (a scratch table created without replication) with the declared replication put
 * back as introspection reads it from the real table: arguments written out as
 * `replicationArguments` writes them, then read back by `readReplication`. The cluster is
 * not stored by ClickHouse and is left out, as introspection leaves it out.
 */
function storedReplication(read: TableEngine, declared: TableEngine | undefined, database: string, table: string, caps: OlapCapabilities): TableEngine {
  // The embedded engine creates a Replicated table without replication (engineClause): stored as read.
  if (declared?.replicated === undefined || caps.host === "embedded") return read;
  const [path, replica] = replicationArguments(declared.replicated, { database, table, what: `table ${table}`, capabilities: { ...caps, replication: true, uuidMacro: true } });
  const unquote = (literal: string | undefined): string => tokenize(literal ?? "")[0]?.value ?? "";
  return { ...read, replicated: readReplication(unquote(path), unquote(replica), database, table) };
}

export class ClickHouseEngine implements OlapEngine {
  private caps: Promise<OlapCapabilities> | undefined;
  private reader: Promise<OlapConnection> | undefined;
  private closed = false;

  private constructor(
    readonly kind: "embedded" | "server",
    readonly database: string,
    private readonly connection: OlapConnection & { readonly version: string },
    private readonly connect: ConnectionFactory,
  ) {}

  static async open(kind: "embedded" | "server", database: string, connect: ConnectionFactory): Promise<OlapEngine> {
    return new ClickHouseEngine(kind, database, await connect(database), connect);
  }

  get rawQuery(): ((text: string, options: RawQueryOptions) => Promise<string>) | undefined {
    if (this.connection.raw === undefined) return undefined;
    return async (text, options) => {
      const { readOnly, database = this.database, ...rest } = options;
      let conn: OlapConnection = this.connection;
      if (readOnly) {
        this.reader ??= this.connect(this.database, { readOnly: true });
        conn = await this.reader;
      }
      return conn.raw!(text, { ...rest, database, home: this.database });
    };
  }

  async version(): Promise<string> {
    return this.connection.version;
  }

  capabilities(): Promise<OlapCapabilities> {
    this.caps ??= this.readCapabilities();
    return this.caps;
  }

  private async readCapabilities(): Promise<OlapCapabilities> {
    const conn = this.connection;
    const [dbRow] = await conn.query(`SELECT engine FROM system.databases WHERE name = ${quoteString(this.database)}`);
    const hasReadonly = (await conn.query("SELECT name FROM system.columns WHERE database = 'system' AND table = 'merge_tree_settings' AND name = 'readonly'")).length > 0;
    const readonlySettings = hasReadonly
      ? (await conn.query("SELECT name FROM system.merge_tree_settings WHERE readonly = 1")).map((r) => String(r.name))
      : undefined;
    // Without ZooKeeper/Keeper the server refuses to read system.zookeeper; chDB has none either.
    const zooKeeper = this.kind === "server" && (await conn.query("SELECT count() AS n FROM system.zookeeper WHERE path = '/'").then(() => true, () => false));
    return capabilitiesFor(conn.version, {
      ...(dbRow === undefined ? {} : { databaseEngine: String(dbRow.engine) }),
      ...(readonlySettings === undefined ? {} : { readonlySettings }),
      server: this.kind === "server",
      embedded: this.kind === "embedded",
      zooKeeper,
    });
  }

  get writeProgress(): (() => Promise<WriteProgress | undefined>) | undefined {
    const connection = this.connection;
    return connection.writeProgress ? () => connection.writeProgress!() : undefined;
  }

  async execute(sql: string): Promise<void> {
    await assertSingleStatement(sql, { what: "the statement" });
    const cluster = statementCluster(sql);
    if (cluster === undefined || !this.connection.executeOnCluster) return this.connection.execute(sql);
    await this.executeOnCluster(sql, cluster, this.connection.executeOnCluster.bind(this.connection));
  }

  /**
   * An ON CLUSTER statement is done only when every host of the cluster reports success
   * (the HTTP answer is a row per host: host, port, status, error, …); a host that failed,
   * did not report, or did not finish within `distributed_ddl_task_timeout` is named.
   */
  private async executeOnCluster(sql: string, cluster: string, run: (sql: string) => Promise<Array<Record<string, unknown>>>): Promise<void> {
    const hosts = await this.clusterHosts(cluster);
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await run(sql);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const host = /There was an error on \[([^\]]+)\]: (?:Code: \d+, e\.displayText\(\) = )?(?:DB::Exception: )?([^\n]*?)(?:, e\.what\(\)|$)/.exec(message);
      if (host) throw clusterFailure(cluster, sql, [`${host[1]}: ${host[2]}`], "OLAP_CLUSTER_HOST_FAILED", error);
      const task = /Watching task (\S+) is executing longer than/.exec(message);
      if (task) throw clusterFailure(cluster, sql, await this.unfinishedHosts(task[1] as string, hosts), "OLAP_CLUSTER_TIMEOUT", error);
      throw error;
    }
    checkDistributedAnswer(rows, hosts, cluster, sql);
  }

  private async clusterHosts(cluster: string): Promise<ClusterHost[]> {
    const rows = await this.connection.query(`SELECT host_address, port FROM system.clusters WHERE cluster = ${quoteString(cluster)} ORDER BY shard_num, replica_num`);
    if (rows.length === 0) {
      const known = (await this.connection.query("SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster")).map((r) => String(r.cluster));
      throw new InvalidInputError("CLUSTER_UNKNOWN", `the ClickHouse server ${this.connection.url ?? "moose is connected to"} has no cluster ${cluster} (system.clusters, from <remote_servers> in its config; it has ${known.length === 0 ? "none" : known.join(", ")})`, {
        hint: `add ${cluster} to <remote_servers> on every host of the cluster, or name a cluster the server defines in the table's cluster and in [[clickhouse_config.clusters]]`,
      });
    }
    return rows.map((r) => ({ host: String(r.host_address), port: Number(r.port) }));
  }

  /**
   * The hosts whose `finished` entry the DDL task in ZooKeeper lacks, and those whose entry
   * reports an error (its value is `<code>\n<message>`; `0` is success): a host that answered
   * with an error is named with it, not hidden behind the one that timed out.
   */
  private async unfinishedHosts(task: string, hosts: readonly ClusterHost[]): Promise<string[]> {
    const rows = await this.connection.query(`SELECT name, value FROM system.zookeeper WHERE path = ${quoteString(`${task}/finished`)}`).catch(() => [] as Array<Record<string, unknown>>);
    const done = new Set(rows.map((r) => decodeURIComponent(String(r.name))));
    const failed = rows
      .filter((r) => !/^0(\n|$)/.test(String(r.value)))
      .map((r) => {
        const text = String(r.value).split("\n").slice(1).join(" ");
        const said = /DB::Exception: (.*?)(?:, e\.what\(\)|$)/.exec(text)?.[1] ?? text;
        return `${decodeURIComponent(String(r.name))}: ${said}`;
      });
    const left = hosts.map(hostName).filter((h) => !done.has(h));
    return [...failed, ...(left.length > 0 || failed.length > 0 ? left : hosts.map(hostName)).map((h) => `${h} (task ${task})`)];
  }

  async query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    await assertSingleStatement(sql, { what: "the query" });
    await this.checkParams(params);
    return (await this.connection.query(sql, params)) as T[];
  }

  private async checkParams(params: Record<string, unknown> | undefined): Promise<void> {
    if (params !== undefined && Object.keys(params).length > 0 && !(await this.capabilities()).queryParameters) {
      throw new RefusedError("UNSUPPORTED_BY_SERVER", `cannot bind query parameters ${Object.keys(params).join(", ")}: ClickHouse ${this.connection.version} has no query parameters ({name:Type}, ClickHouse 19.11+)`, {
        hint: "put the values into the SQL as quoted literals, or upgrade the server",
      });
    }
  }

  async readOnlyQuery<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]> {
    await assertSingleStatement(sql, { what: "the query" });
    await this.checkParams(params);
    try {
      if (this.connection.readOnlyQuery) return (await this.connection.readOnlyQuery(sql, params)) as T[];
      this.reader ??= this.connect(this.database, { readOnly: true });
      return (await (await this.reader).query(sql, params)) as T[];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof EngineError && /\bCode: 164\b|\(READONLY\)|in readonly mode/i.test(message)) {
        const said = (message.split("DB::Exception: ").at(-1) ?? message).replace(/^default: /, "").replace(/\s*\(READONLY\).*$/s, "").replace(/, e\.what\(\).*$/s, "");
        throw new RefusedError("OLAP_READ_ONLY", `ClickHouse refused it in read-only mode: ${said.split("\n")[0]}`, {
          cause: error,
          hint: "only reads of the database's tables run read-only; table functions (file, url, s3, remote, …), settings and writes do not",
        });
      }
      throw error;
    }
  }

  async insertJsonRows(table: string, rows: ReadonlyArray<Readonly<Record<string, unknown>>>): Promise<void> {
    if (rows.length > 0) await this.connection.insertJsonRows(table, rows);
  }

  async replicaColumns(cluster: string, tables: readonly string[]): Promise<ReadonlyMap<string, ReadonlyMap<string, readonly string[]> | Error>> {
    const out = new Map<string, ReadonlyMap<string, readonly string[]> | Error>();
    if (tables.length === 0) return out;
    const hosts = await this.clusterHosts(cluster);
    // A model name may carry its database (`analytics.Events`): hosts are asked by (database, table).
    const list = tables.map((t) => tableParts(this.database, t)).map((p) => `(${quoteString(p.database)}, ${quoteString(p.table)})`).join(", ");
    const modelName = (database: string, table: string): string => (database === this.database ? table : `${database}.${table}`);
    // Every host, this one included: system.clusters' is_local cannot tell two servers on one address apart.
    for (const h of hosts) {
      const remote = (table: string) => `remote(${quoteString(hostName(h))}, system.${table})`;
      try {
        const names = await this.connection.query(`SELECT database, name FROM ${remote("tables")} WHERE (database, name) IN (${list})`);
        const cols = await this.connection.query(`SELECT database, table, name, type FROM ${remote("columns")} WHERE (database, table) IN (${list})`);
        const byTable = new Map<string, string[]>(names.map((r) => [modelName(String(r.database), String(r.name)), []]));
        for (const c of cols) byTable.get(modelName(String(c.database), String(c.table)))?.push(`${String(c.name)} ${String(c.type)}`);
        out.set(hostName(h), byTable);
      } catch (error) {
        out.set(hostName(h), error instanceof Error ? error : new Error(String(error)));
      }
    }
    return out;
  }

  async introspect(databases: readonly string[] = []): Promise<OlapIntrospection> {
    const caps = await this.capabilities();
    const run = (sql: string) => this.connection.query(sql);
    const own = await introspectDatabase(run, this.database, caps);
    const others = [...new Set([...this.otherDatabases, ...databases])].filter((d) => d !== this.database).sort();
    if (others.length === 0) return own;
    const existing = new Set((await run(`SELECT name FROM system.databases WHERE name IN (${others.map(quoteString).join(", ")})`)).map((r) => String(r.name)));
    const parts = [own];
    for (const db of others) if (existing.has(db)) parts.push(qualifyIntrospection(await introspectDatabase(run, db, caps), db));
    return mergeIntrospections(parts);
  }

  /** Databases besides the managed one whose tables are the project's (Moose's `additional_databases`). */
  otherDatabases: readonly string[] = [];

  async normalize(objects: OlapObjects): Promise<OlapIntrospection> {
    const capabilities = await this.capabilities();
    const scratch = `_moose_normalize_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    // A table of another database (`analytics.Events`) goes to a scratch database of its own
    // (created with the table), so same-named tables of two databases do not meet there either.
    const others = [...new Set(Object.keys(objects.tables).map((n) => tableParts(this.database, n).database))].filter((d) => d !== this.database).sort();
    const scratchOf = new Map(others.map((d, i) => [d, `${scratch}_${i}`]));
    const conn = await this.connect(scratch);
    try {
      // The scratch copy is only read back, and ClickHouse shows no secret: a stand-in value does.
      const ctx = { database: scratch, capabilities, runtimeEnv: () => "'moose-normalize'" };
      const run = async (sql: string) => {
        await assertSingleStatement(sql, { what: "the statement" });
        await conn.execute(sql);
      };
      // A scratch copy of a Replicated table would join the real one's replicas (same keeper
      // path), and ON CLUSTER would reach the other hosts: the copy is made as the plain
      // engine on this server, and the replication put back as the server would store it.
      for (const table of Object.values(objects.tables)) {
        // A Buffer or Merge naming the managed database means the scratch one here (as it reads back from the real one).
        const { replicated: _r, cluster: _c, ...engine } = relativeTo(table.engine, this.database);
        const parts = tableParts(this.database, table.name);
        const name = parts.database === this.database ? table.name : `${scratchOf.get(parts.database)}.${parts.table}`;
        for (const sql of statementsFor({ kind: "table.create", table: { ...table, name, engine } }, ctx)) await run(sql);
      }
      for (const view of Object.values(objects.views)) {
        for (const sql of statementsFor({ kind: "view.create", view }, ctx)) await run(sql);
      }
      // Plain views may read each other: each after the ones it reads.
      const plain = Object.values(objects.plainViews ?? {});
      const made = new Set<string>();
      const makePlain = async (view: PlainView): Promise<void> => {
        if (made.has(view.name)) return;
        made.add(view.name);
        for (const source of view.sourceTables) {
          const dep = objects.plainViews?.[source];
          if (dep) await makePlain(dep);
        }
        for (const sql of statementsFor({ kind: "plainView.create", view }, ctx)) await run(sql);
      };
      for (const view of plain) await makePlain(view);
      const read = mergeIntrospections([
        await introspectDatabase((sql) => conn.query(sql), scratch, capabilities),
        ...(await Promise.all([...scratchOf].map(async ([db, s]) => qualifyIntrospection(await introspectDatabase((sql) => conn.query(sql), s, capabilities), db)))),
      ]);
      const tables = Object.fromEntries(
        Object.entries(read.tables).map(([name, t]) => {
          const parts = tableParts(this.database, name);
          return [name, { ...t, engine: storedReplication(t.engine, objects.tables[name]?.engine, parts.database, parts.table, capabilities), lifeCycle: objects.tables[name]?.lifeCycle ?? t.lifeCycle }];
        }),
      );
      const views = Object.fromEntries(
        Object.entries(read.views).map(([name, v]) => [name, { ...v, lifeCycle: objects.views[name]?.lifeCycle ?? v.lifeCycle }]),
      );
      // Sources are the model's (a server before 20.6 cannot list what a SELECT reads).
      const plainViews = Object.fromEntries(Object.entries(read.plainViews).map(([name, v]) => [name, { ...v, sourceTables: objects.plainViews?.[name]?.sourceTables ?? v.sourceTables }]));
      return { tables, views, plainViews, skipped: read.skipped };
    } finally {
      try {
        for (const db of scratchOf.values()) await conn.execute(`DROP DATABASE IF EXISTS ${quoteIdentifier(db)}`);
        await conn.execute(`DROP DATABASE IF EXISTS ${quoteIdentifier(scratch)}`);
      } finally {
        await conn.close();
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await (await reader.catch(() => undefined))?.close();
    await this.connection.close();
  }
}
