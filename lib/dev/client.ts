import { MooseError, EngineError, type ExitCodeName } from "../errors.js";
import type { QueryResult } from "../project/query.js";
import type { DevInstance } from "./instance.js";
import { CONTROL_PREFIX } from "./control-routes.js";
import type { WorkflowAnswer, WorkflowRequest } from "./workflow-control.js";

/**
 * The other side of the dev control routes: `moose query` and `moose migrate
 * status` run inside the running `moose dev`, which holds the embedded engine.
 */
export async function devRequest<T>(instance: DevInstance, route: "query" | "status" | "workflow", body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${instance.url}${CONTROL_PREFIX}${route}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "x-moose-dev-token": instance.token, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new EngineError("DEV_UNREACHABLE", `moose dev (pid ${instance.pid}) holds the embedded engine but does not answer at ${instance.url}: ${(error as Error).message}`, {
      hint: "wait for it, or stop it (Ctrl-C in its terminal) and run the command again",
    });
  }
  const doc = (await response.json()) as { ok?: boolean; error?: { code: string; exit: ExitCodeName; message: string; hint?: string } | string } & T;
  if (doc.ok === false && typeof doc.error === "object") {
    throw new MooseError(doc.error.code, doc.error.exit, doc.error.message, doc.error.hint ? { hint: doc.error.hint } : {});
  }
  if (!response.ok) throw new EngineError("DEV_REQUEST_FAILED", `moose dev answered ${response.status}: ${typeof doc.error === "string" ? doc.error : JSON.stringify(doc)}`);
  return doc;
}

export async function devQuery(instance: DevInstance, sql: string, write: boolean): Promise<QueryResult> {
  const doc = await devRequest<{ rows: Array<Record<string, unknown>>; statement: string }>(instance, "query", { sql, write });
  return { rows: doc.rows, statement: doc.statement };
}

/** `moose workflow …` answered by the running dev's workflow engine. */
export async function devWorkflow(instance: DevInstance, request: WorkflowRequest): Promise<WorkflowAnswer> {
  return devRequest<WorkflowAnswer>(instance, "workflow", request);
}
