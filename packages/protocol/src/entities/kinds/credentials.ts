/**
 * The credential kinds the authentication plugins add (Kong's plugin DAOs): key-auth keys,
 * basic-auth users and ACL group memberships. Each belongs to a consumer and is deleted with it.
 */
import { pb } from '../../proto.js';
import { defineEntity } from '../entity-definition.js';
import type { EntitySchema, FieldSpec } from '../field-spec.js';
import { TAGS_FIELD } from '../service-schema.js';
import type { EntityInterner } from '../entity-interner.js';
import type { Acl, BasicAuthCredential, KeyAuthCredential } from '../types.js';
import { decodeOrThrow, entityReader, foreign, list, opt, unlist } from './wire.js';

const CONSUMER_FIELD: FieldSpec = { type: 'foreign', reference: 'consumers', required: true, onDelete: 'cascade' };

/** `keyauth_credentials` (`kong/plugins/key-auth/daos.lua`) in Kong's field order. */
export const KEYAUTH_CREDENTIAL_SCHEMA: EntitySchema = {
  name: 'keyauth_credentials',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    consumer: CONSUMER_FIELD,
    key: { type: 'string', required: true },
    expires_at: { type: 'integer' },
    tags: TAGS_FIELD,
  },
  shorthands: {},
};

/** `basicauth_credentials` (`kong/plugins/basic-auth/daos.lua`) in Kong's field order. */
export const BASICAUTH_CREDENTIAL_SCHEMA: EntitySchema = {
  name: 'basicauth_credentials',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    consumer: CONSUMER_FIELD,
    username: { type: 'string', required: true },
    password: { type: 'string', required: true },
    tags: TAGS_FIELD,
  },
  shorthands: {},
};

/** `acls` (`kong/plugins/acl/daos.lua`) in Kong's field order. */
export const ACL_SCHEMA: EntitySchema = {
  name: 'acls',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    consumer: CONSUMER_FIELD,
    group: { type: 'string', required: true },
    tags: TAGS_FIELD,
  },
  shorthands: {},
};

export function encodeKeyAuthCredential(c: KeyAuthCredential): Uint8Array {
  return pb.KeyAuthCredential.encode({
    id: c.id,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    consumer: c.consumer,
    key: c.key,
    expiresAt: c.expires_at,
    tags: list(c.tags),
  }).finish();
}

/** Decodes protobuf bytes into the entity; with `shared`, its consumer reference and tags are the interner's. */
export function decodeKeyAuthCredential(bytes: Uint8Array, shared?: EntityInterner): KeyAuthCredential {
  const m = decodeOrThrow('keyauth_credential', () => pb.KeyAuthCredential.decode(entityReader(bytes)));
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    consumer: foreign(m.consumer, shared) ?? { id: '' },
    key: m.key,
    expires_at: opt(m.expiresAt),
    tags: unlist(m.tags, shared),
  };
}

export function encodeBasicAuthCredential(c: BasicAuthCredential): Uint8Array {
  return pb.BasicAuthCredential.encode({
    id: c.id,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    consumer: c.consumer,
    username: c.username,
    password: c.password,
    tags: list(c.tags),
  }).finish();
}

/** Decodes protobuf bytes into the entity; with `shared`, its consumer reference and tags are the interner's. */
export function decodeBasicAuthCredential(bytes: Uint8Array, shared?: EntityInterner): BasicAuthCredential {
  const m = decodeOrThrow('basicauth_credential', () => pb.BasicAuthCredential.decode(entityReader(bytes)));
  return {
    id: m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    consumer: foreign(m.consumer, shared) ?? { id: '' },
    username: m.username,
    password: m.password,
    tags: unlist(m.tags, shared),
  };
}

export function encodeAcl(a: Acl): Uint8Array {
  return pb.Acl.encode({ id: a.id, createdAt: a.created_at, updatedAt: a.updated_at, consumer: a.consumer, group: a.group, tags: list(a.tags) }).finish();
}

/** Decodes protobuf bytes into the entity; with `shared`, its consumer reference and tags are the interner's. */
export function decodeAcl(bytes: Uint8Array, shared?: EntityInterner): Acl {
  const m = decodeOrThrow('acl', () => pb.Acl.decode(entityReader(bytes)));
  return { id: m.id, created_at: m.createdAt, updated_at: m.updatedAt, consumer: foreign(m.consumer, shared) ?? { id: '' }, group: m.group, tags: unlist(m.tags, shared) };
}

/**
 * key-auth keys: `/key-auths` and `/consumers/{c}/key-auth`, looked up by id or key; the key is
 * unique, generated when omitted (by the control plane), and may expire (Kong's `ttl = true`).
 */
export const KEYAUTH_CREDENTIALS = defineEntity<KeyAuthCredential>({
  kind: 'keyauth_credentials',
  adminName: 'key-auths',
  nestedAdminName: 'key-auth',
  singular: 'keyauth_credential',
  wireType: pb.EntityType.ENTITY_TYPE_KEYAUTH_CREDENTIAL,
  schema: KEYAUTH_CREDENTIAL_SCHEMA,
  endpointKey: 'key',
  expiresAtField: 'expires_at',
  parents: ['consumer'],
  encode: encodeKeyAuthCredential,
  decode: decodeKeyAuthCredential,
});

/**
 * basic-auth users: `/basic-auths` and `/consumers/{c}/basic-auth`, looked up by id or username;
 * the username is unique. The password is stored hashed (`plugins/basic-auth/password-hash.ts`).
 */
export const BASICAUTH_CREDENTIALS = defineEntity<BasicAuthCredential>({
  kind: 'basicauth_credentials',
  adminName: 'basic-auths',
  nestedAdminName: 'basic-auth',
  singular: 'basicauth_credential',
  wireType: pb.EntityType.ENTITY_TYPE_BASICAUTH_CREDENTIAL,
  schema: BASICAUTH_CREDENTIAL_SCHEMA,
  endpointKey: 'username',
  parents: ['consumer'],
  encode: encodeBasicAuthCredential,
  decode: decodeBasicAuthCredential,
});

/**
 * ACL group memberships: `/acls` by id, `/consumers/{c}/acls/{id or group}`; (consumer, group) is
 * unique (the table's constraint `acls_cache_key`).
 */
export const ACLS = defineEntity<Acl>({
  kind: 'acls',
  singular: 'acl',
  wireType: pb.EntityType.ENTITY_TYPE_ACL,
  schema: ACL_SCHEMA,
  endpointKey: null,
  uniqueKeys: [['consumer', 'group']],
  nestedEndpointKey: 'group',
  parents: ['consumer'],
  encode: encodeAcl,
  decode: decodeAcl,
});
