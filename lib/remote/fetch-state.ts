import { EngineError, InvalidInputError, MooseError } from "../errors.js";
import { hashInfraMap, parseInfraMap } from "../model/infra-map.js";
import type { MigrationIssue, ProductionState } from "../prod/state.js";

/** Every moose-migrate HTTP response carries this header with the server's version. */
export const MOOSE_HEADER = "x-moose-migrate";
export const ADMIN_INFRAMAP_PATH = "admin/inframap";
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

/** Where the token came from, so a refusal can say which to fix. */
export type TokenSource = "--token" | "MOOSE_ADMIN_TOKEN";

export interface FetchStateOptions {
  readonly token?: string;
  readonly tokenSource?: TokenSource;
  /** Whole request, body included (default 10 s). */
  readonly timeoutMs?: number;
  /** For tests; the global fetch otherwise. */
  readonly fetch?: typeof fetch;
}

/** A remote instance's `/admin/inframap` answer, checked. */
export interface RemoteState extends ProductionState {
  /** The URL that answered. */
  readonly url: string;
  /** The `x-moose-migrate` header: the instance's moose-migrate version. */
  readonly serverVersion: string;
}

/**
 * `https://prod.example.com` → `https://prod.example.com/admin/inframap`; a base
 * path is kept (`https://host/moose/` → `https://host/moose/admin/inframap`), and a
 * URL already naming the endpoint is used as it is.
 * @throws InvalidInputError `REMOTE_URL_INVALID` for anything but an http(s) URL.
 */
export function inframapUrl(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InvalidInputError("REMOTE_URL_INVALID", `--url ${JSON.stringify(base)} is not a URL`, { hint: "pass the instance's base URL, e.g. --url https://moose.example.com" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    // `localhost:4000` parses as scheme "localhost:": most likely the scheme was left out.
    if (!base.includes("://")) {
      throw new InvalidInputError("REMOTE_URL_INVALID", `--url ${base} has no http:// or https:// in front`, { hint: `e.g. --url http://${base} (or https://)` });
    }
    throw new InvalidInputError("REMOTE_URL_INVALID", `--url ${base} uses ${url.protocol.replace(/:$/, "")}; moose prod speaks http and https`, { hint: "e.g. --url https://moose.example.com" });
  }
  if (url.username !== "" || url.password !== "") {
    throw new InvalidInputError("REMOTE_URL_INVALID", `--url must not carry credentials (user:password@)`, { hint: "pass the admin token with --token or MOOSE_ADMIN_TOKEN" });
  }
  url.search = "";
  url.hash = "";
  if (!url.pathname.replace(/\/+$/, "").endsWith(`/${ADMIN_INFRAMAP_PATH}`)) {
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/${ADMIN_INFRAMAP_PATH}`;
  }
  return url;
}

/**
 * Fetches a `moose prod` instance's current state (`GET /admin/inframap`).
 * Every way it can fail is a `MooseError` with a stable code:
 *
 * | code | exit | when |
 * | --- | --- | --- |
 * | `REMOTE_URL_INVALID` | 2 | not an http(s) URL |
 * | `REMOTE_UNREACHABLE` | 1 | connection refused, unknown host, connection reset |
 * | `REMOTE_TIMEOUT` | 1 | no complete answer within the timeout |
 * | `REMOTE_TLS` | 1 | certificate not trusted / expired / wrong host, or not TLS at all |
 * | `REMOTE_UNAUTHORIZED` | 2 | 401/403: no token, wrong token, admin API disabled |
 * | `REMOTE_RATE_LIMITED` | 1 | 429 after too many failed attempts |
 * | `REMOTE_REDIRECTED` | 2 | 3xx: use the URL it names |
 * | `REMOTE_NOT_MOOSE` | 1 | no `x-moose-migrate` header, or not the expected JSON |
 * | `REMOTE_SERVER_ERROR` | 1 | the instance failed to compute its state |
 *
 * @example
 * const state = await fetchRemoteState("https://moose.example.com", { token, tokenSource: "--token" });
 * planAgainst(extractProject(config), state.inframap, { kind: "remote", url: state.url });
 */
export async function fetchRemoteState(base: string, options: FetchStateOptions = {}): Promise<RemoteState> {
  const url = inframapUrl(base);
  const where = url.toString();
  const timeoutMs = options.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token !== undefined && options.token !== "") headers["authorization"] = `Bearer ${options.token}`;

  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let serverVersion: string | null;
  let body: string;
  let response: Response;
  try {
    response = await doFetch(url, { headers, signal, redirect: "manual" });
    status = response.status;
    serverVersion = response.headers.get(MOOSE_HEADER);
    body = await response.text();
  } catch (error) {
    throw transportError(error, where, timeoutMs);
  }

  if (status === 401 || status === 403) throw unauthorized(status, where, serverVersion, errorText(body), options);
  if (status >= 300 && status < 400) {
    const location = response.headers.get("location");
    throw new InvalidInputError("REMOTE_REDIRECTED", `${where} answered ${status} redirecting to ${location ?? "(no Location header)"}`, {
      hint: location ? `pass the instance's own URL: --url ${new URL(location, url).origin}` : "pass the instance's own URL to --url",
    });
  }
  if (serverVersion === null) {
    throw notMoose(where, `it answered HTTP ${status} without the ${MOOSE_HEADER} header every moose-migrate response carries`);
  }
  if (status === 429) {
    const retry = response.headers.get("retry-after");
    // The instance says why (this address's failures, or all addresses' checks: see the admin API).
    const why = errorText(body) || "too many failed admin authentications from this address";
    throw new EngineError("REMOTE_RATE_LIMITED", `${where} is refusing admin requests for now: ${why}${retry ? `; retry in ${retry} s` : ""}`, {
      hint: "check the token (--token or MOOSE_ADMIN_TOKEN), wait, and try again",
    });
  }
  if (status === 404) {
    throw new EngineError("REMOTE_NO_ADMIN_API", `${where} is moose-migrate ${serverVersion} but has no admin state endpoint (HTTP 404)`, {
      hint: "pass the instance's base URL (without a path), and check that it runs `moose prod`",
    });
  }
  if (status !== 200) {
    throw new EngineError("REMOTE_SERVER_ERROR", `${where} (moose-migrate ${serverVersion}) failed to report its state: HTTP ${status}${errorText(body) ? `: ${errorText(body)}` : ""}`, {
      hint: "see the instance's log",
    });
  }
  return { ...parseState(body, where), url: where, serverVersion };
}

function parseState(body: string, where: string): ProductionState {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw notMoose(where, "its answer is not JSON");
  }
  const d = doc as Partial<Record<keyof ProductionState, unknown>> | null;
  if (d === null || typeof d !== "object" || typeof d.version !== "string" || typeof d.hash !== "string" || d.inframap === undefined) {
    throw notMoose(where, "its answer lacks version, hash and inframap");
  }
  let inframap;
  try {
    inframap = parseInfraMap(d.inframap);
  } catch (error) {
    throw notMoose(where, `its inframap is not one this version reads: ${(error as Error).message}`, `moose-migrate ${d.version} serves it; use the same version on both sides`);
  }
  if (hashInfraMap(inframap) !== d.hash) {
    throw notMoose(where, `its inframap does not match the hash it sent (${d.hash})`, `moose-migrate ${d.version} serves it; use the same version on both sides`);
  }
  const m = (d.migrations ?? {}) as { applied?: unknown; pending?: unknown; issues?: unknown };
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  return {
    version: d.version,
    hash: d.hash,
    inframap,
    migrations: { applied: strings(m.applied), pending: strings(m.pending), issues: Array.isArray(m.issues) ? (m.issues as MigrationIssue[]) : [] },
    drift: strings(d.drift),
    driftChecked: d.driftChecked !== false,
  };
}

function notMoose(where: string, why: string, hint = "point --url at a `moose prod` instance (the base URL, e.g. https://moose.example.com)"): EngineError {
  return new EngineError("REMOTE_NOT_MOOSE", `${where} is not a moose-migrate instance this version can plan against: ${why}`, { hint });
}

function unauthorized(status: number, where: string, serverVersion: string | null, serverSays: string, options: FetchStateOptions): InvalidInputError {
  const sent = options.token !== undefined && options.token !== "";
  const said = serverSays ? `: ${serverSays}` : "";
  const proxy = serverVersion === null ? " (the answer did not come from moose-migrate: a proxy in front of it?)" : "";
  if (/admin API disabled/i.test(serverSays)) {
    return new InvalidInputError("REMOTE_UNAUTHORIZED", `${where} refused the request (HTTP ${status})${said}`, {
      hint: "on the instance, set [authentication] admin_api_key (or MOOSE_AUTHENTICATION__ADMIN_API_KEY) to the hash from `moose generate hash-token`, restart it, and pass the token",
    });
  }
  if (!sent) {
    return new InvalidInputError("REMOTE_UNAUTHORIZED", `${where} refused the request (HTTP ${status})${said}${proxy}; no token was sent`, {
      hint: "pass the admin bearer token with --token <token> or the MOOSE_ADMIN_TOKEN environment variable",
    });
  }
  const from = options.tokenSource === "MOOSE_ADMIN_TOKEN" ? "the MOOSE_ADMIN_TOKEN environment variable" : "--token";
  return new InvalidInputError("REMOTE_UNAUTHORIZED", `${where} refused the token from ${from} (HTTP ${status})${said}${proxy}`, {
    hint: "use the bearer token printed by `moose generate hash-token` together with the instance's admin_api_key (not the hash itself)",
  });
}

/** The `error` member of a JSON error body, or a short plain-text body. */
function errorText(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: unknown };
    if (typeof doc?.error === "string") return doc.error;
  } catch {
    // not JSON
  }
  const text = body.trim();
  return text.length > 0 && text.length <= 200 && !text.includes("<") ? text : "";
}

const TLS_CODES = /^(CERT_|ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)|HOSTNAME_MISMATCH$|EPROTO$)/;
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

/** What went wrong below HTTP, from fetch's error and its causes. */
function transportError(error: unknown, where: string, timeoutMs: number): MooseError {
  const chain: Array<{ name?: string; code?: string; message?: string }> = [];
  const visit = (e: unknown, depth: number) => {
    if (depth > 5 || e === null || typeof e !== "object") return;
    chain.push(e as { name?: string; code?: string; message?: string });
    visit((e as { cause?: unknown }).cause, depth + 1);
    for (const inner of (e as { errors?: unknown }).errors instanceof Array ? ((e as { errors: unknown[] }).errors) : []) visit(inner, depth + 1);
  };
  visit(error, 0);
  const codes = chain.map((e) => (typeof e.code === "string" ? e.code : ""));
  const innermost = readable(chain.filter((e) => e.message).at(-1)?.message ?? String(error));
  const seconds = `${+(timeoutMs / 1000).toFixed(3)} s`;

  if (chain.some((e) => e.name === "TimeoutError" || e.name === "AbortError") || codes.some((c) => c === "UND_ERR_CONNECT_TIMEOUT" || c === "UND_ERR_HEADERS_TIMEOUT" || c === "UND_ERR_BODY_TIMEOUT" || c === "ETIMEDOUT")) {
    return new EngineError("REMOTE_TIMEOUT", `${where} did not answer within ${seconds}`, {
      cause: error,
      hint: "check that the instance is up and not overloaded, or allow longer with --timeout <seconds>",
    });
  }
  const tls = codes.find((c) => TLS_CODES.test(c)) ?? (chain.some((e) => /SSL|TLS|certificate/i.test(e.message ?? "")) ? "TLS" : undefined);
  if (tls !== undefined) {
    return new EngineError("REMOTE_TLS", `TLS with ${where} failed: ${innermost}${tls !== "TLS" && !innermost.includes(tls) ? ` (${tls})` : ""}`, {
      cause: error,
      hint: /wrong version number|EPROTO|packet length/i.test(`${innermost} ${tls}`)
        ? "the port does not speak TLS: use http:// for a plain-HTTP instance, or the instance's https port"
        : "the instance's certificate is not trusted here: give it one from a trusted CA, or trust its CA with NODE_EXTRA_CA_CERTS=<ca.pem>",
    });
  }
  const unreachable = codes.find((c) => UNREACHABLE_CODES.has(c));
  if (unreachable !== undefined) {
    const what = unreachable === "ENOTFOUND" || unreachable === "EAI_AGAIN" ? "its host name does not resolve" : unreachable === "ECONNREFUSED" ? "connection refused" : innermost;
    return new EngineError("REMOTE_UNREACHABLE", `cannot reach ${where}: ${what} (${unreachable})`, {
      cause: error,
      hint: "check the URL and port, and that `moose prod` is running there (it prints the URL it listens on)",
    });
  }
  return new EngineError("REMOTE_UNREACHABLE", `cannot reach ${where}: ${innermost}`, { cause: error, hint: "check the URL and that `moose prod` is running there" });
}

/** OpenSSL's `80FC…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…` → `wrong version number`. */
function readable(message: string): string {
  const openssl = /^[0-9A-F]+:error:[0-9A-F]+:[^:]*routines:[^:]*:([^:]+):/.exec(message);
  return openssl ? openssl[1]! : message;
}
