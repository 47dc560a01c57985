import { ServerResponse, type IncomingMessage } from 'node:http';
import type { ProxyContext } from './proxy-context.js';
import { SendTimeout } from './send-timeout.js';

/** What a {@link ResponseWriter} tells its exchange. */
export interface ResponseWriterOwner {
  /** The client's socket took what was queued: a paused upstream may send again. */
  onResponseDrained(): void;
  /** The response closed: finished, cut, or the client left. Called once. */
  onResponseClosed(): void;
}

/**
 * The proxy's ServerResponse: the same, plus a slot for its writer declared up front, so attaching
 * the writer does not change the object's shape (and listeners need no closure).
 */
export class ProxyResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  writer: ResponseWriter | null = null;
}

function onResponseClose(this: ProxyResponse): void {
  this.writer?.onClose();
}

function onResponseDrain(this: ProxyResponse): void {
  this.writer?.onDrain();
}

/**
 * Writes one response to the client: a proxied head and body with backpressure (the upstream is
 * paused while the client's socket is full, past `responseBufferBytes` for a buffering route) and
 * nginx's send_timeout (a client that takes nothing of its queued response for
 * `clientSendTimeoutMs` is cut), or a generated response in one piece. Counts the body bytes it
 * handed to the socket.
 */
export class ResponseWriter {
  /** Response body bytes handed to the client's socket. */
  bodyBytesSent = 0;
  private isPaused = false;
  private isListeningForDrain = false;
  /** nginx's send_timeout, created on the first write the client's socket refused. */
  private sendTimeout: SendTimeout | null = null;

  constructor(
    private readonly ctx: ProxyContext,
    readonly res: ServerResponse,
    private readonly requestId: string,
    private readonly owner: ResponseWriterOwner,
  ) {
    if (res instanceof ProxyResponse) res.writer = this;
    res.on('close', onResponseClose);
  }

  /** Whether the head was sent. */
  get isHeadSent(): boolean {
    return this.res.headersSent;
  }

  /** Whether the response can take no more (cut, or the client left). */
  get isDestroyed(): boolean {
    return this.res.destroyed;
  }

  /** Sends a proxied head; returns the error when Node refuses it (invalid header characters), else null. */
  writeHead(statusCode: number, headers: readonly string[]): Error | null {
    try {
      this.res.writeHead(statusCode, headers as string[]);
      return null;
    } catch (err) {
      return err as Error;
    }
  }

  /**
   * Writes a body chunk; returns false when the upstream should pause until
   * {@link ResponseWriterOwner.onResponseDrained}. `isBuffering` (the route's response_buffering)
   * lets up to `responseBufferBytes` queue before pausing.
   */
  write(chunk: Buffer, isBuffering: boolean): boolean {
    const res = this.res;
    const isAccepted = res.write(chunk);
    this.bodyBytesSent += chunk.length;
    if (this.sendTimeout !== null) this.sendTimeout.wrote(chunk.length, isAccepted);
    if (isAccepted) return true;
    if (!this.isListeningForDrain) {
      this.isListeningForDrain = true;
      res.on('drain', onResponseDrain);
      this.sendTimeout = new SendTimeout(res, this.ctx.options.clientSendTimeoutMs, () => this.onClientStalled());
      this.sendTimeout.wrote(chunk.length, false);
    }
    if (isBuffering && res.writableLength < this.ctx.options.responseBufferBytes) return true;
    this.isPaused = true;
    return false;
  }

  /** Ends the proxied response. */
  end(): void {
    this.res.end();
  }

  /** Sends a whole generated response: head and body. */
  writeComplete(statusCode: number, headers: readonly string[], body: string | Buffer): void {
    this.res.writeHead(statusCode, headers as string[]);
    this.res.end(body);
    this.bodyBytesSent = Buffer.byteLength(body);
  }

  /** Cuts the response (and the connection). */
  destroy(err?: Error): void {
    this.res.destroy(err);
  }

  /** @internal the socket drained. */
  onDrain(): void {
    this.sendTimeout?.drained();
    if (!this.isPaused) return;
    this.isPaused = false;
    this.owner.onResponseDrained();
  }

  /** @internal the response closed. */
  onClose(): void {
    this.sendTimeout?.stop();
    this.owner.onResponseClosed();
  }

  /** The client took nothing of its queued response for clientSendTimeoutMs: cut it (the close aborts the upstream request). */
  private onClientStalled(): void {
    this.ctx.logger.info({ requestId: this.requestId, sendTimeoutMs: this.ctx.options.clientSendTimeoutMs }, 'client took nothing of the response for send_timeout, closed');
    this.res.destroy();
  }
}
