/**
 * The route entity: its fields, defaults and checks (`kong/db/schema/entities/routes.lua` and the
 * `http` subschema of `routes_subschemas.lua`); its definition (codec, `prepareRoute`) is
 * `kinds/routes.ts`.
 *
 * Sluice proxies HTTP only: a route's protocols must be `http` and/or `https`. Kong's other route
 * protocols are refused with a schema violation that says so.
 */
import { type FieldErrors, addEntityError } from './field-errors.js';
import { type EntitySchema, isNonEmpty } from './field-spec.js';
import {
  validateHeaderName,
  validateHttpMethod,
  validateRouteHost,
  validateRouterPath,
  validateWildcardHost,
} from './field-validators.js';
import type { EntityHooks } from './prepare-entity.js';
import { NAME_FIELD, TAGS_FIELD } from './service-schema.js';
import { HTTPS_REDIRECT_STATUS_CODES, SERVICE_PROTOCOLS, SUPPORTED_ROUTE_PROTOCOLS } from './types.js';

const HEADER_HOST_MESSAGE = "cannot contain 'host' header, which must be specified in the 'hosts' attribute";

/**
 * A route header name. Kong accepts `__proto__` (it is a token), but a JavaScript object cannot
 * carry it through an assignment, so it would vanish on the way to the data plane and the route
 * would match without that condition: Sluice refuses it.
 */
function checkRouteHeaderName(name: string): string | null {
  if (/^host$/i.test(name)) return HEADER_HOST_MESSAGE;
  if (name === '__proto__') return "'__proto__' is not supported by Sluice as a header name";
  return validateHeaderName(name);
}

/** The route schema in Kong's field order (traditional_compatible router, http subschema). */
export const ROUTE_SCHEMA: EntitySchema = {
  name: 'routes',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    name: NAME_FIELD,
    protocols: {
      type: 'set',
      required: true,
      lenMin: 1,
      default: ['http', 'https'],
      elements: { type: 'string', check: checkRouteProtocol },
    },
    https_redirect_status_code: { type: 'integer', required: true, default: 426, oneOf: HTTPS_REDIRECT_STATUS_CODES },
    strip_path: { type: 'boolean', required: true, default: true },
    preserve_host: { type: 'boolean', required: true, default: false },
    request_buffering: { type: 'boolean', required: true, default: true },
    response_buffering: { type: 'boolean', required: true, default: true },
    tags: TAGS_FIELD,
    service: { type: 'foreign', reference: 'services' },
    snis: { type: 'set', elements: { type: 'string', check: validateWildcardHost } },
    sources: { type: 'set', elements: { type: 'string' }, mustBeNull: "cannot set 'sources' when 'protocols' is 'http' or 'https'" },
    destinations: {
      type: 'set',
      elements: { type: 'string' },
      mustBeNull: "cannot set 'destinations' when 'protocols' is 'http' or 'https'",
    },
    methods: { type: 'set', elements: { type: 'string', check: validateHttpMethod } },
    hosts: { type: 'array', elements: { type: 'string', check: validateRouteHost } },
    paths: { type: 'array', elements: { type: 'string', check: validateRouterPath } },
    headers: {
      type: 'map',
      keys: { type: 'string', check: checkRouteHeaderName },
      values: { type: 'array', elements: { type: 'string' } },
    },
    regex_priority: { type: 'integer', default: 0, nullMeansDefault: true },
    path_handling: { type: 'string', default: 'v0', nullMeansDefault: true, oneOf: ['v0', 'v1'] },
  },
  shorthands: {},
  describedChecks: [
    {
      conditional_at_least_one_of: {
        if_field: 'protocols',
        if_match: { contains: 'https' },
        then_at_least_one_of: ['methods', 'hosts', 'headers', 'paths', 'snis'],
        then_err: "must set one of %s when 'protocols' is 'https'",
        else_match: { contains: 'http' },
        else_then_at_least_one_of: ['methods', 'hosts', 'headers', 'paths'],
        else_then_err: "must set one of %s when 'protocols' is 'http'",
      },
    },
  ],
};

/** A route protocol: one of Kong's protocols, and one Sluice can proxy. */
function checkRouteProtocol(protocol: string): string | null {
  if (!(SERVICE_PROTOCOLS as readonly string[]).includes(protocol)) return `expected one of: ${SERVICE_PROTOCOLS.join(', ')}`;
  if (!(SUPPORTED_ROUTE_PROTOCOLS as readonly string[]).includes(protocol)) {
    return `'${protocol}' is not supported by Sluice (supported route protocols: ${SUPPORTED_ROUTE_PROTOCOLS.join(', ')})`;
  }
  return null;
}

/** Kong resolves the subschema from `protocols` first, and stops when it cannot. */
function routePrecheck(data: Record<string, unknown>): FieldErrors | null {
  const protocols = data.protocols;
  if (protocols === null || protocols === undefined) return { protocols: 'required field missing' };
  if (Array.isArray(protocols) && protocols.length > 0 && protocols.every((p) => typeof p === 'string')) {
    const known = protocols.some((p) => (SERVICE_PROTOCOLS as readonly string[]).includes(p as string));
    if (!known) return { protocols: `unknown type: ${String(protocols[0])}` };
  }
  return null;
}

const HTTPS_MATCH_FIELDS = ['methods', 'hosts', 'headers', 'paths', 'snis'] as const;
const HTTP_MATCH_FIELDS = ['methods', 'hosts', 'headers', 'paths'] as const;
const SNI_PROTOCOLS: readonly string[] = ['grpcs', 'https', 'tls', 'tls_passthrough'];

function quoted(fields: readonly string[]): string {
  return fields.map((f) => `'${f}'`).join(', ');
}

function routeChecks(data: Record<string, unknown>, errors: FieldErrors): void {
  const protocols = Array.isArray(data.protocols) ? (data.protocols as unknown[]) : null;
  if (protocols === null || errors.protocols !== undefined) return;

  if (!protocols.some((p) => SNI_PROTOCOLS.includes(p as string)) && Array.isArray(data.snis) && data.snis.length > 0) {
    errors.snis = 'length must be 0';
    addEntityError(errors, "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'");
  }

  const https = protocols.includes('https');
  const fields = https ? HTTPS_MATCH_FIELDS : protocols.includes('http') ? HTTP_MATCH_FIELDS : null;
  if (fields === null || fields.some((f) => errors[f] !== undefined)) return;
  if (!fields.some((f) => isNonEmpty(data[f]))) {
    addEntityError(errors, `must set one of ${quoted(fields)} when 'protocols' is '${https ? 'https' : 'http'}'`);
  }
}

/** The route's steps of the write pipeline: Kong's subschema precheck, then its entity checks. */
export const ROUTE_HOOKS: EntityHooks = { precheck: routePrecheck, entityChecks: routeChecks };
