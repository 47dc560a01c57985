import { createHash } from 'node:crypto';
import { pb } from '@sluice/protocol';
import { CacheCorruptError } from '../errors.js';
import { SLUICE_VERSION } from '../proxy/proxy-server-options.js';
import { cacheBodyChunks } from './cache-body-chunks.js';
import type { RuntimeConfig } from './runtime-config.js';
import { writeFully, type FileSink } from './write-file-atomic.js';

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
  /** The header's own sha256 (its last 32 bytes): names this file, e.g. as the base a journal extends. */
  readonly headerDigest: Uint8Array;
}

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
 * decodes it. The header's length depends only on the epoch and the build (`cacheHeaderLength`),
 * so a streamed write ({@link writeCacheFile}) reserves it and fills it in last.
 *
 * This builds the whole file in memory, in one go: for tests and tools. The data plane writes
 * with {@link writeCacheFile}.
 */
export function encodeCacheFile(config: RuntimeConfig, writtenBy: string = SLUICE_VERSION): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of cacheBodyChunks(config.resources.values())) parts.push(Buffer.from(chunk));
  const body = Buffer.concat(parts);
  return Buffer.concat([cacheFileHeader(config, body.byteLength, createHash('sha256').update(body).digest(), writtenBy), body]);
}

/**
 * Writes the cache file of `config` (the bytes of {@link encodeCacheFile}) to `file` from offset 0,
 * a chunk at a time: the body is encoded into one buffer of `CACHE_CHUNK_BYTES` (256 KiB) reused for
 * every chunk, each chunk is added to the body's sha256 and written before the next is encoded, and
 * the header (which holds the body's length and digest) is written last into the region reserved
 * for it. So the event loop is held for one chunk's encoding and hashing at a time (a few
 * milliseconds), and a write allocates about 256 KiB whatever the size of the config. Safe because a
 * RuntimeConfig never changes. Returns the file's size in bytes and its header digest
 * (`CacheFileContents.headerDigest`).
 */
export async function writeCacheFile(file: FileSink, config: RuntimeConfig, writtenBy: string = SLUICE_VERSION): Promise<{ bytes: number; headerDigest: Uint8Array }> {
  const headerLength = cacheHeaderLength(config, writtenBy);
  const sha = createHash('sha256');
  let position = headerLength;
  for (const chunk of cacheBodyChunks(config.resources.values())) {
    sha.update(chunk);
    await writeFully(file, chunk, position);
    position += chunk.byteLength;
  }
  const header = cacheFileHeader(config, position - headerLength, sha.digest(), writtenBy);
  await writeFully(file, header, 0);
  return { bytes: position, headerDigest: header.subarray(headerLength - SHA256_BYTES) };
}

function headerFields(config: RuntimeConfig, writtenBy: string): { epoch: Buffer; build: Buffer; headerLength: number } {
  const epoch = Buffer.from(config.epoch, 'utf8');
  if (epoch.byteLength > MAX_CACHE_EPOCH_BYTES) throw new RangeError(`epoch of ${epoch.byteLength} bytes exceeds ${MAX_CACHE_EPOCH_BYTES}`);
  const build = Buffer.from(writtenBy.slice(0, MAX_CACHE_BUILD_BYTES), 'utf8');
  return { epoch, build, headerLength: FIXED_HEADER_BYTES + epoch.byteLength + BUILD_LENGTH_BYTES + build.byteLength + SHA256_BYTES };
}

/** The length of the header of `config`'s cache file, in bytes: it depends on the epoch and the build only. */
function cacheHeaderLength(config: RuntimeConfig, writtenBy: string = SLUICE_VERSION): number {
  return headerFields(config, writtenBy).headerLength;
}

/** The header of `config`'s cache file, for a body of `bodyLength` bytes whose sha256 is `bodySha`. */
function cacheFileHeader(config: RuntimeConfig, bodyLength: number, bodySha: Uint8Array, writtenBy: string): Buffer {
  const { epoch, build, headerLength } = headerFields(config, writtenBy);
  const out = Buffer.allocUnsafe(headerLength);
  let o = CACHE_MAGIC.copy(out, 0);
  o = out.writeUInt32BE(CACHE_FORMAT_VERSION, o);
  o = out.writeUInt32BE(headerLength, o);
  o = out.writeBigUInt64BE(BigInt(config.version), o);
  o = out.writeBigUInt64BE(BigInt(bodyLength), o);
  o += Buffer.from(config.hashBytes).copy(out, o);
  o += Buffer.from(bodySha).copy(out, o);
  o = out.writeUInt16BE(epoch.byteLength, o);
  o += epoch.copy(out, o);
  o = out.writeUInt16BE(build.byteLength, o);
  o += build.copy(out, o);
  createHash('sha256').update(out.subarray(0, o)).digest().copy(out, o);
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
  return { epoch, version: Number(version), hash, batch, writtenBy, headerDigest };
}
