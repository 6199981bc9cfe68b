import { register } from "./registry.js";
import { OlapTable, type OlapConfig } from "./olap-table.js";
import { Stream, type StreamConfig } from "./stream.js";
import { IngestApi } from "./api.js";

export interface IngestPipelineConfig<T> {
  /** Create the table `<name>` (true, or its options). */
  readonly table?: boolean | OlapConfig<T>;
  /** Create the topic `<name>` (true, or its options); with a table, rows flow on to it. */
  readonly stream?: boolean | Omit<StreamConfig<T>, "destination">;
  /** Serve `POST /ingest/<name>` into the stream (or the table when there is no stream). */
  readonly ingestApi?: boolean;
  /** moose-lib's older name for `ingestApi`. */
  readonly ingest?: boolean;
  /** Suffixes every name with the version (`Events_1_2`, `ingest/Events/1.2`). */
  readonly version?: string;
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
  readonly table?: OlapTable<T>;
  readonly stream?: Stream<T>;
  readonly ingestApi?: IngestApi<T>;

  constructor(name: string, config: IngestPipelineConfig<T>) {
    this.name = name;
    const suffix = config.version === undefined ? name : `${name}_${config.version.replace(/\./g, "_")}`;
    if (config.table) this.table = new OlapTable<T>(suffix, config.table === true ? {} : config.table);
    if (config.stream) {
      this.stream = new Stream<T>(suffix, {
        ...(config.stream === true ? {} : config.stream),
        ...(this.table ? { destination: this.table } : {}),
      });
    }
    const destination = this.stream ?? this.table;
    if ((config.ingestApi || config.ingest) && destination) {
      this.ingestApi = new IngestApi<T>(name, { destination, ...(config.version ? { version: config.version } : {}) });
    }
    register(this);
  }
}

/** A topic for rows that failed a transform or an insert. */
export class DeadLetterQueue<T> extends Stream<T> {}
