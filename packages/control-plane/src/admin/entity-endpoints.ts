/**
 * The Admin API endpoints of services and routes (`kong/api/endpoints.lua` generated endpoints
 * plus `kong/api/routes/{services,routes}.lua`):
 *
 * | path | methods |
 * |---|---|
 * | `/services`, `/routes` | GET (page), POST |
 * | `/services/{s}`, `/routes/{r}` | GET, PUT, PATCH, DELETE |
 * | `/services/{s}/routes` | GET (page), POST |
 * | `/services/{s}/routes/{r}` | GET, PUT, PATCH, DELETE |
 * | `/routes/{r}/service` | GET, PUT, PATCH, DELETE (405 when linked) |
 */
import { type EntitySchema, type Route, ROUTE_SCHEMA, SERVICE_SCHEMA, isUuid } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, KongDaoError } from '../errors.js';
import type { EntityKey, Store } from '../store/index.js';
import type { ConfigOperations } from './config-operations.js';
import { registerEndpoint, sendWrite } from './endpoint.js';
import { parseEntityKey } from './entity-key.js';
import { inferFormArguments } from './form-arguments.js';
import { type PageParams, pageResponse, parsePageParams } from './pagination.js';
import { bodyOf } from './request-body.js';

/** The write input of a request: JSON as sent, form values converted to the schema's types. */
function entityInput(request: FastifyRequest, schema: EntitySchema): Record<string, unknown> {
  const body = bodyOf(request.body);
  return body.kind === 'json' ? body.value : inferFormArguments(body.args, schema);
}

function param(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name] ?? '';
}

/** The URL segment at `index` as the client wrote it (still percent-encoded), for `next` links. */
function rawSegment(request: FastifyRequest, index: number): string {
  const path = request.url.split('?')[0] ?? '';
  return path.split('/').filter((s) => s !== '')[index] ?? '';
}

function query(request: FastifyRequest): Record<string, unknown> {
  return (request.query ?? {}) as Record<string, unknown>;
}

function belongsTo(route: Route, serviceId: string): boolean {
  return route.service?.id === serviceId;
}

/** Registers every services/routes endpoint on `app`. */
export function registerEntityEndpoints(app: FastifyInstance, store: Store, ops: ConfigOperations): void {
  const serviceOr404 = async (request: FastifyRequest, name = 'service') => {
    const service = await ops.getService(parseEntityKey(param(request, name)));
    if (!service) throw HttpError.notFound();
    return service;
  };
  const routeOr404 = async (request: FastifyRequest, name = 'route') => {
    const route = await ops.getRoute(parseEntityKey(param(request, name)));
    if (!route) throw HttpError.notFound();
    return route;
  };

  registerEndpoint(app, '/services', {
    GET: async (request) => {
      const params = parsePageParams(query(request), { allowTags: true });
      const page = await store.pageServices({ size: params.size, afterId: afterId(params), tags: params.tags });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data, { basePath: '/services', lastKey: page.hasMore && last ? [last.id] : null, params, echoFilters: true });
    },
    POST: async (request, reply) => {
      const written = await ops.createService(entityInput(request, SERVICE_SCHEMA));
      return sendWrite(reply, 201, written, written.entity);
    },
  });

  registerEndpoint(app, '/services/:service', {
    GET: async (request) => serviceOr404(request),
    PUT: async (request, reply) => {
      const written = await ops.replaceService(parseEntityKey(param(request, 'service')), entityInput(request, SERVICE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    PATCH: async (request, reply) => {
      const written = await ops.updateService(parseEntityKey(param(request, 'service')), entityInput(request, SERVICE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    DELETE: async (request, reply) => {
      const written = await ops.deleteService(parseEntityKey(param(request, 'service')));
      return sendWrite(reply, 204, written, null);
    },
  });

  registerEndpoint(app, '/services/:service/routes', {
    GET: async (request) => {
      const service = await serviceOr404(request);
      const params = parsePageParams(query(request), { allowTags: false });
      const page = await store.pageRoutes({ size: params.size, afterId: afterId(params), serviceId: service.id });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data, {
        basePath: `/services/${rawSegment(request, 1)}/routes`,
        lastKey: page.hasMore && last ? [last.id] : null,
      });
    },
    POST: async (request, reply) => {
      const service = await serviceOr404(request);
      const written = await ops.createRoute({ ...entityInput(request, ROUTE_SCHEMA), service: { id: service.id } });
      return sendWrite(reply, 201, written, written.entity);
    },
  });

  registerEndpoint(app, '/services/:service/routes/:route', {
    GET: async (request) => {
      const service = await serviceOr404(request);
      const route = await routeOr404(request);
      if (!belongsTo(route, service.id)) throw HttpError.notFound();
      return route;
    },
    PUT: async (request, reply) => {
      const service = await serviceOr404(request);
      const key = parseEntityKey(param(request, 'route'));
      const written = await ops.replaceRoute(key, { ...entityInput(request, ROUTE_SCHEMA), service: { id: service.id } });
      return sendWrite(reply, 200, written, written.entity);
    },
    PATCH: async (request, reply) => {
      const service = await serviceOr404(request);
      const route = await routeOr404(request);
      if (!belongsTo(route, service.id)) throw HttpError.notFound();
      const input = entityInput(request, ROUTE_SCHEMA);
      const written = await ops.updateRoute({ id: route.id }, input.service === undefined ? { ...input, service: { id: service.id } } : input);
      return sendWrite(reply, 200, written, written.entity);
    },
    DELETE: async (request, reply) => {
      const service = await serviceOr404(request);
      const route = await routeOr404(request);
      if (!belongsTo(route, service.id)) throw HttpError.notFound();
      const written = await ops.deleteRoute({ id: route.id });
      return sendWrite(reply, 204, written, null);
    },
  });

  registerEndpoint(app, '/routes', {
    GET: async (request) => {
      const params = parsePageParams(query(request), { allowTags: true });
      const page = await store.pageRoutes({ size: params.size, afterId: afterId(params), tags: params.tags });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data, { basePath: '/routes', lastKey: page.hasMore && last ? [last.id] : null, params, echoFilters: true });
    },
    POST: async (request, reply) => {
      const written = await ops.createRoute(entityInput(request, ROUTE_SCHEMA));
      return sendWrite(reply, 201, written, written.entity);
    },
  });

  registerEndpoint(app, '/routes/:route', {
    GET: async (request) => routeOr404(request),
    PUT: async (request, reply) => {
      const written = await ops.replaceRoute(parseEntityKey(param(request, 'route')), entityInput(request, ROUTE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    PATCH: async (request, reply) => {
      const written = await ops.updateRoute(parseEntityKey(param(request, 'route')), entityInput(request, ROUTE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    DELETE: async (request, reply) => {
      const written = await ops.deleteRoute(parseEntityKey(param(request, 'route')));
      return sendWrite(reply, 204, written, null);
    },
  });

  registerEndpoint(app, '/routes/:route/service', {
    GET: async (request) => {
      const route = await routeOr404(request);
      if (!route.service) throw HttpError.notFound();
      const service = await ops.getService({ id: route.service.id });
      if (!service) throw HttpError.notFound();
      return service;
    },
    PUT: async (request, reply) => {
      const route = await routeOr404(request);
      const written = await ops.replaceRouteService(route, entityInput(request, SERVICE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    PATCH: async (request, reply) => {
      const route = await routeOr404(request);
      if (!route.service) throw HttpError.notFound();
      const key: EntityKey = { id: route.service.id };
      const written = await ops.updateService(key, entityInput(request, SERVICE_SCHEMA));
      return sendWrite(reply, 200, written, written.entity);
    },
    DELETE: async (request) => {
      const route = await routeOr404(request);
      if (!route.service) throw HttpError.notFound();
      throw HttpError.methodNotAllowed();
    },
  });
}

/** The id an entity page starts after, from a decoded offset (code 7 when it is not one). */
function afterId(params: PageParams): string | null {
  if (params.after === null) return null;
  const [id] = params.after;
  if (typeof id !== 'string' || !isUuid(id)) throw KongDaoError.invalidOffset(params.rawOffset ?? '', 'bad json encoding');
  return id.toLowerCase();
}
