import type { ExecutionContext } from "ava";
import { type WorkflowEngine, type WorkflowEngineConfig } from "../../lib/engines/workflow/engine.js";
import type { Workflow } from "../../lib/model/infra-map.js";
import { startTemporalTestServer, type TemporalTestServer, type TemporalTestServerOptions } from "./temporal-test-server.js";
import { openWorkflowEngine } from "../../lib/engines/workflow/open.js";

/** Generous: the machine running the suite may be loaded, and only the failure tests measure speed. */
export const TEST_TIMEOUTS = { connectTimeoutMs: 20_000, requestTimeoutMs: 20_000 } as const;

/** A test server and an engine connected to it, both closed when the test ends. */
export async function serverAndEngine(
  t: ExecutionContext,
  options: { server?: TemporalTestServerOptions; engine?: Partial<WorkflowEngineConfig> } = {},
): Promise<{ server: TemporalTestServer; engine: WorkflowEngine }> {
  const server = await startTemporalTestServer(options.server);
  t.teardown(() => server.close());
  const engine = await openWorkflowEngine({ address: server.address, namespace: "default", ...TEST_TIMEOUTS, ...options.engine });
  t.teardown(() => engine.close());
  return { server, engine };
}

export function workflow(name: string, fields: Partial<Omit<Workflow, "name">> = {}): Workflow {
  return { name, retries: 0, paused: false, ...fields };
}
