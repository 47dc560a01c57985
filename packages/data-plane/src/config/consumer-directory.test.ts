import type { Acl, AnyEntity, BasicAuthCredential, Consumer, EntityKind, KeyAuthCredential } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { ConfigModel, makeConsumer, NOW, uuidFor } from '../../test/helpers/config-model.js';
import { ResourceErrorCode } from '../errors.js';
import { createPluginEnv, createPluginRuntime } from './plugin-runtime.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import type { RuntimeConfig } from './runtime-config.js';

// The consumer directory (`config.consumers`, what `ctx.consumers` looks up), built from a snapshot
// and moved by deltas: keys, basic-auth usernames, groups in creation order, anonymous lookup,
// expiry at lookup time, and refusal of a key or username used twice.

let clockMs = NOW * 1000;
const runtime = createPluginRuntime(undefined, createPluginEnv({ now: () => clockMs }));

const alice = makeConsumer('alice', { custom_id: 'a-1' });
const bob = makeConsumer('bob');

const key = (label: string, consumer: Consumer, k: string, expiresAt: number | null = null): KeyAuthCredential => ({
  id: uuidFor(`key:${label}`),
  created_at: NOW,
  updated_at: NOW,
  consumer: { id: consumer.id },
  key: k,
  expires_at: expiresAt,
  tags: null,
});
const basic = (label: string, consumer: Consumer, username: string): BasicAuthCredential => ({
  id: uuidFor(`basic:${label}`),
  created_at: NOW,
  updated_at: NOW,
  consumer: { id: consumer.id },
  username,
  password: 'a'.repeat(40),
  tags: null,
});
const acl = (consumer: Consumer, group: string, createdAt: number): Acl => ({ id: uuidFor(`acl:${consumer.id}:${group}`), created_at: createdAt, updated_at: createdAt, consumer: { id: consumer.id }, group, tags: null });

function build(entities: AnyEntity[]): { model: ConfigModel; config: RuntimeConfig } {
  const model = new ConfigModel();
  model.commit({ upsert: entities });
  const result = applySnapshot(model.snapshot(), { epoch: model.epoch, version: model.version, hash: model.hashAt() }, { plugins: runtime });
  if (!result.ok) throw result.error;
  return { model, config: result.config };
}

function change(model: ConfigModel, current: RuntimeConfig, changes: { upsert?: AnyEntity[]; remove?: { kind: EntityKind; id: string }[] }) {
  const from = current.version;
  model.commit(changes);
  return applyDelta(current, { epoch: model.epoch, fromVersion: from, toVersion: model.version, targetHash: model.hashAt(), batch: model.delta(from) });
}

describe('consumer directory', () => {
  it('looks up keys, basic-auth usernames, consumers and groups', () => {
    const { config } = build([alice, bob, key('a', alice, 'alice-key'), basic('b', bob, 'bob-user'), acl(alice, 'zeta', NOW + 2), acl(alice, 'alpha', NOW + 1)]);
    const dir = config.consumers;
    expect(dir.keyAuthCredential('alice-key')).toEqual({ id: uuidFor('key:a'), consumerId: alice.id, identifier: uuidFor('key:a') });
    expect(dir.keyAuthCredential('nope')).toBeUndefined();
    expect(dir.basicAuthCredential('bob-user')).toEqual({ credential: { id: uuidFor('basic:b'), consumerId: bob.id, identifier: 'bob-user' }, passwordHash: 'a'.repeat(40) });
    expect(dir.consumer(alice.id)).toEqual(alice);
    expect(dir.groupsOf(alice.id)).toEqual(['alpha', 'zeta']); // creation order
    expect(dir.groupsOf(bob.id)).toEqual([]);
  });

  it('finds the anonymous consumer by id when a UUID, else by username, never by custom_id', () => {
    const { config } = build([alice, bob]);
    expect(config.consumers.anonymousConsumer(alice.id)).toEqual(alice);
    expect(config.consumers.anonymousConsumer('bob')).toEqual(bob);
    expect(config.consumers.anonymousConsumer('a-1')).toBeUndefined();
  });

  it('treats a key past its expires_at as absent, at lookup time', () => {
    clockMs = NOW * 1000;
    const { config } = build([alice, key('t', alice, 'ttl-key', NOW + 30)]);
    expect(config.consumers.keyAuthCredential('ttl-key')).toBeDefined();
    clockMs = (NOW + 30) * 1000;
    expect(config.consumers.keyAuthCredential('ttl-key')).toBeUndefined();
    clockMs = NOW * 1000;
  });

  it('follows deltas: a changed key, a removed credential, a renamed consumer, a moved group', () => {
    const k = key('a', alice, 'old-key');
    const g = acl(alice, 'admin', NOW);
    const { model, config } = build([alice, bob, k, basic('b', bob, 'bob-user'), g]);
    const r1 = change(model, config, { upsert: [{ ...k, key: 'new-key', updated_at: NOW + 1 }, { ...bob, username: 'robert', updated_at: NOW + 1 }, { ...g, consumer: { id: bob.id }, updated_at: NOW + 1 }] });
    if (!r1.ok) throw r1.error;
    const dir = r1.config.consumers;
    expect(dir.keyAuthCredential('old-key')).toBeUndefined();
    expect(dir.keyAuthCredential('new-key')?.consumerId).toBe(alice.id);
    expect(dir.anonymousConsumer('bob')).toBeUndefined();
    expect(dir.anonymousConsumer('robert')?.id).toBe(bob.id);
    expect(dir.groupsOf(alice.id)).toEqual([]);
    expect(dir.groupsOf(bob.id)).toEqual(['admin']);
    // The previous config's directory is untouched (a request in flight keeps its view).
    expect(config.consumers.keyAuthCredential('old-key')?.consumerId).toBe(alice.id);
    const r2 = change(model, r1.config, { remove: [{ kind: 'basicauth_credentials', id: uuidFor('basic:b') }] });
    if (!r2.ok) throw r2.error;
    expect(r2.config.consumers.basicAuthCredential('bob-user')).toBeUndefined();
  });

  it('lets two credentials swap keys in one delta, and refuses a key used twice', () => {
    const k1 = key('1', alice, 'one');
    const k2 = key('2', bob, 'two');
    const { model, config } = build([alice, bob, k1, k2]);
    const swapped = change(model, config, { upsert: [{ ...k1, key: 'two', updated_at: NOW + 1 }, { ...k2, key: 'one', updated_at: NOW + 1 }] });
    if (!swapped.ok) throw swapped.error;
    expect(swapped.config.consumers.keyAuthCredential('one')?.consumerId).toBe(bob.id);
    const clash = change(model, swapped.config, { upsert: [key('3', alice, 'one')] });
    expect(clash.ok).toBe(false);
    if (clash.ok) return;
    expect(clash.error.resourceErrors).toEqual([expect.objectContaining({ kind: 'keyauth_credentials', id: uuidFor('key:3'), code: ResourceErrorCode.UNIQUE_VIOLATION })]);
  });
});
