/**
 * acl's config schema (`kong/plugins/acl/schema.lua`, Kong 3.10): allow or deny lists of group
 * names (exactly one of the two). Never scoped to a consumer.
 */
import { NO_CONSUMER_FIELD, PROTOCOLS_HTTP_FIELD, type PluginSchema } from '../plugin-schema.js';

/** A complete acl config, as the control plane sends it (every default applied). */
export interface AclConfig {
  allow: string[] | null;
  deny: string[] | null;
  hide_groups_header: boolean;
  always_use_authenticated_groups: boolean;
}

/** acl's schema. */
export const ACL_PLUGIN_SCHEMA: PluginSchema = {
  name: 'acl',
  fields: {
    consumer: NO_CONSUMER_FIELD,
    protocols: PROTOCOLS_HTTP_FIELD,
    config: {
      type: 'record',
      required: true,
      fields: {
        allow: { type: 'array', elements: { type: 'string' }, description: 'Groups allowed through (set allow or deny, not both).' },
        deny: { type: 'array', elements: { type: 'string' }, description: 'Groups refused (set allow or deny, not both).' },
        hide_groups_header: { type: 'boolean', required: true, default: false, description: 'Do not send X-Consumer-Groups upstream.' },
        always_use_authenticated_groups: {
          type: 'boolean',
          required: true,
          default: false,
          description: 'Use groups set by another authentication plugin even when a consumer is authenticated.',
        },
      },
    },
  },
  entityChecks: [{ only_one_of: ['config.allow', 'config.deny'] }, { at_least_one_of: ['config.allow', 'config.deny'] }],
};
