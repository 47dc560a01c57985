/**
 * Schemas in Kong's JSON format (`kong/api/routes/kong.lua`), for every kind of the registry and
 * every plugin of the catalog; the Admin API's forms are generated from them:
 *
 * | path | answer |
 * |---|---|
 * | `GET /schemas/{kind}` | the kind's schema, or 404 `No entity named 'x'` |
 * | `GET /schemas/plugins/{name}` | the plugin's subschema, or 404 `No plugin named 'x'` |
 * | `POST /schemas/{kind}/validate`, `POST /schemas/plugins/validate` | 200 `schema validation successful`, or the 400 schema-violation body |
 *
 * Validation is the write pipeline without the database (no foreign key, uniqueness or protocol
 * check), as in Kong.
 */
import { randomUUID } from 'node:crypto';
import { ENTITIES, type EntityDefinition, type AnyEntity, entitySchemaToJson, isEntityKind, pluginSchemaToJson } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError, KongDaoError } from '../errors.js';
import { registerEndpoint } from './endpoint.js';
import { inferFormArguments } from './form-arguments.js';
import { bodyOf } from './request-body.js';

function nameParam(request: FastifyRequest): string {
  return (request.params as Record<string, string>).name ?? '';
}

/** Kong's 404 for a plugin name the catalog does not have. */
export function noPluginNamed(name: string): never {
  throw new HttpError('SLUICE_CP_NOT_FOUND', `No plugin named '${name}'`);
}

function noEntityNamed(name: string): never {
  throw new HttpError('SLUICE_CP_NOT_FOUND', `No entity named '${name}'`);
}

function definitionOr404(name: string): EntityDefinition<AnyEntity> {
  return isEntityKind(name) ? (ENTITIES[name] as EntityDefinition<AnyEntity>) : noEntityNamed(name);
}

/** Validates the request body as a new entity of `def`; throws the schema violation. */
function validate(request: FastifyRequest, def: EntityDefinition<AnyEntity>): { message: string } {
  const body = bodyOf(request.body);
  if (body.kind === 'text') throw HttpError.unsupportedMediaType();
  const input = body.kind === 'json' ? body.value : inferFormArguments(body.args, def.schema);
  const result = def.prepare(input, { mode: 'create', now: Math.floor(Date.now() / 1000), newId: randomUUID() });
  if (!result.ok) throw KongDaoError.schemaViolation(result.errors);
  return { message: 'schema validation successful' };
}

/** Registers the schema endpoints; see the module comment. */
export function registerSchemaEndpoints(app: FastifyInstance): void {
  registerEndpoint(app, '/schemas/:name', {
    GET: async (request) => {
      const def = definitionOr404(nameParam(request));
      return entitySchemaToJson(def.schema, def.uniqueFields);
    },
  });
  registerEndpoint(app, '/schemas/plugins/:name', {
    GET: async (request) => pluginSchemaToJson(nameParam(request)) ?? noPluginNamed(nameParam(request)),
  });
  registerEndpoint(app, '/schemas/:name/validate', {
    POST: async (request) => validate(request, definitionOr404(nameParam(request))),
  });
  registerEndpoint(app, '/schemas/plugins/validate', {
    POST: async (request) => validate(request, ENTITIES.plugins as EntityDefinition<AnyEntity>),
  });
}
