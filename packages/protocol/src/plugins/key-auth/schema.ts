/**
 * key-auth's config schema (`kong/plugins/key-auth/schema.lua`, Kong 3.10): where to look for
 * the key, whether to hide it from the upstream, and the anonymous fallback. Never scoped to a
 * consumer.
 */
import { HEADER_NAME_FIELD, NO_CONSUMER_FIELD, PROTOCOLS_HTTP_FIELD, type PluginSchema } from '../plugin-schema.js';

/** A complete key-auth config, as the control plane sends it (every default applied). */
export interface KeyAuthConfig {
  /** Header, query and body parameter names the key is looked for under, in order. */
  key_names: string[];
  hide_credentials: boolean;
  /** Consumer id or username used when authentication fails; null = refuse. */
  anonymous: string | null;
  key_in_header: boolean;
  key_in_query: boolean;
  key_in_body: boolean;
  run_on_preflight: boolean;
  realm: string | null;
}

/** key-auth's schema. */
export const KEY_AUTH_SCHEMA: PluginSchema = {
  name: 'key-auth',
  fields: {
    consumer: NO_CONSUMER_FIELD,
    protocols: PROTOCOLS_HTTP_FIELD,
    config: {
      type: 'record',
      required: true,
      fields: {
        key_names: {
          type: 'array',
          required: true,
          elements: HEADER_NAME_FIELD,
          default: ['apikey'],
          description: 'Names the key is looked for under (headers, query, body), in order.',
        },
        hide_credentials: { type: 'boolean', required: true, default: false, description: 'Remove the key from the request before proxying it.' },
        anonymous: { type: 'string', description: 'Consumer (id or username) to use when authentication fails; unset = answer 401.' },
        key_in_header: { type: 'boolean', required: true, default: true, description: 'Look for the key in request headers.' },
        key_in_query: { type: 'boolean', required: true, default: true, description: 'Look for the key in the query string.' },
        key_in_body: { type: 'boolean', required: true, default: false, description: 'Look for the key in the request body (form, JSON, multipart).' },
        run_on_preflight: { type: 'boolean', required: true, default: true, description: 'Authenticate CORS preflight (OPTIONS) requests too.' },
        realm: { type: 'string', required: false, description: 'The realm of the WWW-Authenticate header of a 401.' },
      },
    },
  },
  entityChecks: [],
};
