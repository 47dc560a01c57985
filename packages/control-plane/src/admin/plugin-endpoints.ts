/**
 * The plugin endpoints beside the generated `/plugins` CRUD (`kong/api/routes/plugins.lua`):
 * `GET /plugins/enabled` (the plugins this build implements, Kong's `loaded_plugins`) and the
 * legacy `GET /plugins/schema/{name}` (the config record alone; deprecated by Kong since 1.2,
 * `/schemas/plugins/{name}` replaces it).
 */
import { PLUGIN_DESCRIPTORS, pluginConfigSchemaToJson } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { registerEndpoint } from './endpoint.js';
import { noPluginNamed } from './schema-endpoints.js';

function nameParam(request: FastifyRequest): string {
  return (request.params as Record<string, string>).name ?? '';
}

/** Registers `/plugins/enabled` and `/plugins/schema/{name}`. */
export function registerPluginEndpoints(app: FastifyInstance): void {
  registerEndpoint(app, '/plugins/enabled', {
    GET: async () => ({ enabled_plugins: [...PLUGIN_DESCRIPTORS.keys()] }),
  });
  registerEndpoint(app, '/plugins/schema/:name', {
    GET: async (request) => pluginConfigSchemaToJson(nameParam(request)) ?? noPluginNamed(nameParam(request)),
  });
}
