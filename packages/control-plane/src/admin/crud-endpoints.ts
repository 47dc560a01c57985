/**
 * The Admin API's entity endpoints, generated from the entity registry as Kong generates them from
 * its schemas (`kong/api/endpoints.lua`). For each kind with collection name `{kind}` (its
 * `adminName`: `/services`, `/key-auths`), nested name `{nested}` (`nestedAdminName`:
 * `/consumers/{c}/key-auth`) and singular `{one}`:
 *
 * | path | methods | from |
 * |---|---|---|
 * | `/{kind}` | GET (page, `?tags=`), POST | every kind |
 * | `/{kind}/{id or endpoint key}` | GET, PUT, PATCH, DELETE | every kind |
 * | `/{parents}/{p}/{nested}` | GET (page), POST (sets the foreign key) | each of the kind's `parents` |
 * | `/{parents}/{p}/{nested}/{k}` | GET, PUT, PATCH, DELETE (404 unless it belongs to `p`) | each parent |
 * | `/{kind}/{k}/{field}` | GET, PUT (creates and links when unset), PATCH, DELETE (405 when linked) | each foreign field to a registered kind |
 *
 * e.g. `/services/{s}/routes` and `/routes/{r}/service`. Under a parent, `{k}` is an id, the
 * endpoint key, or, for a kind with a `nestedEndpointKey`, that field within the parent
 * (`/consumers/{c}/acls/{group}`, Kong's `acl/api.lua`: 404 when the consumer has no such group,
 * except PUT, which creates it with the group from the URL unless the body names one). Entities
 * that have expired are absent everywhere; responses go through `present-entity.ts` (a plugin's
 * deprecated config shorthands echoed, a credential's `ttl`). A kind's extras (Kong's
 * `/consumers?custom_id=`) come from its control-plane definition, not from code here.
 */
import { type AnyEntity, ENTITIES, ENTITY_KINDS, type EntityKind, type EntityOf, type EntitySchema, isEntityKind, isUuid } from '@sluice/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONTROL_PLANE_KINDS } from '../entities/kinds.js';
import { HttpError, KongDaoError } from '../errors.js';
import type { EntityKey, Page, PageQuery } from '../store/index.js';
import type { ConfigOperations, GetOptions } from './config-operations.js';
import { registerEndpoint, sendWrite } from './endpoint.js';
import { parseEntityKey } from './entity-key.js';
import { inferFormArguments } from './form-arguments.js';
import { type PageParams, pageResponse, parsePageParams } from './pagination.js';
import { presentEntity } from './present-entity.js';
import { bodyOf } from './request-body.js';
import type { StaleReads } from './stale-reads.js';

/**
 * The write input of a request: JSON as sent, form values converted to the schema's types (for a
 * PATCH of a kind with subschemas, the `stored` entity's subschema when the form does not name one).
 */
function entityInput(request: FastifyRequest, schema: EntitySchema, stored: object | null = null): Record<string, unknown> {
  const body = bodyOf(request.body);
  if (body.kind === 'text') throw HttpError.unsupportedMediaType();
  return body.kind === 'json' ? body.value : inferFormArguments(body.args, schema, stored);
}

/** True when a form PATCH must read the stored entity to type its values (the subschema key is not in the form). */
function needsStoredSchema(request: FastifyRequest, schema: EntitySchema): boolean {
  const body = bodyOf(request.body);
  return schema.subschemas !== undefined && body.kind === 'form' && !Object.hasOwn(body.args, schema.subschemas.key);
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

/** The id a write addressed, for the audit log: the written entity's, else the URL's when it is an id. */
function auditId(request: FastifyRequest, param: string, entity: unknown): string | null {
  if (typeof entity === 'object' && entity !== null && typeof (entity as { id?: unknown }).id === 'string') return (entity as { id: string }).id;
  const key = (request.params as Record<string, string> | undefined)?.[param];
  return key !== undefined && isUuid(key) ? key.toLowerCase() : null;
}

/** The id an entity page starts after, from a decoded offset (code 7 when it is not one). */
function afterId(params: PageParams): string | null {
  if (params.after === null) return null;
  const [id] = params.after;
  if (typeof id !== 'string' || !isUuid(id)) throw KongDaoError.invalidOffset(params.rawOffset ?? '', 'bad json encoding');
  return id.toLowerCase();
}

/** Registers every entity endpoint of every kind on `app`. */
export function registerCrudEndpoints(app: FastifyInstance, staleReads: StaleReads, ops: ConfigOperations): void {
  const reads = entityReads(staleReads, ops);
  for (const kind of ENTITY_KINDS) registerKind(app, reads, ops, kind);
}

/**
 * The reads of the entity endpoints: entities that have expired are left out (unless asked for),
 * and a GET is answered from the replica's memory, marked stale, while the database is away.
 */
interface EntityReads {
  find<K extends EntityKind>(request: FastifyRequest, kind: K, key: EntityKey, options?: GetOptions): Promise<EntityOf<K> | null>;
  page<K extends EntityKind>(request: FastifyRequest, kind: K, query: PageQuery): Promise<Page<EntityOf<K>>>;
}

function entityReads(reads: StaleReads, ops: ConfigOperations): EntityReads {
  return {
    find: (request, kind, key, options = {}) => reads.find(request, kind, key, options.includeExpired ? {} : { aliveAt: ops.nowSeconds() }),
    page: (request, kind, query) => reads.page(request, kind, { ...query, aliveAt: ops.nowSeconds() }),
  };
}

/** Sends a write's result, the entity as the Admin API shows it (no body for 204), and names it for the audit line. */
function sendWritten(ops: ConfigOperations, kind: EntityKind, reply: FastifyReply, status: number, written: { version: number; epoch: string; entity: unknown }) {
  const body = status === 204 ? null : presentEntity(kind, written.entity as object, ops.nowSeconds());
  return sendWrite(reply, status, written, body, { kind, id: auditId(reply.request, ENTITIES[kind].singular, written.entity) });
}

function registerKind(app: FastifyInstance, reads: EntityReads, ops: ConfigOperations, kind: EntityKind): void {
  const def = ENTITIES[kind];
  const one = def.singular;
  const input = (request: FastifyRequest) => entityInput(request, def.schema);
  const keyOf = (request: FastifyRequest) => parseEntityKey(kind, param(request, one));
  const findOr404 = async (request: FastifyRequest) => {
    const entity = await reads.find(request, kind, keyOf(request));
    if (!entity) throw HttpError.notFound();
    return entity as AnyEntity;
  };
  const present = (entity: object) => presentEntity(kind, entity, ops.nowSeconds());
  const sent = (reply: FastifyReply, status: number) => (written: { version: number; epoch: string; entity: unknown }) =>
    sendWritten(ops, kind, reply, status, written);

  registerEndpoint(app, `/${def.adminName}`, {
    GET: async (request) => {
      const q = query(request);
      const lookup = CONTROL_PLANE_KINDS[kind].listLookup?.(q);
      if (lookup !== undefined) {
        const found = await reads.find(request, kind, lookup);
        return { data: found ? [present(found)] : [], next: null };
      }
      const params = parsePageParams(q, { allowTags: true });
      const page = await reads.page(request, kind, { size: params.size, afterId: afterId(params), tags: params.tags });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data.map(present), {
        basePath: `/${def.adminName}`,
        lastKey: page.hasMore && last ? [last.id] : null,
        params,
        echoFilters: true,
      });
    },
    POST: async (request, reply) => sent(reply, 201)(await ops.create(kind, input(request))),
  });

  registerEndpoint(app, `/${def.adminName}/:${one}`, {
    GET: async (request) => present(await findOr404(request)),
    PUT: async (request, reply) => sent(reply, 200)(await ops.replace(kind, keyOf(request), input(request))),
    PATCH: async (request, reply) => {
      const stored = needsStoredSchema(request, def.schema) ? await reads.find(request, kind, keyOf(request)) : null;
      return sent(reply, 200)(await ops.update(kind, keyOf(request), entityInput(request, def.schema, stored)));
    },
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
    registerEndpoint(app, `/${def.adminName}/:${one}/${f.field}`, {
      GET: async (request) => {
        const { id } = await referencedOr404(request);
        const referenced = await reads.find(request, reference, { id });
        if (!referenced) throw HttpError.notFound();
        return presentEntity(reference, referenced, ops.nowSeconds());
      },
      PUT: async (request, reply) => {
        const entity = await findOr404(request);
        const written = await ops.replaceReferenced(kind, entity as never, f.field, reference, entityInput(request, ENTITIES[reference].schema));
        return sendWritten(ops, reference, reply, 200, written);
      },
      PATCH: async (request, reply) => {
        const { id } = await referencedOr404(request);
        return sendWritten(ops, reference, reply, 200, await ops.update(reference, { id }, entityInput(request, ENTITIES[reference].schema)));
      },
      DELETE: async (request) => {
        await referencedOr404(request);
        throw HttpError.methodNotAllowed();
      },
    });
  }
}

/** `/{parents}/{p}/{nested}` and `/{parents}/{p}/{nested}/{k}`: the kind's entities that reference one parent. */
function registerNested(app: FastifyInstance, reads: EntityReads, ops: ConfigOperations, kind: EntityKind, field: string, parentKind: EntityKind): void {
  const def = ENTITIES[kind];
  const one = def.singular;
  const parentDef = ENTITIES[parentKind];
  const parentOne = parentDef.singular;
  const input = (request: FastifyRequest) => entityInput(request, def.schema);
  const present = (entity: object) => presentEntity(kind, entity, ops.nowSeconds());
  const parentOr404 = async (request: FastifyRequest) => {
    const parent = await reads.find(request, parentKind, parseEntityKey(parentKind, param(request, parentOne)));
    if (!parent) throw HttpError.notFound();
    return parent as AnyEntity;
  };
  /** The key the child segment names under the parent: an id, the endpoint key, or the nested endpoint key within the parent. */
  const childKey = (request: FastifyRequest, parentId: string): EntityKey => {
    const segment = param(request, one);
    if (isUuid(segment) || def.nestedEndpointKey === null) return parseEntityKey(kind, segment);
    return { field: def.nestedEndpointKey, value: segment, within: { field, id: parentId } };
  };
  /** The child named in the URL, when it belongs to the parent; 404 otherwise. */
  const childOr404 = async (request: FastifyRequest, parentId: string) => {
    const child = await reads.find(request, kind, childKey(request, parentId));
    if (!child || foreignId(child as AnyEntity, field) !== parentId) throw HttpError.notFound();
    return child as AnyEntity;
  };
  const base = `/${parentDef.adminName}/:${parentOne}/${def.nestedAdminName}`;

  registerEndpoint(app, base, {
    GET: async (request) => {
      const parent = await parentOr404(request);
      const params = parsePageParams(query(request), { allowTags: false });
      const page = await reads.page(request, kind, { size: params.size, afterId: afterId(params), where: { field, value: parent.id } });
      const last = page.data[page.data.length - 1];
      return pageResponse(page.data.map(present), {
        basePath: `/${parentDef.adminName}/${rawSegment(request, 1)}/${def.nestedAdminName}`,
        lastKey: page.hasMore && last ? [last.id] : null,
      });
    },
    POST: async (request, reply) => {
      const parent = await parentOr404(request);
      return sendWritten(ops, kind, reply, 201, await ops.create(kind, { ...input(request), [field]: { id: parent.id } }));
    },
  });

  registerEndpoint(app, `${base}/:${one}`, {
    GET: async (request) => present(await childOr404(request, (await parentOr404(request)).id)),
    PUT: async (request, reply) => {
      const parent = await parentOr404(request);
      const key = childKey(request, parent.id);
      const data = { ...input(request), [field]: { id: parent.id } };
      // Another parent's entity is not reachable through this URL, not even to replace it.
      const existing = await reads.find(request, kind, key, { includeExpired: true });
      if (existing && foreignId(existing as AnyEntity, field) !== parent.id) throw HttpError.notFound();
      if (!('within' in key)) return sendWritten(ops, kind, reply, 200, await ops.replace(kind, key, data));
      // A nested endpoint key (an ACL group): the URL names the field unless the body does.
      const named = { [key.field]: key.value, ...data };
      const written = existing ? await ops.replace(kind, { id: existing.id }, named) : await ops.create(kind, named);
      return sendWritten(ops, kind, reply, 200, written);
    },
    PATCH: async (request, reply) => {
      const parent = await parentOr404(request);
      const child = await childOr404(request, parent.id);
      const data = entityInput(request, def.schema, child);
      const written = await ops.update(kind, { id: child.id }, Object.hasOwn(data, field) ? data : { ...data, [field]: { id: parent.id } });
      return sendWritten(ops, kind, reply, 200, written);
    },
    DELETE: async (request, reply) => {
      const child = await childOr404(request, (await parentOr404(request)).id);
      const written = await ops.delete(kind, { id: child.id });
      return sendWrite(reply, 204, written, null, { kind, id: child.id });
    },
  });
}
