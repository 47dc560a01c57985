/**
 * The Admin API's entity endpoints, generated from the entity registry as Kong generates them from
 * its schemas (`kong/api/endpoints.lua`). For each kind `{kind}` (singular `{one}`):
 *
 * | path | methods | from |
 * |---|---|---|
 * | `/{kind}` | GET (page, `?tags=`), POST | every kind |
 * | `/{kind}/{id or endpoint key}` | GET, PUT, PATCH, DELETE | every kind |
 * | `/{parents}/{p}/{kind}` | GET (page), POST (sets the foreign key) | each of the kind's `parents` |
 * | `/{parents}/{p}/{kind}/{k}` | GET, PUT, PATCH, DELETE (404 unless it belongs to `p`) | each parent |
 * | `/{kind}/{k}/{field}` | GET, PUT (creates and links when unset), PATCH, DELETE (405 when linked) | each foreign field to a registered kind |
 *
 * e.g. `/services/{s}/routes` and `/routes/{r}/service`. A kind's extras (Kong's
 * `/consumers?custom_id=`) come from its control-plane definition, not from code here.
 */
import { type AnyEntity, ENTITIES, ENTITY_KINDS, type EntityKind, type EntitySchema, isEntityKind, isUuid } from '@sluice/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONTROL_PLANE_KINDS } from '../entities/kinds.js';
import { HttpError, KongDaoError } from '../errors.js';
import type { ConfigOperations } from './config-operations.js';
import { registerEndpoint, sendWrite } from './endpoint.js';
import { parseEntityKey } from './entity-key.js';
import { inferFormArguments } from './form-arguments.js';
import { type PageParams, pageResponse, parsePageParams } from './pagination.js';
import { bodyOf } from './request-body.js';
import type { StaleReads } from './stale-reads.js';

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

/** The id a foreign field of `entity` holds, or undefined when it is null. */
function foreignId(entity: AnyEntity, field: string): string | undefined {
  return ((entity as unknown as Record<string, { id: string } | null>)[field] ?? undefined)?.id;
}

/** The id an entity page starts after, from a decoded offset (code 7 when it is not one). */
function afterId(params: PageParams): string | null {
  if (params.after === null) return null;
  const [id] = params.after;
  if (typeof id !== 'string' || !isUuid(id)) throw KongDaoError.invalidOffset(params.rawOffset ?? '', 'bad json encoding');
  return id.toLowerCase();
}

/** Registers every entity endpoint of every kind on `app`. */
export function registerCrudEndpoints(app: FastifyInstance, reads: StaleReads, ops: ConfigOperations): void {
  for (const kind of ENTITY_KINDS) registerKind(app, reads, ops, kind);
}

function registerKind(app: FastifyInstance, reads: StaleReads, ops: ConfigOperations, kind: EntityKind): void {
  const def = ENTITIES[kind];
  const one = def.singular;
  const input = (request: FastifyRequest) => entityInput(request, def.schema);
  const keyOf = (request: FastifyRequest) => parseEntityKey(kind, param(request, one));
  const findOr404 = async (request: FastifyRequest) => {
    const entity = await reads.find(request, kind, keyOf(request));
    if (!entity) throw HttpError.notFound();
    return entity as AnyEntity;
  };
  const sent = (reply: FastifyReply, status: number) => (written: { version: number; epoch: string; entity: unknown }) =>
    sendWrite(reply, status, written, status === 204 ? null : written.entity);

  registerEndpoint(app, `/${kind}`, {
    GET: async (request) => {
      const q = query(request);
      const lookup = CONTROL_PLANE_KINDS[kind].listLookup?.(q);
      if (lookup !== undefined) {
        const found = await reads.find(request, kind, lookup);
        return { data: found ? [found] : [], next: null };
      }
      const params = parsePageParams(q, { allowTags: true });
      const page = await reads.page(request, kind, { size: params.size, afterId: afterId(params), tags: params.tags });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data, { basePath: `/${kind}`, lastKey: page.hasMore && last ? [last.id] : null, params, echoFilters: true });
    },
    POST: async (request, reply) => sent(reply, 201)(await ops.create(kind, input(request))),
  });

  registerEndpoint(app, `/${kind}/:${one}`, {
    GET: async (request) => findOr404(request),
    PUT: async (request, reply) => sent(reply, 200)(await ops.replace(kind, keyOf(request), input(request))),
    PATCH: async (request, reply) => sent(reply, 200)(await ops.update(kind, keyOf(request), input(request))),
    DELETE: async (request, reply) => sent(reply, 204)(await ops.delete(kind, keyOf(request))),
  });

  for (const field of def.parents) {
    const parentKind = def.foreignFields.find((f) => f.field === field)!.reference;
    if (!isEntityKind(parentKind)) continue;
    registerNested(app, reads, ops, kind, field, parentKind);
  }

  for (const f of def.foreignFields) {
    if (!isEntityKind(f.reference)) continue;
    const reference = f.reference;
    const referencedOr404 = async (request: FastifyRequest) => {
      const entity = await findOr404(request);
      const id = foreignId(entity, f.field);
      if (id === undefined) throw HttpError.notFound();
      return { entity, id };
    };
    registerEndpoint(app, `/${kind}/:${one}/${f.field}`, {
      GET: async (request) => {
        const { id } = await referencedOr404(request);
        const referenced = await reads.find(request, reference, { id });
        if (!referenced) throw HttpError.notFound();
        return referenced;
      },
      PUT: async (request, reply) => {
        const entity = await findOr404(request);
        return sent(reply, 200)(await ops.replaceReferenced(kind, entity as never, f.field, reference, entityInput(request, ENTITIES[reference].schema)));
      },
      PATCH: async (request, reply) => {
        const { id } = await referencedOr404(request);
        return sent(reply, 200)(await ops.update(reference, { id }, entityInput(request, ENTITIES[reference].schema)));
      },
      DELETE: async (request) => {
        await referencedOr404(request);
        throw HttpError.methodNotAllowed();
      },
    });
  }
}

/** `/{parents}/{p}/{kind}` and `/{parents}/{p}/{kind}/{k}`: the kind's entities that reference one parent. */
function registerNested(app: FastifyInstance, reads: StaleReads, ops: ConfigOperations, kind: EntityKind, field: string, parentKind: EntityKind): void {
  const def = ENTITIES[kind];
  const one = def.singular;
  const parentOne = ENTITIES[parentKind].singular;
  const input = (request: FastifyRequest) => entityInput(request, def.schema);
  const parentOr404 = async (request: FastifyRequest) => {
    const parent = await reads.find(request, parentKind, parseEntityKey(parentKind, param(request, parentOne)));
    if (!parent) throw HttpError.notFound();
    return parent as AnyEntity;
  };
  /** The child named in the URL, when it belongs to the parent; 404 otherwise. */
  const childOr404 = async (request: FastifyRequest, parentId: string) => {
    const child = await reads.find(request, kind, parseEntityKey(kind, param(request, one)));
    if (!child || foreignId(child as AnyEntity, field) !== parentId) throw HttpError.notFound();
    return child as AnyEntity;
  };
  const base = `/${parentKind}/:${parentOne}/${kind}`;

  registerEndpoint(app, base, {
    GET: async (request) => {
      const parent = await parentOr404(request);
      const params = parsePageParams(query(request), { allowTags: false });
      const page = await reads.page(request, kind, { size: params.size, afterId: afterId(params), where: { field, value: parent.id } });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data, { basePath: `/${parentKind}/${rawSegment(request, 1)}/${kind}`, lastKey: page.hasMore && last ? [last.id] : null });
    },
    POST: async (request, reply) => {
      const parent = await parentOr404(request);
      const written = await ops.create(kind, { ...input(request), [field]: { id: parent.id } });
      return sendWrite(reply, 201, written, written.entity);
    },
  });

  registerEndpoint(app, `${base}/:${one}`, {
    GET: async (request) => childOr404(request, (await parentOr404(request)).id),
    PUT: async (request, reply) => {
      const parent = await parentOr404(request);
      const written = await ops.replace(kind, parseEntityKey(kind, param(request, one)), { ...input(request), [field]: { id: parent.id } });
      return sendWrite(reply, 200, written, written.entity);
    },
    PATCH: async (request, reply) => {
      const parent = await parentOr404(request);
      const child = await childOr404(request, parent.id);
      const data = input(request);
      const written = await ops.update(kind, { id: child.id }, Object.hasOwn(data, field) ? data : { ...data, [field]: { id: parent.id } });
      return sendWrite(reply, 200, written, written.entity);
    },
    DELETE: async (request, reply) => {
      const child = await childOr404(request, (await parentOr404(request)).id);
      const written = await ops.delete(kind, { id: child.id });
      return sendWrite(reply, 204, written, null);
    },
  });
}
