/**
 * The match walk over path tries: one search at a time (`Router.match` is synchronous and never
 * re-entered), its scratch state kept here so that a match allocates nothing but its answer.
 * {@link startSearch}, then {@link searchTrie} per host bucket the request falls in, then
 * {@link finishSearch}.
 */
import { childAt, type TrieNode } from './path-trie.js';
import { compareEntries, type PathEntry } from './route-group.js';
import { headersMatch, hostMatches } from './request-conditions.js';
import type { RouterRequest } from './router-types.js';

/** Per-match scratch state; match() is synchronous and never re-entered, so one is enough. */
interface MatchState {
  method: string;
  path: string;
  host: string | undefined;
  port: number;
  isHttps: boolean;
  sni: string | undefined;
  request: RouterRequest;
  best: PathEntry | null;
  bestExec: RegExpExecArray | null;
  exec: RegExpExecArray | null;
}

const state: MatchState = {
  method: '',
  path: '',
  host: undefined,
  port: 0,
  isHttps: false,
  sni: undefined,
  request: null as unknown as RouterRequest,
  best: null,
  bestExec: null,
  exec: null,
};

/** Whether a request (in `state`) meets every condition of `entry`'s group, and its regex if any. */
function entryMatches(entry: PathEntry): boolean {
  const group = entry.group;
  if (group.methods !== null && !group.methods.includes(state.method)) return false;
  if (group.hosts !== null && !hostMatches(group.hosts, state.host, state.port)) return false;
  if (group.snis !== null && state.isHttps && (state.sni === undefined || !group.snis.includes(state.sni))) return false;
  if (group.headers !== null && !headersMatch(group.headers, state.request.headers)) return false;
  if (entry.regex !== null) {
    const exec = entry.regex.exec(state.path);
    if (exec === null) return false;
    state.exec = exec;
  }
  return true;
}

/**
 * Checks the entries of every node of the trie at `root` whose key is a prefix of the request path,
 * each node's best first, keeping the best match in `state`. Allocates nothing: a node's edge is
 * compared in place, character by character, with the path.
 */
export function searchTrie(root: TrieNode | null | undefined): void {
  if (root === null || root === undefined) return;
  const path = state.path;
  let node = root;
  // path[0, from) is known to match the node's key (the parent's key and the edge's first character).
  let from = 0;
  for (;;) {
    const end = node.end;
    if (end > path.length) return;
    const key = node.key;
    for (let i = from; i < end; i++) if (key.charCodeAt(i) !== path.charCodeAt(i)) return;
    const entries = node.entries;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (state.best !== null && compareEntries(entry, state.best) >= 0) break;
      if (entryMatches(entry)) {
        state.best = entry;
        state.bestExec = entry.regex !== null ? state.exec : null;
        break;
      }
    }
    if (end === path.length) return;
    const next = childAt(node, path.charCodeAt(end));
    if (next === null) return;
    node = next;
    from = end + 1;
  }
}

/** Starts a search for `request`, with its normalised path and its host and port as the Host header gives them. */
export function startSearch(request: RouterRequest, path: string, host: string | undefined, port: number): void {
  state.method = request.method;
  state.path = path;
  state.host = host;
  state.port = port;
  state.isHttps = request.scheme === 'https';
  state.sni = request.sni;
  state.request = request;
  state.best = null;
  state.bestExec = null;
  state.exec = null;
}

/** What a search found: the best entry and, for a regex path, its match. Reused: read it before the next search. */
interface SearchResult {
  best: PathEntry | null;
  exec: RegExpExecArray | null;
}
const result: SearchResult = { best: null, exec: null };

/** Ends the search: its result, with the scratch state's references to the request dropped. */
export function finishSearch(): Readonly<SearchResult> {
  result.best = state.best;
  result.exec = state.bestExec;
  state.request = null as unknown as RouterRequest;
  state.best = null;
  state.exec = null;
  state.bestExec = null;
  return result;
}
