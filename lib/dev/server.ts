import type { LoadedConfig } from "../config/config.js";
import type { Ledger } from "../ledger/ledger.js";
import { projectStatus } from "../project/status.js";
import type { ProjectEngines } from "../project/engines.js";
import { loadApp, type LoadedApp } from "../runtime/load-app.js";
import { createApiRoutes } from "../server/api-routes.js";
import { startHttpServer, type RouteHandler } from "../server/server.js";
import { startSyncs, type SyncManager } from "../server/sync.js";
import { createControlRoutes } from "./control-routes.js";
import type { DevSession } from "./session.js";

export interface DevServerOptions {
  readonly config: LoadedConfig;
  readonly session: DevSession;
  readonly engines: ProjectEngines;
  readonly ledger: Ledger;
  readonly token: string;
  readonly port: number;
  readonly log: (line: string) => void;
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
  const { config, engines, ledger, session, log } = options;
  let app: LoadedApp | undefined;
  let appError: unknown;
  const control = createControlRoutes({
    token: options.token,
    olap: engines.olap,
    status: () => projectStatus(config, ledger, engines.olap, engines.streamEngine),
  });
  const api = createApiRoutes({
    getState: () => session.state,
    app: () => app,
    appError: () => appError,
    olap: engines.olap,
    ...(engines.streamEngine ? { streams: engines.streamEngine } : {}),
    log,
  });
  const routes: readonly RouteHandler[] = [control, api];
  const server = await startHttpServer({ host: config.httpServer.host, port: options.port, routes: () => routes, log });
  let management: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let managementError: string | undefined;
  if (config.httpServer.managementPort !== undefined) {
    try {
      management = await startHttpServer({ host: config.httpServer.host, port: config.httpServer.managementPort, routes: () => [], log });
    } catch (error) {
      managementError = `no management listener: ${error instanceof Error ? error.message : String(error)}; GET /health answers on ${server.url}`;
    }
  }
  const syncs: SyncManager | undefined = engines.streamEngine
    ? startSyncs({ getState: () => session.state, streams: engines.streamEngine, olap: engines.olap, stateDir: config.paths.stateDir, log })
    : undefined;
  return {
    url: server.url,
    ...(management ? { managementUrl: management.url } : {}),
    ...(managementError ? { managementError } : {}),
    refresh: async (reloadApp: boolean) => {
      syncs?.refresh();
      if (!reloadApp) return appError;
      try {
        app = await loadApp(config.paths.mainFile, { reuseUnchanged: true });
        appError = undefined;
      } catch (error) {
        appError = error;
      }
      return appError;
    },
    close: async () => {
      await syncs?.stop();
      await management?.close();
      await server.close();
    },
  };
}
