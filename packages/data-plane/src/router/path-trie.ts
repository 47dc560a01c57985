import type { Steps } from '../steps.js';
import { compareEntries, type PathEntry } from './route-group.js';

/**
 * An immutable character trie over path keys. A node holds the entries whose key ends there,
 * sorted best first; walking a request path from the root visits exactly the nodes whose key is a
 * prefix of it, so prefix routes need no further check. Updates copy only the nodes on the changed
 * keys' paths (structure shared with the previous trie).
 */
export interface TrieNode {
  readonly entries: readonly PathEntry[];
  /** The children by character code when there are two or more, else null (see {@link only}). */
  readonly children: ReadonlyMap<number, TrieNode> | null;
  /**
   * The character code of the only child, or -1 when there are none or several. Most nodes of a
   * path trie sit on a chain with one child each: such a node has no Map (a Map per node was most
   * of a large router's memory), and the match walk follows the chain without a Map lookup.
   */
  readonly onlyCode: number;
  /** The only child (see {@link onlyCode}), else null. */
  readonly only: TrieNode | null;
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

function updateEntries(entries: readonly PathEntry[], change: TrieChange): readonly PathEntry[] {
  let next = change.removeRouteIds.size === 0 ? entries.slice() : entries.filter((e) => !change.removeRouteIds.has(e.group.route.id));
  if (change.add.length > 0) {
    next = next.concat(change.add);
    next.sort(compareEntries);
  }
  return next.length === 0 ? NO_ENTRIES : next;
}

/**
 * Applies `changes` (each key at most once, all keys starting with the same `depth` characters
 * as this node's key) to the subtree at `node`, copying each touched node once.
 * @returns the new subtree, or null when it is left empty.
 */
export function applyTrieChanges(node: TrieNode | null, changes: readonly TrieChange[], depth = 0): TrieNode | null {
  let entries = node?.entries ?? NO_ENTRIES;
  const byChar = new Map<number, TrieChange[]>();
  for (const change of changes) {
    if (change.key.length === depth) {
      entries = updateEntries(entries, change);
      continue;
    }
    const code = change.key.charCodeAt(depth);
    let list = byChar.get(code);
    if (list === undefined) byChar.set(code, (list = []));
    list.push(change);
  }
  if (byChar.size === 0) {
    if (node === null || (node.children === null && node.only === null)) return entries.length === 0 ? null : nodeOf(entries, null);
    return { entries, children: node.children, onlyCode: node.onlyCode, only: node.only };
  }
  const children = new Map(node?.children ?? []);
  if (node !== null && node.only !== null) children.set(node.onlyCode, node.only);
  for (const [code, list] of byChar) {
    const child = applyTrieChanges(children.get(code) ?? null, list, depth + 1);
    if (child === null) children.delete(code);
    else children.set(code, child);
  }
  if (entries.length === 0 && children.size === 0) return null;
  return nodeOf(entries, children);
}

/** A node with `entries` and `children` (kept only when two or more: one child goes in `only`). */
function nodeOf(entries: readonly PathEntry[], children: ReadonlyMap<number, TrieNode> | null): TrieNode {
  if (children === null || children.size === 0) return { entries, children: null, onlyCode: -1, only: null };
  if (children.size === 1) {
    const [[onlyCode, only]] = children;
    return { entries, children: null, onlyCode, only };
  }
  return { entries, children, onlyCode: -1, only: null };
}

/** A node of a trie being built by {@link buildTrieSteps}: mutable, seen by nothing else. */
interface DraftNode {
  readonly entries: PathEntry[];
  children: Map<number, DraftNode> | null;
  built: TrieNode | null;
}

/**
 * The trie holding `entries` (each under its `key`), built in one pass: the nodes are made once,
 * in place, and each node's entries sorted once, where {@link applyTrieChanges} from an empty trie
 * in batches copies the nodes every batch passes through. The same trie as that (same entries per
 * node, same order). Pausable: one step per `workPerStep` entries placed and per `workPerStep`
 * nodes finished.
 * @returns the root, or null when `entries` is empty.
 */
export function* buildTrieSteps(entries: Iterable<PathEntry>, workPerStep: number): Steps<TrieNode | null> {
  const root: DraftNode = { entries: [], children: null, built: null };
  let work = 0;
  let isEmpty = true;
  for (const entry of entries) {
    isEmpty = false;
    let node = root;
    const key = entry.key;
    for (let depth = 0; depth < key.length; depth++) {
      const code = key.charCodeAt(depth);
      if (node.children === null) node.children = new Map();
      let child = node.children.get(code);
      if (child === undefined) node.children.set(code, (child = { entries: [], children: null, built: null }));
      node = child;
    }
    node.entries.push(entry);
    if (++work === workPerStep) {
      work = 0;
      yield;
    }
  }
  if (isEmpty) return null;
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
    const sorted = node.entries.length === 0 ? NO_ENTRIES : node.entries.sort(compareEntries);
    const drafts = node.children;
    node.children = null;
    if (drafts === null) {
      node.built = { entries: sorted, children: null, onlyCode: -1, only: null };
    } else if (drafts.size === 1) {
      const [[onlyCode, only]] = drafts;
      node.built = { entries: sorted, children: null, onlyCode, only: only.built };
    } else {
      const children = new Map<number, TrieNode>();
      for (const [code, child] of drafts) children.set(code, child.built!);
      node.built = { entries: sorted, children, onlyCode: -1, only: null };
    }
    if (++work === workPerStep) {
      work = 0;
      yield;
    }
  }
  return root.built;
}
