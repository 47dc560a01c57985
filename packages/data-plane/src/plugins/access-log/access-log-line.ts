import type { Route, Service } from '@sluice/protocol';

/** An exchange's facts at its end, as the access log reports them. Times are `performance.now()` ms. */
export interface AccessLogFacts {
  readonly requestId: string;
  readonly startMs: number;
  /** Upstream request dispatched (the last attempt's); -1 if never. */
  readonly dispatchMs: number;
  /** Upstream response head arrived; -1 if none. */
  readonly upstreamHeadMs: number;
  readonly endMs: number;
  readonly clientIp: string;
  readonly method: string;
  /** The request target as received (absolute-form included), query included. */
  readonly uri: string;
  readonly host: string | undefined;
  readonly status: number;
  /** Response body bytes handed to the client's socket; null when not counted (upgrades). */
  readonly bodyBytesSent: number | null;
  readonly route: Route | null;
  readonly service: Service | null;
  /** `host:port` the request was sent to (the service's); null when it was not sent upstream. */
  readonly upstream: string | null;
  readonly userAgent: string | undefined;
}

/** Milliseconds to microsecond precision. */
function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * One access-log line (JSON, `\n`-terminated), field names after Kong's log serializer where it has
 * an equivalent. Allocates; call only when an access log is configured.
 */
export function accessLogLine(facts: AccessLogFacts): string {
  const { route, service } = facts;
  return `${JSON.stringify({
    time: new Date(performance.timeOrigin + facts.startMs).toISOString(),
    request_id: facts.requestId,
    client_ip: facts.clientIp,
    method: facts.method,
    uri: facts.uri,
    host: facts.host ?? null,
    status: facts.status,
    body_bytes_sent: facts.bodyBytesSent,
    latencies: {
      request: ms(facts.endMs - facts.startMs),
      proxy: facts.dispatchMs < 0 ? null : ms(facts.dispatchMs - facts.startMs),
      upstream: facts.upstreamHeadMs < 0 || facts.dispatchMs < 0 ? null : ms(facts.upstreamHeadMs - facts.dispatchMs),
    },
    route: route === null ? null : { id: route.id, name: route.name ?? null },
    service: service === null ? null : { id: service.id, name: service.name ?? null },
    upstream: facts.upstream,
    user_agent: facts.userAgent ?? null,
  })}\n`;
}
