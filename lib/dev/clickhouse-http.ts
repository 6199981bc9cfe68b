import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { timingSafeEqual, randomUUID } from "node:crypto";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { Readable } from "node:stream";
import { EngineError } from "../errors.js";
import { isLoopback } from "../config/config.js";
import { type OlapEngine } from "../engines/olap/engine.js";
import { parseStatement, type ParsedStatement } from "../engines/olap/parser.js";
import { writesFile } from "../engines/olap/statement-policy.js";
import { RawQueryError } from "../engines/olap/clickhouse-engine.js";

/**
 * ClickHouse's HTTP interface, served by `moose dev` from the embedded engine it
 * already holds (chDB admits one data directory per process), at a Moose
 * config's `host:host_port`: the "direct connection" of Moose's docs, for
 * `curl`, `@clickhouse/client` and the app's own clients.
 *
 * What it takes, as ClickHouse does: the query in `?query=` or in a POST body
 * (with `?query=`, the body is the INSERT's data); `database`, `default_format`,
 * `query_id`, `param_<name>` and any other parameter as a setting for that
 * query; the user and password as Basic auth, `X-ClickHouse-User`/`-Key`
 * headers or `user`/`password` parameters; gzip/deflate/br request bodies;
 * `GET /ping`. GET requests and `readonly=1|2` run in ClickHouse's read-only mode.
 * Errors are ClickHouse's own text (`Code: 60. DB::Exception: … (UNKNOWN_TABLE)`)
 * with its HTTP status and `X-ClickHouse-Exception-Code`.
 *
 * Kept from the rest of moose: one statement per request (ClickHouse's parser,
 * before anything runs), no `INTO OUTFILE` (the embedded engine would write the
 * file; a server never does over HTTP), loopback only, the configured user and
 * password, and no request a web page could send (an `Origin` or `Host` that is
 * not loopback is refused).
 */
export interface ClickHouseHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly olap: OlapEngine;
  readonly log?: (line: string) => void;
}

export interface ClickHouseHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Larger request bodies are refused (413); inserts bigger than this go in several requests. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** URL parameters that are not settings. */
const NOT_SETTINGS = new Set([
  "query",
  "database",
  "default_format",
  "query_id",
  "user",
  "password",
  "quota_key",
  "session_id",
  "session_timeout",
  "session_check",
  "compress",
  "decompress",
  "buffer_size",
  "wait_end_of_query",
  "readonly",
  "enable_http_compression",
  "http_zlib_compression_level",
  "send_progress_in_http_headers",
  "http_headers_progress_interval_ms",
  "add_http_cors_header",
  "http_native_compression_disable_checksumming_on_decompress",
  "cancel_http_readonly_queries_on_client_close",
]);

export async function startClickHouseHttp(options: ClickHouseHttpOptions): Promise<ClickHouseHttpServer> {
  const { olap } = options;
  const log = options.log ?? (() => {});
  const maybeRun = olap.rawQuery;
  if (maybeRun === undefined) throw new EngineError("OLAP_HTTP_UNSUPPORTED", "the ClickHouse HTTP interface is served from the embedded engine only");
  const run = maybeRun;
  const version = await olap.version();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`ClickHouse HTTP: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      if (!res.headersSent) fail(res, 1001, "STD_EXCEPTION", `internal error: ${error instanceof Error ? error.message : String(error)}`);
      else res.destroy();
    });
  });

  function fail(res: ServerResponse, code: number, name: string, message: string): void {
    sendError(res, `Code: ${code}. DB::Exception: ${message}. (${name})`);
  }

  function sendError(res: ServerResponse, raw: string): void {
    // chDB nests an error raised inside its session in another of the same code: answer the inner one, as a server would.
    const nested = /^Code: (\d+)\. DB::Exception: (Code: \1\. DB::Exception: .*?)(?: \(version [^)]*\))?\. \([A-Z0-9_]+\)\s*$/s.exec(raw);
    const message = (nested?.[2] ?? raw).replace(/ \(version [^)]*\)\s*$/, "");
    const m = /Code: (\d+)\..*\(([A-Z0-9_]+)\)\s*$/s.exec(message);
    const code = m?.[1] ?? "1001";
    const body = `${message.trimEnd()} (version ${version})\n`;
    res.writeHead(httpStatus(m?.[2] ?? ""), {
      "content-type": "text/plain; charset=UTF-8",
      "x-clickhouse-exception-code": code,
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://localhost");
    const params = url.searchParams;

    // A web page can send requests to loopback too; ClickHouse clients send no Origin, and a rebound DNS name is not loopback.
    const origin = req.headers.origin;
    const hostHeader = (req.headers.host ?? "").replace(/:\d+$/, "");
    if ((origin !== undefined && !loopbackOrigin(origin)) || (hostHeader !== "" && !isLoopback(hostHeader))) {
      await drain(req);
      fail(res, 497, "ACCESS_DENIED", "requests from web pages or through non-loopback host names are refused by moose dev's ClickHouse");
      return;
    }

    if ((method === "GET" || method === "HEAD") && (url.pathname === "/ping" || (url.pathname === "/" && !params.has("query")))) {
      res.writeHead(200, { "content-type": "text/html; charset=UTF-8", "content-length": 4 });
      res.end(method === "HEAD" ? undefined : "Ok.\n");
      return;
    }
    if (url.pathname !== "/" && url.pathname !== "/query") {
      await drain(req);
      fail(res, 1001, "STD_EXCEPTION", `There is no handle ${url.pathname}. Use / or /ping`);
      return;
    }
    if (method !== "GET" && method !== "POST") {
      await drain(req);
      res.writeHead(405, { allow: "GET, POST" }).end();
      return;
    }

    if (!authenticated(req, params, options.user, options.password)) {
      await drain(req);
      fail(res, 516, "AUTHENTICATION_FAILED", `${requestUser(req, params)}: Authentication failed: password is incorrect, or there is no user with such name`);
      return;
    }

    let body: string;
    try {
      body = method === "POST" ? await readBody(req) : "";
    } catch (error) {
      if (error instanceof TooLarge) {
        res.setHeader("connection", "close");
        fail(res, 1001, "STD_EXCEPTION", `the request body is over ${MAX_BODY_BYTES} bytes: send the data in several inserts`);
        return;
      }
      fail(res, 1001, "STD_EXCEPTION", `cannot read the request body: ${(error as Error).message}`);
      return;
    }

    const query = params.get("query") ?? undefined;
    const statement = query ?? body;
    const text = query !== undefined && method === "POST" && body !== "" ? `${query}\n${body}` : statement;
    if (statement.trim() === "") {
      fail(res, 62, "SYNTAX_ERROR", "Empty query");
      return;
    }

    const settings: Record<string, string> = {};
    const bound: Record<string, string> = {};
    for (const [name, value] of params) {
      if (name.startsWith("param_")) bound[name.slice("param_".length)] = value;
      else if (!NOT_SETTINGS.has(name)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          fail(res, 115, "UNKNOWN_SETTING", `Unknown setting '${name}'`);
          return;
        }
        settings[name] = value;
      }
    }
    let parsed: ParsedStatement;
    try {
      parsed = await parseStatement(statement, { what: "the ClickHouse HTTP request" }, bound);
      // VALUES data is split at a `;` by chDB, unlike the data of any other format (read to the end).
      if (text !== statement && / FORMAT Values$/.test(parsed.formatted)) await parseStatement(text, { what: "the ClickHouse HTTP request" }, bound);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = (error as Error).message.replace(/^the ClickHouse HTTP request: /, "").replace(/^ClickHouse cannot parse it: /, "");
      if (code === "SQL_MULTI_STATEMENT") fail(res, 62, "SYNTAX_ERROR", `Syntax error (Multi-statements are not allowed): ${message}`);
      else if (code === "SQL_EMPTY") fail(res, 62, "SYNTAX_ERROR", "Empty query");
      else fail(res, 62, "SYNTAX_ERROR", message);
      return;
    }
    if (writesFile(parsed)) {
      fail(res, 48, "NOT_IMPLEMENTED", "INTO OUTFILE is not allowed over HTTP: the file would be written by moose dev's process (write the response to a file on the client side)");
      return;
    }

    const readonlyParam = params.get("readonly");
    const readOnly = method === "GET" || (readonlyParam !== null && readonlyParam !== "0");
    const database = params.get("database") || undefined;
    const queryId = params.get("query_id") || randomUUID();

    let output: string;
    try {
      output = await run(text, {
        // The statement's own FORMAT wins, as on a server (chDB applies it to EXPLAIN's inner query otherwise).
        format: (parsed.kind === "InsertQuery" ? undefined : / FORMAT (\w+)$/.exec(parsed.formatted)?.[1]) ?? (params.get("default_format") || "TabSeparated"),
        readOnly,
        ...(database === undefined ? {} : { database }),
        ...(Object.keys(settings).length === 0 ? {} : { settings }),
        ...(Object.keys(bound).length === 0 ? {} : { params: bound }),
      });
    } catch (error) {
      if (error instanceof RawQueryError) {
        sendError(res, error.message);
        return;
      }
      throw error;
    }
    const json = /"meta":\s*\[/.test(output.slice(0, 64));
    res.writeHead(200, {
      "content-type": json ? "application/json; charset=UTF-8" : "text/plain; charset=UTF-8",
      "x-clickhouse-query-id": queryId,
      "x-clickhouse-server-display-name": "moose-dev",
      "content-length": Buffer.byteLength(output),
    });
    res.end(output);
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new EngineError("CLICKHOUSE_HTTP_LISTEN_FAILED", `cannot serve ClickHouse's HTTP interface on ${options.host}:${options.port}: ${error.code ?? error.message}`, {
          cause: error,
          hint:
            error.code === "EADDRINUSE"
              ? 'another process uses the port (a ClickHouse server?): stop it, change clickhouse_config.host_port, or develop against that server with engine = "server" in [clickhouse_config] (or load_infra = false)'
              : "check clickhouse_config.host and host_port",
        }),
      );
    };
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (error) => log(`ClickHouse HTTP server error: ${error.message}`));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** ClickHouse's HTTP status for an error name (its `exceptionCodeToHTTPStatus`). */
function httpStatus(name: string): number {
  if (["ACCESS_DENIED", "READONLY", "UNKNOWN_USER", "WRONG_PASSWORD", "REQUIRED_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE"].includes(name)) return 403;
  if (
    name === "SYNTAX_ERROR" ||
    name.startsWith("CANNOT_PARSE") ||
    ["UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "TOO_DEEP_AST", "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "INCORRECT_DATA", "TYPE_MISMATCH", "NUMBER_OF_ARGUMENTS_DOESNT_MATCH", "ILLEGAL_TYPE_OF_ARGUMENT", "BAD_ARGUMENTS", "CANNOT_READ_ALL_DATA", "INCORRECT_NUMBER_OF_COLUMNS", "NO_SUCH_COLUMN_IN_TABLE"].includes(name)
  ) {
    return 400;
  }
  if (name.startsWith("UNKNOWN_")) return 404;
  return 500;
}

function loopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && isLoopback(u.hostname);
  } catch {
    return false;
  }
}

function requestUser(req: IncomingMessage, params: URLSearchParams): string {
  return credentials(req, params).user;
}

function credentials(req: IncomingMessage, params: URLSearchParams): { user: string; password: string } {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Basic ")) {
    const decoded = Buffer.from(auth.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0 ? { user: decoded, password: "" } : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const headerUser = req.headers["x-clickhouse-user"];
  if (typeof headerUser === "string") {
    const key = req.headers["x-clickhouse-key"];
    return { user: headerUser, password: typeof key === "string" ? key : "" };
  }
  return { user: params.get("user") ?? "default", password: params.get("password") ?? "" };
}

function authenticated(req: IncomingMessage, params: URLSearchParams, user: string, password: string): boolean {
  const given = credentials(req, params);
  const same = (a: string, b: string) => {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    // Compare equal lengths only; a length difference is itself a mismatch.
    return x.length === y.length && timingSafeEqual(x, y);
  };
  const userOk = same(given.user, user);
  const passwordOk = same(given.password, password);
  return userOk && passwordOk;
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const encoding = (req.headers["content-encoding"] ?? "").toLowerCase();
  let stream: Readable = req;
  if (encoding === "gzip") stream = req.pipe(createGunzip());
  else if (encoding === "deflate") stream = req.pipe(createInflate());
  else if (encoding === "br") stream = req.pipe(createBrotliDecompress());
  else if (encoding !== "" && encoding !== "identity") throw new Error(`unsupported Content-Encoding ${encoding}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.resume();
      throw new TooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function drain(req: IncomingMessage): Promise<void> {
  req.resume();
  await new Promise<void>((resolve) => {
    if (req.readableEnded) resolve();
    else {
      req.once("end", () => resolve());
      req.once("error", () => resolve());
      req.once("close", () => resolve());
    }
  });
}
