/**
 * The service entity's fields, defaults and checks (`kong/db/schema/entities/services.lua`); its
 * definition (codec, `prepareService`) is `kinds/services.ts`.
 */
import { type FieldErrors, addEntityError } from './field-errors.js';
import type { EntitySchema, FieldSpec } from './field-spec.js';
import { validateHost, validateServicePath, validateTag, validateUtf8Name } from './field-validators.js';
import type { EntityHooks } from './prepare-entity.js';
import { expandServiceUrl } from './service-url.js';
import { SERVICE_PROTOCOLS } from './types.js';

/** Service timeouts: milliseconds, 1..2^31-2 (`value should be between 1 and 2147483646`). */
export const SERVICE_TIMEOUT_RANGE_MS = [1, 2 ** 31 - 2] as const;

/** Default service timeouts in milliseconds (connect, write and read). */
export const DEFAULT_SERVICE_TIMEOUT_MS = 60_000;

const timeout: FieldSpec = { type: 'integer', default: DEFAULT_SERVICE_TIMEOUT_MS, nullMeansDefault: true, between: SERVICE_TIMEOUT_RANGE_MS };

/** The `tags` field shared by all entities. */
export const TAGS_FIELD: FieldSpec = { type: 'set', elements: { type: 'string', check: validateTag } };

/** The `name` field shared by services and routes (Kong's `utf8_name`). */
export const NAME_FIELD: FieldSpec = { type: 'string', check: validateUtf8Name };

const PATHLESS_PROTOCOLS: readonly string[] = ['tcp', 'tls', 'udp', 'grpc', 'grpcs'];
const TLS_PROTOCOLS: readonly string[] = ['https', 'tls'];
const TLS_ONLY_FIELDS = ['client_certificate', 'tls_verify', 'tls_verify_depth', 'ca_certificates'] as const;

/** The service schema in Kong's field order. */
export const SERVICE_SCHEMA: EntitySchema = {
  name: 'services',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    name: NAME_FIELD,
    retries: { type: 'integer', default: 5, nullMeansDefault: true, between: [0, 32767] },
    protocol: { type: 'string', required: true, default: 'http', oneOf: SERVICE_PROTOCOLS },
    host: { type: 'string', required: true, check: validateHost },
    port: { type: 'integer', required: true, default: 80, between: [0, 65535] },
    path: { type: 'string', check: validateServicePath },
    connect_timeout: timeout,
    write_timeout: timeout,
    read_timeout: timeout,
    tags: TAGS_FIELD,
    client_certificate: { type: 'foreign', reference: 'certificates' },
    tls_verify: { type: 'boolean' },
    tls_verify_depth: { type: 'integer', between: [0, 64] },
    ca_certificates: { type: 'array', elements: { type: 'string', uuid: true } },
    enabled: { type: 'boolean', required: true, default: true },
  },
  shorthands: { url: { type: 'string' } },
  describedChecks: [
    { conditional: { if_field: 'protocol', if_match: { one_of: PATHLESS_PROTOCOLS }, then_field: 'path', then_match: { eq: null } } },
    ...TLS_ONLY_FIELDS.map((field) => ({
      conditional: { if_field: 'protocol', if_match: { not_one_of: TLS_PROTOCOLS }, then_field: field, then_match: { eq: null } },
    })),
  ],
};

function conditionalNull(data: Record<string, unknown>, errors: FieldErrors, field: string): void {
  if (data[field] === null || data[field] === undefined) return;
  errors[field] = 'value must be null';
  addEntityError(errors, "failed conditional validation given value of field 'protocol'");
}

function serviceChecks(data: Record<string, unknown>, errors: FieldErrors): void {
  const protocol = data.protocol;
  if (typeof protocol !== 'string' || errors.protocol !== undefined) return;
  if (PATHLESS_PROTOCOLS.includes(protocol)) conditionalNull(data, errors, 'path');
  if (!TLS_PROTOCOLS.includes(protocol)) for (const field of TLS_ONLY_FIELDS) conditionalNull(data, errors, field);
}

function expandUrl(data: Record<string, unknown>): void {
  if (typeof data.url !== 'string') return;
  Object.assign(data, expandServiceUrl(data.url));
}

/** The service's steps of the write pipeline: `url` expanded first, then Kong's conditional checks. */
export const SERVICE_HOOKS: EntityHooks = { expandShorthands: expandUrl, entityChecks: serviceChecks };
