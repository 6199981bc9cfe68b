import type { ApiUtils } from "../dsl/api.js";
import type { MooseClient, QueryResult } from "../dsl/runtime.js";
import { sql, toQuery, type Sql } from "../dsl/sql.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import { RefusedError } from "../errors.js";
import { parseStatement } from "../engines/olap/parser.js";
import { readRefusal, readRefused } from "../engines/olap/statement-policy.js";

/**
 * A read-only query runner on `olap` for API handlers: `query(sql, params)` binds
 * `{name:Type}` parameters. ClickHouse's parser reads the text first: one SELECT on the
 * project's database, no table functions that reach outside it, no SETTINGS, FORMAT or
 * INTO OUTFILE (`API_QUERY_REFUSED`); what passes runs in ClickHouse's read-only mode,
 * so even SQL a handler pasted together from request values cannot write.
 */
export function readOnlyQuery(olap: OlapEngine): <R = Record<string, unknown>>(text: string, params?: Record<string, unknown>) => Promise<R[]> {
  return async <R = Record<string, unknown>>(text: string, params: Record<string, unknown> = {}): Promise<R[]> => {
    const origin = { what: "the API handler's query" };
    const parsed = await parseStatement(text, origin, params);
    const refusal = readRefusal(parsed, "api", olap.database);
    if (refusal) throw readRefused(refusal, "api", origin);
    return olap.readOnlyQuery<R>(text, params);
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
        // Typed for the server that binds them (Bool and DateTime64 are not everywhere).
        const [text, params] = toQuery(q, await olap.capabilities());
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
