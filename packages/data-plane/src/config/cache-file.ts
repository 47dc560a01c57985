import { createHash } from 'node:crypto';
import { pb } from '@sluice/protocol';
import { CacheCorruptError } from '../errors.js';
import { SLUICE_VERSION } from '../proxy/proxy-server-options.js';
import type { ConfigResource, RuntimeConfig } from './runtime-config.js';

/** The first 8 bytes of every cache file. */
export const CACHE_MAGIC = Buffer.from('SLUICEDP', 'ascii');

/** The cache file format written by this build; another value is refused (and the CP resends). */
export const CACHE_FORMAT_VERSION = 2;

/** Longest epoch a cache header carries, in UTF-8 bytes (default 1024). */
export const MAX_CACHE_EPOCH_BYTES = 1024;

/** Longest build version a cache header carries, in bytes. */
const MAX_CACHE_BUILD_BYTES = 64;

/** Size of the fixed part of the header, in bytes, before the epoch. */
const FIXED_HEADER_BYTES = 8 + 4 + 4 + 8 + 8 + 32 + 32 + 2;
/** The build-version length field after the epoch. */
const BUILD_LENGTH_BYTES = 2;
const SHA256_BYTES = 32;

/** What a cache file says it holds, and its decoded body. */
export interface CacheFileContents {
  readonly epoch: string;
  readonly version: number;
  readonly hash: Uint8Array;
  readonly batch: InstanceType<typeof pb.ResourceBatch>;
  /** The Sluice build that wrote the file: when it is this build, its entities passed this build's schema rules. */
  readonly writtenBy: string;
}

/**
 * Each resource's encoding as one `ResourceBatch.upserts` element (field tag, length, Resource),
 * made once per resource. Resources are immutable and shared by every config version that holds
 * them, so a cache write after a delta encodes only the changed ones.
 */
const encodedResources = new WeakMap<ConfigResource, Uint8Array>();

/**
 * The cache body: a `ResourceBatch` of every resource. Protobuf repeated fields concatenate, so the
 * body is the concatenation of each resource's own one-element batch encoding: O(config) copying,
 * but no per-write protobuf encoding, sorting or object churn on the event loop.
 */
function resourceBytes(r: ConfigResource): Uint8Array {
  let bytes = encodedResources.get(r);
  if (bytes === undefined) {
    bytes = pb.ResourceBatch.encode({ upserts: [{ type: r.type, id: r.id, version: r.version, payload: r.payload }] }).finish();
    encodedResources.set(r, bytes);
  }
  return bytes;
}

function encodeBody(config: RuntimeConfig): Buffer {
  const parts: Uint8Array[] = [];
  for (const r of config.resources.values()) parts.push(resourceBytes(r));
  return Buffer.concat(parts);
}

/** Resources encoded per event-loop turn by {@link encodeCacheFileAsync}. */
const RESOURCES_PER_TURN = 1000;

/**
 * Encodes a config into the bytes of a cache file:
 *
 * ```
 * magic "SLUICEDP" (8) | format version u32 | header length u32 | config version u64 | body length u64
 * | config hash (32) | sha256 of body (32) | epoch length u16 | epoch (UTF-8) | build length u16
 * | build version (UTF-8, the Sluice build that wrote it) | sha256 of all the above (32)
 * | body: the encoded sluice.v1.ResourceBatch, every resource as an upsert with its exact payload bytes
 * ```
 *
 * All integers big-endian. The header has its own checksum, so a flipped version or epoch is caught
 * as surely as a flipped body byte; the body is not compressed, so a cold start only reads and
 * decodes it.
 */
export function encodeCacheFile(config: RuntimeConfig, writtenBy: string = SLUICE_VERSION): Buffer {
  return frameCacheFile(config, encodeBody(config), writtenBy);
}

/**
 * The same bytes as {@link encodeCacheFile}, built a slice of resources per event-loop turn so a
 * large config's cache write never holds up the proxy or the stream for more than about a
 * millisecond. Safe because a RuntimeConfig never changes.
 */
export async function encodeCacheFileAsync(config: RuntimeConfig): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let inTurn = 0;
  for (const r of config.resources.values()) {
    parts.push(resourceBytes(r));
    if (++inTurn === RESOURCES_PER_TURN) {
      inTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return frameCacheFile(config, Buffer.concat(parts));
}

function frameCacheFile(config: RuntimeConfig, body: Buffer, writtenBy: string = SLUICE_VERSION): Buffer {
  const epoch = Buffer.from(config.epoch, 'utf8');
  if (epoch.byteLength > MAX_CACHE_EPOCH_BYTES) throw new RangeError(`epoch of ${epoch.byteLength} bytes exceeds ${MAX_CACHE_EPOCH_BYTES}`);
  const build = Buffer.from(writtenBy.slice(0, MAX_CACHE_BUILD_BYTES), 'utf8');
  const headerLength = FIXED_HEADER_BYTES + epoch.byteLength + BUILD_LENGTH_BYTES + build.byteLength + SHA256_BYTES;
  const out = Buffer.allocUnsafe(headerLength + body.byteLength);
  let o = CACHE_MAGIC.copy(out, 0);
  o = out.writeUInt32BE(CACHE_FORMAT_VERSION, o);
  o = out.writeUInt32BE(headerLength, o);
  o = out.writeBigUInt64BE(BigInt(config.version), o);
  o = out.writeBigUInt64BE(BigInt(body.byteLength), o);
  o += Buffer.from(config.hashBytes).copy(out, o);
  o += createHash('sha256').update(body).digest().copy(out, o);
  o = out.writeUInt16BE(epoch.byteLength, o);
  o += epoch.copy(out, o);
  o = out.writeUInt16BE(build.byteLength, o);
  o += build.copy(out, o);
  o += createHash('sha256').update(out.subarray(0, o)).digest().copy(out, o);
  out.set(body, o);
  return out;
}

/**
 * Decodes and verifies the bytes of a cache file: magic, format, header checksum, body length
 * (a truncated or extended file is refused), body checksum, then the ResourceBatch. Throws
 * `CacheCorruptError` naming `path`. Entity validation and the config hash are checked by the
 * caller (`applySnapshot` against the header's hash).
 */
export function decodeCacheFile(bytes: Uint8Array, path: string): CacheFileContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < FIXED_HEADER_BYTES + SHA256_BYTES) throw new CacheCorruptError(path, `truncated: ${buf.byteLength} bytes is shorter than a header`);
  if (!buf.subarray(0, 8).equals(CACHE_MAGIC)) throw new CacheCorruptError(path, 'not a sluice-dp cache file (bad magic)');
  const format = buf.readUInt32BE(8);
  if (format !== CACHE_FORMAT_VERSION) throw new CacheCorruptError(path, `cache format ${format}, this build reads ${CACHE_FORMAT_VERSION}`);
  const headerLength = buf.readUInt32BE(12);
  const maxHeader = FIXED_HEADER_BYTES + MAX_CACHE_EPOCH_BYTES + BUILD_LENGTH_BYTES + MAX_CACHE_BUILD_BYTES + SHA256_BYTES;
  if (headerLength < FIXED_HEADER_BYTES + BUILD_LENGTH_BYTES + SHA256_BYTES || headerLength > maxHeader || headerLength > buf.byteLength) {
    throw new CacheCorruptError(path, `bad header length ${headerLength} (file is ${buf.byteLength} bytes)`);
  }
  const headerDigest = createHash('sha256').update(buf.subarray(0, headerLength - SHA256_BYTES)).digest();
  if (!headerDigest.equals(buf.subarray(headerLength - SHA256_BYTES, headerLength))) throw new CacheCorruptError(path, 'header checksum mismatch');
  const version = buf.readBigUInt64BE(16);
  const bodyLength = buf.readBigUInt64BE(24);
  const hash = Uint8Array.prototype.slice.call(buf, 32, 64);
  const bodySha = buf.subarray(64, 96);
  const epochLength = buf.readUInt16BE(96);
  if (FIXED_HEADER_BYTES + epochLength + BUILD_LENGTH_BYTES + SHA256_BYTES > headerLength) throw new CacheCorruptError(path, 'epoch length disagrees with header length');
  const epoch = buf.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + epochLength).toString('utf8');
  const buildOffset = FIXED_HEADER_BYTES + epochLength;
  const buildLength = buf.readUInt16BE(buildOffset);
  if (buildOffset + BUILD_LENGTH_BYTES + buildLength + SHA256_BYTES !== headerLength) throw new CacheCorruptError(path, 'build length disagrees with header length');
  const writtenBy = buf.subarray(buildOffset + BUILD_LENGTH_BYTES, buildOffset + BUILD_LENGTH_BYTES + buildLength).toString('utf8');
  if (BigInt(buf.byteLength - headerLength) !== bodyLength) {
    throw new CacheCorruptError(path, `body is ${buf.byteLength - headerLength} bytes, header says ${bodyLength} (truncated or extended)`);
  }
  const body = buf.subarray(headerLength);
  if (!createHash('sha256').update(body).digest().equals(bodySha)) throw new CacheCorruptError(path, 'body checksum mismatch');
  let batch: InstanceType<typeof pb.ResourceBatch>;
  try {
    batch = pb.ResourceBatch.decode(body);
  } catch (cause) {
    throw new CacheCorruptError(path, `undecodable body: ${(cause as Error).message}`, { cause });
  }
  if (!epoch) throw new CacheCorruptError(path, 'empty epoch');
  return { epoch, version: Number(version), hash, batch, writtenBy };
}
