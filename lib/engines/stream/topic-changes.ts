import type { StreamingConfig, TopicDefaults } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { planTopicUpdate, topicSettings, type TopicSettings, type TopicUpdate } from "./topic-spec.js";

/** What an adapter does for each validated topic change; {@link applyTopicChange} decides which. */
export interface TopicOperations {
  createTopic(settings: TopicSettings, logicalName: string): Promise<void>;
  deleteTopic(physicalName: string, logicalName: string): Promise<void>;
  /** Applies a validated update: more partitions and/or a new complete config. */
  updateTopic(update: TopicUpdate, logicalName: string, after: TopicSettings): Promise<void>;
}

/**
 * The one dispatcher both adapters share: validates a topic change (refusals happen
 * here, before any I/O) and calls the adapter's operation for it.
 */
export async function applyTopicChange(change: Change, ops: TopicOperations, defaults: TopicDefaults, engine: string): Promise<void> {
  switch (change.kind) {
    case "topic.create":
      return ops.createTopic(topicSettings(change.topic, defaults), change.topic.name);
    case "topic.drop":
      return ops.deleteTopic(topicSettings(change.topic, defaults).physicalName, change.topic.name);
    case "topic.modify": {
      const update = planTopicUpdate(change.before, change.after, defaults);
      if (update.partitions === undefined && update.config === undefined) return; // columns or life cycle only
      return ops.updateTopic(update, change.after.name, topicSettings(change.after, defaults));
    }
    default:
      throw new Error(`the ${engine} stream engine applies topic.* changes only; ${change.kind} is not its business (route it to its own engine)`);
  }
}

/** The defaults part of a streaming config. */
export function topicDefaults(config: StreamingConfig): TopicDefaults {
  return {
    messageTimeoutMs: config.messageTimeoutMs,
    retentionMs: config.retentionMs,
    replicationFactor: config.replicationFactor,
    ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
  };
}
