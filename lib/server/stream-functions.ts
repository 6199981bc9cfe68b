import { join } from "node:path";
import type { StreamEngine } from "../engines/stream/engine.js";
import { RoutedMessage } from "../dsl/stream.js";
import type { InfraMap } from "../model/infra-map.js";
import { parseClickHouseType } from "../model/clickhouse-type.js";
import { describeAppError, type LoadedApp, type LoadedStream } from "../runtime/load-app.js";
import { versionedName } from "../runtime/names.js";
import { TopicConsumer, type ConsumedRecord } from "./topic-consumer.js";

export interface StreamFunctionsOptions {
  /** The app as loaded now: every batch calls the functions of the latest load. */
  readonly app: () => LoadedApp | undefined;
  /** The state being served: a function runs only while its source topic exists. */
  readonly getState: () => InfraMap;
  readonly streams: StreamEngine;
  /** Offsets are kept in `<stateDir>/functions/<id>.json`. */
  readonly stateDir: string;
  /** Lines about the runner itself (started, stopped, a produce that failed and is retried). */
  readonly log: (line: string) => void;
  /** Lines about the app's code (a transform or consumer that threw), for the developer's terminal. */
  readonly appLog: (line: string) => void;
  /** App file positions in `appLog` lines are relative to this folder. */
  readonly projectDir?: string;
  /** Pause between passes that found nothing (default 250 ms). */
  readonly pollIntervalMs?: number;
}

export interface StreamFunctions {
  /** Starts the functions the app and the state declare and stops those they no longer do. */
  refresh(): void;
  /** Waits until every running function has handled what its topic held when called. */
  flush(): Promise<void>;
  /** Stops every function after its current batch; offsets are on disk when it resolves. */
  stop(): Promise<void>;
  /** The running functions' ids: `Foo__Bar` (transform), `Foo__consumer` (consumer), `Foo__multi` (addMultiTransform). */
  running(): string[];
}

/** One function of the app bound to its source topic, found again in each new load by `id`. */
interface FunctionSpec {
  readonly id: string;
  readonly label: string;
  readonly sourceTopic: string;
  readonly kind: "transform" | "consumer" | "multi";
  /** Position among the stream's functions of this kind (and destination), to find it in a reload. */
  readonly index: number;
  readonly to?: string;
}

/**
 * Runs the app's stream functions as Moose's streaming runner does, on the embedded log or
 * Kafka: every `addTransform` (each record → zero, one or many records for its
 * destination: a record, an array, or `undefined`/`null`), `addMultiTransform`
 * (`dest.routed(values)` for any number of streams) and `addConsumer` reads its source
 * topic from offsets of its own. A function that throws does not stop anything: the
 * record goes to the function's dead-letter queue (its `deadLetterQueue`, else the
 * stream's default) with Moose's columns `originalRecord` (the record plus
 * `__sourcePartition`, `__sourceOffset`, `__sourceTimestamp`), `errorMessage`,
 * `errorType`, `failedAt`, `source = "transform"`, and the error is reported with the
 * .ts file:line of the app frame that threw. Outputs and dead letters of a batch are
 * produced before its offsets move (at least once).
 *
 * @example
 * const fns = startStreamFunctions({ app: () => loaded, getState, streams, stateDir, log, appLog: say });
 * fns.refresh(); // after every reload or migration
 */
export function startStreamFunctions(options: StreamFunctionsOptions): StreamFunctions {
  const running = new Map<string, { readonly spec: FunctionSpec; readonly consumer: TopicConsumer }>();
  const stopping = new Set<Promise<void>>();
  let stopped = false;

  const stopOne = (id: string): void => {
    const entry = running.get(id);
    if (!entry) return;
    running.delete(id);
    const done = entry.consumer.stop().finally(() => stopping.delete(done));
    stopping.add(done);
  };

  const refresh = (): void => {
    if (stopped) return;
    const app = options.app();
    const state = options.getState();
    const wanted = new Map<string, FunctionSpec>();
    if (app) for (const spec of functionSpecs(app)) if (state.topics[spec.sourceTopic] !== undefined) wanted.set(spec.id, spec);
    for (const [id, entry] of running) {
      if (!wanted.has(id)) {
        options.log(`${entry.spec.label}: stopped (no longer declared, or its topic is gone)`);
        stopOne(id);
      }
    }
    for (const [id, spec] of wanted) {
      if (running.has(id)) continue;
      const consumer = new TopicConsumer(
        {
          label: spec.label,
          sourceTopic: spec.sourceTopic,
          offsetsFile: join(options.stateDir, "functions", `${encodeURIComponent(id)}.json`),
          describe: { function: id },
          streams: options.streams,
          log: options.log,
          ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
        },
        (batch) => runBatch(spec, batch, options),
      );
      running.set(id, { spec, consumer });
      consumer.start();
    }
  };

  return {
    refresh,
    async flush(): Promise<void> {
      await Promise.all([...running.values()].map((r) => r.consumer.drain()));
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const id of [...running.keys()]) stopOne(id);
      await Promise.all([...stopping]);
    },
    running(): string[] {
      return [...running.keys()].sort();
    },
  };
}

/** Every function the app declares, with ids that stay the same across reloads. */
function functionSpecs(app: LoadedApp): FunctionSpec[] {
  const specs: FunctionSpec[] = [];
  for (const stream of Object.values(app.streams)) {
    const perDestination = new Map<string, number>();
    for (const t of stream.transforms) {
      const index = perDestination.get(t.to) ?? 0;
      perDestination.set(t.to, index + 1);
      const version = t.config?.version;
      const id = `${stream.topic}__${t.to}${version !== undefined ? `__${version}` : index > 0 ? `__${index}` : ""}`;
      specs.push({ id, label: `transform ${stream.topic} → ${t.to}`, sourceTopic: stream.topic, kind: "transform", index, to: t.to });
    }
    stream.consumers.forEach((c, index) => {
      const id = `${stream.topic}__consumer${c.version !== undefined ? `__${c.version}` : index > 0 ? `__${index}` : ""}`;
      specs.push({ id, label: `consumer of ${stream.topic}`, sourceTopic: stream.topic, kind: "consumer", index });
    });
    stream.multiTransforms.forEach((_fn, index) => {
      specs.push({ id: `${stream.topic}__multi${index > 0 ? `__${index}` : ""}`, label: `multi-transform of ${stream.topic}`, sourceTopic: stream.topic, kind: "multi", index });
    });
  }
  return specs;
}

/** The function `spec` names in the app as loaded now (undefined when a reload removed it). */
function resolve(spec: FunctionSpec, app: LoadedApp | undefined): { fn: (row: unknown) => unknown; deadLetterQueue?: string } | undefined {
  const stream: LoadedStream | undefined = app?.streams[spec.sourceTopic];
  if (!stream) return undefined;
  if (spec.kind === "transform") {
    const t = stream.transforms.filter((x) => x.to === spec.to)[spec.index];
    return t && { fn: t.fn, ...(t.deadLetterQueue ? { deadLetterQueue: t.deadLetterQueue } : {}) };
  }
  if (spec.kind === "consumer") {
    const c = stream.consumers[spec.index];
    return c && { fn: c.fn, ...(c.deadLetterQueue ? { deadLetterQueue: c.deadLetterQueue } : {}) };
  }
  const m = stream.multiTransforms[spec.index];
  const dlq = stream.declaration.defaultDeadLetterQueue;
  return m && { fn: m, ...(dlq ? { deadLetterQueue: versionedName(dlq.name, dlq.config.version) } : {}) };
}

async function runBatch(spec: FunctionSpec, batch: readonly ConsumedRecord[], options: StreamFunctionsOptions): Promise<void> {
  const found = resolve(spec, options.app());
  // Removed by a reload that refresh() has not seen yet: the records wait for the function's return.
  if (!found) throw new Error("the function is not in the loaded app (reloading)");
  const dateFields = dateColumns(options.getState(), spec.sourceTopic);
  const outputs = new Map<string, unknown[]>();
  const dead: unknown[] = [];
  const emit = (topic: string, values: unknown): void => {
    const list = outputs.get(topic) ?? [];
    for (const v of Array.isArray(values) ? values.flat() : [values]) if (v !== undefined && v !== null) list.push(v);
    outputs.set(topic, list);
  };
  for (const record of batch) {
    const input = withDates(record.value, dateFields);
    try {
      const result = await found.fn(input);
      if (spec.kind === "transform") emit(spec.to!, result);
      else if (spec.kind === "multi") {
        for (const routed of Array.isArray(result) ? result : [result]) {
          if (!(routed instanceof RoutedMessage)) throw new TypeError("addMultiTransform functions return an array of dest.routed(values)");
          emit(versionedName(routed.destination.name, routed.destination.config.version), routed.values);
        }
      }
    } catch (error) {
      const where = `${spec.sourceTopic}/${record.partition}@${record.offset}`;
      const what = describeAppError(error, options.projectDir);
      options.appLog(`✗ ${spec.label} failed on record ${where}: ${what}${found.deadLetterQueue ? `; sent to ${found.deadLetterQueue}` : "; skipped (no dead-letter queue)"}`);
      if (found.deadLetterQueue) dead.push(deadLetter(record, error));
    }
  }
  for (const [topic, values] of outputs) {
    // What a function returns travels as JSON (a Date as its ISO text), as in Moose.
    if (values.length > 0) await options.streams.produce(topic, JSON.parse(JSON.stringify(values)) as unknown[]);
  }
  if (dead.length > 0 && found.deadLetterQueue) await options.streams.produce(found.deadLetterQueue, dead);
}

/** Moose's dead-letter record for a record a function threw on. */
function deadLetter(record: ConsumedRecord, error: unknown): Record<string, unknown> {
  const original = record.value !== null && typeof record.value === "object" && !Array.isArray(record.value) ? (record.value as Record<string, unknown>) : { value: record.value };
  return {
    originalRecord: { ...original, __sourcePartition: record.partition, __sourceOffset: record.offset, __sourceTimestamp: record.timestamp },
    errorMessage: error instanceof Error ? error.message : String(error),
    errorType: error instanceof Error ? error.constructor.name : "Unknown",
    failedAt: new Date().toISOString(),
    source: "transform",
  };
}

/** Top-level fields of the topic's schema that are dates: Moose hands them to functions as `Date`s. */
function dateColumns(state: InfraMap, topic: string): string[] {
  const columns = state.topics[topic]?.columns ?? [];
  return columns
    .filter((c) => {
      try {
        let t = parseClickHouseType(c.type);
        while (t.kind === "Nullable" || t.kind === "LowCardinality") t = t.kind === "Nullable" ? t.inner : t.inner;
        return t.kind === "DateTime" || t.kind === "DateTime64" || (t.kind === "name" && (t.name === "Date" || t.name === "Date32"));
      } catch {
        return false;
      }
    })
    .map((c) => c.name);
}

function withDates(value: unknown, fields: readonly string[]): unknown {
  if (fields.length === 0 || value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const copy = { ...(value as Record<string, unknown>) };
  for (const f of fields) {
    const v = copy[f];
    if (typeof v === "string" || typeof v === "number") {
      const d = new Date(v);
      if (!Number.isNaN(d.getTime())) copy[f] = d;
    }
  }
  return copy;
}
