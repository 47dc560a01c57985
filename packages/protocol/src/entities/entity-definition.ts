/**
 * What Sluice knows about one entity kind, as data: its wire type and codec, its schema (foreign
 * fields included), how the Admin API addresses it, and which fields are unique. Everything that
 * used to be written once per kind (codecs, validation, references, tables, endpoints, apply) is
 * driven from these definitions; the registry (`registry.ts`) holds one per kind.
 */
import type { EntityInterner } from './entity-interner.js';
import { type FieldErrors, addEntityError } from './field-errors.js';
import { type EntitySchema, type ForeignFieldSpec, type OnDelete, isNonEmpty } from './field-spec.js';
import { type EntityHooks, type PrepareOptions, type PrepareResult, prepareEntity } from './prepare-entity.js';

/** Every entity has these; the rest is the kind's own. */
export interface BaseEntity {
  id: string;
  created_at: number;
  updated_at: number;
}

/** One foreign field of a kind, as the reference index and the Admin API see it. */
export interface ForeignField {
  /** The field name (`service`). */
  readonly field: string;
  /** The referenced kind's collection name (`services`). */
  readonly reference: string;
  readonly onDelete: OnDelete;
}

/** The definition of one entity kind; see the module comment. */
export interface EntityDefinition<T extends BaseEntity = BaseEntity> {
  /** The kind's name: its table, its name on the stream and in the change log (`keyauth_credentials`). */
  readonly kind: string;
  /**
   * The Admin API collection name (Kong's `admin_api_name`: `/key-auths`); the kind when Kong
   * gives none (`/services`).
   */
  readonly adminName: string;
  /**
   * The collection name under a parent (Kong's `admin_api_nested_name`:
   * `/consumers/{c}/key-auth`); `adminName` when Kong gives none (`/services/{s}/routes`).
   */
  readonly nestedAdminName: string;
  /** The singular name: the URL parameter and the foreign field other kinds use (`service`). */
  readonly singular: string;
  /** The protobuf `EntityType` value its resources carry. */
  readonly wireType: number;
  readonly schema: EntitySchema;
  /** Kind-specific steps of the write pipeline (shorthands, prechecks, entity checks). */
  readonly hooks: EntityHooks;
  /**
   * The unique field a URL segment that is not a UUID is looked up by (Kong's `endpoint_key`:
   * `name`, `username`), or null when the kind is addressed by id only.
   */
  readonly endpointKey: string | null;
  /** Fields whose values are unique across the kind (a duplicate is Kong's 409). */
  readonly uniqueFields: readonly string[];
  /**
   * Composite keys unique across the kind, each a list of fields (Kong's `cache_key` when it has
   * more than one field: `acls` has `[['consumer', 'group']]`). A duplicate is Kong's 409
   * `UNIQUE violation detected on '{consumer={id="…"},group="x"}'`. A foreign field compares by id.
   */
  readonly uniqueKeys: readonly (readonly string[])[];
  /**
   * Under a parent (`/consumers/{c}/acls/{x}`), a segment that is not a UUID names the entity by
   * this field together with the parent (Kong's `acl/api.lua`: a group), or null to use
   * `endpointKey` as everywhere else. The field and the parent's foreign field are a `uniqueKeys` entry.
   */
  readonly nestedEndpointKey: string | null;
  /**
   * The integer field holding when the entity expires, seconds since the epoch (null = never), or
   * null when the kind has no expiry. Kong's `ttl = true`: the Admin API takes and shows a relative
   * `ttl` instead; an entity is gone once `now >= expires_at` (404, left out of lists, ignored by
   * data planes) and the control plane deletes it eventually.
   */
  readonly expiresAtField: string | null;
  /**
   * Foreign fields that give nested Admin API collections: `routes` has `['service']`, so
   * `/services/{s}/routes` lists and creates routes of one service.
   */
  readonly parents: readonly string[];
  /** The foreign fields, derived from the schema. */
  readonly foreignFields: readonly ForeignField[];
  /** Encodes an entity into its protobuf bytes; deterministic, so replicas agree on hashes. */
  encode(entity: T): Uint8Array;
  /**
   * Decodes protobuf bytes into the entity in Kong's JSON shape; throws ProtocolError when
   * undecodable. With `shared`, the values entities repeat are the interner's (frozen: see
   * EntityInterner); without, every value is the entity's own.
   */
  decode(bytes: Uint8Array, shared?: EntityInterner): T;
  /**
   * Validates Admin API (or wire, or declarative) input and returns the complete entity with every
   * default applied, or Kong's field errors. Foreign ids come back lower-cased.
   */
  prepare(input: unknown, options: PrepareOptions<T>): PrepareResult<T>;
  /**
   * The entity as the Admin API shows it: the stored entity plus what Kong echoes on reads (the
   * deprecated shorthands of a plugin's config). Identity for most kinds.
   */
  present(entity: T): T;
}

/** The parts of a definition a kind writes; the rest is derived by {@link defineEntity}. */
export interface EntityDefinitionInput<T extends BaseEntity> {
  readonly kind: string;
  /** Default: the kind. */
  readonly adminName?: string;
  /** Default: `adminName`. */
  readonly nestedAdminName?: string;
  readonly singular: string;
  readonly wireType: number;
  readonly schema: EntitySchema;
  readonly hooks?: EntityHooks;
  readonly endpointKey: string | null;
  readonly uniqueFields?: readonly string[];
  /** Default none. */
  readonly uniqueKeys?: readonly (readonly string[])[];
  /** Default null. */
  readonly nestedEndpointKey?: string | null;
  /** Default null (the kind never expires). */
  readonly expiresAtField?: string | null;
  readonly parents?: readonly string[];
  /** Default: the entity as stored. */
  present?(entity: T): T;
  encode(entity: T): Uint8Array;
  decode(bytes: Uint8Array, shared?: EntityInterner): T;
}

/** The foreign fields of a schema in schema order. */
export function foreignFieldsOf(schema: EntitySchema): ForeignField[] {
  const out: ForeignField[] = [];
  for (const [field, spec] of Object.entries(schema.fields)) {
    if (spec.type !== 'foreign') continue;
    out.push({ field, reference: (spec as ForeignFieldSpec).reference, onDelete: (spec as ForeignFieldSpec).onDelete ?? 'restrict' });
  }
  return out;
}

/** Builds a definition: derives the foreign fields and the `prepare` pipeline from the schema. */
export function defineEntity<T extends BaseEntity>(input: EntityDefinitionInput<T>): EntityDefinition<T> {
  const foreignFields = foreignFieldsOf(input.schema);
  for (const parent of input.parents ?? []) {
    if (!foreignFields.some((f) => f.field === parent)) throw new TypeError(`${input.kind}: parent ${parent} is not a foreign field`);
  }
  for (const key of input.uniqueKeys ?? []) {
    for (const field of key) if (!Object.hasOwn(input.schema.fields, field)) throw new TypeError(`${input.kind}: unique key field ${field} is not in the schema`);
  }
  const nestedEndpointKey = input.nestedEndpointKey ?? null;
  if (nestedEndpointKey !== null && !(input.uniqueKeys ?? []).some((key) => key.includes(nestedEndpointKey) && key.length === 2 && key.some((f) => (input.parents ?? []).includes(f)))) {
    throw new TypeError(`${input.kind}: nested endpoint key ${nestedEndpointKey} is not unique with a parent`);
  }
  const expiresAtField = input.expiresAtField ?? null;
  if (expiresAtField !== null && input.schema.fields[expiresAtField]?.type !== 'integer') throw new TypeError(`${input.kind}: ${expiresAtField} is not an integer field`);
  const hooks = input.hooks ?? {};
  const adminName = input.adminName ?? input.kind;
  return Object.freeze({
    kind: input.kind,
    adminName,
    nestedAdminName: input.nestedAdminName ?? adminName,
    singular: input.singular,
    wireType: input.wireType,
    schema: input.schema,
    hooks,
    endpointKey: input.endpointKey,
    uniqueFields: input.uniqueFields ?? (input.endpointKey === null ? [] : [input.endpointKey]),
    uniqueKeys: input.uniqueKeys ?? [],
    nestedEndpointKey,
    expiresAtField,
    present: input.present ?? ((entity: T) => entity),
    parents: input.parents ?? [],
    foreignFields,
    encode: input.encode,
    decode: input.decode,
    prepare(data: unknown, options: PrepareOptions<T>): PrepareResult<T> {
      const result = prepareEntity<T>(input.schema, hooks, data, options);
      if (result.ok) lowerCaseForeignIds(result.entity as unknown as Record<string, unknown>, foreignFields);
      return result;
    },
  });
}

function lowerCaseForeignIds(entity: Record<string, unknown>, fields: readonly ForeignField[]): void {
  for (const { field } of fields) {
    const ref = entity[field] as { id: string } | null;
    if (ref !== null && typeof ref === 'object') entity[field] = { id: ref.id.toLowerCase() };
  }
}

/** The entity-level check Kong writes `at_least_one_of = {…}`, with Kong's message. */
export function atLeastOneOf(fields: readonly string[]): (data: Record<string, unknown>, errors: FieldErrors) => void {
  const sorted = [...fields].sort();
  const message = `at least one of these fields must be non-empty: ${sorted.map((f) => `'${f}'`).join(', ')}`;
  return (data, errors) => {
    if (sorted.some((f) => errors[f] !== undefined)) return;
    if (!sorted.some((f) => isNonEmpty(data[f]))) addEntityError(errors, message);
  };
}
