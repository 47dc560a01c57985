/**
 * The entity registry: every kind Sluice knows, as data. The one place that lists the kinds; code
 * elsewhere iterates `ENTITY_KINDS` or looks a definition up in `ENTITIES`, never branches on a kind
 * (go-control-plane keeps its snapshot as one array indexed by resource type for the same reason).
 *
 * Adding a kind: its type in `EntityTypes` (`types.ts`), its name in `ENTITY_KINDS`, its definition
 * in `ENTITIES`; a kind in one and not the others does not compile. See docs/adding-an-entity-kind.md.
 */
import type { BaseEntity, EntityDefinition, ForeignField } from './entity-definition.js';
import type { EntityInterner } from './entity-interner.js';
import { CONSUMERS } from './kinds/consumers.js';
import { ACLS, BASICAUTH_CREDENTIALS, KEYAUTH_CREDENTIALS } from './kinds/credentials.js';
import { PLUGINS } from './kinds/plugins.js';
import { ROUTES } from './kinds/routes.js';
import { SERVICES } from './kinds/services.js';
import type { EntityTypes } from './types.js';

/**
 * Every entity kind by its Admin API collection name, each after the kinds it references: the
 * order entities are loaded and created in (deletes run in reverse).
 */
export const ENTITY_KINDS = ['services', 'routes', 'consumers', 'plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls'] as const;

/** An entity kind. */
export type EntityKind = (typeof ENTITY_KINDS)[number];

/** The entity type of a kind. */
export type EntityOf<K extends EntityKind> = EntityTypes[K];

/** An entity of any kind. */
export type AnyEntity = EntityTypes[EntityKind];

// `ENTITY_KINDS` and `EntityTypes` name the same kinds, or this line does not compile.
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const KINDS_MATCH_TYPES: SameKeys<EntityKind, keyof EntityTypes> = true;
void KINDS_MATCH_TYPES;

/** Every kind's definition. A kind without one is a compile error. */
export const ENTITIES: { readonly [K in EntityKind]: EntityDefinition<EntityTypes[K]> } = {
  services: SERVICES,
  routes: ROUTES,
  consumers: CONSUMERS,
  plugins: PLUGINS,
  keyauth_credentials: KEYAUTH_CREDENTIALS,
  basicauth_credentials: BASICAUTH_CREDENTIALS,
  acls: ACLS,
};

/** The definition of a kind, typed for it. */
export function entityDefinition<K extends EntityKind>(kind: K): EntityDefinition<EntityTypes[K]> {
  return ENTITIES[kind] as EntityDefinition<EntityTypes[K]>;
}

const KIND_SET: ReadonlySet<string> = new Set(ENTITY_KINDS);

/** True when `name` is a registered kind. */
export function isEntityKind(name: string): name is EntityKind {
  return KIND_SET.has(name);
}

/** The protobuf EntityType value of each kind. */
export const ENTITY_TYPE_BY_KIND: { readonly [K in EntityKind]: number } = Object.freeze(
  Object.fromEntries(ENTITY_KINDS.map((k) => [k, ENTITIES[k].wireType])) as { [K in EntityKind]: number },
);

const KIND_BY_TYPE: ReadonlyMap<number, EntityKind> = new Map(ENTITY_KINDS.map((k) => [ENTITIES[k].wireType, k]));

/** The kind of a protobuf EntityType value, or undefined for a value this build does not know. */
export function kindOfEntityType(type: number): EntityKind | undefined {
  return KIND_BY_TYPE.get(type);
}

/** A wire type as people read it in logs: the kind's singular (`route`), or `type 7` for one this build does not know. */
export function entityTypeName(type: number): string {
  const kind = KIND_BY_TYPE.get(type);
  return kind === undefined ? `type ${type}` : ENTITIES[kind].singular;
}

/** Encodes an entity of the given kind. */
export function encodeEntity<K extends EntityKind>(kind: K, entity: EntityTypes[K]): Uint8Array {
  return entityDefinition(kind).encode(entity);
}

/**
 * Decodes an entity of the given kind; throws ProtocolError `ENTITY_DECODE` when undecodable. With
 * `shared`, the values entities repeat are the interner's (frozen: see EntityInterner).
 */
export function decodeEntity<K extends EntityKind>(kind: K, bytes: Uint8Array, shared?: EntityInterner): EntityTypes[K] {
  return entityDefinition(kind).decode(bytes, shared);
}

/** A foreign field of another kind that references a kind: who must go, or refuse, when it goes. */
export interface Referrer extends ForeignField {
  /** The referencing kind. */
  readonly kind: EntityKind;
}

const REFERRERS: ReadonlyMap<string, readonly Referrer[]> = (() => {
  const out = new Map<string, Referrer[]>();
  for (const kind of ENTITY_KINDS) {
    for (const f of ENTITIES[kind].foreignFields) {
      const list = out.get(f.reference) ?? [];
      list.push({ ...f, kind });
      out.set(f.reference, list);
    }
  }
  return out;
})();

/** The foreign fields (of every kind) that reference `kind`, in registry order. */
export function referrersOf(kind: string): readonly Referrer[] {
  return REFERRERS.get(kind) ?? [];
}

// Each definition is filed under its own kind, and wire types are unique.
for (const kind of ENTITY_KINDS) {
  const def: EntityDefinition<BaseEntity> = ENTITIES[kind] as EntityDefinition<BaseEntity>;
  if (def.kind !== kind) throw new TypeError(`entity registry: ${kind} is defined as ${def.kind}`);
  for (const f of def.foreignFields) {
    if (isEntityKind(f.reference) && ENTITY_KINDS.indexOf(f.reference) >= ENTITY_KINDS.indexOf(kind)) {
      throw new TypeError(`entity registry: ${kind} references ${f.reference}, which must come before it in ENTITY_KINDS`);
    }
  }
}
if (KIND_BY_TYPE.size !== ENTITY_KINDS.length) throw new TypeError('entity registry: two kinds share a wire type');
