/**
 * The `consumers` kind: a client of the gateway, identified by `username` and/or `custom_id`
 * (`kong/db/schema/entities/consumers.lua`). Looked up by id or username; at least one of the two
 * is required; both are unique.
 */
import { pb } from '../../proto.js';
import { defineEntity } from '../entity-definition.js';
import type { EntitySchema } from '../field-spec.js';
import { TAGS_FIELD } from '../service-schema.js';
import type { EntityInterner } from '../entity-interner.js';
import type { Consumer } from '../types.js';
import { decodeOrThrow, entityReader, list, opt, unlist } from './wire.js';

/** The consumer schema in Kong's field order. */
export const CONSUMER_SCHEMA: EntitySchema = {
  name: 'consumers',
  fields: {
    id: { type: 'string', uuid: true },
    created_at: { type: 'integer' },
    updated_at: { type: 'integer' },
    username: { type: 'string' },
    custom_id: { type: 'string' },
    tags: TAGS_FIELD,
  },
  shorthands: {},
  entityChecks: [{ at_least_one_of: ['custom_id', 'username'] }],
};

/** Encodes a Consumer into its protobuf bytes (deterministic). */
export function encodeConsumer(c: Consumer): Uint8Array {
  return pb.Consumer.encode({
    id: c.id,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    username: c.username,
    customId: c.custom_id,
    tags: list(c.tags),
  }).finish();
}

/**
 * Decodes protobuf bytes into a Consumer in Kong's JSON shape; with `shared`, its id (the string
 * credentials reference it by) and tags are the interner's. Throws ProtocolError on undecodable bytes.
 */
export function decodeConsumer(bytes: Uint8Array, shared?: EntityInterner): Consumer {
  const m = decodeOrThrow('consumer', () => pb.Consumer.decode(entityReader(bytes)));
  return {
    id: shared ? shared.string(m.id) : m.id,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    username: opt(m.username),
    custom_id: opt(m.customId),
    tags: unlist(m.tags, shared),
  };
}

/** The `consumers` definition. */
export const CONSUMERS = defineEntity<Consumer>({
  kind: 'consumers',
  singular: 'consumer',
  wireType: pb.EntityType.ENTITY_TYPE_CONSUMER,
  schema: CONSUMER_SCHEMA,
  endpointKey: 'username',
  uniqueFields: ['username', 'custom_id'],
  encode: encodeConsumer,
  decode: decodeConsumer,
});
