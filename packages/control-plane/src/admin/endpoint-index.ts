/**
 * `GET /endpoints` (`kong/api/routes/kong.lua`): every path the Admin API serves, extensions
 * included, as `{"data": ["/", "/services", "/services/{service}", …]}`. Parameters are written
 * `{name}`; paths are sorted segment by segment (Kong compares with `/` as the lowest character, so
 * `/a/z` sorts before `/ab`).
 */
import type { FastifyInstance } from 'fastify';
import { registerEndpoint } from './endpoint.js';

/** Kong's path order: `/` compares below every other character. */
function comparePaths(a: string, b: string): number {
  const ka = a.replaceAll('/', '\u0000');
  const kb = b.replaceAll('/', '\u0000');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Starts recording the paths registered on `app` and registers `/endpoints`. Call it before any
 * other endpoint is registered: only routes added afterwards are seen (Fastify's `onRoute`).
 */
export function installEndpointIndex(app: FastifyInstance): void {
  const paths = new Set<string>();
  app.addHook('onRoute', (route) => {
    if (route.url !== '*') paths.add(route.url.replace(/:([^/]+)/g, '{$1}'));
  });
  registerEndpoint(app, '/endpoints', { GET: async () => ({ data: [...paths].sort(comparePaths) }) });
}
