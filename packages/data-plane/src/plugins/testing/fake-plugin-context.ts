import type { Route, Service } from '@sluice/protocol';
import { InvalidArgumentError, LifecycleError } from '../../errors.js';
import type { Phase } from '../phases.js';
import { setConsumerHeaders } from '../consumer-headers.js';
import { EMPTY_CONSUMER_DIRECTORY } from '../empty-consumer-directory.js';
import type { ConsumerDirectoryView, PluginConsumer, PluginContext, PluginCredential, RequestHeaderView, RequestTiming, ResponseHeaderView } from '../plugin-context.js';
import { decodeQueryComponent } from '../query-args.js';

// Test-only (left out of the build): a PluginContext without a proxy, for handler unit tests in
// fastify's inject() spirit. Build one with the request a handler should see, call the handler's
// phase methods (or a chain's run* methods), then read what it did: the upstream request headers,
// the response headers, the answer.

/** What a {@link FakePluginContext} starts from; everything optional. */
export interface FakeRequest {
  readonly method?: string;
  /** Target as received, query included. Default `/`. */
  readonly uri?: string;
  readonly host?: string;
  /** Default `127.0.0.1`. */
  readonly clientIp?: string;
  /** The client's request headers (names any case; an array for a repeated header). */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** The consumers and credentials handlers look up (default: none). */
  readonly consumers?: ConsumerDirectoryView;
  /** The request body (default none). */
  readonly body?: string | Buffer;
  /** The bound past which `readBody` gives null (default 8 MiB, the proxy's `requestBufferBytes`). */
  readonly bodyLimitBytes?: number;
  readonly route?: Route | null;
  readonly service?: Service | null;
  readonly isUpgrade?: boolean;
  readonly requestId?: string;
}

/** A handler's answer, as recorded. */
export interface FakeAnswer {
  readonly status: number;
  readonly message: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** Flat name/value list helpers, case-insensitive on names. */
function indexesOf(list: readonly string[], name: string): number[] {
  const lower = name.toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i]!.toLowerCase() === lower) out.push(i);
  return out;
}

function removeAll(list: string[], name: string): void {
  for (const i of indexesOf(list, name).reverse()) list.splice(i, 2);
}

/**
 * A {@link PluginContext} over plain data, with the proxy's rules where a handler could break them:
 * `answer` only in rewrite/access with a 400–599 status (first answer wins), response headers
 * changed only until the head is sent, request headers set on a copy (the "upstream request").
 * Move through phases with {@link phase}; set the response with {@link respond} and the log facts
 * with {@link finish}.
 */
export class FakePluginContext implements PluginContext, RequestTiming {
  readonly requestId: string;
  readonly method: string;
  readonly uri: string;
  readonly host: string | undefined;
  readonly clientIp: string;
  readonly isUpgrade: boolean;
  route: Route | null;
  service: Service | null;
  consumer: PluginConsumer | null = null;
  credential: PluginCredential | null = null;
  consumers: ConsumerDirectoryView;
  /** The body sent upstream: the client's, or what {@link setBody} put there. */
  upstreamBody: Buffer;
  private readonly bodyLimitBytes: number;
  /** The upstream request's query string (without `?`), as {@link clearQueryArg} left it; null when the request has none. */
  upstreamQuery: string | null;
  /** The phase the handler is in: governs what the context allows. Default `access`. */
  phase: Phase = 'access';
  status = 0;
  startMs: number;
  dispatchMs = -1;
  upstreamHeadMs = -1;
  endMs = -1;
  bodyBytesSent: number | null;
  upstreamAddress: string | null = null;
  /** The answer a handler gave; null if none did. */
  answered: FakeAnswer | null = null;
  /** The upstream request's headers, flat name/value list (starts as the client's). */
  readonly upstreamHeaders: string[] = [];
  /** The response head's headers, flat name/value list (changes before the head are kept, then applied by {@link respond}). */
  readonly responseHeaders: string[] = [];
  private isHeadSent = false;
  private readonly earlyEdits: ((head: string[]) => void)[] = [];
  readonly request: RequestHeaderView;
  readonly response: ResponseHeaderView;

  constructor(request: FakeRequest = {}) {
    this.requestId = request.requestId ?? '0123456789abcdef0123456789abcdef';
    this.method = request.method ?? 'GET';
    this.uri = request.uri ?? '/';
    this.host = request.host;
    this.clientIp = request.clientIp ?? '127.0.0.1';
    this.isUpgrade = request.isUpgrade ?? false;
    this.route = request.route ?? null;
    this.service = request.service ?? null;
    this.startMs = performance.now();
    this.bodyBytesSent = this.isUpgrade ? null : 0;
    this.consumers = request.consumers ?? EMPTY_CONSUMER_DIRECTORY;
    this.upstreamBody = typeof request.body === 'string' ? Buffer.from(request.body) : (request.body ?? Buffer.alloc(0));
    this.bodyLimitBytes = request.bodyLimitBytes ?? 8 * 1024 * 1024;
    const queryAt = this.uri.indexOf('?');
    this.upstreamQuery = queryAt === -1 ? null : this.uri.slice(queryAt + 1);
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      for (const v of typeof value === 'string' ? [value] : value) this.upstreamHeaders.push(name, v);
    }
    const upstream = this.upstreamHeaders;
    this.request = {
      get: (name) => {
        const [i] = indexesOf(upstream, name);
        return i === undefined ? undefined : upstream[i + 1];
      },
      getAll: (name) => indexesOf(upstream, name).map((i) => upstream[i + 1]!),
      set: (name, value) => {
        removeAll(upstream, name);
        upstream.push(name, value);
      },
      clear: (name) => removeAll(upstream, name),
    };
    const edit = (change: (head: string[]) => void): void => {
      if (this.isHeadSent) throw new LifecycleError('the response headers have already been sent');
      if (this.phase === 'header_filter') change(this.responseHeaders);
      else this.earlyEdits.push(change);
    };
    this.response = {
      get: (name) => {
        const [i] = indexesOf(this.responseHeaders, name);
        return i === undefined ? undefined : this.responseHeaders[i + 1];
      },
      set: (name, value) =>
        edit((head) => {
          removeAll(head, name);
          head.push(name, value);
        }),
      add: (name, value) => edit((head) => head.push(name, value)),
      clear: (name) => edit((head) => removeAll(head, name)),
    };
  }

  get path(): string {
    const queryAt = this.uri.indexOf('?');
    return queryAt === -1 ? this.uri : this.uri.slice(0, queryAt);
  }

  get timing(): RequestTiming {
    return this;
  }

  get hasAnswered(): boolean {
    return this.answered !== null;
  }

  authenticate(consumer: PluginConsumer | null, credential: PluginCredential | null): void {
    this.consumer = consumer;
    this.credential = credential;
    setConsumerHeaders(this.request, consumer, credential);
  }

  clearQueryArg(name: string): void {
    if (this.upstreamQuery === null) return;
    this.upstreamQuery = this.upstreamQuery
      .split('&')
      .filter((arg) => arg !== '' && decodeQueryComponent(arg.split('=', 1)[0]!) !== name)
      .join('&');
  }

  readBody(): Promise<Buffer | null> {
    if (this.phase !== 'rewrite' && this.phase !== 'access') return Promise.reject(new InvalidArgumentError('a plugin can read the request body only in the rewrite and access phases'));
    return Promise.resolve(this.upstreamBody.length > this.bodyLimitBytes ? null : this.upstreamBody);
  }

  setBody(body: Buffer): void {
    if (this.phase !== 'rewrite' && this.phase !== 'access') throw new InvalidArgumentError('a plugin can set the request body only in the rewrite and access phases');
    this.upstreamBody = body;
    this.request.set('Content-Length', String(body.length));
  }

  answer(status: number, message?: string, headers?: Readonly<Record<string, string>>): void {
    if (this.phase !== 'rewrite' && this.phase !== 'access') throw new InvalidArgumentError('a plugin can answer only in the rewrite and access phases');
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new InvalidArgumentError(`a plugin answers with a status from 400 to 599, not ${status}`);
    this.answered ??= { status, message, headers };
  }

  /**
   * Moves to header_filter with a response head of `status` and `headers` (the changes made
   * earlier applied to it), as the proxy does before running the header_filter handlers.
   */
  respond(status: number, headers: Readonly<Record<string, string>> = {}): this {
    this.status = status;
    this.responseHeaders.length = 0;
    for (const [name, value] of Object.entries(headers)) this.responseHeaders.push(name, value);
    for (const change of this.earlyEdits.splice(0)) change(this.responseHeaders);
    this.phase = 'header_filter';
    return this;
  }

  /** Moves to log with the final facts of the response (the head counts as sent). */
  finish(facts: { status?: number; bodyBytesSent?: number | null; dispatchMs?: number; upstreamHeadMs?: number; endMs?: number; upstreamAddress?: string | null } = {}): this {
    this.isHeadSent = true;
    this.phase = 'log';
    if (facts.status !== undefined) this.status = facts.status;
    if (facts.bodyBytesSent !== undefined) this.bodyBytesSent = facts.bodyBytesSent;
    if (facts.dispatchMs !== undefined) this.dispatchMs = facts.dispatchMs;
    if (facts.upstreamHeadMs !== undefined) this.upstreamHeadMs = facts.upstreamHeadMs;
    if (facts.upstreamAddress !== undefined) this.upstreamAddress = facts.upstreamAddress;
    this.endMs = facts.endMs ?? performance.now();
    return this;
  }

  /** The first value of `name` among the upstream request's headers. */
  upstreamHeader(name: string): string | undefined {
    return this.request.get(name);
  }

  /** The first value of `name` among the response's headers. */
  responseHeader(name: string): string | undefined {
    return this.response.get(name);
  }
}
