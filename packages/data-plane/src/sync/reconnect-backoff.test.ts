import { describe, expect, it } from 'vitest';
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS, ReconnectBackoff } from './reconnect-backoff.js';

describe('ReconnectBackoff (exponential, full jitter)', () => {
  it('has the protocol defaults: base 500 ms, cap 30 s', () => {
    const b = new ReconnectBackoff();
    expect([b.baseMs, b.capMs]).toEqual([RECONNECT_BASE_MS, RECONNECT_CAP_MS]);
    expect([b.ceilingMs(0), b.ceilingMs(1), b.ceilingMs(5), b.ceilingMs(6), b.ceilingMs(1000)]).toEqual([500, 1000, 16_000, 30_000, 30_000]);
  });

  it('draws the n-th delay uniformly from [0, min(cap, base × 2^n)): bounds, mean and spread', () => {
    const samples = 20_000;
    for (const n of [0, 3, 8]) {
      const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** n);
      const delays: number[] = [];
      for (let i = 0; i < samples; i++) {
        const b = new ReconnectBackoff();
        for (let k = 0; k < n; k++) b.next();
        delays.push(b.next());
      }
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThan(ceiling);
      const mean = delays.reduce((a, d) => a + d, 0) / samples;
      // Uniform on [0, c): mean c/2, standard error c/sqrt(12·samples) ≈ 0.002·c; allow 5 %.
      expect(Math.abs(mean - ceiling / 2)).toBeLessThan(ceiling * 0.05);
      // Full jitter fills the window: each decile holds about a tenth of the draws.
      const deciles = new Array(10).fill(0);
      for (const d of delays) deciles[Math.min(9, Math.floor((d / ceiling) * 10))]++;
      for (const count of deciles) expect(Math.abs(count - samples / 10)).toBeLessThan(samples * 0.02);
    }
  });

  it('jitters the first connect by up to base, and resets to base', () => {
    const draws = Array.from({ length: 2000 }, () => new ReconnectBackoff().initial());
    expect(Math.max(...draws)).toBeLessThan(RECONNECT_BASE_MS);
    expect(new Set(draws).size).toBeGreaterThan(100);
    const b = new ReconnectBackoff({ random: () => 0.999 });
    for (let i = 0; i < 20; i++) b.next();
    expect(b.next()).toBe(Math.floor(0.999 * RECONNECT_CAP_MS));
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(Math.floor(0.999 * RECONNECT_BASE_MS));
  });

  it('draws GoAway / RETRY_LATER delays inside their window', () => {
    const b = new ReconnectBackoff();
    for (let i = 0; i < 1000; i++) {
      const d = b.within(1000, 3000);
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(3000);
    }
    expect(b.within(500, 100)).toBe(100);
  });
});
