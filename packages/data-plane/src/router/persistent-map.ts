import { runSteps, type Steps } from '../steps.js';

/**
 * An immutable string-keyed hash map (a hash array mapped trie, 32-way, uncompressed) with
 * structural sharing: `set` and `delete` copy only the O(log32 n) nodes on the way to the key, so
 * the cost of a change does not grow with the size of the map. Lookups can hash a substring in
 * place (`getRange`), which lets the router look up host suffixes without allocating.
 */

const BITS = 5;
const WIDTH = 1 << BITS;
const MASK = WIDTH - 1;
/** Below this depth all 32 hash bits are used up; keys that still collide share a bucket. */
const MAX_DEPTH = 7;

interface Leaf<V> {
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}
interface Collision<V> {
  readonly hash: number;
  readonly leaves: readonly Leaf<V>[];
}
type Slot<V> = Leaf<V> | Collision<V> | Branch<V> | undefined;
interface Branch<V> {
  readonly slots: readonly Slot<V>[];
}

/** FNV-1a over the UTF-16 code units of `key[start, end)`. */
export function hashRange(key: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function sameRange(key: string, source: string, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== source.charCodeAt(start + i)) return false;
  return true;
}

function isBranch<V>(slot: Slot<V>): slot is Branch<V> {
  return slot !== undefined && (slot as Branch<V>).slots !== undefined;
}
function isCollision<V>(slot: Slot<V>): slot is Collision<V> {
  return slot !== undefined && (slot as Collision<V>).leaves !== undefined;
}

function emptyBranch<V>(): Branch<V> {
  return { slots: new Array<Slot<V>>(WIDTH).fill(undefined) };
}

function withSlot<V>(branch: Branch<V>, index: number, slot: Slot<V>): Branch<V> {
  const slots = branch.slots.slice();
  slots[index] = slot;
  return { slots };
}

function merge<V>(a: Leaf<V>, b: Leaf<V>, depth: number): Slot<V> {
  if (depth >= MAX_DEPTH) return { hash: a.hash, leaves: [a, b] };
  const ia = (a.hash >>> (depth * BITS)) & MASK;
  const ib = (b.hash >>> (depth * BITS)) & MASK;
  let branch = emptyBranch<V>();
  if (ia === ib) {
    branch = withSlot(branch, ia, merge(a, b, depth + 1));
  } else {
    const slots = branch.slots as Slot<V>[];
    slots[ia] = a;
    slots[ib] = b;
  }
  return branch;
}

/**
 * Whether the last {@link insert} added a key (rather than replacing one's value): lets `set`
 * keep the size without a lookup before the insert. Read right after the call.
 */
let didInsertAddKey = false;

function insert<V>(slot: Slot<V>, leaf: Leaf<V>, depth: number): Slot<V> {
  if (slot === undefined) {
    didInsertAddKey = true;
    return leaf;
  }
  if (isBranch(slot)) {
    const index = (leaf.hash >>> (depth * BITS)) & MASK;
    return withSlot(slot, index, insert(slot.slots[index], leaf, depth + 1));
  }
  if (isCollision(slot)) {
    // Collisions live only at MAX_DEPTH, where every hash bit is spent: all keys here share one hash.
    const leaves = slot.leaves.filter((l) => l.key !== leaf.key);
    didInsertAddKey = leaves.length === slot.leaves.length;
    leaves.push(leaf);
    return { hash: slot.hash, leaves };
  }
  if (slot.key === leaf.key) {
    didInsertAddKey = false;
    return leaf;
  }
  didInsertAddKey = true;
  return merge(slot, leaf, depth);
}

/**
 * {@link insert} into a tree only the caller holds (every branch and collision under `slot` was
 * made by this same bulk build, so none is shared with a published map): writes into the branch in
 * place instead of copying its 32 slots. Yields the same tree shape as a run of {@link insert}.
 */
function insertOwned<V>(slot: Slot<V>, leaf: Leaf<V>, depth: number): Slot<V> {
  if (slot === undefined) {
    didInsertAddKey = true;
    return leaf;
  }
  if (isBranch(slot)) {
    const index = (leaf.hash >>> (depth * BITS)) & MASK;
    const slots = slot.slots as Slot<V>[];
    slots[index] = insertOwned(slots[index], leaf, depth + 1);
    return slot;
  }
  if (isCollision(slot)) {
    const leaves = slot.leaves as Leaf<V>[];
    const at = leaves.findIndex((l) => l.key === leaf.key);
    didInsertAddKey = at === -1;
    if (at !== -1) leaves.splice(at, 1);
    leaves.push(leaf);
    return slot;
  }
  if (slot.key === leaf.key) {
    didInsertAddKey = false;
    return leaf;
  }
  didInsertAddKey = true;
  return merge(slot, leaf, depth);
}

function remove<V>(slot: Slot<V>, hash: number, key: string, depth: number): Slot<V> {
  if (slot === undefined) return undefined;
  if (isBranch(slot)) {
    const index = (hash >>> (depth * BITS)) & MASK;
    const child = slot.slots[index];
    const next = remove(child, hash, key, depth + 1);
    if (next === child) return slot;
    const updated = withSlot(slot, index, next);
    let only: Slot<V> = undefined;
    let count = 0;
    for (const s of updated.slots) {
      if (s !== undefined) {
        count++;
        only = s;
      }
    }
    if (count === 0) return undefined;
    if (count === 1 && !isBranch(only) && !isCollision(only)) return only;
    return updated;
  }
  if (isCollision(slot)) {
    const leaves = slot.leaves.filter((l) => l.key !== key);
    if (leaves.length === slot.leaves.length) return slot;
    return leaves.length === 1 ? leaves[0] : { hash: slot.hash, leaves };
  }
  return slot.key === key ? undefined : slot;
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
    // run of `set` gives, without the copy of every branch on the way to each key.
    let root: Slot<V> = undefined;
    let size = 0;
    let inStep = 0;
    for (const [key, value] of entries) {
      root = insertOwned(root, { hash: hashRange(key, 0, key.length), key, value }, 0);
      if (didInsertAddKey) size++;
      if (++inStep === entriesPerStep) {
        inStep = 0;
        yield;
      }
    }
    return size === 0 ? PersistentMap.empty<V>() : new PersistentMap(root, size);
  }

  private constructor(
    private readonly root: Slot<V>,
    /** Number of entries. */
    readonly size: number,
  ) {}

  /** The value for `key`, or undefined. */
  get(key: string): V | undefined {
    return this.getRange(key, 0, key.length);
  }

  /** The value for the key `source[start, end)`, without allocating that substring. */
  getRange(source: string, start: number, end: number): V | undefined {
    let slot = this.root;
    if (slot === undefined) return undefined;
    const hash = hashRange(source, start, end);
    let shift = 0;
    while (slot !== undefined) {
      if ((slot as Branch<V>).slots !== undefined) {
        slot = (slot as Branch<V>).slots[(hash >>> shift) & MASK];
        shift += BITS;
        continue;
      }
      if ((slot as Collision<V>).leaves !== undefined) {
        for (const leaf of (slot as Collision<V>).leaves) if (sameRange(leaf.key, source, start, end)) return leaf.value;
        return undefined;
      }
      const leaf = slot as Leaf<V>;
      return leaf.hash === hash && sameRange(leaf.key, source, start, end) ? leaf.value : undefined;
    }
    return undefined;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A map with `key` set to `value`; this map is unchanged. */
  set(key: string, value: V): PersistentMap<V> {
    const leaf: Leaf<V> = { hash: hashRange(key, 0, key.length), key, value };
    const root = insert(this.root, leaf, 0);
    return new PersistentMap(root, didInsertAddKey ? this.size + 1 : this.size);
  }

  /** A map without `key`; this same map when the key is absent. */
  delete(key: string): PersistentMap<V> {
    if (!this.has(key)) return this;
    return new PersistentMap(remove(this.root, hashRange(key, 0, key.length), key, 0), this.size - 1);
  }

  /** Every entry, in no particular order. */
  *entries(): IterableIterator<[string, V]> {
    const stack: Slot<V>[] = [this.root];
    while (stack.length > 0) {
      const slot = stack.pop();
      if (slot === undefined) continue;
      if (isBranch(slot)) {
        for (const s of slot.slots) if (s !== undefined) stack.push(s);
      } else if (isCollision(slot)) {
        for (const leaf of slot.leaves) yield [leaf.key, leaf.value];
      } else {
        yield [slot.key, slot.value];
      }
    }
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }
}
