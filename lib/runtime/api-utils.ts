import type { ApiUtils } from "../dsl/api.js";
import type { MooseClient, QueryResult } from "../dsl/runtime.js";
import { sql, toQuery, type Sql } from "../dsl/sql.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { RefusedError } from "../errors.js";
// A consumption API answers reads: its SQL is checked by ClickHouse's own parser, with `moose query`'s list.
import { READ_ONLY_ROOTS } from "../project/query.js";


/** Statement kinds by SQL text; a handler runs the same few statements again and again. */
const CACHE_LIMIT = 500;

/**
 * A read-only query runner on `olap`: `query(sql, params)` binds `{name:Type}` parameters
 * and refuses any statement ClickHouse parses as something other than a read
 * (`RefusedError` `API_QUERY_WRITES`).
 */
export function readOnlyQuery(olap: OlapEngine): <R = Record<string, unknown>>(text: string, params?: Record<string, unknown>) => Promise<R[]> {
  const kinds = new Map<string, string>();
  return async <R = Record<string, unknown>>(text: string, params: Record<string, unknown> = {}): Promise<R[]> => {
    const statement = text.trim().replace(/;\s*$/, "");
    let kind = kinds.get(statement);
    if (kind === undefined) {
      const parsed = await olap.statementKind(statement, params);
      // A server without EXPLAIN enforces it itself: the query runs in its read-only mode.
      if (parsed === undefined) return olap.readOnlyQuery<R>(statement, params);
      kind = parsed;
      if (kinds.size >= CACHE_LIMIT) kinds.clear();
      kinds.set(statement, kind);
    }
    if (!READ_ONLY_ROOTS.has(kind)) {
      throw new RefusedError("API_QUERY_WRITES", `an API handler may only read; ClickHouse parses this statement as ${kind}: ${statement.slice(0, 200)}`, {
        hint: "write through an ingest endpoint or a migration",
      });
    }
    return olap.query<R>(statement, params);
  };
}

/**
 * What a consumption API handler gets besides its parameters: `query` (read-only SQL on
 * the OLAP engine), moose-lib's `client` (`client.query.execute(sql\`...\`)`) and `sql`.
 *
 * @example
 * const utils = createApiUtils(olap);
 * await handler(params, utils);
 */
export function createApiUtils(olap: OlapEngine): ApiUtils {
  const query = readOnlyQuery(olap);
  const client: MooseClient = {
    query: {
      async execute<T = any>(q: Sql): Promise<QueryResult<T>> {
        const [text, params] = toQuery(q);
        const rows = await query<T>(text, params);
        return {
          json: async () => rows,
          text: async () => rows.map((r) => JSON.stringify(r)).join("\n"),
        };
      },
      async command(q: Sql): Promise<unknown> {
        throw new RefusedError("API_QUERY_WRITES", `an API handler may only read; client.query.command(${JSON.stringify(toQuery(q)[0].slice(0, 200))}) was refused`, {
          hint: "write through an ingest endpoint or a migration",
        });
      },
    },
    workflow: {
      async execute(name: string): Promise<{ status: number; body: string }> {
        throw new RefusedError("API_WORKFLOW_UNAVAILABLE", `starting workflow ${name} from an API handler is not supported yet`);
      },
      async terminate(workflowId: string): Promise<{ status: number; body: string }> {
        throw new RefusedError("API_WORKFLOW_UNAVAILABLE", `terminating workflow ${workflowId} from an API handler is not supported yet`);
      },
    },
  };
  return { query, client, sql };
}
