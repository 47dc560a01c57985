import { describe, expect, it } from 'vitest';
import { ProtocolErrorCode } from '../errors.js';
import { pb } from '../proto.js';
import type { EntityDefinition } from './entity-definition.js';
import { decodeEntity, encodeEntity, ENTITIES, ENTITY_KINDS, ENTITY_TYPE_BY_KIND, entityDefinition, isEntityKind, kindOfEntityType, referrersOf, type AnyEntity, type EntityKind } from './registry.js';

const OPTS = { mode: 'create' as const, now: 1000, newId: '00000000-0000-4000-8000-000000000001' };

/** A minimal valid input per kind: what the Admin API would accept. */
const SAMPLE_INPUT: { readonly [K in EntityKind]: Record<string, unknown> } = {
  services: { name: 'svc', host: 'up.test', tags: ['a'] },
  routes: { name: 'r', paths: ['/r'], service: { id: '00000000-0000-4000-8000-0000000000AA' } },
  consumers: { username: 'alice', custom_id: 'ext-1', tags: ['gold'] },
  plugins: { name: 'key-auth', route: { id: '00000000-0000-4000-8000-0000000000BB' }, config: {}, tags: ['edge'] },
  keyauth_credentials: { consumer: { id: '00000000-0000-4000-8000-0000000000CC' }, key: 'secret', expires_at: 2000 },
  basicauth_credentials: { consumer: { id: '00000000-0000-4000-8000-0000000000CC' }, username: 'bob', password: '$scrypt$x' },
  acls: { consumer: { id: '00000000-0000-4000-8000-0000000000CC' }, group: 'admins' },
};

function sample(kind: EntityKind): AnyEntity {
  const result = (ENTITIES[kind] as EntityDefinition<AnyEntity>).prepare(SAMPLE_INPUT[kind], OPTS);
  if (!result.ok) throw new Error(`${kind}: ${JSON.stringify(result.errors)}`);
  return result.entity;
}

describe('entity registry', () => {
  it('files every definition under its own kind, with a unique wire type that is the EntityType of the proto', () => {
    expect(ENTITY_KINDS).toEqual(['services', 'routes', 'consumers', 'plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls']);
    const wireTypes = ENTITY_KINDS.map((kind) => ENTITIES[kind].wireType);
    expect(new Set(wireTypes).size).toBe(ENTITY_KINDS.length);
    expect(ENTITY_TYPE_BY_KIND).toEqual({
      services: pb.EntityType.ENTITY_TYPE_SERVICE,
      routes: pb.EntityType.ENTITY_TYPE_ROUTE,
      consumers: pb.EntityType.ENTITY_TYPE_CONSUMER,
      plugins: pb.EntityType.ENTITY_TYPE_PLUGIN,
      keyauth_credentials: pb.EntityType.ENTITY_TYPE_KEYAUTH_CREDENTIAL,
      basicauth_credentials: pb.EntityType.ENTITY_TYPE_BASICAUTH_CREDENTIAL,
      acls: pb.EntityType.ENTITY_TYPE_ACL,
    });
    for (const kind of ENTITY_KINDS) {
      expect(ENTITIES[kind].kind).toBe(kind);
      expect(entityDefinition(kind)).toBe(ENTITIES[kind]);
      expect(kindOfEntityType(ENTITY_TYPE_BY_KIND[kind])).toBe(kind);
      expect(isEntityKind(kind)).toBe(true);
    }
    expect(kindOfEntityType(pb.EntityType.ENTITY_TYPE_UNSPECIFIED)).toBeUndefined();
    expect(kindOfEntityType(99)).toBeUndefined();
    expect(isEntityKind('certificates')).toBe(false);
  });

  it('orders kinds after the kinds they reference (the load and create order)', () => {
    for (const kind of ENTITY_KINDS) {
      for (const f of ENTITIES[kind].foreignFields) {
        if (isEntityKind(f.reference)) expect(ENTITY_KINDS.indexOf(f.reference), `${kind}.${f.field}`).toBeLessThan(ENTITY_KINDS.indexOf(kind));
      }
    }
  });

  it('round-trips a prepared entity of every kind through its codec, byte-for-byte deterministic', () => {
    for (const kind of ENTITY_KINDS) {
      const entity = sample(kind);
      const bytes = encodeEntity(kind, entity as never);
      expect(decodeEntity(kind, bytes), kind).toEqual(entity);
      expect(Buffer.from(encodeEntity(kind, decodeEntity(kind, bytes) as never)).equals(Buffer.from(bytes)), kind).toBe(true);
    }
  });

  it('refuses undecodable bytes of every kind with ENTITY_DECODE', () => {
    for (const kind of ENTITY_KINDS) {
      expect(() => decodeEntity(kind, new Uint8Array([0xff, 0xff, 0xff])), kind).toThrow(expect.objectContaining({ code: ProtocolErrorCode.ENTITY_DECODE }));
    }
  });

  it('describes each kind as the Admin API addresses it: endpoint key, unique fields, parents, foreign fields', () => {
    expect(ENTITIES.services).toMatchObject({ singular: 'service', endpointKey: 'name', uniqueFields: ['name'], parents: [] });
    expect(ENTITIES.routes).toMatchObject({ singular: 'route', endpointKey: 'name', uniqueFields: ['name'], parents: ['service'] });
    expect(ENTITIES.consumers).toMatchObject({ singular: 'consumer', endpointKey: 'username', uniqueFields: ['username', 'custom_id'], parents: [], foreignFields: [] });
    expect(ENTITIES.routes.foreignFields).toEqual([{ field: 'service', reference: 'services', onDelete: 'restrict' }]);
    // Kong's admin_api_name / admin_api_nested_name, composite keys, the ACL group URL and ttl.
    expect(ENTITIES.services).toMatchObject({ adminName: 'services', nestedAdminName: 'services', uniqueKeys: [], nestedEndpointKey: null, expiresAtField: null });
    expect(ENTITIES.keyauth_credentials).toMatchObject({ adminName: 'key-auths', nestedAdminName: 'key-auth', endpointKey: 'key', expiresAtField: 'expires_at' });
    expect(ENTITIES.basicauth_credentials).toMatchObject({ adminName: 'basic-auths', nestedAdminName: 'basic-auth', endpointKey: 'username', expiresAtField: null });
    expect(ENTITIES.acls).toMatchObject({ adminName: 'acls', nestedAdminName: 'acls', endpointKey: null, uniqueKeys: [['consumer', 'group']], nestedEndpointKey: 'group' });
  });

  it('lists the referrers of a kind, including references to kinds not registered yet', () => {
    expect(referrersOf('services')).toEqual([
      { kind: 'routes', field: 'service', reference: 'services', onDelete: 'restrict' },
      { kind: 'plugins', field: 'service', reference: 'services', onDelete: 'cascade' },
    ]);
    expect(referrersOf('certificates')).toEqual([{ kind: 'services', field: 'client_certificate', reference: 'certificates', onDelete: 'restrict' }]);
    expect(referrersOf('routes')).toEqual([{ kind: 'plugins', field: 'route', reference: 'routes', onDelete: 'cascade' }]);
    expect(referrersOf('consumers').map((r) => `${r.kind}.${r.field}:${r.onDelete}`)).toEqual([
      'plugins.consumer:cascade',
      'keyauth_credentials.consumer:cascade',
      'basicauth_credentials.consumer:cascade',
      'acls.consumer:cascade',
    ]);
    expect(referrersOf('plugins')).toEqual([]);
  });

  it('prepares consumers with Kong’s rules: at least one of username and custom_id', () => {
    expect(sample('consumers')).toEqual({ id: OPTS.newId, created_at: 1000, updated_at: 1000, username: 'alice', custom_id: 'ext-1', tags: ['gold'] });
    const none = ENTITIES.consumers.prepare({ tags: ['x'] }, OPTS);
    expect(none).toEqual({ ok: false, errors: { '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] } });
  });
});
