/**
 * Kafka's default partitioner for keyed records: `toPositive(murmur2(utf8(key))) % partitions`,
 * as the Java client and kafkajs's DefaultPartitioner compute it. The embedded engine
 * uses it too, so a key lands in the same partition in `moose dev` as in production.
 */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, "utf8")) & 0x7fffffff) % partitions;
}

/** Murmur2 exactly as `org.apache.kafka.common.utils.Utils.murmur2` (32-bit Java int arithmetic). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & ~3;
  const tail = length % 4;
  // Java's fall-through switch on the 1-3 trailing bytes.
  if (tail >= 3) h ^= (data[rest + 2]! & 0xff) << 16;
  if (tail >= 2) h ^= (data[rest + 1]! & 0xff) << 8;
  if (tail >= 1) {
    h ^= data[rest]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
