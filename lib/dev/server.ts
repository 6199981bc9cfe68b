import type { LoadedConfig } from "../config/config.js";
import type { Ledger } from "../ledger/ledger.js";
import { projectStatus } from "../project/status.js";
import type { ProjectEngines } from "../project/engines.js";
import { loadApp, type LoadedApp } from "../runtime/load-app.js";
import { createApiRoutes } from "../server/api-routes.js";
import { startHttpServer, type RouteHandler } from "../server/server.js";
import { startSyncs, type SyncManager } from "../server/sync.js";
import { startStreamFunctions, type StreamFunctions } from "../server/stream-functions.js";
import { createWebAppRoutes } from "../server/web-apps.js";
import { installAppRuntime } from "../runtime/services.js";
import { cacheSettings } from "../runtime/cache-settings.js";
import { createControlRoutes } from "./control-routes.js";
import { createDevPageRoutes } from "./page.js";
import { projectMigrations } from "../project/engines.js";
import { basename } from "node:path";
import type { DevSession } from "./session.js";
import type { EmbeddedWorkflowEngine } from "../engines/workflow/embedded.js";

export interface DevServerOptions {
  readonly config: LoadedConfig;
  readonly session: DevSession;
  readonly engines: ProjectEngines;
  readonly ledger: Ledger;
  readonly token: string;
  readonly port: number;
  readonly log: (line: string) => void;
  /** Lines for the developer's terminal: errors of the app's code (with .ts file:line), `cliLog`, the cache in use. */
  readonly appLog: (line: string) => void;
  /** The embedded workflow engine: it runs the loaded app's workflows. */
  readonly workflows?: EmbeddedWorkflowEngine;
}

export interface DevServer {
  readonly url: string;
  /** Moose's management listener (`GET /health`), when `management_port` is set and could be bound. */
  readonly managementUrl?: string;
  /** Why the management listener is not there (its port was taken); dev runs on without it. */
  readonly managementError?: string;
  /**
   * Call after every cycle: reloads the app's handlers (when the code changed)
   * and starts or stops topic→table syncs for the new state. Returns the app's
   * load error, if any: the server keeps answering with the previous handlers.
   */
  refresh(reloadApp: boolean): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * The dev server: the app's API endpoints for the live state (they appear and
 * disappear as changes apply, no restart), topic→table syncs, and the loopback
 * control routes other moose commands use while dev holds the engine.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { config, engines, ledger, session, log, appLog } = options;
  const projectDir = config.projectDir;
  let app: LoadedApp | undefined;
  let appError: unknown;
  const control = createControlRoutes({
    token: options.token,
    olap: engines.olap,
    status: () => projectStatus(config, ledger, engines.olap, engines.streamEngine),
    ...(options.workflows ? { workflows: options.workflows } : {}),
    ...(config.features.workflows && !options.workflows ? { temporal: config.temporal.address } : {}),
  });
  options.workflows?.attach(() => app?.workflows);
  const api = createApiRoutes({
    getState: () => session.state,
    app: () => app,
    appError: () => appError,
    olap: engines.olap,
    ...(engines.streamEngine ? { streams: engines.streamEngine } : {}),
    log,
    appLog,
    projectDir,
  });
  const webApps = createWebAppRoutes({ app: () => app, appLog, projectDir });
  const page = createDevPageRoutes({
    title: `moose dev · ${basename(projectDir)}`,
    state: () => session.state,
    flows: () => session.app?.flows ?? [],
    ledger,
    // A migration file that does not read is reported by the dev cycle; the page shows what the ledger has.
    migrations: () => {
      try {
        return projectMigrations(config);
      } catch {
        return [];
      }
    },
  });
  const routes: readonly RouteHandler[] = [page, control, api, webApps];
  const runtime = installAppRuntime({
    olap: engines.olap,
    ...(engines.streamEngine ? { streams: engines.streamEngine } : {}),
    ...cacheSettings(config),
    fallBackToMemory: true,
    log: appLog,
  });
  let server;
  try {
    server = await startHttpServer({ host: config.httpServer.host, port: options.port, routes: () => routes, log });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  let management: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let managementError: string | undefined;
  if (config.httpServer.managementPort !== undefined) {
    try {
      management = await startHttpServer({ host: config.httpServer.host, port: config.httpServer.managementPort, routes: () => [], log });
    } catch (error) {
      managementError = `no management listener: ${error instanceof Error ? error.message : String(error)}; GET /health answers on ${server.url}`;
    }
  }
  const streams = engines.streamEngine;
  const syncs: SyncManager | undefined = streams ? startSyncs({ getState: () => session.state, streams, olap: engines.olap, stateDir: config.paths.stateDir, log }) : undefined;
  const functions: StreamFunctions | undefined = streams
    ? startStreamFunctions({ app: () => app, getState: () => session.state, streams, stateDir: config.paths.stateDir, log, appLog, projectDir })
    : undefined;
  const running = server;
  return {
    url: running.url,
    ...(management ? { managementUrl: management.url } : {}),
    ...(managementError ? { managementError } : {}),
    refresh: async (reloadApp: boolean) => {
      syncs?.refresh();
      if (reloadApp) {
        try {
          app = await loadApp(config.paths.mainFile, { reuseUnchanged: true });
          appError = undefined;
        } catch (error) {
          appError = error;
        }
      }
      // Transforms and consumers follow the app as loaded and the topics as applied.
      functions?.refresh();
      return appError;
    },
    close: async () => {
      await functions?.stop();
      await syncs?.stop();
      await management?.close();
      await running.close();
      await runtime.close();
    },
  };
}
