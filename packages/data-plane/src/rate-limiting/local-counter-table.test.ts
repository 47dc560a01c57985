import { describe, expect, it } from 'vitest';
import { windowBounds } from '../plugins/rate-limiting/rate-limit-windows.js';
import type { RateLimitPeriod } from '../plugins/rate-limiting/rate-limiting-config.js';
import { LocalCounterTable } from './local-counter-table.js';

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0, 0);
const windows = (nowMs: number, limits: Partial<Record<RateLimitPeriod, number>>) =>
  Object.entries(limits).map(([period, limit]) => ({ period: period as RateLimitPeriod, limit: limit!, ...windowBounds(period as RateLimitPeriod, nowMs) }));

describe('LocalCounterTable', () => {
  it('counts check-before-increment: 1..limit pass, refused requests are not counted, a new window starts at zero', () => {
    const table = new LocalCounterTable(10);
    const w = windows(T0, { second: 3, minute: 5 });
    const usages = Array.from({ length: 5 }, () => table.consume('k', w, T0));
    expect(usages).toEqual([[0, 0], [1, 1], [2, 2], [3, 3], [3, 3]]);
    // Next second: the second's count restarts, the minute's goes on.
    const next = windows(T0 + 1000, { second: 3, minute: 5 });
    expect(table.consume('k', next, T0 + 1000)).toEqual([0, 3]);
    expect(table.consume('k', next, T0 + 1000)).toEqual([1, 4]);
    expect(table.consume('k', next, T0 + 1000)).toEqual([2, 5]);
  });

  it('enforces the limits it is given (degraded shares) instead of the windows\'', () => {
    const table = new LocalCounterTable(10);
    const w = windows(T0, { minute: 10 });
    const allowed = Array.from({ length: 8 }, () => table.consume('k', w, T0, [3])).filter(([u]) => u! < 3).length;
    expect(allowed).toBe(3);
  });

  it('holds at most its capacity, dropping the least recently used, and counts the drops of live windows as evictions', () => {
    const table = new LocalCounterTable(2);
    const w = windows(T0, { minute: 10 });
    table.consume('a', w, T0);
    table.consume('b', w, T0);
    table.consume('a', w, T0); // a is now the most recent
    table.consume('c', w, T0); // drops b
    expect(table.stats).toEqual({ entries: 2, capacity: 2, evictions: 1 });
    expect(table.consume('a', w, T0)).toEqual([2]);
    expect(table.consume('b', w, T0)).toEqual([0]); // b starts over (and drops c)
    // An entry whose windows have all ended is dropped without counting as an eviction.
    const later = T0 + 120_000;
    table.consume('d', windows(later, { minute: 10 }), later);
    expect(table.stats.evictions).toBe(2);
  });
});
