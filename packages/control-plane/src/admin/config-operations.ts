/**
 * The Admin API's writes and reads of entities, for every kind of the registry, independent of
 * HTTP: Kong's DAO semantics (`kong/db/dao/init.lua`) over the {@link Store}.
 *
 * Input is validated before any transaction, so bad input never writes a row nor uses a version;
 * checks against other entities (a plugin's protocols against its route's) run inside the write
 * transaction, just before the row is written.
 * Writes that depend on the stored entity (PATCH) lock its row inside the transaction and
 * re-validate if it changed since it was read, so concurrent PATCHes never lose an update.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { type AnyEntity, ENTITIES, type EntityKind, type EntityOf, type PrepareResult, type WriteMode, isEntityKind, isUuid } from '@sluice/protocol';
import { CONTROL_PLANE_KINDS } from '../entities/kinds.js';
import { KongDaoError } from '../errors.js';
import type { ConfigWriter, EntityKey, Page, PageQuery, Store } from '../store/index.js';
import { keyForError } from './entity-key.js';

/** Largest `ttl` a write accepts, in seconds (Kong's `DAO_MAX_TTL`, 1e8: about 3 years). */
export const MAX_TTL_SECONDS = 100_000_000;

/** Options of a write. */
export interface WriteInputOptions {
  /**
   * False when the input is already in stored form, as an import of a Kong database or
   * declarative export is (Kong's declarative `_transform: false`): nothing is generated or hashed,
   * a basic-auth `password` must be a hash Sluice recognises (Kong's sha1, or scrypt) and is stored
   * verbatim, and a kind that expires takes its absolute `expires_at` instead of a `ttl`. Default
   * true, which is what the Admin API always uses: every password it receives is clear text.
   */
  transform?: boolean;
}

/** Options of a read. */
export interface GetOptions {
  /** Also return an entity that has expired but is not deleted yet (default false: it is absent). */
  includeExpired?: boolean;
}

/** The outcome of a write: the stored entity and the config version it committed. */
export interface Written<T> {
  entity: T;
  version: number;
  epoch: string;
}

/** Sources of time and identity, replaceable in tests. */
export interface OperationsClock {
  /** Current time, integer seconds since the epoch. */
  nowSeconds(): number;
  newId(): string;
}

const SYSTEM_CLOCK: OperationsClock = {
  nowSeconds: () => Math.floor(Date.now() / 1000),
  newId: () => randomUUID(),
};

function unwrap<T>(result: PrepareResult<T>): T {
  if (!result.ok) throw KongDaoError.schemaViolation(result.errors);
  return result.entity;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `input[key]` when `input` has it as its own property: request input is never read through a prototype. */
function own(input: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(input, key) ? input[key] : undefined;
}

/** See the module comment. */
export class ConfigOperations {
  readonly #store: Store;
  readonly #clock: OperationsClock;

  constructor(store: Store, clock: OperationsClock = SYSTEM_CLOCK) {
    this.#store = store;
    this.#clock = clock;
  }

  #prepare<K extends EntityKind>(kind: K, input: unknown, mode: WriteMode, existing: EntityOf<K> | null, now = this.#clock.nowSeconds()): EntityOf<K> {
    return unwrap(ENTITIES[kind].prepare(input, { mode, existing, now, newId: this.#clock.newId() }) as PrepareResult<EntityOf<K>>);
  }

  /**
   * The input of a kind that expires with Kong's `ttl` (seconds from now; 0 or null: never)
   * turned into its absolute expiry field; code 11 `invalid option (ttl: …)` when it is not an
   * integer in [0, {@link MAX_TTL_SECONDS}]. The expiry field itself is not an Admin API field.
   */
  #takeTtl(kind: EntityKind, input: Record<string, unknown>, transform: boolean, now: number): Record<string, unknown> {
    const field = ENTITIES[kind].expiresAtField;
    if (field === null || !transform) return input;
    if (Object.hasOwn(input, field)) throw KongDaoError.schemaViolation({ [field]: 'unknown field' });
    if (!Object.hasOwn(input, 'ttl')) return input;
    const { ttl, ...rest } = input;
    // A form body sends the number as text.
    const seconds = typeof ttl === 'string' && /^[0-9]{1,9}$/.test(ttl) ? Number(ttl) : ttl;
    if (seconds !== null && (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL_SECONDS)) {
      throw KongDaoError.invalidOptions({ ttl: `must be an integer between 0 and ${MAX_TTL_SECONDS}` });
    }
    return { ...rest, [field]: seconds === null || seconds === 0 ? null : now + seconds };
  }

  /**
   * The input a write stores: `ttl` made absolute, generated fields filled, then (once the input is
   * known to be valid) the kind's transformation (basic-auth's hash). Validation errors come
   * before any hashing is paid for.
   */
  async #storedInput<K extends EntityKind>(
    kind: K,
    input: Record<string, unknown>,
    mode: WriteMode,
    existing: EntityOf<K> | null,
    options: WriteInputOptions,
    now: number,
  ): Promise<Record<string, unknown>> {
    const transform = options.transform ?? true;
    const cp = CONTROL_PLANE_KINDS[kind];
    const context = { mode, existing: existing as Record<string, unknown> | null, transform, now };
    // Fields Kong's entity does not have are not Admin API input, even where Sluice stores them.
    for (const field of cp.hiddenFields ?? []) {
      if (transform && Object.hasOwn(input, field)) throw KongDaoError.schemaViolation({ [field]: 'unknown field' });
    }
    let data = this.#takeTtl(kind, input, transform, now);
    if (cp.fillInput) data = cp.fillInput(data, context);
    if (!cp.transformInput) return data;
    const entity = this.#prepare(kind, data, mode, existing, now);
    return cp.transformInput(data, entity as unknown as Record<string, unknown>, context);
  }

  /** Input with the URL key injected, as Kong's PUT does (`PUT /routes/x` → `name: "x"`). */
  #withKey(input: Record<string, unknown>, key: EntityKey, existing: { id: string } | null): Record<string, unknown> {
    const data = { ...input };
    if ('id' in key) data.id = key.id;
    else {
      data[key.field] = key.value;
      if (existing) data.id = existing.id;
    }
    return data;
  }

  /**
   * Resolves foreign keys given by the referenced kind's endpoint key (`service: {name}` →
   * `service: {id}`, Kong's `resolve_foreign`); code 13 when nothing has that key.
   */
  async #resolveReferences(kind: EntityKind, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    let out = input;
    for (const f of ENTITIES[kind].foreignFields) {
      const ref = own(input, f.field);
      if (!isEntityKind(f.reference) || !isPlainObject(ref) || own(ref, 'id') !== undefined) continue;
      const keyField = ENTITIES[f.reference].endpointKey;
      const value = keyField === null ? undefined : own(ref, keyField);
      if (keyField === null || typeof value !== 'string') continue;
      const found = await this.#store.find(f.reference, { field: keyField, value });
      if (!found) throw KongDaoError.foreignKeysUnresolved(f.field, keyField, value, f.reference);
      out = { ...out, [f.field]: { id: found.id } };
    }
    return out;
  }

  /**
   * PUT by endpoint key of a new entity with a body `id` that another entity already has: refused
   * as a primary-key violation rather than silently renaming that entity.
   */
  async #assertFreeId(kind: EntityKind, key: EntityKey, existing: unknown, input: Record<string, unknown>): Promise<void> {
    const given = own(input, 'id');
    if ('id' in key || existing !== null || typeof given !== 'string' || !isUuid(given)) return;
    const id = given.toLowerCase();
    if (await this.#store.find(kind, { id })) throw KongDaoError.primaryKeyViolation(id);
  }

  /** The kind's checks against other entities, inside the write (see `ControlPlaneKind.checkWrite`). */
  async #check(w: ConfigWriter, kind: EntityKind, entity: AnyEntity, mode: WriteMode, input: Record<string, unknown>): Promise<void> {
    await CONTROL_PLANE_KINDS[kind].checkWrite?.(entity, w, { mode, input });
  }

  async #write<T>(fn: (w: ConfigWriter) => Promise<T>): Promise<Written<T>> {
    const { result, version, epoch } = await this.#store.write(fn);
    return { entity: result, version, epoch };
  }

  /** Current time of this API's clock, integer seconds since the epoch (what `ttl` counts from). */
  nowSeconds(): number {
    return this.#clock.nowSeconds();
  }

  /** An entity by id or endpoint key, or `null` (also when it has expired, unless `includeExpired`). */
  get<K extends EntityKind>(kind: K, key: EntityKey, options: GetOptions = {}): Promise<EntityOf<K> | null> {
    return this.#store.find(kind, key, options.includeExpired ? {} : { aliveAt: this.#clock.nowSeconds() });
  }

  /**
   * Checks `input` as a create would, without writing (`POST /schemas/{entity}/validate`): throws
   * Kong's schema violation. Foreign keys are checked for shape, not for existence.
   */
  validate(kind: EntityKind, input: Record<string, unknown>): void {
    this.#prepare(kind, input, 'create', null);
  }

  /** A page of entities in id order, expired ones left out. */
  page<K extends EntityKind>(kind: K, query: PageQuery): Promise<Page<EntityOf<K>>> {
    return this.#store.page(kind, { ...query, aliveAt: this.#clock.nowSeconds() });
  }

  /** POST /{kind} (and nested collections, with the parent's foreign key set by the caller). */
  async create<K extends EntityKind>(kind: K, input: Record<string, unknown>, options: WriteInputOptions = {}): Promise<Written<EntityOf<K>>> {
    const now = this.#clock.nowSeconds();
    const data = await this.#storedInput(kind, await this.#resolveReferences(kind, input), 'create', null, options, now);
    const entity = this.#prepare(kind, data, 'create', null, now);
    return this.#write(async (w) => {
      await this.#check(w, kind, entity, 'create', input);
      return w.insert(kind, entity);
    });
  }

  /**
   * PUT /{kind}/{key}: an upsert that replaces every field (an expired entity not deleted yet is
   * replaced too, keeping its id).
   */
  async replace<K extends EntityKind>(kind: K, key: EntityKey, input: Record<string, unknown>, options: WriteInputOptions = {}): Promise<Written<EntityOf<K>>> {
    const now = this.#clock.nowSeconds();
    const resolved = await this.#resolveReferences(kind, input);
    const existing = await this.#store.find(kind, key);
    await this.#assertFreeId(kind, key, existing, resolved);
    const data = await this.#storedInput(kind, this.#withKey(resolved, key, existing), 'replace', existing, options, now);
    const entity = this.#prepare(kind, data, 'replace', existing, now);
    return this.#write(async (w) => {
      await this.#check(w, kind, entity, 'replace', input);
      return w.upsert(kind, entity);
    });
  }

  /** PATCH /{kind}/{key}: merges into the stored entity; code 6 when it does not exist (or has expired). */
  async update<K extends EntityKind>(kind: K, key: EntityKey, input: Record<string, unknown>, options: WriteInputOptions = {}): Promise<Written<EntityOf<K>>> {
    const now = this.#clock.nowSeconds();
    const resolved = await this.#resolveReferences(kind, input);
    const existing = await this.#store.find(kind, key, { aliveAt: now });
    if (!existing) throw KongDaoError.notFound(keyForError(key));
    const data = await this.#storedInput(kind, resolved, 'update', existing, options, now);
    let entity = this.#prepare(kind, data, 'update', existing, now);
    return this.#write(async (w) => {
      const locked = await w.lock(kind, { id: existing.id }, { aliveAt: now });
      if (!locked) throw KongDaoError.notFound(keyForError(key));
      if (!isDeepStrictEqual(locked, existing)) entity = this.#prepare(kind, data, 'update', locked, now);
      await this.#check(w, kind, entity, 'update', input);
      const updated = await w.update(kind, entity);
      if (!updated) throw KongDaoError.notFound(keyForError(key));
      return updated;
    });
  }

  /** DELETE /{kind}/{key}: true when it existed; cascades and restricts as the schema says. */
  delete(kind: EntityKind, key: EntityKey): Promise<Written<boolean>> {
    return this.#write(async (w) => {
      const found = 'id' in key ? key : await w.lock(kind, key);
      return found ? w.delete(kind, found.id) : false;
    });
  }

  /**
   * PUT /{kind}/{key}/{field} (Kong's `/routes/{r}/service`): replaces the referenced entity, or,
   * when the entity references none, creates one and links the entity to it, both in one write
   * (one version).
   */
  async replaceReferenced<K extends EntityKind, R extends EntityKind>(
    kind: K,
    entity: EntityOf<K>,
    field: string,
    reference: R,
    input: Record<string, unknown>,
  ): Promise<Written<EntityOf<R>>> {
    const current = (entity as unknown as Record<string, { id: string } | null>)[field];
    if (current) return this.replace(reference, { id: current.id }, input);
    const created = this.#prepare(reference, this.#withKey(input, { id: this.#clock.newId() }, null), 'replace', null);
    return this.#write(async (w) => {
      const stored = await w.upsert(reference, created);
      const locked = await w.lock(kind, { id: entity.id });
      if (!locked) throw KongDaoError.notFound({ id: entity.id });
      await w.update(kind, { ...locked, [field]: { id: stored.id }, updated_at: this.#clock.nowSeconds() });
      return stored;
    });
  }
}
