/**
 * A Temporal frontend for tests, speaking the real gRPC protocol: the
 * `temporal.api.workflowservice.v1.WorkflowService` definition and message codecs come
 * from @temporalio/proto, the transport is @grpc/grpc-js, so @temporalio/client talks
 * to it exactly as to a server. It implements the schedule RPCs with real state and the
 * real server's observable behaviour where the client depends on it:
 *
 * - cron strings are compiled into `structured_calendar` and the text dropped, as the
 *   real server does, so a client that reads `cron_string` back finds nothing;
 * - errors are gRPC statuses with the server's codes: ALREADY_EXISTS for a taken id,
 *   NOT_FOUND for a missing schedule, NOT_FOUND + `NamespaceNotFoundFailure` details for
 *   an unknown namespace, INVALID_ARGUMENT "Invalid schedule spec: ..." for a bad cron;
 * - DescribeSchedule fills in the default overlap policy and catch-up window;
 * - ListSchedules pages (`listPageSize` forces small pages).
 *
 * Methods it does not implement answer UNIMPLEMENTED (grpc-js's answer for an
 * unregistered method). Every request is recorded, decoded, for assertions.
 */
import * as grpc from "@grpc/grpc-js";
import proto from "@temporalio/proto";

const SERVICE = "temporal.api.workflowservice.v1.WorkflowService";

/** The part of protobufjs's reflection API used here (the package's types do not declare it on the root). */
interface MessageType {
  decode(buf: Uint8Array): object;
  encode(msg: object): { finish(): Uint8Array };
  fromObject(obj: object): object;
  toObject(msg: object, options?: Record<string, unknown>): Record<string, any>;
}
interface Reflection {
  lookupService(name: string): { methods: Record<string, { requestType: string; responseType: string; resolve(): unknown; resolvedRequestType: MessageType | null; resolvedResponseType: MessageType | null }> };
  lookupType(name: string): MessageType;
}
const root = proto as unknown as Reflection;

/** The RPCs this server answers. */
export const IMPLEMENTED_RPCS = [
  "GetSystemInfo",
  "DescribeNamespace",
  "CreateSchedule",
  "DescribeSchedule",
  "UpdateSchedule",
  "PatchSchedule",
  "DeleteSchedule",
  "ListSchedules",
] as const;
export type ImplementedRpc = (typeof IMPLEMENTED_RPCS)[number];

export interface RecordedRequest {
  readonly method: ImplementedRpc;
  /** The `temporal-namespace` header the client sent, if any. */
  readonly namespaceHeader: string | undefined;
  /** The request message as a plain object: enums as names, int64 as numbers, bytes as Buffers. */
  readonly request: Record<string, any>;
}

/** One schedule as the server holds it (plain proto objects, enums as numbers). */
export interface StoredSchedule {
  readonly scheduleId: string;
  schedule: Record<string, any>;
  readonly memo: Record<string, any> | undefined;
  readonly searchAttributes: Record<string, any> | undefined;
  readonly createTime: Date;
  updateTime: Date | undefined;
  conflictToken: number;
}

export interface TemporalTestServerOptions {
  /** Namespaces that exist. Default `["default"]`. */
  readonly namespaces?: readonly string[];
  /** Largest ListSchedules page, whatever the client asks for. Default 1000. */
  readonly listPageSize?: number;
}

export interface TemporalTestServer {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly requests: readonly RecordedRequest[];
  /** The recorded requests of one method, oldest first. */
  requestsOf(method: ImplementedRpc): Array<Record<string, any>>;
  /** Forget recorded requests (state is kept). */
  clearRequests(): void;
  /** Live state: namespace → schedule id → schedule. */
  schedules(namespace?: string): ReadonlyMap<string, StoredSchedule>;
  /** The next call of `method` fails with this status instead of running. */
  failNext(method: ImplementedRpc, code: grpc.status, details: string): void;
  /** The next call of `method` is never answered (until the client's deadline or close). */
  stallNext(method: ImplementedRpc): void;
  close(): Promise<void>;
}

type Handler = (request: Record<string, any>, namespaceHeader: string | undefined) => object;

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly metadata?: grpc.Metadata,
  ) {
    super(details);
  }
}

/**
 * Starts a server on a random loopback port. Always `close()` it (an ava `after.always` hook).
 *
 * @example
 * const server = await startTemporalTestServer();
 * try { ... connect @temporalio/client to server.address ... } finally { await server.close(); }
 */
export async function startTemporalTestServer(options: TemporalTestServerOptions = {}): Promise<TemporalTestServer> {
  const namespaces = new Map<string, Map<string, StoredSchedule>>((options.namespaces ?? ["default"]).map((ns) => [ns, new Map()]));
  const listPageSize = options.listPageSize ?? 1000;
  const requests: RecordedRequest[] = [];
  const failures = new Map<ImplementedRpc, Array<RpcError | "stall">>();

  const store = (namespace: string): Map<string, StoredSchedule> => {
    const schedules = namespaces.get(namespace);
    if (schedules === undefined) throw namespaceNotFound(namespace);
    return schedules;
  };
  const find = (namespace: string, scheduleId: string): StoredSchedule => {
    const found = store(namespace).get(scheduleId);
    if (found === undefined) throw new RpcError(grpc.status.NOT_FOUND, "schedule not found");
    return found;
  };

  const handlers: Record<ImplementedRpc, Handler> = {
    GetSystemInfo: () => ({ serverVersion: "1.27.0-moose-test", capabilities: { signalAndQueryHeader: true, internalErrorDifferentiation: true } }),
    DescribeNamespace: (req) => {
      store(req.namespace ?? "");
      return { namespaceInfo: { name: req.namespace, state: 1, id: `test-${req.namespace}`, supportsSchedules: true }, config: {} };
    },
    CreateSchedule: (req) => {
      const schedules = store(req.namespace ?? "");
      if (!req.scheduleId) throw new RpcError(grpc.status.INVALID_ARGUMENT, "ScheduleId is not set on request.");
      if (schedules.has(req.scheduleId)) throw new RpcError(grpc.status.ALREADY_EXISTS, "schedule with this ID is already registered");
      const schedule = canonicalizeSchedule(req.schedule ?? {});
      schedules.set(req.scheduleId, {
        scheduleId: req.scheduleId,
        schedule,
        memo: req.memo,
        searchAttributes: req.searchAttributes,
        createTime: new Date(),
        updateTime: undefined,
        conflictToken: 1,
      });
      return { conflictToken: Buffer.from("1") };
    },
    DescribeSchedule: (req) => {
      const s = find(req.namespace ?? "", req.scheduleId ?? "");
      return {
        schedule: s.schedule,
        info: {
          actionCount: 0,
          createTime: timestamp(s.createTime),
          ...(s.updateTime === undefined ? {} : { updateTime: timestamp(s.updateTime) }),
        },
        ...(s.memo === undefined ? {} : { memo: s.memo }),
        ...(s.searchAttributes === undefined ? {} : { searchAttributes: s.searchAttributes }),
        conflictToken: Buffer.from(String(s.conflictToken)),
      };
    },
    UpdateSchedule: (req) => {
      const s = find(req.namespace ?? "", req.scheduleId ?? "");
      if (req.conflictToken && req.conflictToken.length > 0 && Buffer.from(req.conflictToken).toString() !== String(s.conflictToken)) {
        throw new RpcError(grpc.status.FAILED_PRECONDITION, "mismatched conflict token");
      }
      s.schedule = canonicalizeSchedule(req.schedule ?? {});
      s.updateTime = new Date();
      s.conflictToken++;
      return {};
    },
    PatchSchedule: (req) => {
      const s = find(req.namespace ?? "", req.scheduleId ?? "");
      const patch = req.patch ?? {};
      const state = (s.schedule.state ??= {});
      if (patch.pause) {
        state.paused = true;
        state.notes = patch.pause;
      }
      if (patch.unpause) {
        state.paused = false;
        state.notes = patch.unpause;
      }
      s.updateTime = new Date();
      s.conflictToken++;
      return {};
    },
    DeleteSchedule: (req) => {
      const schedules = store(req.namespace ?? "");
      if (!schedules.delete(req.scheduleId ?? "")) throw new RpcError(grpc.status.NOT_FOUND, "schedule not found");
      return {};
    },
    ListSchedules: (req) => {
      const all = [...store(req.namespace ?? "").values()].sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
      const offset = req.nextPageToken && req.nextPageToken.length > 0 ? Number(Buffer.from(req.nextPageToken).toString()) : 0;
      const size = Math.min(req.maximumPageSize || 1000, listPageSize);
      const page = all.slice(offset, offset + size);
      const next = offset + size < all.length ? Buffer.from(String(offset + size)) : undefined;
      return {
        schedules: page.map((s) => ({
          scheduleId: s.scheduleId,
          ...(s.memo === undefined ? {} : { memo: s.memo }),
          ...(s.searchAttributes === undefined ? {} : { searchAttributes: s.searchAttributes }),
          info: {
            spec: s.schedule.spec,
            workflowType: s.schedule.action?.startWorkflow?.workflowType,
            notes: s.schedule.state?.notes ?? "",
            paused: s.schedule.state?.paused === true,
          },
        })),
        ...(next === undefined ? {} : { nextPageToken: next }),
      };
    },
  };

  const service = root.lookupService(SERVICE);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  const pending = new Set<grpc.sendUnaryData<object>>();
  for (const method of IMPLEMENTED_RPCS) {
    const rpc = service.methods[method];
    if (rpc === undefined) throw new Error(`${SERVICE} has no method ${method}`);
    rpc.resolve();
    const requestType = rpc.resolvedRequestType!;
    const responseType = rpc.resolvedResponseType!;
    definition[method] = {
      path: `/${SERVICE}/${method}`,
      requestStream: false,
      responseStream: false,
      originalName: method,
      requestSerialize: (msg: object) => Buffer.from(requestType.encode(requestType.fromObject(msg)).finish()),
      requestDeserialize: (buf: Buffer) => requestType.decode(buf),
      responseSerialize: (msg: object) => Buffer.from(responseType.encode(responseType.fromObject(msg)).finish()),
      responseDeserialize: (buf: Buffer) => responseType.decode(buf),
    };
    const handler = handlers[method];
    implementation[method] = ((call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      const header = call.metadata.get("temporal-namespace")[0];
      requests.push({
        method,
        namespaceHeader: typeof header === "string" ? header : undefined,
        request: requestType.toObject(call.request, { enums: String, longs: Number }),
      });
      const injected = failures.get(method)?.shift();
      if (injected === "stall") {
        pending.add(callback);
        return;
      }
      if (injected !== undefined) return callback(serviceError(injected));
      try {
        callback(null, handler(requestType.toObject(call.request, { longs: Number }), typeof header === "string" ? header : undefined));
      } catch (err) {
        callback(serviceError(err instanceof RpcError ? err : new RpcError(grpc.status.INTERNAL, String(err))));
      }
    }) as grpc.handleUnaryCall<object, object>;
  }

  const server = new grpc.Server();
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );

  let closed = false;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    requestsOf: (method) => requests.filter((r) => r.method === method).map((r) => r.request),
    clearRequests: () => void requests.splice(0),
    schedules: (namespace = "default") => store(namespace),
    failNext: (method, code, details) => failures.set(method, [...(failures.get(method) ?? []), new RpcError(code, details)]),
    stallNext: (method) => failures.set(method, [...(failures.get(method) ?? []), "stall"]),
    close: async () => {
      if (closed) return;
      closed = true;
      pending.clear();
      // Force: a client's open HTTP/2 session would otherwise hold a graceful shutdown.
      server.forceShutdown();
    },
  };
}

function serviceError(err: RpcError): Partial<grpc.StatusObject> {
  return { code: err.code, details: err.details, ...(err.metadata === undefined ? {} : { metadata: err.metadata }) };
}

/** NOT_FOUND with the `NamespaceNotFoundFailure` detail the real server attaches, which the SDK turns into NamespaceNotFoundError. */
function namespaceNotFound(namespace: string): RpcError {
  const failure = root.lookupType("temporal.api.errordetails.v1.NamespaceNotFoundFailure");
  const status = root.lookupType("google.rpc.Status");
  const details = status.encode(
    status.fromObject({
      code: grpc.status.NOT_FOUND,
      message: `Namespace ${namespace} is not found.`,
      details: [
        {
          type_url: "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure",
          value: failure.encode(failure.fromObject({ namespace })).finish(),
        },
      ],
    }),
  ).finish();
  const metadata = new grpc.Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(details));
  return new RpcError(grpc.status.NOT_FOUND, `Namespace ${namespace} is not found.`, metadata);
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

const OVERLAP_SKIP = 1;
const ONE_YEAR_S = 365 * 24 * 3600;

/** What the real server stores for a schedule: cron strings compiled, policy defaults filled in. */
function canonicalizeSchedule(schedule: Record<string, any>): Record<string, any> {
  const spec = { ...(schedule.spec ?? {}) };
  const calendars: Array<Record<string, any>> = [...(spec.structuredCalendar ?? [])];
  const intervals: Array<Record<string, any>> = [...(spec.interval ?? [])];
  for (const cron of (spec.cronString ?? []) as string[]) {
    const compiled = compileCron(cron);
    if ("interval" in compiled) intervals.push(compiled);
    else calendars.push(compiled);
  }
  delete spec.cronString;
  if (calendars.length > 0) spec.structuredCalendar = calendars;
  if (intervals.length > 0) spec.interval = intervals;
  const policies = { ...(schedule.policies ?? {}) };
  if (!policies.overlapPolicy) policies.overlapPolicy = OVERLAP_SKIP;
  if (!policies.catchupWindow) policies.catchupWindow = { seconds: ONE_YEAR_S };
  return { ...schedule, spec, policies, state: { ...(schedule.state ?? {}) } };
}

const MACROS: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};
const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/** A cron string as the server compiles it: a StructuredCalendarSpec, or an IntervalSpec for `@every`. */
function compileCron(text: string): Record<string, any> {
  const invalid = (why: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, `Invalid schedule spec: invalid cron string "${text}": ${why}`);
  const trimmed = text.trim();
  const every = /^@every\s+(\S+)$/.exec(trimmed);
  if (every) {
    const seconds = goDurationSeconds(every[1]!);
    if (seconds === undefined || seconds <= 0) throw invalid("bad @every duration");
    return { interval: { seconds: Math.floor(seconds), nanos: Math.round((seconds % 1) * 1e9) } };
  }
  const expanded = MACROS[trimmed.toLowerCase()] ?? trimmed;
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5) throw invalid(`expected 5 fields, got ${fields.length}`);
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  return {
    second: [{ start: 0, end: 0, step: 1 }],
    minute: ranges(minute, 0, 59, [], invalid),
    hour: ranges(hour, 0, 23, [], invalid),
    dayOfMonth: ranges(dom, 1, 31, [], invalid),
    month: ranges(month, 1, 12, MONTHS, invalid),
    dayOfWeek: ranges(dow, 0, 6, DAYS, invalid),
  };
}

function ranges(field: string, min: number, max: number, names: string[], invalid: (why: string) => RpcError): Array<{ start: number; end: number; step: number }> {
  const value = (v: string): number => {
    const named = names.indexOf(v.toUpperCase());
    const n = named >= 0 ? named + (names.length === 12 ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max)) throw invalid(`"${v}" is out of range ${min}-${max}`);
    return n;
  };
  return field.split(",").map((part) => {
    const [span = "", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw invalid(`bad step in "${part}"`);
    if (span === "*") return { start: min, end: max, step };
    const [a = "", b] = span.split("-");
    const start = value(a);
    const end = b !== undefined ? value(b) : stepText !== undefined ? max : start;
    if (end < start) throw invalid(`empty range "${part}"`);
    return { start, end, step };
  });
}

function goDurationSeconds(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, n, u] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)) total += Number(n) * unit[u!]!;
  return total;
}

/** A `json/plain` payload's value (what the client's default data converter writes). */
export function payloadValue(payload: { metadata?: Record<string, Uint8Array>; data?: Uint8Array } | undefined): unknown {
  if (payload?.data === undefined) return undefined;
  const encoding = payload.metadata?.encoding === undefined ? undefined : Buffer.from(payload.metadata.encoding).toString();
  if (encoding !== "json/plain") throw new Error(`unexpected payload encoding ${encoding}`);
  return JSON.parse(Buffer.from(payload.data).toString());
}

/** A recorded Memo message as plain values. */
export function memoValues(memo: { fields?: Record<string, any> } | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(memo?.fields ?? {}).map(([k, p]) => [k, payloadValue(p)]));
}

/** A recorded google.protobuf.Duration in milliseconds. */
export function durationMs(duration: { seconds?: number; nanos?: number } | undefined): number | undefined {
  if (duration === undefined) return undefined;
  return (duration.seconds ?? 0) * 1000 + Math.round((duration.nanos ?? 0) / 1e6);
}
