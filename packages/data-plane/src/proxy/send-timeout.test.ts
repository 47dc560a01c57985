import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SendTimeout } from './send-timeout.js';

/** A writable side whose queue the test drains by hand. */
class Side {
  writableLength = 0;
}

describe('SendTimeout (nginx send_timeout)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires when the peer takes nothing of the queue for the timeout after a refused write', () => {
    const side = new Side();
    let expired = 0;
    const timeout = new SendTimeout(side, 1000, () => expired++);
    side.writableLength = 100;
    timeout.wrote(100, true);
    expect(timeout.isArmed).toBe(false);
    side.writableLength = 200;
    timeout.wrote(100, false);
    expect(timeout.isArmed).toBe(true);
    vi.advanceTimersByTime(999);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(expired).toBe(1);
    expect(timeout.isArmed).toBe(false);
  });

  it('a slow but steady reader re-arms it: progress is not a stall', () => {
    const side = new Side();
    let expired = 0;
    const timeout = new SendTimeout(side, 1000, () => expired++);
    side.writableLength = 500;
    timeout.wrote(500, false);
    for (let second = 0; second < 5; second++) {
      // The peer takes 100 bytes, and 100 more are queued: the queue length stays the same.
      timeout.wrote(100, false);
      vi.advanceTimersByTime(1000);
      expect(expired).toBe(0);
      expect(timeout.isArmed).toBe(true);
    }
    vi.advanceTimersByTime(1000);
    expect(expired).toBe(1);
  });

  it("counts the kernel taking part of one big write request as progress (libuv's write queue size)", () => {
    // Node hands everything buffered to libuv as one request: writableLength stays put until it is
    // all written, while libuv's count moves with every partial write.
    const side = { writableLength: 1_000_000, _handle: { writeQueueSize: 1_000_000 } };
    let expired = 0;
    const timeout = new SendTimeout(side, 1000, () => expired++);
    timeout.wrote(1_000_000, false);
    for (let second = 0; second < 3; second++) {
      side._handle.writeQueueSize -= 64 * 1024;
      vi.advanceTimersByTime(1000);
      expect(expired).toBe(0);
    }
    vi.advanceTimersByTime(1000);
    expect(expired).toBe(1);
  });

  it('a drain disarms it, and an emptied queue never expires', () => {
    const side = new Side();
    let expired = 0;
    const timeout = new SendTimeout(side, 1000, () => expired++);
    side.writableLength = 10;
    timeout.wrote(10, false);
    timeout.drained();
    expect(timeout.isArmed).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(expired).toBe(0);

    timeout.wrote(10, false);
    side.writableLength = 0;
    vi.advanceTimersByTime(5000);
    expect(expired).toBe(0);
  });

  it('stop() ends it for good', () => {
    const side = new Side();
    let expired = 0;
    const timeout = new SendTimeout(side, 1000, () => expired++);
    side.writableLength = 10;
    timeout.wrote(10, false);
    timeout.stop();
    vi.advanceTimersByTime(5000);
    expect(expired).toBe(0);
  });
});
