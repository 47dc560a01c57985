import { isUuid, type Acl, type BasicAuthCredential, type Consumer, type KeyAuthCredential } from '@sluice/protocol';
import { ResourceErrorCode } from '../errors.js';
import type { BasicAuthRecord, ConsumerDirectoryView, PluginCredential } from '../plugins/plugin-context.js';
import type { Steps } from '../steps.js';
import { ImmutableMap } from './immutable-map.js';
import { EntityRefusal } from './entity-refusal.js';
import type { EntityChanges, Projection, ProjectionContext } from './projections.js';
import type { EntityMaps } from './runtime-config.js';

/** A key-auth credential as the directory holds it. */
interface KeyRecord {
  readonly credential: PluginCredential;
  /** When it stops authenticating, ms since the Unix epoch; null = never. */
  readonly expiresAtMs: number | null;
}

const NO_GROUPS: readonly string[] = Object.freeze([]);

/** The parts of a directory (its persistent maps). */
interface DirectoryParts {
  readonly consumers: ImmutableMap<Consumer>;
  readonly keyCredentials: ImmutableMap<KeyAuthCredential>;
  readonly basicCredentials: ImmutableMap<BasicAuthCredential>;
  readonly acls: ImmutableMap<Acl>;
  readonly byUsername: ImmutableMap<Consumer>;
  readonly byKey: ImmutableMap<KeyRecord>;
  readonly byBasicUsername: ImmutableMap<BasicAuthRecord>;
  /** Each consumer's ACL rows, oldest first (consumers without any are absent). */
  readonly aclsByConsumer: ImmutableMap<readonly Acl[]>;
  /** Each consumer's groups, from `aclsByConsumer`. */
  readonly groups: ImmutableMap<readonly string[]>;
  readonly now: () => number;
}

function keyRecord(c: KeyAuthCredential): KeyRecord {
  return Object.freeze({
    credential: Object.freeze({ id: c.id, consumerId: c.consumer.id, identifier: c.id }),
    expiresAtMs: c.expires_at === null || c.expires_at === undefined ? null : c.expires_at * 1000,
  });
}

function basicRecord(c: BasicAuthCredential): BasicAuthRecord {
  return Object.freeze({ credential: Object.freeze({ id: c.id, consumerId: c.consumer.id, identifier: c.username }), passwordHash: c.password });
}

function byCreation(a: Acl, b: Acl): number {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function refuseDuplicate(kind: 'keyauth_credentials' | 'basicauth_credentials' | 'consumers', id: string, what: string): never {
  throw new EntityRefusal({ kind, id, code: ResourceErrorCode.UNIQUE_VIOLATION, message: `${what} is used by two entities` });
}

/**
 * One of the directory's unique indexes (key → record of one entity): where the key is, what is
 * stored under it, and how a key held by two entities is named in the refusal.
 */
interface UniqueIndex<E extends { readonly id: string }, R> {
  readonly kind: 'keyauth_credentials' | 'basicauth_credentials' | 'consumers';
  /** The entity's key, or null when it has none (a consumer without a username). */
  keyOf(entity: E): string | null;
  recordOf(entity: E): R;
  /** The id of the entity a record is of. */
  idOf(record: R): string;
  /** The key as the refusal names it. */
  describe(entity: E): string;
}

const USERNAME_INDEX: UniqueIndex<Consumer, Consumer> = {
  kind: 'consumers',
  keyOf: (c) => c.username ?? null,
  recordOf: (c) => c,
  idOf: (c) => c.id,
  describe: (c) => `username '${c.username}'`,
};

const KEY_INDEX: UniqueIndex<KeyAuthCredential, KeyRecord> = {
  kind: 'keyauth_credentials',
  keyOf: (c) => c.key,
  recordOf: keyRecord,
  idOf: (r) => r.credential.id,
  describe: () => 'a key-auth key',
};

const BASIC_USERNAME_INDEX: UniqueIndex<BasicAuthCredential, BasicAuthRecord> = {
  kind: 'basicauth_credentials',
  keyOf: (c) => c.username,
  recordOf: basicRecord,
  idOf: (r) => r.credential.id,
  describe: (c) => `basic-auth username '${c.username}'`,
};

/** The index over every entity of a kind; a key two entities share refuses the config. O(entities). */
function buildIndex<E extends { readonly id: string }, R>(spec: UniqueIndex<E, R>, entities: Iterable<E>): Map<string, R> {
  const index = new Map<string, R>();
  for (const entity of entities) {
    const key = spec.keyOf(entity);
    if (key === null) continue;
    if (index.has(key)) refuseDuplicate(spec.kind, entity.id, spec.describe(entity));
    index.set(key, spec.recordOf(entity));
  }
  return index;
}

/**
 * The index after a change of its kind: the old version of every removed or changed entity (from
 * `previous`, the kind's map before the delta) leaves it, then each upsert enters it. O(change).
 */
function moveIndex<E extends { readonly id: string }, R>(
  spec: UniqueIndex<E, R>,
  index: ImmutableMap<R>,
  previous: ImmutableMap<E>,
  change: { readonly upserts: readonly E[]; readonly removedIds: readonly string[] },
): ImmutableMap<R> {
  let out = index;
  for (const id of [...change.removedIds, ...change.upserts.map((e) => e.id)]) {
    const old = previous.get(id);
    const key = old === undefined ? null : spec.keyOf(old);
    if (key !== null) {
      const holder = out.get(key);
      if (holder !== undefined && spec.idOf(holder) === id) out = out.delete(key);
    }
  }
  for (const entity of change.upserts) {
    const key = spec.keyOf(entity);
    if (key === null) continue;
    const holder = out.get(key);
    if (holder !== undefined && spec.idOf(holder) !== entity.id) refuseDuplicate(spec.kind, entity.id, spec.describe(entity));
    out = out.set(key, spec.recordOf(entity));
  }
  return out;
}

/**
 * The consumers and their credentials as the auth and ACL plugins look them up (the
 * {@link ConsumerDirectoryView} a PluginContext carries): key → key-auth credential,
 * basic-auth username → credential, consumer id → ACL groups, consumers by id and by username.
 * Built per config version as persistent maps and changed by a delta in O(changed entities)
 * (a consumer's groups are recomputed from its own ACL rows only). Expiry is checked at lookup,
 * with the runtime's clock, so a key stops working at `expires_at` whatever the config version.
 * A key, a basic-auth username or a consumer username used twice refuses the config.
 */
export class ConsumerDirectory implements ConsumerDirectoryView {
  private constructor(private readonly parts: DirectoryParts) {
    Object.freeze(this);
  }

  keyAuthCredential(key: string): PluginCredential | undefined {
    const record = this.parts.byKey.get(key);
    if (record === undefined) return undefined;
    if (record.expiresAtMs !== null && record.expiresAtMs <= this.parts.now()) return undefined;
    return record.credential;
  }

  basicAuthCredential(username: string): BasicAuthRecord | undefined {
    return this.parts.byBasicUsername.get(username);
  }

  consumer(id: string): Consumer | undefined {
    return this.parts.consumers.get(id);
  }

  anonymousConsumer(idOrUsername: string): Consumer | undefined {
    if (isUuid(idOrUsername)) {
      const byId = this.parts.consumers.get(idOrUsername.toLowerCase());
      if (byId !== undefined) return byId;
    }
    return this.parts.byUsername.get(idOrUsername);
  }

  groupsOf(consumerId: string): readonly string[] {
    return this.parts.groups.get(consumerId) ?? NO_GROUPS;
  }

  /** The directory of a whole config. O(consumers + credentials + acls), in steps. */
  static *build(entities: EntityMaps, now: () => number): Steps<ConsumerDirectory> {
    const byUsername = buildIndex(USERNAME_INDEX, entities.consumers.values());
    const byKey = buildIndex(KEY_INDEX, entities.keyauth_credentials.values());
    const byBasic = buildIndex(BASIC_USERNAME_INDEX, entities.basicauth_credentials.values());
    const aclRows = new Map<string, Acl[]>();
    for (const a of entities.acls.values()) {
      const rows = aclRows.get(a.consumer.id);
      if (rows === undefined) aclRows.set(a.consumer.id, [a]);
      else rows.push(a);
    }
    const aclsByConsumer = new Map<string, readonly Acl[]>();
    const groups = new Map<string, readonly string[]>();
    for (const [consumerId, rows] of aclRows) {
      rows.sort(byCreation);
      aclsByConsumer.set(consumerId, Object.freeze(rows));
      groups.set(consumerId, Object.freeze(rows.map((r) => r.group)));
    }
    yield;
    return new ConsumerDirectory({
      consumers: entities.consumers,
      keyCredentials: entities.keyauth_credentials,
      basicCredentials: entities.basicauth_credentials,
      acls: entities.acls,
      byUsername: yield* ImmutableMap.fromSteps(byUsername),
      byKey: yield* ImmutableMap.fromSteps(byKey),
      byBasicUsername: yield* ImmutableMap.fromSteps(byBasic),
      aclsByConsumer: yield* ImmutableMap.fromSteps(aclsByConsumer),
      groups: yield* ImmutableMap.fromSteps(groups),
      now,
    });
  }

  /**
   * This directory after a delta: for each changed consumer, credential or ACL row, its old version
   * (from this directory's maps) leaves the indexes and its new one enters. O(changes), plus the
   * ACL rows of each consumer whose groups changed.
   */
  *change(changes: EntityChanges, entities: EntityMaps): Steps<ConsumerDirectory> {
    const p = this.parts;
    let byUsername = p.byUsername;
    if (changes.consumers !== undefined) {
      byUsername = moveIndex(USERNAME_INDEX, byUsername, p.consumers, changes.consumers);
      yield;
    }
    let byKey = p.byKey;
    if (changes.keyauth_credentials !== undefined) {
      byKey = moveIndex(KEY_INDEX, byKey, p.keyCredentials, changes.keyauth_credentials);
      yield;
    }
    let byBasic = p.byBasicUsername;
    if (changes.basicauth_credentials !== undefined) {
      byBasic = moveIndex(BASIC_USERNAME_INDEX, byBasic, p.basicCredentials, changes.basicauth_credentials);
      yield;
    }
    let aclsByConsumer = p.aclsByConsumer;
    let groups = p.groups;
    const acls = changes.acls;
    if (acls !== undefined) {
      const rowsOf = new Map<string, Acl[]>();
      const rows = (consumerId: string): Acl[] => {
        let list = rowsOf.get(consumerId);
        if (list === undefined) rowsOf.set(consumerId, (list = [...(aclsByConsumer.get(consumerId) ?? [])]));
        return list;
      };
      for (const id of [...acls.removedIds, ...acls.upserts.map((a) => a.id)]) {
        const old = p.acls.get(id);
        if (old === undefined) continue;
        const list = rows(old.consumer.id);
        const at = list.findIndex((a) => a.id === id);
        if (at !== -1) list.splice(at, 1);
      }
      for (const a of acls.upserts) rows(a.consumer.id).push(a);
      for (const [consumerId, list] of rowsOf) {
        if (list.length === 0) {
          aclsByConsumer = aclsByConsumer.delete(consumerId);
          groups = groups.delete(consumerId);
          continue;
        }
        list.sort(byCreation);
        aclsByConsumer = aclsByConsumer.set(consumerId, Object.freeze(list));
        groups = groups.set(consumerId, Object.freeze(list.map((r) => r.group)));
      }
      yield;
    }
    return new ConsumerDirectory({
      consumers: entities.consumers,
      keyCredentials: entities.keyauth_credentials,
      basicCredentials: entities.basicauth_credentials,
      acls: entities.acls,
      byUsername,
      byKey,
      byBasicUsername: byBasic,
      aclsByConsumer,
      groups,
      now: p.now,
    });
  }
}

/** The consumer directory (`config.consumers`): what `ctx.consumers` looks up. */
export const CONSUMERS_PROJECTION: Projection<ConsumerDirectory> = {
  dependsOn: ['consumers', 'keyauth_credentials', 'basicauth_credentials', 'acls'],
  build: (entities, context: ProjectionContext) => ConsumerDirectory.build(entities, context.plugins.env.now),
  change: (directory, changes, entities) => directory.change(changes, entities),
  failure: (cause) => EntityRefusal.failureOf(cause, 'consumers'),
};
