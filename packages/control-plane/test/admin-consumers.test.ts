import { beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

// The first kind added through the entity registry: everything here comes from its definition
// (protocol kinds/consumers.ts) and its table (control-plane entities/consumers/), nothing else.
describeEachDatabase('admin api: consumers', (env) => {
  let store: Store;
  let admin: TestAdmin;

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    admin ??= await buildTestAdmin(store);
  });

  describe('create', () => {
    it('creates with Kong fields, by JSON or form, and finds it by id or username', async () => {
      const res = await admin.json('POST', '/consumers', { username: 'alice', custom_id: 'a-1', tags: ['team-a'] });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-sluice-config-version']).toBe('1');
      const alice = res.json();
      expect(Object.keys(alice)).toEqual(['id', 'created_at', 'updated_at', 'username', 'custom_id', 'tags']);
      expect(alice).toMatchObject({ username: 'alice', custom_id: 'a-1', tags: ['team-a'] });
      expect((await admin.json('GET', `/consumers/${alice.id}`)).json()).toEqual(alice);
      expect((await admin.json('GET', '/consumers/alice')).json()).toEqual(alice);

      const form = await admin.request({ method: 'POST', url: '/consumers', payload: 'custom_id=only-custom', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(form.statusCode).toBe(201);
      expect(form.json()).toMatchObject({ username: null, custom_id: 'only-custom', tags: null });
    });

    it('requires a username or a custom_id, with Kong message', async () => {
      const res = await admin.json('POST', '/consumers', { tags: ['x'] });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: "schema violation (at least one of these fields must be non-empty: 'custom_id', 'username')",
        fields: { '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] },
      });
      expect((await store.readHead()).version).toBe(0);
    });

    it('refuses a duplicate username or custom_id with 409', async () => {
      await admin.json('POST', '/consumers', { username: 'bob', custom_id: 'b' });
      const byName = await admin.json('POST', '/consumers', { username: 'bob' });
      expect(byName.statusCode).toBe(409);
      expect(byName.json()).toEqual({ code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{username="bob"}'`, fields: { username: 'bob' } });
      const byCustom = await admin.json('POST', '/consumers', { username: 'bob2', custom_id: 'b' });
      expect(byCustom.statusCode).toBe(409);
      expect(byCustom.json().fields).toEqual({ custom_id: 'b' });
      expect((await store.readHead()).version).toBe(1);
    });

    it('refuses unknown fields', async () => {
      const res = await admin.json('POST', '/consumers', { username: 'c', name: 'nope' });
      expect(res.statusCode).toBe(400);
      expect(res.json().fields).toEqual({ name: 'unknown field' });
    });
  });

  describe('update and delete', () => {
    it('PUT by username upserts with the username injected; PATCH merges; DELETE is 204 and idempotent', async () => {
      const put = await admin.json('PUT', '/consumers/carol', { custom_id: 'c-1' });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({ username: 'carol', custom_id: 'c-1' });
      const patched = await admin.json('PATCH', '/consumers/carol', { custom_id: null, tags: ['t'] });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ id: put.json().id, username: 'carol', custom_id: null, tags: ['t'] });
      const missing = await admin.json('PATCH', '/consumers/nobody', { tags: [] });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ code: 6, name: 'not found', message: `could not find the entity with '{username="nobody"}'`, fields: { username: 'nobody' } });
      expect((await admin.json('DELETE', '/consumers/carol')).statusCode).toBe(204);
      expect((await admin.json('DELETE', '/consumers/carol')).statusCode).toBe(204);
      expect((await admin.json('GET', '/consumers/carol')).statusCode).toBe(404);
      const changes = await store.readChanges(0, 3);
      expect(changes.map((c) => [c.entityType, c.op])).toEqual([
        ['consumers', 'upsert'],
        ['consumers', 'upsert'],
        ['consumers', 'delete'],
      ]);
    });
  });

  describe('lists', () => {
    it('pages in Kong shape, filters by tags, and looks up ?custom_id=', async () => {
      for (let i = 0; i < 3; i++) await admin.json('POST', '/consumers', { username: `u${i}`, custom_id: `c${i}`, tags: i === 0 ? ['gold'] : ['free'] });
      const page = (await admin.json('GET', '/consumers?size=2')).json();
      expect(page.data).toHaveLength(2);
      expect(page.next).toMatch(/^\/consumers\?offset=/);
      expect((await admin.json('GET', '/consumers?tags=gold')).json().data.map((c: { username: string }) => c.username)).toEqual(['u0']);

      const found = await admin.json('GET', '/consumers?custom_id=c1');
      expect(found.statusCode).toBe(200);
      expect(found.json()).toEqual({ data: [expect.objectContaining({ username: 'u1', custom_id: 'c1' })], next: null });
      expect((await admin.json('GET', '/consumers?custom_id=none')).json()).toEqual({ data: [], next: null });
      const empty = await admin.json('GET', '/consumers?custom_id=');
      expect(empty.statusCode).toBe(400);
      expect(empty.json()).toEqual({ message: 'custom_id must be an unempty string' });
    });
  });
});
