import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import {
  CloseCode,
  configStateView,
  decodeFrame,
  encodeFrame,
  frameBytes,
  hashEquals,
  MAX_FRAME_BYTES,
  pb,
  PROTOCOL_VERSION,
  ProtocolError,
  ProtocolErrorCode,
  SnapshotAssembler,
  unpackBatch,
  unpackBatchAsync,
  type BlobMessage,
  type ConfigDeltaMessage,
  type ConfigStateMessage,
  type ConfigStateView,
  type HelloAckMessage,
  type SnapshotBeginMessage,
  type SnapshotChunkMessage,
  type EnvelopeProperties,
  type PackedBody,
} from '@sluice/protocol';
import { deltaSteps, type DeltaInput } from '../config/apply-delta.js';
import { snapshotSteps, type ApplyResult, type ConfigTarget } from '../config/apply-snapshot.js';
import { APPLY_SLICE_MS, runStepsSliced, StepsCancelledError, type Steps } from '../steps.js';
import { ConfigOrigin, type RuntimeConfig } from '../config/runtime-config.js';
import { AckError, ConfigRejectedError, DataPlaneError, DataPlaneErrorCode, InvalidArgumentError, SyncConnectionError, SyncProtocolError, SyncTlsError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { ReconnectBackoff, RECONNECT_RESET_AFTER_MS, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import type { ClusterTls } from './cluster-tls.js';

/** The fixed path of the cluster stream on the control plane. */
export const STREAM_PATH = '/v1/stream';

/** Heartbeat interval used until the HelloAck names one, in ms (default 5 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;

/** Slack added to two heartbeat intervals before a silent control plane is declared dead, in ms (default 2 s). */
export const HEARTBEAT_GRACE_MS = 2_000;

/** How long the WebSocket upgrade may take, in ms (default 10 s). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** How long after Hello the HelloAck may take, in ms (default 10 s); then the attempt is abandoned. */
export const HELLO_ACK_TIMEOUT_MS = 10_000;

/** How long a close handshake may take before the socket is destroyed, in ms (default 1 s). */
export const CLOSE_TIMEOUT_MS = 1_000;

/** The state of the connection to the control plane, as `/status` reports it. */
export const ConnectionState = {
  /** A socket is being opened or the handshake is under way. */
  CONNECTING: 'connecting',
  /** The handshake completed (HelloAck received); pushes flow. */
  CONNECTED: 'connected',
  /** No connection; a retry is scheduled (or the client is stopped). */
  DISCONNECTED: 'disconnected',
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** The last thing that went wrong with the sync, for `/status`. */
export interface SyncErrorView {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

/** A change the client applied: what the data plane must swap in (and may forward to proxy workers). */
export type AppliedChange =
  | { readonly kind: 'snapshot'; readonly target: ConfigTarget; readonly batch: InstanceType<typeof pb.ResourceBatch> }
  | { readonly kind: 'delta'; readonly delta: DeltaInput };

/** Events a SyncClient emits (for the status server, metrics and tests). */
export interface SyncClientEvents {
  /** The connection state changed. */
  state: [state: ConnectionState];
  /** The handshake completed. */
  connected: [info: { cpInstanceId: string; head: ConfigStateView; mode: string }];
  /** The connection closed (or failed to open); a reconnect follows after `retryInMs` unless stopped. */
  disconnected: [info: { code: number; reason: string; error: DataPlaneError | null; retryInMs: number | null }];
  /** A push arrived whole and its check and build started (in slices; the current config serves meanwhile). */
  applying: [info: { nonce: number; kind: AppliedChange['kind'] }];
  /** A push was applied and ACKed. */
  applied: [info: { config: RuntimeConfig; change: AppliedChange; nonce: number }];
  /** A push was refused and NACKed; the serving config is unchanged. */
  rejected: [info: { error: ConfigRejectedError; nonce: number }];
  /** A ResyncRequest was sent. */
  resync: [info: { reason: string }];
}

/** Options of `SyncClient`. */
export interface SyncClientOptions {
  /** The control plane's origin, e.g. `ws://127.0.0.1:8005` or `wss://cp.internal:8005` (the path is fixed: `/v1/stream`). */
  readonly url: string;
  /**
   * Mutual TLS toward the control plane (needs a `wss://` url): the client certificate to present
   * and how the control plane's certificate is verified. A `wss://` url without it verifies the
   * control plane against the system CAs and presents no certificate.
   */
  readonly tls?: ClusterTls;
  /** The node id (a UUID persisted in the cache directory). */
  readonly nodeId: string;
  /** Random per process start (default: a new UUID). */
  readonly instanceId?: string;
  readonly buildVersion?: string;
  /** Default `os.hostname()`. */
  readonly hostname?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The config served now (Hello, Heartbeat and Ack report it; deltas apply to it). */
  readonly getConfig: () => RuntimeConfig | null;
  /**
   * Swaps in an applied config. Called once per applied push, before the ACK; synchronous so that
   * the swap is one reference assignment. Persisting is the callee's business (coalesced).
   */
  readonly commit: (config: RuntimeConfig, change: AppliedChange) => void;
  readonly logger?: Logger;
  /** Largest frame accepted, in bytes (default `MAX_FRAME_BYTES`, 8 MiB). */
  readonly maxFrameBytes?: number;
  /** Slack on dead-peer detection, in ms (default `HEARTBEAT_GRACE_MS`). */
  readonly heartbeatGraceMs?: number;
  /** Backoff tuning (base, cap, random source). */
  readonly backoff?: ReconnectBackoffOptions;
  /** Connection time after which the backoff resets, in ms (default 60 s). */
  readonly resetAfterMs?: number;
  /** The clock, ms since the Unix epoch (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Longest slice of work an apply runs before the proxy's event loop gets a turn, in ms (default
   * `APPLY_SLICE_MS`, 10): a large snapshot is checked and built in slices while the current
   * config keeps serving.
   */
  readonly applySliceMs?: number;
}

/** A push being applied: its nonce, kind, and since when (ms since the Unix epoch). */
export interface PushInFlight {
  readonly nonce: number;
  readonly kind: AppliedChange['kind'];
  readonly sinceMs: number;
}

interface Connection {
  readonly ws: WebSocket;
  heartbeatIntervalMs: number;
  handshakeDone: boolean;
  connectedAtMs: number;
  lastReceivedMs: number;
  lastPushActivityMs: number;
  head: ConfigStateMessage | null;
  assembler: SnapshotAssembler | null;
  /** The nonce of a snapshot refused at SnapshotBegin (too large): its chunks are skipped, not buffered. */
  skippedNonce: number | null;
  /** The push being applied (inflated, then checked and built in slices), or null. */
  applying: PushInFlight | null;
  goAway: { minMs: number; maxMs: number } | null;
  retryAfterMs: number | null;
  timers: NodeJS.Timeout[];
  closing: boolean;
}

/**
 * The data plane's side of the cluster stream (docs/protocol.md): connects to the control plane,
 * says what it serves in `Hello`, applies the pushes that follow (deltas and chunked snapshots,
 * all-or-nothing, one at a time) and answers each with an Ack or a NACK, exchanges heartbeats,
 * drops a silent control plane after `2 × interval + grace`, asks for a resync when it sees head
 * ahead with nothing arriving, and reconnects with exponential backoff and full jitter.
 *
 * It never holds the config itself: `getConfig` and `commit` belong to the owner (`DataPlane`).
 */
export class SyncClient extends EventEmitter<SyncClientEvents> {
  readonly url: string;
  readonly streamUrl: string;
  readonly instanceId: string;
  private readonly options: SyncClientOptions;
  private readonly logger: Logger;
  private readonly backoff: ReconnectBackoff;
  private readonly now: () => number;
  private connection: Connection | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private isStarted = false;
  private isStopped = false;
  private stateValue: ConnectionState = ConnectionState.DISCONNECTED;
  private stateSince: number;
  private lastErrorValue: SyncErrorView | null = null;
  /** Connections attempted after the first one. */
  reconnects = 0;

  constructor(options: SyncClientOptions) {
    super();
    this.options = options;
    this.url = options.url.replace(/\/+$/, '');
    this.streamUrl = this.url + STREAM_PATH;
    if (options.tls && !this.url.startsWith('wss://')) throw new InvalidArgumentError(`cluster TLS needs a wss:// control plane URL, got ${JSON.stringify(this.url)}`);
    this.instanceId = options.instanceId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.backoff = new ReconnectBackoff(options.backoff);
    this.now = options.now ?? Date.now;
    this.stateSince = this.now();
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.stateValue;
  }

  /** When the connection entered its current state, in ms since the Unix epoch. */
  get stateSinceMs(): number {
    return this.stateSince;
  }

  /** The last error (connection, protocol or refused config), or null. */
  get lastError(): SyncErrorView | null {
    return this.lastErrorValue;
  }

  /** The push being applied now (its nonce, kind, and since when in ms since the Unix epoch), or null. */
  get applying(): PushInFlight | null {
    return this.connection?.applying ?? null;
  }

  /** The control plane's head as last announced (HelloAck or Heartbeat), or null. */
  get head(): ConfigStateView | null {
    return this.connection?.head ? configStateView(this.connection.head) : null;
  }

  /** Starts connecting; the first attempt is jittered by up to the backoff base (herd control after a fleet restart). */
  start(): void {
    if (this.isStarted) return;
    this.isStarted = true;
    this.setState(ConnectionState.CONNECTING);
    this.scheduleConnect(this.backoff.initial());
  }

  /** Closes the connection (1001 going away) and stops reconnecting. Resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const connection = this.connection;
    if (!connection) {
      this.setState(ConnectionState.DISCONNECTED);
      return;
    }
    await new Promise<void>((resolve) => {
      if (connection.ws.readyState === WebSocket.CLOSED) return resolve();
      connection.ws.once('close', () => resolve());
      this.closeConnection(connection, CloseCode.GOING_AWAY, 'data plane stopping');
    });
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.stateSince = this.now();
    this.emit('state', state);
  }

  private recordError(code: string, message: string): void {
    this.lastErrorValue = { code, message, atMs: this.now() };
  }

  private scheduleConnect(delayMs: number): void {
    if (this.isStopped) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delayMs);
  }

  private connect(): void {
    if (this.isStopped) return;
    this.setState(ConnectionState.CONNECTING);
    const maxPayload = this.options.maxFrameBytes ?? MAX_FRAME_BYTES;
    const isSecure = this.streamUrl.startsWith('wss://');
    const tls = this.options.tls?.connectOptions(new URL(this.url).hostname.replace(/^\[|\]$/g, '')) ?? {};
    // Whether the TLS handshake completed, as seen from here: under TLS 1.3 a control plane that
    // refuses our certificate does so after our side of the handshake is done, by hanging up.
    let isTlsEstablished = false;
    const createConnection = (options: ConnectionOptions) => {
      // As ws's own tlsConnect: the request's `path` is the URL path, not an IPC socket path.
      const socket = tlsConnect({ ...options, path: undefined });
      socket.once('secureConnect', () => {
        isTlsEstablished = true;
      });
      return socket;
    };
    // ws hands the TLS options to tls.connect unchanged; @types/ws declares `checkServerIdentity`
    // with an older signature than Node's, hence the cast.
    const ws = new WebSocket(this.streamUrl, {
      perMessageDeflate: false,
      maxPayload,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      ...tls,
      ...(this.options.tls ? { createConnection } : {}),
    } as ClientOptions);
    let isOpen = false;
    const now = this.now();
    const connection: Connection = {
      ws,
      heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
      handshakeDone: false,
      connectedAtMs: 0,
      lastReceivedMs: now,
      lastPushActivityMs: now,
      head: null,
      assembler: null,
      skippedNonce: null,
      applying: null,
      goAway: null,
      retryAfterMs: null,
      timers: [],
      closing: false,
    };
    this.connection = connection;
    let closeError: DataPlaneError | null = null;
    ws.on('open', () => {
      isOpen = true;
      this.send(connection, { hello: this.hello() });
      const helloAckTimer = setTimeout(() => {
        if (!connection.handshakeDone) {
          this.recordError(DataPlaneErrorCode.SYNC_CONNECTION, `no HelloAck within ${HELLO_ACK_TIMEOUT_MS} ms`);
          this.closeConnection(connection, CloseCode.POLICY, 'no HelloAck');
        }
      }, HELLO_ACK_TIMEOUT_MS);
      connection.timers.push(helloAckTimer);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      connection.lastReceivedMs = this.now();
      if (!isBinary) {
        this.protocolFailure(connection, new SyncProtocolError('text frame on the cluster stream', CloseCode.PROTOCOL_ERROR));
        return;
      }
      this.onFrame(connection, frameBytes(data as Buffer | ArrayBuffer | Buffer[]));
    });
    ws.on('ping', () => {
      connection.lastReceivedMs = this.now();
    });
    ws.on('pong', () => {
      connection.lastReceivedMs = this.now();
    });
    ws.on('error', (err: Error) => {
      // The first error of a connection is its cause; later ones (e.g. the abort after an HTTP
      // refusal of the upgrade) only echo it.
      if (closeError) return;
      const error = connectionError(err, { isSecure, isOpen, isTlsEstablished, mode: this.options.tls?.mode ?? null });
      closeError = error;
      this.recordError(error.code, error.message);
      if (error instanceof SyncTlsError) this.logger.warn({ err, code: error.code, url: this.streamUrl }, 'TLS with the control plane failed');
      else this.logger.debug({ err, url: this.streamUrl }, 'control plane connection error');
    });
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const error =
        isSecure && (status === 401 || status === 403)
          ? new SyncTlsError(`the control plane refused this data plane's certificate (HTTP ${status} at the upgrade)`)
          : new SyncConnectionError(`control plane answered the upgrade with HTTP ${status}`);
      if (error instanceof SyncTlsError && !closeError) this.logger.warn({ code: error.code, status, url: this.streamUrl }, error.message);
      closeError ??= error;
      this.recordError(error.code, error.message);
      res.resume();
      ws.terminate();
    });
    ws.on('close', (code: number, reasonBuffer: Buffer) => {
      const reason = reasonBuffer.toString('utf8');
      for (const t of connection.timers) clearTimeout(t);
      connection.timers.length = 0;
      if (this.connection === connection) this.connection = null;
      if (connection.connectedAtMs > 0 && this.now() - connection.connectedAtMs >= (this.options.resetAfterMs ?? RECONNECT_RESET_AFTER_MS)) this.backoff.reset();
      if (code !== CloseCode.NORMAL && code !== CloseCode.GOING_AWAY && code !== 1005 && !closeError && !connection.closing) {
        closeError = new SyncConnectionError(`control plane closed the stream: ${code}${reason ? ` ${reason}` : ''}`, code);
        this.recordError(closeError.code, closeError.message);
      }
      let retryInMs: number | null = null;
      if (!this.isStopped) {
        if (connection.goAway) retryInMs = this.backoff.within(connection.goAway.minMs, connection.goAway.maxMs);
        else if (code === CloseCode.RETRY_LATER && connection.retryAfterMs !== null) retryInMs = this.backoff.within(connection.retryAfterMs, connection.retryAfterMs * 1.5);
        else retryInMs = this.backoff.next();
        this.reconnects++;
        this.scheduleConnect(retryInMs);
      }
      this.setState(ConnectionState.DISCONNECTED);
      this.logger.info({ code, reason, retryInMs, url: this.streamUrl }, 'control plane connection closed');
      this.emit('disconnected', { code, reason, error: closeError, retryInMs });
    });
  }

  private hello(): EnvelopeProperties['hello'] {
    const config = this.options.getConfig();
    return {
      protocolVersion: PROTOCOL_VERSION,
      nodeId: this.options.nodeId,
      instanceId: this.instanceId,
      buildVersion: this.options.buildVersion ?? '',
      hostname: this.options.hostname ?? osHostname(),
      labels: { ...(this.options.labels ?? {}) },
      capabilities: [],
      codecs: [pb.Codec.CODEC_NONE, pb.Codec.CODEC_GZIP],
      maxFrameBytes: this.options.maxFrameBytes ?? MAX_FRAME_BYTES,
      applied: this.appliedState(config),
    };
  }

  private appliedState(config = this.options.getConfig()): ConfigStateMessage {
    return config ? config.state() : { epoch: '', version: 0, hash: new Uint8Array(0) };
  }

  private send(connection: Connection, envelope: EnvelopeProperties): void {
    if (connection.ws.readyState !== WebSocket.OPEN) return;
    connection.ws.send(encodeFrame(envelope), { binary: true });
  }

  private closeConnection(connection: Connection, code: number, reason: string): void {
    if (connection.closing) return;
    connection.closing = true;
    const ws = connection.ws;
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

  private protocolFailure(connection: Connection, error: SyncProtocolError): void {
    this.recordError(error.code, error.message);
    this.logger.warn({ err: error, code: error.code }, 'control plane broke the protocol; reconnecting');
    this.closeConnection(connection, error.closeCode, error.message.slice(0, 120));
  }

  private onFrame(connection: Connection, bytes: Uint8Array): void {
    if (this.connection !== connection || connection.closing) return;
    let envelope;
    try {
      envelope = decodeFrame(bytes, this.options.maxFrameBytes ?? MAX_FRAME_BYTES);
    } catch (err) {
      const e = err as ProtocolError;
      this.protocolFailure(connection, new SyncProtocolError(e.message, e.closeCode ?? CloseCode.PROTOCOL_ERROR, { cause: err }));
      return;
    }
    if (!connection.handshakeDone && envelope.msg !== 'helloAck' && envelope.msg !== 'error') {
      this.protocolFailure(connection, new SyncProtocolError(`${envelope.msg} before HelloAck`, CloseCode.PROTOCOL_ERROR));
      return;
    }
    if (connection.applying !== null && (envelope.msg === 'delta' || envelope.msg === 'snapshotBegin')) {
      // One push in flight (docs/protocol.md): the next one waits for this one's Ack.
      this.protocolFailure(connection, new SyncProtocolError(`${envelope.msg} while push ${connection.applying.nonce} is being applied`, CloseCode.PROTOCOL_ERROR));
      return;
    }
    switch (envelope.msg) {
      case 'helloAck':
        return this.onHelloAck(connection, envelope.helloAck!);
      case 'heartbeat':
        connection.head = envelope.heartbeat!.state ?? connection.head;
        return;
      case 'delta':
        return this.onDelta(connection, envelope.delta!);
      case 'snapshotBegin':
        return this.onSnapshotBegin(connection, envelope.snapshotBegin!);
      case 'snapshotChunk':
        return this.onSnapshotChunk(connection, envelope.snapshotChunk!);
      case 'snapshotEnd':
        return this.onSnapshotEnd(connection, Number(envelope.snapshotEnd!.nonce ?? 0));
      case 'goAway': {
        const g = envelope.goAway!;
        connection.goAway = { minMs: g.reconnectMinMs ?? 0, maxMs: g.reconnectMaxMs ?? 0 };
        this.logger.info({ reason: g.reason, minMs: g.reconnectMinMs, maxMs: g.reconnectMaxMs }, 'control plane is draining (GoAway)');
        this.recordError(DataPlaneErrorCode.SYNC_GO_AWAY, `GoAway: ${g.reason ?? ''}`);
        return;
      }
      case 'error': {
        const e = envelope.error!;
        this.recordError(DataPlaneErrorCode.SYNC_REFUSED, `control plane refused the stream: ${e.code ?? 0} ${e.message ?? ''}`);
        this.logger.error({ code: e.code, message: e.message }, 'control plane sent a ProtocolError');
        return;
      }
      default:
        this.protocolFailure(connection, new SyncProtocolError(`unexpected ${envelope.msg} frame from the control plane`, CloseCode.PROTOCOL_ERROR));
    }
  }

  private onHelloAck(connection: Connection, ack: HelloAckMessage): void {
    if (connection.handshakeDone) {
      this.protocolFailure(connection, new SyncProtocolError('second HelloAck', CloseCode.PROTOCOL_ERROR));
      return;
    }
    connection.handshakeDone = true;
    connection.head = ack.head ?? null;
    connection.lastPushActivityMs = this.now();
    if (ack.heartbeatIntervalMs && ack.heartbeatIntervalMs > 0) connection.heartbeatIntervalMs = ack.heartbeatIntervalMs;
    const mode = (pb.HelloAck.Mode as unknown as Record<number, string>)[ack.mode ?? 0] ?? String(ack.mode);
    if (ack.mode === pb.HelloAck.Mode.MODE_RETRY_LATER) {
      connection.retryAfterMs = ack.retryAfterMs ?? null;
      this.recordError(DataPlaneErrorCode.SYNC_RETRY_LATER, `control plane asked to retry after ${ack.retryAfterMs} ms`);
      this.logger.info({ retryAfterMs: ack.retryAfterMs }, 'control plane asked to retry later');
      return;
    }
    connection.connectedAtMs = this.now();
    this.setState(ConnectionState.CONNECTED);
    this.startHeartbeats(connection);
    const head = configStateView(ack.head);
    this.logger.info({ url: this.streamUrl, mode, head }, 'connected to the control plane');
    this.emit('connected', { cpInstanceId: ack.cpInstanceId ?? '', head, mode });
  }

  private startHeartbeats(connection: Connection): void {
    const interval = connection.heartbeatIntervalMs;
    const grace = this.options.heartbeatGraceMs ?? HEARTBEAT_GRACE_MS;
    const deadAfterMs = 2 * interval + grace;
    // Liveness is checked more often than heartbeats are sent, so a dead peer is dropped close to
    // `2 × interval + grace`, not up to one more interval later.
    const liveness = setInterval(() => {
      if (connection.closing) return;
      const silentMs = this.now() - connection.lastReceivedMs;
      if (silentMs > deadAfterMs) {
        this.recordError(DataPlaneErrorCode.SYNC_HEARTBEAT_TIMEOUT, `nothing from the control plane for ${silentMs} ms`);
        this.logger.warn({ silentMs }, 'control plane is silent; dropping the connection');
        this.closeConnection(connection, CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      }
    }, Math.max(10, Math.floor(Math.min(interval, grace) / 4)));
    const heartbeat = setInterval(() => {
      if (connection.closing) return;
      const now = this.now();
      const config = this.options.getConfig();
      this.send(connection, { heartbeat: { sentAtMs: now, state: this.appliedState(config), inflightNonce: connection.assembler?.nonce ?? connection.applying?.nonce ?? 0 } });
      if (this.isBehind(connection, config) && !connection.assembler && connection.applying === null && now - connection.lastPushActivityMs >= 2 * interval) {
        connection.lastPushActivityMs = now;
        this.send(connection, { resync: { reason: pb.ResyncRequest.Reason.REASON_STALL, applied: this.appliedState(config) } });
        this.logger.warn({ head: configStateView(connection.head), applied: config ? `${config.epoch}@${config.version}` : null }, 'head is ahead and nothing arrives; asking for a resync');
        this.emit('resync', { reason: 'REASON_STALL' });
      }
    }, interval);
    connection.timers.push(liveness, heartbeat);
  }

  private isBehind(connection: Connection, config: RuntimeConfig | null): boolean {
    const head = connection.head;
    if (!head || !head.epoch) return false;
    if (!config) return true;
    if (head.epoch !== config.epoch) return true;
    return Number(head.version ?? 0) > config.version;
  }

  private onDelta(connection: Connection, delta: ConfigDeltaMessage): void {
    connection.lastPushActivityMs = this.now();
    const nonce = Number(delta.nonce ?? 0);
    const version = Number(delta.toVersion ?? 0);
    const batch = this.unpack(connection, nonce, version, delta.body ?? null);
    if (!batch) return;
    const input: DeltaInput = {
      epoch: delta.epoch ?? '',
      fromVersion: Number(delta.fromVersion ?? 0),
      toVersion: version,
      targetHash: delta.targetHash ?? new Uint8Array(0),
      batch,
    };
    this.apply(connection, nonce, deltaSteps(this.options.getConfig(), input, { source: ConfigOrigin.CONTROL_PLANE, now: this.now }), { kind: 'delta', delta: input });
  }

  private onSnapshotBegin(connection: Connection, begin: SnapshotBeginMessage): void {
    connection.lastPushActivityMs = this.now();
    if (connection.assembler) {
      this.protocolFailure(connection, new SyncProtocolError('SnapshotBegin while another snapshot is in flight', CloseCode.PROTOCOL_ERROR));
      return;
    }
    try {
      connection.assembler = new SnapshotAssembler(begin);
    } catch (err) {
      const e = err as ProtocolError;
      if (e.code === ProtocolErrorCode.BLOB_TOO_LARGE) {
        // Refuse without buffering; the chunks that follow are skipped (no assembler for their nonce).
        connection.assembler = null;
        this.nack(connection, Number(begin.nonce ?? 0), new ConfigRejectedError(AckError.ERROR_TOO_LARGE, e.message, { rejectedVersion: Number(begin.target?.version ?? 0) }));
        connection.skippedNonce = Number(begin.nonce ?? 0);
        return;
      }
      this.protocolFailure(connection, new SyncProtocolError(e.message, CloseCode.PROTOCOL_ERROR, { cause: err }));
    }
  }

  private onSnapshotChunk(connection: Connection, chunk: SnapshotChunkMessage): void {
    connection.lastPushActivityMs = this.now();
    if (!connection.assembler) {
      if (connection.skippedNonce === Number(chunk.nonce ?? 0)) return;
      this.protocolFailure(connection, new SyncProtocolError('SnapshotChunk without SnapshotBegin', CloseCode.PROTOCOL_ERROR));
      return;
    }
    try {
      connection.assembler.add(chunk);
    } catch (err) {
      this.protocolFailure(connection, new SyncProtocolError((err as Error).message, CloseCode.PROTOCOL_ERROR, { cause: err }));
    }
  }

  private onSnapshotEnd(connection: Connection, nonce: number): void {
    connection.lastPushActivityMs = this.now();
    const assembler = connection.assembler;
    connection.assembler = null;
    if (!assembler) {
      if (connection.skippedNonce === nonce) {
        connection.skippedNonce = null;
        return;
      }
      this.protocolFailure(connection, new SyncProtocolError('SnapshotEnd without SnapshotBegin', CloseCode.PROTOCOL_ERROR));
      return;
    }
    let body: PackedBody;
    try {
      body = assembler.finish(nonce);
    } catch (err) {
      this.protocolFailure(connection, new SyncProtocolError((err as Error).message, CloseCode.PROTOCOL_ERROR, { cause: err }));
      return;
    }
    const target = assembler.begin.target;
    const t: ConfigTarget = { epoch: target?.epoch ?? '', version: Number(target?.version ?? 0), hash: target?.hash ?? new Uint8Array(0) };
    // The push is in flight from here: inflated on the thread pool, then checked and built in slices.
    connection.applying = { nonce, kind: 'snapshot', sinceMs: this.now() };
    unpackBatchAsync(body).then(
      (batch) => {
        if (this.isLive(connection)) this.applySnapshotBatch(connection, nonce, t, batch);
        else this.endPush(connection);
      },
      (err: unknown) => {
        if (this.endPush(connection)) this.nack(connection, nonce, unpackRefusal(err, t.version));
      },
    );
  }

  /** Whether `connection` is the live one: a push on a closed or replaced connection is abandoned. */
  private isLive(connection: Connection): boolean {
    return this.connection === connection && !connection.closing;
  }

  /** Ends the push in flight on `connection`; true when its outcome is to be sent, false when it was abandoned. */
  private endPush(connection: Connection): boolean {
    const push = connection.applying;
    connection.applying = null;
    if (this.isLive(connection)) return true;
    if (push !== null) this.logger.info({ nonce: push.nonce, kind: push.kind }, 'connection closed while a push was applied; dropped it');
    return false;
  }

  private applySnapshotBatch(connection: Connection, nonce: number, t: ConfigTarget, batch: InstanceType<typeof pb.ResourceBatch>): void {
    const current = this.options.getConfig();
    if (current && current.epoch === t.epoch && current.version === t.version && hashEquals(current.hashBytes, t.hash)) {
      // The snapshot is exactly what is served (e.g. a resync that crossed an apply): nothing to build.
      connection.applying = null;
      this.send(connection, { ack: { nonce, applied: current.state(), error: AckError.ERROR_NONE, rejectedVersion: 0 } });
      return;
    }
    this.apply(connection, nonce, snapshotSteps(batch, t, { current, source: ConfigOrigin.CONTROL_PLANE, now: this.now }), { kind: 'snapshot', target: t, batch });
  }

  /** Decompresses and decodes a push body; NACKs (ERROR_TOO_LARGE / ERROR_DECODE) and returns null when it cannot. */
  private unpack(connection: Connection, nonce: number, version: number, body: PackedBody | BlobMessage | null): InstanceType<typeof pb.ResourceBatch> | null {
    if (!body) {
      this.nack(connection, nonce, new ConfigRejectedError(AckError.ERROR_DECODE, 'push without a body', { rejectedVersion: version }));
      return null;
    }
    try {
      return unpackBatch(packedBody(body));
    } catch (err) {
      this.nack(connection, nonce, unpackRefusal(err, version));
      return null;
    }
  }

  /**
   * Checks and builds a push in slices (the serving config keeps proxying between them), then
   * commits and ACKs it, or NACKs it. A push whose connection closes meanwhile is abandoned
   * between two slices: its control plane will push again on the next connection.
   */
  private apply(connection: Connection, nonce: number, steps: Steps<ApplyResult>, change: AppliedChange): void {
    // A snapshot's push has been in flight since it was whole (its inflate came first).
    connection.applying = connection.applying?.nonce === nonce ? connection.applying : { nonce, kind: change.kind, sinceMs: this.now() };
    this.emit('applying', { nonce, kind: change.kind });
    runStepsSliced(steps, { sliceMs: this.options.applySliceMs ?? APPLY_SLICE_MS, isCancelled: () => !this.isLive(connection) }).then(
      (result) => {
        if (this.endPush(connection)) this.finish(connection, nonce, result, change);
      },
      (err: unknown) => {
        // StepsCancelledError is only thrown for a connection no longer live: endPush logs it.
        if (!this.endPush(connection) || err instanceof StepsCancelledError) return;
        // Not a refusal the checks produce (those are results): a defect. NACK it, keep serving.
        const version = change.kind === 'delta' ? change.delta.toVersion : change.target.version;
        this.nack(connection, nonce, new ConfigRejectedError(AckError.ERROR_INTERNAL, `apply failed: ${(err as Error).message}`, { rejectedVersion: version, cause: err }));
      },
    );
  }

  private finish(connection: Connection, nonce: number, result: ApplyResult, change: AppliedChange): void {
    // The last slice of an apply held the event loop for a moment: that was us, not a silent peer.
    connection.lastReceivedMs = this.now();
    if (!result.ok) {
      this.nack(connection, nonce, result.error);
      return;
    }
    try {
      this.options.commit(result.config, change);
    } catch (err) {
      this.nack(connection, nonce, new ConfigRejectedError(AckError.ERROR_INTERNAL, `commit failed: ${(err as Error).message}`, { rejectedVersion: result.config.version, cause: err }));
      return;
    }
    this.send(connection, { ack: { nonce, applied: result.config.state(), error: AckError.ERROR_NONE, rejectedVersion: 0 } });
    this.logger.info({ epoch: result.config.epoch, version: result.config.version, kind: change.kind, nonce }, 'config applied');
    this.emit('applied', { config: result.config, change, nonce });
  }

  private nack(connection: Connection, nonce: number, error: ConfigRejectedError): void {
    this.recordError(error.code, error.message);
    this.logger.warn({ err: error, ackError: error.ackError, rejectedVersion: error.rejectedVersion, resourceErrors: error.resourceErrors.length }, 'config refused; keeping the last good config');
    this.send(connection, {
      ack: {
        nonce,
        applied: this.appliedState(),
        error: error.ackError,
        message: error.message,
        resourceErrors: error.resourceErrors.map((e) => ({ key: { type: e.type, id: e.id }, code: e.code, message: e.message })),
        rejectedVersion: error.rejectedVersion,
      },
    });
    this.emit('rejected', { error, nonce });
  }
}

/** A push body as `unpackBatch` takes it (absent protobuf fields as their defaults). */
function packedBody(body: PackedBody | BlobMessage): PackedBody {
  return { codec: body.codec ?? 0, rawSize: Number(body.rawSize ?? 0), rawSha256: body.rawSha256 ?? new Uint8Array(0), data: body.data ?? new Uint8Array(0) };
}

/** The NACK for a body that does not unpack: too large, or undecodable (codec, checksum, protobuf). */
function unpackRefusal(err: unknown, version: number): ConfigRejectedError {
  const e = err as ProtocolError;
  const ackError = e.code === ProtocolErrorCode.BLOB_TOO_LARGE ? AckError.ERROR_TOO_LARGE : AckError.ERROR_DECODE;
  return new ConfigRejectedError(ackError, e.message, { rejectedVersion: version, cause: err });
}

/** OpenSSL's certificate verification results, as Node reports them in `err.code`. */
const CERT_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * The error to record for a failed connection: a {@link SyncTlsError} when TLS itself failed (with
 * which side refused what), else a {@link SyncConnectionError}, with a hint when the control plane
 * hung up before the upgrade (what a TLS control plane does to a plain ws:// client, and to a
 * client certificate it does not admit under TLS 1.3).
 */
function connectionError(
  err: Error,
  { isSecure, isOpen, isTlsEstablished, mode }: { isSecure: boolean; isOpen: boolean; isTlsEstablished: boolean; mode: ClusterTls['mode'] | null },
): DataPlaneError {
  if (err instanceof SyncTlsError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // OpenSSL errors carry a one-line `reason`; their message is a long internal trace.
  const reason = (err as { reason?: unknown }).reason;
  const detail = typeof reason === 'string' && reason ? reason : err.message;
  if (code.startsWith('ERR_SSL_') && /alert/i.test(code)) {
    return new SyncTlsError(`the control plane refused this data plane's certificate (${code}: ${detail})`, { cause: err });
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new SyncTlsError(`the control plane does not answer in TLS on this port (${code}); is its cluster stream plain ws://?`, { cause: err });
  }
  if (mode === 'shared' && CERT_VERIFY_CODES.has(code)) {
    return new SyncTlsError(`the control plane's certificate is not the shared cluster certificate (${code}: ${detail})`, { cause: err });
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || CERT_VERIFY_CODES.has(code)) {
    return new SyncTlsError(`the control plane's certificate was refused or TLS failed (${code}: ${detail})`, { cause: err });
  }
  const isHangUp = code === 'ECONNRESET' || /socket hang up|disconnected before secure TLS/i.test(err.message);
  if (!isOpen && isHangUp && isTlsEstablished) {
    return new SyncTlsError(
      `the control plane hung up right after the TLS handshake, before answering the upgrade: it did not admit this data plane's certificate (${err.message})`,
      { cause: err },
    );
  }
  if (!isOpen && isHangUp) {
    const hint = isSecure
      ? 'the control plane hung up during the TLS handshake or upgrade: it may not admit this data plane\'s certificate'
      : 'the control plane hung up before the upgrade: if its cluster stream uses TLS, connect with wss:// and --cluster-cert/--cluster-cert-key';
    return new SyncConnectionError(`control plane connection error: ${err.message} (${hint})`, undefined, { cause: err });
  }
  return new SyncConnectionError(`control plane connection error: ${err.message}`, undefined, { cause: err });
}
