import { createHash, randomUUID, scrypt } from 'node:crypto';
import { parsePasswordHash, scryptMemoryBytes } from '@sluice/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigOperations, type OperationsClock } from '../src/admin/index.js';
import { ExpiredEntityJanitor } from '../src/changes/expired-entity-janitor.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin, silentLogger } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

/** A clock the test moves: `ttl` counts down without sleeping. */
function testClock(start: number): OperationsClock & { advance(seconds: number): void } {
  let now = start;
  return {
    nowSeconds: () => now,
    newId: () => randomUUID(),
    advance(seconds) {
      now += seconds;
    },
  };
}

/** Recomputes a stored scrypt hash from the clear password. */
function scryptMatches(stored: string, password: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (parsed === null || parsed.scheme !== 'scrypt') return Promise.resolve(false);
  const { params, salt, hash } = parsed;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, hash.length, { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: 2 * scryptMemoryBytes(params) }, (err, key) =>
      err ? reject(err) : resolve(Buffer.from(hash).equals(key)),
    ),
  );
}

const kongSha1 = (password: string, consumerId: string) => createHash('sha1').update(password + consumerId).digest('hex');

const SCRYPT_FORMAT = /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;
const START = 1_800_000_000;

describeEachDatabase('admin api: consumers credentials', (env) => {
  let store: Store;
  let admin: TestAdmin;
  let clock: ReturnType<typeof testClock>;
  let bob: { id: string };
  let alice: { id: string };

  beforeEach(async () => {
    await env.reset();
    store ??= await env.openStore();
    clock = testClock(START);
    admin = await buildTestAdmin(store, { clock });
    bob = (await admin.json('POST', '/consumers', { username: 'bob' })).json();
    alice = (await admin.json('POST', '/consumers', { username: 'alice' })).json();
  });

  describe('key-auth', () => {
    it('generates a 32-character alphanumeric key when none is given, stored and shown in plaintext', async () => {
      const first = await admin.json('POST', '/consumers/bob/key-auth', {});
      expect(first.statusCode).toBe(201);
      const body = first.json();
      expect(Object.keys(body)).toEqual(['id', 'created_at', 'consumer', 'key', 'tags', 'ttl']);
      expect(body).toMatchObject({ consumer: { id: bob.id }, tags: null, ttl: null, created_at: START });
      expect(body.key).toMatch(/^[A-Za-z0-9]{32}$/);
      const second = (await admin.json('POST', '/consumers/bob/key-auth', {})).json();
      expect(second.key).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(second.key).not.toBe(body.key);
      expect((await store.find('keyauth_credentials', { id: body.id }))?.key).toBe(body.key);
      // PUT generates one too (Kong fills `auto` fields on upsert); PATCH keeps the stored key.
      const put = (await admin.json('PUT', `/key-auths/${randomUUID()}`, { consumer: { id: bob.id } })).json();
      expect(put.key).toMatch(/^[A-Za-z0-9]{32}$/);
      const patched = (await admin.json('PATCH', `/key-auths/${put.id}`, { tags: ['t'] })).json();
      expect(patched.key).toBe(put.key);
    });

    it('answers every Kong endpoint form, and 404 through another consumer', async () => {
      const cred = (await admin.json('POST', '/consumers/bob/key-auth', { key: 'bob-key' })).json();
      for (const url of [`/key-auths/${cred.id}`, '/key-auths/bob-key', `/consumers/bob/key-auth/${cred.id}`, '/consumers/bob/key-auth/bob-key', `/consumers/${bob.id}/key-auth/bob-key`]) {
        const res = await admin.json('GET', url);
        expect(res.statusCode, url).toBe(200);
        expect(res.json(), url).toEqual(cred);
      }
      expect((await admin.json('GET', '/key-auths')).json()).toEqual({ data: [cred], next: null });
      expect((await admin.json('GET', '/consumers/bob/key-auth')).json()).toEqual({ data: [cred], next: null });
      expect((await admin.json('GET', '/consumers/alice/key-auth')).json()).toEqual({ data: [], next: null });
      const owner = await admin.json('GET', '/key-auths/bob-key/consumer');
      expect(owner.statusCode).toBe(200);
      expect(owner.json()).toMatchObject({ id: bob.id, username: 'bob' });

      for (const method of ['GET', 'PATCH', 'DELETE', 'PUT'] as const) {
        for (const url of [`/consumers/alice/key-auth/${cred.id}`, '/consumers/alice/key-auth/bob-key']) {
          const res = await admin.json(method, url, method === 'GET' || method === 'DELETE' ? undefined : { tags: ['stolen'] });
          expect(res.statusCode, `${method} ${url}`).toBe(404);
        }
      }
      expect((await admin.json('GET', '/key-auths/bob-key')).json()).toEqual(cred);
      // The registry's kind name is not an Admin API path.
      expect((await admin.json('GET', '/keyauth_credentials')).statusCode).toBe(404);
      expect((await admin.json('GET', '/consumers/bob/keyauth_credentials')).statusCode).toBe(404);

      await admin.json('POST', '/consumers/bob/key-auth', { key: 'second' });
      expect((await admin.json('GET', '/key-auths?size=1')).json().next).toMatch(/^\/key-auths\?offset=/);
      expect((await admin.json('GET', '/consumers/bob/key-auth?size=1')).json().next).toMatch(/^\/consumers\/bob\/key-auth\?offset=/);
      expect((await admin.json('DELETE', '/key-auths/second')).statusCode).toBe(204);

      const put = await admin.json('PUT', '/consumers/bob/key-auth/other-key', { tags: ['p'] });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({ key: 'other-key', consumer: { id: bob.id }, tags: ['p'] });
      const patch = await admin.json('PATCH', '/consumers/bob/key-auth/other-key', { tags: ['q'] });
      expect(patch.json()).toMatchObject({ key: 'other-key', tags: ['q'] });
      expect((await admin.json('DELETE', '/consumers/bob/key-auth/other-key')).statusCode).toBe(204);
      expect((await admin.json('GET', '/key-auths/other-key')).statusCode).toBe(404);
      expect((await admin.json('DELETE', `/key-auths/${cred.id}`)).statusCode).toBe(204);
      expect((await admin.json('GET', '/key-auths')).json()).toEqual({ data: [], next: null });
    });

    it("refuses bad input with Kong's bodies", async () => {
      const noConsumer = await admin.json('POST', '/key-auths', { key: 'k' });
      expect(noConsumer.statusCode).toBe(400);
      expect(noConsumer.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: 'schema violation (consumer: required field missing)',
        fields: { consumer: 'required field missing' },
      });
      const cred = (await admin.json('POST', '/consumers/bob/key-auth', { key: 'k' })).json();
      const notString = await admin.json('PATCH', `/key-auths/${cred.id}`, { key: 123 });
      expect(notString.statusCode).toBe(400);
      expect(notString.json()).toEqual({ code: 2, name: 'schema violation', message: 'schema violation (key: expected a string)', fields: { key: 'expected a string' } });
      const duplicate = await admin.json('POST', '/consumers/alice/key-auth', { key: 'k' });
      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.json()).toEqual({ code: 5, name: 'unique constraint violation', message: `UNIQUE violation detected on '{key="k"}'`, fields: { key: 'k' } });
      expect((await admin.json('POST', '/consumers/bob/key-auth', { expires_at: START + 10 })).json().fields).toEqual({ expires_at: 'unknown field' });
      // Kong's credentials have no updated_at.
      expect((await admin.json('PATCH', `/key-auths/${cred.id}`, { updated_at: START })).json().fields).toEqual({ updated_at: 'unknown field' });
    });

    it('takes a ttl in seconds and shows what is left; an expired key is gone everywhere', async () => {
      const created = await admin.json('POST', '/consumers/bob/key-auth', { key: 'short', ttl: 30 });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ key: 'short', ttl: 30 });
      expect(created.json()).not.toHaveProperty('expires_at');
      expect((await store.find('keyauth_credentials', { field: 'key', value: 'short' }))?.expires_at).toBe(START + 30);
      const forever = (await admin.json('POST', '/consumers/bob/key-auth', { key: 'forever', ttl: 0 })).json();
      expect(forever.ttl).toBeNull();

      clock.advance(10);
      expect((await admin.json('GET', '/key-auths/short')).json().ttl).toBe(20);
      // PATCH without ttl keeps the expiry; with one, the countdown restarts from now.
      expect((await admin.json('PATCH', '/key-auths/short', { tags: ['t'] })).json()).toMatchObject({ tags: ['t'], ttl: 20 });
      expect((await admin.json('PATCH', '/key-auths/short', { ttl: 100 })).json().ttl).toBe(100);
      clock.advance(99);
      expect((await admin.json('GET', '/consumers/bob/key-auth/short')).json().ttl).toBe(1);

      clock.advance(1);
      for (const url of ['/key-auths/short', '/consumers/bob/key-auth/short']) expect((await admin.json('GET', url)).statusCode, url).toBe(404);
      expect((await admin.json('GET', '/key-auths')).json().data.map((c: { key: string }) => c.key)).toEqual(['forever']);
      expect((await admin.json('GET', '/consumers/bob/key-auth')).json().data.map((c: { key: string }) => c.key)).toEqual(['forever']);
      const patchExpired = await admin.json('PATCH', '/key-auths/short', { tags: [] });
      expect(patchExpired.statusCode).toBe(404);
      expect(patchExpired.json()).toMatchObject({ code: 6, name: 'not found' });
      // PUT replaces it (no ttl: it never expires), keeping its id.
      const stored = await store.find('keyauth_credentials', { field: 'key', value: 'short' });
      const renewed = await admin.json('PUT', '/key-auths/short', { consumer: { id: bob.id } });
      expect(renewed.statusCode).toBe(200);
      expect(renewed.json()).toMatchObject({ id: stored?.id, ttl: null });
    });

    it('refuses a ttl that is not an integer in [0, 1e8] with code 11; accepts one from a form', async () => {
      for (const ttl of [-1, 1.5, 'soon', 100_000_001, true]) {
        const res = await admin.json('POST', '/consumers/bob/key-auth', { ttl });
        expect(res.statusCode, String(ttl)).toBe(400);
        expect(res.json()).toEqual({
          code: 11,
          name: 'invalid options',
          message: 'invalid option (ttl: must be an integer between 0 and 100000000)',
          options: { ttl: 'must be an integer between 0 and 100000000' },
        });
      }
      const form = await admin.request({ method: 'POST', url: '/consumers/bob/key-auth', payload: 'key=f&ttl=60', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(form.statusCode).toBe(201);
      expect(form.json()).toMatchObject({ key: 'f', ttl: 60 });
      expect((await store.readHead()).version).toBe(3);
      // Kinds without ttl do not take one.
      expect((await admin.json('POST', '/consumers/bob/acls', { group: 'g', ttl: 5 })).json().fields).toEqual({ ttl: 'unknown field' });
    });

    it('a janitor deletes expired keys through the change log', async () => {
      const expiring = (await admin.json('POST', '/consumers/bob/key-auth', { key: 'soon', ttl: 5 })).json();
      const kept = (await admin.json('POST', '/consumers/bob/key-auth', { key: 'later', ttl: 500 })).json();
      const janitor = new ExpiredEntityJanitor({ store, logger: silentLogger, nowSeconds: clock.nowSeconds });
      expect(await janitor.sweep()).toBe(0);
      clock.advance(5);
      const before = (await store.readHead()).version;
      expect(await janitor.sweep()).toBe(1);
      const head = (await store.readHead()).version;
      expect(head).toBe(before + 1);
      expect((await store.readChanges(before, head)).map((c) => [c.entityType, c.entityId, c.op])).toEqual([['keyauth_credentials', expiring.id, 'delete']]);
      expect(await store.find('keyauth_credentials', { id: expiring.id })).toBeNull();
      expect(await store.find('keyauth_credentials', { id: kept.id })).not.toBeNull();
      expect(await janitor.sweep()).toBe(0);
    });
  });

  describe('basic-auth', () => {
    it('requires username and password', async () => {
      const res = await admin.json('POST', '/consumers/bob/basic-auth', {});
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        code: 2,
        name: 'schema violation',
        message: '2 schema violations (password: required field missing; username: required field missing)',
        fields: { username: 'required field missing', password: 'required field missing' },
      });
      expect((await store.readHead()).version).toBe(2);
    });

    it('stores and shows a scrypt hash of the password, never the clear text', async () => {
      const res = await admin.json('POST', '/consumers/bob/basic-auth', { username: 'bob', password: ' kong ' });
      expect(res.statusCode).toBe(201);
      const cred = res.json();
      expect(Object.keys(cred)).toEqual(['id', 'created_at', 'consumer', 'username', 'password', 'tags']);
      expect(cred.password).toMatch(SCRYPT_FORMAT);
      expect(res.body).not.toContain(' kong ');
      // Whitespace is part of the password, as in Kong.
      expect(await scryptMatches(cred.password, ' kong ')).toBe(true);
      expect(await scryptMatches(cred.password, 'kong')).toBe(false);
      expect((await store.find('basicauth_credentials', { id: cred.id }))?.password).toBe(cred.password);
      const logged = await store.readChanges(0, (await store.readHead()).version);
      expect(JSON.stringify(logged)).not.toContain(' kong ');
      expect((await admin.json('GET', '/basic-auths/bob')).json()).toEqual(cred);

      // Two users with the same password get different salts.
      const other = (await admin.json('POST', '/consumers/alice/basic-auth', { username: 'alice', password: ' kong ' })).json();
      expect(other.password).not.toBe(cred.password);
      // A password that looks like a Kong sha1 hash is still a clear password to the Admin API.
      const hexLike = kongSha1('x', bob.id);
      const looksHashed = (await admin.json('POST', '/consumers/bob/basic-auth', { username: 'hex', password: hexLike })).json();
      expect(looksHashed.password).toMatch(SCRYPT_FORMAT);
      expect(await scryptMatches(looksHashed.password, hexLike)).toBe(true);
    });

    it('PATCH without a password keeps the hash; with one it hashes again; moving a scrypt credential keeps it', async () => {
      const cred = (await admin.json('POST', '/consumers/bob/basic-auth', { username: 'bob', password: 'one' })).json();
      const tagged = (await admin.json('PATCH', '/basic-auths/bob', { tags: ['t'] })).json();
      expect(tagged.password).toBe(cred.password);
      const changed = (await admin.json('PATCH', `/consumers/bob/basic-auth/${cred.id}`, { password: 'two' })).json();
      expect(changed.password).toMatch(SCRYPT_FORMAT);
      expect(await scryptMatches(changed.password, 'two')).toBe(true);
      const moved = await admin.json('PATCH', '/basic-auths/bob', { consumer: { id: alice.id } });
      expect(moved.statusCode).toBe(200);
      expect(moved.json()).toMatchObject({ consumer: { id: alice.id }, password: changed.password });
    });

    it('answers every Kong endpoint form; 409 on a duplicate username; 404 through another consumer', async () => {
      const cred = (await admin.json('POST', '/consumers/bob/basic-auth', { username: 'bob-user', password: 'pw' })).json();
      for (const url of [`/basic-auths/${cred.id}`, '/basic-auths/bob-user', '/consumers/bob/basic-auth/bob-user', `/consumers/bob/basic-auth/${cred.id}`]) {
        expect((await admin.json('GET', url)).json(), url).toEqual(cred);
      }
      expect((await admin.json('GET', '/basic-auths')).json()).toEqual({ data: [cred], next: null });
      expect((await admin.json('GET', '/consumers/bob/basic-auth')).json()).toEqual({ data: [cred], next: null });
      expect((await admin.json('GET', '/basic-auths/bob-user/consumer')).json()).toMatchObject({ id: bob.id });
      expect((await admin.json('GET', '/consumers/alice/basic-auth/bob-user')).statusCode).toBe(404);
      expect((await admin.json('PUT', '/consumers/alice/basic-auth/bob-user', { password: 'mine' })).statusCode).toBe(404);
      const duplicate = await admin.json('POST', '/consumers/alice/basic-auth', { username: 'bob-user', password: 'x' });
      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.json()).toEqual({
        code: 5,
        name: 'unique constraint violation',
        message: `UNIQUE violation detected on '{username="bob-user"}'`,
        fields: { username: 'bob-user' },
      });
      const put = await admin.json('PUT', '/consumers/alice/basic-auth/alice-user', { password: 'pw2' });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toMatchObject({ username: 'alice-user', consumer: { id: alice.id } });
      expect(put.json().password).toMatch(SCRYPT_FORMAT);
      expect((await admin.json('GET', '/basicauth_credentials')).statusCode).toBe(404);
    });

    it("accepts Kong's sha1 hashes verbatim from an import (transform: false), and only hashes there", async () => {
      const ops = new ConfigOperations(store, clock);
      const hash = kongSha1('kong', bob.id);
      const imported = await ops.create('basicauth_credentials', { consumer: { id: bob.id }, username: 'kong-user', password: hash }, { transform: false });
      expect(imported.entity.password).toBe(hash);
      expect((await admin.json('GET', '/basic-auths/kong-user')).json().password).toBe(hash);
      // A Sluice scrypt hash (e.g. from another Sluice's export) is taken as is too.
      const scryptHash = (await admin.json('POST', '/consumers/alice/basic-auth', { username: 'exported', password: 'pw' })).json().password as string;
      const scryptImport = await ops.create('basicauth_credentials', { consumer: { id: bob.id }, username: 's-user', password: scryptHash }, { transform: false });
      expect(scryptImport.entity.password).toBe(scryptHash);
      await expect(ops.create('basicauth_credentials', { consumer: { id: bob.id }, username: 'clear', password: 'kong' }, { transform: false })).rejects.toMatchObject({
        code: 'SLUICE_CP_SCHEMA_VIOLATION',
        fields: { password: expect.stringContaining('expected a password hash') },
      });
      await expect(
        ops.create('basicauth_credentials', { consumer: { id: bob.id }, username: 'big', password: '$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA' }, { transform: false }),
      ).rejects.toMatchObject({ code: 'SLUICE_CP_SCHEMA_VIOLATION' });

      // Kong's sha1 is salted with the consumer id: it cannot move to another consumer without a new password.
      const move = await admin.json('PATCH', '/basic-auths/kong-user', { consumer: { id: alice.id } });
      expect(move.statusCode).toBe(400);
      expect(move.json().fields).toEqual({ password: 'required to move a credential whose Kong sha1 hash is salted with its consumer id' });
      const moveWithPassword = (await admin.json('PATCH', '/basic-auths/kong-user', { consumer: { id: alice.id }, password: 'kong' })).json();
      expect(moveWithPassword.consumer).toEqual({ id: alice.id });
      expect(moveWithPassword.password).toMatch(SCRYPT_FORMAT);
    });
  });

  describe('acls', () => {
    it('requires a group; reads a non-UUID segment under a consumer as a group', async () => {
      const missing = await admin.json('POST', '/consumers/bob/acls', {});
      expect(missing.statusCode).toBe(400);
      expect(missing.json().fields).toEqual({ group: 'required field missing' });
      const acl = (await admin.json('POST', '/consumers/bob/acls', { group: 'admin' })).json();
      expect(Object.keys(acl)).toEqual(['id', 'created_at', 'consumer', 'group', 'tags']);
      for (const url of ['/consumers/bob/acls/admin', `/consumers/bob/acls/${acl.id}`, `/acls/${acl.id}`]) expect((await admin.json('GET', url)).json(), url).toEqual(acl);
      expect((await admin.json('GET', `/acls/${acl.id}/consumer`)).json()).toMatchObject({ id: bob.id });
      expect((await admin.json('GET', '/acls')).json()).toEqual({ data: [acl], next: null });
      expect((await admin.json('GET', '/consumers/bob/acls')).json()).toEqual({ data: [acl], next: null });
      for (const url of ['/consumers/alice/acls/admin', `/consumers/alice/acls/${acl.id}`, '/consumers/bob/acls/nobody', '/acls/admin']) {
        expect((await admin.json('GET', url)).statusCode, url).toBe(404);
      }
      // Not PUT: a group that does not exist is 404.
      expect((await admin.json('PATCH', '/consumers/bob/acls/nobody', { tags: ['t'] })).statusCode).toBe(404);
      expect((await admin.json('DELETE', '/consumers/bob/acls/nobody')).statusCode).toBe(404);
      expect((await admin.json('PATCH', '/consumers/bob/acls/admin', { tags: ['t'] })).json()).toMatchObject({ id: acl.id, tags: ['t'] });
      expect((await admin.json('DELETE', '/consumers/bob/acls/admin')).statusCode).toBe(204);
      expect((await admin.json('GET', `/acls/${acl.id}`)).statusCode).toBe(404);
    });

    it('PUT by group creates it with the group from the URL, then replaces it; the body may name another group', async () => {
      const created = await admin.json('PUT', '/consumers/bob/acls/ops', {});
      expect(created.statusCode).toBe(200);
      expect(created.json()).toMatchObject({ group: 'ops', consumer: { id: bob.id } });
      const replaced = await admin.json('PUT', '/consumers/bob/acls/ops', { tags: ['t'] });
      expect(replaced.json()).toMatchObject({ id: created.json().id, group: 'ops', tags: ['t'] });
      const renamed = await admin.json('PUT', '/consumers/bob/acls/ops', { group: 'dev' });
      expect(renamed.json()).toMatchObject({ id: created.json().id, group: 'dev' });
      const fromBody = await admin.json('PUT', '/consumers/bob/acls/x', { group: 'y' });
      expect(fromBody.json()).toMatchObject({ group: 'y' });
      expect((await admin.json('PUT', '/consumers/alice/acls/dev', {})).json()).toMatchObject({ group: 'dev', consumer: { id: alice.id } });
      expect((await admin.json('PUT', `/consumers/alice/acls/${created.json().id}`, { group: 'z' })).statusCode).toBe(404);
    });

    it("refuses a consumer's duplicate group with Kong's 409 body", async () => {
      await admin.json('POST', '/consumers/bob/acls', { group: 'admin' });
      expect((await admin.json('POST', '/consumers/alice/acls', { group: 'admin' })).statusCode).toBe(201);
      const duplicate = await admin.json('POST', '/acls', { consumer: { id: bob.id }, group: 'admin' });
      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.json()).toEqual({
        code: 5,
        name: 'unique constraint violation',
        message: `UNIQUE violation detected on '{consumer={id="${bob.id}"},group="admin"}'`,
        fields: { consumer: { id: bob.id }, group: 'admin' },
      });
      const noConsumer = await admin.json('POST', '/acls', { group: 'x' });
      expect(noConsumer.json().message).toBe('schema violation (consumer: required field missing)');
    });
  });

  it('deleting a consumer deletes its credentials, each recorded in the change log', async () => {
    const key = (await admin.json('POST', '/consumers/bob/key-auth', {})).json();
    const basic = (await admin.json('POST', '/consumers/bob/basic-auth', { username: 'bob', password: 'pw' })).json();
    const acl = (await admin.json('POST', '/consumers/bob/acls', { group: 'g' })).json();
    const kept = (await admin.json('POST', '/consumers/alice/acls', { group: 'g' })).json();
    const before = (await store.readHead()).version;
    expect((await admin.json('DELETE', '/consumers/bob')).statusCode).toBe(204);
    const head = (await store.readHead()).version;
    expect(head).toBe(before + 1);
    const changes = (await store.readChanges(before, head)).map((c) => `${c.op} ${c.entityType} ${c.entityId}`);
    expect(changes.sort()).toEqual(
      [`delete keyauth_credentials ${key.id}`, `delete basicauth_credentials ${basic.id}`, `delete acls ${acl.id}`, `delete consumers ${bob.id}`].sort(),
    );
    expect((await admin.json('GET', '/key-auths')).json().data).toEqual([]);
    expect((await admin.json('GET', '/acls')).json().data).toEqual([kept]);
  });
});
