/**
 * Kong's protocol check on a plugin write (`kong/db/dao/plugins.lua check_protocols_match`): a
 * plugin on a route must share a protocol with it; a plugin on a service (and no route) must share
 * one with at least one of the service's routes, unless the service has none. A PATCH is checked
 * only when it changes `protocols`, `route` or `service`, as in Kong (so a later change of the
 * route's protocols does not make the plugin's other updates fail).
 */
import type { AnyEntity, Plugin, Route } from '@sluice/protocol';
import { KongDaoError } from '../../errors.js';
import type { WriteCheckContext, WriteCheckReader } from '../control-plane-kind.js';

const SCOPE_FIELDS = ['protocols', 'route', 'service'] as const;

function sharesProtocol(plugin: Plugin, route: Route): boolean {
  return plugin.protocols.some((p) => route.protocols.includes(p));
}

/** Refuses a plugin whose protocols match none of its route's (or its service's routes'). */
export async function checkPluginProtocols(entity: AnyEntity, reader: WriteCheckReader, context: WriteCheckContext): Promise<void> {
  const plugin = entity as Plugin;
  if (context.mode === 'update' && !SCOPE_FIELDS.some((f) => Object.hasOwn(context.input, f))) return;
  if (plugin.route !== null) {
    const route = await reader.find('routes', plugin.route);
    if (route !== null && !sharesProtocol(plugin, route)) {
      throw KongDaoError.schemaViolation({ protocols: "must match the associated route's protocols" });
    }
    return;
  }
  if (plugin.service === null) return;
  const routes = await reader.list('routes', { field: 'service', value: plugin.service.id });
  if (routes.length > 0 && !routes.some((r) => sharesProtocol(plugin, r))) {
    throw KongDaoError.schemaViolation({ protocols: "must match the protocols of at least one route pointing to this Plugin's service" });
  }
}
