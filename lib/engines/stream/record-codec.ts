import { EngineError, InvalidInputError } from "../../errors.js";

/** A record value as the JSON text both engines store. */
export function encodeRecordValue(value: unknown, index: number, topic: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidInputError("STREAM_RECORD_INVALID", `record ${index} for topic ${topic} cannot be written as JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (json === undefined) {
    throw new InvalidInputError("STREAM_RECORD_INVALID", `record ${index} for topic ${topic} is not a JSON value (${typeof value})`);
  }
  return json;
}

/** Parses a record written by any producer; a value that is not JSON names where it is, so a reader can skip it. */
export function decodeRecordValue(bytes: Buffer | null, topic: string, partition: number, offset: number): unknown {
  if (bytes === null) return null; // a tombstone
  const text = bytes.toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EngineError("STREAM_RECORD_NOT_JSON", `record at offset ${offset} of topic ${topic} partition ${partition} is not JSON: ${JSON.stringify(text.slice(0, 80))}`, {
      cause: error,
      hint: `another producer wrote it; skip it by reading from offset ${offset + 1}`,
      details: [`offset: ${offset}`],
    });
  }
}

/** Checks `readFrom`'s offset and count before any I/O. */
export function checkReadArguments(offset: number, max: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidInputError("STREAM_READ_INVALID", `offset must be a whole number >= 0, found ${offset}`);
  if (!Number.isSafeInteger(max) || max < 1) throw new InvalidInputError("STREAM_READ_INVALID", `max must be a whole number >= 1, found ${max}`);
}
