/**
 * A small control plane for the data plane's integration tests: a real `ws` server on loopback
 * speaking the cluster stream through `@sluice/protocol` (frames, packed bodies, chunked
 * snapshots), driven by a `ConfigModel`. Its default handshake follows docs/protocol.md; tests
 * override `onHello` to script other behaviour. Not a copy of the real control plane: just enough
 * of a peer to exercise every branch of the data plane's side.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  configStateView,
  decodeFrame,
  encodeFrame,
  frameBytes,
  hashEquals,
  MAX_FRAME_BYTES,
  packBatch,
  pb,
  type HelloAckMessage,
  splitChunks,
  type AckMessage,
  type EnvelopeProperties,
  type HeartbeatMessage,
  type HelloMessage,
  type ResourceBatchMessage,
  type ResyncRequestMessage,
} from '@sluice/protocol';
import { ConfigModel } from './config-model.js';

export interface Received {
  readonly hellos: HelloMessage[];
  readonly acks: AckMessage[];
  readonly heartbeats: HeartbeatMessage[];
  readonly resyncs: ResyncRequestMessage[];
  readonly closes: { code: number; reason: string }[];
}

export class FakeControlPlane {
  readonly model: ConfigModel;
  readonly received: Received = { hellos: [], acks: [], heartbeats: [], resyncs: [], closes: [] };
  readonly sockets = new Set<WebSocket>();
  heartbeatIntervalMs = 5_000;
  /** What its heartbeats carry as `missing_plugins` (non-empty: it withholds the head). */
  missingPlugins: string[] = [];
  /** Whether to answer heartbeats and send its own (false simulates a hung control plane). */
  isResponsive = true;
  /** Scripted handshake; the default follows docs/protocol.md. */
  onHello: (ws: WebSocket, hello: HelloMessage) => void = (ws, hello) => this.defaultHello(ws, hello);
  private nonce = 0;
  private readonly server: WebSocketServer;
  private readonly timers = new Set<NodeJS.Timeout>();
  port = 0;

  private constructor(model: ConfigModel, port: number) {
    this.model = model;
    this.server = new WebSocketServer({ host: '127.0.0.1', port, path: '/v1/stream', perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES });
  }

  /** Listens on loopback, on `port` (default 0: a free one; give a closed one's port to bring it back). */
  static async start(model = new ConfigModel(), port = 0): Promise<FakeControlPlane> {
    const cp = new FakeControlPlane(model, port);
    await new Promise<void>((resolve) => cp.server.once('listening', () => resolve()));
    cp.port = (cp.server.address() as AddressInfo).port;
    cp.server.on('connection', (ws) => cp.accept(ws));
    return cp;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  send(ws: WebSocket, envelope: EnvelopeProperties): void {
    ws.send(encodeFrame(envelope));
  }

  helloAck(ws: WebSocket, mode: number, extra: Partial<HelloAckMessage> = {}): void {
    this.send(ws, {
      helloAck: {
        cpInstanceId: 'fake-cp',
        head: { epoch: this.model.epoch, version: this.model.version, hash: this.model.hashAt() },
        mode,
        heartbeatIntervalMs: this.heartbeatIntervalMs,
        maxFrameBytes: MAX_FRAME_BYTES,
        ...extra,
      },
    });
  }

  /** Sends a snapshot of version `v` (default head) in chunks of `chunkBytes`. */
  sendSnapshot(ws: WebSocket, options: { version?: number; chunkBytes?: number; batch?: ResourceBatchMessage; hash?: Uint8Array; epoch?: string; rawSize?: number; corruptBody?: boolean } = {}): number {
    const v = options.version ?? this.model.version;
    const body = packBatch(options.batch ?? this.model.snapshot(v));
    if (options.corruptBody) body.rawSha256 = new Uint8Array(32).fill(1);
    const chunks = splitChunks(body.data, options.chunkBytes ?? 1024 * 1024);
    const nonce = ++this.nonce;
    this.send(ws, {
      snapshotBegin: {
        nonce,
        target: { epoch: options.epoch ?? this.model.epoch, version: v, hash: options.hash ?? this.model.hashAt(v) },
        chunkCount: chunks.length,
        totalBytes: body.data.byteLength,
        codec: body.codec,
        rawSize: options.rawSize ?? body.rawSize,
        rawSha256: body.rawSha256,
        entityCount: 0,
      },
    });
    chunks.forEach((data, index) => this.send(ws, { snapshotChunk: { nonce, index, data } }));
    this.send(ws, { snapshotEnd: { nonce } });
    return nonce;
  }

  /** Sends the coalesced delta `from` → `to` (default head); fields can be overridden to forge bad deltas. */
  sendDelta(ws: WebSocket, from: number, options: { to?: number; batch?: ResourceBatchMessage; targetHash?: Uint8Array; epoch?: string; corruptBody?: boolean } = {}): number {
    const to = options.to ?? this.model.version;
    const body = packBatch(options.batch ?? this.model.delta(from, to));
    if (options.corruptBody) body.rawSha256 = new Uint8Array(32).fill(1);
    const nonce = ++this.nonce;
    this.send(ws, {
      delta: { nonce, epoch: options.epoch ?? this.model.epoch, fromVersion: from, toVersion: to, targetHash: options.targetHash ?? (this.model.history.has(to) ? this.model.hashAt(to) : new Uint8Array(32)), body },
    });
    return nonce;
  }

  /** The default handshake: up to date, delta, or snapshot, as docs/protocol.md says. */
  defaultHello(ws: WebSocket, hello: HelloMessage): void {
    const applied = configStateView(hello.applied);
    const m = this.model;
    if (applied.epoch === m.epoch && applied.version === m.version && hashEquals(hello.applied?.hash, m.hashAt())) {
      this.helloAck(ws, pb.HelloAck.Mode.MODE_UP_TO_DATE);
    } else if (applied.epoch === m.epoch && applied.version < m.version && m.history.has(applied.version) && applied.version > 0) {
      this.helloAck(ws, pb.HelloAck.Mode.MODE_DELTA);
      this.sendDelta(ws, applied.version);
    } else {
      this.helloAck(ws, pb.HelloAck.Mode.MODE_SNAPSHOT);
      this.sendSnapshot(ws);
    }
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', (code, reason) => {
      this.sockets.delete(ws);
      this.received.closes.push({ code, reason: reason.toString() });
    });
    ws.on('message', (data) => {
      const envelope = decodeFrame(frameBytes(data as Buffer));
      switch (envelope.msg) {
        case 'hello':
          this.received.hellos.push(envelope.hello!);
          this.onHello(ws, envelope.hello!);
          if (this.isResponsive) this.startHeartbeats(ws);
          break;
        case 'ack':
          this.received.acks.push(envelope.ack!);
          break;
        case 'heartbeat':
          this.received.heartbeats.push(envelope.heartbeat!);
          break;
        case 'resync':
          this.received.resyncs.push(envelope.resync!);
          break;
        default:
          break;
      }
    });
  }

  private startHeartbeats(ws: WebSocket): void {
    const t = setInterval(() => {
      if (!this.isResponsive || ws.readyState !== ws.OPEN) return;
      this.send(ws, { heartbeat: { sentAtMs: Date.now(), state: { epoch: this.model.epoch, version: this.model.version, hash: this.model.hashAt() }, missingPlugins: this.missingPlugins } });
    }, this.heartbeatIntervalMs);
    this.timers.add(t);
    ws.on('close', () => {
      clearInterval(t);
      this.timers.delete(t);
    });
  }

  /** The only socket (asserts there is exactly one). */
  get socket(): WebSocket {
    if (this.sockets.size !== 1) throw new Error(`expected one data plane connection, have ${this.sockets.size}`);
    return [...this.sockets][0];
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `check` (sync or async) until it gives a truthy value or `timeoutMs` passes (then throws naming `what`). */
export async function waitFor<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
