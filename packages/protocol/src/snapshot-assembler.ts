import { ProtocolError, ProtocolErrorCode } from './errors.js';
import { MAX_CONFIG_BYTES, MAX_SNAPSHOT_CHUNKS } from './limits.js';
import type { PackedBody } from './blob.js';
import type { SnapshotBeginMessage, SnapshotChunkMessage } from './proto.js';

/**
 * Reassembles one chunked snapshot on the receiving side. The declared totals are checked against
 * the limits before anything is buffered; chunks must arrive in order, with the begin's nonce, and
 * add up to exactly the declared size.
 */
export class SnapshotAssembler {
  readonly nonce: number;
  readonly begin: SnapshotBeginMessage;
  private readonly chunks: Uint8Array[] = [];
  private received = 0;

  constructor(begin: SnapshotBeginMessage, maxCompressedBytes: number = MAX_CONFIG_BYTES) {
    const total = Number(begin.totalBytes ?? 0);
    const count = Number(begin.chunkCount ?? 0);
    if (total > maxCompressedBytes || Number(begin.rawSize ?? 0) > MAX_CONFIG_BYTES) {
      throw new ProtocolError(ProtocolErrorCode.BLOB_TOO_LARGE, `snapshot of ${total} bytes (${begin.rawSize} raw) exceeds the limit`);
    }
    if (count < 1 || count > MAX_SNAPSHOT_CHUNKS) {
      throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, `snapshot declares ${count} chunks (1..${MAX_SNAPSHOT_CHUNKS} allowed)`);
    }
    this.nonce = Number(begin.nonce ?? 0);
    this.begin = begin;
  }

  /** Adds the next chunk. Throws on a wrong nonce, index, or overflow. */
  add(chunk: SnapshotChunkMessage): void {
    if (Number(chunk.nonce ?? 0) !== this.nonce) {
      throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, `snapshot chunk for nonce ${chunk.nonce}, expected ${this.nonce}`);
    }
    if ((chunk.index ?? 0) !== this.chunks.length) {
      throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, `snapshot chunk ${chunk.index} out of order, expected ${this.chunks.length}`);
    }
    const data = chunk.data ?? new Uint8Array(0);
    this.received += data.byteLength;
    if (this.received > Number(this.begin.totalBytes ?? 0) || this.chunks.length >= Number(this.begin.chunkCount)) {
      throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, 'snapshot chunks exceed the declared size');
    }
    this.chunks.push(data);
  }

  /** Completes the snapshot; returns the packed body to unpack. Throws if chunks are missing. */
  finish(nonce: number): PackedBody {
    if (nonce !== this.nonce) throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, `snapshot end for nonce ${nonce}, expected ${this.nonce}`);
    if (this.chunks.length !== Number(this.begin.chunkCount) || this.received !== Number(this.begin.totalBytes ?? 0)) {
      throw new ProtocolError(ProtocolErrorCode.SNAPSHOT_SEQUENCE, `snapshot incomplete: ${this.chunks.length}/${this.begin.chunkCount} chunks, ${this.received}/${this.begin.totalBytes} bytes`);
    }
    return {
      codec: this.begin.codec ?? 0,
      rawSize: Number(this.begin.rawSize ?? 0),
      rawSha256: this.begin.rawSha256 ?? new Uint8Array(0),
      data: this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks),
    };
  }
}
