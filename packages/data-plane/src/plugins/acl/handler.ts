import { PLUGIN_DESCRIPTORS, type Plugin } from '@sluice/protocol';
import { CONSUMER_HEADERS } from '../consumer-headers.js';
import type { PluginContext } from '../plugin-context.js';
import type { PluginEnv, PluginFactory } from '../plugin-factory.js';
import type { PluginHandler } from '../plugin-handler.js';

/** acl's config (`kong/plugins/acl/schema.lua`), complete as the control plane sends it. */
export interface AclConfig {
  readonly allow: readonly string[] | null;
  readonly deny: readonly string[] | null;
  /** Whether `X-Consumer-Groups` is left out of the upstream request (default false). */
  readonly hide_groups_header: boolean;
  /**
   * Kong uses groups set by an external authentication plugin (`authenticated_groups`) with it;
   * no Sluice plugin sets such groups, so it changes nothing here.
   */
  readonly always_use_authenticated_groups: boolean;
}

function groupList(config: Record<string, unknown>, name: string): readonly string[] | null {
  const value = config[name] ?? null;
  if (value === null) return null;
  if (!Array.isArray(value) || !value.every((g) => typeof g === 'string')) throw new TypeError(`config.${name}: expected an array of strings`);
  return Object.freeze([...(value as string[])]);
}

/** Reads a plugin entity's config as acl's. @throws TypeError for a field of the wrong type, or neither allow nor deny. */
export function aclConfig(config: Record<string, unknown>): AclConfig {
  const allow = groupList(config, 'allow');
  const deny = groupList(config, 'deny');
  if ((allow === null || allow.length === 0) && (deny === null || deny.length === 0)) throw new TypeError("at least one of these fields must be non-empty: 'config.allow', 'config.deny'");
  const hide = config.hide_groups_header ?? false;
  const always = config.always_use_authenticated_groups ?? false;
  if (typeof hide !== 'boolean') throw new TypeError('config.hide_groups_header: expected a boolean');
  if (typeof always !== 'boolean') throw new TypeError('config.always_use_authenticated_groups: expected a boolean');
  return Object.freeze({ allow, deny, hide_groups_header: hide, always_use_authenticated_groups: always });
}

/** Kong's message for a blocked consumer. */
export const ACL_BLOCKED_MESSAGE = 'You cannot consume this service';

/**
 * Kong's acl (PRIORITY 950, access): lets through the consumer an auth plugin set when one of its
 * groups is in `allow` (or none is in `deny`, when `deny` is given: Kong's DENY mode wins), else
 * 403 `You cannot consume this service`. Without a consumer: 403 when a credential is set, else
 * 401 `Unauthorized`; a consumer without groups is treated the same under allow, and let through
 * under deny. A consumer let through gets all its groups, joined with `", "` in creation order,
 * in `X-Consumer-Groups` (unless `hide_groups_header`; Sluice then clears a client-sent one, where
 * Kong would pass it on).
 */
export class AclHandler implements PluginHandler {
  readonly name = 'acl';
  readonly priority: number;
  readonly config: AclConfig;
  private readonly isDeny: boolean;
  private readonly groups: ReadonlySet<string>;

  constructor(config: AclConfig, priority: number = ACL_PRIORITY) {
    this.config = config;
    this.priority = priority;
    this.isDeny = config.deny !== null && config.deny.length > 0;
    this.groups = new Set(this.isDeny ? config.deny : (config.allow ?? []));
  }

  access(ctx: PluginContext): void {
    const consumer = ctx.consumer;
    if (consumer === null) return this.refuseUnknown(ctx);
    const groups = ctx.consumers.groupsOf(consumer.id);
    if (groups.length === 0 && !this.isDeny) return this.refuseUnknown(ctx);
    let isInGroup = false;
    for (let i = 0; i < groups.length && !isInGroup; i++) isInGroup = this.groups.has(groups[i]!);
    if (isInGroup === this.isDeny) return ctx.answer(403, ACL_BLOCKED_MESSAGE);
    if (this.config.hide_groups_header || groups.length === 0) ctx.request.clear(CONSUMER_HEADERS.consumerGroups);
    else ctx.request.set(CONSUMER_HEADERS.consumerGroups, groups.join(', '));
  }

  /** No consumer (or, under allow, one without groups): 403 when a credential is set, else 401. */
  private refuseUnknown(ctx: PluginContext): void {
    if (ctx.credential !== null) return ctx.answer(403, ACL_BLOCKED_MESSAGE);
    ctx.answer(401, 'Unauthorized');
  }
}

/** Kong's acl PRIORITY (950). */
export const ACL_PRIORITY = PLUGIN_DESCRIPTORS.get('acl')?.priority ?? 950;

/** Makes acl handlers from `plugins` entities. */
export const ACL_FACTORY: PluginFactory = {
  name: 'acl',
  priority: ACL_PRIORITY,
  create: (plugin: Plugin, _env: PluginEnv) => new AclHandler(aclConfig(plugin.config)),
};
