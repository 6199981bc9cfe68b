import type { IncomingMessage, ServerResponse } from "node:http";
import { timingSafeEqual, createHash } from "node:crypto";
import type { OlapEngine } from "../engines/olap/engine.js";
import { MooseError } from "../errors.js";
import { runQuery } from "../project/query.js";
import type { EmbeddedWorkflowEngine } from "../engines/workflow/embedded.js";
import { answerWorkflowRequest, type WorkflowRequest } from "./workflow-control.js";

export const CONTROL_PREFIX = "/_moose/dev/";

export interface ControlRoutesOptions {
  readonly token: string;
  readonly olap: OlapEngine;
  /** The status report as `moose migrate status --json` prints it. */
  readonly status: () => Promise<unknown>;
  /** The embedded workflow engine dev runs, if it runs one. */
  readonly workflows?: EmbeddedWorkflowEngine;
  /** The Temporal dev connected to instead, if workflows are on and it did. */
  readonly temporal?: string;
}

/**
 * Loopback routes through which other moose commands use this dev instance's
 * engine: `POST /_moose/dev/query` `{ sql, write }`, `GET /_moose/dev/status` and
 * `POST /_moose/dev/workflow` (a {@link WorkflowRequest}: `moose workflow …`).
 * They need the token from `<state_dir>/dev.json`.
 */
export function createControlRoutes(options: ControlRoutesOptions) {
  const expected = createHash("sha256").update(options.token).digest();
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!url.pathname.startsWith(CONTROL_PREFIX)) return false;
    const given = createHash("sha256").update(String(req.headers["x-moose-dev-token"] ?? "")).digest();
    if (!timingSafeEqual(given, expected)) {
      send(res, 401, { error: "dev control routes need the token from the project's dev.json" });
      return true;
    }
    const route = url.pathname.slice(CONTROL_PREFIX.length);
    try {
      if (route === "query" && req.method === "POST") {
        const body = JSON.parse(await readBody(req)) as { sql?: unknown; write?: unknown };
        const result = await runQuery(options.olap, String(body.sql ?? ""), { write: body.write === true });
        send(res, 200, { ok: true, rows: result.rows, statement: result.statement });
        return true;
      }
      if (route === "status" && req.method === "GET") {
        send(res, 200, { ok: true, report: await options.status() });
        return true;
      }
      if (route === "workflow" && req.method === "POST") {
        const request = JSON.parse(await readBody(req)) as WorkflowRequest;
        send(res, 200, { ok: true, ...(await answerWorkflowRequest(options.workflows, options.temporal, request)) });
        return true;
      }
      send(res, 404, { error: `no dev control route ${req.method} ${url.pathname}` });
    } catch (error) {
      if (error instanceof MooseError) send(res, 200, { ok: false, error: { code: error.code, exit: error.exit, message: error.message, hint: error.hint } });
      else send(res, 500, { error: error instanceof Error ? error.message : String(error) });
    }
    return true;
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      text += c;
      if (text.length > 1_000_000) reject(new Error("request too large"));
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}
