import { encodeFrame } from '@sluice/protocol';
import type { PackedDelta } from '../changes/config-mirror.js';

/** A delta's frame, ready for any socket: its nonce and the encoded Envelope. */
export interface DeltaFrame {
  readonly nonce: number;
  readonly bytes: Uint8Array;
}

/**
 * The frames of the deltas this replica sends: each packed delta (one per base version and head,
 * shared by the mirror) is encoded into its Envelope once, and the same bytes are written to every
 * data plane at that base, so a version costs one encode however many data planes it goes to.
 * Nonces come from one sequence for the whole replica ({@link nextNonce}), snapshots' included:
 * a delta's nonce, drawn once, is then unique on every connection it is sent on.
 */
export class DeltaFrames {
  private readonly frames = new WeakMap<PackedDelta, DeltaFrame>();
  private lastNonce = 0;
  /** Deltas encoded into frames since start. */
  encoded = 0;

  /** The next push nonce of this replica. */
  nextNonce(): number {
    return ++this.lastNonce;
  }

  /** The frame of `delta`, encoded on first use. */
  frameOf(delta: PackedDelta): DeltaFrame {
    let frame = this.frames.get(delta);
    if (frame === undefined) {
      const nonce = this.nextNonce();
      const bytes = encodeFrame({
        delta: {
          nonce,
          epoch: delta.epoch,
          fromVersion: delta.fromVersion,
          toVersion: delta.toVersion,
          targetHash: delta.targetHash,
          body: { codec: delta.body.codec, rawSize: delta.body.rawSize, rawSha256: delta.body.rawSha256, data: delta.body.data },
        },
      });
      frame = { nonce, bytes };
      this.frames.set(delta, frame);
      this.encoded++;
    }
    return frame;
  }
}
