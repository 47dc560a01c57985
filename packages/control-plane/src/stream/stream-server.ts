import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { ConfigMirror } from '../changes/config-mirror.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import { DataPlaneSession, type SessionContext } from './data-plane-session.js';
import { DeltaFrames } from './delta-frames.js';
import { Semaphore } from './semaphore.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream-limits.js';
import type { ClusterTls, PeerRefusal } from './cluster-tls.js';
import { CloseCode } from '@sluice/protocol';

/** The WebSocket path data planes connect to. */
export const STREAM_PATH = '/v1/stream';

/** Least time between two log lines about refused connections, in ms (default 10 s); the others are counted. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface StreamServerOptions {
  mirror: ConfigMirror;
  registry: DataPlaneRegistry;
  logger: Logger;
  cpInstanceId: string;
  limits?: Partial<StreamLimits>;
  /**
   * Mutual TLS (wss://): data planes must present a certificate that `tls` admits. Without it the
   * stream is plain ws:// and unauthenticated (a warning is logged at `listen()`).
   */
  tls?: ClusterTls;
}

/**
 * The cluster stream server: accepts data planes on `ws://host:port/v1/stream` (`wss://` with
 * mutual TLS when `tls` is given: a data plane whose certificate is not admitted never gets past
 * the handshake, or is answered 401/403 at the upgrade, and never reaches a session), runs one
 * DataPlaneSession per connection, and pushes every head change of the mirror to them.
 * One timer drives heartbeats and liveness for all sessions.
 */
export class StreamServer {
  readonly limits: StreamLimits;
  private readonly options: StreamServerOptions;
  private readonly logger: Logger;
  private readonly http: Server | HttpsServer;
  private readonly tls: ClusterTls | null;
  /** Connections refused for their certificate (or for speaking plain ws:// to a TLS port) since start. */
  refusedConnections = 0;
  private refusalsNotLogged = 0;
  private lastRefusalLogMs = 0;
  private readonly wss: WebSocketServer;
  /** Active sessions by node id. */
  readonly sessions = new Map<string, DataPlaneSession>();
  private readonly pending = new Set<DataPlaneSession>();
  private readonly ctx: SessionContext;
  /** When the drain began (ms since the Unix epoch), or null while serving. */
  private drainingSinceMs: number | null = null;
  private closing: Promise<void> | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** Connected data planes across the cluster as the database last counted them (refreshed each heartbeat interval). */
  private clusterConnectedCount = 0;
  private livenessTicker: NodeJS.Timeout | null = null;
  private readonly onHead = () => {
    for (const s of this.sessions.values()) s.maybePush();
  };

  constructor(options: StreamServerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    this.tls = options.tls ?? null;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const refusal = this.checkPeer(req);
      if (refusal) {
        const message = refusal.status === 401 ? 'Unauthorized' : 'Forbidden';
        res.writeHead(refusal.status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ message }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not found"}');
    };
    if (this.tls) {
      const https = createHttpsServer({ ...this.tls.serverOptions(), handshakeTimeout: this.limits.tlsHandshakeTimeoutMs }, onRequest);
      // A client without a certificate, with one that does not verify, or speaking plain HTTP to
      // this port: the handshake fails and the socket is gone before any HTTP is read.
      https.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        const reason = socket.authorizationError ? `client certificate refused: ${String(socket.authorizationError)}` : `TLS handshake failed: ${err.code ?? err.message}`;
        this.noteRefusal(reason, socket.remoteAddress ?? null);
      });
      this.http = https;
    } else {
      this.http = createServer(onRequest);
    }
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.ctx = {
      mirror: options.mirror,
      registry: options.registry,
      limits: this.limits,
      logger: this.logger,
      snapshots: new Semaphore(this.limits.maxConcurrentSnapshots),
      deltaFrames: new DeltaFrames(),
      cpInstanceId: options.cpInstanceId,
      // This replica's own sessions are always counted, even before their rows reach the database.
      connectedDataPlanes: () => Math.max(this.sessions.size, this.clusterConnectedCount),
      stats: { snapshotsSent: 0, deltasSent: 0, acks: 0, nacks: 0, bytesSent: 0, snapshotsStalled: 0 },
      register: (session) => {
        this.pending.delete(session);
        const previous = this.sessions.get(session.nodeId);
        if (previous && previous !== session) previous.close(CloseCode.REPLACED, 'replaced by a newer connection of the same node');
        this.sessions.set(session.nodeId, session);
      },
      unregister: (session) => {
        this.pending.delete(session);
        if (this.sessions.get(session.nodeId) === session) this.sessions.delete(session.nodeId);
      },
    };
  }

  /** Counters since start: snapshots and deltas sent, acks and nacks received, bytes sent, snapshots given up as stalled. */
  get stats(): Readonly<SessionContext['stats']> {
    return this.ctx.stats;
  }

  /** Data planes connected across the cluster, as sent in HelloAck and Heartbeat. */
  get connectedDataPlanes(): number {
    return this.ctx.connectedDataPlanes();
  }

  /** Deltas encoded into frames since start (once per base version and head, however many data planes each went to). */
  get deltaFramesEncoded(): number {
    return this.ctx.deltaFrames.encoded;
  }

  /** Snapshots being sent right now. */
  get snapshotsInFlight(): number {
    return this.ctx.snapshots.inUse;
  }

  /** `wss` with mutual TLS, else `ws`. */
  get scheme(): 'ws' | 'wss' {
    return this.tls ? 'wss' : 'ws';
  }

  /** The mutual TLS mode, or null for a plain, unauthenticated stream. */
  get tlsMode(): ClusterTls['mode'] | null {
    return this.tls?.mode ?? null;
  }

  /** Null when the request's connection may use the stream (always without TLS), else why not. */
  private checkPeer(req: IncomingMessage): PeerRefusal | null {
    if (!this.tls) return null;
    const refusal = this.tls.checkPeer(req.socket as TLSSocket);
    if (refusal) this.noteRefusal(refusal.reason, req.socket.remoteAddress ?? null);
    return refusal;
  }

  /** Counts a refused connection and logs it, at most once per `REFUSAL_LOG_INTERVAL_MS` (a scanner must not flood the log). */
  private noteRefusal(reason: string, address: string | null): void {
    this.refusedConnections++;
    const now = Date.now();
    if (now - this.lastRefusalLogMs < REFUSAL_LOG_INTERVAL_MS) {
      this.refusalsNotLogged++;
      return;
    }
    this.logger.warn({ reason, address, refusedSinceLastLog: this.refusalsNotLogged }, 'refused a cluster stream connection');
    this.lastRefusalLogMs = now;
    this.refusalsNotLogged = 0;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refusal = this.checkPeer(req);
    if (refusal) {
      const text = refusal.status === 401 ? 'Unauthorized' : 'Forbidden';
      socket.end(`HTTP/1.1 ${refusal.status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    if (this.drainingSinceMs !== null) {
      // A connection accepted just before the listener closed: this replica takes no new stream.
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const path = (req.url ?? '').split('?')[0];
    if (path !== STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.sessions.size + this.pending.size >= this.limits.maxConnections) {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${Math.ceil(this.limits.retryAfterMs / 1000)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new DataPlaneSession(ws, req.socket.remoteAddress ?? '', this.ctx);
      this.pending.add(session);
    });
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    if (this.tls) {
      this.logger.info({ address: addr.address, port: addr.port, mtls: this.tls.mode, fingerprint256: this.tls.fingerprint256, validTo: this.tls.validTo.toISOString() }, 'cluster stream uses mutual TLS');
    } else {
      this.logger.warn(
        { address: addr.address, port: addr.port },
        'cluster stream is plain ws:// and unauthenticated: anyone who can reach this port can read the whole config and pose as a data plane; set --cluster-cert and --cluster-cert-key',
      );
    }
    this.options.mirror.on('head', this.onHead);
    this.ticker = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) s.tick(now);
      this.options.registry.touchAll(now);
      // Read for the next heartbeats; while the database is down the last count stands.
      this.options.registry.countConnected(now).then(
        (n) => (this.clusterConnectedCount = n),
        (err: unknown) => this.logger.debug({ err }, 'cannot count the connected data planes'),
      );
    }, this.limits.heartbeatIntervalMs);
    this.ticker.unref();
    // Liveness is checked a few times per interval (heartbeats are sent once per interval), so a
    // silent peer is dropped within `2 × interval + grace` rather than up to one interval later.
    const { heartbeatIntervalMs, heartbeatGraceMs } = this.limits;
    this.livenessTicker = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) s.checkLiveness(now);
    }, Math.max(10, Math.floor(Math.min(heartbeatIntervalMs, heartbeatGraceMs) / 4)));
    this.livenessTicker.unref();
    return { host: addr.address, port: addr.port };
  }

  /** True once `close()` began: no new stream is accepted, the connected data planes are leaving. */
  get isDraining(): boolean {
    return this.drainingSinceMs !== null;
  }

  /**
   * Drains this replica: stops accepting streams (the listener closes, so a data plane connecting
   * now is refused and tries another address), sends GoAway to every data plane (they move to
   * another replica at a random time within the GoAway window, taking pushes until then), waits
   * until they have left or `drainTimeoutMs` (default `limits.drainTimeoutMs`, 10 s) passed, then
   * closes what is left with 4005 and cuts any socket still open a moment later. Resolves once
   * every connection is gone; a second call returns the same drain.
   */
  close(reason = 'control plane shutting down', drainTimeoutMs = this.limits.drainTimeoutMs): Promise<void> {
    this.closing ??= this.drain(reason, drainTimeoutMs);
    return this.closing;
  }

  private async drain(reason: string, drainTimeoutMs: number): Promise<void> {
    const startedAt = Date.now();
    this.drainingSinceMs = startedAt;
    const listenerClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    for (const s of this.pending) s.close(CloseCode.GOING_AWAY, reason);
    const draining = [...this.sessions.values()];
    this.logger.info({ dataPlanes: draining.length, drainTimeoutMs, window: [this.limits.goAwayReconnectMinMs, this.limits.goAwayReconnectMaxMs] }, 'draining: GoAway sent to every data plane');
    await Promise.allSettled(draining.map((s) => s.goAway(reason)));
    const all = () => [...this.sessions.values(), ...this.pending, ...draining];
    await waitUntil(() => all().every((s) => s.state === 'closed'), startedAt + drainTimeoutMs);
    const left = all().filter((s) => s.state !== 'closed');
    if (left.length > 0) this.logger.warn({ dataPlanes: left.length, drainTimeoutMs }, 'drain timeout: closing the data planes that did not leave');
    else this.logger.info({ ms: Date.now() - startedAt }, 'drained: every data plane left');
    if (this.ticker) clearInterval(this.ticker);
    if (this.livenessTicker) clearInterval(this.livenessTicker);
    this.options.mirror.off('head', this.onHead);
    for (const s of left) s.close(CloseCode.GO_AWAY, reason);
    // Give peers a moment to complete the closing handshake, then cut whatever is left.
    await waitUntil(() => left.every((s) => s.state === 'closed'), Date.now() + 2_000);
    for (const s of left) if (s.state !== 'closed') s.ws.terminate();
    this.http.closeAllConnections();
    await listenerClosed;
  }
}

/** Polls `isDone` every 20 ms until it holds or `deadlineMs` (ms since the Unix epoch) passes. */
async function waitUntil(isDone: () => boolean, deadlineMs: number): Promise<void> {
  while (!isDone() && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 20));
}
