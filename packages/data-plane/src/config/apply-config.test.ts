import { describe, expect, it } from 'vitest';
import { ENTITY_TYPE_BY_KIND, encodeRoute, encodeService, hashHex, pb, type ResourceMessage, type Route, type Service } from '@sluice/protocol';
import { ConfigModel, makeRoute, makeService, uuidFor } from '../../test/helpers/config-model.js';
import { AckError, ResourceErrorCode } from '../errors.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import type { RuntimeConfig } from './runtime-config.js';

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
    referenceCounts: [...config.resources.values()].map((r) => [`${r.kind}/${r.id}`, config.references.count(r.kind, r.id)] as const).filter(([, n]) => n > 0).sort(),
    routerSize: config.router.size,
  };
}

/** A small seeded PRNG (mulberry32) so a failing sequence can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Drives a model through random valid changes: creates, updates and deletes of services and routes. */
function randomHistory(seed: number, steps: number): ConfigModel {
  const rnd = prng(seed);
  const model = new ConfigModel(`epoch-${seed}`);
  const services = new Map<string, Service>();
  const routes = new Map<string, Route>();
  let n = 0;
  for (let step = 0; step < steps; step++) {
    const upsert: (Service | Route)[] = [];
    const remove: { kind: 'services' | 'routes'; id: string }[] = [];
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
      const rnd = prng(seed * 7919);
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
