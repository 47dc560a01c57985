import type { PluginContext } from '../plugin-context.js';
import type { RateLimitingConfig } from './rate-limiting-config.js';

/**
 * The credential an authentication handler attached to the request (`ctx.credential`, issue 11's
 * dp-auth work), read structurally so this plugin does not depend on which handler set it.
 */
interface CredentialCarrier {
  readonly credential?: { readonly id: string } | null;
}

/**
 * What a request is counted against (Kong's `get_identifier`, `kong/plugins/rate-limiting/handler.lua`):
 * - `consumer`: the consumer's id, else the credential's id, else the client IP;
 * - `credential`: the credential's id, else the IP;
 * - `service`: the matched service's id, else the IP;
 * - `header`: the first value of `header_name`, else the IP;
 * - `path`: the request path when it equals `config.path` exactly; any other path is counted per IP;
 * - `ip`: the client IP (the TCP peer).
 */
export function rateLimitIdentifier(ctx: PluginContext, config: Pick<RateLimitingConfig, 'limit_by' | 'header_name' | 'path'>): string {
  let identifier: string | undefined;
  switch (config.limit_by) {
    case 'consumer':
      identifier = ctx.consumer?.id ?? (ctx as PluginContext & CredentialCarrier).credential?.id;
      break;
    case 'credential':
      identifier = (ctx as PluginContext & CredentialCarrier).credential?.id;
      break;
    case 'service':
      identifier = ctx.service?.id;
      break;
    case 'header':
      identifier = config.header_name === null ? undefined : ctx.request.get(config.header_name);
      break;
    case 'path':
      identifier = ctx.path === config.path ? ctx.path : undefined;
      break;
    case 'ip':
      break;
  }
  return identifier || ctx.clientIp;
}
