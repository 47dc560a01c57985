import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { unwrittenBytes, watchSendProgress } from './send-progress.js';

describe('unwrittenBytes', () => {
  it("reads libuv's write queue: the TCP handle's, or the one beneath a TLS handle; null when not exposed", () => {
    expect(unwrittenBytes({ _handle: { writeQueueSize: 1234 } })).toBe(1234);
    expect(unwrittenBytes({ _handle: { writeQueueSize: 99, _parent: { writeQueueSize: 7 } } })).toBe(7);
    expect(unwrittenBytes({ _handle: null })).toBeNull();
    expect(unwrittenBytes({ _handle: { writeQueueSize: 'x' } })).toBeNull();
    expect(unwrittenBytes({})).toBeNull();
    expect(unwrittenBytes(undefined)).toBeNull();
  });
});

describe('watchSendProgress', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** A send whose queue, last write and kernel queue the test moves by hand. */
  function source(bufferedAmount: number, queue = 0) {
    const s = { bufferedAmount, writeDoneAt: 0, socket: { _handle: { writeQueueSize: queue } }, lastWriteDoneAt: () => s.writeDoneAt };
    return s;
  }

  it('fires once, after the timeout, when nothing moves while bytes are queued', () => {
    const s = source(1_000_000, 500_000);
    const onStall = vi.fn();
    watchSendProgress(s, 1_000, onStall);
    vi.advanceTimersByTime(999);
    expect(onStall).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    expect(onStall).toHaveBeenCalledTimes(1);
    expect(onStall.mock.calls[0]![0].bufferedBytes).toBe(1_000_000);
    vi.advanceTimersByTime(10_000);
    expect(onStall).toHaveBeenCalledTimes(1);
  });

  it('never fires while the send moves: a frame written, the queue shrinking, the kernel taking part of a frame, or nothing queued', () => {
    const s = source(1_000_000, 500_000);
    const onStall = vi.fn();
    const stop = watchSendProgress(s, 1_000, onStall);
    const moves = [
      () => (s.writeDoneAt += 1),
      () => (s.bufferedAmount -= 1),
      () => (s.socket._handle.writeQueueSize -= 1),
      () => (s.bufferedAmount = 0),
    ];
    for (const move of [...moves, ...moves]) {
      vi.advanceTimersByTime(700);
      move();
      vi.advanceTimersByTime(250); // one check sees it
      if (s.bufferedAmount === 0) s.bufferedAmount = 1_000_000;
    }
    expect(onStall).not.toHaveBeenCalled();
    stop();
    vi.advanceTimersByTime(10_000);
    expect(onStall).not.toHaveBeenCalled();
  });
});
