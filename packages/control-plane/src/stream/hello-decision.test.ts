import { pb } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { HELLO_LIMITS, helloMode, isAheadOf, isHelloWithinLimits } from './hello-decision.js';

const Mode = pb.HelloAck.Mode;
const HASH = 'ab'.repeat(32);

/** A mirror at epoch `e`, version 10, log retained from 4; `delta` builds only from versions ≥ 6. */
const mirror = {
  epoch: 'e',
  version: 10,
  minRetainedVersion: 4,
  hashHex: () => HASH,
  delta: async (from: number) => (from >= 6 ? ({} as never) : null),
};

describe('hello decision', () => {
  it('answers up to date, delta, or snapshot', async () => {
    expect(await helloMode({ epoch: 'e', version: 10, hash: HASH }, mirror)).toBe(Mode.MODE_UP_TO_DATE);
    expect(await helloMode({ epoch: 'e', version: 10, hash: 'cd'.repeat(32) }, mirror)).toBe(Mode.MODE_SNAPSHOT);
    expect(await helloMode({ epoch: 'e', version: 7, hash: HASH }, mirror)).toBe(Mode.MODE_DELTA);
    // Retained, but the mirror will not build it (bigger than half the config): a snapshot.
    expect(await helloMode({ epoch: 'e', version: 5, hash: HASH }, mirror)).toBe(Mode.MODE_SNAPSHOT);
    expect(await helloMode({ epoch: 'e', version: 3, hash: HASH }, mirror)).toBe(Mode.MODE_SNAPSHOT);
    expect(await helloMode({ epoch: 'other', version: 10, hash: HASH }, mirror)).toBe(Mode.MODE_SNAPSHOT);
    expect(await helloMode({ epoch: '', version: 0, hash: '' }, mirror)).toBe(Mode.MODE_SNAPSHOT);
  });

  it('knows a data plane ahead of the replica only within its epoch', () => {
    expect(isAheadOf({ epoch: 'e', version: 11, hash: HASH }, mirror)).toBe(true);
    expect(isAheadOf({ epoch: 'old', version: 99, hash: HASH }, mirror)).toBe(false);
    expect(isAheadOf({ epoch: 'e', version: 10, hash: HASH }, mirror)).toBe(false);
  });

  it('refuses a Hello without a node id or over its limits', () => {
    expect(isHelloWithinLimits({ nodeId: 'n' })).toBe(true);
    expect(isHelloWithinLimits({ nodeId: '' })).toBe(false);
    expect(isHelloWithinLimits({ nodeId: 'n'.repeat(HELLO_LIMITS.maxIdLength + 1) })).toBe(false);
    expect(isHelloWithinLimits({ nodeId: 'n', hostname: 'h'.repeat(HELLO_LIMITS.maxStringLength + 1) })).toBe(false);
    const labels = Object.fromEntries(Array.from({ length: HELLO_LIMITS.maxLabels + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(isHelloWithinLimits({ nodeId: 'n', labels })).toBe(false);
    expect(isHelloWithinLimits({ nodeId: 'n', labels: { k: 'v'.repeat(HELLO_LIMITS.maxStringLength + 1) } })).toBe(false);
    const plugins = Array.from({ length: HELLO_LIMITS.maxPlugins + 1 }, (_, i) => ({ name: `p${i}`, version: '1.0.0' }));
    expect(isHelloWithinLimits({ nodeId: 'n', plugins: plugins.slice(1) })).toBe(true);
    expect(isHelloWithinLimits({ nodeId: 'n', plugins })).toBe(false);
    expect(isHelloWithinLimits({ nodeId: 'n', plugins: [{ name: 'p'.repeat(HELLO_LIMITS.maxStringLength + 1), version: '1' }] })).toBe(false);
    expect(isHelloWithinLimits({ nodeId: 'n', plugins: [{ name: 'p', version: '1'.repeat(HELLO_LIMITS.maxStringLength + 1) }] })).toBe(false);
  });
});
