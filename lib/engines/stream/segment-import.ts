import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { EngineError } from "../../errors.js";

/**
 * Reads an embedded stream log in the format moose-migrate used before the log moved to
 * SQLite, so that the first open of such a data directory carries its topics and records
 * over (see `importSegments` in embedded.ts, which writes them and then removes the folders):
 *
 * ```
 * <dataDir>/topics/<topic>/topic.json               settings
 * <dataDir>/topics/<topic>/<partition>/<base>.log   segments: one JSON line per record, named after their first offset
 * <dataDir>/tmp/                                    topics that were being created or deleted
 * ```
 *
 * Read-only. Remove this file once no data directory of the segment format can be around
 * any more (it exists for 0.x projects upgrading in place).
 */
export const LEGACY_TOPICS_DIR = "topics";
export const LEGACY_TMP_DIR = "tmp";

/** A topic as `topic.json` described it (format 1). */
export interface LegacyTopic {
  /** The physical name (namespace prefix included). */
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly retentionMs: number;
  readonly config: Readonly<Record<string, string>>;
  readonly createdAt: string;
}

export interface LegacyRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  /** The record's value as JSON text. */
  readonly value: string;
}

const SEGMENT_NAME = /^\d{20}\.log$/;

/** Every topic under `<dataDir>/topics`, by name. */
export async function readLegacyTopics(dataDir: string): Promise<LegacyTopic[]> {
  const root = join(dataDir, LEGACY_TOPICS_DIR);
  const names = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  const topics: LegacyTopic[] = [];
  for (const name of names.sort()) {
    const file = join(root, name, "topic.json");
    let meta: Partial<LegacyTopic> & { format?: unknown };
    try {
      meta = JSON.parse(await readFile(file, "utf8")) as typeof meta;
    } catch (error) {
      throw corrupt(file, (error as Error).message, dataDir);
    }
    if (meta.format !== 1 || meta.name !== name || !Number.isInteger(meta.partitions) || (meta.partitions ?? 0) < 1) {
      throw corrupt(file, "not a topic.json of format 1", dataDir);
    }
    topics.push({
      name,
      partitions: meta.partitions!,
      replicationFactor: meta.replicationFactor ?? 1,
      retentionMs: meta.retentionMs ?? -1,
      config: meta.config ?? {},
      createdAt: meta.createdAt ?? new Date().toISOString(),
    });
  }
  return topics;
}

/**
 * The records of one partition, one segment file at a time, oldest first. A last line
 * without its newline is a write that never completed (the old engine cut it off before
 * its next append): it is left out.
 */
export async function* readLegacyPartition(dataDir: string, topic: string, partition: number): AsyncGenerator<LegacyRecord[]> {
  const dir = join(dataDir, LEGACY_TOPICS_DIR, topic, String(partition));
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
  } catch (error) {
    throw corrupt(dir, (error as Error).message, dataDir);
  }
  for (const name of names) {
    const file = join(dir, name);
    const text = await readFile(file, "utf8");
    const lines = text.split("\n");
    lines.pop(); // "" after the last newline, or the torn line
    yield lines.map((line, index) => {
      try {
        const entry = JSON.parse(line) as { offset?: unknown; timestamp?: unknown; key?: unknown; value?: unknown };
        if (!Number.isSafeInteger(entry.offset) || !Number.isSafeInteger(entry.timestamp) || !("value" in entry)) throw new Error("no offset, timestamp or value");
        return {
          offset: entry.offset as number,
          timestamp: entry.timestamp as number,
          key: typeof entry.key === "string" ? entry.key : null,
          value: JSON.stringify(entry.value),
        };
      } catch (error) {
        throw corrupt(file, `line ${index + 1}: ${(error as Error).message}: ${JSON.stringify(line.slice(0, 80))}`, dataDir);
      }
    });
  }
}

function corrupt(path: string, what: string, dataDir: string): EngineError {
  return new EngineError("STREAM_LOG_CORRUPT", `cannot import the old embedded stream log: ${path}: ${what}`, {
    hint: `the segment files under ${join(dataDir, LEGACY_TOPICS_DIR)} were changed by something other than moose; fix or remove the file named; removing the whole folder starts the embedded log without its topics and records`,
  });
}
