import {
  CloseCode,
  PROTOCOL_VERSION,
  ProtocolError,
  ProtocolErrorCode,
  SNAPSHOT_CHUNK_BYTES,
  configStateView,
  decodeFrame,
  encodeFrame,
  frameBytes,
  hashHex,
  pb,
  splitChunks,
  type ConfigStateView,
  type EnvelopeProperties,
  type HelloMessage,
  type AckMessage,
  type HeartbeatMessage,
} from '@sluice/protocol';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { ConfigMirror } from '../changes/config-mirror.js';
import { nackSummary, recordFromHello, type DataPlaneRecord } from './data-plane-record.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import type { DeltaFrames } from './delta-frames.js';
import type { Semaphore } from './semaphore.js';
import type { StreamLimits } from './stream-limits.js';
import { helloMode, isAheadOf, isHelloWithinLimits } from './hello-decision.js';
import { announcedPlugins, incompatiblePluginNames, isSameIncompatibility, pluginIncompatibility, type AnnouncedPlugins, type PluginIncompatibility } from './plugin-compatibility.js';
import { watchSendProgress } from './send-progress.js';

/** Shared by every session of one stream server. */
export interface SessionContext {
  mirror: ConfigMirror;
  registry: DataPlaneRegistry;
  limits: StreamLimits;
  logger: Logger;
  snapshots: Semaphore;
  /** Delta frames encoded once per version and shared by every session; the replica's push nonces. */
  deltaFrames: DeltaFrames;
  cpInstanceId: string;
  /** Data planes connected across the cluster (this replica's and the others', from the registry), for HelloAck and Heartbeat. */
  connectedDataPlanes(): number;
  /** Called once the session knows its node id; returns false to refuse it (e.g. when full). */
  register(session: DataPlaneSession): void;
  unregister(session: DataPlaneSession): void;
  /** Counters for metrics. */
  stats: { snapshotsSent: number; deltasSent: number; acks: number; nacks: number; bytesSent: number; snapshotsStalled: number };
}

interface InflightPush {
  nonce: number;
  kind: 'delta' | 'snapshot';
  epoch: string;
  toVersion: number;
  /** When the push's last frame was handed to the socket; null while a snapshot is still being sent (the ack timeout runs from here). */
  sentAt: number | null;
}

/**
 * Connection start times, strictly increasing within this process: the registry tells a node's
 * connections apart by it, so a replacement in the same millisecond must not share it.
 */
let lastConnectedAt = 0;
function nextConnectedAt(now: number): number {
  lastConnectedAt = Math.max(now, lastConnectedAt + 1);
  return lastConnectedAt;
}

/**
 * The control plane's side of one data plane's connection: handshake, pushes (one in flight,
 * later changes coalesced), Ack/NACK bookkeeping, liveness. It owns no config: it reads the
 * mirror's head and asks it for packed snapshots and deltas.
 */
export class DataPlaneSession {
  readonly ws: WebSocket;
  readonly ip: string;
  private readonly ctx: SessionContext;
  private log: Logger;
  state: 'hello' | 'active' | 'closed' = 'hello';
  /** GoAway was sent: the data plane is expected to leave. */
  private hasSentGoAway = false;
  nodeId = '';
  record: DataPlaneRecord | null = null;
  /** What the data plane has told us it applied (Hello, then Acks). */
  acked: ConfigStateView = { epoch: '', version: 0, hash: '' };
  private inflight: InflightPush | null = null;
  private rejected: { epoch: string; version: number } | null = null;
  /** The plugins its Hello announced (capability negotiation). */
  private plugins: AnnouncedPlugins = new Map();
  /** Why the head is withheld from this data plane (it lacks a plugin the head uses), or null. */
  private withheld: PluginIncompatibility | null = null;
  private forceSnapshot = false;
  private pushing = false;
  private pushAgain = false;
  lastHeardAt = Date.now();
  private slowSince: number | null = null;
  /** When the socket last finished writing a frame: a peer that stops reading stops this clock. */
  private lastWriteDoneAt = Date.now();
  private readonly helloTimer: NodeJS.Timeout;
  /** A Hello arrived and is being decided (state stays `hello` until the HelloAck is sent). */
  private isHelloReceived = false;
  /** close() was called: the socket is on its way out, whatever its state says. */
  private isClosing = false;

  constructor(ws: WebSocket, ip: string, ctx: SessionContext) {
    this.ws = ws;
    this.ip = ip;
    this.ctx = ctx;
    this.log = ctx.logger.child({ peer: ip });
    this.helloTimer = setTimeout(() => this.close(CloseCode.HANDSHAKE_TIMEOUT, 'no Hello in time'), ctx.limits.helloTimeoutMs);
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => {
      this.lastHeardAt = Date.now();
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
    ws.on('error', (err) => this.log.debug({ err }, 'data-plane socket error'));
  }

  private send(envelope: EnvelopeProperties): Promise<void> {
    return this.sendBytes(encodeFrame(envelope));
  }

  /** Writes one encoded frame (the same bytes may go to other sessions). */
  private sendBytes(bytes: Uint8Array): Promise<void> {
    this.ctx.stats.bytesSent += bytes.byteLength;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== this.ws.OPEN) return reject(new Error('socket closed'));
      this.ws.send(bytes, { binary: true }, (err) => {
        if (err) return reject(err);
        this.lastWriteDoneAt = Date.now();
        resolve();
      });
    });
  }

  /** Closes the connection with a code and reason; a no-op when already closed. */
  close(code: number, reason: string): void {
    if (this.state === 'closed' || this.isClosing) return;
    this.isClosing = true;
    this.log.info({ code, reason }, 'closing data-plane connection');
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    // A peer that does not complete the closing handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2_000).unref();
  }

  private protocolError(err: ProtocolError): void {
    const closeCode = err.closeCode;
    this.log.warn({ err: err.message }, 'protocol error from data plane');
    void this.send({ error: { code: closeCode, message: err.message } }).catch(() => {});
    this.close(closeCode, err.message);
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    this.lastHeardAt = Date.now();
    if (!isBinary) return this.protocolError(new ProtocolError(ProtocolErrorCode.UNEXPECTED_FRAME, 'text frames are not part of the protocol'));
    let env;
    try {
      env = decodeFrame(frameBytes(data), this.ctx.limits.maxFrameBytes);
    } catch (err) {
      return this.protocolError(err as ProtocolError);
    }
    if (this.state === 'hello') {
      // While the Hello is being decided (the registry is asked first), a Heartbeat only says the
      // peer is alive; anything else, a second Hello included, breaks the protocol.
      if (this.isHelloReceived && env.msg === 'heartbeat') return;
      if (env.msg !== 'hello' || this.isHelloReceived) {
        return this.protocolError(new ProtocolError(ProtocolErrorCode.UNEXPECTED_FRAME, `expected ${this.isHelloReceived ? 'nothing before HelloAck' : 'Hello'}, got ${env.msg}`));
      }
      this.isHelloReceived = true;
      void this.onHello(env.hello!).catch((err) => {
        this.log.error({ err }, 'handshake failed');
        this.close(CloseCode.INTERNAL, 'handshake failed');
      });
      return;
    }
    if (this.state !== 'active') return;
    switch (env.msg) {
      case 'ack':
        return this.onAck(env.ack!);
      case 'heartbeat':
        return this.onHeartbeat(env.heartbeat!);
      case 'resync': {
        const mirror = this.ctx.mirror;
        if (this.withheld !== null) {
          // The head is withheld (the data plane lacks a plugin it uses): a snapshot of it must not
          // be sent either. The Heartbeat tells the data plane so; it keeps serving what it has.
          this.log.debug({ reason: env.resync!.reason }, 'ignoring a resync request: the head is withheld from this data plane');
          return;
        }
        if (this.rejected && this.rejected.epoch === mirror.epoch && this.rejected.version >= mirror.version) {
          // The head is a version this data plane rejected: a snapshot of it would only be NACKed
          // again. The data plane asks for a resync whenever head stays ahead of it, so honouring
          // this would re-send the rejected version every two heartbeats (a NACK loop).
          this.log.debug({ reason: env.resync!.reason, rejected: this.rejected.version }, 'ignoring a resync request: head is a version this data plane rejected');
          return;
        }
        this.log.info({ reason: env.resync!.reason }, 'data plane asked for a resync');
        this.forceSnapshot = true;
        this.rejected = null;
        return this.maybePush();
      }
      default:
        return this.protocolError(new ProtocolError(ProtocolErrorCode.UNEXPECTED_FRAME, `unexpected ${env.msg} from a data plane`));
    }
  }

  private async onHello(hello: HelloMessage): Promise<void> {
    clearTimeout(this.helloTimer);
    const nodeId = hello.nodeId ?? '';
    if (!isHelloWithinLimits(hello)) return this.close(CloseCode.POLICY, 'Hello is missing a node id or exceeds its limits');
    this.nodeId = nodeId;
    this.plugins = announcedPlugins(hello);
    this.log = this.log.child({ node: nodeId });
    this.acked = configStateView(hello.applied);
    const now = Date.now();
    const base = recordFromHello(hello, this.ip, this.ctx.cpInstanceId, this.acked, nextConnectedAt(now), now);
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      const message = `protocol version ${hello.protocolVersion} is not supported (this control plane speaks ${PROTOCOL_VERSION})`;
      // Not a connection of that node: the row is recorded without touching a live one's state.
      this.ctx.registry.recordIncompatible({ ...base, lastError: message, lastErrorCode: 'INCOMPATIBLE_PROTOCOL' });
      await this.send({ error: { code: CloseCode.INCOMPATIBLE_VERSION, message } }).catch(() => {});
      return this.close(CloseCode.INCOMPATIBLE_VERSION, message);
    }
    if (!(await this.ctx.registry.admit(nodeId))) {
      await this.retryLater();
      return this.close(CloseCode.RETRY_LATER, `data-plane registry is full (${this.ctx.registry.maxRows} rows of connected data planes)`);
    }
    if (this.state !== 'hello') return;
    const mirror = this.ctx.mirror;
    if (isAheadOf(this.acked, mirror)) {
      // The data plane is ahead of this replica: catch up from the database before answering.
      await mirror.catchUp();
      if (isAheadOf(this.acked, mirror)) {
        this.log.warn({ applied: this.acked.version, head: mirror.version }, 'data plane is ahead of this replica; asking it to retry later');
        await this.retryLater();
        return this.close(CloseCode.RETRY_LATER, 'control plane replica is behind the data plane');
      }
    }
    if (this.state !== 'hello') return;
    // The HelloAck must name the push that follows: a delta only when one can be built.
    const mode = await helloMode(this.acked, mirror);
    if (mode === pb.HelloAck.Mode.MODE_SNAPSHOT) this.forceSnapshot = true;
    if (this.state !== 'hello') return;
    this.state = 'active';
    this.record = base;
    this.ctx.register(this);
    this.ctx.registry.update(base);
    this.log.info({ applied: this.acked, head: mirror.version, mode: (pb.HelloAck.Mode as unknown as Record<number, string>)[mode] }, 'data plane connected');
    await this.send({
      helloAck: {
        cpInstanceId: this.ctx.cpInstanceId,
        head: this.headState(),
        mode,
        heartbeatIntervalMs: this.ctx.limits.heartbeatIntervalMs,
        maxFrameBytes: this.ctx.limits.maxFrameBytes,
        connectedDataPlanes: this.ctx.connectedDataPlanes(),
      },
    });
    this.maybePush();
  }

  /** Answers Hello with RETRY_LATER (the caller then closes with 4007). */
  private retryLater(): Promise<void> {
    const helloAck = { cpInstanceId: this.ctx.cpInstanceId, head: this.headState(), mode: pb.HelloAck.Mode.MODE_RETRY_LATER, retryAfterMs: this.ctx.limits.retryAfterMs };
    return this.send({ helloAck }).catch(() => {});
  }

  private headState() {
    const m = this.ctx.mirror;
    return { epoch: m.epoch, version: m.version, hash: m.hashBytes() };
  }

  /**
   * Sends the next push if none is in flight and the data plane is behind the head: a delta from
   * its acked version when one can be built, else a snapshot. Re-entrant calls coalesce.
   */
  maybePush(): void {
    if (this.state !== 'active' || this.inflight) return;
    if (this.pushing) {
      this.pushAgain = true;
      return;
    }
    this.pushing = true;
    void this.push()
      .catch((err) => {
        if (this.state === 'active' && !this.isClosing) {
          this.log.error({ err }, 'push failed');
          this.close(CloseCode.INTERNAL, 'push failed');
        }
      })
      .finally(() => {
        this.pushing = false;
        if (this.pushAgain) {
          this.pushAgain = false;
          this.maybePush();
        }
      });
  }

  private async push(): Promise<void> {
    const mirror = this.ctx.mirror;
    if (this.state !== 'active' || this.inflight) return;
    const sameEpoch = this.acked.epoch === mirror.epoch;
    if (sameEpoch && this.acked.version === mirror.version && this.acked.hash === mirror.hashHex() && !this.forceSnapshot) return;
    if (this.rejected && this.rejected.epoch === mirror.epoch && this.rejected.version >= mirror.version) return;
    if (sameEpoch && this.acked.version > mirror.version) return; // the data plane is ahead: wait for this replica to catch up
    if (!this.checkPlugins()) return;
    if (!this.forceSnapshot && sameEpoch && this.acked.version < mirror.version) {
      const delta = await mirror.delta(this.acked.version);
      if (this.state !== 'active' || this.inflight) return;
      if (delta && delta.toVersion !== mirror.version) {
        // The head moved while the delta was read: the plugin check above was for another version.
        this.pushAgain = true;
        return;
      }
      if (delta) {
        const frame = this.ctx.deltaFrames.frameOf(delta);
        this.inflight = { nonce: frame.nonce, kind: 'delta', epoch: delta.epoch, toVersion: delta.toVersion, sentAt: Date.now() };
        this.ctx.stats.deltasSent++;
        await this.sendBytes(frame.bytes);
        return;
      }
    }
    await this.sendSnapshot();
  }

  private async sendSnapshot(): Promise<void> {
    const release = await this.ctx.snapshots.acquire();
    const stopWatching = this.watchForStall(release);
    try {
      if (this.state !== 'active' || this.inflight) return;
      // The head may have moved while this waited for a slot: check the version about to be sent.
      if (!this.checkPlugins()) return;
      const snap = this.ctx.mirror.snapshot();
      const chunks = splitChunks(snap.body.data, SNAPSHOT_CHUNK_BYTES);
      const nonce = this.ctx.deltaFrames.nextNonce();
      const push: InflightPush = { nonce, kind: 'snapshot', epoch: snap.epoch, toVersion: snap.version, sentAt: null };
      this.inflight = push;
      this.forceSnapshot = false;
      this.ctx.stats.snapshotsSent++;
      this.log.info({ version: snap.version, entities: snap.entityCount, bytes: snap.body.data.byteLength, chunks: chunks.length }, 'sending snapshot');
      await this.send({
        snapshotBegin: {
          nonce,
          target: { epoch: snap.epoch, version: snap.version, hash: snap.hash },
          chunkCount: chunks.length,
          totalBytes: snap.body.data.byteLength,
          codec: snap.body.codec,
          rawSize: snap.body.rawSize,
          rawSha256: snap.body.rawSha256,
          entityCount: snap.entityCount,
        },
      });
      for (let index = 0; index < chunks.length; index++) {
        // Each chunk waits until the previous one left the process, and until the socket's queue is
        // under the high-water mark: a slow data plane slows its own snapshot, not the control plane.
        await this.send({ snapshotChunk: { nonce, index, data: chunks[index] } });
        while (this.ws.bufferedAmount > this.ctx.limits.highWaterBytes && this.state === 'active' && !this.isClosing) {
          await new Promise((r) => setTimeout(r, 5));
        }
        if (this.state !== 'active' || this.isClosing) return;
      }
      await this.send({ snapshotEnd: { nonce } });
      push.sentAt = Date.now();
    } finally {
      stopWatching();
      release();
    }
  }

  /**
   * Watches a snapshot send ({@link watchSendProgress}): after `snapshotStallTimeoutMs` without
   * progress the snapshot slot is released at once (the send's own awaits may never return) and
   * the peer closed with 4003. A peer that reads, however slowly, keeps its slot.
   */
  private watchForStall(release: () => void): () => void {
    const { snapshotStallTimeoutMs } = this.ctx.limits;
    const ws = this.ws;
    const source = {
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
      lastWriteDoneAt: () => this.lastWriteDoneAt,
      socket: (ws as unknown as { _socket?: unknown })._socket,
    };
    return watchSendProgress(source, snapshotStallTimeoutMs, ({ bufferedBytes, stalledMs }) => {
      release();
      this.ctx.stats.snapshotsStalled++;
      this.log.warn({ bufferedBytes, stalledMs }, 'snapshot send stalled; freeing its slot and closing the data plane');
      this.close(CloseCode.SLOW_CONSUMER, `snapshot stalled: nothing written for ${snapshotStallTimeoutMs} ms`);
    });
  }

  /**
   * Capability negotiation: whether the head may go to this data plane, i.e. it announced every
   * plugin the head uses with a compatible version (plugin-compatibility.ts). O(plugin names in
   * use): the mirror keeps them per version. A change of finding is logged and recorded (the
   * registry shows `sync_status: incompatible` with the missing plugins); the data plane keeps
   * serving what it has, and sending resumes once the head no longer uses them.
   */
  private checkPlugins(): boolean {
    const finding = pluginIncompatibility(this.ctx.mirror.pluginsInUse.names(), this.plugins);
    if (!isSameIncompatibility(finding, this.withheld)) {
      if (finding !== null) {
        this.log.warn({ version: this.ctx.mirror.version, missingPlugins: finding.missingPlugins, versionMismatches: finding.versionMismatches }, 'withholding the config: the data plane lacks plugins it uses');
      } else {
        this.log.info({ version: this.ctx.mirror.version }, 'the config no longer uses plugins the data plane lacks; sending resumes');
      }
      this.withheld = finding;
      this.updateRecord({ pluginIncompatibility: finding });
    }
    return finding === null;
  }

  private onAck(ack: AckMessage): void {
    const nonce = Number(ack.nonce ?? 0);
    if (!this.inflight || nonce !== this.inflight.nonce) {
      this.log.debug({ nonce, inflight: this.inflight?.nonce }, 'ignoring a stale ack');
      return;
    }
    const push = this.inflight;
    this.inflight = null;
    const applied = configStateView(ack.applied);
    const error = ack.error ?? 0;
    this.acked = applied;
    if (error === pb.Ack.Error.ERROR_NONE) {
      this.ctx.stats.acks++;
      const clearRejection = this.rejected !== null && (applied.epoch !== this.rejected.epoch || applied.version >= this.rejected.version);
      if (clearRejection) this.rejected = null;
      this.log.debug({ version: applied.version, ms: push.sentAt === null ? null : Date.now() - push.sentAt, kind: push.kind }, 'push acknowledged');
      this.updateRecord({
        appliedEpoch: applied.epoch,
        appliedVersion: applied.version,
        appliedHash: applied.hash,
        ...(this.rejected === null ? { lastError: null, lastErrorCode: null, rejectedVersion: null } : {}),
      });
    } else {
      this.ctx.stats.nacks++;
      const { code, message } = nackSummary(ack);
      this.log.warn({ code, message, version: push.toVersion, kind: push.kind }, 'data plane rejected a push');
      if ((error === pb.Ack.Error.ERROR_BASE_MISMATCH || error === pb.Ack.Error.ERROR_HASH_MISMATCH) && push.kind === 'delta') {
        // The data plane's state is not what the delta assumed: send it the whole config once.
        this.forceSnapshot = true;
      } else {
        // Never send this version again; wait for the head to move past it.
        this.rejected = { epoch: push.epoch, version: push.toVersion };
        this.forceSnapshot = false;
      }
      this.updateRecord({
        appliedEpoch: applied.epoch,
        appliedVersion: applied.version,
        appliedHash: applied.hash,
        lastError: message || code,
        lastErrorCode: code,
        rejectedVersion: push.toVersion,
      });
    }
    this.maybePush();
  }

  private onHeartbeat(hb: HeartbeatMessage): void {
    this.updateRecord({ lastSeen: Date.now() }, false);
    const state = configStateView(hb.state);
    // A data plane that reports another state than the one it acked (e.g. it reloaded its cache
    // out of band) is resynced; while a push is in flight its state legitimately lags.
    if (!this.inflight && (state.epoch !== this.acked.epoch || state.version !== this.acked.version)) {
      this.acked = state;
      this.maybePush();
    }
  }

  private updateRecord(patch: Partial<DataPlaneRecord>, persist = true): void {
    if (!this.record) return;
    this.record = { ...this.record, ...patch };
    if (persist) this.ctx.registry.update(this.record);
  }

  /**
   * Drops the data plane when nothing (frame or pong) has arrived for `2 × interval + grace`.
   * Called more often than `tick`, so a dead peer goes close to that bound, not an interval later.
   */
  checkLiveness(now: number): void {
    if (this.state !== 'active') return;
    const { heartbeatIntervalMs, heartbeatGraceMs } = this.ctx.limits;
    if (now - this.lastHeardAt > 2 * heartbeatIntervalMs + heartbeatGraceMs) {
      this.log.warn({ silentMs: now - this.lastHeardAt }, 'data plane stopped answering; dropping it');
      this.ws.terminate();
    }
  }

  /** Periodic work once per heartbeat interval, driven by the stream server's single timer. */
  tick(now: number): void {
    this.checkLiveness(now);
    if (this.state !== 'active') return;
    const { maxBufferedBytes, slowConsumerTimeoutMs, ackTimeoutMs, highWaterBytes } = this.ctx.limits;
    // Snapshots too: one never acknowledged would otherwise block every later push for good.
    if (this.inflight && this.inflight.sentAt !== null && now - this.inflight.sentAt > ackTimeoutMs) {
      return this.close(CloseCode.ACK_TIMEOUT, `push ${this.inflight.nonce} not acknowledged in ${ackTimeoutMs} ms`);
    }
    // A slow consumer is one whose queue stays over the cap, or whose queue has not moved at all
    // (no frame finished writing) for slowConsumerTimeoutMs: it would hold a snapshot slot forever.
    const buffered = this.ws.bufferedAmount;
    if (buffered > maxBufferedBytes) {
      this.slowSince ??= now;
    } else {
      this.slowSince = null;
    }
    const isStalled = buffered > 0 && now - this.lastWriteDoneAt > slowConsumerTimeoutMs;
    if (isStalled || (this.slowSince !== null && now - this.slowSince > slowConsumerTimeoutMs)) {
      return this.close(CloseCode.SLOW_CONSUMER, 'data plane reads too slowly');
    }
    if (buffered < highWaterBytes) {
      const missingPlugins = this.withheld === null ? [] : incompatiblePluginNames(this.withheld);
      void this.send({ heartbeat: { sentAtMs: now, state: this.headState(), inflightNonce: this.inflight?.nonce ?? 0, missingPlugins, connectedDataPlanes: this.ctx.connectedDataPlanes() } }).catch(() => {});
      this.ws.ping();
    }
    if (this.record) this.record = { ...this.record, lastSeen: Math.max(this.record.lastSeen, this.lastHeardAt) };
  }

  /**
   * Tells the data plane to reconnect elsewhere within the GoAway window (the replica is
   * draining). The connection stays open, pushes included, until the data plane leaves or the
   * stream server's drain deadline closes it. Sent once.
   */
  async goAway(reason: string): Promise<void> {
    if (this.state !== 'active' || this.isClosing || this.hasSentGoAway) return;
    this.hasSentGoAway = true;
    const { goAwayReconnectMinMs, goAwayReconnectMaxMs } = this.ctx.limits;
    await this.send({ goAway: { reason, reconnectMinMs: goAwayReconnectMinMs, reconnectMaxMs: goAwayReconnectMaxMs } }).catch(() => {});
  }

  private onClose(code: number, reason: string): void {
    const wasActive = this.state === 'active';
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    this.inflight = null;
    if (wasActive) {
      this.log.info({ code, reason }, 'data plane disconnected');
      this.ctx.registry.disconnected(this.nodeId, this.record?.connectedAt ?? null);
    }
    this.ctx.unregister(this);
  }
}
