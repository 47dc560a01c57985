import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { CloseCode, configStateView, type ConfigStateView } from '@sluice/protocol';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { InvalidArgumentError, type ConfigRejectedError, type DataPlaneError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import type { ClusterTls } from './cluster-tls.js';
import type { AppliedChange, PushInFlight } from './push-pipeline.js';
import { ControlPlaneRotation, type ConnectionOutcome } from './control-plane-rotation.js';
import { RECONNECT_RESET_AFTER_MS, ReconnectBackoff, type ReconnectBackoffOptions } from './reconnect-backoff.js';
import { SyncSession, type SessionEnd } from './sync-session.js';

export type { AppliedChange, PushInFlight } from './push-pipeline.js';

/** The fixed path of the cluster stream on the control plane. */
export const STREAM_PATH = '/v1/stream';

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
  /**
   * The control plane's origin, e.g. `ws://127.0.0.1:8005` or `wss://cp.internal:8005` (the path is
   * fixed: `/v1/stream`), or the origins of several replicas: the client connects to one at a time
   * and fails over between them ({@link ControlPlaneRotation}: backoff per address; a replica that
   * is behind, full or draining is left for another). All of one scheme.
   */
  readonly url: string | readonly string[];
  /**
   * Mutual TLS toward the control plane (needs `wss://` urls; applies to every address, each
   * verified under its own host name unless `tls.serverName` is set): the client certificate to
   * present and how the control plane's certificate is verified. A `wss://` url without it
   * verifies the control plane against the system CAs and presents no certificate.
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
  /** The plugins this data plane runs (default every bundled one): a snapshot naming another is refused. */
  readonly plugins?: PluginRuntime;
}

/**
 * The data plane's side of the cluster stream (docs/protocol.md): connects to the control plane,
 * says what it serves in `Hello`, applies the pushes that follow (deltas and chunked snapshots,
 * all-or-nothing, one at a time) and answers each with an Ack or a NACK, exchanges heartbeats,
 * drops a silent control plane after `2 × interval + grace`, asks for a resync when it sees head
 * ahead with nothing arriving, and reconnects with exponential backoff and full jitter.
 *
 * It never holds the config itself: `getConfig` and `commit` belong to the owner (`DataPlane`).
 * This is the facade over the layers of `sync/`: one {@link SyncSession} per connection (the
 * protocol: handshake, heartbeats, GoAway), which owns a `StreamConnection` (the WebSocket
 * transport) and a `PushPipeline` (pushes: assemble, inflate, apply in slices, ack). The client
 * keeps what outlives a connection: the state, the last error, the addresses with their backoff
 * ({@link ControlPlaneRotation}) and the events.
 *
 * GoAway (a replica draining): the client stays on it, still taking pushes, until a time drawn
 * within the announced window, then closes (1001) and connects to another address at once.
 */
export class SyncClient extends EventEmitter<SyncClientEvents> {
  /** Every control-plane origin, in the order given (no trailing slash). */
  readonly urls: readonly string[];
  readonly instanceId: string;
  private readonly options: SyncClientOptions;
  private readonly logger: Logger;
  private readonly rotation: ControlPlaneRotation;
  /** Draws the GoAway reconnect time within the announced window. */
  private readonly jitter: ReconnectBackoff;
  private readonly now: () => number;
  private session: SyncSession | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** The GoAway of the current session: when to reconnect (elsewhere) and when the window ends. */
  private goAwayPlan: { reconnectAtMs: number; windowEndMs: number } | null = null;
  private moveTimer: NodeJS.Timeout | null = null;
  private cpInstanceIdValue: string | null = null;
  private isStarted = false;
  private isStopped = false;
  private stateValue: ConnectionState = ConnectionState.DISCONNECTED;
  private stateSince: number;
  private lastErrorValue: SyncErrorView | null = null;
  /** Connections attempted after the first one. */
  reconnects = 0;
  private connectedDataPlanesValue: number | null = null;

  constructor(options: SyncClientOptions) {
    super();
    this.options = options;
    this.urls = (typeof options.url === 'string' ? [options.url] : [...options.url]).map((u) => u.replace(/\/+$/, ''));
    if (this.urls.length === 0) throw new InvalidArgumentError('at least one control plane URL is needed');
    for (const url of this.urls) {
      if (options.tls && !url.startsWith('wss://')) throw new InvalidArgumentError(`cluster TLS needs a wss:// control plane URL, got ${JSON.stringify(url)}`);
    }
    if (new Set(this.urls.map((u) => u.split(':')[0])).size > 1) throw new InvalidArgumentError(`control plane URLs must all be ws:// or all wss://, got ${this.urls.join(',')}`);
    this.instanceId = options.instanceId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.rotation = new ControlPlaneRotation(this.urls, options.backoff);
    this.jitter = new ReconnectBackoff(options.backoff);
    this.now = options.now ?? Date.now;
    this.stateSince = this.now();
  }

  /** The control-plane origin connected, or being connected or retried, now. */
  get url(): string {
    return this.rotation.current;
  }

  /** The stream URL of {@link url}. */
  get streamUrl(): string {
    return this.rotation.current + STREAM_PATH;
  }

  /** The instance id of the control-plane replica connected now (its HelloAck's), or null when not connected. */
  get cpInstanceId(): string | null {
    return this.stateValue === ConnectionState.CONNECTED ? this.cpInstanceIdValue : null;
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

  /**
   * The data planes connected across the cluster as the control plane last said (HelloAck or
   * Heartbeat), kept across disconnects; null before it first said.
   */
  get connectedDataPlanes(): number | null {
    return this.connectedDataPlanesValue;
  }

  /** The push being applied now (its nonce, kind, and since when in ms since the Unix epoch), or null. */
  get applying(): PushInFlight | null {
    return this.session?.applying ?? null;
  }

  /** The plugins the head uses that this data plane has not loaded, as the control plane last said (empty unless it withholds the head). */
  get missingPlugins(): readonly string[] {
    return this.session?.missingPlugins ?? [];
  }

  /** The control plane's head as last announced (HelloAck or Heartbeat), or null. */
  get head(): ConfigStateView | null {
    const head = this.session?.head;
    return head ? configStateView(head) : null;
  }

  /** Starts connecting; the first attempt is jittered by up to the backoff base (herd control after a fleet restart). */
  start(): void {
    if (this.isStarted) return;
    this.isStarted = true;
    this.setState(ConnectionState.CONNECTING);
    this.scheduleConnect(this.rotation.first().delayMs);
  }

  /** Closes the connection (1001 going away) and stops reconnecting. Resolves once the socket is closed. */
  async stop(): Promise<void> {
    this.isStopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.clearMove();
    const session = this.session;
    if (!session) {
      this.setState(ConnectionState.DISCONNECTED);
      return;
    }
    session.close(CloseCode.GOING_AWAY, 'data plane stopping');
    await session.closed;
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
    this.goAwayPlan = null;
    const session: SyncSession = new SyncSession(
      { ...this.options, streamUrl: this.streamUrl, instanceId: this.instanceId, now: this.now, logger: this.logger },
      {
        recordError: (code, message) => this.recordError(code, message),
        connected: (info) => {
          this.cpInstanceIdValue = info.cpInstanceId;
          this.setState(ConnectionState.CONNECTED);
          this.emit('connected', info);
        },
        goAway: (window) => this.onGoAway(session, window),
        applying: (info) => this.emit('applying', info),
        applied: (info) => this.emit('applied', info),
        rejected: (info) => this.emit('rejected', info),
        resync: (info) => this.emit('resync', info),
        connectedDataPlanes: (count) => (this.connectedDataPlanesValue = count),
        closed: (end) => this.onClosed(session, end),
      },
    );
    this.session = session;
  }

  /**
   * The current replica sent GoAway: stay (pushes still flow) until a time drawn within its
   * window, then close and connect to another address (`onClosed`). A replica that closes first
   * changes nothing: the next connection still waits for that time.
   */
  private onGoAway(session: SyncSession, window: { minMs: number; maxMs: number }): void {
    if (this.session !== session || this.isStopped || this.goAwayPlan) return;
    const now = this.now();
    // A window is bounded by the backoff cap: a control plane cannot park a data plane for hours.
    const maxMs = Math.min(Math.max(window.minMs, window.maxMs), this.jitter.capMs);
    const delayMs = this.jitter.within(Math.min(window.minMs, maxMs), maxMs);
    this.goAwayPlan = { reconnectAtMs: now + delayMs, windowEndMs: now + maxMs };
    this.logger.info({ url: this.url, moveInMs: delayMs, addresses: this.urls.length }, 'control plane is draining; moving to another address within its window');
    this.moveTimer = setTimeout(() => {
      this.moveTimer = null;
      session.close(CloseCode.GOING_AWAY, 'moving to another control plane (GoAway)');
    }, delayMs);
  }

  private clearMove(): void {
    if (this.moveTimer) clearTimeout(this.moveTimer);
    this.moveTimer = null;
  }

  /** A connection ended: picks the next address and delay (GoAway window, RETRY_LATER delay, else that address's backoff). */
  private onClosed(session: SyncSession, { code, reason, error, retryAfterMs, connectedAtMs }: SessionEnd): void {
    if (this.session === session) this.session = null;
    this.clearMove();
    const closedUrl = this.streamUrl;
    const now = this.now();
    if (connectedAtMs > 0 && now - connectedAtMs >= (this.options.resetAfterMs ?? RECONNECT_RESET_AFTER_MS)) this.rotation.resetCurrent();
    let retryInMs: number | null = null;
    if (!this.isStopped) {
      const outcome: ConnectionOutcome = this.goAwayPlan
        ? { kind: 'go-away', ...this.goAwayPlan }
        : code === CloseCode.RETRY_LATER && retryAfterMs !== null
          ? { kind: 'retry-later', retryAfterMs }
          : { kind: 'failed' };
      retryInMs = this.rotation.next(outcome, now).delayMs;
      this.reconnects++;
      this.scheduleConnect(retryInMs);
    }
    this.goAwayPlan = null;
    this.setState(ConnectionState.DISCONNECTED);
    this.logger.info({ code, reason, retryInMs, url: closedUrl, next: this.isStopped ? null : this.streamUrl }, 'control plane connection closed');
    this.emit('disconnected', { code, reason, error, retryInMs });
  }
}
