import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { ConfigMirror } from '../changes/config-mirror.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import { DataPlaneSession, type SessionContext } from './data-plane-session.js';
import { Semaphore } from './semaphore.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './stream-limits.js';
import { CloseCode } from '@sluice/protocol';

/** The WebSocket path data planes connect to. */
export const STREAM_PATH = '/v1/stream';

export interface StreamServerOptions {
  mirror: ConfigMirror;
  registry: DataPlaneRegistry;
  logger: Logger;
  cpInstanceId: string;
  limits?: Partial<StreamLimits>;
}

/**
 * The cluster stream server: accepts data planes on `ws://host:port/v1/stream`, runs one
 * DataPlaneSession per connection, and pushes every head change of the mirror to them.
 * One timer drives heartbeats and liveness for all sessions.
 */
export class StreamServer {
  readonly limits: StreamLimits;
  private readonly options: StreamServerOptions;
  private readonly logger: Logger;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  /** Active sessions by node id. */
  readonly sessions = new Map<string, DataPlaneSession>();
  private readonly pending = new Set<DataPlaneSession>();
  private readonly ctx: SessionContext;
  private ticker: NodeJS.Timeout | null = null;
  private livenessTicker: NodeJS.Timeout | null = null;
  private readonly onHead = () => {
    for (const s of this.sessions.values()) s.maybePush();
  };

  constructor(options: StreamServerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    this.http = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not found"}');
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.ctx = {
      mirror: options.mirror,
      registry: options.registry,
      limits: this.limits,
      logger: this.logger,
      snapshots: new Semaphore(this.limits.maxConcurrentSnapshots),
      cpInstanceId: options.cpInstanceId,
      stats: { snapshotsSent: 0, deltasSent: 0, acks: 0, nacks: 0, bytesSent: 0 },
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

  /** Counters since start: snapshots and deltas sent, acks and nacks received, bytes sent. */
  get stats(): Readonly<SessionContext['stats']> {
    return this.ctx.stats;
  }

  /** Snapshots being sent right now. */
  get snapshotsInFlight(): number {
    return this.ctx.snapshots.inUse;
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
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
    this.options.mirror.on('head', this.onHead);
    this.ticker = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions.values()) s.tick(now);
      this.options.registry.touchAll(now);
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
    const addr = this.http.address() as AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  /** Sends GoAway to every data plane, closes them and stops listening. */
  async close(reason = 'control plane shutting down'): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    if (this.livenessTicker) clearInterval(this.livenessTicker);
    this.options.mirror.off('head', this.onHead);
    const sessions = [...this.sessions.values(), ...this.pending];
    await Promise.allSettled([...this.sessions.values()].map((s) => s.goAway(reason)));
    for (const s of this.pending) s.close(CloseCode.GOING_AWAY, reason);
    // Give peers a moment to complete the closing handshake, then cut whatever is left.
    const deadline = Date.now() + 2_000;
    while (sessions.some((s) => s.state !== 'closed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of sessions) if (s.state !== 'closed') s.ws.terminate();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}
