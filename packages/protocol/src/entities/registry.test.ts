import { describe, expect, it } from 'vitest';
import { type CountMap, ReferenceIndex, checkConsistency, referencesOf } from './references.js';
import { ENTITIES, ENTITY_KINDS, ENTITY_TYPE_BY_KIND, decodeEntity, encodeEntity, entityTypeName, kindOfEntityType, referrersOf } from './registry.js';
import type { Route, Service } from './types.js';

const OPTS = { now: 1000, newId: '00000000-0000-4000-8000-000000000001' } as const;
const SERVICE_ID = '00000000-0000-4000-8000-00000000000a';
const ROUTE_ID = '00000000-0000-4000-8000-00000000000b';

/** A persistent CountMap over copies of a Map: enough to test the index's arithmetic. */
class CopyingCountMap implements CountMap {
  constructor(readonly map = new Map<string, number>()) {}
  get(key: string) {
    return this.map.get(key);
  }
  set(key: string, value: number) {
    return new CopyingCountMap(new Map(this.map).set(key, value));
  }
  delete(key: string) {
    const next = new Map(this.map);
    next.delete(key);
    return new CopyingCountMap(next);
  }
}

function service(): Service {
  const r = ENTITIES.services.prepare({ id: SERVICE_ID, host: 'a.test' }, { mode: 'create', ...OPTS });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.entity;
}

function route(serviceId: string | null): Route {
  const r = ENTITIES.routes.prepare({ id: ROUTE_ID, paths: ['/x'], service: serviceId === null ? null : { id: serviceId.toUpperCase() } }, { mode: 'create', ...OPTS });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.entity;
}

describe('entity registry', () => {
  it('has one definition per kind, filed under its kind, with distinct wire types that map back', () => {
    for (const kind of ENTITY_KINDS) {
      expect(ENTITIES[kind].kind).toBe(kind);
      expect(kindOfEntityType(ENTITY_TYPE_BY_KIND[kind])).toBe(kind);
    }
    expect(new Set(ENTITY_KINDS.map((k) => ENTITY_TYPE_BY_KIND[k])).size).toBe(ENTITY_KINDS.length);
    expect(kindOfEntityType(999)).toBeUndefined();
    expect(entityTypeName(ENTITY_TYPE_BY_KIND.routes)).toBe('route');
    expect(entityTypeName(999)).toBe('type 999');
  });

  it('derives foreign fields and referrers from the schemas', () => {
    expect(ENTITIES.routes.foreignFields).toEqual([{ field: 'service', reference: 'services', onDelete: 'restrict' }]);
    expect(ENTITIES.routes.parents).toEqual(['service']);
    expect(referrersOf('services')).toEqual([{ kind: 'routes', field: 'service', reference: 'services', onDelete: 'restrict' }]);
    expect(referrersOf('consumers')).toEqual([]);
  });

  it('round-trips every kind through its codec, and lower-cases foreign ids on prepare', () => {
    const consumer = ENTITIES.consumers.prepare({ username: 'alice', tags: ['a'] }, { mode: 'create', ...OPTS });
    expect(consumer.ok).toBe(true);
    if (!consumer.ok) return;
    expect(consumer.entity).toEqual({ id: OPTS.newId, created_at: 1000, updated_at: 1000, username: 'alice', custom_id: null, tags: ['a'] });
    expect(decodeEntity('consumers', encodeEntity('consumers', consumer.entity))).toEqual(consumer.entity);
    const r = route(SERVICE_ID);
    expect(r.service).toEqual({ id: SERVICE_ID });
    expect(decodeEntity('routes', encodeEntity('routes', r))).toEqual(r);
    expect(decodeEntity('services', encodeEntity('services', service()))).toEqual(service());
  });

  it('refuses a consumer with neither username nor custom_id, as Kong does', () => {
    const r = ENTITIES.consumers.prepare({ tags: ['x'] }, { mode: 'create', ...OPTS });
    expect(r).toEqual({ ok: false, errors: { '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] } });
  });
});

describe('references', () => {
  it('lists an entity’s references and counts referrers immutably', () => {
    const r = route(SERVICE_ID);
    expect(referencesOf('routes', r)).toEqual([{ field: 'service', reference: 'services', id: SERVICE_ID }]);
    const empty = new ReferenceIndex(new CopyingCountMap());
    const one = empty.withChanges([], [{ kind: 'routes', entity: r }]);
    expect(one.count('services', SERVICE_ID)).toBe(1);
    expect(empty.count('services', SERVICE_ID)).toBe(0);
    const moved = one.withChanges([{ kind: 'routes', entity: r }], [{ kind: 'routes', entity: route(null) }]);
    expect(moved.count('services', SERVICE_ID)).toBe(0);
    expect(one.withChanges([], [])).toBe(one);
  });

  it('finds dangling references and removals still referenced', () => {
    const r = route(SERVICE_ID);
    const nothing = { has: () => false, referrerCount: () => 0, referrers: () => [] };
    expect(checkConsistency({ upserts: [{ kind: 'routes', entity: r }], removals: [] }, nothing)).toEqual([
      { type: 'dangling', kind: 'routes', id: ROUTE_ID, field: 'service', reference: 'services', referencedId: SERVICE_ID, message: `service ${SERVICE_ID} does not exist` },
    ]);
    const stillReferenced = { has: () => true, referrerCount: () => 1, referrers: () => [{ kind: 'routes' as const, id: ROUTE_ID }] };
    expect(checkConsistency({ upserts: [], removals: [{ kind: 'services', id: SERVICE_ID }] }, stillReferenced)).toEqual([
      { type: 'referenced', kind: 'routes', id: ROUTE_ID, removedKind: 'services', removedId: SERVICE_ID, message: `service ${SERVICE_ID} is removed but still referenced` },
    ]);
    // A reference to a kind Sluice does not have (a service's client_certificate) can never resolve.
    const withCert = { ...service(), protocol: 'https' as const, client_certificate: { id: ROUTE_ID } };
    expect(checkConsistency({ upserts: [{ kind: 'services', entity: withCert }], removals: [] }, { has: (k) => k !== 'certificates', referrerCount: () => 0, referrers: () => [] })[0]).toMatchObject({
      type: 'dangling',
      reference: 'certificates',
    });
  });
});
