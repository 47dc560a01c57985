/**
 * The control plane's side of the cluster stream, proved against a real store, ConfigMirror,
 * DataPlaneRegistry and StreamServer on loopback, and a scripted data-plane peer that speaks the
 * protocol frame by frame (so it can also misbehave on purpose). See docs/protocol.md and the
 * "Properties the test suite must prove" of the architecture page.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  type EntityKind,
  CloseCode,
  ConfigHash,
  PLUGIN_DESCRIPTORS,
  PLUGIN_SCHEMA_VERSION,
  PROTOCOL_VERSION,
  SNAPSHOT_CHUNK_BYTES,
  SnapshotAssembler,
  configStateView,
  decodeFrame,
  encodeFrame,
  frameBytes,
  hashHex,
  kindOfEntityType,
  pb,
  type HelloAckMessage,
  type HelloMessage,
  type HeartbeatMessage,
  type sluice,
  prepareService,
  unpackBatch,
  type ConfigStateMessage,
  type Envelope,
  type EnvelopeProperties,
  type FrameKind,
  type Service,
  completePluginConfig,
} from '@sluice/protocol';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../../../test/support/processes.js';
import { CONFIG_VERSION_HEADER } from '../src/admin/index.js';
import { ConfigMirror } from '../src/changes/config-mirror.js';
import type { Store } from '../src/store/index.js';
import { clusteringApi } from '../src/stream/clustering-api.js';
import { DataPlaneRegistry, type DataPlaneRegistryOptions } from '../src/stream/data-plane-registry.js';
import { DataPlaneSession } from '../src/stream/data-plane-session.js';
import type { StreamLimits } from '../src/stream/stream-limits.js';
import { STREAM_PATH, StreamServer } from '../src/stream/stream-server.js';
import { buildTestAdmin, silentLogger, type TestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

const Mode = pb.HelloAck.Mode;
const AckError = pb.Ack.Error;
type Frame = Envelope & { msg: FrameKind };

/** A push as the peer received it, unpacked. */
interface Push {
  kind: 'delta' | 'snapshot';
  nonce: number;
  epoch: string;
  fromVersion: number | null;
  toVersion: number;
  targetHash: string;
  upserts: { kind: EntityKind; id: string; payload: Uint8Array }[];
  removals: { kind: EntityKind; id: string }[];
  chunkCount: number;
}

/**
 * A scripted data plane: it sends exactly the frames the test tells it to, queues every frame the
 * control plane sends (heartbeats are counted, not queued), and keeps a config it can apply pushes
 * to, with the same additive content hash as the real data plane.
 */
class Peer {
  readonly ws: WebSocket;
  readonly nodeId: string;
  readonly frames: Frame[] = [];
  heartbeats = 0;
  /** The last heartbeat the control plane sent. */
  lastHeartbeat: HeartbeatMessage | null = null;
  closeInfo: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;
  epoch = '';
  version = 0;
  readonly resources = new Map<string, Uint8Array>();
  private hash = new ConfigHash();
  private readonly listeners = new Set<() => void>();

  constructor(url: string, nodeId: string = randomUUID()) {
    this.nodeId = nodeId;
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) throw new Error('the control plane sent a text frame');
      const frame = decodeFrame(frameBytes(data as Buffer), 64 * 1024 * 1024);
      if (frame.msg === 'heartbeat') {
        this.heartbeats++;
        this.lastHeartbeat = frame.heartbeat!;
      } else this.frames.push(frame);
      this.notify();
    });
    this.ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() };
      this.notify();
    });
  }

  static async connect(url: string, nodeId?: string): Promise<Peer> {
    const peer = new Peer(url, nodeId);
    await peer.opened;
    return peer;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves when `predicate` holds, re-checked on every frame and on close. */
  until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`peer ${this.nodeId.slice(0, 8)}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
  }

  /** The next non-heartbeat frame; fails on close or when it is not of kind `kind`. */
  async next(kind?: FrameKind, timeoutMs = 10_000): Promise<Frame> {
    await this.until(() => this.frames.length > 0 || this.closeInfo !== null, `a ${kind ?? 'frame'}`, timeoutMs);
    const frame = this.frames.shift();
    if (!frame) throw new Error(`peer closed (${this.closeInfo?.code} ${this.closeInfo?.reason}) while waiting for a ${kind ?? 'frame'}`);
    if (kind && frame.msg !== kind) throw new Error(`expected ${kind}, got ${frame.msg}: ${JSON.stringify(frame)}`);
    return frame;
  }

  /** Resolves with the close code and reason once the connection is closed. */
  async closed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closeInfo !== null, 'the connection to close', timeoutMs);
    return this.closeInfo!;
  }

  /** Waits for `count` more control-plane heartbeats and asserts nothing else arrived meanwhile. */
  async expectQuiet(count = 3): Promise<void> {
    const start = this.heartbeats;
    await this.until(() => this.heartbeats >= start + count || this.frames.length > 0 || this.closeInfo !== null, `${count} heartbeats`);
    expect(this.frames.map((f) => f.msg)).toEqual([]);
    expect(this.closeInfo).toBeNull();
  }

  send(envelope: EnvelopeProperties): void {
    this.ws.send(encodeFrame(envelope), { binary: true });
  }

  /** The state this peer serves, as it announces it. */
  state(): ConfigStateMessage {
    return { epoch: this.epoch, version: this.version, hash: this.epoch === '' ? new Uint8Array(0) : this.hash.bytes() };
  }

  hashHex(): string {
    return this.hash.hex();
  }

  /** Takes over another peer's config (a data plane restarted from a cache). */
  copyStateFrom(other: { epoch: string; version: number; resources: Map<string, Uint8Array> }): this {
    this.epoch = other.epoch;
    this.version = other.version;
    this.resources.clear();
    this.hash = new ConfigHash();
    for (const [key, payload] of other.resources) {
      this.resources.set(key, payload);
      const [kind, id] = key.split('/') as [EntityKind, string];
      this.hash.set(kind, id, payload);
    }
    return this;
  }

  hello(overrides: Partial<HelloMessage> = {}): void {
    this.send({
      hello: {
        protocolVersion: PROTOCOL_VERSION,
        nodeId: this.nodeId,
        instanceId: randomUUID(),
        buildVersion: 'test',
        hostname: `peer-${this.nodeId.slice(0, 8)}`,
        labels: { role: 'scripted' },
        codecs: [pb.Codec.CODEC_NONE, pb.Codec.CODEC_GZIP],
        maxFrameBytes: 64 * 1024 * 1024,
        applied: this.state(),
        ...overrides,
      },
    });
  }

  /** Sends Hello and returns the HelloAck, checking its mode. */
  async handshake(expectedMode?: number): Promise<HelloAckMessage> {
    this.hello();
    const ack = (await this.next('helloAck')).helloAck!;
    if (expectedMode !== undefined) expect(ack.mode).toBe(expectedMode);
    return ack;
  }

  /** Receives the next push (a delta, or a whole chunked snapshot) and unpacks its body. */
  async receivePush(timeoutMs = 10_000): Promise<Push> {
    const first = await this.next(undefined, timeoutMs);
    const decode = (batch: sluice.v1.ResourceBatch) => ({
      upserts: batch.upserts.map((r) => ({ kind: kindOfEntityType(r.type ?? 0)!, id: r.id ?? '', payload: r.payload ?? new Uint8Array() })),
      removals: batch.removals.map((r) => ({ kind: kindOfEntityType(r.type ?? 0)!, id: r.id ?? '' })),
    });
    if (first.msg === 'delta') {
      const d = first.delta!;
      const body = d.body!;
      const batch = unpackBatch({ codec: body.codec ?? 0, rawSize: Number(body.rawSize), rawSha256: body.rawSha256!, data: body.data! });
      return {
        kind: 'delta',
        nonce: Number(d.nonce),
        epoch: d.epoch ?? '',
        fromVersion: Number(d.fromVersion),
        toVersion: Number(d.toVersion),
        targetHash: hashHex(d.targetHash),
        chunkCount: 0,
        ...decode(batch),
      };
    }
    if (first.msg !== 'snapshotBegin') throw new Error(`expected a push, got ${first.msg}`);
    const begin = first.snapshotBegin!;
    const assembler = new SnapshotAssembler(begin);
    for (;;) {
      const f = await this.next(undefined, timeoutMs);
      if (f.msg === 'snapshotChunk') assembler.add(f.snapshotChunk!);
      else if (f.msg === 'snapshotEnd') break;
      else throw new Error(`unexpected ${f.msg} inside a snapshot`);
    }
    const batch = unpackBatch(assembler.finish(Number(begin.nonce)));
    expect(batch.upserts.length).toBe(begin.entityCount);
    return {
      kind: 'snapshot',
      nonce: Number(begin.nonce),
      epoch: begin.target!.epoch ?? '',
      fromVersion: null,
      toVersion: Number(begin.target!.version),
      targetHash: hashHex(begin.target!.hash),
      chunkCount: begin.chunkCount ?? 0,
      ...decode(batch),
    };
  }

  /** Applies a push as the real data plane would (all or nothing); returns false when the hash does not come out as announced. */
  apply(push: Push): boolean {
    const resources = push.kind === 'snapshot' ? new Map<string, Uint8Array>() : new Map(this.resources);
    if (push.kind === 'delta' && (push.epoch !== this.epoch || push.fromVersion !== this.version)) {
      throw new Error(`delta ${push.epoch}@${push.fromVersion} does not apply to ${this.epoch}@${this.version}`);
    }
    for (const r of push.removals) resources.delete(`${r.kind}/${r.id}`);
    for (const r of push.upserts) resources.set(`${r.kind}/${r.id}`, r.payload);
    const hash = new ConfigHash();
    for (const [key, payload] of resources) {
      const [kind, id] = key.split('/') as [EntityKind, string];
      hash.set(kind, id, payload);
    }
    if (hash.hex() !== push.targetHash) return false;
    this.copyStateFrom({ epoch: push.epoch, version: push.toVersion, resources });
    return true;
  }

  ack(nonce: number): void {
    this.send({ ack: { nonce, applied: this.state(), error: AckError.ERROR_NONE } });
  }

  nack(nonce: number, error: number, message: string, rejectedVersion = 0): void {
    this.send({
      ack: {
        nonce,
        applied: this.state(),
        error,
        message,
        rejectedVersion,
        resourceErrors: [{ key: { type: pb.EntityType.ENTITY_TYPE_SERVICE, id: 'x' }, code: 'INVALID', message: 'scripted refusal' }],
      },
    });
  }

  /** Receives, applies and acknowledges one push; returns it. */
  async sync(): Promise<Push> {
    const push = await this.receivePush();
    expect(this.apply(push)).toBe(true);
    this.ack(push.nonce);
    return push;
  }

  /** The TCP socket under the WebSocket. */
  private get socket(): import('node:net').Socket {
    return (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
  }

  /** Stops reading from the socket: no frames, no pongs reach this peer's code any more. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** Reads at most about `bytesPerTick` per `tickMs` (a slow but steady reader); returns the function that lifts the limit. */
  readSlowly(bytesPerTick: number, tickMs: number): () => void {
    const socket = this.socket;
    let budget = bytesPerTick;
    const onData = (chunk: Buffer) => {
      budget -= chunk.length;
      if (budget <= 0) socket.pause();
    };
    socket.on('data', onData);
    const timer = setInterval(() => {
      budget = bytesPerTick;
      socket.resume();
    }, tickMs);
    return () => {
      clearInterval(timer);
      socket.off('data', onData);
      socket.resume();
    };
  }

  /** Sends a heartbeat every `intervalMs` (also while not reading), so liveness never drops this peer; returns the function that stops. */
  keepBeating(intervalMs = 50): () => void {
    const timer = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.send({ heartbeat: { sentAtMs: Date.now(), state: this.state() } });
    }, intervalMs);
    return () => clearInterval(timer);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Mirror resources as `kind/id → payload hex`. */
function mirrorEntities(mirror: ConfigMirror): Map<string, string> {
  return new Map([...mirror.resources.values()].map((r) => [`${r.kind}/${r.id}`, Buffer.from(r.payload).toString('hex')]));
}

function peerEntities(source: Map<string, Uint8Array> | Push['upserts']): Map<string, string> {
  const entries = source instanceof Map ? [...source.entries()] : source.map((r) => [`${r.kind}/${r.id}`, r.payload] as const);
  return new Map(entries.map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
}

/** Writes `count` services, each carrying about `tagBytes` of incompressible tags, in batches of 250 per version. */
async function writeBigConfig(store: Store, count: number, tagBytes: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (let start = 0; start < count; start += 250) {
    const batch: Service[] = [];
    for (let i = start; i < Math.min(count, start + 250); i++) {
      const tags = Array.from({ length: Math.ceil(tagBytes / 64) }, () => randomBytes(48).toString('base64').replace(/[+/]/g, 'x'));
      const prepared = prepareService({ name: `big${i}`, host: `big${i}.internal`, tags }, { mode: 'create', now, newId: randomUUID() });
      if (!prepared.ok) throw new Error(JSON.stringify(prepared.errors));
      batch.push(prepared.entity);
    }
    await store.write(async (w) => {
      for (const s of batch) await w.insert('services', s);
    });
  }
}

/** A control plane's stream side, in process: mirror, registry, stream server and Admin API over one store. */
interface TestCluster {
  store: Store;
  mirror: ConfigMirror;
  registry: DataPlaneRegistry;
  stream: StreamServer;
  admin: TestAdmin;
  url: string;
  peers: Peer[];
  connect(nodeId?: string): Promise<Peer>;
  /** An Admin API write; returns the version it committed, once the mirror has it. */
  write(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ version: number; body: any }>;
  close(): Promise<void>;
}

/** rate-limiting's config with every field written out at Kong's default (a limit of 5 a minute). */
const COMPLETE_RATE_LIMITING_CONFIG = completePluginConfig('rate-limiting', { minute: 5 });

const BASE_LIMITS: Partial<StreamLimits> = { heartbeatIntervalMs: 100, heartbeatGraceMs: 2_000, helloTimeoutMs: 2_000 };

describeEachDatabase('cluster stream (control plane side)', (env) => {
  let store: Store;
  const clusters: TestCluster[] = [];

  beforeAll(async () => {
    store = await env.openStore();
  });

  beforeEach(async () => {
    await env.reset();
    await sql`truncate table data_planes`.execute(store.db);
  });

  afterEach(async () => {
    for (const c of clusters.splice(0)) await c.close();
  });

  async function startCluster(
    limits: Partial<StreamLimits> = {},
    staleAfterMs = 3_000,
    maxWindowChanges?: number,
    registryOptions: Pick<DataPlaneRegistryOptions, 'maxRows'> = {},
  ): Promise<TestCluster> {
    const mirror = new ConfigMirror({ source: store, logger: silentLogger, pollIntervalMs: 20, maxWindowChanges });
    await mirror.start();
    const cpInstanceId = randomUUID();
    const registry = new DataPlaneRegistry({ db: store.db, logger: silentLogger, cpInstanceId, staleAfterMs, ...registryOptions });
    const stream = new StreamServer({ mirror, registry, logger: silentLogger, cpInstanceId, limits: { ...BASE_LIMITS, ...limits } });
    const { port } = await stream.listen('127.0.0.1', 0);
    const admin = await buildTestAdmin(store, { extensions: [clusteringApi({ mirror, registry, stream })] });
    const url = `ws://127.0.0.1:${port}${STREAM_PATH}`;
    const peers: Peer[] = [];
    let isClosed = false;
    const cluster: TestCluster = {
      store,
      mirror,
      registry,
      stream,
      admin,
      url,
      peers,
      async connect(nodeId) {
        const peer = await Peer.connect(url, nodeId);
        peers.push(peer);
        return peer;
      },
      async write(method, path, body) {
        const res = await admin.json(method, path, body);
        if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
        const version = Number(res.headers[CONFIG_VERSION_HEADER.toLowerCase()]);
        await waitFor(() => mirror.version >= version, `the mirror to reach version ${version}`);
        return { version, body: res.body ? JSON.parse(res.body) : undefined };
      },
      async close() {
        if (isClosed) return;
        isClosed = true;
        for (const p of peers) p.terminate();
        await stream.close();
        mirror.stop();
        await registry.settle();
        await admin.app.close();
      },
    };
    clusters.push(cluster);
    return cluster;
  }

  const service = (name: string, extra: Record<string, unknown> = {}) => ({ name, url: `http://${name}.internal:8080/base`, ...extra });

  async function dataPlanes(c: TestCluster): Promise<any[]> {
    await c.registry.settle();
    const res = await c.admin.request({ method: 'GET', url: '/clustering/data-planes' });
    expect(res.statusCode).toBe(200);
    return JSON.parse(res.body).data;
  }

  /** An Admin API GET, its status and parsed body. */
  async function getJson(c: TestCluster, url: string): Promise<{ status: number; body: any }> {
    const res = await c.admin.request({ method: 'GET', url });
    return { status: res.statusCode, body: JSON.parse(res.body) };
  }

  /** Resolves once `id`'s row shows `connected` as given. */
  async function rowConnected(c: TestCluster, id: string, connected: boolean): Promise<unknown> {
    const row = await waitFor(async () => (await dataPlanes(c)).find((r) => r.id === id && r.connected === connected), `${id.slice(0, 8)} to be listed connected: ${connected}`);
    // The listing shows this replica's records from memory; admission counts the written rows.
    await c.registry.settle();
    return row;
  }

  /** Starts a propagation wait; resolves once the wait has read the fleet, with its answer still to come. */
  async function startPropagationWait(c: TestCluster, url: string): Promise<{ answer: Promise<{ status: number; body: any }> }> {
    const list = vi.spyOn(c.registry, 'list');
    const answer = getJson(c, url);
    try {
      await waitFor(() => list.mock.calls.length > 0, 'the propagation wait to read the fleet');
      await list.mock.results[0]!.value;
    } finally {
      list.mockRestore();
    }
    return { answer };
  }

  it('answers each Hello with the right mode: snapshot, up to date, delta, other epoch, and retry later when the peer is ahead', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('alpha'));
    await c.write('POST', '/services', service('beta'));
    await c.write('POST', '/services/alpha/routes', { name: 'r1', paths: ['/a'] });
    const v1 = c.mirror.version;

    // An empty data plane gets a snapshot: chunks reassemble into exactly the mirror's entities and hash.
    const empty = await c.connect();
    const ack = await empty.handshake(Mode.MODE_SNAPSHOT);
    expect(configStateView(ack.head)).toEqual({ epoch: c.mirror.epoch, version: v1, hash: c.mirror.hashHex() });
    expect(ack.heartbeatIntervalMs).toBe(100);
    const snap = await empty.receivePush();
    expect(snap).toMatchObject({ kind: 'snapshot', epoch: c.mirror.epoch, toVersion: v1, targetHash: c.mirror.hashHex() });
    expect(snap.removals).toEqual([]);
    expect(peerEntities(snap.upserts)).toEqual(mirrorEntities(c.mirror));
    expect(empty.apply(snap)).toBe(true);
    empty.ack(snap.nonce);
    const atV1 = { epoch: empty.epoch, version: empty.version, resources: new Map(empty.resources) };

    // A data plane at the head (a restart with a warm cache): up to date, nothing pushed.
    const warm = (await c.connect()).copyStateFrom(atV1);
    await warm.handshake(Mode.MODE_UP_TO_DATE);
    await warm.expectQuiet();

    // Same version, another hash: its content cannot be trusted, so a snapshot.
    const tampered = (await c.connect()).copyStateFrom(atV1);
    tampered.resources.set('services/' + randomUUID(), new Uint8Array([1, 2, 3]));
    tampered.copyStateFrom({ ...atV1, resources: tampered.resources });
    await tampered.handshake(Mode.MODE_SNAPSHOT);
    expect((await tampered.receivePush()).kind).toBe('snapshot');

    // Older version of the same epoch: a delta from exactly its version to the head.
    await c.write('PATCH', '/services/beta', { retries: 9 });
    await c.write('DELETE', '/routes/r1');
    const behind = (await c.connect()).copyStateFrom(atV1);
    const behindAck = await behind.handshake(Mode.MODE_DELTA);
    expect(Number(behindAck.head!.version)).toBe(c.mirror.version);
    const delta = await behind.receivePush();
    expect(delta).toMatchObject({ kind: 'delta', fromVersion: v1, toVersion: c.mirror.version, targetHash: c.mirror.hashHex() });
    expect(delta.removals.map((r) => r.kind)).toEqual(['routes']);
    expect(delta.upserts.map((r) => r.kind)).toEqual(['services']);
    expect(behind.apply(delta)).toBe(true);
    expect(peerEntities(behind.resources)).toEqual(mirrorEntities(c.mirror));

    // Another epoch (the database was reset or restored): a snapshot.
    const foreign = (await c.connect()).copyStateFrom({ ...atV1, epoch: randomUUID() });
    await foreign.handshake(Mode.MODE_SNAPSHOT);
    expect((await foreign.receivePush()).toVersion).toBe(c.mirror.version);

    // Ahead of this replica within the epoch: RETRY_LATER and 4007; nothing lower is ever sent.
    const ahead = (await c.connect()).copyStateFrom({ ...atV1, version: c.mirror.version + 5 });
    const retry = await ahead.handshake(Mode.MODE_RETRY_LATER);
    expect(retry.retryAfterMs).toBeGreaterThan(0);
    expect((await ahead.closed()).code).toBe(CloseCode.RETRY_LATER);
    expect(ahead.frames.map((f) => f.msg)).toEqual([]);
    expect(c.stream.sessions.has(ahead.nodeId)).toBe(false);
  });

  it('tells each data plane how many are connected across the cluster, in HelloAck and then in every Heartbeat', async () => {
    const c = await startCluster();
    const a = await c.connect();
    expect((await a.handshake(Mode.MODE_SNAPSHOT)).connectedDataPlanes).toBe(1);
    const b = await c.connect();
    expect((await b.handshake(Mode.MODE_SNAPSHOT)).connectedDataPlanes).toBe(2);
    await a.until(() => a.lastHeartbeat?.connectedDataPlanes === 2, 'a heartbeat saying 2');
    expect(c.stream.connectedDataPlanes).toBe(2);
  });

  it('builds a delta older than the in-memory window from the change log, deletes included', async () => {
    const c = await startCluster({}, 3_000, 2);
    await c.write('POST', '/services', service('a'));
    await c.write('POST', '/services', service('b'));
    const first = await c.connect();
    await first.handshake(Mode.MODE_SNAPSHOT);
    const atV2 = await first.sync();
    first.terminate();
    await c.write('PATCH', '/services/a', { retries: 2 });
    await c.write('POST', '/services', service('c'));
    await c.write('DELETE', '/services/b');
    await c.write('POST', '/services', service('tmp'));
    await c.write('DELETE', '/services/tmp');
    await c.write('PATCH', '/services/c', { retries: 3 });
    expect(c.mirror.windowStartVersion).toBeGreaterThan(atV2.toVersion);

    const back = (await c.connect()).copyStateFrom(first);
    await back.handshake(Mode.MODE_DELTA);
    const delta = await back.receivePush();
    expect(delta).toMatchObject({ kind: 'delta', fromVersion: atV2.toVersion, toVersion: c.mirror.version, targetHash: c.mirror.hashHex() });
    expect(delta.upserts.map((u) => u.id).sort()).toHaveLength(2);
    expect(delta.removals).toHaveLength(2); // b, and tmp (created and deleted after the base)
    expect(back.apply(delta)).toBe(true);
    expect(peerEntities(back.resources)).toEqual(mirrorEntities(c.mirror));
  });

  it('announces a snapshot, not a delta, when the delta would be bigger than half the config', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('first'));
    const first = await c.connect();
    await first.handshake(Mode.MODE_SNAPSHOT);
    await first.sync();
    first.terminate();
    // 70 changes on a config of 71 entities: the mirror refuses such a delta.
    for (let i = 0; i < 7; i++) {
      const now = Math.floor(Date.now() / 1000);
      await store.write(async (w) => {
        for (let j = 0; j < 10; j++) {
          const prepared = prepareService({ name: `bulk${i}-${j}`, host: 'bulk.internal' }, { mode: 'create', now, newId: randomUUID() });
          if (!prepared.ok) throw new Error(JSON.stringify(prepared.errors));
          await w.insert('services', prepared.entity);
        }
      });
    }
    await c.mirror.catchUp();
    expect(await c.mirror.delta(first.version)).toBeNull();
    const back = (await c.connect()).copyStateFrom(first);
    await back.handshake(Mode.MODE_SNAPSHOT);
    expect(await back.sync()).toMatchObject({ kind: 'snapshot', toVersion: c.mirror.version });
  });

  it('sends every data plane a snapshot of the new epoch when the database is reset', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('old'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    const before = await peer.sync();
    await env.reset();
    const { version } = await c.write('POST', '/services', service('new'));
    // The mirror may see the empty new epoch before the write: then a snapshot of it comes first.
    const first = await peer.receivePush();
    expect(first.kind).toBe('snapshot');
    expect(first.epoch).not.toBe(before.epoch);
    expect(first.epoch).toBe(c.mirror.epoch);
    expect(peer.apply(first)).toBe(true);
    peer.ack(first.nonce);
    if (first.toVersion < version) expect((await peer.sync()).toVersion).toBe(version);
    expect(peerEntities(peer.resources)).toEqual(mirrorEntities(c.mirror));
    expect([...peer.resources.keys()]).toHaveLength(1);
  });

  it('keeps one push in flight and coalesces the writes made meanwhile into one delta to the newest head', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('s0'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    await peer.sync();

    const { version: v2 } = await c.write('POST', '/services', service('s1'));
    const first = await peer.receivePush();
    expect(first).toMatchObject({ kind: 'delta', fromVersion: v2 - 1, toVersion: v2 });
    // Not acknowledged yet: three more writes must not produce a second push.
    await c.write('POST', '/services', service('s2'));
    await c.write('PATCH', '/services/s1', { retries: 1 });
    const { version: head } = await c.write('DELETE', '/services/s0');
    await peer.expectQuiet(4);

    expect(peer.apply(first)).toBe(true);
    peer.ack(first.nonce);
    const coalesced = await peer.receivePush();
    expect(coalesced).toMatchObject({ kind: 'delta', fromVersion: v2, toVersion: head, targetHash: c.mirror.hashHex() });
    expect(coalesced.upserts.map((u) => u.id).sort()).toHaveLength(2);
    expect(coalesced.removals).toHaveLength(1);
    expect(peer.apply(coalesced)).toBe(true);
    peer.ack(coalesced.nonce);
    await peer.expectQuiet();
    expect(peerEntities(peer.resources)).toEqual(mirrorEntities(c.mirror));
  });

  it('delta ≡ snapshot: the deltas a data plane receives over random writes give exactly the snapshot of the head', async () => {
    const c = await startCluster();
    let seed = 0x5eed;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const services: string[] = [];
    const routes = new Map<string, string>(); // route name → service name
    let n = 0;
    await c.write('POST', '/services', service('seed'));
    services.push('seed');

    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    const kinds: string[] = [];
    const mismatches: string[] = [];
    let heldAck: number | null = null;
    // The peer applies every push as it arrives and acknowledges it either at once or after the
    // next write, so the server also has to coalesce.
    let isRunning = true;
    const loop = (async () => {
      while (isRunning) {
        const push = await peer.receivePush(60_000).catch(() => null);
        if (!push) return;
        kinds.push(push.kind);
        if (!peer.apply(push)) mismatches.push(`${push.kind} to ${push.toVersion}`);
        if (rand() < 0.5) peer.ack(push.nonce);
        else heldAck = push.nonce;
      }
    })();

    for (let i = 0; i < 60; i++) {
      const r = rand();
      if (r < 0.25 || services.length === 0) {
        const name = `s${n++}`;
        await c.write('POST', '/services', service(name, { tags: [`t${i}`] }));
        services.push(name);
      } else if (r < 0.4) {
        await c.write('PATCH', `/services/${pick(services)}`, { retries: Math.floor(rand() * 10), tags: [`p${i}`] });
      } else if (r < 0.6) {
        const name = `r${n++}`;
        const svc = pick(services);
        await c.write('POST', `/services/${svc}/routes`, { name, paths: [`/p${i}`], hosts: rand() < 0.5 ? [`h${i}.example`] : undefined });
        routes.set(name, svc);
      } else if (r < 0.7 && routes.size > 0) {
        await c.write('PATCH', `/routes/${pick([...routes.keys()])}`, { paths: [`/patched${i}`], strip_path: rand() < 0.5 });
      } else if (r < 0.8 && routes.size > 0) {
        const name = pick([...routes.keys()]);
        await c.write('DELETE', `/routes/${name}`);
        routes.delete(name);
      } else if (r < 0.9) {
        // Created and deleted again, possibly inside one coalesced delta.
        const name = `tmp${n++}`;
        await c.write('POST', '/services', service(name));
        await c.write('DELETE', `/services/${name}`);
      } else {
        const unused = services.filter((s) => ![...routes.values()].includes(s));
        if (unused.length > 0) {
          const name = pick(unused);
          await c.write('DELETE', `/services/${name}`);
          services.splice(services.indexOf(name), 1);
        }
      }
      if (heldAck !== null && rand() < 0.7) {
        peer.ack(heldAck);
        heldAck = null;
      }
    }
    const head = c.mirror.version;
    await waitFor(() => {
      if (heldAck !== null) {
        peer.ack(heldAck);
        heldAck = null;
      }
      return peer.version === head;
    }, 'the peer to reach the head');
    isRunning = false;
    peer.terminate();
    await loop;

    expect(mismatches).toEqual([]);
    expect(kinds[0]).toBe('snapshot');
    expect(kinds.slice(1).every((k) => k === 'delta')).toBe(true);
    expect(kinds.length).toBeGreaterThan(10);
    expect(kinds.length).toBeLessThan(head); // some pushes coalesced several versions

    // The same state as a fresh snapshot from this replica...
    const fresh = await c.connect();
    await fresh.handshake(Mode.MODE_SNAPSHOT);
    const snapshot = await fresh.receivePush();
    expect(snapshot.toVersion).toBe(head);
    expect(peerEntities(peer.resources)).toEqual(peerEntities(snapshot.upserts));
    expect(peer.hashHex()).toBe(snapshot.targetHash);
    // ...and as a replica that loads the tables from scratch (the change log agrees with the rows).
    const reloaded = new ConfigMirror({ source: store, logger: silentLogger });
    await reloaded.start();
    reloaded.stop();
    expect(reloaded.version).toBe(head);
    expect(reloaded.hashHex()).toBe(peer.hashHex());
    expect(mirrorEntities(reloaded)).toEqual(peerEntities(peer.resources));
  });

  it('never re-sends a version NACKed as invalid, pushes the next one as a delta from the acked version, and shows the rejection', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('base'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    const v1 = (await peer.sync()).toVersion;
    await waitFor(async () => (await dataPlanes(c))[0]?.sync_status === 'in_sync', 'in_sync after the snapshot');

    const { version: v2 } = await c.write('POST', '/services', service('bad'));
    const bad = await peer.receivePush();
    expect(bad).toMatchObject({ kind: 'delta', fromVersion: v1, toVersion: v2 });
    peer.nack(bad.nonce, AckError.ERROR_INVALID, 'service bad is not acceptable', v2);
    await peer.expectQuiet(4);

    const [row] = await waitFor(async () => {
      const rows = await dataPlanes(c);
      return rows[0]?.sync_status === 'rejected' ? rows : null;
    }, 'the rejection to show');
    expect(row).toMatchObject({ id: peer.nodeId, connected: true, sync_status: 'rejected', config: { version: v1 } });
    expect(row.error).toMatchObject({ code: 'ERROR_INVALID', rejected_version: v2 });
    expect(row.error.message).toContain('service bad is not acceptable');
    const rejected = await c.admin.request({ method: 'GET', url: `/clustering/propagation/${v2}?timeout_ms=2000` });
    expect(rejected.statusCode).toBe(409);
    expect(JSON.parse(rejected.body).rejected).toMatchObject([{ id: peer.nodeId, config_version: v1 }]);

    // A stall resync (what the real data plane sends when head stays ahead of it) must not bring
    // the rejected version back: that would be a NACK loop.
    peer.send({ resync: { reason: pb.ResyncRequest.Reason.REASON_STALL, applied: peer.state() } });
    await peer.expectQuiet(4);
    peer.send({ heartbeat: { sentAtMs: Date.now(), state: peer.state() } });
    await peer.expectQuiet(2);

    // The next write is pushed as a delta from the acked version, past the rejected one.
    const { version: v3 } = await c.write('PATCH', '/services/bad', { retries: 1 });
    const next = await peer.receivePush();
    expect(next).toMatchObject({ kind: 'delta', fromVersion: v1, toVersion: v3 });
    expect(peer.apply(next)).toBe(true);
    peer.ack(next.nonce);
    const [healed] = await waitFor(async () => {
      const rows = await dataPlanes(c);
      return rows[0]?.sync_status === 'in_sync' ? rows : null;
    }, 'in_sync after the next ack');
    expect(healed.error).toBeNull();
    expect(healed.config).toEqual({ epoch: c.mirror.epoch, version: v3, hash: c.mirror.hashHex() });

    // A hash mismatch on a delta: exactly one snapshot, then nothing more.
    const { version: v4 } = await c.write('POST', '/services', service('more'));
    const d4 = await peer.receivePush();
    expect(d4.kind).toBe('delta');
    peer.nack(d4.nonce, AckError.ERROR_HASH_MISMATCH, 'hash does not match', v4);
    const snap = await peer.receivePush();
    expect(snap).toMatchObject({ kind: 'snapshot', toVersion: v4, targetHash: c.mirror.hashHex() });
    expect(peer.apply(snap)).toBe(true);
    peer.ack(snap.nonce);
    await peer.expectQuiet();
    expect(c.stream.stats.nacks).toBe(2);
  });

  it('records a NACKed snapshot as rejected and does not send it again', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('one'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    const snap = await peer.receivePush();
    peer.nack(snap.nonce, AckError.ERROR_DANGLING_REF, 'dangling', snap.toVersion);
    await peer.expectQuiet(4);
    const { version } = await c.write('POST', '/services', service('two'));
    const again = await peer.receivePush();
    expect(again).toMatchObject({ kind: 'snapshot', toVersion: version });
  });

  it('closes a data plane that does not acknowledge a push in time, snapshot or delta (4004)', async () => {
    const c = await startCluster({ ackTimeoutMs: 300 });
    await c.write('POST', '/services', service('one'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    await peer.receivePush();
    // Heartbeats keep it alive, but the snapshot is never acknowledged.
    const beat = setInterval(() => peer.send({ heartbeat: { sentAtMs: Date.now(), state: peer.state() } }), 50);
    try {
      expect((await peer.closed(5_000)).code).toBe(CloseCode.ACK_TIMEOUT);
    } finally {
      clearInterval(beat);
    }
  });

  it('survives rogue peers: oversize, garbage, text, silent, out-of-order and incompatible ones', async () => {
    const c = await startCluster({ maxFrameBytes: 64 * 1024, helloTimeoutMs: 300 });
    await c.write('POST', '/services', service('svc'));
    const good = await c.connect();
    await good.handshake(Mode.MODE_SNAPSHOT);
    await good.sync();
    const version = c.mirror.version;
    const hash = c.mirror.hashHex();

    const oversize = await c.connect();
    oversize.ws.send(randomBytes(100 * 1024), { binary: true });
    expect((await oversize.closed()).code).toBe(CloseCode.TOO_BIG);

    const garbage = await c.connect();
    garbage.ws.send(Buffer.alloc(16, 0xff), { binary: true });
    const err = await garbage.next('error');
    expect(err.error!.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect((await garbage.closed()).code).toBe(CloseCode.PROTOCOL_ERROR);

    const text = await c.connect();
    text.ws.send('{"hello":{}}');
    expect((await text.closed()).code).toBe(CloseCode.PROTOCOL_ERROR);

    const silent = await c.connect();
    const openedAt = Date.now();
    expect((await silent.closed()).code).toBe(CloseCode.HANDSHAKE_TIMEOUT);
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(250);

    const outOfOrder = await c.connect();
    outOfOrder.send({ heartbeat: { sentAtMs: Date.now(), state: outOfOrder.state() } });
    expect((await outOfOrder.closed()).code).toBe(CloseCode.PROTOCOL_ERROR);

    // A second Hello while the first is decided is refused; a Heartbeat meanwhile only says the
    // peer is alive (the Hello is decided after a registry round trip, which takes its time).
    const twice = await c.connect();
    twice.hello();
    twice.hello();
    expect((await twice.closed()).code).toBe(CloseCode.PROTOCOL_ERROR);
    const eager = await c.connect();
    eager.hello();
    eager.send({ heartbeat: { sentAtMs: Date.now(), state: eager.state() } });
    expect((await eager.next('helloAck')).helloAck!.mode).toBe(Mode.MODE_SNAPSHOT);
    eager.terminate();

    const nameless = await c.connect();
    nameless.hello({ nodeId: '' });
    expect((await nameless.closed()).code).toBe(CloseCode.POLICY);

    const future = await c.connect();
    future.hello({ protocolVersion: 999 });
    const refusal = await future.next('error');
    expect(refusal.error!.code).toBe(CloseCode.INCOMPATIBLE_VERSION);
    expect((await future.closed()).code).toBe(CloseCode.INCOMPATIBLE_VERSION);
    const row = await waitFor(async () => (await dataPlanes(c)).find((r) => r.id === future.nodeId), 'the incompatible data plane to be listed');
    expect(row).toMatchObject({ sync_status: 'incompatible', connected: false });
    expect(row.error.code).toBe('INCOMPATIBLE_PROTOCOL');

    // None of them changed the config, and the server still serves: the good peer gets the next write.
    expect(c.mirror.version).toBe(version);
    expect(c.mirror.hashHex()).toBe(hash);
    expect(c.stream.sessions.size).toBe(1);
    const { version: next } = await c.write('POST', '/services', service('after'));
    expect((await good.sync()).toVersion).toBe(next);
    const late = await c.connect();
    await late.handshake(Mode.MODE_SNAPSHOT);
    expect((await late.sync()).toVersion).toBe(next);
  });

  it('drops a peer that stops answering within 2 × heartbeat + grace and marks it disconnected', async () => {
    // Interval and grace are large against scheduling noise, so a check once per interval (up to
    // one interval late) would fail the upper bound.
    const heartbeatIntervalMs = 300;
    const heartbeatGraceMs = 300;
    const c = await startCluster({ heartbeatIntervalMs, heartbeatGraceMs });
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    await peer.sync();
    await waitFor(async () => (await dataPlanes(c))[0]?.connected === true, 'connected');
    const session = c.stream.sessions.get(peer.nodeId)!;
    peer.pauseReading();
    const pausedAt = Date.now();
    await waitFor(() => session.state === 'closed', 'the silent peer to be dropped', 5_000, 5);
    const elapsed = Date.now() - pausedAt;
    // The last pong may have left up to one interval before the pause.
    expect(elapsed).toBeGreaterThanOrEqual(2 * heartbeatIntervalMs + heartbeatGraceMs - heartbeatIntervalMs - 20);
    expect(elapsed).toBeLessThanOrEqual(2 * heartbeatIntervalMs + heartbeatGraceMs + 200);
    expect(c.stream.sessions.has(peer.nodeId)).toBe(false);
    const [row] = await waitFor(async () => {
      const rows = await dataPlanes(c);
      return rows[0]?.connected === false ? rows : null;
    }, 'the row to turn disconnected');
    expect(row.id).toBe(peer.nodeId);
  });

  it('a second connection of the same node replaces the first (4006) and keeps the row connected', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('svc'));
    const nodeId = randomUUID();
    const first = await c.connect(nodeId);
    await first.handshake(Mode.MODE_SNAPSHOT);
    await first.sync();
    const second = (await c.connect(nodeId)).copyStateFrom(first);
    await second.handshake(Mode.MODE_UP_TO_DATE);
    expect((await first.closed()).code).toBe(CloseCode.REPLACED);
    const { version } = await c.write('POST', '/services', service('next'));
    expect((await second.sync()).toVersion).toBe(version);
    await waitFor(async () => {
      const rows = await dataPlanes(c);
      return rows.length === 1 && rows[0].connected && rows[0].config.version === version;
    }, 'one connected row at the new version');
  });

  it('GoAway drain: closing the server refuses new streams, sends GoAway to every data plane, waits for them to leave, and closes the rest with 4005 at the drain timeout', async () => {
    const c = await startCluster({ goAwayReconnectMinMs: 10, goAwayReconnectMaxMs: 500, drainTimeoutMs: 1_500 });
    await c.write('POST', '/services', service('drained'));
    const [leaving, staying] = [await c.connect(), await c.connect()];
    for (const p of [leaving, staying]) {
      await p.handshake(Mode.MODE_SNAPSHOT);
      await p.sync();
    }
    const startedAt = Date.now();
    let isDone = false;
    const closing = c.stream.close('draining for the test').then(() => (isDone = true));
    for (const p of [leaving, staying]) {
      const goAway = await p.next('goAway');
      expect(goAway.goAway).toMatchObject({ reason: 'draining for the test', reconnectMinMs: 10, reconnectMaxMs: 500 });
    }
    expect(c.stream.isDraining).toBe(true);
    // No new stream: the listener is closed.
    await expect(Peer.connect(c.url)).rejects.toThrow();
    // The connections stay open after GoAway: the data planes leave on their own.
    expect(leaving.closeInfo).toBeNull();
    leaving.ws.close(1001, 'moving to another control plane (GoAway)');
    await leaving.closed();
    expect(isDone).toBe(false);
    expect((await staying.closed()).code).toBe(CloseCode.GO_AWAY);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_400);
    await closing;
  });

  it('GoAway drain: ends as soon as every data plane has left, well before the drain timeout', async () => {
    const c = await startCluster({ drainTimeoutMs: 20_000 });
    await c.write('POST', '/services', service('drained-fast'));
    const peer = await c.connect();
    await peer.handshake(Mode.MODE_SNAPSHOT);
    await peer.sync();
    const startedAt = Date.now();
    const closing = c.stream.close();
    await peer.next('goAway');
    peer.ws.close(1001, 'moving');
    await closing;
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('capability negotiation: a head using a plugin a data plane did not announce is withheld from it (incompatible, missing plugins listed) until the plugin is gone', async () => {
    const c = await startCluster();
    const { version: v1 } = await c.write('POST', '/services', service('svc'));
    const version = PLUGIN_SCHEMA_VERSION;
    const lacking = await c.connect();
    const full = await c.connect();
    const older = await c.connect();
    lacking.hello({ plugins: ['key-auth', 'basic-auth', 'acl'].map((name) => ({ name, version })) });
    full.hello({ plugins: [...PLUGIN_DESCRIPTORS.values()].map((d) => ({ name: d.name, version: d.version })) });
    older.hello({ plugins: [{ name: 'rate-limiting', version: '2.8.1' }] });
    for (const p of [lacking, full, older]) {
      expect((await p.next('helloAck')).helloAck!.mode).toBe(Mode.MODE_SNAPSHOT);
      expect((await p.sync()).toVersion).toBe(v1);
    }

    const { version: v2, body: plugin } = await c.write('POST', '/plugins', { name: 'rate-limiting', config: COMPLETE_RATE_LIMITING_CONFIG });
    expect(await full.sync()).toMatchObject({ kind: 'delta', fromVersion: v1, toVersion: v2 });
    await lacking.expectQuiet(3);
    await older.expectQuiet(1);
    // The data plane learns why nothing comes: its heartbeats name the plugins; a stall resync
    // (what it would send) does not bring the head either.
    await lacking.until(() => lacking.lastHeartbeat?.missingPlugins?.length === 1, 'a heartbeat naming the missing plugin');
    expect(lacking.lastHeartbeat!.missingPlugins).toEqual(['rate-limiting']);
    lacking.send({ resync: { reason: pb.ResyncRequest.Reason.REASON_STALL, applied: lacking.state() } });
    await lacking.expectQuiet(3);

    const rows = await waitFor(async () => {
      const list = await dataPlanes(c);
      return list.filter((r) => r.sync_status === 'incompatible').length === 2 ? list : null;
    }, 'both lacking data planes to show incompatible');
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(lacking.nodeId)).toMatchObject({ connected: true, sync_status: 'incompatible', config: { version: v1 }, incompatible: { missing_plugins: ['rate-limiting'], plugin_versions: [] } });
    expect(byId.get(older.nodeId)).toMatchObject({
      sync_status: 'incompatible',
      incompatible: { missing_plugins: [], plugin_versions: [{ name: 'rate-limiting', data_plane_version: '2.8.1', control_plane_version: version }] },
    });
    expect(byId.get(full.nodeId)).toMatchObject({ sync_status: 'in_sync', incompatible: null });
    const status = await getJson(c, '/clustering/status');
    expect(status.body.data_planes).toMatchObject({ connected: 3, in_sync: 1, incompatible: 2 });
    // A propagation wait does not hang on them: they answer it, like a rejection (409).
    const wait = await getJson(c, `/clustering/propagation/${v2}?timeout_ms=5000&min_data_planes=3`);
    expect(wait.status).toBe(409);
    expect(wait.body.propagated).toBe(false);
    expect(wait.body.applied.map((r: any) => r.id)).toEqual([full.nodeId]);
    expect(wait.body.incompatible).toHaveLength(2);
    expect(wait.body.incompatible.find((r: any) => r.id === lacking.nodeId)).toMatchObject({ config_version: v1, missing_plugins: ['rate-limiting'] });

    // A disabled instance still counts (the data plane could not validate it either), and so does
    // every later version that keeps it.
    const { version: v3 } = await c.write('PATCH', `/plugins/${plugin.id}`, { enabled: false });
    const { version: v4 } = await c.write('POST', '/services', service('other'));
    expect((await full.sync()).toVersion).toBe(v3);
    expect((await full.sync()).toVersion).toBe(v4);
    await lacking.expectQuiet(3);

    // Deleted: the lacking data plane gets one delta from the version it has to the head.
    const { version: v5 } = await c.write('DELETE', `/plugins/${plugin.id}`);
    expect(await full.sync()).toMatchObject({ kind: 'delta', toVersion: v5 });
    for (const p of [lacking, older]) {
      const caughtUp = await p.sync();
      expect(caughtUp).toMatchObject({ kind: 'delta', fromVersion: v1, toVersion: v5, targetHash: c.mirror.hashHex() });
      expect(caughtUp.upserts.map((u) => u.kind)).toEqual(['services']);
    }
    await waitFor(async () => (await dataPlanes(c)).every((r) => r.sync_status === 'in_sync' && r.incompatible === null), 'every data plane in sync again');
    await lacking.until(() => lacking.lastHeartbeat?.missingPlugins?.length === 0, 'a heartbeat without missing plugins');
  });

  it('/clustering/propagation and /clustering/data-planes', async () => {
    const c = await startCluster();
    await c.write('POST', '/services', service('svc'));
    const [a, b] = [await c.connect(), await c.connect()];
    for (const p of [a, b]) {
      await p.handshake(Mode.MODE_SNAPSHOT);
      await p.sync();
    }
    const get = async (url: string) => {
      const res = await c.admin.request({ method: 'GET', url });
      return { status: res.statusCode, body: JSON.parse(res.body) };
    };

    const { version } = await c.write('POST', '/services', service('two'));
    const [pa, pb_] = [await a.receivePush(), await b.receivePush()];
    a.apply(pa);
    a.ack(pa.nonce);
    const timedOut = await get(`/clustering/propagation/${version}?timeout_ms=300`);
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.propagated).toBe(false);
    expect(timedOut.body.pending.map((p: any) => p.id)).toEqual([b.nodeId]);
    expect(timedOut.body.applied.map((p: any) => p.id)).toEqual([a.nodeId]);

    // A wait in progress answers as soon as the last data plane acknowledges.
    const waiting = get(`/clustering/propagation/${version}?timeout_ms=10000`);
    b.apply(pb_);
    b.ack(pb_.nonce);
    const done = await waiting;
    expect(done.status).toBe(200);
    expect(done.body.propagated).toBe(true);
    expect(done.body.applied).toHaveLength(2);

    const { version: v2 } = await c.write('POST', '/services', service('three'));
    await a.sync();
    const rejectedPush = await b.receivePush();
    b.nack(rejectedPush.nonce, AckError.ERROR_INVALID, 'no thanks', v2);
    const conflict = await get(`/clustering/propagation/${v2}?timeout_ms=5000`);
    expect(conflict.status).toBe(409);
    expect(conflict.body.rejected).toMatchObject([{ id: b.nodeId, error: expect.stringContaining('no thanks') }]);

    for (const bad of ['abc', '-1', '1.5']) {
      expect(await get(`/clustering/propagation/${bad}`)).toEqual({ status: 400, body: { message: `invalid version '${bad}': expected a non-negative integer` } });
    }
    expect(await get(`/clustering/propagation/${v2}?timeout_ms=soon`)).toEqual({ status: 400, body: { message: 'timeout_ms must be a non-negative integer' } });
    expect(await get(`/clustering/propagation/${v2}?min_data_planes=-2`)).toEqual({ status: 400, body: { message: 'min_data_planes must be a non-negative integer' } });

    // Pagination: size=1 gives a next link that works; a bad offset is Kong's code 7.
    await c.registry.settle();
    const page1 = await get('/clustering/data-planes?size=1');
    expect(page1.status).toBe(200);
    expect(page1.body.data).toHaveLength(1);
    expect(page1.body.next).toEqual(expect.stringContaining('offset='));
    const page2 = await get(page1.body.next);
    expect(page2.body.data).toHaveLength(1);
    expect(page2.body.next).toBeNull();
    expect([page1.body.data[0].id, page2.body.data[0].id].sort()).toEqual([a.nodeId, b.nodeId].sort());
    const badOffset = await get('/clustering/data-planes?offset=%%%');
    expect(badOffset.status).toBe(400);
    expect(badOffset.body.code).toBe(7);
    expect((await get('/clustering/data-planes?size=0')).status).toBe(400);
  });

  it("a refused Hello that claims a connected data plane's node id leaves that data plane connected, in sync and waited for", async () => {
    const staleAfterMs = 500;
    const c = await startCluster({}, staleAfterMs);
    await c.write('POST', '/services', service('svc'));
    const live = await c.connect();
    await live.handshake(Mode.MODE_SNAPSHOT);
    await live.sync();
    await rowConnected(c, live.nodeId, true);

    const impostor = await c.connect(live.nodeId);
    impostor.hello({ protocolVersion: 99 });
    expect((await impostor.next('error')).error!.code).toBe(CloseCode.INCOMPATIBLE_VERSION);
    expect((await impostor.closed()).code).toBe(CloseCode.INCOMPATIBLE_VERSION);
    await c.registry.settle();
    // Past the stale window (heartbeats every 100 ms), the live data plane is still listed as it is.
    await live.expectQuiet(Math.ceil((2 * staleAfterMs) / BASE_LIMITS.heartbeatIntervalMs!));
    const [row] = await dataPlanes(c);
    expect(row).toMatchObject({ id: live.nodeId, connected: true, sync_status: 'in_sync', error: null });
    expect((await getJson(c, '/clustering/status')).body.data_planes).toMatchObject({ total: 1, connected: 1, in_sync: 1, incompatible: 0 });
    // And a wait for a version nobody has is not vacuously complete.
    const wait = await getJson(c, `/clustering/propagation/${c.mirror.version + 5}?timeout_ms=300`);
    expect(wait.status).toBe(504);
    expect(wait.body).toMatchObject({ propagated: false, applied: [], pending: [{ id: live.nodeId, connected: true }] });
    // The live data plane is still served.
    const { version } = await c.write('POST', '/services', service('next'));
    expect((await live.sync()).toVersion).toBe(version);
  });

  it('a propagation wait is for the data planes connected at its start: one that disconnects before applying keeps it pending until it reconnects and applies', async () => {
    const c = await startCluster({}, 500);
    await c.write('POST', '/services', service('svc'));
    const [a, b] = [await c.connect(), await c.connect()];
    for (const p of [a, b]) {
      await p.handshake(Mode.MODE_SNAPSHOT);
      await p.sync();
    }
    const before = { epoch: b.epoch, version: b.version, resources: new Map(b.resources) };
    const { version } = await c.write('POST', '/services', service('two'));
    await a.sync();
    await b.receivePush(); // never applied

    const gone = await startPropagationWait(c, `/clustering/propagation/${version}?timeout_ms=1500`);
    b.terminate();
    await rowConnected(c, b.nodeId, false);
    const timedOut = await gone.answer;
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.propagated).toBe(false);
    expect(timedOut.body.applied.map((p: any) => p.id)).toEqual([a.nodeId]);
    expect(timedOut.body.pending).toMatchObject([{ id: b.nodeId, connected: false, config_version: version - 1 }]);

    // A wait started after it left is for the connected fleet only.
    expect((await getJson(c, `/clustering/propagation/${version}?timeout_ms=1000`)).body).toMatchObject({ propagated: true, applied: [{ id: a.nodeId }], pending: [] });

    // A data plane that leaves during the wait, comes back and applies the version completes it.
    const reconnect = async () => {
      const peer = (await c.connect(b.nodeId)).copyStateFrom(before);
      await peer.handshake(Mode.MODE_DELTA);
      return peer;
    };
    const flaky = await reconnect();
    await flaky.receivePush(); // never applied
    await rowConnected(c, b.nodeId, true);
    const back = await startPropagationWait(c, `/clustering/propagation/${version}?timeout_ms=10000`);
    flaky.terminate();
    await rowConnected(c, b.nodeId, false);
    await (await reconnect()).sync();
    const done = await back.answer;
    expect(done.status).toBe(200);
    expect(done.body.propagated).toBe(true);
    expect(done.body.applied.map((p: any) => p.id).sort()).toEqual([a.nodeId, b.nodeId].sort());
  });

  it('bounds the registry rows made-up node ids can create: evicts the oldest disconnected row, refuses a new node (4007) when every row is connected', async () => {
    const c = await startCluster({}, 3_000, undefined, { maxRows: 3 });
    await c.write('POST', '/services', service('svc'));
    const synced = async (nodeId?: string) => {
      const p = await c.connect(nodeId);
      await p.handshake(Mode.MODE_SNAPSHOT);
      await p.sync();
      await rowConnected(c, p.nodeId, true);
      return p;
    };
    const [p1, p2, gone] = [await synced(), await synced(), await synced()];
    gone.terminate();
    await rowConnected(c, gone.nodeId, false);

    // Full: the disconnected row makes room for a new node.
    const p4 = await synced();
    expect((await dataPlanes(c)).map((r) => r.id).sort()).toEqual([p1.nodeId, p2.nodeId, p4.nodeId].sort());
    expect(c.registry.stats).toEqual({ rowsEvicted: 1, nodesRefused: 0 });

    // Full of connected data planes: a new node is told to retry later, and gets no row.
    const refused = await c.connect();
    refused.hello();
    expect((await refused.next('helloAck')).helloAck).toMatchObject({ mode: Mode.MODE_RETRY_LATER, retryAfterMs: c.stream.limits.retryAfterMs });
    expect(await refused.closed()).toEqual({ code: CloseCode.RETRY_LATER, reason: expect.stringContaining('registry is full') });
    const incompatible = await c.connect();
    incompatible.hello({ protocolVersion: 99 });
    expect((await incompatible.closed()).code).toBe(CloseCode.INCOMPATIBLE_VERSION);
    await c.registry.settle();
    expect((await dataPlanes(c)).map((r) => r.id).sort()).toEqual([p1.nodeId, p2.nodeId, p4.nodeId].sort());
    expect(c.registry.stats).toEqual({ rowsEvicted: 1, nodesRefused: 2 });
    expect((await getJson(c, '/clustering/status')).body.replica).toMatchObject({ registry_max_rows: 3, registry_rows_evicted: 1, registry_nodes_refused: 2 });

    // A node that has a row still gets in (its reconnection replaces its old connection).
    const p1Again = (await c.connect(p1.nodeId)).copyStateFrom(p1);
    await p1Again.handshake(Mode.MODE_UP_TO_DATE);
    expect((await p1.closed()).code).toBe(CloseCode.REPLACED);
    // Once a data plane has left, the refused node gets in on its retry.
    p2.terminate();
    await rowConnected(c, p2.nodeId, false);
    const retried = await synced(refused.nodeId);
    expect((await dataPlanes(c)).map((r) => r.id).sort()).toEqual([p1.nodeId, p4.nodeId, retried.nodeId].sort());
    expect(c.registry.stats).toEqual({ rowsEvicted: 2, nodesRefused: 2 });
  });

  it('a slow consumer is paced (bounded buffer) and closed with 4003', async () => {
    const highWaterBytes = 128 * 1024;
    const c = await startCluster({ highWaterBytes, maxBufferedBytes: 512 * 1024, slowConsumerTimeoutMs: 300, heartbeatGraceMs: 10_000 });
    await writeBigConfig(store, 300, 32 * 1024);
    await c.mirror.catchUp();
    const snapshotBytes = c.mirror.snapshot().body.data.byteLength;
    expect(snapshotBytes).toBeGreaterThan(6 * 1024 * 1024);

    const peer = await c.connect();
    peer.hello();
    peer.pauseReading();
    const session = await waitFor(() => c.stream.sessions.get(peer.nodeId), 'the session');
    const closeSpy = vi.spyOn(session as DataPlaneSession, 'close');
    let maxBuffered = 0;
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, session.ws.bufferedAmount);
    }, 1);
    try {
      await waitFor(() => closeSpy.mock.calls.length > 0, 'the slow consumer to be closed', 15_000);
    } finally {
      clearInterval(sampler);
    }
    expect(closeSpy.mock.calls[0][0]).toBe(CloseCode.SLOW_CONSUMER);
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(highWaterBytes + SNAPSHOT_CHUNK_BYTES + 64 * 1024);
    await waitFor(() => session.state === 'closed', 'the slow consumer to be gone', 5_000);
  });

  it('peers that stop reading do not hold the snapshot slots: each is freed and closed (4003) after snapshotStallTimeoutMs, a fresh data plane is served meanwhile, a slow but steady one keeps its slot', async () => {
    // Against this process's own pauses (the peers decode and hash 7 MB snapshots on its event
    // loop, and the suite runs two files at once on two cores) the stall timeout is 3 s here.
    const snapshotStallTimeoutMs = 3_000;
    const c = await startCluster({ snapshotStallTimeoutMs, maxConcurrentSnapshots: 8 });
    await writeBigConfig(store, 300, 32 * 1024);
    await c.mirror.catchUp();
    const head = { version: c.mirror.version, hash: c.mirror.hashHex() };
    const snapshotBytes = c.mirror.snapshot().body.data.byteLength;
    expect(snapshotBytes).toBeGreaterThan(6 * 1024 * 1024);
    const closes = vi.spyOn(DataPlaneSession.prototype, 'close');
    const stops: Array<() => void> = [];
    try {
      // A slow reader (about 2 MB/s: its snapshot outlasts the stall timeout, and it never stops
      // reading for long) takes the first slot.
      const slow = await c.connect();
      stops.push(slow.keepBeating(), slow.readSlowly(200 * 1024, 100));
      const slowStarted = Date.now();
      const slowSync = slow.handshake(Mode.MODE_SNAPSHOT).then(() => slow.receivePush(60_000));
      await waitFor(() => c.stream.stats.snapshotsSent === 1, 'the slow snapshot to start');

      // Ten peers that send Hello and heartbeats but never read: seven take the other slots,
      // three wait for one.
      const stalled = await Promise.all(Array.from({ length: 10 }, () => c.connect()));
      for (const p of stalled) {
        stops.push(p.keepBeating());
        p.hello();
        p.pauseReading();
      }
      const session = (p: Peer) => c.stream.sessions.get(p.nodeId);
      // Every slot taken (the slow reader's and seven stalled peers'). Sampled on every turn of the
      // loop: under load the window before the first stall timeout frees a slot can be short, and
      // the last stalled peers may still be in their Hello by then (all ten are counted below).
      let sawEverySlotTaken = false;
      const sampler = setInterval(() => {
        if (c.stream.snapshotsInFlight === 8) sawEverySlotTaken = true;
      }, 1);
      stops.push(() => clearInterval(sampler));
      await waitFor(() => sawEverySlotTaken, 'every slot taken');

      // A fresh data plane waits for a slot no longer than the stall timeout (plus the watchdog's
      // tick and scheduling), then gets its whole snapshot while stalled peers are still connected.
      const fresh = await c.connect();
      await fresh.handshake(Mode.MODE_SNAPSHOT);
      const askedAt = Date.now();
      await fresh.until(() => fresh.frames.length > 0, 'SnapshotBegin', 5 * snapshotStallTimeoutMs);
      const waitedForSlotMs = Date.now() - askedAt;
      const push = await fresh.receivePush(30_000);
      expect(push).toMatchObject({ kind: 'snapshot', toVersion: head.version, targetHash: head.hash });
      expect(fresh.apply(push)).toBe(true);
      fresh.ack(push.nonce);
      expect(waitedForSlotMs).toBeLessThanOrEqual(snapshotStallTimeoutMs + 1_500);
      expect(stalled.some((p) => session(p)?.state === 'active')).toBe(true);

      // Every stalled peer is freed and closed with 4003, counted.
      await waitFor(() => stalled.every((p) => session(p) === undefined), 'every stalled peer to be gone', 20_000);
      const stalledSessions = closes.mock.contexts.filter((s) => stalled.some((p) => p.nodeId === (s as DataPlaneSession).nodeId));
      expect(new Set(stalledSessions.map((s) => (s as DataPlaneSession).nodeId)).size).toBe(10);
      for (const [i, ctx] of closes.mock.contexts.entries()) {
        if (stalledSessions.includes(ctx)) expect(closes.mock.calls[i]![0]).toBe(CloseCode.SLOW_CONSUMER);
      }
      expect(c.stream.stats.snapshotsStalled).toBe(10);
      expect((await getJson(c, '/clustering/status')).body.replica.snapshots_stalled).toBe(10);

      // The slow reader was never cut off: its snapshot outlasted the stall timeout and arrived whole.
      const slowPush = await slowSync;
      expect(Date.now() - slowStarted).toBeGreaterThan(snapshotStallTimeoutMs);
      expect(slowPush).toMatchObject({ kind: 'snapshot', toVersion: head.version, targetHash: head.hash });
      expect(slow.closeInfo).toBeNull();
      expect(closes.mock.contexts.some((s) => (s as DataPlaneSession).nodeId === slow.nodeId)).toBe(false);
    } finally {
      for (const stop of stops) stop();
      closes.mockRestore();
    }
    expect(c.stream.snapshotsInFlight).toBe(0);
  });

  it('never sends more than maxConcurrentSnapshots snapshots at once', async () => {
    // Paused peers hold their slots here until the test resumes them: no stall timeout meanwhile.
    const c = await startCluster({ maxConcurrentSnapshots: 2, heartbeatGraceMs: 10_000, snapshotStallTimeoutMs: 60_000 });
    await writeBigConfig(store, 300, 32 * 1024);
    await c.mirror.catchUp();
    const head = { version: c.mirror.version, hash: c.mirror.hashHex() };
    const snapshotBytes = c.mirror.snapshot().body.data.byteLength;
    let maxInFlight = 0;
    const observe = () => {
      maxInFlight = Math.max(maxInFlight, c.stream.snapshotsInFlight);
    };
    const sampler = setInterval(observe, 1);
    try {
      // Six empty data planes at once, none reading yet: the first two snapshots fill their
      // sockets and hold the two slots; the other four wait for a slot.
      const peers = await Promise.all(Array.from({ length: 6 }, () => c.connect()));
      for (const p of peers) {
        p.hello();
        p.pauseReading();
      }
      await waitFor(() => c.stream.sessions.size === 6 && c.stream.snapshotsInFlight === 2, 'two snapshots in flight');
      observe();
      expect(c.stream.stats.snapshotsSent).toBe(2);
      for (const p of peers) p.ws.on('message', observe);
      for (const p of peers) p.resumeReading();
      const pushes = await Promise.all(
        peers.map(async (p) => {
          expect((await p.next('helloAck')).helloAck!.mode).toBe(Mode.MODE_SNAPSHOT);
          return p.sync();
        }),
      );
      for (const push of pushes) expect(push).toMatchObject({ kind: 'snapshot', toVersion: head.version, targetHash: head.hash });
      expect(pushes[0].chunkCount).toBe(Math.ceil(snapshotBytes / SNAPSHOT_CHUNK_BYTES));
    } finally {
      clearInterval(sampler);
    }
    expect(maxInFlight).toBe(2);
    expect(c.stream.snapshotsInFlight).toBe(0);
    expect(c.stream.stats.snapshotsSent).toBe(6);
  });
});
