import { describe, expect, it } from 'vitest';
import {
  encodeConsumer,
  ENTITY_KINDS,
  ENTITY_TYPE_BY_KIND,
  encodeRoute,
  encodeService,
  hashHex,
  kindOfEntityType,
  pb,
  ReferenceIndex,
  type AnyEntity,
  type Consumer,
  type EntityKind,
  type ResourceMessage,
  type Route,
  type Service,
} from '@sluice/protocol';
import { ConfigModel, makeConsumer, makeRoute, makeService, uuidFor } from '../../test/helpers/config-model.js';
import { AckError, ResourceErrorCode } from '../errors.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import { ImmutableMap } from './immutable-map.js';
import type { RuntimeConfig } from './runtime-config.js';
import { seededRandom } from '../../test/fixtures/seeded-random.js';

function snapshotOf(model: ConfigModel, v = model.version): RuntimeConfig {
  const result = applySnapshot(model.snapshot(v), { epoch: model.epoch, version: v, hash: model.hashAt(v) });
  if (!result.ok) throw result.error;
  return result.config;
}

function deltaOf(model: ConfigModel, current: RuntimeConfig, to = model.version) {
  return applyDelta(current, { epoch: model.epoch, fromVersion: current.version, toVersion: to, targetHash: model.hashAt(to), batch: model.delta(current.version, to) });
}

/** Everything that defines a config's content: keys, exact bytes, per-resource versions, hash. */
function contentOf(config: RuntimeConfig) {
  return {
    epoch: config.epoch,
    version: config.version,
    hash: config.hashHex,
    resources: [...config.resources.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, r]) => [k, r.version, Buffer.from(r.payload).toString('hex')]),
    services: [...config.services.keys()].sort(),
    routes: [...config.routes.keys()].sort(),
    consumers: [...config.entities.consumers.keys()].sort(),
    referenceCounts: [...config.resources.entries()].map(([k, r]) => [k, config.references.count(kindOfEntityType(r.type)!, r.id)] as const).filter(([, n]) => n > 0).sort(),
    routerSize: config.router.size,
  };
}

/**
 * Drives a model through random valid changes: creates, updates and deletes of services and routes
 * and, with `withConsumers`, of consumers too (drawn from a second generator, so the services and
 * routes of a seed are the same either way).
 */
function randomHistory(seed: number, steps: number, withConsumers = false): ConfigModel {
  const rnd = seededRandom(seed);
  const consumerRnd = seededRandom(seed ^ 0x9e3779b9);
  const model = new ConfigModel(`epoch-${seed}`);
  const services = new Map<string, Service>();
  const routes = new Map<string, Route>();
  const consumers = new Map<string, Consumer>();
  let n = 0;
  for (let step = 0; step < steps; step++) {
    const upsert: AnyEntity[] = [];
    const remove: { kind: EntityKind; id: string }[] = [];
    const ops = 1 + Math.floor(rnd() * 4);
    const touched = new Set<string>();
    for (let o = 0; o < ops; o++) {
      const r = rnd();
      if (r < 0.25 || services.size === 0) {
        const s = makeService(`svc${n++}`, { port: 1 + Math.floor(rnd() * 60000) });
        services.set(s.id, s);
        upsert.push(s);
        touched.add(s.id);
      } else if (r < 0.35) {
        const s = [...services.values()][Math.floor(rnd() * services.size)];
        if (touched.has(s.id)) continue;
        const updated = { ...s, port: 1 + Math.floor(rnd() * 60000), updated_at: s.updated_at + 1 };
        services.set(s.id, updated);
        upsert.push(updated);
        touched.add(s.id);
      } else if (r < 0.45) {
        const s = [...services.values()][Math.floor(rnd() * services.size)];
        const referenced = [...routes.values()].some((rt) => rt.service?.id === s.id);
        if (referenced || touched.has(s.id)) continue;
        services.delete(s.id);
        remove.push({ kind: 'services', id: s.id });
        touched.add(s.id);
      } else if (r < 0.75) {
        const s = [...services.values()][Math.floor(rnd() * services.size)];
        if (touched.has(s.id) && remove.some((x) => x.id === s.id)) continue;
        const rt = makeRoute(`r${n++}`, rnd() < 0.9 ? s.id : null, { paths: [`/p${n}`, rnd() < 0.3 ? `~/re${n}/\\d+$` : `/q${n}`] });
        routes.set(rt.id, rt);
        upsert.push(rt);
        touched.add(rt.id);
      } else if (r < 0.85 && routes.size > 0) {
        const rt = [...routes.values()][Math.floor(rnd() * routes.size)];
        if (touched.has(rt.id)) continue;
        const updated = { ...rt, paths: [`/moved${n++}`], strip_path: !rt.strip_path };
        routes.set(rt.id, updated);
        upsert.push(updated);
        touched.add(rt.id);
      } else if (routes.size > 0) {
        const rt = [...routes.values()][Math.floor(rnd() * routes.size)];
        if (touched.has(rt.id)) continue;
        routes.delete(rt.id);
        remove.push({ kind: 'routes', id: rt.id });
        touched.add(rt.id);
      }
    }
    for (let o = withConsumers ? Math.floor(consumerRnd() * 3) : 0; o > 0; o--) {
      const r = consumerRnd();
      const picked = consumers.size === 0 ? undefined : [...consumers.values()][Math.floor(consumerRnd() * consumers.size)];
      if (r < 0.5 || picked === undefined) {
        const c = makeConsumer(`user${n++}`, consumerRnd() < 0.5 ? { custom_id: `ext-${n}` } : {});
        consumers.set(c.id, c);
        upsert.push(c);
        touched.add(c.id);
      } else if (touched.has(picked.id)) {
        continue;
      } else if (r < 0.75) {
        const updated = { ...picked, tags: [`t${n++}`], updated_at: picked.updated_at + 1 };
        consumers.set(picked.id, updated);
        upsert.push(updated);
        touched.add(picked.id);
      } else {
        consumers.delete(picked.id);
        remove.push({ kind: 'consumers', id: picked.id });
        touched.add(picked.id);
      }
    }
    model.commit({ upsert, remove });
  }
  return model;
}

describe('applySnapshot', () => {
  it('builds a config whose hash, maps and router match the snapshot', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    model.commit({ upsert: [s, makeRoute('one', s.id), makeRoute('two', s.id), makeRoute('orphan', null)] });
    const config = snapshotOf(model);
    expect(config.version).toBe(1);
    expect(config.hashHex).toBe(hashHex(model.hashAt()));
    expect(config.services.size).toBe(1);
    expect(config.routes.size).toBe(3);
    expect(config.references.count('services', s.id)).toBe(2);
    expect(config.router.size).toBeGreaterThan(0);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses an invalid entity with a per-entity error (ERROR_INVALID)', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    const bad = { ...makeService('b'), port: 70000 };
    model.commit({ upsert: [s, bad] });
    const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: 1, hash: model.hashAt() });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('SLUICE_DP_CONFIG_REJECTED');
    expect(result.error.ackError).toBe(AckError.ERROR_INVALID);
    expect(result.error.rejectedVersion).toBe(1);
    expect(result.error.resourceErrors).toEqual([
      expect.objectContaining({ kind: 'services', id: bad.id, code: ResourceErrorCode.INVALID, message: expect.stringContaining('port') }),
    ]);
  });

  it('refuses a route whose regex cannot compile (ERROR_INVALID)', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    const r = { ...makeRoute('re', s.id), paths: ['~/(unclosed'] };
    model.commit({ upsert: [s, r] });
    const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: 1, hash: model.hashAt() });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.resourceErrors[0]).toMatchObject({ kind: 'routes', id: r.id });
  });

  it('refuses a dangling service reference (ERROR_DANGLING_REF)', () => {
    const model = new ConfigModel();
    const r = makeRoute('lost', uuidFor('missing-service'));
    model.commit({ upsert: [r] });
    const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: 1, hash: model.hashAt() });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.ackError).toBe(AckError.ERROR_DANGLING_REF);
    expect(result.error.resourceErrors).toEqual([expect.objectContaining({ id: r.id, code: ResourceErrorCode.DANGLING_REF })]);
  });

  it('refuses a hash that does not come out as announced (ERROR_HASH_MISMATCH)', () => {
    const model = new ConfigModel();
    model.commit({ upsert: [makeService('a')] });
    const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: 1, hash: new Uint8Array(32).fill(7) });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.ackError).toBe(AckError.ERROR_HASH_MISMATCH);
  });

  it('refuses undecodable payloads, unknown types, id mismatches and duplicates', () => {
    const s = makeService('a');
    const payload = encodeService(s);
    const cases: [ResourceMessage[], number, string][] = [
      [[{ type: ENTITY_TYPE_BY_KIND.services, id: s.id, payload: new Uint8Array([0xff, 0xff, 0xff]) }], AckError.ERROR_DECODE, ResourceErrorCode.DECODE],
      [[{ type: 99 as ResourceMessage['type'], id: s.id, payload }], AckError.ERROR_INVALID, ResourceErrorCode.UNKNOWN_TYPE],
      [[{ type: ENTITY_TYPE_BY_KIND.services, id: uuidFor('other'), payload }], AckError.ERROR_INVALID, ResourceErrorCode.ID_MISMATCH],
      [[{ type: ENTITY_TYPE_BY_KIND.services, id: s.id, payload }, { type: ENTITY_TYPE_BY_KIND.services, id: s.id, payload }], AckError.ERROR_INVALID, ResourceErrorCode.DUPLICATE],
    ];
    for (const [upserts, ackError, code] of cases) {
      const result = applySnapshot({ upserts }, { epoch: 'e', version: 1, hash: new Uint8Array(32) });
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.error.ackError).toBe(ackError);
      expect(result.error.resourceErrors[0].code).toBe(code);
    }
  });

  it('never lowers the version within an epoch (monotonic), but accepts a new epoch at any version', () => {
    const model = new ConfigModel();
    model.commit({ upsert: [makeService('a')] });
    model.commit({ upsert: [makeService('b')] });
    const current = snapshotOf(model, 2);
    const older = applySnapshot(model.snapshot(1), { epoch: model.epoch, version: 1, hash: model.hashAt(1) }, { current });
    expect(older.ok).toBe(false);
    if (!older.ok) expect(older.error.ackError).toBe(AckError.ERROR_BASE_MISMATCH);
    const same = applySnapshot(model.snapshot(2), { epoch: model.epoch, version: 2, hash: model.hashAt(2) }, { current });
    expect(same.ok).toBe(true);
    const otherEpoch = applySnapshot(model.snapshot(1), { epoch: 'restored-epoch', version: 1, hash: model.hashAt(1) }, { current });
    expect(otherEpoch.ok).toBe(true);
  });
});

describe('applyDelta', () => {
  it('delta ≡ snapshot: for random histories, every delta V→W applied to V equals the snapshot of W', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const model = randomHistory(seed, 40);
      const rnd = seededRandom(seed * 7919);
      for (let trial = 0; trial < 25; trial++) {
        const v = Math.floor(rnd() * model.version);
        const w = v + 1 + Math.floor(rnd() * (model.version - v));
        const base = v === 0 ? null : snapshotOf(model, v);
        if (!base) continue;
        const result = deltaOf(model, base, w);
        if (!result.ok) throw result.error;
        expect(contentOf(result.config)).toEqual(contentOf(snapshotOf(model, w)));
      }
      // And step by step from version 1 to head: each single-version delta, chained.
      let config = snapshotOf(model, 1);
      for (let w = 2; w <= model.version; w++) {
        const result = deltaOf(model, config, w);
        if (!result.ok) throw result.error;
        config = result.config;
      }
      expect(contentOf(config)).toEqual(contentOf(snapshotOf(model)));
    }
  });

  it('create-then-delete inside one coalesced delta leaves nothing behind', () => {
    const model = new ConfigModel();
    const s = makeService('keep');
    model.commit({ upsert: [s] });
    const base = snapshotOf(model);
    const temp = makeService('temp');
    const r = makeRoute('temp-route', temp.id);
    model.commit({ upsert: [temp, r] });
    model.commit({ remove: [{ kind: 'routes', id: r.id }] });
    model.commit({ remove: [{ kind: 'services', id: temp.id }] });
    const batch = model.delta(1);
    expect(batch.upserts).toHaveLength(0);
    expect(batch.removals).toHaveLength(0);
    const result = deltaOf(model, base);
    expect(result.ok).toBe(true);
    if (result.ok) expect(contentOf(result.config)).toEqual(contentOf(snapshotOf(model)));
  });

  it('leaves the current config untouched on every kind of refusal (keep-last-good)', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    const r = makeRoute('r', s.id);
    model.commit({ upsert: [s, r] });
    const current = snapshotOf(model);
    const before = contentOf(current);
    const refusals: [string, ReturnType<typeof applyDelta>, number][] = [];
    const hash = model.hashAt();

    const invalid = { ...s, port: 70000 };
    refusals.push(['invalid', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { upserts: [{ type: 1, id: s.id, version: 2, payload: encodeService(invalid) }] } }), AckError.ERROR_INVALID]);
    refusals.push(['removed service still referenced', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { removals: [{ type: 1, id: s.id }] } }), AckError.ERROR_DANGLING_REF]);
    const lost = makeRoute('lost', uuidFor('nowhere'));
    refusals.push(['route to a missing service', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { upserts: [{ type: 2, id: lost.id, version: 2, payload: encodeRoute(lost) }] } }), AckError.ERROR_DANGLING_REF]);
    refusals.push(['hash mismatch', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { upserts: [{ type: 1, id: makeService('z').id, version: 2, payload: encodeService(makeService('z')) }] } }), AckError.ERROR_HASH_MISMATCH]);
    refusals.push(['base version', applyDelta(current, { epoch: model.epoch, fromVersion: 0, toVersion: 2, targetHash: hash, batch: {} }), AckError.ERROR_BASE_MISMATCH]);
    refusals.push(['base epoch', applyDelta(current, { epoch: 'other', fromVersion: 1, toVersion: 2, targetHash: hash, batch: {} }), AckError.ERROR_BASE_MISMATCH]);
    refusals.push(['not advancing', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 1, targetHash: hash, batch: {} }), AckError.ERROR_BASE_MISMATCH]);
    refusals.push(['undecodable', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { upserts: [{ type: 2, id: uuidFor('x'), version: 2, payload: new Uint8Array([0xff, 0xff]) }] } }), AckError.ERROR_DECODE]);
    refusals.push(['upsert and removal of one entity', applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: hash, batch: { upserts: [{ type: 2, id: r.id, version: 2, payload: encodeRoute(r) }], removals: [{ type: 2, id: r.id }] } }), AckError.ERROR_INVALID]);
    refusals.push(['no config yet', applyDelta(null, { epoch: model.epoch, fromVersion: 0, toVersion: 1, targetHash: hash, batch: {} }), AckError.ERROR_BASE_MISMATCH]);
    for (const [name, result, ackError] of refusals) {
      expect(result.ok, name).toBe(false);
      if (!result.ok) expect(result.error.ackError, name).toBe(ackError);
    }
    expect(contentOf(current)).toEqual(before);
  });

  it('does not decode an upsert whose bytes are unchanged, but records its new version', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    model.commit({ upsert: [s] });
    const current = snapshotOf(model);
    const payload = encodeService(s);
    const result = applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: model.hashAt(), batch: { upserts: [{ type: 1, id: s.id, version: 2, payload }] } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.services).toBe(current.services);
    expect(result.config.router).toBe(current.router);
    expect(result.config.resources.get(`services/${s.id}`)?.version).toBe(2);
  });
});

/** The reference index of a config rebuilt from scratch from its entities. */
function rebuiltIndex(config: RuntimeConfig): ReferenceIndex {
  const all: { kind: EntityKind; entity: AnyEntity }[] = [];
  for (const kind of ENTITY_KINDS) for (const entity of config.entities[kind].values()) all.push({ kind, entity });
  return new ReferenceIndex(ImmutableMap.empty<number>()).withChanges([], all);
}

describe('entity kinds beyond services and routes', () => {
  const consumerResource = (c: Consumer, version: number): ResourceMessage => ({ type: ENTITY_TYPE_BY_KIND.consumers, id: c.id, version, payload: encodeConsumer(c) });

  it('applies consumers from a snapshot and a delta (upsert, update, remove) with the control plane’s hash', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    const alice = makeConsumer('alice');
    const bob = makeConsumer('bob', { custom_id: 'ext-bob' });
    model.commit({ upsert: [s, makeRoute('r', s.id), alice, bob] });
    const base = snapshotOf(model);
    expect(base.hashHex).toBe(hashHex(model.hashAt()));
    expect(Object.isFrozen(base.entities)).toBe(true);
    expect([...base.entities.consumers.values()].sort((x, y) => String(x.username).localeCompare(String(y.username)))).toEqual([alice, bob]);
    expect(base.resources.get(`consumers/${alice.id}`)).toMatchObject({ type: ENTITY_TYPE_BY_KIND.consumers, id: alice.id, version: 1 });

    const carol = makeConsumer(null, { custom_id: 'ext-carol', tags: ['new'] });
    const renamed = { ...alice, username: 'alice2', updated_at: alice.updated_at + 1 };
    model.commit({ upsert: [carol, renamed], remove: [{ kind: 'consumers', id: bob.id }] });
    const result = deltaOf(model, base);
    if (!result.ok) throw result.error;
    const next = result.config;
    expect(next.hashHex).toBe(hashHex(model.hashAt()));
    expect(next.entities.consumers.get(alice.id)).toEqual(renamed);
    expect(next.entities.consumers.get(carol.id)).toEqual(carol);
    expect(next.entities.consumers.has(bob.id)).toBe(false);
    expect(next.resources.has(`consumers/${bob.id}`)).toBe(false);
    expect(contentOf(next)).toEqual(contentOf(snapshotOf(model)));
  });

  it('refuses an invalid consumer in a delta with Kong’s message, and keeps the serving config', () => {
    const model = new ConfigModel();
    model.commit({ upsert: [makeConsumer('alice')] });
    const current = snapshotOf(model);
    const before = contentOf(current);
    const nameless: Consumer = { ...makeConsumer('x'), username: null };
    const result = applyDelta(current, { epoch: model.epoch, fromVersion: 1, toVersion: 2, targetHash: model.hashAt(), batch: { upserts: [consumerResource(nameless, 2)] } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.ackError).toBe(AckError.ERROR_INVALID);
    expect(result.error.resourceErrors).toEqual([
      {
        type: ENTITY_TYPE_BY_KIND.consumers,
        kind: 'consumers',
        id: nameless.id,
        code: ResourceErrorCode.INVALID,
        message: "schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')",
      },
    ]);
    expect(contentOf(current)).toEqual(before);
  });

  it('a delta touching only consumers leaves the router, and the maps of the other kinds, the same objects', () => {
    const model = new ConfigModel();
    const s = makeService('a');
    model.commit({ upsert: [s, makeRoute('r', s.id), makeConsumer('alice')] });
    const base = snapshotOf(model);
    model.commit({ upsert: [makeConsumer('bob')], remove: [{ kind: 'consumers', id: makeConsumer('alice').id }] });
    const result = deltaOf(model, base);
    if (!result.ok) throw result.error;
    expect(result.config.router).toBe(base.router);
    expect(result.config.services).toBe(base.services);
    expect(result.config.routes).toBe(base.routes);
    expect(result.config.entities.consumers).not.toBe(base.entities.consumers);
    // The control: a delta touching a route does build a new router.
    model.commit({ upsert: [makeRoute('r2', s.id)] });
    const routed = deltaOf(model, result.config);
    if (!routed.ok) throw routed.error;
    expect(routed.config.router).not.toBe(base.router);
    expect(routed.config.router.size).toBe(2);
  });

  it('keeps the reference index equal to one rebuilt from scratch over random delta sequences (seeded)', () => {
    for (const seed of [11, 12, 13, 14, 15, 16]) {
      const model = randomHistory(seed, 30, true);
      // Every kind/id the history ever held: an index entry left behind would show on one of them.
      const everKeys = new Set<string>();
      for (const version of model.history.values()) for (const key of version.keys()) everKeys.add(key);
      const expectSameCounts = (config: RuntimeConfig, label: string) => {
        const rebuilt = rebuiltIndex(config);
        for (const key of everKeys) {
          const [kind, id] = key.split('/');
          expect(config.references.count(kind, id), `${label}: ${key}`).toBe(rebuilt.count(kind, id));
        }
      };
      const rnd = seededRandom(seed);
      let config = snapshotOf(model, 1);
      expectSameCounts(config, `seed ${seed} v1`);
      while (config.version < model.version) {
        const to = Math.min(model.version, config.version + 1 + Math.floor(rnd() * 3));
        const result = deltaOf(model, config, to);
        if (!result.ok) throw result.error;
        config = result.config;
        expectSameCounts(config, `seed ${seed} v${to}`);
        expect(contentOf(config)).toEqual(contentOf(snapshotOf(model, to)));
      }
      expect(config.entities.consumers.size + config.services.size).toBeGreaterThan(0);
    }
  });

  it('refuses a service whose client_certificate names a certificate: a dangling reference, as the control plane refuses it', () => {
    const model = new ConfigModel();
    const s = makeService('tls', { protocol: 'https', client_certificate: { id: uuidFor('certificate') } });
    model.commit({ upsert: [s] });
    const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: 1, hash: model.hashAt() });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.ackError).toBe(AckError.ERROR_DANGLING_REF);
    expect(result.error.resourceErrors).toEqual([
      { type: ENTITY_TYPE_BY_KIND.services, kind: 'services', id: s.id, code: ResourceErrorCode.DANGLING_REF, message: `certificate ${uuidFor('certificate')} does not exist` },
    ]);
  });
});
