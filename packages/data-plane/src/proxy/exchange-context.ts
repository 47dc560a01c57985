import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Route, Service } from '@sluice/protocol';
import { InvalidArgumentError, LifecycleError } from '../errors.js';
import type { PluginChain } from '../plugins/plugin-chain.js';
import { setConsumerHeaders } from '../plugins/consumer-headers.js';
import { EMPTY_CONSUMER_DIRECTORY } from '../plugins/empty-consumer-directory.js';
import type { ConsumerDirectoryView, PluginConsumer, PluginContext, PluginCredential, RequestHeaderView, RequestTiming, ResponseHeaderView } from '../plugins/plugin-context.js';
import { defaultErrorMessage } from './error-responses.js';
import { firstHeaderValue, removeHeader } from './header-names.js';
import type { RequestView } from './request-view.js';

/** Where an exchange is, for what its context allows (see {@link ResponseHeaderView}). */
export const EXCHANGE_STAGES = {
  /** Routing, rewrite and access: a handler may answer; response header changes are kept for later. */
  request: 0,
  /** header_filter: the response head is being filtered. */
  head: 1,
  /** The head is sent: body_filter, then log. */
  sent: 2,
} as const;
type ExchangeStage = (typeof EXCHANGE_STAGES)[keyof typeof EXCHANGE_STAGES];

const RESPONSE_SET = 0;
const RESPONSE_ADD = 1;
const RESPONSE_CLEAR = 2;

class RequestHeaders implements RequestHeaderView {
  readonly #view: RequestView;

  constructor(view: RequestView) {
    this.#view = view;
  }

  get(name: string): string | undefined {
    return this.#view.header(name);
  }

  getAll(name: string): readonly string[] {
    return this.#view.headerValues(name);
  }

  set(name: string, value: string): void {
    this.#view.setHeader(name, value);
  }

  clear(name: string): void {
    this.#view.setHeader(name, undefined);
  }
}

class ResponseHeaders implements ResponseHeaderView {
  readonly #context: ExchangeContext;

  constructor(context: ExchangeContext) {
    this.#context = context;
  }

  get(name: string): string | undefined {
    const head = this.#context.responseHead;
    return head === null ? undefined : firstHeaderValue(head, name.toLowerCase());
  }

  set(name: string, value: string): void {
    this.#context.editResponse(RESPONSE_SET, name, value);
  }

  add(name: string, value: string): void {
    this.#context.editResponse(RESPONSE_ADD, name, value);
  }

  clear(name: string): void {
    this.#context.editResponse(RESPONSE_CLEAR, name, '');
  }
}

function applyEdit(head: string[], op: number, name: string, value: string): void {
  if (op !== RESPONSE_ADD) removeHeader(head, name.toLowerCase());
  if (op !== RESPONSE_CLEAR) head.push(name, value);
}

/**
 * The {@link PluginContext} of one exchange (a request, or an upgrade handshake): what its plugin
 * handlers see, and the facts its log handlers read. The exchange fills it in as it goes (match,
 * status, timings); it holds no reference to the exchange, the response or the sockets.
 */
export class ExchangeContext implements PluginContext, RequestTiming {
  route: Route | null = null;
  service: Service | null = null;
  consumer: PluginConsumer | null = null;
  credential: PluginCredential | null = null;
  /** The directory of the config the request is served with (the proxy sets it once routed). */
  consumers: ConsumerDirectoryView = EMPTY_CONSUMER_DIRECTORY;
  status = 0;
  dispatchMs = -1;
  upstreamHeadMs = -1;
  endMs = -1;
  bodyBytesSent: number | null;
  upstreamAddress: string | null = null;
  /** The status of a handler's answer; 0 while none answered. */
  answerStatus = 0;
  answerMessage = '';
  answerHeaders: string[] | undefined = undefined;
  /** The response head being (or last) sent, as a flat name/value list; null before. */
  responseHead: string[] | null = null;
  stage: ExchangeStage = EXCHANGE_STAGES.request;
  /** Response header changes made before the head existed: (op, name, value) triples. */
  private responseEdits: (number | string)[] | null = null;
  private requestHeaders: RequestHeaders | null = null;
  private responseHeaders: ResponseHeaders | null = null;
  readonly #view: RequestView;

  constructor(
    view: RequestView,
    readonly isUpgrade: boolean,
  ) {
    this.#view = view;
    this.bodyBytesSent = isUpgrade ? null : 0;
  }

  get requestId(): string {
    return this.#view.id;
  }

  get method(): string {
    return this.#view.method;
  }

  get uri(): string {
    return this.#view.uri;
  }

  get path(): string {
    return this.#view.path;
  }

  get host(): string | undefined {
    return this.#view.host;
  }

  get clientIp(): string {
    return this.#view.clientIp;
  }

  get startMs(): number {
    return this.#view.startMs;
  }

  /** This context: the timings are its own fields (no object per request). */
  get timing(): RequestTiming {
    return this;
  }

  get request(): RequestHeaderView {
    return (this.requestHeaders ??= new RequestHeaders(this.#view));
  }

  get response(): ResponseHeaderView {
    return (this.responseHeaders ??= new ResponseHeaders(this));
  }

  get hasAnswered(): boolean {
    return this.answerStatus !== 0;
  }

  authenticate(consumer: PluginConsumer | null, credential: PluginCredential | null): void {
    this.consumer = consumer;
    this.credential = credential;
    setConsumerHeaders(this.request, consumer, credential);
  }

  clearQueryArg(name: string): void {
    this.#view.clearQueryArg(name);
  }

  /** @internal the proxy's body bound (`requestBufferBytes`), set by the exchange. */
  bodyLimitBytes = 0;

  readBody(): Promise<Buffer | null> {
    if (this.stage !== EXCHANGE_STAGES.request) return Promise.reject(new InvalidArgumentError('a plugin can read the request body only in the rewrite and access phases'));
    return this.#view.readBody(this.bodyLimitBytes);
  }

  setBody(body: Buffer): void {
    if (this.stage !== EXCHANGE_STAGES.request) throw new InvalidArgumentError('a plugin can set the request body only in the rewrite and access phases');
    this.#view.setBody(body);
  }

  answer(status: number, message?: string, headers?: Readonly<Record<string, string>>): void {
    if (this.stage !== EXCHANGE_STAGES.request) throw new InvalidArgumentError('a plugin can answer only in the rewrite and access phases');
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new InvalidArgumentError(`a plugin answers with a status from 400 to 599, not ${status}`);
    if (this.answerStatus !== 0) return;
    let flat: string[] | undefined;
    if (headers !== undefined) {
      flat = [];
      for (const name of Object.keys(headers)) {
        const value = headers[name]!;
        validateHeaderName(name);
        validateHeaderValue(name, value);
        flat.push(name, value);
      }
    }
    this.answerStatus = status;
    this.answerMessage = message ?? defaultErrorMessage(status);
    this.answerHeaders = flat;
  }

  /** @internal a response header change from the view. */
  editResponse(op: number, name: string, value: string): void {
    validateHeaderName(name);
    if (op !== RESPONSE_CLEAR) validateHeaderValue(name, value);
    if (name.toLowerCase() === 'transfer-encoding') return;
    if (this.stage === EXCHANGE_STAGES.head) return applyEdit(this.responseHead!, op, name, value);
    if (this.stage !== EXCHANGE_STAGES.request) throw new LifecycleError('the response headers have already been sent');
    (this.responseEdits ??= []).push(op, name, value);
  }

  /**
   * Makes `head` the response head of `status` and runs the chain's header_filter handlers on it
   * (after the changes made in rewrite and access), which may change it in place. Then the head is
   * sent: the stage moves on even when a handler throws.
   * @throws PluginHandlerError from a header_filter handler.
   */
  filterHead(chain: PluginChain, status: number, head: string[]): void {
    this.status = status;
    this.responseHead = head;
    const edits = this.responseEdits;
    if (edits === null && chain.header_filter.length === 0) {
      this.stage = EXCHANGE_STAGES.sent;
      return;
    }
    if (edits !== null) {
      for (let i = 0; i < edits.length; i += 3) applyEdit(head, edits[i] as number, edits[i + 1] as string, edits[i + 2] as string);
    }
    this.stage = EXCHANGE_STAGES.head;
    try {
      chain.runHeaderFilter(this);
    } finally {
      this.stage = EXCHANGE_STAGES.sent;
    }
  }
}
