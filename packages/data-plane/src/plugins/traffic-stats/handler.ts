import type { Route, Service } from '@sluice/protocol';
import type { PluginContext } from '../plugin-context.js';
import type { PluginHandler } from '../plugin-handler.js';

/** Where {@link TrafficStatsHandler} counts: the subset of the proxy's `TrafficStats` it uses. */
export interface TrafficRecorder {
  /**
   * Counts one response.
   * @param requestMs arrival to response end.
   * @param upstreamMs upstream dispatch to upstream response head; negative when the response did not come from an upstream.
   */
  record(route: Route | null, service: Service | null, status: number, requestMs: number, upstreamMs: number): void;
}

/**
 * The traffic statistics (`sluice_dp_http_requests_total`, the latency histograms), as the first
 * process-wide log handler: every response, proxied, generated, short-circuited or left by the
 * client (499), and upgrades when their tunnel ends, is counted against its route and service with
 * its status, its latency (arrival to end) and, for a response from an upstream, the upstream's
 * (dispatch to head). O(1) and allocation-free per response.
 */
export class TrafficStatsHandler implements PluginHandler {
  readonly name = 'traffic-stats';
  /** Not ordered by priority: the proxy puts process-wide handlers first. */
  readonly priority = 0;

  constructor(private readonly stats: TrafficRecorder) {}

  log(ctx: PluginContext): void {
    const timing = ctx.timing;
    const upstreamMs = timing.upstreamHeadMs < 0 ? -1 : timing.upstreamHeadMs - timing.dispatchMs;
    this.stats.record(ctx.route, ctx.service, ctx.status, timing.endMs - timing.startMs, upstreamMs);
  }
}
