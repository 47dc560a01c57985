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

  it('matches a Map through random sets and deletes, every ReadonlyMap view included, and returns itself when nothing changes', () => {
    let map = ImmutableMap.empty<number>();
    const reference = new Map<string, number>();
    let seed = 5;
    const next = (bound: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % bound;
    for (let i = 0; i < 5000; i++) {
      const key = `id-${next(600)}`;
      const before = map;
      if (next(5) < 2) {
        map = map.delete(key);
        expect(map === before).toBe(!reference.has(key));
        reference.delete(key);
      } else {
        const value = next(3);
        map = map.set(key, value);
        expect(map === before).toBe(reference.get(key) === value);
        reference.set(key, value);
      }
      if (i % 250 === 0) {
        expect(map.size).toBe(reference.size);
        expect(new Map(map)).toEqual(reference);
        expect(new Map(map.entries())).toEqual(reference);
        expect([...map.keys()].sort()).toEqual([...reference.keys()].sort());
        expect([...map.values()].sort()).toEqual([...reference.values()].sort());
        for (let k = 0; k < 600; k++) expect([map.has(`id-${k}`), map.get(`id-${k}`)]).toEqual([reference.has(`id-${k}`), reference.get(`id-${k}`)]);
      }
    }
    let emptied = map;
    for (const key of reference.keys()) emptied = emptied.delete(key);
    expect(emptied).toBe(ImmutableMap.empty());
  });
});
