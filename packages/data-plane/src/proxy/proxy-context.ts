import type { Logger } from '../logger.js';
import type { PluginChain } from '../plugins/plugin-chain.js';
import type { PluginContext } from '../plugins/plugin-context.js';
import type { PluginHandlerError } from '../plugins/plugin-handler-error.js';
import type { InjectedHeaders } from './injected-headers.js';
import type { OriginPools } from './origin-pools.js';
import type { ResolvedProxyServerOptions } from './proxy-server-options.js';
import type { RequestIdGenerator } from './request-id.js';
import type { TrustedIps } from './trusted-ips.js';

/** What an exchange needs from its server (a role interface, so exchanges stay testable). */
export interface ProxyContext {
  readonly options: ResolvedProxyServerOptions;
  readonly logger: Logger;
  readonly pools: OriginPools;
  readonly requestIds: RequestIdGenerator;
  readonly trustedIps: TrustedIps;
  /** The port the proxy listens on (X-Forwarded-Port, and route hosts with a port). */
  readonly listenerPort: number;
  readonly listenerPortText: string;
  /** `1.1 sluice/<version>`. */
  readonly viaToken: string;
  /** `sluice/<version>`. */
  readonly serverToken: string;
  /** Which of its own headers the proxy adds (options `headers`, `headersUpstream`). */
  readonly injected: InjectedHeaders;
  /**
   * The chain of an exchange until its route's is chosen, and of a request no plugin applies to:
   * the proxy's process-wide handlers only (traffic statistics, the access log, in the log phase).
   */
  readonly baseChain: PluginChain;
  /** Logs a log-phase handler's failure (the response is already sent: nothing else to do). */
  reportLogError(err: PluginHandlerError, context: PluginContext): void;
  /** Called once per exchange when its response closes, after its log phase. */
  onExchangeEnd(): void;
}
