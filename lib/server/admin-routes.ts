import type { IncomingMessage, ServerResponse } from "node:http";
import type { MigrationRecord } from "../ledger/records.js";
import type { ProductionState } from "../prod/state.js";
import type { AdminAuthenticator, AdminAuthFailure } from "./admin-auth.js";
import { sendJson, type RouteHandler } from "./server.js";

/** What the admin API reads; called per request, so answers are always current. */
export interface AdminStateSource {
  /** `GET /admin/inframap`. */
  state(): Promise<ProductionState>;
  /** `GET /admin/migrations`: the ledger's records. */
  migrations(): Promise<readonly MigrationRecord[]>;
}

/** Reported through `onEvent`; the caller decides how to log. Never carries a token. */
export type AdminEvent =
  | { readonly kind: "auth-failed"; readonly client: string; readonly method: string; readonly path: string; readonly reason: AdminAuthFailure }
  | { readonly kind: "admin-error"; readonly client: string; readonly path: string; readonly error: unknown };

export interface AdminRoutesOptions {
  readonly auth: AdminAuthenticator;
  readonly source: AdminStateSource;
  /** moose-migrate version, in every admin answer. */
  readonly version: string;
  readonly onEvent?: (event: AdminEvent) => void;
}

export const ADMIN_PREFIX = "/admin/";
const RATE_LIMITED_LOG_INTERVAL_MS = 10_000;

/**
 * The admin API under `/admin/`: every request is authenticated first (so an
 * unauthenticated client learns nothing about which routes exist), then
 *
 * - `GET /admin/inframap` → {@link ProductionState} as JSON;
 * - `GET /admin/migrations` → `{ version, migrations: MigrationRecord[] }`.
 *
 * 401 answers carry `WWW-Authenticate: Bearer`; a client over its failure limit
 * gets 429 with `Retry-After` before its token is even looked at, and so does
 * any client while the shared budget of wrong tokens is spent or the queue of
 * verifications is full (unless its token is cached: see `createAdminAuthenticator`).
 *
 * @example
 * startHttpServer({ host, port, log, routes: () => [createAdminRoutes({ auth, source, version }), ...apiRoutes] });
 */
export function createAdminRoutes(options: AdminRoutesOptions): RouteHandler {
  const { auth, source, version } = options;
  const emit = options.onEvent ?? (() => {});
  // A limited client is logged once per interval, not per request: a flood must not flood the log.
  // Refusals for the shared budget are logged once per interval in all, or rotating addresses would flood it.
  const quietUntil = new Map<string, number>();
  const shouldLog = (client: string, reason: AdminAuthFailure): boolean => {
    if (reason !== "rate-limited" && reason !== "overloaded") return true;
    const key = reason === "overloaded" ? "" : client;
    const now = Date.now();
    if ((quietUntil.get(key) ?? 0) > now) return false;
    if (quietUntil.size >= 1000) quietUntil.clear();
    quietUntil.set(key, now + RATE_LIMITED_LOG_INTERVAL_MS);
    return true;
  };
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (url.pathname !== "/admin" && !url.pathname.startsWith(ADMIN_PREFIX)) return false;
    const client = clientAddress(req);
    const method = req.method ?? "GET";
    const result = await auth.authenticate(req.headers.authorization, client);
    if (!result.ok) {
      if (result.reason !== "disabled" && shouldLog(client, result.reason)) emit({ kind: "auth-failed", client, method, path: url.pathname, reason: result.reason });
      const headers: Record<string, string> = {};
      if (result.status === 401) {
        headers["www-authenticate"] = result.reason === "wrong" ? 'Bearer realm="moose-admin", error="invalid_token"' : 'Bearer realm="moose-admin"';
      }
      if (result.retryAfterSeconds !== undefined) headers["retry-after"] = String(result.retryAfterSeconds);
      sendJson(res, result.status, { error: result.message }, headers);
      return true;
    }
    const route = ROUTES[url.pathname.replace(/\/+$/, "")];
    if (route === undefined) {
      sendJson(res, 404, { error: `no admin route ${url.pathname}; there are ${Object.keys(ROUTES).join(" and ")}` });
      return true;
    }
    if (method !== "GET" && method !== "HEAD") {
      sendJson(res, 405, { error: `${url.pathname} answers GET only` }, { allow: "GET, HEAD" });
      return true;
    }
    try {
      sendJson(res, 200, route === "inframap" ? await source.state() : { version, migrations: await source.migrations() });
    } catch (error) {
      emit({ kind: "admin-error", client, path: url.pathname, error });
      sendJson(res, 500, { error: `could not read the ${route === "inframap" ? "state" : "ledger"}: ${error instanceof Error ? error.message : String(error)}` });
    }
    return true;
  };
}

const ROUTES: Readonly<Record<string, "inframap" | "migrations">> = {
  "/admin/inframap": "inframap",
  "/admin/migrations": "migrations",
};

/** The peer's address. Forwarded-for headers are not trusted: any client can send them. */
function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? "unknown";
  return a.startsWith("::ffff:") ? a.slice(7) : a;
}
