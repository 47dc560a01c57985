// A fleet of protocol-level data planes in one process, for bench/fleet.mjs and test/fleet.e2e.test.ts.
//
// Each SimulatedDataPlane speaks the cluster stream (docs/protocol.md) over its own WebSocket to a
// real sluice-cp, as sluice-dp does: Hello with the state it holds, HelloAck, snapshots
// reassembled with the protocol's SnapshotAssembler and unpacked with unpackBatchAsync, deltas
// unpacked with unpackBatch and applied all-or-nothing, heartbeats every interval, a resync when
// head stays ahead with nothing arriving, a silent control plane dropped after 2 × interval +
// grace, and reconnects with the data plane's backoff (full jitter from 500 ms, GoAway windows,
// RETRY_LATER delays). Its config is a faithful stand-in for the data plane's: the resources'
// exact payload bytes by kind/id, each decoded once as the data plane's checks do, and the
// additive content hash of the protocol package updated in O(changed entities), with the epoch,
// base version and target hash checked before a push is committed (a refusal is NACKed with the
// data plane's codes). It builds no router and serves no traffic: what it measures is the
// control plane's side and the stream, at a fleet size that real processes cannot reach on one
// machine.
//
// Plain ESM, no dependency beyond what the root install has (ws, @sluice/protocol).
import { randomUUID } from 'node:crypto';
import {
  PLUGIN_DESCRIPTORS,
  CloseCode,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  SnapshotAssembler,
  addDigest,
  decodeEntity,
  decodeFrame,
  encodeFrame,
  frameBytes,
  hashHex,
  kindOfEntityType,
  pb,
  resourceDigest,
  subtractDigest,
  unpackBatch,
  unpackBatchAsync,
} from '@sluice/protocol';
import WebSocket from 'ws';

const AckError = pb.Ack.Error;
const Mode = pb.HelloAck.Mode;
const MASK = (1n << 256n) - 1n;

/** The data plane's reconnect backoff (packages/data-plane/src/sync/reconnect-backoff.ts): base 500 ms, cap 30 s, full jitter. */
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30_000;
/** The data plane's slack on dead-peer detection, in ms. */
export const HEARTBEAT_GRACE_MS = 2_000;

/** 32 big-endian bytes of a hash sum. */
function sumBytes(sum) {
  const out = new Uint8Array(32);
  let v = sum;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const sumOf = (bytes) => (bytes && bytes.length > 0 ? BigInt('0x' + Buffer.from(bytes).toString('hex')) & MASK : 0n);

/** A push refused: the Ack error code, the message, and the version refused. */
class Refusal extends Error {
  constructor(ackError, message, version) {
    super(message);
    this.ackError = ackError;
    this.version = version;
  }
}

/**
 * The config a simulated data plane holds: payloads by kind/id and the additive content hash. A
 * snapshot builds a new one; a delta is applied in place, all-or-nothing, so a refused push leaves
 * the served one untouched.
 */
export class SimulatedConfig {
  constructor(epoch = '', version = 0, resources = new Map(), sum = 0n) {
    this.epoch = epoch;
    this.version = version;
    this.resources = resources;
    this.sum = sum;
  }

  /** The state as Hello, Heartbeat and Ack report it (the empty state before any config). */
  state() {
    return this.epoch === '' ? { epoch: '', version: 0, hash: new Uint8Array(0) } : { epoch: this.epoch, version: this.version, hash: sumBytes(this.sum) };
  }

  hashHex() {
    return this.epoch === '' ? '' : hashHex(sumBytes(this.sum));
  }

  /** The config a snapshot batch makes, checked against its target. Throws a Refusal. */
  static fromSnapshot(batch, target) {
    const version = Number(target.version ?? 0);
    const resources = new Map();
    let sum = 0n;
    for (const r of batch.upserts ?? []) {
      const { kind, id, payload } = checked(r, version);
      const key = kind + '/' + id;
      if (resources.has(key)) throw new Refusal(AckError.ERROR_INVALID, `${key} appears twice in the snapshot`, version);
      resources.set(key, payload);
      sum = addDigest(sum, resourceDigest(kind, id, payload));
    }
    if (sum !== sumOf(target.hash)) throw new Refusal(AckError.ERROR_HASH_MISMATCH, `snapshot hash ${hashHex(sumBytes(sum))} is not the target's ${hashHex(target.hash)}`, version);
    return new SimulatedConfig(target.epoch ?? '', version, resources, sum);
  }

  /**
   * Applies a delta in place, all-or-nothing, in work proportional to the delta (as the data
   * plane's persistent maps do): the changes are staged and the hash computed through them; only
   * when the target hash matches are they written into the resources. Throws a Refusal, leaving
   * this config unchanged.
   */
  applyDelta(delta, batch) {
    const version = Number(delta.toVersion ?? 0);
    const from = Number(delta.fromVersion ?? 0);
    if (this.epoch === '' || delta.epoch !== this.epoch || from !== this.version || version <= from) {
      throw new Refusal(AckError.ERROR_BASE_MISMATCH, `delta from ${delta.epoch}@${from} does not apply to ${this.epoch}@${this.version}`, version);
    }
    /** kind/id → the payload after the delta, or null when removed. */
    const staged = new Map();
    const current = (k) => (staged.has(k) ? staged.get(k) : this.resources.get(k));
    let sum = this.sum;
    for (const key of batch.removals ?? []) {
      const kind = kindOfEntityType(key.type ?? 0);
      if (kind === undefined) throw new Refusal(AckError.ERROR_INVALID, `unknown entity type ${key.type}`, version);
      const k = kind + '/' + key.id;
      if (staged.has(k)) throw new Refusal(AckError.ERROR_INVALID, `${k} appears twice in the delta`, version);
      const old = current(k);
      staged.set(k, null);
      if (old !== undefined && old !== null) sum = subtractDigest(sum, resourceDigest(kind, key.id ?? '', old));
    }
    for (const r of batch.upserts ?? []) {
      const { kind, id, payload } = checked(r, version);
      const k = kind + '/' + id;
      if (staged.has(k)) throw new Refusal(AckError.ERROR_INVALID, `${k} appears twice in the delta`, version);
      const old = current(k);
      if (old !== undefined && old !== null) sum = subtractDigest(sum, resourceDigest(kind, id, old));
      staged.set(k, payload);
      sum = addDigest(sum, resourceDigest(kind, id, payload));
    }
    if (sum !== sumOf(delta.targetHash)) throw new Refusal(AckError.ERROR_HASH_MISMATCH, `hash after the delta is not its target ${hashHex(delta.targetHash)}`, version);
    for (const [k, payload] of staged) {
      if (payload === null) this.resources.delete(k);
      else this.resources.set(k, payload);
    }
    this.sum = sum;
    this.version = version;
    return this;
  }
}

/** A resource's kind, id and payload, decoded once as the data plane's checks do. Throws a Refusal. */
function checked(resource, version) {
  const kind = kindOfEntityType(resource.type ?? 0);
  if (kind === undefined) throw new Refusal(AckError.ERROR_INVALID, `unknown entity type ${resource.type}`, version);
  const payload = resource.payload ?? new Uint8Array(0);
  try {
    decodeEntity(kind, payload);
  } catch (err) {
    throw new Refusal(AckError.ERROR_DECODE, `${kind} ${resource.id}: ${err.message}`, version);
  }
  return { kind, id: resource.id ?? '', payload };
}

/**
 * One protocol-level data plane. `onApplied(dp, config, kind)` is called synchronously each time
 * a push is committed, just before its Ack is sent.
 */
export class SimulatedDataPlane {
  /**
   * @param {object} options
   * @param {string} options.url the control plane's cluster origin, e.g. ws://127.0.0.1:8005
   * @param {string} [options.nodeId] default a new UUID
   * @param {Record<string,string>} [options.labels]
   * @param {(dp: SimulatedDataPlane, config: SimulatedConfig, kind: 'delta'|'snapshot') => void} [options.onApplied]
   * @param {(dp: SimulatedDataPlane) => void} [options.onConnected]
   */
  constructor(options) {
    this.url = options.url.replace(/\/+$/, '') + '/v1/stream';
    this.nodeId = options.nodeId ?? randomUUID();
    this.instanceId = randomUUID();
    this.hostname = options.hostname ?? `sim-${this.nodeId.slice(0, 8)}`;
    this.labels = options.labels ?? { fleet: 'simulated' };
    this.onApplied = options.onApplied ?? (() => {});
    this.onConnected = options.onConnected ?? (() => {});
    this.config = new SimulatedConfig();
    this.ws = null;
    this.isStopped = false;
    this.isConnected = false;
    this.head = null;
    this.attempt = 0;
    this.timers = [];
    this.reconnectTimer = null;
    /** Pushes whose commit waits for {@link release} (null when not held). */
    this.held = null;
    /** Counters: connections made, snapshots and deltas applied, NACKs sent, resyncs asked. */
    this.stats = { connects: 0, snapshots: 0, deltas: 0, nacks: 0, resyncs: 0 };
  }

  /** Connects after the data plane's boot jitter (random within the backoff base), or at once with `immediately`. */
  start({ immediately = false } = {}) {
    this.isStopped = false;
    this.schedule(immediately ? 0 : Math.floor(Math.random() * RECONNECT_BASE_MS));
  }

  /** Closes (1001) and stops reconnecting; resolves once the socket is closed. */
  stop() {
    this.isStopped = true;
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(CloseCode.GOING_AWAY, 'data plane stopping');
      setTimeout(() => ws.terminate(), 2_000).unref();
    });
  }

  schedule(delayMs) {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  connect() {
    if (this.isStopped) return;
    const ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES, handshakeTimeout: 10_000 });
    this.ws = ws;
    /** What the connection learnt that decides the next reconnect. */
    const session = { goAway: null, retryAfterMs: null, connectedAt: 0, assembler: null, busy: false, lastReceived: Date.now(), lastPushFrame: 0, stallBase: 0, interval: 5_000 };
    this.session = session;
    ws.on('open', () => {
      this.stats.connects++;
      this.send({
        hello: {
          protocolVersion: PROTOCOL_VERSION,
          nodeId: this.nodeId,
          instanceId: this.instanceId,
          buildVersion: 'fleet-sim',
          hostname: this.hostname,
          labels: this.labels,
          capabilities: [],
          // Every bundled plugin, as a data plane with the default --plugins announces them.
          plugins: [...PLUGIN_DESCRIPTORS.values()].map((d) => ({ name: d.name, version: d.version })),
          codecs: [pb.Codec.CODEC_NONE, pb.Codec.CODEC_GZIP],
          maxFrameBytes: MAX_FRAME_BYTES,
          applied: this.config.state(),
        },
      });
    });
    ws.on('message', (data, isBinary) => {
      session.lastReceived = Date.now();
      if (!isBinary) return ws.close(CloseCode.PROTOCOL_ERROR, 'text frame');
      let frame;
      try {
        frame = decodeFrame(frameBytes(data), MAX_FRAME_BYTES);
      } catch (err) {
        return ws.close(CloseCode.PROTOCOL_ERROR, String(err.message).slice(0, 120));
      }
      this.onFrame(session, frame);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      this.isConnected = false;
      if (this.ws === ws) this.ws = null;
      if (this.isStopped) return;
      if (session.connectedAt > 0 && Date.now() - session.connectedAt >= 60_000) this.attempt = 0;
      let delay;
      if (session.goAway) delay = session.goAway.min + Math.random() * Math.max(0, session.goAway.max - session.goAway.min);
      else if (code === CloseCode.RETRY_LATER && session.retryAfterMs !== null) delay = session.retryAfterMs * (1 + Math.random() * 0.5);
      else delay = Math.random() * Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(this.attempt++, 52));
      this.schedule(Math.floor(delay));
    });
  }

  send(envelope) {
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(envelope), { binary: true });
  }

  onFrame(session, frame) {
    switch (frame.msg) {
      case 'helloAck':
        return this.onHelloAck(session, frame.helloAck);
      case 'heartbeat':
        this.head = frame.heartbeat.state ?? this.head;
        return;
      case 'goAway':
        session.goAway = { min: frame.goAway.reconnectMinMs ?? 0, max: frame.goAway.reconnectMaxMs ?? 0 };
        return;
      case 'error':
        return;
      case 'delta':
        return this.onDelta(session, frame.delta);
      case 'snapshotBegin':
        session.lastPushFrame = Date.now();
        try {
          session.assembler = new SnapshotAssembler(frame.snapshotBegin);
        } catch (err) {
          this.ws?.close(CloseCode.PROTOCOL_ERROR, String(err.message).slice(0, 120));
        }
        return;
      case 'snapshotChunk':
        session.lastPushFrame = Date.now();
        try {
          session.assembler.add(frame.snapshotChunk);
        } catch (err) {
          this.ws?.close(CloseCode.PROTOCOL_ERROR, String(err?.message).slice(0, 120));
        }
        return;
      case 'snapshotEnd':
        return this.onSnapshotEnd(session, Number(frame.snapshotEnd.nonce ?? 0));
      default:
        this.ws?.close(CloseCode.PROTOCOL_ERROR, `unexpected ${frame.msg}`);
    }
  }

  onHelloAck(session, ack) {
    this.head = ack.head ?? null;
    if (ack.mode === Mode.MODE_RETRY_LATER) {
      session.retryAfterMs = ack.retryAfterMs ?? null;
      return;
    }
    session.connectedAt = Date.now();
    session.stallBase = session.connectedAt;
    this.isConnected = true;
    const interval = ack.heartbeatIntervalMs > 0 ? ack.heartbeatIntervalMs : 5_000;
    session.interval = interval;
    const deadAfterMs = 2 * interval + HEARTBEAT_GRACE_MS;
    this.timers.push(
      setInterval(() => {
        const now = Date.now();
        this.send({ heartbeat: { sentAtMs: now, state: this.config.state(), inflightNonce: 0 } });
        const head = this.head;
        const isBehind = head && head.epoch && (head.epoch !== this.config.epoch || Number(head.version ?? 0) > this.config.version);
        if (isBehind && !session.busy && !session.assembler && now - Math.max(session.stallBase, session.lastPushFrame) >= 2 * interval) {
          session.stallBase = now;
          this.stats.resyncs++;
          this.send({ resync: { reason: pb.ResyncRequest.Reason.REASON_STALL, applied: this.config.state() } });
        }
      }, interval),
      setInterval(() => {
        if (Date.now() - session.lastReceived > deadAfterMs) this.ws?.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      }, Math.max(10, Math.floor(Math.min(interval, HEARTBEAT_GRACE_MS) / 4))),
    );
    this.onConnected(this);
  }

  onDelta(session, delta) {
    session.lastPushFrame = Date.now();
    if (this.held !== null) {
      // A delta is applied in place: held whole, not just its commit.
      const ws = this.ws;
      this.held.push(() => {
        if (this.ws === ws) this.onDelta(session, delta);
      });
      return;
    }
    const nonce = Number(delta.nonce ?? 0);
    try {
      const b = delta.body ?? {};
      const batch = unpackBatch({ codec: b.codec ?? 0, rawSize: Number(b.rawSize ?? 0), rawSha256: b.rawSha256 ?? new Uint8Array(0), data: b.data ?? new Uint8Array(0) });
      this.commit(nonce, this.config.applyDelta(delta, batch), 'delta');
    } catch (err) {
      this.refuse(nonce, err, Number(delta.toVersion ?? 0));
    }
  }

  onSnapshotEnd(session, nonce) {
    session.lastPushFrame = Date.now();
    const assembler = session.assembler;
    session.assembler = null;
    let body;
    try {
      body = assembler.finish(nonce);
    } catch (err) {
      this.ws?.close(CloseCode.PROTOCOL_ERROR, String(err?.message).slice(0, 120));
      return;
    }
    const target = assembler.begin.target ?? {};
    session.busy = true;
    const ws = this.ws;
    unpackBatchAsync(body)
      .then((batch) => {
        if (this.ws !== ws) return;
        this.commit(nonce, SimulatedConfig.fromSnapshot(batch, target), 'snapshot');
      })
      .catch((err) => {
        if (this.ws === ws) this.refuse(nonce, err, Number(target.version ?? 0));
      })
      .finally(() => {
        session.busy = false;
      });
  }

  /** Holds every push from here on: it is received and checked but neither committed nor acked until {@link release}. */
  hold() {
    this.held ??= [];
  }

  /** Commits and acks the held pushes, in order, and stops holding. */
  release() {
    const held = this.held ?? [];
    this.held = null;
    for (const commit of held) commit();
  }

  commit(nonce, config, kind) {
    if (this.held !== null) {
      const ws = this.ws;
      this.held.push(() => {
        if (this.ws === ws) this.commit(nonce, config, kind);
      });
      return;
    }
    this.config = config;
    this.stats[kind === 'delta' ? 'deltas' : 'snapshots']++;
    this.onApplied(this, config, kind);
    this.send({ ack: { nonce, applied: config.state(), error: AckError.ERROR_NONE, rejectedVersion: 0 } });
  }

  refuse(nonce, err, version) {
    this.stats.nacks++;
    const ackError = err instanceof Refusal ? err.ackError : AckError.ERROR_DECODE;
    this.send({ ack: { nonce, applied: this.config.state(), error: ackError, message: String(err.message).slice(0, 500), resourceErrors: [], rejectedVersion: err.version ?? version } });
  }
}

/** A fleet of simulated data planes against one control plane. */
export class SimulatedFleet {
  /**
   * @param {object} options
   * @param {string} options.url the control plane's cluster origin
   * @param {number} options.size how many data planes
   * @param {(dp: SimulatedDataPlane, config: SimulatedConfig, kind: string) => void} [options.onApplied]
   */
  constructor(options) {
    this.listeners = new Set();
    const onApplied = (dp, config, kind) => {
      options.onApplied?.(dp, config, kind);
      for (const l of [...this.listeners]) l(dp, config, kind);
    };
    this.dataPlanes = Array.from({ length: options.size }, (_, i) => new SimulatedDataPlane({ url: options.url, onApplied, labels: { fleet: 'simulated', index: String(i) } }));
  }

  /** Starts every data plane (each after its boot jitter). */
  start() {
    for (const dp of this.dataPlanes) dp.start();
  }

  stop() {
    return Promise.all(this.dataPlanes.map((dp) => dp.stop()));
  }

  /** Points every data plane at another control plane (the next reconnect uses it). */
  retarget(url) {
    for (const dp of this.dataPlanes) dp.url = url.replace(/\/+$/, '') + '/v1/stream';
  }

  /** Resolves once `predicate(dp)` holds for every data plane, re-checked on each apply and every 20 ms; rejects after `timeoutMs`. */
  until(predicate, what, timeoutMs = 60_000) {
    const all = () => this.dataPlanes.every(predicate);
    if (all()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err) => {
        clearInterval(poll);
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (all()) done();
      };
      const poll = setInterval(check, 20);
      const timer = setTimeout(() => {
        const behind = this.dataPlanes.filter((dp) => !predicate(dp)).length;
        done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${behind} of ${this.dataPlanes.length} data planes not there`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Resolves once every data plane holds `state` (epoch, version, hash hex). */
  converged(state, timeoutMs) {
    return this.until((dp) => dp.config.epoch === state.epoch && dp.config.version === state.version && dp.config.hashHex() === state.hash, `every data plane at ${state.epoch}@${state.version}`, timeoutMs);
  }

  /** Sums of the data planes' counters. */
  totals() {
    const t = { connects: 0, snapshots: 0, deltas: 0, nacks: 0, resyncs: 0, connected: 0 };
    for (const dp of this.dataPlanes) {
      for (const k of Object.keys(dp.stats)) t[k] += dp.stats[k];
      if (dp.isConnected) t.connected++;
    }
    return t;
  }
}
