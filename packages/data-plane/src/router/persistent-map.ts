import { runSteps, type Steps } from '../steps.js';

/**
 * An immutable string-keyed hash map with structural sharing: a compressed hash array mapped trie
 * (CHAMP: Steindorfer and Vinju, "Optimizing Hash-Array Mapped Tries for Fast and Lean Immutable
 * JVM Collections", 2015). `set` and `delete` copy only the O(log32 n) nodes on the way to the key,
 * so the cost of a change does not grow with the size of the map. Lookups can hash a substring in
 * place (`getRange`), which lets the router look up host suffixes without allocating.
 *
 * A node is one plain array, `[dataMap, nodeMap, key0, value0, key1, value1, …, child1, child0]`:
 * bit i of `dataMap` says that the entry whose hash has 5-bit fragment i at this depth is stored
 * inline (key then value, in ascending fragment order after the two bitmaps); bit i of `nodeMap`
 * says that fragment i leads to a child node (children from the end of the array, in ascending
 * fragment order towards the front). A slot's index is the popcount of its bitmap's bits below it.
 * Only present slots take space (64-bit V8 without pointer compression, as Node ships): 16 bytes
 * an entry, 8 a child, 64 a node (array headers and bitmaps), about 39 bytes an entry in all at
 * 100,000 keys and 310 bytes a 10-entry map, where a 32-slot uncompressed trie with a leaf object
 * an entry took 162 bytes and 1,130.
 *
 * Depths 0 to 6 spend the 32 hash bits (depth 6 the last 2); keys whose whole hashes collide share a
 * collision node `[key0, value0, key1, value1, …]` at depth 7, sorted by key. Which kind a node is
 * follows from its depth, never from its contents, so values may be anything, arrays included.
 *
 * The shape is canonical, a function of the set of keys alone: an entry sits inline at the first
 * depth where no other key shares its hash prefix, `delete` moves the last entry of a node back up
 * into its parent, and the bulk build gives the shape a run of `set` gives. A map shrunk by deletes
 * is as small as one built with what is left.
 */

type Node = unknown[];

const BITS = 5;
const MASK = (1 << BITS) - 1;
/** The shift of the deepest bitmap node (its fragment is the last 2 hash bits); below it, collision nodes. */
const LAST_SHIFT = 30;

/**
 * FNV-1a over the UTF-16 code units of `key[start, end)`, as a signed 32-bit integer (so that it
 * stays a small integer, never a heap number, when passed around). A murmur3 finalizer on top
 * made no smaller tries on the config's keys (uuids, `kind/id`, host names), so there is none.
 */
export function hashRange(key: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function hashOf(key: string): number {
  return hashRange(key, 0, key.length);
}

/** The number of set bits of a 32-bit integer. */
function bitCount(bits: number): number {
  bits -= (bits >>> 1) & 0x55555555;
  bits = (bits & 0x33333333) + ((bits >>> 2) & 0x33333333);
  return Math.imul((bits + (bits >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

function sameRange(key: string, source: string, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== source.charCodeAt(start + i)) return false;
  return true;
}

/** Where the inline entry at `bit` (set or not) goes in a node with this `dataMap`. */
function dataIndex(dataMap: number, bit: number): number {
  return 2 + 2 * bitCount(dataMap & (bit - 1));
}

/** Where the child at `bit` goes in `node` (whose `nodeMap` already has it). */
function childIndex(node: Node, nodeMap: number, bit: number): number {
  return node.length - 1 - bitCount(nodeMap & (bit - 1));
}

/** A node holding two entries whose hashes agree below `shift`. */
function merge(key1: string, value1: unknown, hash1: number, key2: string, value2: unknown, hash2: number, shift: number): Node {
  if (shift > LAST_SHIFT) return key1 < key2 ? [key1, value1, key2, value2] : [key2, value2, key1, value1];
  const fragment1 = (hash1 >>> shift) & MASK;
  const fragment2 = (hash2 >>> shift) & MASK;
  if (fragment1 === fragment2) return [0, 1 << fragment1, merge(key1, value1, hash1, key2, value2, hash2, shift + BITS)];
  const dataMap = (1 << fragment1) | (1 << fragment2);
  return fragment1 < fragment2 ? [dataMap, 0, key1, value1, key2, value2] : [dataMap, 0, key2, value2, key1, value1];
}

/** `node` with its inline entry at `bit` (at index `at`) replaced by the child `child`. */
function dataToChild(node: Node, bit: number, at: number, child: Node): Node {
  const nodeMap = (node[1] as number) | bit;
  const without = node.toSpliced(at, 2);
  const next = without.toSpliced(without.length - bitCount(nodeMap & (bit - 1)), 0, child);
  next[0] = (node[0] as number) ^ bit;
  next[1] = nodeMap;
  return next;
}

/** `node` with its child at `bit` (at index `at`) replaced by the inline entry `key`, `value`. */
function childToData(node: Node, bit: number, at: number, key: unknown, value: unknown): Node {
  const dataMap = (node[0] as number) | bit;
  const next = node.toSpliced(at, 1).toSpliced(dataIndex(dataMap, bit), 0, key, value);
  next[0] = dataMap;
  next[1] = (node[1] as number) ^ bit;
  return next;
}

/**
 * Whether the last {@link insert} or {@link insertOwned} added a key (rather than replacing one's
 * value): lets `set` keep the size without a lookup before the insert. Read right after the call.
 */
let didInsertAddKey = false;

function collisionInsert(node: Node, key: string, value: unknown): Node {
  let at = 0;
  while (at < node.length && (node[at] as string) < key) at += 2;
  if (node[at] === key) {
    didInsertAddKey = false;
    return node[at + 1] === value ? node : node.with(at + 1, value);
  }
  didInsertAddKey = true;
  return node.toSpliced(at, 0, key, value);
}

/** `node` with `key` set to `value`; `node` itself when it already holds exactly that. */
function insert(node: Node, hash: number, key: string, value: unknown, shift: number): Node {
  if (shift > LAST_SHIFT) return collisionInsert(node, key, value);
  const bit = 1 << ((hash >>> shift) & MASK);
  const dataMap = node[0] as number;
  if ((dataMap & bit) !== 0) {
    const at = dataIndex(dataMap, bit);
    const other = node[at] as string;
    if (other === key) {
      didInsertAddKey = false;
      return node[at + 1] === value ? node : node.with(at + 1, value);
    }
    didInsertAddKey = true;
    return dataToChild(node, bit, at, merge(other, node[at + 1], hashOf(other), key, value, hash, shift + BITS));
  }
  const nodeMap = node[1] as number;
  if ((nodeMap & bit) !== 0) {
    const at = childIndex(node, nodeMap, bit);
    const child = node[at] as Node;
    const next = insert(child, hash, key, value, shift + BITS);
    return next === child ? node : node.with(at, next);
  }
  didInsertAddKey = true;
  const next = node.toSpliced(dataIndex(dataMap, bit), 0, key, value);
  next[0] = dataMap | bit;
  return next;
}

/**
 * {@link insert} into a tree only the caller holds (every node under `node` was made by this same
 * bulk build, so none is shared with a published map): replaces a value or a child in place, and
 * copies a node only when it grows or shrinks (every array stays exactly as long as its slots).
 */
function insertOwned(node: Node, hash: number, key: string, value: unknown, shift: number): Node {
  if (shift > LAST_SHIFT) return collisionInsert(node, key, value);
  const bit = 1 << ((hash >>> shift) & MASK);
  const dataMap = node[0] as number;
  if ((dataMap & bit) !== 0) {
    const at = dataIndex(dataMap, bit);
    const other = node[at] as string;
    if (other === key) {
      didInsertAddKey = false;
      node[at + 1] = value;
      return node;
    }
    didInsertAddKey = true;
    return dataToChild(node, bit, at, merge(other, node[at + 1], hashOf(other), key, value, hash, shift + BITS));
  }
  const nodeMap = node[1] as number;
  if ((nodeMap & bit) !== 0) {
    const at = childIndex(node, nodeMap, bit);
    node[at] = insertOwned(node[at] as Node, hash, key, value, shift + BITS);
    return node;
  }
  didInsertAddKey = true;
  const next = node.toSpliced(dataIndex(dataMap, bit), 0, key, value);
  next[0] = dataMap | bit;
  return next;
}

/** Whether `node` (at `shift`) holds a single entry, which then belongs inline in its parent. */
function isSingleton(node: Node, shift: number): boolean {
  return shift > LAST_SHIFT ? node.length === 2 : node.length === 4 && node[1] === 0;
}

/**
 * `node` without `key`: `node` itself when the key is absent, undefined when it was the node's only
 * entry (only a root holds a single entry; any other node holds two or more). A returned node with
 * a single entry is one whose parent must take that entry inline.
 */
function remove(node: Node, hash: number, key: string, shift: number): Node | undefined {
  if (shift > LAST_SHIFT) {
    for (let at = 0; at < node.length; at += 2) if (node[at] === key) return node.toSpliced(at, 2);
    return node;
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  const dataMap = node[0] as number;
  if ((dataMap & bit) !== 0) {
    const at = dataIndex(dataMap, bit);
    if (node[at] !== key) return node;
    if (node.length === 4) return undefined;
    const next = node.toSpliced(at, 2);
    next[0] = dataMap ^ bit;
    return next;
  }
  const nodeMap = node[1] as number;
  if ((nodeMap & bit) === 0) return node;
  const at = childIndex(node, nodeMap, bit);
  const child = node[at] as Node;
  // A child holds two entries or more, so it is never emptied.
  const next = remove(child, hash, key, shift + BITS) as Node;
  if (next === child) return node;
  if (!isSingleton(next, shift + BITS)) return node.with(at, next);
  // The child is down to one entry (its last two slots in either kind of node): it moves up here
  // (and if this node held nothing else, it is now that entry alone, for its own parent to take).
  return childToData(node, bit, at, next[next.length - 2], next[next.length - 1]);
}

/** An immutable map from strings to `V`; see the file comment. */
export class PersistentMap<V> {
  static readonly EMPTY: PersistentMap<never> = new PersistentMap<never>(undefined, 0);

  /** An empty map. */
  static empty<V>(): PersistentMap<V> {
    return PersistentMap.EMPTY as PersistentMap<V>;
  }

  /** A map holding the given entries (later duplicates win). */
  static from<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    return runSteps(PersistentMap.fromSteps(entries));
  }

  /** {@link from} as pausable {@link Steps}: one step per `entriesPerStep` entries (default 256). */
  static *fromSteps<V>(entries: Iterable<readonly [string, V]>, entriesPerStep = 256): Steps<PersistentMap<V>> {
    // One tree built in place (no node is published before the map is returned), the same shape a
    // run of `set` gives, without the copy of every node on the way to each key.
    let root: Node | undefined = undefined;
    let size = 0;
    let inStep = 0;
    for (const [key, value] of entries) {
      const hash = hashOf(key);
      if (root === undefined) {
        root = [1 << (hash & MASK), 0, key, value];
        size = 1;
      } else {
        root = insertOwned(root, hash, key, value, 0);
        if (didInsertAddKey) size++;
      }
      if (++inStep === entriesPerStep) {
        inStep = 0;
        yield;
      }
    }
    return size === 0 ? PersistentMap.empty<V>() : new PersistentMap(root, size);
  }

  private constructor(
    private readonly root: Node | undefined,
    /** Number of entries. */
    readonly size: number,
  ) {}

  /** The value for `key`, or undefined. */
  get(key: string): V | undefined {
    let node = this.root;
    if (node === undefined) return undefined;
    const hash = hashOf(key);
    for (let shift = 0; ; shift += BITS) {
      if (shift > LAST_SHIFT) {
        for (let at = 0; at < node.length; at += 2) if (node[at] === key) return node[at + 1] as V;
        return undefined;
      }
      const bit = 1 << ((hash >>> shift) & MASK);
      const dataMap = node[0] as number;
      if ((dataMap & bit) !== 0) {
        const at = dataIndex(dataMap, bit);
        return node[at] === key ? (node[at + 1] as V) : undefined;
      }
      const nodeMap = node[1] as number;
      if ((nodeMap & bit) === 0) return undefined;
      node = node[childIndex(node, nodeMap, bit)] as Node;
    }
  }

  /** The value for the key `source[start, end)`, without allocating that substring. */
  getRange(source: string, start: number, end: number): V | undefined {
    let node = this.root;
    if (node === undefined) return undefined;
    const hash = hashRange(source, start, end);
    for (let shift = 0; ; shift += BITS) {
      if (shift > LAST_SHIFT) {
        for (let at = 0; at < node.length; at += 2) {
          if (sameRange(node[at] as string, source, start, end)) return node[at + 1] as V;
        }
        return undefined;
      }
      const bit = 1 << ((hash >>> shift) & MASK);
      const dataMap = node[0] as number;
      if ((dataMap & bit) !== 0) {
        const at = dataIndex(dataMap, bit);
        return sameRange(node[at] as string, source, start, end) ? (node[at + 1] as V) : undefined;
      }
      const nodeMap = node[1] as number;
      if ((nodeMap & bit) === 0) return undefined;
      node = node[childIndex(node, nodeMap, bit)] as Node;
    }
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A map with `key` set to `value`; this map is unchanged (and returned when it already holds exactly that). */
  set(key: string, value: V): PersistentMap<V> {
    const hash = hashOf(key);
    if (this.root === undefined) return new PersistentMap([1 << (hash & MASK), 0, key, value], 1);
    const root = insert(this.root, hash, key, value, 0);
    if (root === this.root) return this;
    return new PersistentMap(root, didInsertAddKey ? this.size + 1 : this.size);
  }

  /** A map without `key`; this same map when the key is absent. */
  delete(key: string): PersistentMap<V> {
    if (this.root === undefined) return this;
    const root = remove(this.root, hashOf(key), key, 0);
    if (root === this.root) return this;
    return root === undefined ? PersistentMap.empty<V>() : new PersistentMap(root, this.size - 1);
  }

  /** Every entry, in no particular order. */
  *entries(): IterableIterator<[string, V]> {
    if (this.root === undefined) return;
    const nodes: Node[] = [this.root];
    const shifts: number[] = [0];
    while (nodes.length > 0) {
      const node = nodes.pop() as Node;
      const shift = shifts.pop() as number;
      const dataEnd = shift > LAST_SHIFT ? node.length : 2 + 2 * bitCount(node[0] as number);
      for (let at = shift > LAST_SHIFT ? 0 : 2; at < dataEnd; at += 2) yield [node[at] as string, node[at + 1] as V];
      for (let at = dataEnd; at < node.length; at++) {
        nodes.push(node[at] as Node);
        shifts.push(shift + BITS);
      }
    }
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }
}
