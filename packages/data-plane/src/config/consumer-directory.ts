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
    const byUsername = new Map<string, Consumer>();
    for (const c of entities.consumers.values()) {
      if (c.username === null || c.username === undefined) continue;
      if (byUsername.has(c.username)) refuseDuplicate('consumers', c.id, `username '${c.username}'`);
      byUsername.set(c.username, c);
    }
    const byKey = new Map<string, KeyRecord>();
    for (const c of entities.keyauth_credentials.values()) {
      if (byKey.has(c.key)) refuseDuplicate('keyauth_credentials', c.id, 'a key-auth key');
      byKey.set(c.key, keyRecord(c));
    }
    const byBasic = new Map<string, BasicAuthRecord>();
    for (const c of entities.basicauth_credentials.values()) {
      if (byBasic.has(c.username)) refuseDuplicate('basicauth_credentials', c.id, `basic-auth username '${c.username}'`);
      byBasic.set(c.username, basicRecord(c));
    }
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
    const consumers = changes.consumers;
    if (consumers !== undefined) {
      const gone = [...consumers.removedIds, ...consumers.upserts.map((c) => c.id)];
      for (const id of gone) {
        const old = p.consumers.get(id);
        if (old?.username != null && byUsername.get(old.username)?.id === id) byUsername = byUsername.delete(old.username);
      }
      for (const c of consumers.upserts) {
        if (c.username === null || c.username === undefined) continue;
        const holder = byUsername.get(c.username);
        if (holder !== undefined && holder.id !== c.id) refuseDuplicate('consumers', c.id, `username '${c.username}'`);
        byUsername = byUsername.set(c.username, c);
      }
      yield;
    }
    let byKey = p.byKey;
    const keys = changes.keyauth_credentials;
    if (keys !== undefined) {
      for (const id of [...keys.removedIds, ...keys.upserts.map((c) => c.id)]) {
        const old = p.keyCredentials.get(id);
        if (old !== undefined && byKey.get(old.key)?.credential.id === id) byKey = byKey.delete(old.key);
      }
      for (const c of keys.upserts) {
        const holder = byKey.get(c.key);
        if (holder !== undefined && holder.credential.id !== c.id) refuseDuplicate('keyauth_credentials', c.id, 'a key-auth key');
        byKey = byKey.set(c.key, keyRecord(c));
      }
      yield;
    }
    let byBasic = p.byBasicUsername;
    const basics = changes.basicauth_credentials;
    if (basics !== undefined) {
      for (const id of [...basics.removedIds, ...basics.upserts.map((c) => c.id)]) {
        const old = p.basicCredentials.get(id);
        if (old !== undefined && byBasic.get(old.username)?.credential.id === id) byBasic = byBasic.delete(old.username);
      }
      for (const c of basics.upserts) {
        const holder = byBasic.get(c.username);
        if (holder !== undefined && holder.credential.id !== c.id) refuseDuplicate('basicauth_credentials', c.id, `basic-auth username '${c.username}'`);
        byBasic = byBasic.set(c.username, basicRecord(c));
      }
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
