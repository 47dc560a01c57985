import { runSteps, type Steps } from '../steps.js';
import { compareEntries, type PathEntry } from './route-group.js';

/**
 * A node of an immutable path-compressed (radix) trie over path keys. A node holds the entries
 * whose key ends there, sorted best first; walking a request path from the root visits exactly the
 * nodes whose key is a prefix of it, so prefix routes need no further check. The edge into a node
 * carries one or more characters: a chain of single-child nodes without entries is one edge, so a
 * host bucket holding one path is one node, not one node per character.
 *
 * Canonical: every node has entries or two or more children, and the root is the node of the
 * longest common prefix of the keys. So the trie of a set of entries has one shape, whichever
 * way it was made ({@link buildTrieSteps} at once or {@link applyTrieChanges} change by change).
 * Updates copy only the nodes on the changed keys' paths (structure shared with the previous trie).
 */
export interface TrieNode {
  /**
   * A string whose first {@link end} characters are this node's key: the key of this node's best
   * entry, or else that of its first child. No string is made for a node: labels are read in
   * place, and splitting or merging an edge needs no new node below it.
   */
  readonly key: string;
  /**
   * Length of this node's key. The edge into the node is `key[parent.end, end)` (for the root,
   * `key[0, end)`, which a path must start with to reach any entry).
   */
  readonly end: number;
  /** Entries whose key is exactly this node's key, best first ({@link compareEntries}). */
  readonly entries: readonly PathEntry[];
  /**
   * Children sorted by the first character of their edge (`child.key.charCodeAt(this.end)`), no
   * two alike. Exact-size; a leaf has the shared empty array.
   */
  readonly children: readonly TrieNode[];
}

/** A batch of changes to the entries stored under one key. */
export interface TrieChange {
  readonly key: string;
  /** Entries to add under `key`. */
  readonly add: PathEntry[];
  /** Route ids whose entries under `key` are removed (before `add` is applied). */
  readonly removeRouteIds: Set<string>;
}

const NO_ENTRIES: readonly PathEntry[] = Object.freeze([]);
const NO_CHILDREN: readonly TrieNode[] = Object.freeze([]);

/**
 * The child of `node` whose edge starts with character `code`, or null. Binary search over the
 * sorted children: no allocation (the match walk calls it once per node it goes through).
 */
export function childAt(node: TrieNode, code: number): TrieNode | null {
  const children = node.children;
  const at = node.end;
  let lo = 0;
  let hi = children.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const child = children[mid]!;
    const c = child.key.charCodeAt(at);
    if (c === code) return child;
    if (c < code) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

/**
 * `list` (sorted, exact-size or about to be dropped) as a node's entries: the shared empty array,
 * or, for the one entry of a group that has only that entry, the group's own `entries` array (the
 * common case of a route with one path: the trie then holds no array of its own for it).
 */
function entriesOf(list: readonly PathEntry[]): readonly PathEntry[] {
  if (list.length === 0) return NO_ENTRIES;
  if (list.length === 1) {
    const entry = list[0]!;
    const own = entry.group.entries;
    return own.length === 1 && own[0] === entry ? own : [entry];
  }
  return list;
}

/**
 * The node of key length `end` with `entries` and `children` (both exact-size, sorted), in
 * canonical form: null when it has neither, its only child when it has no entries (the child's
 * edge then starts where this node's did: the merge needs no copy).
 */
function nodeOf(end: number, entries: readonly PathEntry[], children: readonly TrieNode[]): TrieNode | null {
  if (entries.length === 0) {
    if (children.length === 0) return null;
    if (children.length === 1) return children[0]!;
  }
  return { key: entries.length > 0 ? entries[0]!.key : children[0]!.key, end, entries, children };
}

function updateEntries(entries: readonly PathEntry[], change: TrieChange): readonly PathEntry[] {
  const removed = change.removeRouteIds;
  let next = removed.size === 0 ? entries : entries.filter((e) => !removed.has(e.group.route.id));
  // concat and slice allocate exactly the length (a filtered array keeps the capacity it grew to).
  if (change.add.length > 0) next = next.concat(change.add).sort(compareEntries);
  else if (next.length === entries.length) return entries;
  else next = next.slice();
  return entriesOf(next);
}

function byKey(a: TrieChange, b: TrieChange): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Applies `changes` (each key at most once) to the trie at `root`, copying only the nodes on the
 * changed keys' paths: an edge is split where a new key leaves it mid-label, and a node left with
 * no entries and one child is merged into its parent's edge.
 * @returns the new root, or null when the trie is left empty.
 */
export function applyTrieChanges(root: TrieNode | null, changes: readonly TrieChange[]): TrieNode | null {
  if (changes.length === 0) return root;
  // Sorted by key, the changes under each child are one run, met in the children's order.
  const sorted = changes.slice().sort(byKey);
  return applyRange(root, sorted, 0, sorted.length, 0);
}

/**
 * Applies `changes[lo, hi)` to the subtree at `node`. Every change key and `node.key` share their
 * first `depth` characters.
 */
function applyRange(node: TrieNode | null, changes: readonly TrieChange[], lo: number, hi: number, depth: number): TrieNode | null {
  if (node === null) return freshTrie(changes, lo, hi);
  const key = node.key;
  // How far every change key agrees with the node's edge: short of `node.end`, the edge splits.
  let split = node.end;
  for (let c = lo; c < hi && split > depth; c++) {
    const other = changes[c]!.key;
    const limit = Math.min(split, other.length);
    let i = depth;
    while (i < limit && other.charCodeAt(i) === key.charCodeAt(i)) i++;
    split = i;
  }
  const isSplit = split < node.end;
  let entries = isSplit ? NO_ENTRIES : node.entries;
  const old = isSplit ? [node] : node.children;
  let c = lo;
  // Sorted: the change whose key ends here (a prefix of the others) comes first.
  if (changes[c]!.key.length === split) entries = updateEntries(entries, changes[c++]!);
  if (c === hi && !isSplit) return nodeOf(split, entries, old);
  const children: TrieNode[] = [];
  let k = 0;
  while (c < hi) {
    const code = changes[c]!.key.charCodeAt(split);
    let to = c + 1;
    while (to < hi && changes[to]!.key.charCodeAt(split) === code) to++;
    while (k < old.length && old[k]!.key.charCodeAt(split) < code) children.push(old[k++]!);
    const existing = k < old.length && old[k]!.key.charCodeAt(split) === code ? old[k++]! : null;
    const child = applyRange(existing, changes, c, to, split + 1);
    if (child !== null) children.push(child);
    c = to;
  }
  while (k < old.length) children.push(old[k++]!);
  return nodeOf(split, entries, children.length === 0 ? NO_CHILDREN : children.slice());
}

/** The subtree holding the entries `changes[lo, hi)` add (their removals have nothing to remove). */
function freshTrie(changes: readonly TrieChange[], lo: number, hi: number): TrieNode | null {
  const entries: PathEntry[] = [];
  for (let c = lo; c < hi; c++) for (const entry of changes[c]!.add) entries.push(entry);
  return runSteps(buildTrieSteps(entries, Number.POSITIVE_INFINITY));
}

/** A node of a trie being built by {@link buildTrieSteps}: mutable, seen by nothing else. */
interface DraftNode {
  /** A string whose first `end` characters are the node's key (that of the entry that made it). */
  readonly key: string;
  readonly end: number;
  entries: PathEntry[] | null;
  children: Map<number, DraftNode> | null;
  built: TrieNode | null;
}

function draftOf(key: string, end: number, entry: PathEntry | null): DraftNode {
  return { key, end, entries: entry === null ? null : [entry], children: null, built: null };
}

/** Places `entry` in the draft trie at `root`, splitting the edge where its key leaves one mid-label. */
function placeEntry(root: DraftNode, entry: PathEntry): void {
  const key = entry.key;
  let node = root;
  for (;;) {
    if (key.length === node.end) {
      if (node.entries === null) node.entries = [entry];
      else node.entries.push(entry);
      return;
    }
    const code = key.charCodeAt(node.end);
    if (node.children === null) node.children = new Map();
    const child = node.children.get(code);
    if (child === undefined) {
      node.children.set(code, draftOf(key, key.length, entry));
      return;
    }
    const limit = Math.min(child.end, key.length);
    let i = node.end + 1;
    while (i < limit && key.charCodeAt(i) === child.key.charCodeAt(i)) i++;
    if (i < child.end) {
      const branch = draftOf(child.key, i, null);
      branch.children = new Map([[child.key.charCodeAt(i), child]]);
      node.children.set(code, branch);
      node = branch;
    } else {
      node = child;
    }
  }
}

function byEdge(at: number): (a: TrieNode, b: TrieNode) => number {
  return (a, b) => a.key.charCodeAt(at) - b.key.charCodeAt(at);
}

/** The finished form of `draft`, whose children are finished. */
function finish(draft: DraftNode): TrieNode | null {
  const list = draft.entries;
  const entries = list === null ? NO_ENTRIES : entriesOf(list.length > 1 ? list.sort(compareEntries).slice() : list);
  const drafts = draft.children;
  let children = NO_CHILDREN;
  if (drafts !== null) {
    const built = Array.from(drafts.values(), (d) => d.built!);
    children = built.length > 1 ? built.sort(byEdge(draft.end)) : built;
  }
  return nodeOf(draft.end, entries, children);
}

function hasOneKey(entries: readonly PathEntry[]): boolean {
  const key = entries[0]!.key;
  for (let i = 1; i < entries.length; i++) if (entries[i]!.key !== key) return false;
  return true;
}

/**
 * The trie holding `entries` (each under its `key`), built in one pass: the nodes are made once,
 * in place, and each node's entries sorted once, where {@link applyTrieChanges} from an empty trie
 * in batches copies the nodes every batch passes through. The same trie as that (same shape, same
 * entries per node, same order). Pausable: one step per `workPerStep` entries placed and per
 * `workPerStep` nodes finished.
 * @returns the root, or null when `entries` is empty.
 */
export function* buildTrieSteps(entries: readonly PathEntry[], workPerStep: number): Steps<TrieNode | null> {
  if (entries.length === 0) return null;
  // Most host buckets hold one path: their trie is one node.
  if (hasOneKey(entries)) {
    const key = entries[0]!.key;
    return nodeOf(key.length, entriesOf(entries.length > 1 ? entries.slice().sort(compareEntries) : entries), NO_CHILDREN);
  }
  const root = draftOf('', 0, null);
  let work = 0;
  for (const entry of entries) {
    placeEntry(root, entry);
    if (++work === workPerStep) {
      work = 0;
      yield;
    }
  }
  // Depth-first pre-order: every node comes before its descendants, so walking it backwards
  // finishes the children of each node before the node itself.
  const order: DraftNode[] = [];
  const stack: DraftNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    order.push(node);
    if (node.children !== null) for (const child of node.children.values()) stack.push(child);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    node.built = finish(node);
    node.children = null;
    if (++work === workPerStep) {
      work = 0;
      yield;
    }
  }
  return root.built;
}
