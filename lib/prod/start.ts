import { parseApiKey, type ApiKey } from "../auth/token.js";
import type { LoadedConfig } from "../config/config.js";
import type { OlapEngine } from "../engines/olap/engine.js";
import type { StreamEngine } from "../engines/stream/engine.js";
import { InvalidInputError } from "../errors.js";
import type { Ledger } from "../ledger/index.js";
import type { InfraMap } from "../model/infra-map.js";
import { extractProject, planAgainst } from "../project/plan-project.js";
import { projectLedger, projectMigrations, projectOlap } from "../project/engines.js";
import type { LoadedApp } from "../runtime/load-app.js";
import { createAdminAuthenticator } from "../server/admin-auth.js";
import { createAdminRoutes, type AdminEvent } from "../server/admin-routes.js";
import { createFailureLimiter, type FailureLimiterOptions } from "../server/rate-limit.js";
import { startHttpServer, type RouteHandler } from "../server/server.js";
import { checkReadyToServe } from "./preflight.js";
import { readProductionState, type ProductionState } from "./state.js";

/** What happens while production starts and runs; the CLI turns these into lines. */
export type ProductionEvent =
  | { readonly kind: "warning"; readonly message: string }
  /** A line from the HTTP server or an API route (a handler that threw, …). */
  | { readonly kind: "log"; readonly line: string }
  | AdminEvent;

export interface ProductionOptions {
  readonly toolVersion: string;
  /** Overrides `http_server_config.host` / `port`; port 0 picks a free one. */
  readonly host?: string;
  readonly port?: number;
  /** Failed admin authentications: default 10 per client and 30 in total per minute. */
  readonly rateLimit?: FailureLimiterOptions;
  readonly onEvent?: (event: ProductionEvent) => void;
}

export interface ProductionInstance {
  /** Where it listens, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  /** The state at start-up: what the API routes serve. */
  readonly state: ProductionState;
  /** Whether the admin API is enabled (a key is configured). */
  readonly adminEnabled: boolean;
  /** API endpoints served. */
  readonly endpoints: readonly string[];
  /** Stops listening (open requests get a moment to finish) and closes every engine. */
  close(): Promise<void>;
}

/**
 * `moose prod`: serves the deployed project. In order, so nothing listens on a
 * project that is not ready:
 *
 * 1. parses `[authentication] admin_api_key` (malformed → `InvalidInputError`
 *    `AUTH_KEY_MALFORMED`, exit 2);
 * 2. reads the committed migrations and the ledger, opens the OLAP engine and
 *    refuses to start when the engines are behind or history is broken
 *    ({@link checkReadyToServe}); never applies anything itself;
 * 3. extracts the code (a warning when it declares changes no applied migration
 *    makes) and loads the app for its API handlers;
 * 4. listens: the app's endpoints, `/admin/*`, and `/health`.
 *
 * @example
 * const prod = await startProduction(config, { toolVersion: VERSION, onEvent: log });
 * console.log(`listening on ${prod.url}`);
 * process.once("SIGTERM", () => void prod.close());
 */
export async function startProduction(config: LoadedConfig, options: ProductionOptions): Promise<ProductionInstance> {
  const emit = options.onEvent ?? (() => {});
  const port = options.port ?? config.httpServer.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError("USAGE", `--port ${port} must be an integer port 0–65535`);
  const rawKey = config.authentication.adminApiKey;
  const key: ApiKey | undefined = rawKey === undefined ? undefined : parseApiKey(rawKey);

  const files = projectMigrations(config);
  const opened: Array<{ close(): Promise<void> }> = [];
  const closeAll = async () => {
    for (const e of opened.splice(0).reverse()) await e.close().catch(() => undefined);
  };
  try {
    const ledger: Ledger = await projectLedger(config, options.toolVersion);
    opened.push(ledger);
    const olap: OlapEngine | undefined = config.features.olap ? await projectOlap(config) : undefined;
    if (olap) opened.push(olap);

    const state = await checkReadyToServe(files, await ledger.list(), olap, options.toolVersion);
    if (state.drift.length > 0) {
      emit({ kind: "warning", message: `the live database differs from the applied migrations (served on /admin/inframap; \`moose migrate status\` shows it):\n  ${state.drift.join("\n  ")}` });
    }
    if (files.length === 0) emit({ kind: "warning", message: "no migrations are committed: nothing is deployed here (moose migrate generate, then moose migrate deploy)" });

    const app = extractProject(config);
    for (const w of app.warnings) emit({ kind: "warning", message: w });
    const ahead = planAgainst(app, state.inframap, { kind: "migrations", count: state.migrations.applied.length });
    if (ahead.plan.steps.length > 0) {
      emit({
        kind: "warning",
        message: `the code declares ${ahead.plan.steps.length} change(s) that no applied migration makes; they are not served until a migration is generated and deployed (moose plan lists them)`,
      });
    }

    const served: InfraMap = state.inframap;
    const routes: RouteHandler[] = [];
    const log = (line: string) => emit({ kind: "log", line });
    const auth = createAdminAuthenticator({ key, limiter: createFailureLimiter(options.rateLimit) });
    routes.push(
      createAdminRoutes({
        auth,
        version: options.toolVersion,
        onEvent: emit,
        source: {
          state: async () => readProductionState(projectMigrations(config), await ledger.list(), olap, options.toolVersion),
          migrations: () => ledger.list(),
        },
      }),
    );

    const endpoints = Object.keys(served.apis).sort();
    let streams: StreamEngine | undefined;
    if (config.features.streamingEngine && Object.keys(served.topics).length > 0) {
      const { openStreamEngine } = await import("../engines/stream/open.js");
      streams = await openStreamEngine(config.streaming);
      opened.push(streams);
    }
    // Streams with a destination deliver to their table in production too (Moose's sync processes).
    if (streams && olap && Object.keys(served.processes).length > 0) {
      const { startSyncs } = await import("../server/sync.js");
      const syncs = startSyncs({ getState: () => served, streams, olap, stateDir: config.paths.stateDir, log });
      syncs.refresh();
      opened.push({ close: () => syncs.stop() });
    }
    // The app runs in production as in dev: API handlers, web apps, transforms and consumers.
    // A production app that does not load is not served half-working: the error stops the start.
    let loaded: LoadedApp | undefined;
    if (olap) {
      const { installAppRuntime } = await import("../runtime/services.js");
      const { cacheSettings } = await import("../runtime/cache-settings.js");
      const runtime = installAppRuntime({ olap, ...(streams ? { streams } : {}), ...cacheSettings(config), fallBackToMemory: false, log });
      opened.push(runtime);
      const { loadApp } = await import("../runtime/load-app.js");
      loaded = await loadApp(config.paths.mainFile);
      const app = loaded;
      if (streams) {
        const { startStreamFunctions } = await import("../server/stream-functions.js");
        const functions = startStreamFunctions({ app: () => app, getState: () => served, streams, stateDir: config.paths.stateDir, log, appLog: log, projectDir: config.projectDir });
        functions.refresh();
        opened.push({ close: () => functions.stop() });
      }
    }
    if (config.features.apis && olap && loaded) {
      const app = loaded;
      const { createApiRoutes } = await import("../server/api-routes.js");
      const { createWebAppRoutes } = await import("../server/web-apps.js");
      if (endpoints.length > 0) routes.push(createApiRoutes({ getState: () => served, app: () => app, olap, log, appLog: log, projectDir: config.projectDir, ...(streams ? { streams } : {}) }));
      routes.push(createWebAppRoutes({ app: () => app, appLog: log, projectDir: config.projectDir }));
    } else if (endpoints.length > 0) {
      emit({ kind: "warning", message: `${endpoints.length} API endpoint(s) are deployed but not served: ${!config.features.apis ? "features.apis is off" : "features.olap is off"}` });
    }

    const server = await startHttpServer({ host: options.host ?? config.httpServer.host, port, routes: () => routes, log });
    if (!key) emit({ kind: "warning", message: "admin API disabled: set [authentication] admin_api_key (moose generate hash-token) to enable /admin/* and `moose plan --url`" });
    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      state,
      adminEnabled: key !== undefined,
      endpoints: config.features.apis ? endpoints : [],
      close: () =>
        (closing ??= (async () => {
          await server.close();
          await closeAll();
        })()),
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
