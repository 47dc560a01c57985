/**
 * basic-auth's config schema (`kong/plugins/basic-auth/schema.lua`, Kong 3.10). Never scoped to
 * a consumer.
 */
import { NO_CONSUMER_FIELD, PROTOCOLS_HTTP_FIELD, type PluginSchema } from '../plugin-schema.js';

/** A complete basic-auth config, as the control plane sends it (every default applied). */
export interface BasicAuthConfig {
  /** Consumer id or username used when authentication fails; null = refuse. */
  anonymous: string | null;
  hide_credentials: boolean;
  realm: string;
}

/** basic-auth's schema. */
export const BASIC_AUTH_SCHEMA: PluginSchema = {
  name: 'basic-auth',
  fields: {
    consumer: NO_CONSUMER_FIELD,
    protocols: PROTOCOLS_HTTP_FIELD,
    config: {
      type: 'record',
      required: true,
      fields: {
        anonymous: { type: 'string', description: 'Consumer (id or username) to use when authentication fails; unset = answer 401.' },
        hide_credentials: { type: 'boolean', required: true, default: false, description: 'Remove the Authorization header before proxying.' },
        realm: { type: 'string', required: true, default: 'service', description: 'The realm of the WWW-Authenticate header of a 401.' },
      },
    },
  },
  entityChecks: [],
};
