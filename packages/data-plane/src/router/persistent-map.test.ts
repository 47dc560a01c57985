import { describe, expect, it } from 'vitest';
import { runSteps } from '../steps.js';
import { hashRange, PersistentMap } from './persistent-map.js';

const FNV_PRIME = 0x01000193;
/** FNV_PRIME's inverse mod 2^32 (Newton's iteration; each step doubles the correct low bits). */
const FNV_PRIME_INVERSE = [1, 2, 3, 4, 5].reduce((x) => Math.imul(x, 2 - Math.imul(FNV_PRIME, x)), FNV_PRIME);

/**
 * `prefix` and three more UTF-16 code units whose FNV-1a hash is `hash`: run FNV-1a backwards over
 * the last unit, then search two units for a state that matches (about 65,536 tries).
 */
function keyWithHash(prefix: string, hash: number): string {
  let state = 0x811c9dc5;
  for (let i = 0; i < prefix.length; i++) state = Math.imul(state ^ prefix.charCodeAt(i), FNV_PRIME);
  const beforeLast = Math.imul(hash, FNV_PRIME_INVERSE);
  for (let c0 = 0x41; ; c0++) {
    const h1 = Math.imul(state ^ c0, FNV_PRIME);
    for (let c1 = 0; c1 < 0x10000; c1++) {
      const h2 = Math.imul(h1 ^ c1, FNV_PRIME);
      if ((h2 ^ beforeLast) >>> 16 === 0) {
        const key = prefix + String.fromCharCode(c0, c1, (h2 ^ beforeLast) & 0xffff);
        expect(hashRange(key, 0, key.length)).toBe(hash | 0);
        return key;
      }
    }
  }
}

/**
 * Keys that force every shape of the trie: hashes agreeing on their low 5, 10, … 30 bits (chains of
 * single-child nodes down to depth 6, whose fragment is the top 2 bits), hashes equal but for bit 30
 * or 31, and whole-hash collisions of three keys (collision nodes), among plain keys.
 */
function awkwardKeys(): string[] {
  const keys: string[] = [];
  let seed = 11;
  const random32 = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
  for (let group = 0; group < 6; group++) {
    const base = random32();
    for (let bits = 5; bits <= 30; bits += 5) {
      const mask = bits === 30 ? 0x3fffffff : (1 << bits) - 1;
      keys.push(keyWithHash(`p${group}-${bits}-`, (base & mask) | (random32() & ~mask)));
    }
    keys.push(keyWithHash(`b30-${group}-`, base ^ (1 << 30)), keyWithHash(`b31-${group}-`, base ^ (1 << 31)));
    for (let i = 0; i < 3; i++) keys.push(keyWithHash(`c${group}-${i}-`, base));
  }
  for (let i = 0; i < 200; i++) keys.push(`k${i}`);
  return keys;
}

/** The tree itself, to check that its shape depends only on its keys. */
function rootOf(map: PersistentMap<unknown>): unknown {
  return (map as unknown as { root: unknown }).root;
}

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

  it('matches a Map through sets and deletes of keys with colliding hashes at every depth, old versions unchanged', () => {
    const keys = awkwardKeys();
    let seed = 3;
    const next = (bound: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % bound;
    const initial: [string, number][] = keys.filter(() => next(2) === 0).map((key, i) => [key, i]);
    let map = PersistentMap.from(initial);
    const reference = new Map(initial);
    const start = map;
    const snapshots: [PersistentMap<number>, Map<string, number>][] = [];
    for (let i = 0; i < 20000; i++) {
      // Phases that grow the map towards all keys and shrink it towards none, so that deletes
      // empty whole subtrees and collapse chains and collision nodes back into their parents.
      const isShrinking = Math.floor(i / 2500) % 2 === 1;
      const key = keys[next(keys.length)];
      const before = map;
      if (next(10) < (isShrinking ? 8 : 3)) {
        map = map.delete(key);
        if (!reference.has(key)) expect(map).toBe(before);
        reference.delete(key);
      } else {
        const value = next(4);
        map = map.set(key, value);
        if (reference.get(key) === value) expect(map).toBe(before);
        reference.set(key, value);
      }
      expect(map.size).toBe(reference.size);
      if (i % 500 === 0) {
        for (const k of keys) expect(map.get(k)).toBe(reference.get(k));
        for (const k of keys) expect(map.getRange(`<${k}>`, 1, k.length + 1)).toBe(reference.get(k));
        expect(new Map(map.entries())).toEqual(reference);
        expect(rootOf(map)).toEqual(rootOf(PersistentMap.from(reference)));
        snapshots.push([map, new Map(reference)]);
      }
    }
    for (const [snapshot, expected] of snapshots) {
      expect(snapshot.size).toBe(expected.size);
      expect(new Map(snapshot.entries())).toEqual(expected);
    }
    expect(new Map(start.entries())).toEqual(new Map(initial));
    let emptied = map;
    for (const key of keys) emptied = emptied.delete(key);
    expect(emptied).toBe(PersistentMap.empty());
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

  it('fromSteps yields once per entriesPerStep entries and builds the tree a run of set builds, collisions included', () => {
    const keys = awkwardKeys();
    const entries: [string, number][] = [];
    for (let i = 0; i < 3 * keys.length; i++) entries.push([keys[(i * 7919) % keys.length], i]);
    const steps = PersistentMap.fromSteps(entries, 10);
    let yields = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) yields++;
    const built = step.value;
    let reference = PersistentMap.empty<number>();
    for (const [key, value] of entries) reference = reference.set(key, value);
    expect(yields).toBe(Math.floor(entries.length / 10));
    expect(built.size).toBe(keys.length);
    expect(new Map(built.entries())).toEqual(new Map(entries));
    expect(rootOf(built)).toEqual(rootOf(reference));
    expect(rootOf(runSteps(PersistentMap.fromSteps([...entries].reverse())))).toEqual(rootOf(PersistentMap.from(new Map([...entries].reverse()))));
  });

  it('holds array values (a node is told from a value by its depth, not by its type)', () => {
    const keys = awkwardKeys();
    const map = PersistentMap.from(keys.map((key, i) => [key, [i, key]] as const));
    for (const [i, key] of keys.entries()) expect(map.get(key)).toEqual([i, key]);
    expect([...map.values()].length).toBe(keys.length);
  });

  it('looks up a substring in place', () => {
    const map = PersistentMap.from([['.example.com', 1]]);
    expect(map.getRange('a.example.com', 1, 13)).toBe(1);
    expect(map.getRange('a.example.co', 1, 12)).toBeUndefined();
  });
});
