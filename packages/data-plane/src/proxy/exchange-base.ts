import type { IncomingMessage } from 'node:http';
import type { PluginChain } from '../plugins/plugin-chain.js';
import type { RouteMatch } from '../router/router.js';
import { PROXY_MESSAGES } from './error-responses.js';
import { ExchangeContext } from './exchange-context.js';
import type { Origin } from './origin-pools.js';
import type { ProxyContext } from './proxy-context.js';
import { RequestView } from './request-view.js';

/**
 * What a proxied request ({@link ProxyExchange}) and an upgrade handshake ({@link UpgradeExchange})
 * share: the request view and the plugin context, the match and origin, and the run of the route
 * chain's rewrite and access handlers before the forward. An answer from a handler is sent with
 * {@link fail}; a handler that throws or rejects fails closed (500, logged), never forwards.
 */
export abstract class ExchangeBase {
  readonly view: RequestView;
  readonly context: ExchangeContext;
  protected chain: PluginChain;
  protected match: RouteMatch | null = null;
  protected origin: Origin | null = null;

  constructor(
    protected readonly ctx: ProxyContext,
    req: IncomingMessage,
    isUpgrade: boolean,
  ) {
    this.view = new RequestView(ctx, req);
    this.context = new ExchangeContext(this.view, isUpgrade);
    this.context.bodyLimitBytes = ctx.options.requestBufferBytes;
    this.chain = ctx.baseChain;
  }

  /** Notes the route matched, before any refusal, so the log phase counts the response against it. */
  noteMatch(match: RouteMatch): void {
    this.match = match;
    this.context.route = match.route;
    this.context.service = match.service;
  }

  /** Sets the chain an answer given without running the request phases goes through (a request no route matched: the global chain). */
  useChain(chain: PluginChain): void {
    this.chain = chain;
  }

  /**
   * Runs `chain` (the route's, with the process-wide handlers): its rewrite and access handlers,
   * then forwards to `origin` unless one answered. The match must have been noted.
   */
  start(chain: PluginChain, origin: Origin): void {
    this.chain = chain;
    this.origin = origin;
    if (!chain.hasRequestHandlers) return this.forward();
    chain.runRequestPhasesThen(
      this.context,
      () => this.afterRequestPhases(),
      (err) => this.failPlugin(err),
      (err) => {
        this.ctx.logger.error({ err, requestId: this.view.id }, `proxy failed to handle ${this.context.isUpgrade ? 'an upgrade' : 'a request'}`);
        this.fail(500, PROXY_MESSAGES.internal);
      },
    );
  }

  /** Answers with a generated error (Kong's body), through the chain's header and body filters. */
  abstract fail(status: number, message: string, extraHeaders?: readonly string[]): void;

  /** Sends the request (or handshake) to the origin. */
  protected abstract forward(): void;

  /** True once the exchange is over (answered, failed, or the client left): a late async handler changes nothing. */
  protected abstract get isOver(): boolean;

  private afterRequestPhases(): void {
    if (this.isOver) return;
    const context = this.context;
    if (context.hasAnswered) return this.fail(context.answerStatus, context.answerMessage, context.answerHeaders);
    this.forward();
  }

  /** A handler threw in rewrite or access: fail closed. */
  private failPlugin(err: unknown): void {
    this.ctx.logger.error({ err, requestId: this.view.id }, 'plugin handler failed; answered 500');
    if (this.isOver) return;
    this.fail(500, PROXY_MESSAGES.internal);
  }
}
