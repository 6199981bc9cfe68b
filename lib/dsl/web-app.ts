import type { IncomingMessage, ServerResponse } from "node:http";
import { register } from "./registry.js";

export type WebAppHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** An Express/Fastify/Koa app, or anything with one of their entry points. */
export interface FrameworkApp {
  handle?: (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;
  callback?: () => WebAppHandler;
  routing?: (req: IncomingMessage, res: ServerResponse) => void;
  ready?: () => PromiseLike<unknown>;
}

export interface WebAppConfig {
  /** Where the app is mounted, e.g. `/express`. */
  readonly mountPath: string;
  readonly metadata?: { description?: string };
  readonly injectMooseUtils?: boolean;
}

/** Paths the server answers itself, as moose-lib reserves them. */
const RESERVED_MOUNT_PATHS = ["/admin", "/api", "/consumption", "/health", "/ingest", "/liveness", "/moose", "/ready", "/workflows"] as const;

/**
 * A web framework app mounted into the Moose HTTP server (moose-lib's `WebApp`). Its
 * routes are code, served by `moose dev`; there is no infrastructure to plan, and
 * `moose plan` says so for each one.
 *
 * @example
 * export const api = new WebApp("barExpress", expressApp, { mountPath: "/express" });
 */
export class WebApp {
  readonly kind = "WebApp" as const;
  readonly name: string;
  readonly app: FrameworkApp | WebAppHandler | object;
  readonly config: WebAppConfig;

  constructor(name: string, appOrHandler: FrameworkApp | WebAppHandler | object, config: WebAppConfig) {
    const mount = config?.mountPath;
    // The checks moose-lib makes: the server's own routes stay reachable.
    if (typeof mount !== "string" || !mount.startsWith("/") || mount === "/" || mount.endsWith("/")) {
      throw new Error(`WebApp ${name}: mountPath must start with "/", not be "/" and not end with "/" (got ${JSON.stringify(mount)})`);
    }
    const reserved = RESERVED_MOUNT_PATHS.find((r) => mount === r || mount.startsWith(`${r}/`));
    if (reserved !== undefined) throw new Error(`WebApp ${name}: mountPath ${mount} is under ${reserved}, which the server uses (reserved: ${RESERVED_MOUNT_PATHS.join(", ")})`);
    this.name = name;
    this.app = appOrHandler;
    this.config = config;
    register(this);
  }
}
