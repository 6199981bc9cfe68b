import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EngineError } from "../errors.js";

/**
 * One route (or a family of routes). Returns true when it answered the request, false
 * to let the next handler try. Handlers are asked in order; the first to answer wins.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface HttpServerOptions {
  readonly host: string;
  /** 0 picks a free port; the chosen one is in the result. */
  readonly port: number;
  /**
   * The current routes, read for every request: endpoints appear and disappear as
   * migrations add and remove them, without a restart.
   */
  readonly routes: () => readonly RouteHandler[];
  /** One line per notable event (a handler that threw, a request that could not be answered). */
  readonly log?: (line: string) => void;
}

export interface RunningHttpServer {
  /** `http://host:port`, for clients (a wildcard host is shown as the loopback address). */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, ends open ones (keep-alive included) and resolves when done. */
  close(): Promise<void>;
}

/** This package's version, in the {@link VERSION_HEADER} of every response. */
export const MOOSE_MIGRATE_VERSION: string = readVersion();

/** Header on every response; clients (`moose plan --url`) use it to recognise a moose instance. */
export const VERSION_HEADER = "x-moose-migrate";

function readVersion(): string {
  try {
    // dist/lib/server/server.js -> package.json three folders up.
    const json = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof json.version === "string" ? json.version : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * An error a route throws to answer with a given status: `{ error: message, ...body }`.
 * Anything else a route throws is a 500.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Writes `body` as JSON with `status`. BigInts are written as strings (ClickHouse's
 * 64-bit integers reach handlers that way). Does nothing when a response was already sent.
 *
 * @example sendJson(res, 404, { error: "no route /x" });
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = JSON.stringify(body === undefined ? null : body, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-length", Buffer.byteLength(text));
  res.end(text);
}

/**
 * Reads a request body as JSON. Throws an {@link HttpError}: 413 when it is larger than
 * `limitBytes` (the rest is not read), 400 when it is empty or not JSON (with the position
 * JSON.parse reports).
 *
 * @example const body = await readJsonBody(req, 10 * 1024 * 1024);
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) {
    throw new HttpError(413, `request body of ${declared} bytes is larger than the limit of ${limitBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limitBytes) {
      throw new HttpError(413, `request body is larger than the limit of ${limitBytes} bytes`);
    }
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "request body is empty; send JSON");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The message of anything thrown, for a 500 answer and the log. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Starts an HTTP server on `host:port`. Built in: `GET /health` → `{ status: "ok" }`;
 * no route → 404 `{ error }`; a route that throws → 500 `{ error }` (logged; the server
 * stays up). Every response carries `x-moose-migrate: <version>`.
 *
 * Fails with an `EngineError` `HTTP_LISTEN_FAILED` when the port cannot be bound.
 *
 * @example
 * const server = await startHttpServer({ host: "127.0.0.1", port: 0, routes: () => [apiRoutes] });
 * try { await fetch(`${server.url}/health`); } finally { await server.close(); }
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const log = options.log ?? (() => {});
  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader(VERSION_HEADER, MOOSE_MIGRATE_VERSION);
    const method = req.method ?? "GET";
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      sendJson(res, 400, { error: `malformed request target ${JSON.stringify(req.url)}` });
      return;
    }
    try {
      if ((method === "GET" || method === "HEAD") && url.pathname === "/health") {
        sendJson(res, 200, { status: "ok" });
        return;
      }
      for (const route of options.routes()) {
        if (await route(req, res, url)) {
          if (!res.writableEnded) res.end();
          return;
        }
      }
      sendJson(res, 404, { error: `no route for ${method} ${url.pathname}` });
    } catch (error) {
      if (error instanceof HttpError) {
        // The client may still be sending a body we refused to read: close the connection after answering.
        const close: Record<string, string> = error.status === 413 ? { connection: "close" } : {};
        sendJson(res, error.status, { error: error.message, ...error.body }, { ...error.headers, ...close });
        return;
      }
      log(`${method} ${url.pathname} failed: ${error instanceof Error && error.stack ? error.stack : messageOf(error)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, 500, { error: `internal error while answering ${method} ${url.pathname}: ${messageOf(error)}` });
    }
  }

  server.on("clientError", (error, socket) => {
    if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\n${VERSION_HEADER}: ${MOOSE_MIGRATE_VERSION}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
    log(`bad HTTP request: ${messageOf(error)}`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      reject(
        new EngineError("HTTP_LISTEN_FAILED", `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
          cause: error,
          hint: error.code === "EADDRINUSE" ? "another process uses the port: stop it or choose another port (--port, or http_server_config.port)" : "check http_server_config.host and port",
        }),
      );
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(options.port, options.host);
  });
  server.on("error", (error) => log(`HTTP server error: ${messageOf(error)}`));

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${displayHost(options.host)}:${port}`,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still running get a moment to finish, then their connections are cut.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}

function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
