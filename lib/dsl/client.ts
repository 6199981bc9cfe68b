/**
 * moose-lib's database and workflow client (`MooseClient`, `QueryClient`): what the servers
 * install for the app's code (runtime-context.ts) and what `getMooseUtils()` hands out.
 */
import { toQuery, type Sql } from "./sql.js";

/** Throws: the named run-time helper cannot be used from moose-migrate yet. */
export function notAvailable(name: string): never {
  throw new Error(`${name} is run-time functionality of moose-lib that moose-migrate does not provide (yet); planning never calls it`);
}

/** A query's rows (`await result.json()`). */
export interface QueryResult<T> {
  json(): Promise<T[]>;
  text(): Promise<string>;
}

/** What `client.query` does: run a `sql` statement and return its rows, or run a command. */
export interface QueryRunner {
  execute<T = any>(query: Sql): Promise<QueryResult<T>>;
  command(query: Sql): Promise<unknown>;
}

/** The part of `@clickhouse/client`'s client that {@link QueryClient} uses. */
export interface ClickHouseQueryable {
  query(params: { query: string; query_params?: Record<string, unknown>; format?: string; query_id?: string }): Promise<{ json(): Promise<unknown>; text(): Promise<string> }>;
  command(params: { query: string; query_params?: Record<string, unknown>; query_id?: string }): Promise<unknown>;
}

/**
 * moose-lib's query client over a `@clickhouse/client` client (or anything with its
 * `query`/`command`): `execute(sql\`…\`)` returns JSONEachRow rows.
 *
 * @example
 * const q = new QueryClient(createClient({ url: "http://localhost:18123" }), "script");
 * const rows = await (await q.execute(sql`SELECT 1 AS one`)).json();
 */
export class QueryClient implements QueryRunner {
  constructor(
    readonly client: ClickHouseQueryable,
    readonly query_id_prefix: string = "",
  ) {}

  async execute<T = any>(query: Sql): Promise<QueryResult<T>> {
    const [text, query_params] = toQuery(query);
    const result = await this.client.query({ query: text, query_params, format: "JSONEachRow" });
    return { json: async () => (await result.json()) as T[], text: () => result.text() };
  }

  async command(query: Sql): Promise<unknown> {
    const [text, query_params] = toQuery(query);
    return this.client.command({ query: text, query_params });
  }
}

export interface WorkflowClient {
  execute(name: string, input: unknown): Promise<{ status: number; body: string }>;
  terminate(workflowId: string): Promise<{ status: number; body: string }>;
}

const noWorkflows: WorkflowClient = {
  execute: async (name) => notAvailable(`starting workflow ${name} from the app's code`),
  terminate: async (id) => notAvailable(`terminating workflow ${id} from the app's code`),
};

/** moose-lib's database and workflow client. */
export class MooseClient {
  readonly query: QueryRunner;
  readonly workflow: WorkflowClient;

  constructor(query: QueryRunner, workflow: WorkflowClient = noWorkflows) {
    this.query = query;
    this.workflow = workflow;
  }
}

