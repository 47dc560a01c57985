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

  it('keeps keys whose whole 32-bit hashes collide apart, and counts them right', () => {
    // FNV-1a("key-901258") === FNV-1a("key-1540052"): they end in one collision bucket.
    const a = 'key-901258';
    const b = 'key-1540052';
    let map = PersistentMap.empty<number>().set(a, 1).set(b, 2);
    expect(map.size).toBe(2);
    map = map.set(a, 3);
    expect(map.size).toBe(2);
    expect([map.get(a), map.get(b)]).toEqual([3, 2]);
    map = map.delete(a);
    expect(map.size).toBe(1);
    expect([map.get(a), map.get(b)]).toEqual([undefined, 2]);
    expect(map.set(b, 4).size).toBe(1);
  });

  it('from (built in place) holds what a run of set holds, later duplicates winning, and stays unchanged by later sets', () => {
    // 'key-901258' and 'key-1540052' share a whole 32-bit hash: the in-place build makes a collision bucket too.
    const entries: [string, number][] = [['key-901258', 1], ['key-1540052', 2], ['key-901258', 3]];
    for (let i = 0; i < 5000; i++) entries.push([`k${(i * 7919) % 3000}`, i]);
    const built = PersistentMap.from(entries);
    let reference = PersistentMap.empty<number>();
    for (const [key, value] of entries) reference = reference.set(key, value);
    expect(built.size).toBe(reference.size);
    expect(new Map(built.entries())).toEqual(new Map(reference.entries()));
    expect(new Map(built.entries())).toEqual(new Map(entries));
    const changed = built.set('k1', -1).delete('key-901258');
    expect([built.get('k1'), built.get('key-901258'), built.size]).toEqual([reference.get('k1'), 3, reference.size]);
    expect([changed.get('k1'), changed.get('key-901258'), changed.get('key-1540052'), changed.size]).toEqual([-1, undefined, 2, reference.size - 1]);
    expect(PersistentMap.from([]).size).toBe(0);
  });

  it('looks up a substring in place', () => {
    const map = PersistentMap.from([['.example.com', 1]]);
    expect(map.getRange('a.example.com', 1, 13)).toBe(1);
    expect(map.getRange('a.example.co', 1, 12)).toBeUndefined();
  });
});
