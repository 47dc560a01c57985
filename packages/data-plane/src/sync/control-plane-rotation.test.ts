import { describe, expect, it } from 'vitest';
import { ControlPlaneRotation } from './control-plane-rotation.js';

const A = 'ws://a:8005';
const B = 'ws://b:8005';
const C = 'ws://c:8005';

/** A rotation whose randomness is fixed at `r` (0 = the least delay, 0.999 = nearly the most). */
function rotation(urls: string[], r = 0.5): ControlPlaneRotation {
  return new ControlPlaneRotation(urls, { baseMs: 100, capMs: 1_000, random: () => r });
}

describe('ControlPlaneRotation', () => {
  it('starts on the first address after a jitter of at most the base', () => {
    expect(rotation([A, B], 0.5).first()).toEqual({ index: 0, url: A, delayMs: 50 });
  });

  it('moves to the next address after a failure, within the base, and comes back round', () => {
    const r = rotation([A, B, C], 0.5);
    r.first();
    expect(r.next({ kind: 'failed' }, 1_000)).toEqual({ index: 1, url: B, delayMs: 50 });
    expect(r.next({ kind: 'failed' }, 1_050)).toEqual({ index: 2, url: C, delayMs: 50 });
    // A failed at 1000 and backs off random × base = 50 ms: free again at 1050, before 1100 + 50.
    expect(r.next({ kind: 'failed' }, 1_100)).toMatchObject({ index: 0, url: A, delayMs: 50 });
  });

  it('backs off per address: when every address is backing off, the one free soonest is next', () => {
    const r = rotation([A, B], 0.999);
    r.first();
    // Each address's own backoff grows with its own failures: A and B fail three times each.
    for (let i = 0; i < 3; i++) {
      r.next({ kind: 'failed' }, 0); // A fails → B
      r.next({ kind: 'failed' }, 0); // B fails → A
    }
    const next = r.next({ kind: 'failed' }, 0); // A's 4th failure: ~800 ms; B's 3rd: ~400 ms
    expect(next.url).toBe(B);
    expect(next.delayMs).toBe(399);
    expect(r.current).toBe(B);
  });

  it('leaves a replica that answered RETRY_LATER for another at once, and waits on it only when it is the only one', () => {
    const two = rotation([A, B], 0);
    two.first();
    expect(two.next({ kind: 'retry-later', retryAfterMs: 2_000 }, 0)).toEqual({ index: 1, url: B, delayMs: 0 });
    const one = rotation([A], 0.5);
    one.first();
    expect(one.next({ kind: 'retry-later', retryAfterMs: 2_000 }, 0)).toEqual({ index: 0, url: A, delayMs: 2_500 });
  });

  it('on GoAway goes to another address at the drawn time and avoids the draining one until its window ends', () => {
    const r = rotation([A, B], 0);
    r.first();
    expect(r.next({ kind: 'go-away', reconnectAtMs: 300, windowEndMs: 5_000 }, 100)).toEqual({ index: 1, url: B, delayMs: 200 });
    // B fails right away: A is still draining (until 5000), so B is retried after its own backoff.
    expect(r.next({ kind: 'failed' }, 400)).toEqual({ index: 1, url: B, delayMs: 0 });
    const one = rotation([A], 0);
    one.first();
    expect(one.next({ kind: 'go-away', reconnectAtMs: 300, windowEndMs: 5_000 }, 100)).toEqual({ index: 0, url: A, delayMs: 200 });
  });

  it('starts an address over once its connection stayed up', () => {
    const r = rotation([A], 0.999);
    r.first();
    for (let i = 0; i < 5; i++) r.next({ kind: 'failed' }, 0);
    expect(r.next({ kind: 'failed' }, 0).delayMs).toBe(999);
    r.resetCurrent();
    expect(r.next({ kind: 'failed' }, 0).delayMs).toBe(99);
  });
});
