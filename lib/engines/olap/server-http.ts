import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { parseError } from "@clickhouse/client";

/**
 * One request to ClickHouse's HTTP interface. `sql` goes in the body unless `data` is
 * given, in which case `sql` goes in the URL (`query=`) and `data` in the body (an INSERT's rows).
 */
export interface ServerRequest {
  readonly sql: string;
  readonly data?: string;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly queryId?: string;
}

export interface ServerHttpOptions {
  /** `http://host:port` or `https://host:port`. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** The current database of every request; none: the user's default. */
  readonly database?: string;
  /** Named first in the User-Agent header (ClickHouse keeps it in `system.query_log.http_user_agent`). */
  readonly application: string;
  readonly requestTimeoutMs: number;
  /** A kept-alive socket idle for this long is not reused (see {@link ServerHttp}). */
  readonly idleSocketTtlMs: number;
}

/**
 * ClickHouse's HTTP interface over `node:http` with kept-alive sockets: the statements,
 * reads and row inserts of a server connection (lib/engines/olap/server.ts).
 *
 * Not `@clickhouse/client`'s request path, which costs milliseconds more per request on
 * loopback (1.23.1 against 18.16, both with kept-alive sockets; figures in README
 * *Performance*, `scripts/bench/deploy-probe.mjs floor`), for two reasons neither of which
 * an option turns off: every request first waits for a timer (`await sleep(0)`, at least
 * 1 ms, so that its idle-socket timers can run under CPU load), and every body, however
 * small, is streamed chunked through `stream.pipeline`. Here a body is one
 * write with its `Content-Length`, and a free socket idle for `idleSocketTtlMs` is
 * destroyed when the next request is made, by its age rather than by a timer (timers run
 * late under load; older servers close an idle connection after 3 s and a reused closed
 * socket answers ECONNRESET). Errors are ClickHouse's, parsed as the client parses them
 * (`parseError`), so messages do not depend on the transport.
 */
export class ServerHttp {
  readonly #agent: http.Agent;
  readonly #freedAt = new WeakMap<Socket, number>();
  readonly #base: URL;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #secure: boolean;

  constructor(private readonly options: ServerHttpOptions) {
    this.#base = new URL(options.url);
    this.#secure = this.#base.protocol === "https:";
    this.#agent = this.#secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.#headers = {
      Authorization: `Basic ${Buffer.from(`${options.user}:${options.password}`).toString("base64")}`,
      Connection: "keep-alive",
      "User-Agent": `${options.application} node/${process.versions.node}`,
    };
  }

  /** The response's body; ClickHouse's error (or the socket's, with its `code`) when it failed. */
  send(request: ServerRequest): Promise<string> {
    this.#retireStale();
    const params = new URLSearchParams([["query_id", request.queryId ?? randomUUID()]]);
    for (const [key, value] of Object.entries(request.settings)) params.append(key, String(value));
    if (this.options.database !== undefined && this.options.database !== "default") params.append("database", this.options.database);
    if (request.data !== undefined) params.append("query", request.sql);
    const body = Buffer.from(request.data ?? request.sql, "utf8");
    const url = new URL(this.#base);
    url.search = params.toString();
    return new Promise<string>((resolve, reject) => {
      const req = (this.#secure ? https : http).request(url, {
        method: "POST",
        agent: this.#agent,
        headers: { ...this.#headers, "Content-Length": String(body.length) },
      });
      req.setTimeout(this.options.requestTimeoutMs, () => req.destroy(new Error(`no answer within ${this.options.requestTimeoutMs} ms`)));
      req.on("socket", (socket: Socket) => {
        if (this.#freedAt.has(socket)) return;
        this.#freedAt.set(socket, 0);
        socket.on("free", () => this.#freedAt.set(socket, Date.now()));
      });
      req.on("error", reject);
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300 || res.headers["x-clickhouse-exception-code"] !== undefined) reject(parseError(text));
          else resolve(text);
        });
      });
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Destroys the free sockets idle for the time to live or longer, before one of them is taken. */
  #retireStale(): void {
    const now = Date.now();
    for (const sockets of Object.values(this.#agent.freeSockets)) {
      for (const socket of [...(sockets ?? [])]) {
        const freed = this.#freedAt.get(socket as Socket) ?? 0;
        if (freed > 0 && now - freed >= this.options.idleSocketTtlMs) socket.destroy();
      }
    }
  }
}
