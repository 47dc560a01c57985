import type { PluginContext } from './plugin-context.js';

/**
 * One configured plugin instance on the request path: an object with a method per phase it acts
 * in (Kong's handler shape; phase names as in {@link PHASES}). The config layer builds it once per
 * applied config, with its settings bound, and compiles it into chains; per request the proxy only
 * calls it. A handler keeps no per-request state of its own (use the context).
 *
 * `rewrite` and `access` may return a promise (a slow hash, a Redis round trip): the chain awaits
 * it before the next handler, and a chain of handlers that all return synchronously costs no
 * promise. `header_filter` and `body_filter` are synchronous (the response is being written).
 * `log` runs after the response; a promise it returns is not awaited (a rejection is logged).
 * A handler that throws (or rejects) fails the request closed: 500 with Kong's body, never forwarded.
 */
export interface PluginHandler {
  /** The plugin's name (`key-auth`), for logs and for ordering equal priorities. */
  readonly name: string;
  /** Kong's PRIORITY: higher runs first (see {@link compilePluginChain}). */
  readonly priority: number;
  rewrite?(ctx: PluginContext): void | PromiseLike<void>;
  access?(ctx: PluginContext): void | PromiseLike<void>;
  header_filter?(ctx: PluginContext): void;
  /**
   * Returns what to send in place of `chunk` (the same buffer to pass it on, an empty one to hold
   * it back); `isLast` on the final call, whose chunk may be empty. A handler that changes the
   * body's length clears `Content-Length` in its header_filter, as Kong's plugins do.
   */
  body_filter?(ctx: PluginContext, chunk: Buffer, isLast: boolean): Buffer;
  log?(ctx: PluginContext): void | PromiseLike<void>;
}
