import { connect as tcpConnect } from "node:net";
import {
  Connection,
  defaultGrpcRetryOptions,
  isGrpcServiceError,
  makeGrpcRetryInterceptor,
  NamespaceNotFoundError,
  ServiceError,
} from "@temporalio/client";
import { EngineError, MooseError } from "../../errors.js";

/** gRPC status codes this adapter tells apart (values from the gRPC spec). */
export const GrpcStatus = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, UNAVAILABLE: 14 } as const;

export interface ConnectOptions {
  readonly address: string;
  readonly namespace: string;
  readonly connectTimeoutMs: number;
}

/**
 * A verified connection to Temporal's frontend: the port answers, the server answers
 * GetSystemInfo, and the namespace exists. Each failure is an `EngineError` raised
 * before any change is applied, so a deploy with Temporal down records nothing.
 *
 * A plain TCP connect comes first because gRPC keeps retrying a refused connection
 * until its deadline and then reports only "Failed to connect before the deadline":
 * the socket error is both faster and says what is wrong (`ECONNREFUSED 127.0.0.1:7233`).
 */
export async function connectTemporal(options: ConnectOptions): Promise<Connection> {
  const deadline = Date.now() + options.connectTimeoutMs;
  const target = hostAndPort(options.address);
  if (target !== undefined) {
    try {
      await probe(target.host, target.port, options.connectTimeoutMs);
    } catch (err) {
      throw unavailable(options.address, err);
    }
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: options.address,
      connectTimeout: Math.max(1, deadline - Date.now()),
      // The SDK's default retries an unavailable server 10 times with backoff; every call
      // here also runs under a deadline, so three attempts smooth over a blip and no more.
      interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
    });
  } catch (err) {
    throw unavailable(options.address, err);
  }
  try {
    await connection.withDeadline(Math.max(deadline, Date.now() + 1_000), () =>
      connection.workflowService.describeNamespace({ namespace: options.namespace }),
    );
  } catch (err) {
    await connection.close();
    throw temporalError(err, { address: options.address, namespace: options.namespace, doing: `describing namespace "${options.namespace}"` });
  }
  return connection;
}

/**
 * A Temporal failure as one of our errors: unreachable (`TEMPORAL_UNAVAILABLE`), a
 * missing namespace (`TEMPORAL_NAMESPACE_NOT_FOUND`), or anything else the server said
 * (`TEMPORAL_REQUEST_FAILED`, with its gRPC status text). Our own errors, and errors
 * that did not come from Temporal (bugs), pass through unchanged.
 */
export function temporalError(err: unknown, where: { address: string; namespace: string; doing: string }): unknown {
  if (err instanceof MooseError) return err;
  const fromTemporal = err instanceof ServiceError || err instanceof NamespaceNotFoundError || grpcCode(err) !== undefined;
  if (!fromTemporal) return err;
  if (err instanceof NamespaceNotFoundError || (grpcCode(err) === GrpcStatus.NOT_FOUND && /namespace/i.test(grpcDetails(err) ?? ""))) {
    return new EngineError("TEMPORAL_NAMESPACE_NOT_FOUND", `Temporal namespace "${where.namespace}" does not exist at ${where.address}`, {
      cause: err,
      hint: `create it (temporal operator namespace create --namespace ${where.namespace}) or set [temporal_config] namespace`,
    });
  }
  const code = grpcCode(err);
  if (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED) return unavailable(where.address, err);
  const detail = grpcDetails(err) ?? (err instanceof Error ? err.message : String(err));
  return new EngineError("TEMPORAL_REQUEST_FAILED", `Temporal at ${where.address} failed ${where.doing}: ${detail}`, { cause: err });
}

export function unavailable(address: string, cause: unknown): EngineError {
  return new EngineError(
    "TEMPORAL_UNAVAILABLE",
    `Temporal at ${address} is unreachable: ${reason(cause)} (workflows are enabled in [features]; start Temporal or set workflows = false)`,
    { cause },
  );
}

/** The gRPC status code of an SDK error, looking through `cause` chains (the SDK wraps them in ServiceError). */
export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

function grpcDetails(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) return e.details || e.message;
  }
  return undefined;
}

function reason(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    // Node tries every address of a name (IPv6 and IPv4) and reports all failures.
    return [...new Set(err.errors.map((e: unknown) => reason(e)))].join("; ");
  }
  const details = grpcDetails(err);
  if (details !== undefined) return grpcCode(err) === GrpcStatus.DEADLINE_EXCEEDED ? `no answer before the deadline (${details})` : details;
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

/**
 * Whether anything accepts a TCP connection at a Temporal `host:port` within `timeoutMs`
 * (dev's question before it runs the embedded engine instead). A target that is not
 * `host:port` (e.g. `dns:///…`) counts as answering: the real connect then says more.
 */
export async function temporalAnswers(address: string, timeoutMs = 1_000): Promise<boolean> {
  const target = hostAndPort(address);
  if (target === undefined) return true;
  try {
    await probe(target.host, target.port, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** `host:port` or `[v6]:port`; undefined for anything else (e.g. a `dns:///` target), which skips the probe. */
function hostAndPort(address: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:/\s]+):(\d+)$/.exec(address);
  if (!m) return undefined;
  return { host: m[1]!, port: Number(m[2]) };
}

function probe(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}
