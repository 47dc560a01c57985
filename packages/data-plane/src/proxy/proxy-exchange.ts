import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { generatedResponse, PROXY_MESSAGES } from './error-responses.js';
import { ExchangeBase } from './exchange-base.js';
import { EXCHANGE_STAGES } from './exchange-context.js';
import type { ProxyContext } from './proxy-context.js';
import { debugMatchFor, proxiedResponseHeaders, pushDebugHeaders } from './response-headers.js';
import { ResponseWriter, type ResponseWriterOwner } from './response-writer.js';
import { CLIENT_CLOSED_STATUS } from './traffic-stats.js';
import { ClientGoneError, UpstreamCall, type UpstreamCallSink } from './upstream-call.js';
import type { UpstreamErrorAnswer } from './upstream-errors.js';

const EMPTY_CHUNK = Buffer.alloc(0);

/**
 * One proxied request, start to end: its {@link RequestView}, its plugin chain run on its
 * {@link ExchangeContext}, its {@link UpstreamCall} and its {@link ResponseWriter}, joined here and
 * nowhere else. Per request: these five objects and no closures on the synchronous path (event
 * listeners find the writer through a slot on the response).
 */
export class ProxyExchange extends ExchangeBase implements UpstreamCallSink, ResponseWriterOwner {
  private readonly writer: ResponseWriter;
  private call: UpstreamCall | null = null;
  /** The exchange is over: response complete, failed, or the client left. */
  private isDone = false;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse) {
    super(ctx, req, false);
    this.writer = new ResponseWriter(ctx, res, this.view.id, this);
  }

  protected get isOver(): boolean {
    return this.isDone;
  }

  protected forward(): void {
    const match = this.match!;
    const origin = this.origin!;
    const view = this.view;
    const call = new UpstreamCall(this.ctx.pools, origin, this, view.method, match.service!.retries);
    this.call = call;
    const headers = view.upstreamHeaders(match, origin);
    const bufferBytes = match.route.request_buffering !== false ? this.ctx.options.requestBufferBytes : -1;
    call.send(view.upstreamPath(match), headers, view.upstreamBody(), bufferBytes, view.contentLength);
  }

  /**
   * Answers with a generated error (Kong's body in the format `Accept` asks for), through the
   * chain's header_filter and body_filter; or cuts the connection if the response already started.
   */
  fail(status: number, message: string, extraHeaders?: readonly string[]): void {
    this.isDone = true;
    const writer = this.writer;
    if (writer.isHeadSent || writer.isDestroyed) {
      writer.destroy();
      return;
    }
    const ctx = this.ctx;
    const view = this.view;
    const debugMatch = debugMatchFor(ctx, view.req, this.match);
    let extra = extraHeaders;
    if (debugMatch !== null) {
      const withDebug = extra === undefined ? [] : [...extra];
      pushDebugHeaders(withDebug, debugMatch);
      extra = withDebug;
    }
    const { headers, body } = generatedResponse(ctx.injected, ctx.serverToken, view.id, view.startMs, message, view.req.headers.accept, extra, false);
    const chain = this.chain;
    try {
      this.context.filterHead(chain, status, headers);
    } catch (err) {
      this.ctx.logger.error({ err, requestId: view.id }, 'plugin handler failed; answered 500');
      return this.failUnfiltered();
    }
    let out: string | Buffer = body;
    if (chain.body_filter.length > 0) {
      try {
        out = chain.runBodyFilter(this.context, Buffer.from(body), true);
      } catch (err) {
        this.ctx.logger.error({ err, requestId: view.id }, 'plugin handler failed; connection closed');
        writer.destroy();
        return;
      }
    }
    writer.writeComplete(status, headers, out);
  }

  /** A header_filter handler threw: 500, with the proxy's headers only and no handler run on it. */
  private failUnfiltered(): void {
    this.isDone = true;
    const ctx = this.ctx;
    const view = this.view;
    if (this.writer.isHeadSent || this.writer.isDestroyed) return this.writer.destroy();
    const { headers, body } = generatedResponse(ctx.injected, ctx.serverToken, view.id, view.startMs, PROXY_MESSAGES.internal, view.req.headers.accept, undefined, false);
    this.context.status = 500;
    this.context.responseHead = headers;
    this.writer.writeComplete(500, headers, body);
  }

  // --- the upstream call's sink ---

  onUpstreamHead(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    const writer = this.writer;
    if (this.isDone || writer.isDestroyed) return true;
    const ctx = this.ctx;
    const view = this.view;
    const call = this.call!;
    const headMs = performance.now();
    const out = proxiedResponseHeaders(ctx, statusCode, rawHeaders, view.id, view.startMs, call.dispatchMs, headMs, false, debugMatchFor(ctx, view.req, this.match));
    try {
      this.context.filterHead(this.chain, statusCode, out);
    } catch (err) {
      ctx.logger.error({ err, requestId: view.id }, 'plugin handler failed; answered 500');
      this.failUnfiltered();
      call.cancel(err as Error);
      return false;
    }
    const err = writer.writeHead(statusCode, out);
    if (err !== null) {
      // An upstream header Node refuses to send (invalid characters): the response is unusable.
      ctx.logger.warn({ err, requestId: view.id }, 'invalid upstream response headers');
      call.abort(err);
      return false;
    }
    call.isResponseStarted = true;
    this.context.upstreamHeadMs = headMs;
    return true;
  }

  onUpstreamData(chunk: Buffer): boolean {
    const writer = this.writer;
    if (writer.isDestroyed) return true;
    let out = chunk;
    if (this.chain.body_filter.length > 0) {
      try {
        out = this.chain.runBodyFilter(this.context, chunk, false);
      } catch (err) {
        this.failBody(err);
        return true;
      }
      if (out.length === 0) return true;
    }
    return writer.write(out, this.match!.route.response_buffering !== false);
  }

  onUpstreamComplete(): void {
    this.isDone = true;
    const writer = this.writer;
    if (this.chain.body_filter.length > 0 && !writer.isDestroyed) {
      let rest: Buffer;
      try {
        rest = this.chain.runBodyFilter(this.context, EMPTY_CHUNK, true);
      } catch (err) {
        this.failBody(err);
        return;
      }
      if (rest.length > 0) writer.write(rest, true);
    }
    writer.end();
  }

  onUpstreamUpgrade(_statusCode: number, _rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    // Only an upgrade request is answered with a switch; this one was not.
    socket.destroy();
  }

  onUpstreamFailed(answer: UpstreamErrorAnswer, err: Error, code: string, attempts: number): void {
    if (this.isDone) return;
    this.ctx.logger.warn({ err, code, requestId: this.view.id, attempts }, 'upstream request failed');
    this.fail(answer.status, answer.message);
  }

  onUpstreamBroken(err: Error): void {
    if (this.isDone) return;
    this.isDone = true;
    this.ctx.logger.warn({ err, requestId: this.view.id }, 'upstream response failed mid-body');
    this.writer.destroy(err);
  }

  /** A body_filter handler threw mid-response: only the connection can be cut (and the upstream request). */
  private failBody(err: unknown): void {
    this.ctx.logger.error({ err, requestId: this.view.id }, 'plugin handler failed; connection closed');
    this.isDone = true;
    this.call?.cancel(err as Error);
    this.writer.destroy();
  }

  // --- the response writer's owner ---

  onResponseDrained(): void {
    this.call?.resume();
  }

  /** The response closed: its log phase runs; if it was not complete the client left (abort the upstream request). */
  onResponseClosed(): void {
    this.runLogPhase();
    this.ctx.onExchangeEnd();
    if (this.isDone) return;
    this.isDone = true;
    this.call?.cancel(new ClientGoneError('client closed the connection'));
  }

  /**
   * The chain's log handlers (the process-wide ones first: traffic statistics, access log), with
   * the final facts: the status sent (499 when the client left before a response head), the end
   * time, the body bytes handed to the socket, and the last dispatch.
   */
  private runLogPhase(): void {
    const res = this.writer.res;
    const context = this.context;
    context.status = res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
    context.endMs = performance.now();
    context.bodyBytesSent = this.writer.bodyBytesSent;
    const call = this.call;
    if (call !== null) {
      context.dispatchMs = call.dispatchMs;
      context.upstreamAddress = call.dispatchMs < 0 ? null : call.origin.address;
    }
    context.stage = EXCHANGE_STAGES.sent;
    this.chain.runLog(context, this.ctx.reportLogError);
  }
}
