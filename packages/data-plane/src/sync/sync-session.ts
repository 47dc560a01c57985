import { hostname as osHostname } from 'node:os';
import {
  CloseCode,
  configStateView,
  MAX_FRAME_BYTES,
  pb,
  PROTOCOL_VERSION,
  type ConfigStateMessage,
  type ConfigStateView,
  type EnvelopeProperties,
  type HelloAckMessage,
} from '@sluice/protocol';
import { loadedPluginNames, pluginCapabilities } from '../config/loaded-plugins.js';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { DataPlaneErrorCode, SyncProtocolError, type DataPlaneError } from '../errors.js';
import type { ClusterTls } from './cluster-tls.js';
import { appliedState, isPushFrame, PushPipeline, type PushInFlight, type PushPipelineHost, type PushPipelineOptions } from './push-pipeline.js';
import { StreamConnection, type StreamFrame } from './stream-connection.js';

/** Heartbeat interval used until the HelloAck names one, in ms (default 5 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;

/** Slack added to two heartbeat intervals before a silent control plane is declared dead, in ms (default 2 s). */
export const HEARTBEAT_GRACE_MS = 2_000;

/** How long after Hello the HelloAck may take, in ms (default 10 s); then the attempt is abandoned. */
export const HELLO_ACK_TIMEOUT_MS = 10_000;

/** Options of `SyncSession`: the transport's, the pushes', and what Hello says. */
export interface SyncSessionOptions extends PushPipelineOptions {
  /** The stream URL, `ws://host:port/v1/stream` or `wss://…`. */
  readonly streamUrl: string;
  /** Mutual TLS toward the control plane (needs a `wss://` url). */
  readonly tls?: ClusterTls;
  /** Largest frame accepted, in bytes (default `MAX_FRAME_BYTES`, 8 MiB); also announced in Hello. */
  readonly maxFrameBytes?: number;
  /** Slack on dead-peer detection, in ms (default {@link HEARTBEAT_GRACE_MS}). */
  readonly heartbeatGraceMs?: number;
  readonly nodeId: string;
  readonly instanceId: string;
  readonly buildVersion?: string;
  /** Default `os.hostname()`. */
  readonly hostname?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** How a session ended: what its owner needs to choose when to reconnect. */
export interface SessionEnd {
  /** The WebSocket close code. */
  readonly code: number;
  readonly reason: string;
  /** The first failure that explains the close, or null for an orderly one. */
  readonly error: DataPlaneError | null;
  /** The reconnect window of the control plane's GoAway, in ms, when it sent one. */
  readonly goAway: { readonly minMs: number; readonly maxMs: number } | null;
  /** The delay a RETRY_LATER HelloAck asked for, in ms, or null. */
  readonly retryAfterMs: number | null;
  /** When the handshake completed, in ms since the Unix epoch; 0 when it did not. */
  readonly connectedAtMs: number;
}

/** Where a session reports: the sync client's last error, state and events. */
export interface SyncSessionHost extends Pick<PushPipelineHost, 'recordError' | 'applying' | 'applied' | 'rejected'> {
  /** The handshake completed (any mode but RETRY_LATER): pushes flow. */
  connected(info: { cpInstanceId: string; head: ConfigStateView; mode: string }): void;
  /** A ResyncRequest was sent. */
  resync(info: { reason: string }): void;
  /** The control plane said how many data planes are connected across the cluster (HelloAck, Heartbeat). */
  connectedDataPlanes(count: number): void;
  /** The control plane sent GoAway: it is draining; the owner moves elsewhere within the window (ms). */
  goAway(window: { minMs: number; maxMs: number }): void;
  /** The connection closed: the session is over. */
  closed(end: SessionEnd): void;
}

/**
 * One connection's worth of the cluster stream protocol (docs/protocol.md), from the data plane's
 * side: opens a {@link StreamConnection}, says what it serves in Hello, waits
 * {@link HELLO_ACK_TIMEOUT_MS} for the HelloAck, then sends heartbeats every interval, drops a
 * silent control plane after `2 × interval + grace` (close 4002), asks for a resync when head is
 * ahead and no push arrived for two intervals, records GoAway and RETRY_LATER for the reconnect,
 * and hands pushes to its {@link PushPipeline}. A session is not reused: the next connection is a
 * new one.
 */
export class SyncSession {
  /** Resolves once the connection closed and `host.closed` ran. */
  readonly closed: Promise<void>;
  private readonly options: SyncSessionOptions;
  private readonly host: SyncSessionHost;
  private readonly stream: StreamConnection;
  private readonly pushes: PushPipeline;
  private heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  private isHandshakeDone = false;
  private connectedAtMs = 0;
  /** When the handshake completed or a stall resync was sent: stall detection counts from the later of this and the last push frame. */
  private stallBaseMs = 0;
  private headValue: ConfigStateMessage | null = null;
  /** The plugins the control plane's last heartbeat said the head uses and this data plane lacks (it withholds the head meanwhile). */
  private missingPluginsValue: readonly string[] = [];
  private goAway: { minMs: number; maxMs: number } | null = null;
  private retryAfterMs: number | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private isClosed = false;

  constructor(options: SyncSessionOptions, host: SyncSessionHost) {
    this.options = options;
    this.host = host;
    this.pushes = new PushPipeline(options, {
      send: (envelope) => this.stream.send(envelope),
      isLive: () => !this.isClosed && !this.stream.isClosing,
      protocolFailure: (error) => this.protocolFailure(error),
      recordError: (code, message) => host.recordError(code, message),
      applying: (info) => host.applying(info),
      applied: (info) => host.applied(info),
      rejected: (info) => host.rejected(info),
    });
    this.stream = new StreamConnection({ url: options.streamUrl, tls: options.tls, maxFrameBytes: options.maxFrameBytes, now: options.now, logger: options.logger });
    this.stream.on('open', () => this.onOpen());
    this.stream.on('frame', (frame) => this.onFrame(frame));
    this.stream.on('protocol-error', (error) => this.protocolFailure(error));
    this.stream.on('failure', (error) => host.recordError(error.code, error.message));
    this.closed = new Promise((resolve) => {
      this.stream.on('close', ({ code, reason, error }) => {
        for (const t of this.timers) clearTimeout(t);
        this.timers.length = 0;
        this.isClosed = true;
        host.closed({ code, reason, error, goAway: this.goAway, retryAfterMs: this.retryAfterMs, connectedAtMs: this.connectedAtMs });
        resolve();
      });
    });
  }

  /** The control plane's head as last announced (HelloAck or Heartbeat), or null. */
  get head(): ConfigStateMessage | null {
    return this.headValue;
  }

  /** The plugins the head uses that this data plane has not loaded, as the control plane last said; non-empty while it withholds the head. */
  get missingPlugins(): readonly string[] {
    return this.missingPluginsValue;
  }

  /** The push being applied now, or null. */
  get applying(): PushInFlight | null {
    return this.pushes.applying;
  }

  /** Closes the connection with `code` (a push being applied is abandoned). Idempotent. */
  close(code: number, reason: string): void {
    this.stream.close(code, reason);
  }

  private onOpen(): void {
    this.stream.send({ hello: this.hello() });
    const helloAckTimer = setTimeout(() => {
      if (!this.isHandshakeDone) {
        this.host.recordError(DataPlaneErrorCode.SYNC_CONNECTION, `no HelloAck within ${HELLO_ACK_TIMEOUT_MS} ms`);
        this.stream.close(CloseCode.POLICY, 'no HelloAck');
      }
    }, HELLO_ACK_TIMEOUT_MS);
    this.timers.push(helloAckTimer);
  }

  private hello(): EnvelopeProperties['hello'] {
    const options = this.options;
    return {
      protocolVersion: PROTOCOL_VERSION,
      nodeId: options.nodeId,
      instanceId: options.instanceId,
      buildVersion: options.buildVersion ?? '',
      hostname: options.hostname ?? osHostname(),
      labels: { ...(options.labels ?? {}) },
      capabilities: [],
      plugins: pluginCapabilities(loadedPluginNames(options.plugins)),
      codecs: [pb.Codec.CODEC_NONE, pb.Codec.CODEC_GZIP],
      maxFrameBytes: options.maxFrameBytes ?? MAX_FRAME_BYTES,
      applied: appliedState(options.getConfig()),
    };
  }

  private protocolFailure(error: SyncProtocolError): void {
    this.host.recordError(error.code, error.message);
    this.options.logger.warn({ err: error, code: error.code }, 'control plane broke the protocol; reconnecting');
    this.stream.close(error.closeCode, error.message.slice(0, 120));
  }

  private onFrame(frame: StreamFrame): void {
    if (this.isClosed) return;
    if (!this.isHandshakeDone && frame.msg !== 'helloAck' && frame.msg !== 'error') {
      this.protocolFailure(new SyncProtocolError(`${frame.msg} before HelloAck`, CloseCode.PROTOCOL_ERROR));
      return;
    }
    if (isPushFrame(frame)) return this.pushes.take(frame);
    switch (frame.msg) {
      case 'helloAck':
        return this.onHelloAck(frame.helloAck!);
      case 'heartbeat':
        this.headValue = frame.heartbeat!.state ?? this.headValue;
        if (frame.heartbeat!.connectedDataPlanes) this.host.connectedDataPlanes(frame.heartbeat!.connectedDataPlanes);
        return this.noteMissingPlugins(frame.heartbeat!.missingPlugins ?? []);
      case 'goAway': {
        const g = frame.goAway!;
        this.goAway = { minMs: g.reconnectMinMs ?? 0, maxMs: g.reconnectMaxMs ?? 0 };
        this.options.logger.info({ reason: g.reason, minMs: g.reconnectMinMs, maxMs: g.reconnectMaxMs }, 'control plane is draining (GoAway)');
        this.host.recordError(DataPlaneErrorCode.SYNC_GO_AWAY, `GoAway: ${g.reason ?? ''}`);
        this.host.goAway(this.goAway);
        return;
      }
      case 'error': {
        const e = frame.error!;
        this.host.recordError(DataPlaneErrorCode.SYNC_REFUSED, `control plane refused the stream: ${e.code ?? 0} ${e.message ?? ''}`);
        this.options.logger.error({ code: e.code, message: e.message }, 'control plane sent a ProtocolError');
        return;
      }
      default:
        this.protocolFailure(new SyncProtocolError(`unexpected ${frame.msg} frame from the control plane`, CloseCode.PROTOCOL_ERROR));
    }
  }

  /** Takes the heartbeat's `missing_plugins`: logs and records when the control plane starts or stops withholding the head. */
  private noteMissingPlugins(missing: readonly string[]): void {
    const previous = this.missingPluginsValue;
    if (missing.length === previous.length && missing.every((name, i) => name === previous[i])) return;
    this.missingPluginsValue = [...missing];
    const head = configStateView(this.headValue);
    if (missing.length > 0) {
      const message = `the control plane withholds version ${head.version}: it uses plugins this data plane has not loaded (--plugins): ${missing.join(', ')}`;
      this.host.recordError(DataPlaneErrorCode.SYNC_INCOMPATIBLE, message);
      this.options.logger.warn({ head, missingPlugins: missing }, 'the control plane withholds its config: plugins missing here; serving the last config');
    } else {
      this.options.logger.info({ head }, 'the control plane no longer withholds its config');
    }
  }

  private onHelloAck(ack: HelloAckMessage): void {
    if (this.isHandshakeDone) {
      this.protocolFailure(new SyncProtocolError('second HelloAck', CloseCode.PROTOCOL_ERROR));
      return;
    }
    const now = this.options.now();
    this.isHandshakeDone = true;
    this.headValue = ack.head ?? null;
    this.stallBaseMs = now;
    if (ack.heartbeatIntervalMs && ack.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = ack.heartbeatIntervalMs;
    const mode = (pb.HelloAck.Mode as unknown as Record<number, string>)[ack.mode ?? 0] ?? String(ack.mode);
    if (ack.mode === pb.HelloAck.Mode.MODE_RETRY_LATER) {
      this.retryAfterMs = ack.retryAfterMs ?? null;
      this.host.recordError(DataPlaneErrorCode.SYNC_RETRY_LATER, `control plane asked to retry after ${ack.retryAfterMs} ms`);
      this.options.logger.info({ retryAfterMs: ack.retryAfterMs }, 'control plane asked to retry later');
      return;
    }
    this.connectedAtMs = now;
    if (ack.connectedDataPlanes) this.host.connectedDataPlanes(ack.connectedDataPlanes);
    this.startHeartbeats();
    const head = configStateView(ack.head);
    this.options.logger.info({ url: this.stream.url, mode, head }, 'connected to the control plane');
    this.host.connected({ cpInstanceId: ack.cpInstanceId ?? '', head, mode });
  }

  private startHeartbeats(): void {
    const interval = this.heartbeatIntervalMs;
    const grace = this.options.heartbeatGraceMs ?? HEARTBEAT_GRACE_MS;
    const deadAfterMs = 2 * interval + grace;
    // Liveness is checked more often than heartbeats are sent, so a dead peer is dropped close to
    // `2 × interval + grace`, not up to one more interval later.
    const liveness = setInterval(() => {
      if (this.stream.isClosing) return;
      // The last slice of an apply held the event loop for a moment: that was us, not a silent peer.
      const silentMs = this.options.now() - Math.max(this.stream.lastReceivedMs, this.pushes.lastApplyEndMs);
      if (silentMs > deadAfterMs) {
        this.host.recordError(DataPlaneErrorCode.SYNC_HEARTBEAT_TIMEOUT, `nothing from the control plane for ${silentMs} ms`);
        this.options.logger.warn({ silentMs }, 'control plane is silent; dropping the connection');
        this.stream.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      }
    }, Math.max(10, Math.floor(Math.min(interval, grace) / 4)));
    const heartbeat = setInterval(() => {
      if (this.stream.isClosing) return;
      const now = this.options.now();
      const config = this.options.getConfig();
      this.stream.send({ heartbeat: { sentAtMs: now, state: appliedState(config), inflightNonce: this.pushes.inFlightNonce } });
      // While the control plane withholds the head (missing plugins), a resync would not bring it.
      if (this.isBehind(config) && this.missingPluginsValue.length === 0 && this.pushes.isIdle && now - Math.max(this.stallBaseMs, this.pushes.lastFrameMs) >= 2 * interval) {
        this.stallBaseMs = now;
        this.stream.send({ resync: { reason: pb.ResyncRequest.Reason.REASON_STALL, applied: appliedState(config) } });
        this.options.logger.warn({ head: configStateView(this.headValue), applied: config ? `${config.epoch}@${config.version}` : null }, 'head is ahead and nothing arrives; asking for a resync');
        this.host.resync({ reason: 'REASON_STALL' });
      }
    }, interval);
    this.timers.push(liveness, heartbeat);
  }

  private isBehind(config: RuntimeConfig | null): boolean {
    const head = this.headValue;
    if (!head || !head.epoch) return false;
    if (!config) return true;
    if (head.epoch !== config.epoch) return true;
    return Number(head.version ?? 0) > config.version;
  }
}
