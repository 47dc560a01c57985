/**
 * The `routes` kind: the rules that match a request, and the service it goes to
 * (`kong/db/schema/entities/routes.lua`). Schema and checks in `../route-schema.ts`; here its codec
 * and registry definition.
 */
import { pb } from '../../proto.js';
import { defineEntity } from '../entity-definition.js';
import { ROUTE_HOOKS, ROUTE_SCHEMA } from '../route-schema.js';
import type { EntityInterner } from '../entity-interner.js';
import type { Route } from '../types.js';
import { decodeOrThrow, entityReader, foreign, list, opt, unlist, unlistWords } from './wire.js';

/** Encodes a Route into its protobuf bytes (deterministic: header names are sorted). */
export function encodeRoute(r: Route): Uint8Array {
  let headers: { values: Record<string, { values: string[] }> } | null = null;
  if (r.headers !== null) {
    const values: Record<string, { values: string[] }> = {};
    for (const name of Object.keys(r.headers).sort()) values[name] = { values: [...r.headers[name]] };
    headers = { values };
  }
  return pb.Route.encode({
    id: r.id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    name: r.name,
    protocols: list(r.protocols),
    methods: list(r.methods),
    hosts: list(r.hosts),
    paths: list(r.paths),
    headers,
    snis: list(r.snis),
    stripPath: r.strip_path,
    preserveHost: r.preserve_host,
    regexPriority: r.regex_priority,
    pathHandling: r.path_handling,
    httpsRedirectStatusCode: r.https_redirect_status_code,
    requestBuffering: r.request_buffering,
    responseBuffering: r.response_buffering,
    service: r.service,
    tags: list(r.tags),
  }).finish();
}

/**
 * Decodes protobuf bytes into a Route in Kong's JSON shape; with `shared`, its repeated values are the
 * interner's (frozen, see EntityInterner). Throws ProtocolError on undecodable bytes.
 */
export function decodeRoute(bytes: Uint8Array, shared?: EntityInterner): Route {
  const m = decodeOrThrow('route', () => pb.Route.decode(entityReader(bytes)));
  let headers: Record<string, string[]> | null = null;
  if (m.headers) {
    headers = {};
    for (const [name, values] of Object.entries(m.headers.values ?? {})) headers[name] = [...(values.values ?? [])];
  }
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    name: opt(m.name),
    protocols: unlistWords(m.protocols, shared) ?? [],
    methods: unlistWords(m.methods, shared),
    hosts: unlist(m.hosts),
    paths: unlist(m.paths),
    headers,
    snis: unlist(m.snis),
    sources: null,
    destinations: null,
    strip_path: m.stripPath,
    preserve_host: m.preserveHost,
    regex_priority: m.regexPriority,
    path_handling: m.pathHandling === 'v1' ? 'v1' : 'v0',
    https_redirect_status_code: m.httpsRedirectStatusCode,
    request_buffering: m.requestBuffering,
    response_buffering: m.responseBuffering,
    service: foreign(m.service, shared),
    tags: unlist(m.tags, shared),
  };
}


/** The `routes` definition: nested under its service (`/services/{s}/routes`). */
export const ROUTES = defineEntity<Route>({
  kind: 'routes',
  singular: 'route',
  wireType: pb.EntityType.ENTITY_TYPE_ROUTE,
  schema: ROUTE_SCHEMA,
  hooks: ROUTE_HOOKS,
  endpointKey: 'name',
  parents: ['service'],
  encode: encodeRoute,
  decode: decodeRoute,
});

/**
 * Validates input for a route (see {@link EntityDefinition.prepare}). A `service` given by name
 * must be resolved to `{id}` by the caller first (that needs the database).
 */
export const prepareRoute: typeof ROUTES.prepare = (input, options) => ROUTES.prepare(input, options);
