/**
 * A plugin's schema (Kong's plugin `schema.lua`, a subschema of the `plugins` entity): the plugin
 * entity's fields it overrides (`consumer` when it may not be scoped to a consumer, `protocols`,
 * and the `config` record with the plugin's own fields), and its entity checks, whose paths start
 * at the plugin entity (`config.second`). The field specs it uses that Kong spells as typedefs
 * (`typedefs.protocols_http`, `typedefs.no_consumer`, `typedefs.header_name`, …) are here too.
 */
import type { EntityCheck } from '../entities/entity-checks.js';
import type { FieldSpec, ForeignFieldSpec, IntegerFieldSpec, ListFieldSpec, RecordFieldSpec, StringFieldSpec } from '../entities/field-spec.js';
import { parseHost, validateHeaderName, validateHost, validateServicePath } from '../entities/field-validators.js';

/** One plugin's schema; see the module comment. */
export interface PluginSchema {
  readonly name: string;
  /** The plugin entity fields it overrides, in Kong's order; `config` is always one. */
  readonly fields: Readonly<{ config: RecordFieldSpec } & Record<string, FieldSpec>>;
  readonly entityChecks: readonly EntityCheck[];
}

/** The HTTP subsystem's protocols, sorted (Kong's `http_protocols`). */
export const HTTP_PROTOCOLS = ['grpc', 'grpcs', 'http', 'https'] as const;

/** Kong's `typedefs.protocols_http`: a plugin that runs on HTTP requests only. */
export const PROTOCOLS_HTTP_FIELD: ListFieldSpec = {
  type: 'set',
  required: true,
  default: [...HTTP_PROTOCOLS],
  elements: { type: 'string', oneOf: HTTP_PROTOCOLS },
  description: 'The protocols the plugin runs on (HTTP subsystem only).',
};

/** Kong's `typedefs.no_consumer`: the plugin may not be scoped to a consumer (`value must be null`). */
export const NO_CONSUMER_FIELD: ForeignFieldSpec = {
  type: 'foreign',
  reference: 'consumers',
  mustBeNull: 'value must be null',
  description: 'Must stay null: this plugin cannot be scoped to a consumer.',
};

/** Kong's `typedefs.header_name`. */
export const HEADER_NAME_FIELD: StringFieldSpec = { type: 'string', check: validateHeaderName, description: 'An HTTP header name.' };

/** Kong's `typedefs.host`: a host name or IP address, without a port. */
export const HOST_FIELD: StringFieldSpec = { type: 'string', check: validateHost, description: 'A host name or IP address, without a port.' };

/** Kong's `typedefs.port`. */
export const PORT_FIELD: IntegerFieldSpec = { type: 'integer', between: [0, 65535], description: 'A TCP port, 0..65535.' };

/** Kong's `typedefs.timeout`: milliseconds, 0..2^31-2. */
export const TIMEOUT_FIELD_MS: IntegerFieldSpec = { type: 'integer', between: [0, 2 ** 31 - 2], description: 'A timeout in milliseconds, 0..2^31-2.' };

/** Kong's `typedefs.path`: starts with `/`, no empty segment, RFC 3986 characters only. */
export const PATH_FIELD: StringFieldSpec = {
  type: 'string',
  startsWith: '/',
  matchNone: [{ pattern: /\/\//, err: 'must not have empty segments' }],
  check: validateServicePath,
  description: 'A URL path starting with /.',
};

/** Kong's `validate_sni`: a host name (not an IP), without a port. */
function validateSni(host: string): string | null {
  const parsed = parseHost(host);
  if (typeof parsed === 'string') return parsed === 'invalid port number' ? 'must not have a port' : `invalid value: ${host}`;
  if (parsed.type !== 'name') return 'must not be an IP';
  if (parsed.port !== null) return 'must not have a port';
  return null;
}

/** Kong's `typedefs.sni`. */
export const SNI_FIELD: StringFieldSpec = { type: 'string', check: validateSni, description: 'A TLS server name (SNI): a host name, not an IP.' };
