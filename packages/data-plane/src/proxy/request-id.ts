import { randomFillSync } from 'node:crypto';

/** Bytes of randomness in one request id (rendered as twice as many hex characters). */
export const REQUEST_ID_BYTES = 16;
const POOL_BYTES = REQUEST_ID_BYTES * 256;

/**
 * Makes request ids: 32 lower-case hex characters of CSPRNG output (`^[0-9a-f]+$`, like Kong's
 * `X-Kong-Request-Id`). Randomness is drawn in 4 KiB batches so one id costs one hex conversion.
 */
export class RequestIdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  /** A fresh id. */
  next(): string {
    if (this.offset === POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += REQUEST_ID_BYTES;
    return this.pool.toString('hex', start, start + REQUEST_ID_BYTES);
  }
}
