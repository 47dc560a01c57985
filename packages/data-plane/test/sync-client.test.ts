import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, encodeService, hashHex, pb, PLUGIN_SCHEMA_VERSION } from '@sluice/protocol';
import { applySnapshot } from '../src/config/apply-snapshot.js';
import { ConfigCache } from '../src/config/config-cache.js';
import type { RuntimeConfig } from '../src/config/runtime-config.js';
import { ConfigRejectedError } from '../src/errors.js';
import { SyncClient, type SyncClientOptions } from '../src/sync/sync-client.js';
import { pluginFactoriesFor } from '../src/config/loaded-plugins.js';
import { createPluginRuntime } from '../src/config/plugin-runtime.js';
import { ConfigModel, makeConsumer, makeRoute, makeService, uuidFor } from './helpers/config-model.js';
import { FakeControlPlane, waitFor } from './helpers/fake-control-plane.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function controlPlane(model = seeded(3)): Promise<FakeControlPlane> {
  const cp = await FakeControlPlane.start(model);
  cleanups.push(() => cp.close());
  return cp;
}

/** A model with `n` versions, each adding a service with two routes. */
function seeded(n: number, epoch = 'epoch-a'): ConfigModel {
  const model = new ConfigModel(epoch);
  for (let i = 0; i < n; i++) addVersion(model, `v${i}`);
  return model;
}

function addVersion(model: ConfigModel, label: string): number {
  const s = makeService(`svc-${label}`);
  return model.commit({ upsert: [s, makeRoute(`a-${label}`, s.id), makeRoute(`b-${label}`, s.id)] });
}

function configAt(model: ConfigModel, v = model.version): RuntimeConfig {
  const result = applySnapshot(model.snapshot(v), { epoch: model.epoch, version: v, hash: model.hashAt(v) });
  if (!result.ok) throw result.error;
  return result.config;
}

interface Harness {
  readonly client: SyncClient;
  readonly config: RuntimeConfig | null;
  readonly applied: RuntimeConfig[];
  readonly rejected: ConfigRejectedError[];
}

function startClient(cp: FakeControlPlane, options: { initial?: RuntimeConfig | null; cache?: ConfigCache } & Partial<SyncClientOptions> = {}): Harness {
  let config = options.initial ?? null;
  const applied: RuntimeConfig[] = [];
  const rejected: ConfigRejectedError[] = [];
  const client = new SyncClient({
    url: cp.url,
    nodeId: uuidFor('node'),
    getConfig: () => config,
    commit: (c) => {
      config = c;
      options.cache?.schedule(c);
    },
    backoff: { baseMs: 20, capMs: 200 },
    heartbeatGraceMs: 100,
    ...options,
  });
  client.on('applied', ({ config: c }) => applied.push(c));
  client.on('rejected', ({ error }) => rejected.push(error));
  client.start();
  cleanups.push(() => client.stop());
  return {
    client,
    get config() {
      return config;
    },
    applied,
    rejected,
  };
}

describe('SyncClient against a control plane on a real socket', () => {
  it('gets a chunked snapshot on first connect, applies it and ACKs the new state', async () => {
    const cp = await controlPlane(seeded(20));
    const dp = startClient(cp);
    await waitFor(() => dp.config?.version === 20, 'snapshot applied');
    cp.onHello = (ws, hello) => cp.defaultHello(ws, hello);
    const ack = await waitFor(() => cp.received.acks[0], 'ack');
    expect(ack.error ?? 0).toBe(pb.Ack.Error.ERROR_NONE);
    expect(hashHex(ack.applied?.hash)).toBe(hashHex(cp.model.hashAt()));
    expect(dp.config!.hashHex).toBe(hashHex(cp.model.hashAt()));
    expect(dp.client.state).toBe('connected');
    const hello = cp.received.hellos[0];
    expect(hello.protocolVersion).toBe(1);
    expect(hello.applied?.epoch).toBe('');
  });

  it('keeps the cluster\'s connected data planes from HelloAck and Heartbeat, across a reconnect', async () => {
    const cp = await controlPlane(seeded(2));
    const dp = startClient(cp, { initial: configAt(cp.model) });
    cp.onHello = (ws) => cp.helloAck(ws, pb.HelloAck.Mode.MODE_UP_TO_DATE, { connectedDataPlanes: 3 });
    expect(dp.client.connectedDataPlanes).toBeNull();
    await waitFor(() => dp.client.connectedDataPlanes === 3, 'the count from HelloAck');
    cp.send(cp.socket, { heartbeat: { sentAtMs: Date.now(), state: { epoch: cp.model.epoch, version: cp.model.version, hash: cp.model.hashAt() }, connectedDataPlanes: 4 } });
    await waitFor(() => dp.client.connectedDataPlanes === 4, 'the count from a Heartbeat');
    // A control plane that does not say (0) leaves the last count in place.
    cp.onHello = (ws) => cp.helloAck(ws, pb.HelloAck.Mode.MODE_UP_TO_DATE);
    cp.socket.terminate();
    await waitFor(() => cp.received.hellos.length === 2 && dp.client.state === 'connected', 'reconnected');
    expect(dp.client.connectedDataPlanes).toBe(4);
  });

  it('reassembles a snapshot sent in many small chunks', async () => {
    const cp = await controlPlane(seeded(30));
    cp.onHello = (ws) => {
      cp.helloAck(ws, pb.HelloAck.Mode.MODE_SNAPSHOT);
      cp.sendSnapshot(ws, { chunkBytes: 97 });
    };
    const dp = startClient(cp);
    await waitFor(() => dp.config?.version === 30, 'snapshot applied');
    expect(dp.config!.routes.size).toBe(60);
  });

  it('reconnects with its state in Hello: up to date costs no snapshot, behind gets a delta', async () => {
    const cp = await controlPlane(seeded(5));
    const dp = startClient(cp, { initial: configAt(cp.model) });
    await waitFor(() => dp.client.state === 'connected', 'connected');
    expect(cp.received.hellos[0].applied?.version).toBe(5);
    // Up to date: nothing pushed, nothing acked.
    expect(cp.received.acks).toHaveLength(0);
    expect(dp.applied).toHaveLength(0);

    addVersion(cp.model, 'x');
    addVersion(cp.model, 'y');
    cp.sendDelta(cp.socket, 5);
    await waitFor(() => dp.config?.version === 7, 'delta applied');
    await waitFor(() => cp.received.acks.at(-1)?.applied?.version === 7, 'ACK of version 7');

    // Drop the connection: the client reconnects by itself and says it has 7.
    cp.socket.terminate();
    await waitFor(() => cp.received.hellos.length === 2 && dp.client.state === 'connected', 'reconnected');
    expect(cp.received.hellos[1].applied?.version).toBe(7);
    expect(dp.client.reconnects).toBe(1);
  });

  it('streams consumers like every kind: a snapshot and a delta carrying them are applied and ACKed with the control plane’s hash', async () => {
    const model = seeded(2);
    const alice = makeConsumer('alice');
    const bob = makeConsumer('bob', { custom_id: 'ext-bob' });
    model.commit({ upsert: [alice, bob] });
    const cp = await controlPlane(model);
    const dp = startClient(cp);
    await waitFor(() => dp.config?.version === 3, 'snapshot with consumers applied');
    expect(dp.config!.entities.consumers.size).toBe(2);
    const router = dp.config!.router;

    cp.model.commit({ upsert: [{ ...alice, username: 'alice2', updated_at: alice.updated_at + 1 }, makeConsumer('carol')], remove: [{ kind: 'consumers', id: bob.id }] });
    cp.sendDelta(cp.socket, 3);
    const ack = await waitFor(() => cp.received.acks.find((a) => a.applied?.version === 4), 'ACK of the consumers delta');
    expect(ack.error ?? 0).toBe(pb.Ack.Error.ERROR_NONE);
    expect(hashHex(ack.applied?.hash)).toBe(hashHex(cp.model.hashAt()));
    expect([...dp.config!.entities.consumers.values()].map((c) => c.username).sort()).toEqual(['alice2', 'carol']);
    expect(dp.config!.router).toBe(router);
  });

  it('keeps the last good config and a byte-identical cache on every NACK', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-dp-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const cache = new ConfigCache({ dir });
    await cache.open();
    const cp = await controlPlane(seeded(3));
    const dp = startClient(cp, { cache });
    await waitFor(() => dp.config?.version === 3, 'snapshot applied');
    await cache.flush();
    const cachedBefore = await readFile(cache.path);
    const served = dp.config;

    const s = makeService('good');
    const invalidService = { ...makeService('bad'), port: 70000 };
    const dangling = makeRoute('dangling', uuidFor('no-such-service'));
    const scenarios: [string, () => number, number][] = [
      ['invalid entity', () => cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 1, id: invalidService.id, version: 4, payload: encodeService(invalidService) }] } }), pb.Ack.Error.ERROR_INVALID],
      ['route missing required fields', () => cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 2, id: dangling.id, version: 4, payload: pb.Route.encode({ id: dangling.id }).finish() }] } }), pb.Ack.Error.ERROR_INVALID],
      ['dangling reference (valid route)', () => cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 2, id: dangling.id, version: 4, payload: encodeRouteOf(dangling) }] } }), pb.Ack.Error.ERROR_DANGLING_REF],
      ['hash mismatch', () => cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 1, id: s.id, version: 4, payload: encodeService(s) }] }, targetHash: new Uint8Array(32) }), pb.Ack.Error.ERROR_HASH_MISMATCH],
      ['base mismatch', () => cp.sendDelta(cp.socket, 2, { to: 4, batch: { upserts: [{ type: 1, id: s.id, version: 4, payload: encodeService(s) }] } }), pb.Ack.Error.ERROR_BASE_MISMATCH],
      ['corrupt body', () => cp.sendDelta(cp.socket, 3, { to: 4, batch: { upserts: [{ type: 1, id: s.id, version: 4, payload: encodeService(s) }] }, corruptBody: true }), pb.Ack.Error.ERROR_DECODE],
      ['older snapshot (monotonic)', () => cp.sendSnapshot(cp.socket, { version: 2 }), pb.Ack.Error.ERROR_BASE_MISMATCH],
      ['snapshot too large', () => cp.sendSnapshot(cp.socket, { rawSize: 2 ** 40 }), pb.Ack.Error.ERROR_TOO_LARGE],
      ['corrupt snapshot body', () => cp.sendSnapshot(cp.socket, { corruptBody: true }), pb.Ack.Error.ERROR_DECODE],
    ];
    for (const [name, send, error] of scenarios) {
      const before = cp.received.acks.length;
      const nonce = send();
      const ack = await waitFor(() => cp.received.acks[before], `NACK for ${name}`);
      expect(ack.nonce, name).toBe(nonce);
      expect(ack.error, name).toBe(error);
      expect(ack.applied?.version, name).toBe(3);
      expect(ack.rejectedVersion, name).toBeGreaterThan(0);
      expect(dp.config, name).toBe(served);
    }
    const invalidAck = cp.received.acks.find((a) => a.error === pb.Ack.Error.ERROR_INVALID)!;
    expect(invalidAck.resourceErrors?.[0]).toMatchObject({ key: { type: 1, id: invalidService.id }, code: 'SLUICE_DP_ENTITY_INVALID' });
    const danglingAck = cp.received.acks.find((a) => a.error === pb.Ack.Error.ERROR_DANGLING_REF)!;
    expect(danglingAck.resourceErrors?.[0]).toMatchObject({ key: { type: 2, id: dangling.id }, code: 'SLUICE_DP_ENTITY_DANGLING_REF' });
    expect(dp.rejected).toHaveLength(scenarios.length);
    // The NACKs never touched the cache: it is byte-identical.
    await cache.flush();
    expect((await readFile(cache.path)).equals(cachedBefore)).toBe(true);

    // The connection survived every NACK, and a good delta still applies (and is cached) afterwards.
    addVersion(cp.model, 'after');
    cp.sendDelta(cp.socket, 3);
    await waitFor(() => dp.config?.version === 4, 'good delta after NACKs');
    await cache.flush();
    expect((await readFile(cache.path)).equals(cachedBefore)).toBe(false);
    expect(dp.client.lastError?.code).toBe('SLUICE_DP_CONFIG_REJECTED');
  });

  it('leaves the cache byte-identical after a NACK', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-dp-sync-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const cache = new ConfigCache({ dir });
    await cache.open();
    const cp = await controlPlane(seeded(2));
    const dp = startClient(cp, { cache });
    await waitFor(() => dp.config?.version === 2, 'snapshot applied');
    await cache.flush();
    const before = await readFile(cache.path);
    const bad = { ...makeService('bad'), port: 70000 };
    cp.sendDelta(cp.socket, 2, { to: 3, batch: { upserts: [{ type: 1, id: bad.id, version: 3, payload: encodeService(bad) }] } });
    await waitFor(() => dp.rejected.length === 1, 'NACK');
    await cache.flush();
    expect((await readFile(cache.path)).equals(before)).toBe(true);
  });

  it('sends heartbeats with its state, and drops a silent control plane within 2 × interval + grace', async () => {
    const cp = await controlPlane(seeded(1));
    cp.heartbeatIntervalMs = 100;
    const dp = startClient(cp, { initial: configAt(cp.model) });
    await waitFor(() => cp.received.heartbeats.length >= 2, 'two heartbeats');
    expect(cp.received.heartbeats[0].state?.version).toBe(1);
    cp.isResponsive = false;
    const silentSince = Date.now();
    const closed = await waitFor(() => cp.received.closes[0], 'data plane closes the silent connection', 3_000);
    expect(closed.code).toBe(4002);
    // 2 × interval + grace = 300 ms, plus the check granularity (25 ms), the close handshake and a loaded CI machine.
    expect(Date.now() - silentSince).toBeLessThan(2 * 100 + 100 + 300);
    expect(dp.client.lastError?.code).toBe('SLUICE_DP_SYNC_HEARTBEAT_TIMEOUT');
    cp.isResponsive = true;
    await waitFor(() => dp.client.state === 'connected' && cp.received.hellos.length === 2, 'reconnected');
  });

  it('asks for a resync when head is ahead and nothing arrives for two intervals', async () => {
    const cp = await controlPlane(seeded(2));
    cp.heartbeatIntervalMs = 50;
    const initial = configAt(cp.model);
    cp.onHello = (ws) => cp.helloAck(ws, pb.HelloAck.Mode.MODE_UP_TO_DATE);
    startClient(cp, { initial });
    await waitFor(() => cp.received.hellos.length === 1, 'hello');
    addVersion(cp.model, 'unsent');
    const resync = await waitFor(() => cp.received.resyncs[0], 'ResyncRequest');
    expect(resync.reason).toBe(pb.ResyncRequest.Reason.REASON_STALL);
    expect(resync.applied?.version).toBe(2);
  });

  it('announces its loaded plugins in Hello, and asks for no resync while the control plane withholds the head for missing plugins', async () => {
    const cp = await controlPlane(seeded(2));
    cp.heartbeatIntervalMs = 50;
    cp.missingPlugins = ['rate-limiting'];
    cp.onHello = (ws) => cp.helloAck(ws, pb.HelloAck.Mode.MODE_UP_TO_DATE);
    const dp = startClient(cp, { initial: configAt(cp.model), plugins: createPluginRuntime(pluginFactoriesFor(new Set(['key-auth', 'acl']))) });
    const hello = await waitFor(() => cp.received.hellos[0], 'hello');
    expect(hello.plugins).toEqual([
      { name: 'acl', version: PLUGIN_SCHEMA_VERSION },
      { name: 'key-auth', version: PLUGIN_SCHEMA_VERSION },
    ]);
    addVersion(cp.model, 'withheld');
    await waitFor(() => dp.client.missingPlugins.length > 0, 'the missing plugins from a heartbeat');
    expect(dp.client.missingPlugins).toEqual(['rate-limiting']);
    expect(dp.client.lastError).toMatchObject({ code: 'SLUICE_DP_SYNC_INCOMPATIBLE', message: expect.stringContaining('rate-limiting') });
    // Six of its own heartbeats (three stall windows) without a resync.
    const from = cp.received.heartbeats.length;
    await waitFor(() => cp.received.heartbeats.length >= from + 6, 'six heartbeats');
    expect(cp.received.resyncs).toEqual([]);
    // Once the control plane no longer withholds the head, a stalled head brings a resync again.
    cp.missingPlugins = [];
    await waitFor(() => cp.received.resyncs[0], 'ResyncRequest');
    expect(dp.client.missingPlugins).toEqual([]);
  });

  it('obeys GoAway: stays until a time within the announced window, then leaves (1001) and reconnects', async () => {
    const cp = await controlPlane(seeded(1));
    const dp = startClient(cp, { initial: configAt(cp.model) });
    await waitFor(() => dp.client.state === 'connected', 'connected');
    const disconnected = new Promise<{ retryInMs: number | null; code: number }>((resolve) => dp.client.once('disconnected', resolve));
    const sentAt = Date.now();
    cp.send(cp.socket, { goAway: { reason: 'draining', reconnectMinMs: 150, reconnectMaxMs: 250 } });
    const info = await disconnected;
    const leftAfterMs = Date.now() - sentAt;
    // The data plane closed the connection itself, at the drawn time, and reconnects at once.
    expect(info.code).toBe(1001);
    expect(leftAfterMs).toBeGreaterThanOrEqual(145);
    expect(leftAfterMs).toBeLessThan(1_000);
    expect(info.retryInMs).toBe(0);
    await waitFor(() => cp.received.hellos.length === 2, 'reconnected after GoAway');
  });

  it('after GoAway on a control plane that closes at once, still waits for the drawn time', async () => {
    const cp = await controlPlane(seeded(1));
    const dp = startClient(cp, { initial: configAt(cp.model) });
    await waitFor(() => dp.client.state === 'connected', 'connected');
    const disconnected = new Promise<{ retryInMs: number | null; code: number }>((resolve) => dp.client.once('disconnected', resolve));
    cp.send(cp.socket, { goAway: { reason: 'draining', reconnectMinMs: 150, reconnectMaxMs: 250 } });
    cp.socket.close(4005, 'go away');
    const info = await disconnected;
    expect(info.code).toBe(4005);
    expect(info.retryInMs).toBeGreaterThanOrEqual(140);
    expect(info.retryInMs).toBeLessThanOrEqual(250);
    await waitFor(() => cp.received.hellos.length === 2, 'reconnected after GoAway');
  });

  it('backs off on RETRY_LATER by the announced delay, and never rolls back', async () => {
    const cp = await controlPlane(seeded(3));
    const ahead = configAt(cp.model);
    cp.model.epoch = 'epoch-a';
    let first = true;
    cp.onHello = (ws, hello) => {
      if (first) {
        first = false;
        cp.helloAck(ws, pb.HelloAck.Mode.MODE_RETRY_LATER, { retryAfterMs: 120 });
        ws.close(4007, 'retry later');
        return;
      }
      cp.defaultHello(ws, hello);
    };
    const dp = startClient(cp, { initial: ahead });
    const info = await new Promise<{ retryInMs: number | null; code: number }>((resolve) => dp.client.once('disconnected', resolve));
    expect(info.code).toBe(4007);
    expect(info.retryInMs).toBeGreaterThanOrEqual(120);
    expect(info.retryInMs).toBeLessThanOrEqual(180);
    await waitFor(() => cp.received.hellos.length === 2 && dp.client.state === 'connected', 'reconnected');
    expect(dp.config).toBe(ahead);
  });

  it('refuses an oversize frame (1009) and reconnects', async () => {
    const cp = await controlPlane(seeded(1));
    const dp = startClient(cp, { initial: configAt(cp.model), maxFrameBytes: 64 * 1024 });
    await waitFor(() => dp.client.state === 'connected', 'connected');
    cp.socket.send(encodeFrame({ heartbeat: { sentAtMs: 1, state: { epoch: 'x', version: 1, hash: new Uint8Array(128 * 1024) } } }));
    const closed = await waitFor(() => cp.received.closes[0], 'close');
    expect(closed.code).toBe(1009);
    await waitFor(() => cp.received.hellos.length === 2, 'reconnected');
  });

  it('applies a delta that removes a service together with its routes, and create-then-delete leaves nothing', async () => {
    const cp = await controlPlane(seeded(2));
    const dp = startClient(cp);
    await waitFor(() => dp.config?.version === 2, 'snapshot');
    const victim = [...cp.model.entities.values()].find((r) => r.type === 1)!;
    const routes = [...cp.model.entities.values()].filter((r) => r.type === 2 && dp.config!.routes.get(r.id)?.service?.id === victim.id);
    const temp = makeService('temp');
    cp.model.commit({ upsert: [temp, makeRoute('temp', temp.id)] });
    cp.model.commit({ remove: [{ kind: 'routes', id: makeRoute('temp', temp.id).id }, { kind: 'services', id: temp.id }, ...routes.map((r) => ({ kind: 'routes' as const, id: r.id })), { kind: 'services', id: victim.id }] });
    cp.sendDelta(cp.socket, 2);
    await waitFor(() => dp.config?.version === 4, 'delta');
    expect(dp.config!.hashHex).toBe(configAt(cp.model).hashHex);
    expect(dp.config!.services.has(victim.id)).toBe(false);
    expect(dp.config!.services.has(temp.id)).toBe(false);
  });
});

describe('SyncClient with several control-plane addresses', () => {
  it('moves to another replica at once when one answers RETRY_LATER (it is behind), and never rolls back', async () => {
    const behind = await controlPlane(seeded(2));
    const current = await controlPlane(seeded(3));
    behind.onHello = (ws) => {
      behind.helloAck(ws, pb.HelloAck.Mode.MODE_RETRY_LATER, { retryAfterMs: 30_000 });
      ws.close(4007, 'control plane replica is behind the data plane');
    };
    const ahead = configAt(current.model);
    const started = Date.now();
    const dp = startClient(behind, { url: [behind.url, current.url], initial: ahead });
    await waitFor(() => dp.client.state === 'connected', 'connected to the second replica');
    // Well within the behind replica's 30 s retry-after: the client did not wait on it.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(dp.client.url).toBe(current.url);
    expect(behind.received.hellos).toHaveLength(1);
    expect(current.received.hellos[0].applied?.version).toBe(3);
    expect(dp.config).toBe(ahead);
  });

  it('fails over to the next address when the current one stops, and back when that one stops', async () => {
    const a = await controlPlane(seeded(2));
    const b = await controlPlane(seeded(2));
    const dp = startClient(a, { url: [a.url, b.url], initial: configAt(a.model) });
    await waitFor(() => dp.client.state === 'connected' && dp.client.url === a.url, 'connected to A');
    await a.close();
    await waitFor(() => dp.client.state === 'connected' && dp.client.url === b.url, 'failed over to B');
    const a2 = await FakeControlPlane.start(a.model, a.port);
    cleanups.push(() => a2.close());
    await b.close();
    await waitFor(() => dp.client.state === 'connected' && dp.client.url === a.url, 'failed over back to A');
    expect(a2.received.hellos[0].applied?.version).toBe(2);
  });

  it('on GoAway moves to another address within the window, not back to the draining one', async () => {
    const a = await controlPlane(seeded(1));
    const b = await controlPlane(seeded(1));
    const dp = startClient(a, { url: [a.url, b.url], initial: configAt(a.model) });
    await waitFor(() => dp.client.state === 'connected' && dp.client.url === a.url, 'connected to A');
    const sentAt = Date.now();
    a.send(a.socket, { goAway: { reason: 'draining', reconnectMinMs: 50, reconnectMaxMs: 300 } });
    await waitFor(() => b.received.hellos.length === 1 && dp.client.state === 'connected', 'connected to B');
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    expect(dp.client.url).toBe(b.url);
    expect(a.received.hellos).toHaveLength(1);
    expect(await waitFor(() => a.received.closes[0], 'A sees the data plane leave')).toMatchObject({ code: 1001 });
  });

  it('refuses a mix of ws:// and wss:// addresses', () => {
    expect(() => new SyncClient({ url: ['ws://a:8005', 'wss://b:8005'], nodeId: uuidFor('node'), getConfig: () => null, commit: () => undefined })).toThrow(/all be ws:\/\/ or all wss:\/\//);
  });
});

describe('SyncClient connection failures', () => {
  it('reports an HTTP refusal of the upgrade and keeps retrying with backoff', async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('no stream here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const client = new SyncClient({
      url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
      nodeId: uuidFor('node'),
      getConfig: () => null,
      commit: () => undefined,
      backoff: { baseMs: 10, capMs: 40 },
    });
    const retries: (number | null)[] = [];
    client.on('disconnected', ({ retryInMs }) => retries.push(retryInMs));
    client.start();
    cleanups.push(() => client.stop());
    await waitFor(() => retries.length >= 3, 'three failed attempts');
    expect(client.lastError).toMatchObject({ code: 'SLUICE_DP_SYNC_CONNECTION', message: expect.stringContaining('HTTP 404') });
    expect(client.state).not.toBe('connected');
    for (const r of retries) expect(r).toBeLessThanOrEqual(40);
  });
});

function encodeRouteOf(route: ReturnType<typeof makeRoute>): Uint8Array {
  return pb.Route.encode({
    id: route.id,
    createdAt: route.created_at,
    updatedAt: route.updated_at,
    name: route.name,
    protocols: { values: route.protocols },
    paths: { values: route.paths ?? [] },
    stripPath: route.strip_path,
    preserveHost: route.preserve_host,
    pathHandling: route.path_handling,
    httpsRedirectStatusCode: route.https_redirect_status_code,
    requestBuffering: route.request_buffering,
    responseBuffering: route.response_buffering,
    service: route.service,
  }).finish();
}
