import { PersistentMap } from '../router/persistent-map.js';
import type { Steps } from '../steps.js';

/**
 * An immutable string-keyed `ReadonlyMap` with O(log32 n) `set`/`delete` that return a new map
 * sharing structure with the old one (over the router's `PersistentMap`, a compressed hash array
 * mapped trie: about 40 bytes an entry besides its key and value).
 * It is what lets a delta build the next RuntimeConfig in work proportional to the delta: no map of
 * the whole config is copied. Iteration order is unspecified.
 */
export class ImmutableMap<V> implements ReadonlyMap<string, V> {
  private static readonly EMPTY = new ImmutableMap<never>(PersistentMap.empty<never>());

  private constructor(private readonly map: PersistentMap<V>) {}

  /** The empty map. */
  static empty<V>(): ImmutableMap<V> {
    return ImmutableMap.EMPTY as ImmutableMap<V>;
  }

  /** A map of the given entries (later duplicates win). */
  static from<V>(entries: Iterable<readonly [string, V]>): ImmutableMap<V> {
    return new ImmutableMap(PersistentMap.from(entries));
  }

  /** {@link from} as pausable {@link Steps} (one step per 256 entries). */
  static *fromSteps<V>(entries: Iterable<readonly [string, V]>): Steps<ImmutableMap<V>> {
    return new ImmutableMap(yield* PersistentMap.fromSteps(entries));
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** A map with `key` set to `value` (this map when it already holds exactly that value). */
  set(key: string, value: V): ImmutableMap<V> {
    const map = this.map.set(key, value);
    return map === this.map ? this : new ImmutableMap(map);
  }

  /** A map without `key` (this map when absent). */
  delete(key: string): ImmutableMap<V> {
    const map = this.map.delete(key);
    return map === this.map ? this : map.size === 0 ? ImmutableMap.empty<V>() : new ImmutableMap(map);
  }

  entries(): MapIterator<[string, V]> {
    return this.map.entries() as MapIterator<[string, V]>;
  }

  *keys(): MapIterator<string> {
    for (const [key] of this.map.entries()) yield key;
  }

  values(): MapIterator<V> {
    return this.map.values() as MapIterator<V>;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.map.entries()) callback.call(thisArg, value, key, this);
  }
}
