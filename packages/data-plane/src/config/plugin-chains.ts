import { PLUGIN_DESCRIPTORS, type Plugin, type Route } from '@sluice/protocol';
import { ResourceErrorCode } from '../errors.js';
import { ConsumerScopedEntry } from '../plugins/consumer-scoped-entry.js';
import { EMPTY_CHAIN, PluginChain } from '../plugins/plugin-chain.js';
import type { PluginFactory, PluginRuntime } from '../plugins/plugin-factory.js';
import type { PluginHandler } from '../plugins/plugin-handler.js';
import type { Steps } from '../steps.js';
import { EntityRefusal } from './entity-refusal.js';
import { ImmutableMap } from './immutable-map.js';
import type { EntityChanges, Projection, ProjectionContext } from './projections.js';
import type { EntityMaps } from './runtime-config.js';

/** One plugin entity as the chains use it: the entity, its factory, and its handler (null when disabled). */
interface Instance {
  readonly plugin: Plugin;
  readonly factory: PluginFactory;
  readonly handler: PluginHandler | null;
}

/** Kong's precedence levels (`plugins_iterator.lua lookup_cfg`): lower wins. */
const LEVEL = { consumerRouteService: 1, consumerRoute: 2, consumerService: 3, routeService: 4, consumer: 5, route: 6, service: 7, global: 8 } as const;

/** The protocols of the HTTP subsystem: a plugin runs on this proxy when its `protocols` has one (Kong's subsystem filter). */
const HTTP_PROTOCOLS = new Set(['http', 'https', 'grpc', 'grpcs']);

function runsOnHttp(plugin: Plugin): boolean {
  const protocols = plugin.protocols;
  return !Array.isArray(protocols) || protocols.length === 0 || protocols.some((p) => HTTP_PROTOCOLS.has(p));
}

/** Kong's order of a chain: PRIORITY descending, equal priorities by name descending. */
function byRunOrder(a: { name: string; priority: number }, b: { name: string; priority: number }): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.name > b.name ? -1 : a.name < b.name ? 1 : 0;
}

function withId(list: readonly string[] | undefined, id: string): readonly string[] {
  if (list === undefined) return Object.freeze([id]);
  return list.includes(id) ? list : Object.freeze([...list, id]);
}

function withoutId(list: readonly string[] | undefined, id: string): readonly string[] | undefined {
  if (list === undefined || !list.includes(id)) return list;
  const out = list.filter((x) => x !== id);
  return out.length === 0 ? undefined : Object.freeze(out);
}

/** The persistent indexes the chains are compiled from. */
interface ChainIndexes {
  /** Every plugin entity of the config, by id. */
  readonly instances: ImmutableMap<Instance>;
  /** Ids of the plugins with a route, by route id. */
  readonly byRoute: ImmutableMap<readonly string[]>;
  /** Ids of the plugins with a service and no route, by service id. */
  readonly byService: ImmutableMap<readonly string[]>;
  /** Ids of the plugins with neither route nor service (global, and consumer-only). */
  readonly unscoped: readonly string[];
  /** Route ids by service id. */
  readonly routesByService: ImmutableMap<readonly string[]>;
  /** The routes the chains were compiled for (the previous config's, on a delta). */
  readonly routes: ImmutableMap<Route>;
}

/** What the unscoped plugins give every chain: the global instances and the consumer-only ones per plugin name. */
interface Unscoped {
  readonly globals: ReadonlyMap<string, Instance>;
  /** Per plugin name: its priority and its consumer-only handlers by consumer id (one Map shared by every chain). */
  readonly consumerOnly: ReadonlyMap<string, { readonly priority: number; readonly handlers: ReadonlyMap<string, PluginHandler> }>;
}

/**
 * The plugin chains of a config (`config.plugins`): for each route, the {@link PluginChain} its
 * requests run, compiled when the config is applied with Kong's rules:
 * - one instance per plugin name, the most specific enabled one (consumer+route+service >
 *   consumer+route > consumer+service > route+service > consumer > route > service > global);
 *   a disabled instance is skipped, so the next scope's applies;
 * - Kong's priorities and phases: only global instances run in rewrite; a plugin with
 *   consumer-scoped instances is a {@link ConsumerScopedEntry}, which picks its instance when the
 *   access phase reaches it (after the auth plugins of higher priority);
 * - a plugin entity naming a plugin the runtime lacks refuses the config (never skipped), as does
 *   a config its factory refuses.
 * Handlers are made once per plugin entity version and shared by every chain the instance is in.
 * A delta recompiles only the chains it affects: a route's plugin, or the route itself → that
 * route; a service's plugin → that service's routes; a global or consumer-only plugin → every
 * route (O(routes)). Routes without any plugin have no entry (`EMPTY_CHAIN`).
 */
export class PluginChains {
  private constructor(
    /** The chain of each route that has plugins, by route id. */
    readonly chains: ImmutableMap<PluginChain>,
    /** What a request matching no route runs: the global instances' header_filter, body_filter and log (Kong). */
    readonly globalChain: PluginChain,
    private readonly indexes: ChainIndexes,
    private readonly unscoped: Unscoped,
    /** The runtime the handlers were made with (a delta makes its handlers with it too). */
    readonly runtime: PluginRuntime,
  ) {
    Object.freeze(this);
  }

  /** The chain of route `routeId` (`EMPTY_CHAIN` without plugins). */
  chainOf(routeId: string): PluginChain {
    return this.chains.get(routeId) ?? EMPTY_CHAIN;
  }

  /** The chains of a whole config. O(plugins + routes × plugins per route), in steps (one per route). */
  static *build(entities: EntityMaps, runtime: PluginRuntime): Steps<PluginChains> {
    const instances = new Map<string, Instance>();
    const byRoute = new Map<string, string[]>();
    const byService = new Map<string, string[]>();
    const unscoped: string[] = [];
    for (const plugin of entities.plugins.values()) {
      instances.set(plugin.id, makeInstance(plugin, runtime));
      const list = plugin.route ? byRoute : plugin.service ? byService : null;
      const key = plugin.route?.id ?? plugin.service?.id;
      if (list === null || key === undefined) unscoped.push(plugin.id);
      else {
        const ids = list.get(key);
        if (ids === undefined) list.set(key, [plugin.id]);
        else ids.push(plugin.id);
      }
      yield;
    }
    const routesByService = new Map<string, string[]>();
    for (const route of entities.routes.values()) {
      const serviceId = route.service?.id;
      if (serviceId === undefined) continue;
      const ids = routesByService.get(serviceId);
      if (ids === undefined) routesByService.set(serviceId, [route.id]);
      else ids.push(route.id);
    }
    const indexes: ChainIndexes = {
      instances: yield* ImmutableMap.fromSteps(instances),
      byRoute: yield* ImmutableMap.fromSteps(freezeLists(byRoute)),
      byService: yield* ImmutableMap.fromSteps(freezeLists(byService)),
      unscoped: Object.freeze(unscoped),
      routesByService: yield* ImmutableMap.fromSteps(freezeLists(routesByService)),
      routes: entities.routes,
    };
    const shared = unscopedOf(indexes);
    const chains = new Map<string, PluginChain>();
    if (instances.size > 0) {
      for (const route of entities.routes.values()) {
        const chain = compileRouteChain(route, indexes, shared);
        if (chain !== EMPTY_CHAIN) chains.set(route.id, chain);
        yield;
      }
    }
    return new PluginChains(yield* ImmutableMap.fromSteps(chains), globalChainOf(shared), indexes, shared, runtime);
  }

  /** These chains after a delta (see the class doc for what is recompiled). */
  *change(changes: EntityChanges, entities: EntityMaps): Steps<PluginChains> {
    const old = this.indexes;
    let { instances, byRoute, byService, routesByService } = old;
    let unscoped = old.unscoped;
    const affected = new Set<string>();
    let isEveryRoute = false;
    let isUnscopedChanged = false;

    const routeChanges = changes.routes;
    if (routeChanges !== undefined) {
      for (const id of [...routeChanges.removedIds, ...routeChanges.upserts.map((r) => r.id)]) {
        const serviceId = old.routes.get(id)?.service?.id;
        if (serviceId === undefined) continue;
        const ids = withoutId(routesByService.get(serviceId), id);
        routesByService = ids === undefined ? routesByService.delete(serviceId) : routesByService.set(serviceId, ids);
      }
      for (const route of routeChanges.upserts) {
        const serviceId = route.service?.id;
        if (serviceId !== undefined) routesByService = routesByService.set(serviceId, withId(routesByService.get(serviceId), route.id));
        affected.add(route.id);
      }
      for (const id of routeChanges.removedIds) affected.add(id);
    }

    const markAffected = (plugin: Plugin): void => {
      if (plugin.route) affected.add(plugin.route.id);
      else if (plugin.service) for (const id of routesByService.get(plugin.service.id) ?? []) affected.add(id);
      else isEveryRoute = isUnscopedChanged = true;
    };
    const pluginChanges = changes.plugins;
    if (pluginChanges !== undefined) {
      for (const id of [...pluginChanges.removedIds, ...pluginChanges.upserts.map((p) => p.id)]) {
        const previous = instances.get(id);
        if (previous === undefined) continue;
        const plugin = previous.plugin;
        instances = instances.delete(id);
        if (plugin.route) {
          const ids = withoutId(byRoute.get(plugin.route.id), id);
          byRoute = ids === undefined ? byRoute.delete(plugin.route.id) : byRoute.set(plugin.route.id, ids);
        } else if (plugin.service) {
          const ids = withoutId(byService.get(plugin.service.id), id);
          byService = ids === undefined ? byService.delete(plugin.service.id) : byService.set(plugin.service.id, ids);
        } else {
          unscoped = withoutId(unscoped, id) ?? [];
        }
        markAffected(plugin);
      }
      for (const plugin of pluginChanges.upserts) {
        instances = instances.set(plugin.id, makeInstance(plugin, this.runtime));
        if (plugin.route) byRoute = byRoute.set(plugin.route.id, withId(byRoute.get(plugin.route.id), plugin.id));
        else if (plugin.service) byService = byService.set(plugin.service.id, withId(byService.get(plugin.service.id), plugin.id));
        else unscoped = withId(unscoped, plugin.id);
        markAffected(plugin);
        yield;
      }
    }

    const indexes: ChainIndexes = { instances, byRoute, byService, unscoped, routesByService, routes: entities.routes };
    const shared = isUnscopedChanged ? unscopedOf(indexes) : this.unscoped;
    let chains = this.chains;
    const recompile = (routeId: string): void => {
      const route = entities.routes.get(routeId);
      const chain = route === undefined ? EMPTY_CHAIN : compileRouteChain(route, indexes, shared);
      chains = chain === EMPTY_CHAIN ? chains.delete(routeId) : chains.set(routeId, chain);
    };
    if (isEveryRoute) {
      for (const id of this.chains.keys()) if (!entities.routes.has(id)) chains = chains.delete(id);
      for (const id of entities.routes.keys()) {
        recompile(id);
        yield;
      }
    } else {
      for (const id of affected) {
        recompile(id);
        yield;
      }
    }
    return new PluginChains(chains, isUnscopedChanged ? globalChainOf(shared) : this.globalChain, indexes, shared, this.runtime);
  }
}

function freezeLists(map: Map<string, string[]>): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const [key, list] of map) out.set(key, Object.freeze(list));
  return out;
}

/** The instance of `plugin`: its factory (refused when the runtime has none) and, enabled, its handler. */
function makeInstance(plugin: Plugin, runtime: PluginRuntime): Instance {
  const factory = runtime.factories.get(plugin.name);
  if (factory === undefined) {
    throw new EntityRefusal({ kind: 'plugins', id: plugin.id, code: ResourceErrorCode.PLUGIN_UNAVAILABLE, message: `${plugin.name} plugin is in use but not enabled` });
  }
  let handler: PluginHandler | null = null;
  if (plugin.enabled !== false && runsOnHttp(plugin)) {
    try {
      handler = factory.create(plugin, runtime.env);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new EntityRefusal({ kind: 'plugins', id: plugin.id, code: ResourceErrorCode.PLUGIN_CONFIG, message: `${plugin.name} refused its config: ${reason}` });
    }
  }
  return Object.freeze({ plugin, factory, handler });
}

/** The global instances by plugin name, and the consumer-only instances by plugin name then consumer id. */
function unscopedOf(indexes: ChainIndexes): Unscoped {
  const globals = new Map<string, Instance>();
  const consumerOnly = new Map<string, { priority: number; handlers: Map<string, PluginHandler> }>();
  for (const id of indexes.unscoped) {
    const instance = indexes.instances.get(id);
    if (instance === undefined || instance.handler === null) continue;
    const plugin = instance.plugin;
    if (plugin.consumer) {
      if (PLUGIN_DESCRIPTORS.get(plugin.name)?.noConsumer === true) continue;
      let byConsumer = consumerOnly.get(plugin.name);
      if (byConsumer === undefined) consumerOnly.set(plugin.name, (byConsumer = { priority: instance.factory.priority, handlers: new Map() }));
      byConsumer.handlers.set(plugin.consumer.id, instance.handler);
    } else {
      globals.set(plugin.name, instance);
    }
  }
  return { globals, consumerOnly };
}

/** A request no route matched runs the global instances' phases after access (Kong's `get_collected_iterator` fallback). */
function globalChainOf(shared: Unscoped): PluginChain {
  const handlers = [...shared.globals.values()].map((i) => i.handler!).sort(byRunOrder);
  if (handlers.length === 0) return EMPTY_CHAIN;
  return new PluginChain(handlers, {
    rewrite: [],
    access: [],
    header_filter: handlers.filter((h) => h.header_filter !== undefined),
    body_filter: handlers.filter((h) => h.body_filter !== undefined),
    log: handlers.filter((h) => h.log !== undefined),
  });
}

/** What one plugin name gives a route: its best instance without consumer and its consumer-scoped ones. */
interface Candidates {
  name: string;
  priority: number;
  base: PluginHandler | null;
  baseLevel: number;
  /** Best consumer+route(+service) / consumer+service instance per consumer, with its level. */
  specific: Map<string, { handler: PluginHandler; level: number }> | null;
}

/**
 * Compiles the chain of `route`: per plugin name, the most specific enabled instance (or, with
 * consumer-scoped instances, a {@link ConsumerScopedEntry}), in run order; rewrite holds the global
 * instances only. `EMPTY_CHAIN` when no plugin applies.
 */
function compileRouteChain(route: Route, indexes: ChainIndexes, shared: Unscoped): PluginChain {
  const serviceId = route.service?.id ?? null;
  if (shared.globals.size === 0 && shared.consumerOnly.size === 0 && !indexes.byRoute.has(route.id) && (serviceId === null || !indexes.byService.has(serviceId))) return EMPTY_CHAIN;
  const byName = new Map<string, Candidates>();
  const candidatesOf = (instance: Instance): Candidates => {
    const name = instance.plugin.name;
    let c = byName.get(name);
    if (c === undefined) byName.set(name, (c = { name, priority: instance.factory.priority, base: null, baseLevel: 99, specific: null }));
    return c;
  };
  const consider = (instance: Instance): void => {
    const plugin = instance.plugin;
    const handler = instance.handler;
    if (handler === null) return; // disabled (or not for HTTP): the next scope's instance applies
    if (plugin.service && plugin.service.id !== serviceId) return;
    const hasRoute = plugin.route != null;
    const hasService = plugin.service != null;
    if (plugin.consumer) {
      if (PLUGIN_DESCRIPTORS.get(plugin.name)?.noConsumer === true) return;
      const level = hasRoute && hasService ? LEVEL.consumerRouteService : hasRoute ? LEVEL.consumerRoute : LEVEL.consumerService;
      const c = candidatesOf(instance);
      c.specific ??= new Map();
      const best = c.specific.get(plugin.consumer.id);
      if (best === undefined || level < best.level) c.specific.set(plugin.consumer.id, { handler, level });
      return;
    }
    const level = hasRoute && hasService ? LEVEL.routeService : hasRoute ? LEVEL.route : LEVEL.service;
    const c = candidatesOf(instance);
    if (level < c.baseLevel) {
      c.base = handler;
      c.baseLevel = level;
    }
  };
  for (const id of indexes.byRoute.get(route.id) ?? []) {
    const instance = indexes.instances.get(id);
    if (instance !== undefined) consider(instance);
  }
  if (serviceId !== null) {
    for (const id of indexes.byService.get(serviceId) ?? []) {
      const instance = indexes.instances.get(id);
      if (instance !== undefined) consider(instance);
    }
  }
  for (const instance of shared.globals.values()) {
    const c = candidatesOf(instance);
    if (LEVEL.global < c.baseLevel) {
      c.base = instance.handler;
      c.baseLevel = LEVEL.global;
    }
  }
  for (const [name, { priority }] of shared.consumerOnly) {
    if (!byName.has(name)) byName.set(name, { name, priority, base: null, baseLevel: 99, specific: null });
  }
  if (byName.size === 0) return EMPTY_CHAIN;

  const entries: PluginHandler[] = [];
  for (const c of [...byName.values()].sort(byRunOrder)) {
    // A route+service instance (level 4) outranks the consumer-only ones (level 5).
    const consumerOnly = c.baseLevel <= LEVEL.routeService ? null : (shared.consumerOnly.get(c.name)?.handlers ?? null);
    if (c.specific === null && consumerOnly === null) {
      if (c.base !== null) entries.push(c.base);
      continue;
    }
    let specific: Map<string, PluginHandler> | null = null;
    for (const [consumerId, best] of c.specific ?? []) {
      // consumer+route(+service) and consumer+service (levels 1–3) outrank everything without a consumer.
      (specific ??= new Map()).set(consumerId, best.handler);
    }
    const instances = [c.base, ...(specific?.values() ?? []), ...(consumerOnly?.values() ?? [])].filter((h): h is PluginHandler => h !== null);
    const isKept = instances.some((h) => h.header_filter !== undefined || h.body_filter !== undefined || h.log !== undefined);
    entries.push(new ConsumerScopedEntry(c.name, c.priority, c.base, specific, consumerOnly, isKept));
  }
  const globalRewrite = [...shared.globals.values()].map((i) => i.handler!).filter((h) => h.rewrite !== undefined).sort(byRunOrder);
  const hasLater = (h: PluginHandler, phase: 'header_filter' | 'body_filter' | 'log'): boolean =>
    h instanceof ConsumerScopedEntry ? [h.base, ...(h.specific?.values() ?? []), ...(h.consumerOnly?.values() ?? [])].some((x) => x !== null && x[phase] !== undefined) : h[phase] !== undefined;
  return new PluginChain(entries, {
    rewrite: globalRewrite,
    access: entries.filter((h) => h instanceof ConsumerScopedEntry || h.access !== undefined),
    header_filter: entries.filter((h) => hasLater(h, 'header_filter')),
    body_filter: entries.filter((h) => hasLater(h, 'body_filter')),
    log: entries.filter((h) => hasLater(h, 'log')),
  });
}

/** The plugin chains (`config.plugins`), compiled with the apply's plugin runtime. */
export const PLUGIN_CHAINS_PROJECTION: Projection<PluginChains> = {
  dependsOn: ['plugins', 'routes'],
  build: (entities, context: ProjectionContext) => PluginChains.build(entities, context.plugins),
  change: (chains, changes, entities) => chains.change(changes, entities),
  failure: (cause) => EntityRefusal.failureOf(cause, 'plugins'),
};
