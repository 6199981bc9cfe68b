import type { TopicDefaults } from "../../config/config.js";
import type { Change } from "../../diff/change.js";
import { InvalidInputError, RefusedError } from "../../errors.js";
import type { Topic } from "../../model/infra-map.js";

/**
 * A topic as a stream engine stores it: the declared `Topic` with every default
 * filled in, minus what only the model cares about (columns, life cycle). This is
 * also what introspection returns, so a drift check compares like with like.
 */
export type TopicDescription = Omit<Topic, "columns" | "lifeCycle">;

/** What an engine creates: every setting resolved, nothing left to the broker's defaults. */
export interface TopicSettings {
  /** The name on the broker or on disk: the namespace prefix applied. */
  readonly physicalName: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** `retention.ms`; -1 keeps records forever, as in Kafka. */
  readonly retentionMs: number;
  /** Every other topic config, string-valued; never contains `retention.ms`. */
  readonly config: Readonly<Record<string, string>>;
}

/** The Kafka config key that `Topic.retentionMs` stands for. */
export const RETENTION_CONFIG = "retention.ms";

// Kafka's own rule (kafka.common.Topic): legal characters and at most 249 of them.
const LEGAL_TOPIC_NAME = /^[A-Za-z0-9._-]+$/;
const MAX_TOPIC_NAME_LENGTH = 249;

/**
 * The physical name of a topic. A namespace is joined with a `.` (Moose's
 * separator), so namespace `dev` puts `UserEvents` in `dev.UserEvents`; a
 * namespace that already ends in `.`, `_` or `-` is used as written.
 *
 * @example physicalTopicName("UserEvents", "dev") // "dev.UserEvents"
 */
export function physicalTopicName(name: string, namespace?: string): string {
  const physical = namespace === undefined || namespace === "" ? name : /[._-]$/.test(namespace) ? `${namespace}${name}` : `${namespace}.${name}`;
  checkTopicName(physical, name);
  return physical;
}

/** The logical name of a physical topic, or undefined when it lies outside the namespace. */
export function logicalTopicName(physical: string, namespace?: string): string | undefined {
  if (namespace === undefined || namespace === "") return physical;
  const prefix = /[._-]$/.test(namespace) ? namespace : `${namespace}.`;
  return physical.startsWith(prefix) && physical.length > prefix.length ? physical.slice(prefix.length) : undefined;
}

function checkTopicName(physical: string, name: string): void {
  if (!LEGAL_TOPIC_NAME.test(physical) || physical === "." || physical === ".." || physical.length > MAX_TOPIC_NAME_LENGTH) {
    const of = physical === name ? "" : ` (as ${JSON.stringify(physical)} with the namespace)`;
    throw new InvalidInputError(
      "TOPIC_NAME_INVALID",
      `topic name ${JSON.stringify(name)}${of} is not a legal Kafka topic name: use letters, digits, '.', '_' and '-', at most ${MAX_TOPIC_NAME_LENGTH} characters`,
    );
  }
}

/**
 * Resolves a declared topic against the `[redpanda_config]` defaults. Retention comes
 * from `retentionMs`, else a `retention.ms` entry in `config`, else the default.
 * Throws `InvalidInputError` (`TOPIC_INVALID`) for settings no engine could accept,
 * before anything is sent.
 */
export function topicSettings(topic: TopicDescription, defaults: TopicDefaults): TopicSettings {
  const physicalName = physicalTopicName(topic.name, defaults.namespace);
  const invalid = (what: string) => new InvalidInputError("TOPIC_INVALID", `topic ${topic.name}: ${what}`);
  if (!Number.isInteger(topic.partitions) || topic.partitions < 1) {
    throw invalid(`partitions must be a whole number, at least 1, found ${topic.partitions}`);
  }
  const replicationFactor = topic.replicationFactor ?? defaults.replicationFactor;
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 32767) {
    throw invalid(`replicationFactor must be a whole number from 1 to 32767, found ${replicationFactor}`);
  }
  const { [RETENTION_CONFIG]: retentionText, ...config } = topic.config;
  let fromConfig: number | undefined;
  if (retentionText !== undefined) {
    fromConfig = Number(retentionText);
    if (!/^-?\d+$/.test(retentionText.trim()) || !isRetention(fromConfig)) {
      throw invalid(`config["retention.ms"] must be a whole number of milliseconds or -1, found ${JSON.stringify(retentionText)}`);
    }
    if (topic.retentionMs !== undefined && topic.retentionMs !== fromConfig) {
      throw invalid(`retentionMs (${topic.retentionMs}) and config["retention.ms"] (${retentionText}) disagree; keep one of them`);
    }
  }
  const retentionMs = topic.retentionMs ?? fromConfig ?? defaults.retentionMs;
  if (!isRetention(retentionMs)) throw invalid(`retentionMs must be a whole number of milliseconds or -1, found ${retentionMs}`);
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== "string") throw invalid(`config[${JSON.stringify(key)}] must be a string, found ${typeof value}`);
  }
  return { physicalName, partitions: topic.partitions, replicationFactor, retentionMs, config };
}

function isRetention(n: number): boolean {
  return Number.isSafeInteger(n) && n >= -1;
}

/** What a `topic.modify` asks of an engine, once validated. */
export interface TopicUpdate {
  readonly physicalName: string;
  /** The new total partition count, when it grows. */
  readonly partitions?: { readonly from: number; readonly to: number };
  /** The complete new config (retention and the rest), when any of it changes. */
  readonly config?: { readonly retentionMs: number; readonly config: Readonly<Record<string, string>> };
}

/**
 * Validates a `topic.modify` and says what to change. Refuses, before anything is
 * sent, what Kafka cannot do in place:
 * - fewer partitions (`TOPIC_PARTITIONS_DECREASE`): Kafka can only add partitions;
 * - another replication factor (`TOPIC_REPLICATION_FACTOR_CHANGE`): that is a
 *   partition reassignment, an operator's job.
 * Both engines apply the same rules so that `moose dev` never accepts a change
 * production would refuse.
 */
export function planTopicUpdate(before: TopicDescription, after: TopicDescription, defaults: TopicDefaults): TopicUpdate {
  if (before.name !== after.name) {
    throw new Error(`topic.modify cannot rename a topic (${before.name} -> ${after.name}); a rename is a drop and a create`);
  }
  const from = topicSettings(before, defaults);
  const to = topicSettings(after, defaults);
  if (to.partitions < from.partitions) throw partitionDecrease(after.name, from.partitions, to.partitions);
  if (to.replicationFactor !== from.replicationFactor) {
    throw replicationFactorChange(after.name, from.replicationFactor, to.replicationFactor);
  }
  const configChanged = from.retentionMs !== to.retentionMs || !sameConfig(from.config, to.config);
  return {
    physicalName: to.physicalName,
    ...(to.partitions > from.partitions ? { partitions: { from: from.partitions, to: to.partitions } } : {}),
    ...(configChanged ? { config: { retentionMs: to.retentionMs, config: to.config } } : {}),
  };
}

function sameConfig(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/**
 * The name of the next version of a topic: `Events` → `Events_2`, `Events_2` → `Events_3`
 * (the `_<version>` suffix a Stream's `version` option produces).
 */
export function nextTopicVersion(name: string): string {
  const match = /^(.*)_(\d+)$/.exec(name);
  return match && match[1] ? `${match[1]}_${Number(match[2]) + 1}` : `${name}_2`;
}

/** The refusal for a partition decrease; also used when an engine finds it against live state. */
export function partitionDecrease(name: string, current: number, wanted: number): RefusedError {
  const next = nextTopicVersion(name);
  return new RefusedError(
    "TOPIC_PARTITIONS_DECREASE",
    `cannot reduce topic ${name} from ${current} to ${count(wanted, "partition")}: Kafka can only add partitions, never remove them (records are spread over all ${current}, and keys hash to a partition by the count)`,
    {
      hint: `keep ${count(current, "partition")}, or create a new version of the stream (topic ${next}, e.g. \`version: "${next.slice(next.lastIndexOf("_") + 1)}"\`) with ${count(wanted, "partition")}, point producers at it, backfill it from ${name}, then drop ${name}`,
    },
  );
}

function replicationFactorChange(name: string, current: number, wanted: number): RefusedError {
  return new RefusedError(
    "TOPIC_REPLICATION_FACTOR_CHANGE",
    `cannot change the replication factor of topic ${name} from ${current} to ${wanted}: Kafka changes it only by reassigning partitions to brokers, which moves data between brokers and is not a topic config`,
    {
      hint: `keep replicationFactor ${current} in the code, or reassign the partitions with your cluster's tools (kafka-reassign-partitions.sh, \`rpk topic alter-config\`/\`rpk cluster partitions move\`) and then update the code to match`,
    },
  );
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * Refuses, before anything is written or run, the topic changes no stream
 * engine can carry out (fewer partitions, another replication factor), with
 * the way forward. `generate` and `dev` call it so an impossible step never
 * reaches a migration file or the ledger.
 */
export function checkTopicChanges(changes: readonly Change[], defaults: TopicDefaults): void {
  for (const c of changes) if (c.kind === "topic.modify") planTopicUpdate(c.before, c.after, defaults);
}
