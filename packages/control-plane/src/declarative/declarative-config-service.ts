/**
 * The whole configuration as one declarative file (Kong's format, `@sluice/protocol`'s reader and
 * writer): exported from one consistent snapshot, and imported as one write.
 *
 * An import is validated entirely before anything is written: the file is read against the stored
 * configuration (every entity through its kind's `prepare`, references resolved within the file),
 * and any fault refuses the whole file with Kong's code 14 naming each faulty entity. It is then
 * applied as ONE transaction and ONE config version, whose change log holds every create, update
 * and delete (entities the file leaves out are deleted), so data planes get one delta. The
 * transaction takes the config row lock first and reads the stored configuration under it, so no
 * other write commits between the read and the import. A file that changes nothing commits no
 * version.
 *
 * Secrets: the export writes `_transform: false` (Kong's export semantics), a basic-auth
 * `password` as its stored hash, and such a file imports it verbatim (it must be a hash Sluice
 * recognises: Kong's sha1 or scrypt; anything else refuses the file rather than storing clear
 * text). A file without `_transform: false` (Kong's default, `true`) holds clear-text passwords:
 * each is hashed with scrypt on import, before the transaction, with a new salt each time (so such
 * a file is not idempotent: re-importing it is a new version).
 */
import {
  type AnyEntity,
  ConfigHash,
  type DeclarativeBaseline,
  type DeclarativeDocument,
  type DeclarativeEntity,
  ENTITIES,
  ENTITY_KINDS,
  type EntityKind,
  encodeEntity,
  type BasicAuthCredential,
  type DeclarativeError,
  parsePasswordHash,
  readDeclarativeDocument,
  writeDeclarativeDocument,
} from '@sluice/protocol';
import { sql } from 'kysely';
import { NOT_A_PASSWORD_HASH } from '../entities/credentials/kinds.js';
import { hashPassword } from '../entities/credentials/hash-password.js';
import { KongDaoError } from '../errors.js';
import type { ConfigHead, EntitiesByKind, Store } from '../store/index.js';
import { EntityReader } from '../store/index.js';
import { type ImportPlan, applyImportPlan, planImport } from './import-plan.js';

/** The outcome of an import. */
export interface ImportResult {
  readonly plan: ImportPlan;
  /** The version the import committed, or the current one when it changed nothing. */
  readonly version: number;
  readonly epoch: string;
  readonly isChanged: boolean;
  /** The config hash after the import (hex), as data planes compute it. */
  readonly hash: string;
}

/** Sources of time, replaceable in tests. */
export interface DeclarativeClock {
  /** Current time, integer seconds since the epoch. */
  nowSeconds(): number;
}

const SYSTEM_CLOCK: DeclarativeClock = { nowSeconds: () => Math.floor(Date.now() / 1000) };

/** The config hash (hex) of a set of entities, as the mirror and the data planes compute it. */
export function configHashOf(entities: { readonly [K in EntityKind]?: readonly AnyEntity[] }): string {
  const hash = new ConfigHash();
  for (const kind of ENTITY_KINDS) for (const e of entities[kind] ?? []) hash.set(kind, e.id, encodeEntity(kind, e as never));
  return hash.hex();
}

/** Lookups of the stored configuration by id and endpoint key, for the reader. */
function baselineOf(current: EntitiesByKind): DeclarativeBaseline {
  const byId = new Map<string, AnyEntity>();
  const byKey = new Map<string, AnyEntity>();
  for (const kind of ENTITY_KINDS) {
    const key = ENTITIES[kind].endpointKey;
    for (const e of current[kind] as AnyEntity[]) {
      byId.set(`${kind}/${e.id}`, e);
      const value = key === null ? null : (e as unknown as Record<string, unknown>)[key];
      if (typeof value === 'string') byKey.set(`${kind}/${value}`, e);
    }
  }
  return { byId: (kind, id) => byId.get(`${kind}/${id}`), byEndpointKey: (kind, value) => byKey.get(`${kind}/${value}`) };
}

/** Most basic-auth passwords one import hashes (scrypt costs ~50 ms each; default 1,000). */
export const MAX_IMPORT_PASSWORD_HASHES = 1000;

/**
 * `document` with its basic-auth passwords in stored form: as given when it says `_transform:
 * false`, else each clear-text password hashed (Kong's `_transform: true`, its default). The
 * credentials may be top-level or nested under their consumer. Anything that is not the document's
 * shape is left for the reader to refuse.
 */
async function storedSecrets(document: unknown): Promise<unknown> {
  if (!isRecord(document) || document._transform === false) return document;
  const credentials: Record<string, unknown>[] = [];
  const collect = (list: unknown) => {
    if (Array.isArray(list)) for (const c of list) if (isRecord(c) && typeof c.password === 'string') credentials.push(c);
  };
  collect(document.basicauth_credentials);
  if (Array.isArray(document.consumers)) for (const consumer of document.consumers) if (isRecord(consumer)) collect(consumer.basicauth_credentials);
  if (credentials.length === 0) return document;
  if (credentials.length > MAX_IMPORT_PASSWORD_HASHES) {
    throw KongDaoError.declarativeConfig([{ kind: 'basicauth_credentials', where: 'basicauth_credentials', path: ['basicauth_credentials'], message: `more than ${MAX_IMPORT_PASSWORD_HASHES} clear-text passwords to hash in one import; import stored hashes with _transform: false` }]);
  }
  const copy = structuredClone(document);
  const copies: Record<string, unknown>[] = [];
  const collectCopies = (list: unknown) => {
    if (Array.isArray(list)) for (const c of list) if (isRecord(c) && typeof c.password === 'string') copies.push(c);
  };
  collectCopies(copy.basicauth_credentials);
  if (Array.isArray(copy.consumers)) for (const consumer of copy.consumers) if (isRecord(consumer)) collectCopies(consumer.basicauth_credentials);
  for (const c of copies) c.password = await hashPassword(c.password as string);
  return copy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function byKind(entities: readonly DeclarativeEntity[]): { [K in EntityKind]?: AnyEntity[] } {
  const out: { [K in EntityKind]?: AnyEntity[] } = {};
  for (const { kind, entity } of entities) (out[kind] ??= []).push(entity);
  return out;
}

/** See the module comment. */
export class DeclarativeConfigService {
  readonly #store: Store;
  readonly #clock: DeclarativeClock;

  constructor(store: Store, clock: DeclarativeClock = SYSTEM_CLOCK) {
    this.#store = store;
    this.#clock = clock;
  }

  /** The whole configuration as a declarative document, with the head and hash it was read at. */
  async export(): Promise<{ document: DeclarativeDocument; head: ConfigHead; hash: string }> {
    const snapshot = await this.#store.loadSnapshot();
    return { document: writeDeclarativeDocument(snapshot.entities), head: snapshot.head, hash: configHashOf(snapshot.entities) };
  }

  /** Reads `document` against `current`; throws Kong's code 14 listing every fault. */
  #read(document: unknown, current: EntitiesByKind): readonly DeclarativeEntity[] {
    const read = readDeclarativeDocument(document, { nowSeconds: this.#clock.nowSeconds(), baseline: baselineOf(current) });
    if (!read.ok) throw KongDaoError.declarativeConfig(read.errors);
    const faults: DeclarativeError[] = [];
    for (const e of read.entities) {
      if (e.kind !== 'basicauth_credentials' || parsePasswordHash((e.entity as BasicAuthCredential).password) !== null) continue;
      faults.push({ kind: e.kind, where: e.where, path: [], message: `password: ${NOT_A_PASSWORD_HASH}` });
    }
    if (faults.length > 0) throw KongDaoError.declarativeConfig(faults);
    return read.entities;
  }

  /** What importing `document` would change, without writing (a dry run). */
  async plan(document: unknown): Promise<{ plan: ImportPlan; head: ConfigHead }> {
    const snapshot = await this.#store.loadSnapshot();
    const stored = await storedSecrets(document);
    return { plan: planImport(snapshot.entities, this.#read(stored, snapshot.entities)), head: snapshot.head };
  }

  /** Imports `document`; see the module comment. */
  async import(input: unknown): Promise<ImportResult> {
    const document = await storedSecrets(input);
    let plan: ImportPlan | null = null;
    let hash = '';
    const written = await this.#store.write(async (writer) => {
      // Take the config row lock first: no other write commits until this one does, so the
      // configuration read below is the one this import replaces.
      await sql`select version from config_state where id = 1 for update`.execute(writer.trx);
      const current = {} as Record<EntityKind, AnyEntity[]>;
      for (const kind of ENTITY_KINDS) current[kind] = await EntityReader.all(writer.trx, kind);
      const desired = this.#read(document, current as EntitiesByKind);
      plan = planImport(current as EntitiesByKind, desired);
      await applyImportPlan(writer, plan);
      // The hash of what was stored (rows as the database returns them, as the mirror hashes them).
      const after = new Map<string, { kind: EntityKind; entity: AnyEntity }>();
      for (const kind of ENTITY_KINDS) for (const e of current[kind]) after.set(`${kind}/${e.id}`, { kind, entity: e });
      for (const c of writer.changes) {
        if (c.op === 'delete') after.delete(`${c.entityType}/${c.entityId}`);
        else after.set(`${c.entityType}/${c.entityId}`, { kind: c.entityType, entity: c.entity! });
      }
      hash = configHashOf(byKind([...after.values()].map((e) => ({ ...e, where: '' }))));
    });
    return { plan: plan!, version: written.version, epoch: written.epoch, isChanged: written.isChanged, hash };
  }
}

