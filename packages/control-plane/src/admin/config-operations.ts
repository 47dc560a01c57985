/**
 * The Admin API's writes and reads of services and routes, independent of HTTP: Kong's DAO
 * semantics (`kong/db/dao/init.lua`) over the {@link Store}.
 *
 * Input is validated before any transaction, so bad input never writes a row nor uses a version.
 * Writes that depend on the stored entity (PATCH) lock its row inside the transaction and
 * re-validate if it changed since it was read, so concurrent PATCHes never lose an update.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { type PrepareResult, type Route, type Service, isUuid, prepareRoute, prepareService } from '@sluice/protocol';
import { KongDaoError } from '../errors.js';
import type { ConfigWriter, EntityKey, Store } from '../store/index.js';
import { keyForError } from './entity-key.js';

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

/** Sluice has no certificates entity yet, so any client certificate reference is dangling. */
function assertNoCertificate(service: Service): void {
  if (service.client_certificate !== null) {
    throw KongDaoError.foreignKeyInvalidReference('client_certificate', service.client_certificate, 'certificates');
  }
}

/** See the module comment. */
export class ConfigOperations {
  readonly #store: Store;
  readonly #clock: OperationsClock;

  constructor(store: Store, clock: OperationsClock = SYSTEM_CLOCK) {
    this.#store = store;
    this.#clock = clock;
  }

  #prepareService(input: unknown, mode: 'create' | 'replace' | 'update', existing: Service | null): Service {
    const service = unwrap(prepareService(input, { mode, existing, now: this.#clock.nowSeconds(), newId: this.#clock.newId() }));
    assertNoCertificate(service);
    return service;
  }

  #prepareRoute(input: unknown, mode: 'create' | 'replace' | 'update', existing: Route | null): Route {
    return unwrap(prepareRoute(input, { mode, existing, now: this.#clock.nowSeconds(), newId: this.#clock.newId() }));
  }

  /** Input with the URL key injected, as Kong's PUT does (`PUT /routes/x` → `name: "x"`). */
  #withKey(input: Record<string, unknown>, key: EntityKey, existing: { id: string } | null): Record<string, unknown> {
    const data = { ...input };
    if ('id' in key) data.id = key.id;
    else {
      data.name = key.name;
      if (existing) data.id = existing.id;
    }
    return data;
  }

  /** Resolves `service: {name}` to `service: {id}` (Kong's `resolve_foreign`); code 13 when unknown. */
  async #resolveServiceReference(input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = input.service;
    if (!isPlainObject(ref) || ref.id !== undefined || typeof ref.name !== 'string') return input;
    const service = await this.#store.findService({ name: ref.name });
    if (!service) throw KongDaoError.foreignKeysUnresolved('service', 'name', ref.name, 'services');
    return { ...input, service: { id: service.id } };
  }

  /**
   * PUT by name of a new entity with a body `id` that another entity already has: refused as a
   * primary-key violation rather than silently renaming that entity.
   */
  async #assertFreeId(key: EntityKey, existing: unknown, input: Record<string, unknown>, kind: 'services' | 'routes'): Promise<void> {
    if ('id' in key || existing !== null || typeof input.id !== 'string' || !isUuid(input.id)) return;
    const id = input.id.toLowerCase();
    const taken = kind === 'services' ? await this.#store.findService({ id }) : await this.#store.findRoute({ id });
    if (taken) throw KongDaoError.primaryKeyViolation(id);
  }

  async #write<T>(fn: (w: ConfigWriter) => Promise<T>): Promise<Written<T>> {
    const { result, version, epoch } = await this.#store.write(fn);
    return { entity: result, version, epoch };
  }

  // Services

  getService(key: EntityKey): Promise<Service | null> {
    return this.#store.findService(key);
  }

  /** POST /services. */
  createService(input: Record<string, unknown>): Promise<Written<Service>> {
    const service = this.#prepareService(input, 'create', null);
    return this.#write((w) => w.insertService(service));
  }

  /** PUT /services/{key}: an upsert that replaces every field. */
  async replaceService(key: EntityKey, input: Record<string, unknown>): Promise<Written<Service>> {
    const existing = await this.#store.findService(key);
    await this.#assertFreeId(key, existing, input, 'services');
    const service = this.#prepareService(this.#withKey(input, key, existing), 'replace', existing);
    return this.#write((w) => w.upsertService(service));
  }

  /** PATCH /services/{key}: merges into the stored service; code 6 when it does not exist. */
  async updateService(key: EntityKey, input: Record<string, unknown>): Promise<Written<Service>> {
    const existing = await this.#store.findService(key);
    if (!existing) throw KongDaoError.notFound(keyForError(key));
    let service = this.#prepareService(input, 'update', existing);
    return this.#write(async (w) => {
      const locked = await w.lockService({ id: existing.id });
      if (!locked) throw KongDaoError.notFound(keyForError(key));
      if (!isDeepStrictEqual(locked, existing)) service = this.#prepareService(input, 'update', locked);
      const updated = await w.updateService(service);
      if (!updated) throw KongDaoError.notFound(keyForError(key));
      return updated;
    });
  }

  /** DELETE /services/{key}: true when it existed; refused while routes reference it. */
  deleteService(key: EntityKey): Promise<Written<boolean>> {
    return this.#write(async (w) => {
      const found = 'id' in key ? key : await w.lockService(key);
      return found ? w.deleteService(found.id) : false;
    });
  }

  // Routes

  getRoute(key: EntityKey): Promise<Route | null> {
    return this.#store.findRoute(key);
  }

  /** POST /routes (and /services/{s}/routes, with `service` set by the caller). */
  async createRoute(input: Record<string, unknown>): Promise<Written<Route>> {
    const route = this.#prepareRoute(await this.#resolveServiceReference(input), 'create', null);
    return this.#write((w) => w.insertRoute(route));
  }

  /** PUT /routes/{key}: an upsert that replaces every field. */
  async replaceRoute(key: EntityKey, input: Record<string, unknown>): Promise<Written<Route>> {
    const resolved = await this.#resolveServiceReference(input);
    const existing = await this.#store.findRoute(key);
    await this.#assertFreeId(key, existing, resolved, 'routes');
    const route = this.#prepareRoute(this.#withKey(resolved, key, existing), 'replace', existing);
    return this.#write((w) => w.upsertRoute(route));
  }

  /** PATCH /routes/{key}: merges into the stored route; code 6 when it does not exist. */
  async updateRoute(key: EntityKey, input: Record<string, unknown>): Promise<Written<Route>> {
    const resolved = await this.#resolveServiceReference(input);
    const existing = await this.#store.findRoute(key);
    if (!existing) throw KongDaoError.notFound(keyForError(key));
    let route = this.#prepareRoute(resolved, 'update', existing);
    return this.#write(async (w) => {
      const locked = await w.lockRoute({ id: existing.id });
      if (!locked) throw KongDaoError.notFound(keyForError(key));
      if (!isDeepStrictEqual(locked, existing)) route = this.#prepareRoute(resolved, 'update', locked);
      const updated = await w.updateRoute(route);
      if (!updated) throw KongDaoError.notFound(keyForError(key));
      return updated;
    });
  }

  /** DELETE /routes/{key}: true when it existed. */
  deleteRoute(key: EntityKey): Promise<Written<boolean>> {
    return this.#write(async (w) => {
      const found = 'id' in key ? key : await w.lockRoute(key);
      return found ? w.deleteRoute(found.id) : false;
    });
  }

  /**
   * PUT /routes/{r}/service: replaces the route's service, or, when the route has none, creates a
   * service and links the route to it, both in one write (one version).
   */
  async replaceRouteService(route: Route, input: Record<string, unknown>): Promise<Written<Service>> {
    if (route.service) return this.replaceService({ id: route.service.id }, input);
    const service = this.#prepareService(this.#withKey(input, { id: this.#clock.newId() }, null), 'replace', null);
    return this.#write(async (w) => {
      const stored = await w.upsertService(service);
      const locked = await w.lockRoute({ id: route.id });
      if (!locked) throw KongDaoError.notFound({ id: route.id });
      await w.updateRoute({ ...locked, service: { id: stored.id }, updated_at: this.#clock.nowSeconds() });
      return stored;
    });
  }
}
