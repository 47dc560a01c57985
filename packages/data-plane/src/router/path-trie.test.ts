import { describe, expect, it } from 'vitest';
import { runSteps } from '../steps.js';
import { applyTrieChanges, buildTrieSteps, childAt, type TrieChange, type TrieNode } from './path-trie.js';
import { compareEntries, type PathEntry, type RouteGroup } from './route-group.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';

/** A path entry of a one-path group of route `routeId`, priority `priority` (higher wins). */
function entryOf(key: string, routeId: string, priority = 0): PathEntry {
  const group = { route: { id: routeId }, priorityHigh: priority, priorityLow: 0, entries: [] as PathEntry[] };
  const entry: PathEntry = { group: group as unknown as RouteGroup, ordinal: 0, key, regex: null };
  group.entries.push(entry);
  return entry;
}

function built(entries: readonly PathEntry[], workPerStep = Number.POSITIVE_INFINITY): TrieNode | null {
  return runSteps(buildTrieSteps(entries, workPerStep));
}

/** The changes that add `entries` (grouped by key, as the router makes them). */
function adding(entries: readonly PathEntry[], removeRouteIds: readonly string[] = []): TrieChange[] {
  const byKey = new Map<string, TrieChange>();
  for (const e of entries) {
    let change = byKey.get(e.key);
    if (change === undefined) byKey.set(e.key, (change = { key: e.key, add: [], removeRouteIds: new Set() }));
    change.add.push(e);
  }
  return [...byKey.values()].map((c) => ({ ...c, removeRouteIds: new Set(removeRouteIds) }));
}

function removing(entries: readonly PathEntry[]): TrieChange[] {
  const byKey = new Map<string, TrieChange>();
  for (const e of entries) {
    let change = byKey.get(e.key);
    if (change === undefined) byKey.set(e.key, (change = { key: e.key, add: [], removeRouteIds: new Set() }));
    change.removeRouteIds.add(e.group.route.id);
  }
  return [...byKey.values()];
}

interface Shape {
  readonly key: string;
  readonly entries: readonly PathEntry[];
  readonly children: readonly Shape[];
}

/** The trie as plain data: each node's key, its entries (the same objects, in order), its children. */
function shapeOf(node: TrieNode | null): Shape | null {
  if (node === null) return null;
  return { key: node.key.slice(0, node.end), entries: [...node.entries], children: node.children.map((c) => shapeOf(c)!) };
}

/** Throws unless the trie is canonical, sorted and consistent (see {@link TrieNode}). */
function checkTrie(node: TrieNode, parentEnd = -1, parentKey = ''): void {
  const key = node.key.slice(0, node.end);
  expect(node.end).toBeGreaterThan(parentEnd);
  expect(node.key.length).toBeGreaterThanOrEqual(node.end);
  expect(key.startsWith(parentKey)).toBe(true);
  expect(node.entries.length > 0 || node.children.length >= 2).toBe(true);
  for (const e of node.entries) expect(e.key).toBe(key);
  for (let i = 1; i < node.entries.length; i++) expect(compareEntries(node.entries[i - 1]!, node.entries[i]!)).toBeLessThan(0);
  for (let i = 1; i < node.children.length; i++) {
    expect(node.children[i - 1]!.key.charCodeAt(node.end)).toBeLessThan(node.children[i]!.key.charCodeAt(node.end));
  }
  for (const child of node.children) checkTrie(child, node.end, key);
}

/** The keys of the nodes with entries that a walk of `path` visits, as the router's match walk goes. */
function visitedKeys(root: TrieNode | null, path: string): string[] {
  const out: string[] = [];
  let node = root;
  let from = 0;
  while (node !== null) {
    if (node.end > path.length) break;
    let isOnPath = true;
    for (let i = from; i < node.end && isOnPath; i++) isOnPath = node.key.charCodeAt(i) === path.charCodeAt(i);
    if (!isOnPath) break;
    if (node.entries.length > 0) out.push(path.slice(0, node.end));
    if (node.end === path.length) break;
    from = node.end + 1;
    node = childAt(node, path.charCodeAt(node.end));
  }
  return out;
}

describe('path trie (radix)', () => {
  it('a single path is one node, whatever its length', () => {
    const root = built([entryOf('/api/v1/r12345', 'r1')])!;
    expect(root.end).toBe('/api/v1/r12345'.length);
    expect(root.children).toHaveLength(0);
    expect(visitedKeys(root, '/api/v1/r12345/items')).toEqual(['/api/v1/r12345']);
    expect(visitedKeys(root, '/api/v1/r1234')).toEqual([]);
    expect(visitedKeys(root, '/api/v1/r12346')).toEqual([]);
  });

  it("a node's only entry of a one-path group is the group's own entries array", () => {
    const e = entryOf('/a', 'r1');
    expect(built([e])!.entries).toBe(e.group.entries);
    const incremental = applyTrieChanges(applyTrieChanges(null, adding([entryOf('/b', 'r2')])), adding([e]))!;
    expect(incremental.children.find((c) => c.key === '/a')!.entries).toBe(e.group.entries);
  });

  it('splits an edge where a new key leaves it mid-label, and merges it back when that key goes', () => {
    const users = entryOf('/api/v1/users', 'r1');
    const one = applyTrieChanges(null, adding([users]))!;
    const two = applyTrieChanges(one, adding([entryOf('/api/v2', 'r2')]))!;
    checkTrie(two);
    expect(two.key.slice(0, two.end)).toBe('/api/v');
    expect(two.entries).toHaveLength(0);
    // The split makes one branch above the old node; the old node itself is shared, not copied.
    expect(two.children[0]).toBe(one);
    expect(visitedKeys(two, '/api/v1/users/7')).toEqual(['/api/v1/users']);
    expect(visitedKeys(two, '/api/v2/x')).toEqual(['/api/v2']);
    expect(visitedKeys(two, '/api/v3')).toEqual([]);
    // Removing the new key leaves the branch with no entries and one child: merged away.
    expect(applyTrieChanges(two, removing([entryOf('/api/v2', 'r2')]))).toBe(one);
  });

  it('a key that is a prefix of another gets its own node on the edge; removing it merges the edge again', () => {
    const long = entryOf('/users/12345', 'r1');
    const one = applyTrieChanges(null, adding([long]))!;
    const two = applyTrieChanges(one, adding([entryOf('/users', 'r2')]))!;
    checkTrie(two);
    expect(two.end).toBe('/users'.length);
    expect(two.children).toEqual([one]);
    expect(visitedKeys(two, '/users/12345/x')).toEqual(['/users', '/users/12345']);
    expect(visitedKeys(two, '/users/1')).toEqual(['/users']);
    expect(applyTrieChanges(two, removing([entryOf('/users', 'r2')]))).toBe(one);
    // The empty key is the root's own entry, checked for every path.
    const withEmpty = applyTrieChanges(two, adding([entryOf('', 'r3')]))!;
    checkTrie(withEmpty);
    expect(visitedKeys(withEmpty, '/users/12345')).toEqual(['', '/users', '/users/12345']);
    expect(visitedKeys(withEmpty, '/other')).toEqual(['']);
  });

  it('a change copies only the nodes on its keys’ paths', () => {
    const root = built(['/a/x', '/a/y', '/b/x', '/b/y'].map((k, i) => entryOf(k, `r${i}`)))!;
    const next = applyTrieChanges(root, adding([entryOf('/a/z', 'r9')]))!;
    const b = (t: TrieNode): TrieNode => childAt(t, 'b'.charCodeAt(0))!;
    expect(b(next)).toBe(b(root));
    expect(shapeOf(b(next))).toEqual(shapeOf(b(root)));
    // An entries-only change keeps the node's children array.
    const withA = applyTrieChanges(root, adding([entryOf('/a/', 'r10')]))!;
    const a = (t: TrieNode): TrieNode => childAt(t, 'a'.charCodeAt(0))!;
    expect(a(withA).children).toBe(a(root).children);
  });

  it('entries under one key are kept best first', () => {
    const low = entryOf('/same', 'r1', 1);
    const high = entryOf('/same', 'r2', 5);
    const mid = entryOf('/same', 'r3', 3);
    expect(built([low, high, mid])!.entries).toEqual([high, mid, low]);
    const incremental = applyTrieChanges(applyTrieChanges(null, adding([low])), adding([high, mid]))!;
    expect(incremental.entries).toEqual([high, mid, low]);
    expect(applyTrieChanges(incremental, removing([mid]))!.entries).toEqual([high, low]);
  });

  it('a whole build and changes from empty give the same trie: random keys sharing prefixes, removals, prefix keys', () => {
    const rnd = seededRandom(7);
    // A few short and long pieces make keys that share prefixes, that are prefixes of one another,
    // that leave an edge mid-label, and that leave single-child chains (to be merged) when their
    // neighbours go.
    const pieces = ['a', 'b', '/', '/api', '/api/v1/users', '/api/v12'];
    const keyOf = (): string => {
      let key = '';
      const length = Math.floor(rnd() * 5);
      for (let i = 0; i < length; i++) key += pieces[Math.floor(rnd() * pieces.length)];
      return key;
    };
    for (let round = 0; round < 40; round++) {
      let live: PathEntry[] = [];
      let trie: TrieNode | null = null;
      let next = 0;
      for (let batch = 0; batch < 12; batch++) {
        // Remove some live entries and add some new ones (a removed key may come back in the same batch).
        const removed = live.filter(() => rnd() < 0.3);
        const added = Array.from({ length: Math.floor(rnd() * 10) }, () => entryOf(keyOf(), `r${next++}`, Math.floor(rnd() * 3)));
        const changes = new Map<string, TrieChange>();
        for (const c of [...removing(removed), ...adding(added)]) {
          const at = changes.get(c.key);
          if (at === undefined) changes.set(c.key, { key: c.key, add: [...c.add], removeRouteIds: new Set(c.removeRouteIds) });
          else {
            at.add.push(...c.add);
            for (const id of c.removeRouteIds) at.removeRouteIds.add(id);
          }
        }
        trie = applyTrieChanges(trie, [...changes.values()]);
        live = [...live.filter((e) => !removed.includes(e)), ...added];
        const whole = built(live, 3);
        expect(shapeOf(trie)).toEqual(shapeOf(whole));
        if (trie === null) {
          expect(live).toHaveLength(0);
          continue;
        }
        checkTrie(trie);
        for (let probe = 0; probe < 10; probe++) {
          const path = keyOf() + keyOf();
          const expected = [...new Set(live.map((e) => e.key).filter((k) => path.startsWith(k)))].sort((x, y) => x.length - y.length);
          expect(visitedKeys(trie, path)).toEqual(expected);
        }
      }
    }
  });

  it('a build paused every few entries is the same trie as one built at once', () => {
    const entries = Array.from({ length: 500 }, (_, i) => entryOf(`/p${i % 97}/${i}`, `r${i}`));
    const steps = buildTrieSteps(entries, 16);
    let pauses = 0;
    let result = steps.next();
    for (; !result.done; result = steps.next()) pauses++;
    expect(pauses).toBeGreaterThan(500 / 16);
    expect(shapeOf(result.value)).toEqual(shapeOf(built(entries)));
    checkTrie(result.value!);
  });
});
