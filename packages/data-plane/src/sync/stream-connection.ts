import { EventEmitter } from 'node:events';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { CloseCode, decodeFrame, encodeFrame, frameBytes, MAX_FRAME_BYTES, type Envelope, type EnvelopeProperties, type FrameKind, type ProtocolError } from '@sluice/protocol';
import { SyncProtocolError, SyncTlsError, type DataPlaneError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ClusterTls } from './cluster-tls.js';
import { connectionError, streamClosedError, upgradeRefusalError } from './connection-error.js';

/** How long the WebSocket upgrade may take, TLS handshake included, in ms (default 10 s). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** How long a close handshake may take before the socket is destroyed, in ms (default 1 s). */
export const CLOSE_TIMEOUT_MS = 1_000;

/** A decoded frame: an Envelope carrying exactly one message. */
export type StreamFrame = Envelope & { msg: FrameKind };

/** Options of `StreamConnection`. */
export interface StreamConnectionOptions {
  /** The stream URL, `ws://host:port/v1/stream` or `wss://…`. */
  readonly url: string;
  /** Mutual TLS toward the control plane (needs a `wss://` url). */
  readonly tls?: ClusterTls;
  /** Largest frame accepted, in bytes (default `MAX_FRAME_BYTES`, 8 MiB): larger ones close the stream with 1009. */
  readonly maxFrameBytes?: number;
  /** The clock, ms since the Unix epoch. */
  readonly now: () => number;
  readonly logger: Logger;
}

/** Events a StreamConnection emits. */
export interface StreamConnectionEvents {
  /** The upgrade completed: frames may be sent. */
  open: [];
  /** A frame arrived and decoded (none arrive once `close()` was called). */
  frame: [frame: StreamFrame];
  /** A frame broke the protocol (text, oversize, undecodable): the owner should close with `error.closeCode`. */
  'protocol-error': [error: SyncProtocolError];
  /** The connection failed (network, TLS, HTTP refusal of the upgrade); the error to record as the last one. */
  failure: [error: DataPlaneError];
  /** The socket closed; `error` is the first failure that explains it, or null for an orderly close. */
  close: [info: { code: number; reason: string; error: DataPlaneError | null }];
}

/**
 * The data plane's transport to the control plane: one WebSocket (permessage-deflate off,
 * `maxPayload` = `maxFrameBytes`, upgrade within {@link CONNECT_TIMEOUT_MS}), over mutual TLS when
 * given `tls`, opened on construction. It decodes frames, classifies failures
 * (`connection-error.ts`), and closes with a bounded handshake ({@link CLOSE_TIMEOUT_MS}). It knows
 * nothing of the protocol's state: `SyncSession` does.
 *
 * Sends are not queued here: what the data plane sends (Hello, Heartbeat, Ack, ResyncRequest) is
 * small, and ws buffers it; `bufferedAmount` tells how much is waiting.
 */
export class StreamConnection extends EventEmitter<StreamConnectionEvents> {
  readonly url: string;
  private readonly ws: WebSocket;
  private readonly options: StreamConnectionOptions;
  private isClosingValue = false;
  private lastReceived: number;
  private closeError: DataPlaneError | null = null;

  constructor(options: StreamConnectionOptions) {
    super();
    this.options = options;
    this.url = options.url;
    this.lastReceived = options.now();
    const isSecure = this.url.startsWith('wss://');
    const tls = options.tls?.connectOptions(new URL(this.url).hostname.replace(/^\[|\]$/g, '')) ?? {};
    // Whether the TLS handshake completed, as seen from here: under TLS 1.3 a control plane that
    // refuses our certificate does so after our side of the handshake is done, by hanging up.
    let isTlsEstablished = false;
    const createConnection = (connectOptions: ConnectionOptions) => {
      // As ws's own tlsConnect: the request's `path` is the URL path, not an IPC socket path.
      const socket = tlsConnect({ ...connectOptions, path: undefined });
      socket.once('secureConnect', () => {
        isTlsEstablished = true;
      });
      return socket;
    };
    // ws hands the TLS options to tls.connect unchanged; @types/ws declares `checkServerIdentity`
    // with an older signature than Node's, hence the cast.
    const ws = new WebSocket(this.url, {
      perMessageDeflate: false,
      maxPayload: options.maxFrameBytes ?? MAX_FRAME_BYTES,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      ...tls,
      ...(options.tls ? { createConnection } : {}),
    } as ClientOptions);
    this.ws = ws;
    let isOpen = false;
    ws.on('open', () => {
      isOpen = true;
      this.emit('open');
    });
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('ping', () => {
      this.lastReceived = options.now();
    });
    ws.on('pong', () => {
      this.lastReceived = options.now();
    });
    ws.on('error', (err: Error) => {
      // The first error of a connection is its cause; later ones (e.g. the abort after an HTTP
      // refusal of the upgrade) only echo it.
      if (this.closeError) return;
      const error = connectionError(err, { isSecure, isOpen, isTlsEstablished, mode: options.tls?.mode ?? null });
      this.closeError = error;
      this.emit('failure', error);
      if (error instanceof SyncTlsError) options.logger.warn({ err, code: error.code, url: this.url }, 'TLS with the control plane failed');
      else options.logger.debug({ err, url: this.url }, 'control plane connection error');
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const error = upgradeRefusalError(status, isSecure);
      if (error instanceof SyncTlsError && !this.closeError) options.logger.warn({ code: error.code, status, url: this.url }, error.message);
      this.closeError ??= error;
      this.emit('failure', error);
      res.resume();
      ws.terminate();
    });
    ws.on('close', (code: number, reasonBuffer: Buffer) => {
      const reason = reasonBuffer.toString('utf8');
      if (!this.closeError && !this.isClosingValue) {
        this.closeError = streamClosedError(code, reason);
        if (this.closeError) this.emit('failure', this.closeError);
      }
      this.emit('close', { code, reason, error: this.closeError });
    });
  }

  /** Whether `close()` was called: the connection is on its way down and takes no more frames. */
  get isClosing(): boolean {
    return this.isClosingValue;
  }

  /** When anything (a frame, a ping, a pong) last arrived, in ms since the Unix epoch; the construction time before that. */
  get lastReceivedMs(): number {
    return this.lastReceived;
  }

  /** Bytes sent but not yet written to the socket. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Sends one frame; dropped when the connection is not open (not yet, or no longer). */
  send(envelope: EnvelopeProperties): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeFrame(envelope), { binary: true });
  }

  /**
   * Closes the connection with `code`: at once while still connecting, else with a close handshake
   * that may take {@link CLOSE_TIMEOUT_MS} before the socket is destroyed. Idempotent.
   */
  close(code: number, reason: string): void {
    if (this.isClosingValue) return;
    this.isClosingValue = true;
    const ws = this.ws;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
      return;
    }
    const t = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS);
    t.unref();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.lastReceived = this.options.now();
    if (!isBinary) {
      this.emit('protocol-error', new SyncProtocolError('text frame on the cluster stream', CloseCode.PROTOCOL_ERROR));
      return;
    }
    if (this.isClosingValue) return;
    let frame: StreamFrame;
    try {
      frame = decodeFrame(frameBytes(data as Buffer | ArrayBuffer | Buffer[]), this.options.maxFrameBytes ?? MAX_FRAME_BYTES);
    } catch (err) {
      const e = err as ProtocolError;
      this.emit('protocol-error', new SyncProtocolError(e.message, e.closeCode ?? CloseCode.PROTOCOL_ERROR, { cause: err }));
      return;
    }
    this.emit('frame', frame);
  }
}
