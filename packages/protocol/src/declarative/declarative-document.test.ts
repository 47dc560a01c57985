import { describe, expect, it } from 'vitest';
import type { AnyEntity } from '../entities/registry.js';
import { derivedEntityId, readDeclarativeDocument, writeDeclarativeDocument } from './declarative-document.js';

const NOW = 1_700_000_000;

function entities(document: unknown, options: Parameters<typeof readDeclarativeDocument>[1] = { nowSeconds: NOW }) {
  const read = readDeclarativeDocument(document, options);
  if (!read.ok) throw new Error(read.errors.map((e) => `${e.where}: ${e.message}`).join('; '));
  return read.entities;
}

describe('readDeclarativeDocument / writeDeclarativeDocument', () => {
  it('reads nested and flat entities alike, and what it writes reads back to the same entities', () => {
    const nested = entities({
      _format_version: '3.0',
      services: [{ name: 'up', url: 'http://up.test', routes: [{ name: 'r', paths: ['/r'] }] }],
      consumers: [{ username: 'alice', acls: [{ group: 'g' }], keyauth_credentials: [{ key: 'k-0123456789abcdef' }] }],
    });
    expect(nested.map((e) => [e.kind, e.where])).toEqual([
      ['services', 'services[0]'],
      ['routes', 'services[0].routes[0]'],
      ['consumers', 'consumers[0]'],
      ['keyauth_credentials', 'consumers[0].keyauth_credentials[0]'],
      ['acls', 'consumers[0].acls[0]'],
    ]);
    const byKind: Record<string, AnyEntity[]> = {};
    for (const { kind, entity } of nested) (byKind[kind] ??= []).push(entity);
    const written = writeDeclarativeDocument(byKind);
    expect(written.routes![0]!.service).toBe(nested[0]!.entity.id);
    const again = entities(JSON.parse(JSON.stringify(written)), { nowSeconds: NOW + 100 });
    expect(again.map((e) => e.entity)).toEqual(nested.map((e) => e.entity)); // timestamps kept from the file
  });

  it('takes a stored entity’s id by name and keeps its timestamps when nothing changed', () => {
    const [stored] = entities({ _format_version: '3.0', services: [{ id: '0b6f4a52-58a5-4b55-9f8a-1c2d3e4f5a6b', name: 'up', host: 'up.test' }] }, { nowSeconds: 1000 });
    const baseline = { byId: (_k: string, id: string) => (id === stored!.entity.id ? stored!.entity : undefined), byEndpointKey: (_k: string, v: string) => (v === 'up' ? stored!.entity : undefined) };
    const [same] = entities({ _format_version: '3.0', services: [{ name: 'up', host: 'up.test' }] }, { nowSeconds: 2000, baseline });
    expect(same!.entity).toEqual(stored!.entity);
    const [changed] = entities({ _format_version: '3.0', services: [{ name: 'up', host: 'other.test' }] }, { nowSeconds: 2000, baseline });
    expect(changed!.entity).toMatchObject({ id: stored!.entity.id, created_at: 1000, updated_at: 2000, host: 'other.test' });
    const [fresh] = entities({ _format_version: '3.0', services: [{ name: 'new', host: 'n.test' }] }, { nowSeconds: 2000, baseline });
    expect(fresh!.entity.id).toBe(derivedEntityId('services', 'name:new'));
  });

  it('collects every fault with where it is', () => {
    const read = readDeclarativeDocument({ services: [{ name: 'a' }], routes: [{ paths: ['/x'], service: { id: '11111111-2222-4333-8444-555555555555' } }], upstreams: [] }, { nowSeconds: NOW });
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.errors.map((e) => [e.where, e.message])).toEqual([
      ['_format_version', 'required field missing'],
      ['upstreams', 'unknown top-level key "upstreams"'],
      ['services[0]', 'schema violation (host: required field missing)'],
      ['routes[0]', `service: the foreign key '{id="11111111-2222-4333-8444-555555555555"}' does not reference an existing 'services' entity.`],
    ]);
    expect(read.errors[3]!.path).toEqual(['routes', 0]);
  });
});
