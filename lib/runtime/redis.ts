import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { CacheStore } from "../dsl/runtime-context.js";
import { EngineError } from "../errors.js";

/**
 * A Redis connection speaking RESP2, enough for MooseCache: `AUTH`, `SELECT`, `PING`,
 * `GET`, `SET … EX … GET`, `DEL`, `SCAN`. Commands are pipelined; replies are matched to
 * them in order (Redis answers in order on one connection). The protocol is small and
 * fixed, so this saves the app a client library (moose-lib uses `redis`).
 */
export type RespValue = string | number | null | RespValue[];

/** A Redis error reply (`-ERR …`). */
export class RedisReplyError extends Error {
  override readonly name = "RedisReplyError";
}

export interface RedisConnection {
  command(args: readonly string[]): Promise<RespValue>;
  close(): Promise<void>;
}

interface Waiter {
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

/** Where a `redis://` / `rediss://` URL points, without its password (for messages). */
export function redisDisplayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.username = "";
    return u.href.replace(/\/$/, "");
  } catch {
    return url;
  }
}

/**
 * Opens a connection to the Redis at `url` (`redis://[user:password@]host:port[/db]`,
 * `rediss://` for TLS), authenticates and selects the database. Fails with an
 * `EngineError` `REDIS_UNAVAILABLE` naming the address when nothing answers within
 * `timeoutMs`, or when Redis refuses the credentials.
 *
 * @example
 * const redis = await connectRedis("redis://127.0.0.1:6379");
 * await redis.command(["SET", "k", "v", "EX", "60"]);
 */
export async function connectRedis(url: string, timeoutMs = 2000): Promise<RedisConnection> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = Number(u.port || 6379);
  const where = redisDisplayUrl(url);
  const socket: Socket = await new Promise<Socket>((resolve, reject) => {
    const s = u.protocol === "rediss:" ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new EngineError("REDIS_UNAVAILABLE", `no Redis answered at ${where} within ${timeoutMs} ms`, { hint: "start Redis there, or change [redis_config] url" }));
    }, timeoutMs);
    s.once(u.protocol === "rediss:" ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new EngineError("REDIS_UNAVAILABLE", `cannot connect to Redis at ${where}: ${error.code ?? error.message}`, { cause: error, hint: "start Redis there, or change [redis_config] url" }));
    });
  });
  socket.setNoDelay(true);
  const waiting: Waiter[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let broken: Error | undefined;
  const fail = (error: Error): void => {
    broken ??= error;
    for (const w of waiting.splice(0)) w.reject(error);
  };
  socket.on("data", (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    for (;;) {
      let parsed: { value: RespValue | RedisReplyError; end: number } | undefined;
      try {
        parsed = parseReply(buffer, 0);
      } catch (error) {
        fail(error as Error);
        socket.destroy();
        return;
      }
      if (parsed === undefined) return;
      buffer = buffer.subarray(parsed.end);
      const waiter = waiting.shift();
      if (waiter === undefined) continue;
      if (parsed.value instanceof RedisReplyError) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
  });
  socket.on("error", (error) => fail(new EngineError("REDIS_UNAVAILABLE", `the connection to Redis at ${where} failed: ${error.message}`, { cause: error })));
  socket.on("close", () => fail(new EngineError("REDIS_UNAVAILABLE", `the connection to Redis at ${where} closed`)));

  const connection: RedisConnection = {
    command(args) {
      if (broken) return Promise.reject(broken);
      return new Promise<RespValue>((resolve, reject) => {
        waiting.push({ resolve, reject });
        socket.write(encodeCommand(args));
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      });
    },
  };
  try {
    const user = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    if (password !== "") await connection.command(user !== "" ? ["AUTH", user, password] : ["AUTH", password]);
    const db = u.pathname.replace(/^\//, "");
    if (db !== "" && db !== "0") await connection.command(["SELECT", db]);
    await connection.command(["PING"]);
  } catch (error) {
    await connection.close();
    if (error instanceof EngineError) throw error;
    throw new EngineError("REDIS_UNAVAILABLE", `Redis at ${where} refused the connection: ${(error as Error).message}`, { cause: error, hint: "check the user, password and database in [redis_config] url" });
  }
  return connection;
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** One reply starting at `at`, or undefined when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, at: number): { value: RespValue | RedisReplyError; end: number } | undefined {
  const lineEnd = buf.indexOf("\r\n", at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString("utf8", at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new RedisReplyError(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { value: buf.toString("utf8", next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos);
        if (item === undefined) return undefined;
        if (item.value instanceof RedisReplyError) return item;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected Redis reply type ${JSON.stringify(type)}`);
  }
}

/**
 * MooseCache's store on a Redis server: strings with an expiry (`SET key value EX ttl GET`,
 * Redis 6.2 or later), keys listed with `SCAN … MATCH prefix*`. One connection, opened on
 * first use and opened again after it broke.
 *
 * @example
 * const store = redisCacheStore("redis://127.0.0.1:6379");
 * await store.set("MS::moosecache::k", "v", 3600);
 */
export function redisCacheStore(url: string): CacheStore & { readonly ready: () => Promise<void> } {
  let connection: Promise<RedisConnection> | undefined;
  const conn = (): Promise<RedisConnection> => {
    connection ??= connectRedis(url).catch((error: unknown) => {
      connection = undefined;
      throw error;
    });
    return connection;
  };
  const run = async (args: readonly string[]): Promise<RespValue> => {
    const c = await conn();
    try {
      return await c.command(args);
    } catch (error) {
      // A broken connection is replaced on the next call; a Redis error reply is the caller's.
      if (!(error instanceof RedisReplyError)) connection = undefined;
      throw error;
    }
  };
  const asString = (v: RespValue): string | null => (typeof v === "string" ? v : null);
  return {
    async ready() {
      await conn();
    },
    async get(key) {
      return asString(await run(["GET", key]));
    },
    async set(key, value, ttlSeconds) {
      // EX 0 is refused by Redis; a zero TTL means "expired at once", which PX 1 comes closest to.
      const expiry = ttlSeconds > 0 ? ["EX", String(Math.ceil(ttlSeconds))] : ["PX", "1"];
      return asString(await run(["SET", key, value, ...expiry, "GET"]));
    },
    async delete(keys) {
      if (keys.length > 0) await run(["DEL", ...keys]);
    },
    async keys(prefix) {
      const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
      const found = new Set<string>();
      let cursor = "0";
      do {
        const reply = await run(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"]);
        if (!Array.isArray(reply) || reply.length !== 2) throw new Error("unexpected reply to SCAN");
        cursor = String(reply[0]);
        for (const k of reply[1] as RespValue[]) if (typeof k === "string") found.add(k);
      } while (cursor !== "0");
      return [...found];
    },
    async close() {
      const c = connection;
      connection = undefined;
      if (c) await (await c.catch(() => undefined))?.close();
    },
  };
}
