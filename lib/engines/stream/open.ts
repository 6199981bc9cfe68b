import type { StreamingConfig } from "../../config/config.js";
import type { StreamEngine } from "./engine.js";

/**
 * Opens the stream engine `config` names. The kafka engine connects at once, so an
 * unreachable broker fails here (`STREAM_UNREACHABLE`) rather than mid-deploy.
 *
 * @example
 * const streams = await openStreamEngine(config.streaming);
 * console.log(Object.keys(await streams.introspect()));
 * await streams.close();
 */
export async function openStreamEngine(config: StreamingConfig, options: OpenStreamEngineOptions = {}): Promise<StreamEngine> {
  // Imported lazily: a project on the embedded log never loads kafkajs.
  if (config.engine === "embedded") {
    const { openEmbeddedStreamEngine } = await import("./embedded.js");
    return openEmbeddedStreamEngine(config, options.embedded);
  }
  const { openKafkaStreamEngine } = await import("./kafka.js");
  return openKafkaStreamEngine(config, options.kafka);
}

export interface OpenStreamEngineOptions {
  readonly embedded?: import("./embedded.js").EmbeddedStreamOptions;
  readonly kafka?: import("./kafka.js").KafkaStreamOptions;
}
