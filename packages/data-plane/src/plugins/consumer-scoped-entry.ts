import type { PluginContext } from './plugin-context.js';
import type { PluginHandler } from './plugin-handler.js';

/**
 * One plugin of a chain that has consumer-scoped instances (Kong's lookup with the authenticated
 * consumer): it stands in the chain at its plugin's place and, when the access phase reaches it,
 * picks the instance for the request's consumer at that moment, so only an auth plugin of higher
 * priority can have set it (Kong's lazy `lookup_cfg`). The pick is a Map lookup or two:
 * `specific` (consumer+route+service, consumer+route, consumer+service, precomputed best per
 * consumer), then `consumerOnly` (consumer-only instances, shared by every chain; absent when a
 * route+service instance outranks them), then `base` (the instance without consumer, or none).
 * The later phases use the instance picked (or, after a short-circuit before it, pick then: the
 * consumer cannot change after access).
 */
export class ConsumerScopedEntry implements PluginHandler {
  readonly name: string;
  readonly priority: number;
  /** The picks of requests whose later phases still need them (only when an instance acts after access). */
  private readonly picks = new WeakMap<PluginContext, PluginHandler | null>();

  constructor(
    name: string,
    priority: number,
    readonly base: PluginHandler | null,
    readonly specific: ReadonlyMap<string, PluginHandler> | null,
    readonly consumerOnly: ReadonlyMap<string, PluginHandler> | null,
    /** Whether any instance acts after access (the pick must then be kept for the request). */
    private readonly isKept: boolean,
  ) {
    this.name = name;
    this.priority = priority;
  }

  /** The instance for `consumerId` (null: the request has no consumer). */
  instanceFor(consumerId: string | null): PluginHandler | null {
    if (consumerId !== null) {
      const found = this.specific?.get(consumerId) ?? this.consumerOnly?.get(consumerId);
      if (found !== undefined) return found;
    }
    return this.base;
  }

  private pick(ctx: PluginContext): PluginHandler | null {
    if (!this.isKept) return this.instanceFor(ctx.consumer?.id ?? null);
    let chosen = this.picks.get(ctx);
    if (chosen === undefined) {
      chosen = this.instanceFor(ctx.consumer?.id ?? null);
      this.picks.set(ctx, chosen);
    }
    return chosen;
  }

  access(ctx: PluginContext): void | PromiseLike<void> {
    const chosen = this.pick(ctx);
    return chosen?.access?.(ctx);
  }

  header_filter(ctx: PluginContext): void {
    this.pick(ctx)?.header_filter?.(ctx);
  }

  body_filter(ctx: PluginContext, chunk: Buffer, isLast: boolean): Buffer {
    const chosen = this.pick(ctx);
    return chosen?.body_filter === undefined ? chunk : chosen.body_filter(ctx, chunk, isLast);
  }

  log(ctx: PluginContext): void | PromiseLike<void> {
    return this.pick(ctx)?.log?.(ctx);
  }
}
