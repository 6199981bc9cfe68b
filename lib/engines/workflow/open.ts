import { connectTemporal } from "./connect.js";
import type { WorkflowEngine, WorkflowEngineConfig } from "./engine.js";
import { TemporalWorkflowEngine } from "./temporal.js";

/**
 * Connects to Temporal and checks the namespace; fails fast with `TEMPORAL_UNAVAILABLE`.
 *
 * @example
 * const engine = await openWorkflowEngine(config.temporal);
 * try {
 *   await engine.apply({ kind: "workflow.create", workflow: { name: "nightly", schedule: "0 3 * * *", retries: 3, timeout: "1h", paused: false } });
 * } finally { await engine.close(); }
 */
export async function openWorkflowEngine(config: WorkflowEngineConfig): Promise<WorkflowEngine> {
  const connection = await connectTemporal({
    address: config.address,
    namespace: config.namespace,
    connectTimeoutMs: config.connectTimeoutMs ?? 5_000,
  });
  return new TemporalWorkflowEngine(connection, config);
}
