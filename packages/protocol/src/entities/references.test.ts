import { describe, expect, it } from 'vitest';
import { prepareRoute } from './kinds/routes.js';
import { checkConsistency, entityKey, ReferenceIndex, referencesOf, type CountMap, type ReferenceView } from './references.js';
import type { AnyEntity, EntityKind } from './registry.js';
import type { Route } from './types.js';

const SERVICE_A = '00000000-0000-4000-8000-00000000000a';
const SERVICE_B = '00000000-0000-4000-8000-00000000000b';

function route(n: number, serviceId: string | null): Route {
  const result = prepareRoute(
    { name: `r${n}`, paths: [`/r${n}`], service: serviceId === null ? null : { id: serviceId } },
    { mode: 'create', now: 1000, newId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` },
  );
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.entity;
}

/** A persistent CountMap for the tests: copies on write (the data plane's is a HAMT). */
class CopyMap implements CountMap {
  constructor(readonly map: ReadonlyMap<string, number> = new Map()) {}
  get(key: string): number | undefined {
    return this.map.get(key);
  }
  set(key: string, value: number): CopyMap {
    return new CopyMap(new Map(this.map).set(key, value));
  }
  delete(key: string): CopyMap {
    const next = new Map(this.map);
    next.delete(key);
    return new CopyMap(next);
  }
}

/** A view over a plain config: the keys it holds, an index, and the entities scanned for referrers. */
function viewOf(held: { kind: EntityKind; entity: AnyEntity }[], index: ReferenceIndex): ReferenceView & { referrersAsked: number } {
  const keys = new Set(held.map(({ kind, entity }) => entityKey(kind, entity.id)));
  const view = {
    referrersAsked: 0,
    has: (kind: string, id: string) => keys.has(entityKey(kind, id)),
    referrerCount: (kind: string, id: string) => index.count(kind, id),
    referrers(kind: string, id: string) {
      view.referrersAsked++;
      return held.filter(({ entity }) => referencesOf('routes', entity).some((r) => r.reference === kind && r.id === id)).map(({ kind: k, entity }) => ({ kind: k, id: entity.id }));
    },
  };
  return view;
}

const svc = (id: string) => ({ kind: 'services' as const, entity: { id, created_at: 0, updated_at: 0 } as unknown as AnyEntity });

describe('referencesOf', () => {
  it('lists an entity’s non-null foreign fields in schema order', () => {
    expect(referencesOf('routes', route(1, SERVICE_A))).toEqual([{ field: 'service', reference: 'services', id: SERVICE_A }]);
    expect(referencesOf('routes', route(2, null))).toEqual([]);
  });
});

describe('ReferenceIndex', () => {
  it('counts referrers per referenced entity and moves by the changed entities only', () => {
    const empty = new ReferenceIndex(new CopyMap());
    const r1 = route(1, SERVICE_A);
    const r2 = route(2, SERVICE_A);
    const index = empty.withChanges([], [{ kind: 'routes', entity: r1 }, { kind: 'routes', entity: r2 }]);
    expect(index.count('services', SERVICE_A)).toBe(2);
    expect(empty.count('services', SERVICE_A)).toBe(0); // immutable
    const moved = index.withChanges([{ kind: 'routes', entity: r2 }], [{ kind: 'routes', entity: { ...r2, service: { id: SERVICE_B } } }]);
    expect([moved.count('services', SERVICE_A), moved.count('services', SERVICE_B)]).toEqual([1, 1]);
    const gone = moved.withChanges([{ kind: 'routes', entity: r1 }, { kind: 'routes', entity: { ...r2, service: { id: SERVICE_B } } }], []);
    expect([gone.count('services', SERVICE_A), gone.count('services', SERVICE_B)]).toEqual([0, 0]);
  });

  it('returns itself when the change moves no reference', () => {
    const index = new ReferenceIndex(new CopyMap()).withChanges([], [{ kind: 'routes', entity: route(1, SERVICE_A) }]);
    expect(index.withChanges([], [{ kind: 'routes', entity: route(2, null) }])).toBe(index);
  });
});

describe('checkConsistency', () => {
  it('accepts a change whose references exist in the result and whose removals are unreferenced', () => {
    const r1 = route(1, SERVICE_A);
    const index = new ReferenceIndex(new CopyMap()).withChanges([], [{ kind: 'routes', entity: r1 }]);
    const view = viewOf([svc(SERVICE_A), { kind: 'routes', entity: r1 }], index);
    expect(checkConsistency({ upserts: [{ kind: 'routes', entity: r1 }], removals: [{ kind: 'services', id: SERVICE_B }] }, view)).toEqual([]);
    expect(view.referrersAsked).toBe(0); // referrers are scanned only for a refused removal
  });

  it('reports a dangling reference on the referencing entity, with the data plane’s message', () => {
    const r1 = route(1, SERVICE_B);
    const view = viewOf([svc(SERVICE_A), { kind: 'routes', entity: r1 }], new ReferenceIndex(new CopyMap()));
    expect(checkConsistency({ upserts: [{ kind: 'routes', entity: r1 }], removals: [] }, view)).toEqual([
      { type: 'dangling', kind: 'routes', id: r1.id, field: 'service', reference: 'services', referencedId: SERVICE_B, message: `service ${SERVICE_B} does not exist` },
    ]);
  });

  it('reports a removed entity still referenced on each referrer, and stops at the limit', () => {
    const routes = [route(1, SERVICE_A), route(2, SERVICE_A), route(3, SERVICE_A)].map((entity) => ({ kind: 'routes' as const, entity }));
    const index = new ReferenceIndex(new CopyMap()).withChanges([], routes);
    const view = viewOf(routes, index);
    const errors = checkConsistency({ upserts: [], removals: [{ kind: 'services', id: SERVICE_A }] }, view);
    expect(errors.map((e) => [e.type, e.kind, e.id, e.message])).toEqual(
      routes.map(({ entity }) => ['referenced', 'routes', entity.id, `service ${SERVICE_A} is removed but still referenced`]),
    );
    expect(checkConsistency({ upserts: [], removals: [{ kind: 'services', id: SERVICE_A }] }, view, 2)).toHaveLength(2);
  });

  it('does not look for referrers of a kind nothing references', () => {
    const view = viewOf([], new ReferenceIndex(new CopyMap()));
    expect(checkConsistency({ upserts: [], removals: [{ kind: 'consumers', id: SERVICE_A }, { kind: 'routes', id: SERVICE_B }] }, view)).toEqual([]);
    expect(view.referrersAsked).toBe(0);
  });
});
