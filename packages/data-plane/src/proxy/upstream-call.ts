import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { DataPlaneErrorCode } from '../errors.js';
import { HEADER_KINDS, headerKind } from './header-names.js';
import type { Origin, OriginPools } from './origin-pools.js';
import { classifyUpstreamError, errorCode, RETRY, type UpstreamErrorAnswer } from './upstream-errors.js';

/** The upstream did not take the request body within the service's write_timeout. */
export class UpstreamWriteTimeoutError extends Error {
  override readonly name = 'UpstreamWriteTimeoutError';
  readonly code = DataPlaneErrorCode.UPSTREAM_WRITE_TIMEOUT;
}

/** The client went away before the response was complete. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
  readonly code = DataPlaneErrorCode.CLIENT_GONE;
}

/** Where an {@link UpstreamCall} delivers the upstream's answer. */
export interface UpstreamCallSink {
  /**
   * The response head (status >= 200). Return false to stop (after {@link UpstreamCall.abort}).
   * Set {@link UpstreamCall.isResponseStarted} once any of it reached the client.
   */
  onUpstreamHead(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean;
  /** A body chunk; false pauses the upstream until `resume` (given with the head) is called. */
  onUpstreamData(chunk: Buffer): boolean;
  onUpstreamComplete(): void;
  /** The upstream switched protocols (an upgrade request): `socket` is the upstream side of the tunnel. */
  onUpstreamUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  /** The request failed before its response started, and is not retried: `answer` is what to send. */
  onUpstreamFailed(answer: UpstreamErrorAnswer, err: Error, code: string, attempts: number): void;
  /** The response failed after it started reaching the client: only the connection can be cut. */
  onUpstreamBroken(err: Error): void;
}

function onWriteTimeout(call: UpstreamCall): void {
  call.abort(new UpstreamWriteTimeoutError('upstream write timed out'));
}

/**
 * One request to an origin, through its undici pool: the dispatch (and its re-dispatches: Kong's
 * retries of idempotent requests whose connection failed, see {@link classifyUpstreamError}), the
 * service's write_timeout on a streamed request body, and the classification of upstream errors.
 * It is the undici dispatch handler (legacy callbacks: no header parsing into objects) and hands
 * what arrives to its {@link UpstreamCallSink}.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler {
  /** When the request was last dispatched (performance.now()); -1 until then. */
  dispatchMs = -1;
  /** Dispatches so far (the first and its retries). */
  attempts = 0;
  /** Set by the sink once the response reached the client: a failure then cuts it, never retries. */
  isResponseStarted = false;
  private options: Dispatcher.DispatchOptions | null = null;
  private abortUpstream: ((reason?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private writeTimer: NodeJS.Timeout | null = null;
  private isCancelled = false;

  constructor(
    private readonly pools: OriginPools,
    readonly origin: Origin,
    private readonly sink: UpstreamCallSink,
    private readonly method: string,
    /** service.retries: most re-dispatches after connection failures. */
    private readonly retries: number,
  ) {}

  /**
   * Sends the request with `body`: none (null), the client's request streamed, or (`bufferBytes`
   * >= 0, Kong's `request_buffering`) read whole first when its declared length and actual size
   * stay within `bufferBytes` (replayable on retry), else streamed from where reading stopped.
   */
  send(path: string, headers: string[], body: IncomingMessage | Readable | Buffer | null, bufferBytes: number, declaredLength: string | undefined): void {
    const readTimeout = this.origin.readTimeoutMs;
    if (body === null) {
      this.dispatch({ path, method: this.method, headers, body: null, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    if (Buffer.isBuffer(body)) {
      // Read whole by a plugin: sent as is (replayable on retry).
      if (!headers.some((h, i) => i % 2 === 0 && headerKind(h) === HEADER_KINDS.contentLength)) headers.push('Content-Length', String(body.length));
      this.dispatch({ path, method: this.method, headers, body, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    if (!isIncoming(body)) {
      this.dispatch({ path, method: this.method, headers, body, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    const declared = Number(declaredLength);
    if (bufferBytes < 0 || (Number.isFinite(declared) && declared > bufferBytes)) {
      this.dispatch({ path, method: this.method, headers, body, headersTimeout: readTimeout, bodyTimeout: readTimeout });
      return;
    }
    this.bufferBody(path, headers, body, bufferBytes);
  }

  /** Sends an Upgrade handshake (no body) asking for `protocol`. */
  upgrade(path: string, headers: string[], protocol: string): void {
    const readTimeout = this.origin.readTimeoutMs;
    this.dispatch({ path, method: this.method, headers, body: null, upgrade: protocol, headersTimeout: readTimeout, bodyTimeout: readTimeout });
  }

  /** Aborts the request in flight with `reason` (undici reports it to {@link onError}). */
  abort(reason: Error): void {
    this.abortUpstream?.(reason);
  }

  /** The client is gone (or the answer was given otherwise): abort, now or once connected, and deliver nothing more. */
  cancel(reason: Error): void {
    if (this.isCancelled) return;
    this.isCancelled = true;
    this.stopWriteTimer();
    this.abortUpstream?.(reason);
  }

  /** Lets a paused upstream response send again. */
  resume(): void {
    this.resumeUpstream?.();
  }

  private bufferBody(path: string, headers: string[], req: IncomingMessage, limit: number): void {
    const readTimeout = this.origin.readTimeoutMs;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) {
        // Over the bound: stop buffering and stream what we hold followed by the rest.
        cleanup();
        req.pause();
        this.dispatch({ path, method: this.method, headers, body: concatStream(chunks, req), headersTimeout: readTimeout, bodyTimeout: readTimeout });
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (this.isCancelled) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!headers.some((h, i) => i % 2 === 0 && headerKind(h) === HEADER_KINDS.contentLength)) headers.push('Content-Length', String(body.length));
      this.dispatch({ path, method: this.method, headers, body, headersTimeout: readTimeout, bodyTimeout: readTimeout });
    };
    const onError = (): void => {
      cleanup();
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  }

  private dispatch(options: Dispatcher.DispatchOptions): void {
    if (this.isCancelled) return;
    this.options = options;
    this.attempts++;
    this.dispatchMs = performance.now();
    this.pools.touch(this.origin, Date.now());
    const body = options.body;
    if (body !== null && body !== undefined && !Buffer.isBuffer(body)) this.writeTimer = setTimeout(onWriteTimeout, this.origin.writeTimeoutMs, this);
    this.origin.pool.dispatch(options, this);
  }

  private stopWriteTimer(): void {
    if (this.writeTimer !== null) {
      clearTimeout(this.writeTimer);
      this.writeTimer = null;
    }
  }

  // --- undici DispatchHandler (legacy callbacks) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.isCancelled) abort(new ClientGoneError('client closed the connection'));
  }

  onBodySent(): void {
    this.writeTimer?.refresh();
  }

  onRequestSent(): void {
    this.stopWriteTimer();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.resumeUpstream = resume;
    return this.sink.onUpstreamHead(statusCode, rawHeaders, resume);
  }

  onData(chunk: Buffer): boolean {
    return this.sink.onUpstreamData(chunk);
  }

  onComplete(): void {
    this.stopWriteTimer();
    this.sink.onUpstreamComplete();
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.sink.onUpstreamUpgrade(statusCode, rawHeaders, socket);
  }

  onError(err: Error): void {
    this.stopWriteTimer();
    if (this.isCancelled) return;
    if (this.isResponseStarted) {
      this.sink.onUpstreamBroken(err);
      return;
    }
    const code = errorCode(err);
    const options = this.options!;
    const isReplayable = options.body === null || options.body === undefined || Buffer.isBuffer(options.body);
    const verdict = classifyUpstreamError(code, this.method, isReplayable, this.attempts, this.retries);
    if (verdict === RETRY) {
      this.abortUpstream = null;
      this.dispatch(options);
      return;
    }
    this.sink.onUpstreamFailed(verdict, err, code, this.attempts);
  }
}

async function* concatChunks(head: readonly Buffer[], rest: Readable): AsyncGenerator<Buffer> {
  yield* head;
  for await (const chunk of rest) yield chunk as Buffer;
}

function isIncoming(body: IncomingMessage | Readable): body is IncomingMessage {
  return typeof (body as IncomingMessage).httpVersion === 'string';
}

function concatStream(head: readonly Buffer[], rest: Readable): Readable {
  return Readable.from(concatChunks(head, rest), { objectMode: false });
}
