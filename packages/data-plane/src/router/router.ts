import type { Route, Service } from '@sluice/protocol';
import { escapePath } from './escape-path.js';
import { normalizePath } from './normalize-path.js';
import { applyTrieChanges, buildTrieSteps, type TrieChange, type TrieNode } from './path-trie.js';
import { PersistentMap } from './persistent-map.js';
import { runSteps, type Steps } from '../steps.js';
import {
  compileRegex,
  compileRoute,
  matchedPrefix,
  type HostCondition,
  type PathEntry,
  type RouteGroup,
} from './route-group.js';
import { groupsOf, routeOf, slotOf, type RouteSlot } from './route-slot.js';
import { joinUpstreamPath } from './upstream-path.js';
import type { RouteMatch, RouterChange, RouterRequest } from './router-types.js';
import { finishSearch, searchTrie, startSearch } from './trie-search.js';

export type { RouteMatch, RouterChange, RouterRequest, UriCaptures } from './router-types.js';

/**
 * Whether `hosts[i]` is the first of `hosts` in its host bucket (same kind, same value): a group
 * goes into each bucket once (`a.com:8000` and `a.com` are one bucket). Host buckets are keyed by
 * kind apart and the host's own string, so a bucket key is no new string.
 */
function isFirstInBucket(hosts: readonly HostCondition[], i: number): boolean {
  const host = hosts[i]!;
  for (let j = 0; j < i; j++) if (hosts[j]!.kind === host.kind && hosts[j]!.value === host.value) return false;
  return true;
}

/** One map per host kind (`HOST_KINDS`: exact, suffix, prefix), indexed by the kind. */
type ByHostKind<T> = [Map<string, T>, Map<string, T>, Map<string, T>];

/** A route of Kong's http subsystem (http, https, grpc, grpcs), not a stream route (tcp, tls, udp). */
function isHttpRoute(route: Route): boolean {
  const protocols = route.protocols;
  if (!Array.isArray(protocols) || protocols.length === 0) return true;
  return protocols.includes('http') || protocols.includes('https') || protocols.includes('grpc') || protocols.includes('grpcs');
}

/**
 * The groups `route` compiles to when it is active: an http route whose service (looked up in
 * `services`) is missing or enabled. None otherwise.
 */
function compileIfActive(route: Route, services: { get(id: string): Service | undefined }): readonly RouteGroup[] {
  if (!isHttpRoute(route)) return [];
  const serviceId = route.service?.id;
  const service = typeof serviceId === 'string' ? (services.get(serviceId) ?? null) : null;
  return service === null || service.enabled !== false ? compileRoute(route, service) : [];
}

/**
 * The host bucket of each of `group`'s hosts in `byKind` (a bucket once however many of its hosts
 * fall in it), made with `make` when missing; `anyHost` alone for a group without hosts.
 */
function bucketsOf<T>(group: RouteGroup, byKind: ByHostKind<T>, anyHost: T, make: () => T): T[] {
  const hosts = group.hosts;
  if (hosts === null) return [anyHost];
  const out: T[] = [];
  for (let i = 0; i < hosts.length; i++) {
    if (!isFirstInBucket(hosts, i)) continue;
    const byHost = byKind[hosts[i]!.kind];
    let bucket = byHost.get(hosts[i]!.value);
    if (bucket === undefined) byHost.set(hosts[i]!.value, (bucket = make()));
    out.push(bucket);
  }
  return out;
}

const newEntryList = (): PathEntry[] => [];
const newChangesByKey = (): Map<string, TrieChange> => new Map();

/** Path keys applied to one host bucket's trie per step of a router change (see {@link Router.changeSteps}). */
const TRIE_BATCH_KEYS = 256;

/** Applies `changes` to the trie at `root`, {@link TRIE_BATCH_KEYS} keys per step. */
function* applyInBatchesSteps(root: TrieNode | null, changes: readonly TrieChange[]): Steps<TrieNode | null> {
  // A bucket as large as the config (thousands of host-less routes) is changed in batches of
  // paths, one step each, so no step holds the event loop for the whole trie.
  for (let from = 0; from < changes.length; from += TRIE_BATCH_KEYS) {
    yield;
    root = applyTrieChanges(root, changes.length <= TRIE_BATCH_KEYS ? changes : changes.slice(from, from + TRIE_BATCH_KEYS));
  }
  return root;
}

function isDigits(text: string, start: number): boolean {
  if (start >= text.length) return false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Kong's traditional_compatible router: routes compiled once into a host index (exact hosts in a
 * hash map, `*.x` suffixes and `x.*` prefixes looked up label by label, host-less routes apart),
 * each holding a path trie whose nodes keep their candidates sorted by Kong's priority. A match
 * walks only the request's host buckets along its path, so its cost follows the path length and
 * the candidates sharing that path, not the number of routes. Pure: no I/O, never throws on odd
 * input at match time. Immutable: {@link withChanges} returns a new router sharing structure.
 */
export class Router {
  private static readonly EMPTY = new Router(
    PersistentMap.empty(),
    PersistentMap.empty(),
    0,
    PersistentMap.empty(),
    PersistentMap.empty(),
    PersistentMap.empty(),
    PersistentMap.empty(),
    null,
  );

  /**
   * Why the router cannot serve `route` exactly as written, or an empty list: today, regex paths
   * or `~*` header values JavaScript cannot compile (such a value is skipped at build, never
   * thrown). For config validation (`ResourceErrorCode.ROUTER`).
   */
  static routeErrors(route: Route): string[] {
    const errors: string[] = [];
    for (const path of Array.isArray(route.paths) ? route.paths : []) {
      if (typeof path === 'string' && path.startsWith('~') && compileRegex('^' + path.slice(1)) === null) errors.push(`invalid regex: '${path.slice(1)}'`);
    }
    for (const values of route.headers !== null && typeof route.headers === 'object' ? Object.values(route.headers) : []) {
      for (const value of Array.isArray(values) ? values : []) {
        if (typeof value === 'string' && value.startsWith('~*') && compileRegex(value.slice(2).toLowerCase()) === null) errors.push(`invalid regex: '${value.slice(2)}'`);
      }
    }
    return errors;
  }

  /** A router over `routes`; routes whose service is disabled are left out. */
  static build(routes: readonly Route[], services: ReadonlyMap<string, Service>): Router {
    return runSteps(Router.buildSteps(routes, services));
  }

  /**
   * {@link build} as pausable {@link Steps}: one step per compiled route, per 256 map entries and
   * per 256 paths placed or trie nodes finished in a host bucket. The bulk path for a whole config
   * (snapshot, cache, declarative file): every structure is made once, in place, where
   * {@link changeSteps} from an empty router would insert route by route, copying as it goes; the
   * router is the same as that one (same routes, same candidates in the same order).
   */
  static *buildSteps(routes: readonly Route[], services: ReadonlyMap<string, Service>): Steps<Router> {
    const serviceById = new Map<string, Service>();
    for (const service of services.values()) serviceById.set(service.id, service);
    const routeById = new Map<string, Route>();
    for (const route of routes) routeById.set(route.id, route);
    const routeIdsByService = new Map<string, [string, true][]>();
    const slots: [string, RouteSlot][] = [];
    let activeCount = 0;
    const hostBuckets: ByHostKind<PathEntry[]> = [new Map(), new Map(), new Map()];
    const anyHostEntries: PathEntry[] = [];
    for (const [id, route] of routeById) {
      const serviceId = route.service?.id;
      if (typeof serviceId === 'string') {
        let ids = routeIdsByService.get(serviceId);
        if (ids === undefined) routeIdsByService.set(serviceId, (ids = []));
        ids.push([id, true]);
      }
      const compiled = compileIfActive(route, serviceById);
      if (compiled.length > 0) activeCount++;
      for (const group of compiled) {
        for (const bucket of bucketsOf(group, hostBuckets, anyHostEntries, newEntryList)) {
          for (const entry of group.entries) bucket.push(entry);
        }
      }
      slots.push([id, slotOf(route, compiled)]);
      yield;
    }

    const servicesMap = yield* PersistentMap.fromSteps(serviceById);
    const routesMap = yield* PersistentMap.fromSteps(slots);
    const byService: [string, PersistentMap<true>][] = [];
    for (const [serviceId, ids] of routeIdsByService) byService.push([serviceId, yield* PersistentMap.fromSteps(ids)]);
    const routesByService = yield* PersistentMap.fromSteps(byService);

    const hostTries: PersistentMap<TrieNode>[] = [];
    for (const byHost of hostBuckets) {
      const tries: [string, TrieNode][] = [];
      for (const [host, entries] of byHost) {
        yield;
        const root = yield* buildTrieSteps(entries, TRIE_BATCH_KEYS);
        if (root !== null) tries.push([host, root]);
      }
      hostTries.push(yield* PersistentMap.fromSteps(tries));
    }
    yield;
    const anyHost = yield* buildTrieSteps(anyHostEntries, TRIE_BATCH_KEYS);
    return new Router(servicesMap, routesMap, activeCount, routesByService, hostTries[0]!, hostTries[1]!, hostTries[2]!, anyHost);
  }

  private constructor(
    private readonly services: PersistentMap<Service>,
    /** Every route given, by id: its compiled groups when active, else the route. */
    private readonly routes: PersistentMap<RouteSlot>,
    /** How many of {@link routes} are active (compiled to at least one group). */
    private readonly activeCount: number,
    /** service id → ids of the routes pointing at it (whether or not the service exists). */
    private readonly routesByService: PersistentMap<PersistentMap<true>>,
    private readonly exactHosts: PersistentMap<TrieNode>,
    private readonly suffixHosts: PersistentMap<TrieNode>,
    private readonly prefixHosts: PersistentMap<TrieNode>,
    private readonly anyHost: TrieNode | null,
  ) {}

  /** Number of routes in the router (routes of disabled services and stream routes excluded). */
  get size(): number {
    return this.activeCount;
  }

  /**
   * A new Router reflecting the change; cost grows with the change, not the number of routes;
   * `this` unchanged (immutable, structure shared). Routes whose service is disabled are left out;
   * services upserted here may change which routes are active. Removals apply before upserts.
   */
  withChanges(change: RouterChange): Router {
    return runSteps(this.changeSteps(change));
  }

  /** {@link withChanges} as pausable {@link Steps}: one step per compiled route and per updated host bucket. */
  *changeSteps(change: RouterChange): Steps<Router> {
    let services = this.services;
    let routes = this.routes;
    let routesByService = this.routesByService;
    let activeCount = this.activeCount;
    const touched = new Set<string>();

    const markService = (serviceId: string): void => {
      const ids = routesByService.get(serviceId);
      if (ids !== undefined) for (const [id] of ids.entries()) touched.add(id);
    };
    const link = (route: Route, isAdding: boolean): void => {
      const serviceId = route.service?.id;
      if (typeof serviceId !== 'string') return;
      const current = routesByService.get(serviceId) ?? PersistentMap.empty<true>();
      const next = isAdding ? current.set(route.id, true) : current.delete(route.id);
      routesByService = next.size === 0 ? routesByService.delete(serviceId) : routesByService.set(serviceId, next);
    };

    for (const id of change.removeServiceIds ?? []) {
      services = services.delete(id);
      markService(id);
    }
    for (const service of change.upsertServices ?? []) {
      services = services.set(service.id, service);
      markService(service.id);
    }
    // Here `routes` gets the changed routes themselves; their slots are compiled below, where the
    // groups to take out of the tries are still those in `this.routes`.
    for (const id of change.removeRouteIds ?? []) {
      const old = routes.get(id);
      if (old === undefined) continue;
      link(routeOf(old), false);
      routes = routes.delete(id);
      touched.add(id);
      yield;
    }
    for (const route of change.upsertRoutes ?? []) {
      const old = routes.get(route.id);
      if (old !== undefined) link(routeOf(old), false);
      routes = routes.set(route.id, route);
      link(route, true);
      touched.add(route.id);
      yield;
    }

    // Per host bucket, the trie changes by path key.
    const hostChanges: ByHostKind<Map<string, TrieChange>> = [new Map(), new Map(), new Map()];
    const anyHostChanges = new Map<string, TrieChange>();
    const changeAt = (byKey: Map<string, TrieChange>, key: string): TrieChange => {
      let trieChange = byKey.get(key);
      if (trieChange === undefined) byKey.set(key, (trieChange = { key, add: [], removeRouteIds: new Set() }));
      return trieChange;
    };

    for (const id of touched) {
      const oldGroups = groupsOf(this.routes.get(id));
      if (oldGroups.length > 0) activeCount--;
      for (const group of oldGroups) {
        for (const byKey of bucketsOf(group, hostChanges, anyHostChanges, newChangesByKey)) {
          for (const entry of group.entries) changeAt(byKey, entry.key).removeRouteIds.add(id);
        }
      }
      const slot = routes.get(id);
      if (slot === undefined) {
        yield;
        continue;
      }
      const route = routeOf(slot);
      const compiled = compileIfActive(route, services);
      if (compiled.length > 0) activeCount++;
      routes = routes.set(id, slotOf(route, compiled));
      for (const group of compiled) {
        for (const byKey of bucketsOf(group, hostChanges, anyHostChanges, newChangesByKey)) {
          for (const entry of group.entries) changeAt(byKey, entry.key).add.push(entry);
        }
      }
      yield;
    }

    const hostTries = [this.exactHosts, this.suffixHosts, this.prefixHosts];
    for (let kind = 0; kind < hostChanges.length; kind++) {
      let tries = hostTries[kind]!;
      for (const [host, byKey] of hostChanges[kind]!) {
        const root = yield* applyInBatchesSteps(tries.get(host) ?? null, [...byKey.values()]);
        tries = root === null ? tries.delete(host) : tries.set(host, root);
      }
      hostTries[kind] = tries;
    }
    const anyHost = anyHostChanges.size === 0 ? this.anyHost : yield* applyInBatchesSteps(this.anyHost, [...anyHostChanges.values()]);
    return new Router(services, routes, activeCount, routesByService, hostTries[0]!, hostTries[1]!, hostTries[2]!, anyHost);
  }

  /** The best route for the request by Kong's priority, or null when none matches. */
  match(request: RouterRequest): RouteMatch | null {
    const target = typeof request.target === 'string' ? request.target : '';
    const queryAt = target.indexOf('?', 1);
    const path = normalizePath(queryAt === -1 ? target : target.slice(0, queryAt));

    let host: string | undefined;
    let port = request.port;
    const hostHeader = request.host;
    if (typeof hostHeader === 'string') {
      const colon = hostHeader.indexOf(':');
      if (colon !== -1 && isDigits(hostHeader, colon + 1)) {
        host = hostHeader.slice(0, colon);
        port = Number(hostHeader.slice(colon + 1));
      } else {
        host = hostHeader;
      }
    }

    startSearch(request, path, host, port);

    if (host !== undefined) {
      if (this.exactHosts.size > 0) searchTrie(this.exactHosts.get(host));
      if (this.suffixHosts.size > 0 || this.prefixHosts.size > 0) {
        for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
          if (this.suffixHosts.size > 0) searchTrie(this.suffixHosts.getRange(host, dot, host.length));
          if (this.prefixHosts.size > 0) searchTrie(this.prefixHosts.getRange(host, 0, dot + 1));
        }
      }
    }
    searchTrie(this.anyHost);

    const { best, exec } = finishSearch();
    if (best === null) return null;

    const route = best.group.route;
    const service = best.group.service;
    const prefix = matchedPrefix(best);
    const matchedPath = prefix !== null ? prefix : exec !== null ? exec[0] : null;
    const isStripped = route.strip_path === true && matchedPath !== null;
    const base = service !== null && typeof service.path === 'string' && service.path !== '' ? service.path : '/';
    const upstreamPath = escapePath(joinUpstreamPath(base, path, matchedPath, route.strip_path === true));
    return {
      route,
      service,
      path,
      matchedPath,
      strippedPrefix: isStripped ? matchedPath : null,
      upstreamPath,
      captures: exec === null ? null : { positional: Array.from(exec), named: { ...exec.groups } },
    };
  }
}
