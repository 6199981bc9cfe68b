/**
 * Kafka wire-format primitives for the test broker (kafka-test-server.ts), written from
 * the protocol guide (https://kafka.apache.org/protocol) and checked against what
 * kafkajs 2.2.4 sends: big-endian fixed-width integers, int16-length strings, int32-length
 * bytes and arrays (-1 = null), zigzag varints inside record batches, CRC-32C over batches.
 * Only the classic (non-flexible) encodings: kafkajs predates flexible versions.
 */

export class WireReader {
  private offset: number;

  constructor(
    private readonly buffer: Buffer,
    offset = 0,
  ) {
    this.offset = offset;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buffer.length) throw new WireError(`truncated message: need ${n} bytes at ${this.offset}, have ${this.remaining}`);
  }

  int8(): number {
    this.need(1);
    return this.buffer.readInt8(this.offset++);
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    this.need(2);
    const v = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    this.need(length);
    const v = this.buffer.toString("utf8", this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  string(): string {
    const v = this.nullableString();
    if (v === null) throw new WireError("null where a STRING is required");
    return v;
  }

  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    return this.raw(length);
  }

  raw(length: number): Buffer {
    this.need(length);
    const v = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  /** ARRAY; `null` for length -1. */
  nullableArray<T>(item: (r: WireReader) => T): T[] | null {
    const length = this.int32();
    if (length < 0) return null;
    if (length > this.remaining) throw new WireError(`array of ${length} items cannot fit in ${this.remaining} bytes`);
    const out: T[] = [];
    for (let i = 0; i < length; i++) out.push(item(this));
    return out;
  }

  array<T>(item: (r: WireReader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Unsigned LEB128. */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      this.need(1);
      const byte = this.buffer[this.offset++]!;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new WireError("varint longer than 5 bytes");
    }
  }

  /** Zigzag-encoded signed 32-bit varint. */
  varint(): number {
    const u = this.uvarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zigzag-encoded signed 64-bit varint. */
  varlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      this.need(1);
      const byte = BigInt(this.buffer[this.offset++]!);
      result |= (byte & 0x7fn) << shift;
      if ((byte & 0x80n) === 0n) break;
      shift += 7n;
      if (shift > 63n) throw new WireError("varlong longer than 10 bytes");
    }
    return (result >> 1n) ^ -(result & 1n);
  }

  /** Varint-length bytes (record keys and values); `null` for length -1. */
  varBytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    return this.raw(length);
  }
}

export class WireWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  private push(buffer: Buffer): this {
    this.chunks.push(buffer);
    this.size += buffer.length;
    return this;
  }

  get length(): number {
    return this.size;
  }

  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.push(b);
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.push(b);
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.push(b);
  }

  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }

  int64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    return this.push(b);
  }

  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const b = Buffer.from(v, "utf8");
    return this.int16(b.length).push(b);
  }

  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    return this.int32(v.length).push(v);
  }

  raw(v: Buffer): this {
    return this.push(v);
  }

  array<T>(items: readonly T[] | null, item: (w: WireWriter, value: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const value of items) item(this, value);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

export class WireError extends Error {}

// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, as record batches use (KIP-98).
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** One record of a v2 record batch, decoded. */
export interface WireRecord {
  readonly offsetDelta: number;
  readonly timestampDelta: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: Buffer | null }>;
}

/** A record batch (magic 2) as it travels in Produce and Fetch. */
export interface WireBatch {
  readonly baseOffset: bigint;
  readonly magic: number;
  readonly crc: number;
  readonly computedCrc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly recordCount: number;
  /** Undefined when the batch is compressed (the test broker stores it without decoding). */
  readonly records: readonly WireRecord[] | undefined;
  /** The whole batch, baseOffset included: what a broker stores and serves. */
  readonly raw: Buffer;
}

const BATCH_HEADER_AFTER_LENGTH = 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // epoch..recordCount

/** Splits a RECORDS field into batches; throws WireError on malformed input. */
export function decodeRecordBatches(records: Buffer): WireBatch[] {
  const out: WireBatch[] = [];
  let at = 0;
  while (at < records.length) {
    if (records.length - at < 12) throw new WireError("truncated record batch header");
    const batchLength = records.readInt32BE(at + 8);
    if (batchLength < BATCH_HEADER_AFTER_LENGTH || at + 12 + batchLength > records.length) throw new WireError(`bad record batch length ${batchLength}`);
    const raw = records.subarray(at, at + 12 + batchLength);
    out.push(decodeBatch(raw));
    at += 12 + batchLength;
  }
  return out;
}

function decodeBatch(raw: Buffer): WireBatch {
  const r = new WireReader(raw);
  const baseOffset = r.int64();
  r.int32(); // batch length
  r.int32(); // partition leader epoch
  const magic = r.int8();
  const crc = r.uint32();
  const computedCrc = crc32c(raw.subarray(r.position));
  const attributes = r.int16();
  const lastOffsetDelta = r.int32();
  const firstTimestamp = r.int64();
  const maxTimestamp = r.int64();
  const producerId = r.int64();
  r.int16(); // producer epoch
  r.int32(); // base sequence
  const recordCount = r.int32();
  let records: WireRecord[] | undefined;
  if ((attributes & 0x07) === 0 && magic === 2) {
    records = [];
    for (let i = 0; i < recordCount; i++) {
      const length = r.varint();
      const body = new WireReader(r.raw(length));
      body.int8(); // record attributes (unused)
      const timestampDelta = body.varlong();
      const offsetDelta = body.varint();
      const key = body.varBytes();
      const value = body.varBytes();
      const headerCount = body.varint();
      const headers: Array<{ key: string; value: Buffer | null }> = [];
      for (let h = 0; h < headerCount; h++) {
        const hk = body.varBytes();
        headers.push({ key: hk === null ? "" : hk.toString("utf8"), value: body.varBytes() });
      }
      records.push({ offsetDelta, timestampDelta, key, value, headers });
    }
    if (r.remaining !== 0) throw new WireError(`${r.remaining} bytes after the last record of a batch`);
  }
  return { baseOffset, magic, crc, computedCrc, attributes, lastOffsetDelta, firstTimestamp, maxTimestamp, producerId, recordCount, records, raw };
}
