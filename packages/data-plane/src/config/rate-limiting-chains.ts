// MERGE NOTE (issue 11): a stand-in, to be replaced by the dp-auth work's plugins projection and
// handler factory map (plugins/plugin-factories.ts, `PluginEnv.rateLimitCounters`). It puts a
// route's rate-limiting plugin (route > service > global, enabled, not consumer-scoped) into
// `ProxyConfig.chains` so the rate-limiting plugin runs end to end before that lands. Nothing
// else of the plugin system is here: no other plugin, no consumer overlay.
import type { Plugin, Route } from '@sluice/protocol';
import { compilePluginChain, type PluginChain } from '../plugins/plugin-chain.js';
import type { RateLimitCounters } from '../plugins/rate-limiting/rate-limit-counters.js';
import { RATE_LIMITING_FACTORY } from '../plugins/rate-limiting/factory.js';
import { RateLimitService } from '../rate-limiting/rate-limit-service.js';
import { ResourceErrorCode } from '../errors.js';
import type { Projection } from './projections.js';
import type { EntityMaps } from './runtime-config.js';

let processCounters: RateLimitCounters | null = null;

/** Sets the counters this process's rate-limiting handlers count through (the data plane's service, or a worker's client). */
export function setProcessRateLimitCounters(counters: RateLimitCounters): void {
  processCounters = counters;
}

/** Resolved per request, so handlers built before the data plane set its counters still use them. */
const COUNTERS: RateLimitCounters = {
  consume: (query) => (processCounters ??= new RateLimitService()).consume(query),
};

function chainsOf(entities: EntityMaps): ReadonlyMap<string, PluginChain> {
  const byRoute = new Map<string, Plugin>();
  const byService = new Map<string, Plugin>();
  let global: Plugin | null = null;
  for (const plugin of entities.plugins.values()) {
    if (plugin.name !== RATE_LIMITING_FACTORY.name || !plugin.enabled || plugin.consumer !== null) continue;
    if (plugin.route !== null) byRoute.set(plugin.route.id, plugin);
    else if (plugin.service !== null) byService.set(plugin.service.id, plugin);
    else global = plugin;
  }
  const chains = new Map<string, PluginChain>();
  if (byRoute.size === 0 && byService.size === 0 && global === null) return chains;
  for (const route of entities.routes.values() as Iterable<Route>) {
    const plugin = byRoute.get(route.id) ?? (route.service ? byService.get(route.service.id) : undefined) ?? global;
    if (plugin) chains.set(route.id, compilePluginChain([RATE_LIMITING_FACTORY.create(plugin, { rateLimitCounters: COUNTERS })]));
  }
  return chains;
}

/** The rate-limiting chains by route id (rebuilt whole on a change of plugins, routes or services). */
export const RATE_LIMITING_CHAINS_PROJECTION: Projection<ReadonlyMap<string, PluginChain>> = {
  dependsOn: ['plugins', 'routes', 'services'],
  *build(entities) {
    return chainsOf(entities);
  },
  *change(_previous, _changes, entities) {
    return chainsOf(entities);
  },
  failure(cause) {
    return { kind: 'plugins', id: '', code: ResourceErrorCode.INVALID, message: cause instanceof Error ? cause.message : String(cause) };
  },
};
