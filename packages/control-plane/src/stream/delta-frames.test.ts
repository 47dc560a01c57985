import { decodeFrame, packBatch } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import type { PackedDelta } from '../changes/config-mirror.js';
import { DeltaFrames } from './delta-frames.js';

const packed = (fromVersion: number, toVersion: number): PackedDelta => ({
  epoch: 'e1',
  fromVersion,
  toVersion,
  targetHash: new Uint8Array(32).fill(7),
  body: packBatch({ upserts: [{ type: 1, id: 's1', version: toVersion, payload: new Uint8Array([1, 2, 3]) }] }),
  upserts: 1,
  removals: 0,
});

describe('DeltaFrames', () => {
  it('encodes a packed delta once: every data plane at its base gets the same bytes and nonce', () => {
    const frames = new DeltaFrames();
    const delta = packed(4, 5);
    const first = frames.frameOf(delta);
    const again = frames.frameOf(delta);
    expect(again).toBe(first);
    expect(frames.encoded).toBe(1);
    const env = decodeFrame(first.bytes);
    expect(env.msg).toBe('delta');
    expect(Number(env.delta!.nonce)).toBe(first.nonce);
    expect({ epoch: env.delta!.epoch, from: Number(env.delta!.fromVersion), to: Number(env.delta!.toVersion) }).toEqual({ epoch: 'e1', from: 4, to: 5 });
    expect(Buffer.from(env.delta!.body!.data!)).toEqual(Buffer.from(delta.body.data));
  });

  it('draws nonces for deltas and snapshots from one sequence, so none repeats on a connection', () => {
    const frames = new DeltaFrames();
    const a = frames.frameOf(packed(1, 3)).nonce;
    const snapshot = frames.nextNonce();
    const b = frames.frameOf(packed(2, 3)).nonce;
    expect(new Set([a, snapshot, b]).size).toBe(3);
    expect(frames.encoded).toBe(2);
  });
});
