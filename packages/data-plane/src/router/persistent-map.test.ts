import { describe, expect, it } from 'vitest';
import { PersistentMap } from './persistent-map.js';

describe('PersistentMap', () => {
  it('behaves like a Map under random sets and deletes, and old versions stay intact', () => {
    let map = PersistentMap.empty<number>();
    const reference = new Map<string, number>();
    const snapshots: [PersistentMap<number>, Map<string, number>][] = [];
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let i = 0; i < 20000; i++) {
      const key = `k${next() % 3000}`;
      if (next() % 3 === 0) {
        map = map.delete(key);
        reference.delete(key);
      } else {
        map = map.set(key, i);
        reference.set(key, i);
      }
      if (i % 2000 === 0) snapshots.push([map, new Map(reference)]);
    }
    expect(map.size).toBe(reference.size);
    for (const [key, value] of reference) expect(map.get(key)).toBe(value);
    expect(new Map(map.entries())).toEqual(reference);
    for (const [snapshot, expected] of snapshots) expect(new Map(snapshot.entries())).toEqual(expected);
  });

  it('looks up a substring in place', () => {
    const map = PersistentMap.from([['.example.com', 1]]);
    expect(map.getRange('a.example.com', 1, 13)).toBe(1);
    expect(map.getRange('a.example.co', 1, 12)).toBeUndefined();
  });
});
