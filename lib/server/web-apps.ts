import type { IncomingMessage, ServerResponse } from "node:http";
import { requestContext } from "../dsl/runtime-context.js";
import { getMooseUtils } from "../dsl/runtime.js";
import type { FrameworkApp, WebApp, WebAppHandler } from "../dsl/web-app.js";
import { describeAppError, type LoadedApp } from "../runtime/load-app.js";
import { sendJson, type RouteHandler } from "./server.js";

export interface WebAppRoutesOptions {
  /** The app as loaded now: a reload mounts the new web apps at once. */
  readonly app: () => LoadedApp | undefined;
  /** Errors of the app's code, for the developer's terminal. */
  readonly appLog: (line: string) => void;
  readonly projectDir?: string;
}

/** The request handler of each web app, made once (Fastify's `ready()` runs once). */
const handlers = new WeakMap<WebApp, WebAppHandler>();

/**
 * The app's `WebApp`s, mounted as Moose mounts them: a request to `<mountPath>` or below
 * goes to the app with the mount path cut off the URL (`/express/query?limit=2` reaches
 * Express as `/query?limit=2`); the longest mount path wins. Express and Connect apps
 * (`handle`), Koa apps (`callback()`), Fastify apps (`routing`, after `ready()`) and plain
 * `(req, res)` handlers. Unless `injectMooseUtils: false`, `req.moose` holds what
 * `getMooseUtils()` returns. An app that throws, or calls `next(err)`, answers 500 and the
 * error is reported with its .ts file:line; the server goes on.
 *
 * @example
 * startHttpServer({ host, port, routes: () => [apiRoutes, createWebAppRoutes({ app: () => loaded, appLog: say })] });
 */
export function createWebAppRoutes(options: WebAppRoutesOptions): RouteHandler {
  return async (req, res, url) => {
    const apps = Object.values(options.app()?.webApps ?? {});
    if (apps.length === 0) return false;
    const pathname = url.pathname;
    const match = apps
      .map((app) => ({ app, mount: normalizeMount(app.config.mountPath) }))
      .filter(({ mount }) => pathname === mount || pathname.startsWith(`${mount}/`))
      .sort((a, b) => b.mount.length - a.mount.length)[0];
    if (!match) return false;
    const { app, mount } = match;
    const inner = (pathname.slice(mount.length) || "/") + url.search;
    const fail = (error: unknown): void => {
      options.appLog(`✗ web app ${app.name} (${mount}) failed on ${req.method ?? "GET"} ${pathname}: ${describeAppError(error, options.projectDir)}`);
      if (!res.headersSent) sendJson(res, 500, { error: "Internal Server Error" });
      else if (!res.writableEnded) res.end();
    };
    let handler: WebAppHandler;
    try {
      handler = handlerOf(app, fail);
    } catch (error) {
      fail(error);
      return true;
    }
    if (app.config.injectMooseUtils !== false) {
      try {
        (req as IncomingMessage & { moose?: unknown }).moose = await getMooseUtils();
      } catch {
        // No client installed (a bare test server): the app runs without req.moose.
      }
    }
    // Frameworks read req.url; the original stays available as originalUrl (as Express keeps it).
    const original = req.url;
    req.url = inner;
    (req as IncomingMessage & { originalUrl?: string }).originalUrl ??= original;
    const finished = new Promise<void>((resolve) => {
      res.once("finish", resolve);
      res.once("close", resolve);
    });
    try {
      await requestContext.run({}, () => handler(req, res));
    } catch (error) {
      fail(error);
    }
    // Express answers from callbacks after handle() returns: the server must not end the response first.
    await finished;
    return true;
  };
}

function normalizeMount(mountPath: string): string {
  return mountPath.length > 1 && mountPath.endsWith("/") ? mountPath.slice(0, -1) : mountPath;
}

function handlerOf(webApp: WebApp, fail: (error: unknown) => void): WebAppHandler {
  const known = handlers.get(webApp);
  if (known) return known;
  const made = toHandler(webApp);
  // `next(err)` of Express reaches `fail` through this wrapper, per request.
  const handler: WebAppHandler = (req, res) => made(req, res, fail);
  handlers.set(webApp, handler);
  return handler;
}

type MountedHandler = (req: IncomingMessage, res: ServerResponse, fail: (error: unknown) => void) => void | Promise<void>;

function toHandler(webApp: WebApp): MountedHandler {
  const target = webApp.app;
  if (typeof target === "function") return (req, res) => (target as WebAppHandler)(req, res);
  const app = target as FrameworkApp;
  if (typeof app.handle === "function") {
    const handle = app.handle.bind(app);
    return (req, res, fail) =>
      handle(req, res, (err?: unknown) => {
        if (err) fail(err);
        else if (!res.headersSent) sendJson(res, 404, { error: `no route for ${req.method ?? "GET"} ${req.url ?? "/"} in web app ${webApp.name}` });
      });
  }
  if (typeof app.callback === "function") {
    const callback = app.callback();
    return (req, res) => callback(req, res);
  }
  if (typeof app.routing === "function") {
    const routing = app.routing.bind(app);
    let ready: PromiseLike<unknown> | undefined;
    return async (req, res) => {
      ready ??= typeof app.ready === "function" ? app.ready() : Promise.resolve();
      await ready;
      routing(req, res);
    };
  }
  throw new TypeError(
    `web app ${webApp.name} is neither a (req, res) function nor an Express (.handle), Koa (.callback) or Fastify (.routing) app`,
  );
}
