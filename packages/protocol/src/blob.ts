import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gunzipSync, gzipSync } from 'node:zlib';
import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { COMPRESS_MIN_BYTES, MAX_CONFIG_BYTES } from './limits.js';
import { pb, type ResourceBatchMessage } from './proto.js';

/** A compressed, checksummed config body, ready to go on the wire (the same bytes to every data plane). */
export interface PackedBody {
  codec: number;
  rawSize: number;
  rawSha256: Uint8Array;
  data: Uint8Array;
}

/** Encodes a ResourceBatch and compresses it once (gzip, unless tiny). */
export function packBatch(batch: ResourceBatchMessage): PackedBody {
  const raw = pb.ResourceBatch.encode(batch).finish();
  const rawSha256 = createHash('sha256').update(raw).digest();
  if (raw.byteLength < COMPRESS_MIN_BYTES) {
    return { codec: pb.Codec.CODEC_NONE, rawSize: raw.byteLength, rawSha256, data: raw };
  }
  return { codec: pb.Codec.CODEC_GZIP, rawSize: raw.byteLength, rawSha256, data: gzipSync(raw, { level: 6 }) };
}

/**
 * Decompresses and checks a body, then decodes the ResourceBatch. The declared raw size is checked
 * against `maxRawBytes` before anything is allocated; the checksum is over the decompressed bytes.
 */
export function unpackBatch(body: PackedBody, maxRawBytes: number = MAX_CONFIG_BYTES): InstanceType<typeof pb.ResourceBatch> {
  let raw = uncompressedBytes(body, maxRawBytes);
  if (raw === null) {
    try {
      raw = gunzipSync(body.data, { maxOutputLength: Math.max(1, body.rawSize) });
    } catch (cause) {
      throw codecError(cause);
    }
  }
  return checkAndDecode(body, raw);
}

/**
 * {@link unpackBatch} with the decompression on libuv's thread pool: a large snapshot's inflate
 * does not hold the event loop. Same checks and errors.
 */
export async function unpackBatchAsync(body: PackedBody, maxRawBytes: number = MAX_CONFIG_BYTES): Promise<InstanceType<typeof pb.ResourceBatch>> {
  let raw = uncompressedBytes(body, maxRawBytes);
  if (raw === null) {
    try {
      raw = await gunzipAsync(body.data, { maxOutputLength: Math.max(1, body.rawSize) });
    } catch (cause) {
      throw codecError(cause);
    }
  }
  return checkAndDecode(body, raw);
}

const gunzipAsync = promisify(gunzip);

/** Checks the declared size and the codec: the body's bytes when sent uncompressed, null when they are to be inflated. */
function uncompressedBytes(body: PackedBody, maxRawBytes: number): Uint8Array | null {
  checkRawSize(body, maxRawBytes);
  if (body.codec === pb.Codec.CODEC_NONE) return body.data;
  if (body.codec === pb.Codec.CODEC_GZIP) return null;
  throw new ProtocolError(ProtocolErrorCode.BLOB_CODEC, `unknown codec ${body.codec}`);
}

function checkRawSize(body: PackedBody, maxRawBytes: number): void {
  if (body.rawSize > maxRawBytes) {
    throw new ProtocolError(ProtocolErrorCode.BLOB_TOO_LARGE, `config body of ${body.rawSize} bytes exceeds the limit of ${maxRawBytes} bytes`);
  }
}

function codecError(cause: unknown): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.BLOB_CODEC, `config body does not decompress: ${(cause as Error).message}`, { cause });
}

function checkAndDecode(body: PackedBody, raw: Uint8Array): InstanceType<typeof pb.ResourceBatch> {
  if (raw.byteLength !== body.rawSize) {
    throw new ProtocolError(ProtocolErrorCode.BLOB_CHECKSUM, `config body is ${raw.byteLength} bytes, expected ${body.rawSize}`);
  }
  const digest = createHash('sha256').update(raw).digest();
  if (!digest.equals(Buffer.from(body.rawSha256))) {
    throw new ProtocolError(ProtocolErrorCode.BLOB_CHECKSUM, 'config body checksum mismatch');
  }
  try {
    return pb.ResourceBatch.decode(raw);
  } catch (cause) {
    throw new ProtocolError(ProtocolErrorCode.DECODE, `undecodable config body: ${(cause as Error).message}`, { cause });
  }
}

/** Splits bytes into chunks of at most `chunkBytes` (views, no copies). Always at least one chunk. */
export function splitChunks(data: Uint8Array, chunkBytes: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    chunks.push(data.subarray(offset, Math.min(offset + chunkBytes, data.byteLength)));
  }
  if (chunks.length === 0) chunks.push(new Uint8Array(0));
  return chunks;
}
