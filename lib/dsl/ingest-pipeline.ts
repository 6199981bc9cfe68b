import { register } from "./registry.js";
import { physicalName, sqlIdentifier } from "./sql.js";
import { OlapTable, type LifeCycle, type OlapConfig } from "./olap-table.js";
import { Stream, type StreamConfig } from "./stream.js";
import { IngestApi, type IngestConfig } from "./api.js";
import { DeadLetterQueue, type DeadLetterModel } from "./stream.js";

type IngestOption<T> = boolean | Omit<IngestConfig<T>, "destination">;

export interface IngestPipelineConfig<T> {
  /** Create the table `<name>` (true, or its options). */
  readonly table?: boolean | OlapConfig<T>;
  /** Create the topic `<name>` (true, or its options); with a table, rows flow on to it. */
  readonly stream?: boolean | Omit<StreamConfig<T>, "destination">;
  /** Serve `POST /ingest/<name>` into the stream (or the table when there is no stream). */
  readonly ingestApi?: IngestOption<T>;
  /** moose-lib's older names for `ingestApi`. */
  readonly ingest?: IngestOption<T>;
  readonly ingestAPI?: IngestOption<T>;
  /** Create the topic `<name>DeadLetterQueue` for records that fail on the way in (true, or its options, e.g. a `destination` table). */
  readonly deadLetterQueue?: boolean | StreamConfig<DeadLetterModel>;
  /** Suffixes every name with the version (`Events_1_2`, `ingest/Events/1.2`). */
  readonly version?: string;
  /** Serves the ingest endpoint at `ingest/<path>`. */
  readonly path?: string;
  readonly lifeCycle?: LifeCycle;
  readonly metadata?: { description?: string };
}

function enabled<C>(option: boolean | C | undefined): option is true | C {
  return option !== undefined && option !== false;
}

/**
 * Declares a table, a topic, the sync between them and an ingest endpoint in one go.
 *
 * @example
 * export const events = new IngestPipeline<Event>("Events", { table: true, stream: true, ingestApi: true });
 */
export class IngestPipeline<T> {
  readonly kind = "IngestPipeline" as const;
  readonly name: string;
  readonly config: IngestPipelineConfig<T>;
  readonly table?: OlapTable<T>;
  readonly stream?: Stream<T>;
  readonly ingestApi?: IngestApi<T>;
  readonly deadLetterQueue?: DeadLetterQueue<T>;

  constructor(name: string, config: IngestPipelineConfig<T>) {
    this.name = name;
    this.config = config;
    const version = config.version === undefined ? {} : { version: config.version };
    const lifeCycle = config.lifeCycle === undefined ? {} : { lifeCycle: config.lifeCycle };
    if (enabled(config.table)) this.table = new OlapTable<T>(name, { ...(config.table === true ? {} : config.table), ...version, ...lifeCycle } as OlapConfig<T>);
    if (enabled(config.deadLetterQueue)) {
      this.deadLetterQueue = new DeadLetterQueue<T>(`${name}DeadLetterQueue`, { ...(config.deadLetterQueue === true ? {} : config.deadLetterQueue), ...version });
    }
    if (enabled(config.stream)) {
      this.stream = new Stream<T>(name, {
        ...(config.stream === true ? {} : config.stream),
        ...version,
        ...lifeCycle,
        ...(this.table ? { destination: this.table } : {}),
        ...(this.deadLetterQueue ? { defaultDeadLetterQueue: this.deadLetterQueue } : {}),
      });
    }
    const ingest = config.ingestApi ?? config.ingestAPI ?? config.ingest;
    const destination = this.stream ?? this.table;
    if (enabled(ingest) && destination) {
      this.ingestApi = new IngestApi<T>(name, {
        ...(ingest === true ? {} : ingest),
        destination,
        ...version,
        ...(config.path === undefined ? {} : { path: config.path }),
        ...(this.deadLetterQueue ? { deadLetterQueue: this.deadLetterQueue } : {}),
      });
    }
    sqlIdentifier(this, () => physicalName(this.name, this.config.version));
    register(this);
  }
}
