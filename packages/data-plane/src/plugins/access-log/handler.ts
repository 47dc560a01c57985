import type { PluginContext } from '../plugin-context.js';
import type { PluginHandler } from '../plugin-handler.js';
import { accessLogLine } from './access-log-line.js';
import type { AccessLogSink } from './access-log-sink.js';

/**
 * The access log, as a process-wide log handler (the proxy runs it after traffic statistics, before
 * any plugin's log handler, on every response: proxied, generated, short-circuited, left by the
 * client, and upgrades when their tunnel ends): one JSON line per response to `sink`. Present only
 * when an access log is configured, so without one it costs nothing.
 */
export class AccessLogHandler implements PluginHandler {
  readonly name = 'access-log';
  /** Not ordered by priority: the proxy puts process-wide handlers first. */
  readonly priority = 0;

  constructor(private readonly sink: AccessLogSink) {}

  log(ctx: PluginContext): void {
    const timing = ctx.timing;
    this.sink.write(
      accessLogLine({
        requestId: ctx.requestId,
        startMs: timing.startMs,
        dispatchMs: timing.dispatchMs,
        upstreamHeadMs: timing.upstreamHeadMs,
        endMs: timing.endMs,
        clientIp: ctx.clientIp,
        method: ctx.method,
        uri: ctx.uri,
        host: ctx.host,
        status: ctx.status,
        bodyBytesSent: ctx.bodyBytesSent,
        route: ctx.route,
        service: ctx.service,
        upstream: ctx.upstreamAddress,
        userAgent: ctx.request.get('user-agent'),
      }),
    );
  }
}
