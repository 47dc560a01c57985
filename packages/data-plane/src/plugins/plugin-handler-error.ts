import { DataPlaneError, DataPlaneErrorCode } from '../errors.js';
import type { Phase } from './phases.js';

/**
 * A plugin handler threw (or its promise rejected). In rewrite, access and header_filter the
 * request fails closed: 500 with Kong's body, never forwarded; in body_filter the connection is cut;
 * in log the error is logged and the next handler runs. `cause` is what the handler threw.
 */
export class PluginHandlerError extends DataPlaneError {
  override readonly name = 'PluginHandlerError';

  constructor(
    /** The failing handler's plugin name. */
    readonly plugin: string,
    readonly phase: Phase,
    cause: unknown,
  ) {
    super(DataPlaneErrorCode.PLUGIN_FAILED, `plugin ${plugin} failed in ${phase}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
