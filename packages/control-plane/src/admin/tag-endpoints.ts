/**
 * `GET /tags` and `GET /tags/{tag}` (`kong/api/routes/tags.lua`): every tag of every entity of every
 * kind, one item `{entity_name, entity_id, tag}` per (entity, tag), paginated like any collection
 * (`size`, `offset`; `?tags=` is ignored here, as Kong does). `entity_name` is the kind's name
 * (`services`, `keyauth_credentials`). Items are ordered by tag, then kind, then id; the offset token
 * is the last item's `[tag, entity_name, entity_id]`. Expired entities are left out.
 */
import { validateTag } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KongDaoError } from '../errors.js';
import type { Store, TagRow } from '../store/index.js';
import { registerEndpoint } from './endpoint.js';
import { escapeUri, type PageParams, pageResponse, parsePageParams } from './pagination.js';

/** The item an offset token names, or code 7 when the token is not one of ours. */
function afterRow(params: PageParams): TagRow | null {
  if (params.after === null) return null;
  const [tag, entityName, entityId] = params.after;
  if (params.after.length !== 3 || typeof tag !== 'string' || typeof entityName !== 'string' || typeof entityId !== 'string') {
    throw KongDaoError.invalidOffset(params.rawOffset ?? '', 'bad json encoding');
  }
  return { tag, entity_name: entityName, entity_id: entityId };
}

/** Registers `/tags` and `/tags/:tag`; `nowSeconds` decides which entities have expired. */
export function registerTagEndpoints(app: FastifyInstance, store: Store, nowSeconds: () => number): void {
  const list = async (request: FastifyRequest, tag: string | null, basePath: string) => {
    const params = parsePageParams((request.query ?? {}) as Record<string, unknown>, { allowTags: false });
    const page = await store.tagPage({ size: params.size, tag, after: afterRow(params), aliveAt: nowSeconds() });
    const last = page.data[page.data.length - 1];
    return pageResponse(page.data, {
      basePath,
      lastKey: page.hasMore && last ? [last.tag, last.entity_name, last.entity_id] : null,
      params,
      echoFilters: true,
    });
  };

  registerEndpoint(app, '/tags', { GET: async (request) => list(request, null, '/tags') });

  registerEndpoint(app, '/tags/:tag', {
    GET: async (request) => {
      const tag = (request.params as { tag: string }).tag;
      const invalid = validateTag(tag);
      // Kong validates the tag of the URL like any tag value (code 11, invalid options).
      if (invalid !== null) throw KongDaoError.invalidOptions({ tags: invalid });
      return list(request, tag, `/tags/${escapeUri(tag)}`);
    },
  });
}
