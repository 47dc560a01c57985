import type { ConfigResource } from './runtime-config.js';

/**
 * Size of the buffer a cache body is encoded into, in bytes (default 256 KiB): the most a cache
 * write holds in memory at once, and what it encodes and hashes between two turns of the event
 * loop (about 1,200 resources at 100,000 routes: ~2 ms; 1 MiB chunks held the loop 10-35 ms).
 */
export const CACHE_CHUNK_BYTES = 256 * 1024;

/** Protobuf tags (field number << 3 | wire type) of `ResourceBatch.upserts` and of `Resource`'s fields. */
const TAG_UPSERT = 0x0a;
const TAG_TYPE = 0x08;
const TAG_ID = 0x12;
const TAG_VERSION = 0x18;
const TAG_PAYLOAD = 0x22;

/** Longest varint of a value up to 2^53, and so the most an element's framing adds to its id and payload. */
const MAX_VARINT_BYTES = 8;
const MAX_FRAMING_BYTES = 1 + MAX_VARINT_BYTES + 1 + MAX_VARINT_BYTES + 1 + MAX_VARINT_BYTES + 1 + MAX_VARINT_BYTES + 1 + MAX_VARINT_BYTES;

function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, o: number, value: number): number {
  while (value >= 0x80) {
    out[o++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[o++] = value;
  return o;
}

/**
 * Encodes one resource as one `ResourceBatch.upserts` element (tag, length, then the `Resource`
 * with all four fields, as protobufjs writes them) into `out` at `o`, less its payload bytes;
 * returns where the payload goes. `out` must have {@link MAX_FRAMING_BYTES} + the id's UTF-8 length free.
 */
function writeElementHead(out: Buffer, o: number, r: ConfigResource, idBytes: number): number {
  const version = r.version;
  const resourceLength = 1 + varintLength(r.type) + 1 + varintLength(idBytes) + idBytes + 1 + varintLength(version) + 1 + varintLength(r.payload.byteLength) + r.payload.byteLength;
  out[o++] = TAG_UPSERT;
  o = writeVarint(out, o, resourceLength);
  out[o++] = TAG_TYPE;
  o = writeVarint(out, o, r.type);
  out[o++] = TAG_ID;
  o = writeVarint(out, o, idBytes);
  o += out.write(r.id, o, 'utf8');
  out[o++] = TAG_VERSION;
  o = writeVarint(out, o, version);
  out[o++] = TAG_PAYLOAD;
  return writeVarint(out, o, r.payload.byteLength);
}

/**
 * The body of a cache file (an encoded `sluice.v1.ResourceBatch` with every resource as an upsert,
 * exact payload bytes) as a sequence of chunks of at most `chunkBytes` (default
 * {@link CACHE_CHUNK_BYTES}), encoded straight from the resources: no per-resource encoding is made
 * or kept, and nothing of the size of the config is allocated.
 *
 * Each chunk yielded is a view of ONE buffer that the next chunk overwrites: the consumer hashes
 * and writes it before it asks for the next one. Protobuf repeated fields concatenate, so the
 * concatenation of the chunks decodes as one batch.
 */
export function* cacheBodyChunks(resources: Iterable<ConfigResource>, chunkBytes: number = CACHE_CHUNK_BYTES): Generator<Uint8Array, void, void> {
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let o = 0;
  for (const r of resources) {
    const idBytes = Buffer.byteLength(r.id, 'utf8');
    if (o + MAX_FRAMING_BYTES + idBytes > chunkBytes) {
      if (o > 0) yield buffer.subarray(0, o);
      o = 0;
      if (MAX_FRAMING_BYTES + idBytes > chunkBytes) throw new RangeError(`resource id of ${idBytes} bytes does not fit a ${chunkBytes}-byte chunk`);
    }
    o = writeElementHead(buffer, o, r, idBytes);
    const payload = r.payload;
    if (o + payload.byteLength <= chunkBytes) {
      buffer.set(payload, o);
      o += payload.byteLength;
      continue;
    }
    // A payload larger than what is left of the chunk, split over as many chunks as it needs.
    let p = 0;
    while (p < payload.byteLength) {
      if (o === chunkBytes) {
        yield buffer.subarray(0, o);
        o = 0;
      }
      const n = Math.min(chunkBytes - o, payload.byteLength - p);
      buffer.set(payload.subarray(p, p + n), o);
      o += n;
      p += n;
    }
  }
  if (o > 0) yield buffer.subarray(0, o);
}
