import { describe, expect, it } from 'vitest';
import { ImmutableMap } from './immutable-map.js';

describe('ImmutableMap', () => {
  it('behaves as a ReadonlyMap and never changes an existing version', () => {
    const a = ImmutableMap.from(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i] as const));
    const b = a.set('k1', -1).delete('k2').set('new', 5);
    expect(a.size).toBe(2000);
    expect(a.get('k1')).toBe(1);
    expect(a.has('k2')).toBe(true);
    expect(b.size).toBe(2000);
    expect(b.get('k1')).toBe(-1);
    expect(b.has('k2')).toBe(false);
    expect(new Map(b)).toEqual(new Map([...a].filter(([k]) => k !== 'k2').map(([k, v]) => [k, k === 'k1' ? -1 : v] as const).concat([['new', 5]])));
    expect([...b.keys()].sort()).toEqual([...new Map(b).keys()].sort());
    let n = 0;
    b.forEach(() => n++);
    expect(n).toBe(2000);
    expect(a.delete('absent')).toBe(a);
  });
});
