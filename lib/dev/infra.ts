import { connect } from "node:net";
import { join } from "node:path";
import type { LoadedConfig } from "../config/config.js";
import type { EmbeddedWorkflowEngine } from "../engines/workflow/embedded.js";
import { runningDevInstance } from "./instance.js";

/**
 * The config `moose dev` runs with: where `devInfra` says dev runs the local
 * infrastructure itself (a Moose config's `host = "localhost"`, `broker =
 * "localhost:19092"`, as Moose starts Docker containers there), the embedded
 * engines take the servers' place, with their data under `<state_dir>`. Every
 * other command keeps connecting to the configured servers, which are then
 * this dev process (its ClickHouse HTTP interface) while it runs.
 *
 * @example
 * const config = devConfig(await loadConfig(dir)); // config.olap.engine === "embedded"
 */
export function devConfig(config: LoadedConfig): LoadedConfig {
  const { devInfra, olap, streaming, paths } = config;
  const { additionalDatabases, clusters } = olap;
  return {
    ...config,
    olap: devInfra.clickhouse
      ? {
          engine: "embedded",
          dataDir: join(paths.stateDir, "clickhouse"),
          database: olap.database,
          ...(olap.serverVersion === undefined ? {} : { serverVersion: olap.serverVersion }),
          ...(additionalDatabases ? { additionalDatabases } : {}),
          ...(clusters ? { clusters } : {}),
        }
      : olap,
    streaming:
      devInfra.streams && streaming.engine === "kafka"
        ? {
            engine: "embedded",
            dataDir: join(paths.stateDir, "streams"),
            messageTimeoutMs: streaming.messageTimeoutMs,
            retentionMs: streaming.retentionMs,
            replicationFactor: streaming.replicationFactor,
            ...(streaming.namespace === undefined ? {} : { namespace: streaming.namespace }),
          }
        : streaming,
  };
}

/**
 * The embedded workflow engine, when dev runs the local Temporal itself: workflows are
 * enabled, `[temporal_config]` points at this machine (`devInfra.temporal`) and nothing
 * answers there. Undefined otherwise: dev then connects to the configured Temporal (and
 * fails with `TEMPORAL_UNAVAILABLE` where it cannot), as before.
 *
 * @example
 * const workflows = await devWorkflowEngine(config, say); // EmbeddedWorkflowEngine | undefined
 */
export async function devWorkflowEngine(config: LoadedConfig, log: (line: string) => void): Promise<EmbeddedWorkflowEngine | undefined> {
  if (!config.features.workflows || !config.devInfra.temporal) return undefined;
  const { temporalAnswers } = await import("../engines/workflow/connect.js");
  if (await temporalAnswers(config.temporal.address)) return undefined;
  const { EmbeddedWorkflowEngine } = await import("../engines/workflow/embedded.js");
  return new EmbeddedWorkflowEngine({ stateFile: workflowStateFile(config), projectDir: config.projectDir, log });
}

/** Where the embedded workflow engine keeps its schedules and runs. */
export function workflowStateFile(config: LoadedConfig): string {
  return join(config.paths.stateDir, "workflows.json");
}

/**
 * The config a reading command (`ls`, `query`, `migrate status`) uses. Where dev runs the
 * local ClickHouse itself (`devInfra.clickhouse`), the project's data is the embedded
 * engine's, under `<state_dir>`: while dev runs, the configured `host:host_port` is dev
 * serving it; when dev is not running and nothing answers there, the command reads the
 * embedded engine's folder directly (the same data). A server answering there is read
 * as configured. `embedded` says which happened.
 *
 * @example
 * const { config, embedded } = await readingConfig(await loadConfig(dir));
 */
export async function readingConfig(config: LoadedConfig): Promise<{ readonly config: LoadedConfig; readonly embedded: boolean }> {
  const local = config.devInfra.clickhouse;
  if (local === undefined || runningDevInstance(config.paths.stateDir) !== undefined) return { config, embedded: false };
  // A server of the user's own may listen at that loopback address (not dev's): then it is the one to read.
  if (await answers(local.host, local.port)) return { config, embedded: false };
  return { config: devConfig(config), embedded: true };
}

function answers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ""), port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
