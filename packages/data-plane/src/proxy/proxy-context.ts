import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { AccessLogSink } from './access-log.js';
import type { InjectedHeaders } from './injected-headers.js';
import type { ResolvedProxyServerOptions } from './proxy-server-options.js';
import type { RequestIdGenerator } from './request-id.js';
import type { TrafficStats } from './traffic-stats.js';
import type { TrustedIps } from './trusted-ips.js';
import type { OriginPools } from './origin-pools.js';

/** What a `ProxyExchange` needs from its server (a role interface, so exchanges stay testable). */
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
  /** Where each exchange's response (status, latencies) is counted when it ends. */
  readonly traffic: TrafficStats;
  /** Where each exchange writes its access-log line when it ends; null: no access log. */
  readonly accessLog: AccessLogSink | null;
  /** Called once per exchange when its response closes. */
  onExchangeEnd(): void;
  /** Writes a generated JSON response `{message, request_id}` with Kong's headers; returns its body's bytes. */
  respond(res: ServerResponse, requestId: string, startMs: number, status: number, message: string, extraHeaders?: readonly string[]): number;
}
