import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { formatScryptHash, type Plugin } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import type { PluginEnv } from '../plugin-factory.js';
import { fakeConsumerDirectory } from '../testing/fake-consumer-directory.js';
import { FakePluginContext, type FakeRequest } from '../testing/fake-plugin-context.js';
import { BASIC_AUTH_FACTORY, BasicAuthHandler, basicAuthConfig, parseBasicCredentials, type BasicAuthConfig } from './handler.js';
import { PasswordVerificationCache } from './password-verification-cache.js';
import { SlowHashQueue } from './slow-hash-queue.js';

// Kong's basic-auth access spec (spec/03-plugins/10-basic-auth/03-access_spec.lua, BA1–BA9 in
// kong-plugins.md §4.3) against the fake context, with Kong's sha1 hashes and Sluice's scrypt ones.

const BOB = { id: 'b0b0b0b0-0000-4000-8000-000000000001', username: 'bob', custom_id: null };
const USER321 = { id: 'b0b0b0b0-0000-4000-8000-000000000003', username: 'u321', custom_id: null };
const ANON = { id: 'b0b0b0b0-0000-4000-8000-000000000002', username: 'anonymous', custom_id: null };

const kongHash = (password: string, consumerId: string) => createHash('sha1').update(password + consumerId).digest('hex');
/** A cheap scrypt hash (N = 2^10) so the tests stay fast; the format is the production one. */
function scryptHash(password: string): string {
  const salt = randomBytes(16);
  return formatScryptHash({ ln: 10, r: 8, p: 1 }, salt, scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 }));
}

const directory = fakeConsumerDirectory({
  consumers: [BOB, USER321, ANON],
  basics: [
    { id: 'cred-bob', consumerId: BOB.id, username: 'bob', passwordHash: kongHash('kong', BOB.id) },
    { id: 'cred-321', consumerId: USER321.id, username: 'user321', passwordHash: kongHash('password:123', USER321.id) },
    { id: 'cred-alice', consumerId: BOB.id, username: 'alice', passwordHash: scryptHash('s3cret') },
  ],
});

function config(overrides: Partial<BasicAuthConfig> = {}): BasicAuthConfig {
  return basicAuthConfig({ anonymous: null, hide_credentials: false, realm: 'service', ...overrides });
}

const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

async function run(cfg: BasicAuthConfig, request: FakeRequest, cache = new PasswordVerificationCache()): Promise<FakePluginContext> {
  const ctx = new FakePluginContext({ consumers: directory, ...request });
  await new BasicAuthHandler(cfg, cache, { warn() {}, error() {} }).access(ctx);
  return ctx;
}

describe('basic-auth', () => {
  it('is made by its factory at Kong priority 1100, sharing the env cache', () => {
    const env = {
      basicAuthVerifications: new PasswordVerificationCache(),
      basicAuthSlowHashes: new SlowHashQueue(),
      logger: { warn() {}, error() {} },
      now: Date.now,
      rateLimitCounters: { consume: () => Promise.reject(new Error('basic-auth counts nothing')) },
    } satisfies PluginEnv;
    expect(BASIC_AUTH_FACTORY.create({ name: 'basic-auth', config: config() } as unknown as Plugin, env).priority).toBe(1100);
  });

  it('BA1: no credentials → 401 Unauthorized, WWW-Authenticate Basic with the realm (default service)', async () => {
    expect((await run(config(), {})).answered).toEqual({ status: 401, message: 'Unauthorized', headers: { 'WWW-Authenticate': 'Basic realm="service"' } });
    expect((await run(config({ realm: 'test-realm' }), {})).answered?.headers).toEqual({ 'WWW-Authenticate': 'Basic realm="test-realm"' });
  });

  it('BA2, BA3, BA6: malformed, half or corrupt credentials → 401', async () => {
    for (const value of ['foobar', 'Basic a29uZw==', 'Basic Ym9i', 'Basic adXNlcjEyMzpwYXNzd29yZDEyMw==', 'Basic !!!', basic('bob:wrong'), basic('nobody:kong')]) {
      expect((await run(config(), { headers: { authorization: value } })).answered?.status, value).toBe(401);
    }
    expect((await run(config(), { headers: { 'proxy-authorization': 'foobar' } })).answered?.status).toBe(401);
  });

  it('BA4: valid credentials in Authorization or Proxy-Authorization authenticate bob', async () => {
    for (const name of ['authorization', 'proxy-authorization']) {
      const ctx = await run(config(), { headers: { [name]: 'Basic Ym9iOmtvbmc=' } });
      expect(ctx.answered).toBeNull();
      expect(ctx.consumer).toEqual(BOB);
      expect(ctx.upstreamHeader('x-consumer-username')).toBe('bob');
    }
  });

  it('tries Authorization when Proxy-Authorization names no credential', async () => {
    const ctx = await run(config(), { headers: { 'proxy-authorization': basic('nobody:x'), authorization: basic('bob:kong') } });
    expect(ctx.consumer).toEqual(BOB);
  });

  it('BA5: the password may contain `:`; X-Credential-Identifier is the username', async () => {
    const ctx = await run(config(), { headers: { authorization: 'Basic dXNlcjMyMTpwYXNzd29yZDoxMjM=' } });
    expect(ctx.answered).toBeNull();
    expect(ctx.upstreamHeader('x-credential-identifier')).toBe('user321');
    expect(ctx.credential).toEqual({ id: 'cred-321', consumerId: USER321.id, identifier: 'user321' });
  });

  it('BA7: hide_credentials removes Authorization from the upstream request', async () => {
    expect((await run(config(), { headers: { authorization: 'Basic Ym9iOmtvbmc=' } })).upstreamHeader('authorization')).toBe('Basic Ym9iOmtvbmc=');
    expect((await run(config({ hide_credentials: true }), { headers: { authorization: 'Basic Ym9iOmtvbmc=' } })).upstreamHeader('authorization')).toBeUndefined();
  });

  it('BA9: anonymous authenticates the anonymous consumer without credentials, and skips when already authenticated', async () => {
    const ctx = await run(config({ anonymous: ANON.id }), {});
    expect(ctx.answered).toBeNull();
    expect(ctx.consumer).toEqual(ANON);
    expect(ctx.upstreamHeader('x-anonymous-consumer')).toBe('true');
    expect((await run(config({ anonymous: 'ghost' }), {})).answered).toMatchObject({ status: 500, message: "anonymous consumer ghost is configured but doesn't exist" });
    const authenticated = new FakePluginContext({ consumers: directory, headers: { authorization: basic('bob:wrong') } });
    authenticated.authenticate(BOB, { id: 'k', consumerId: BOB.id, identifier: 'k' });
    await new BasicAuthHandler(config({ anonymous: ANON.id }), new PasswordVerificationCache(), { warn() {}, error() {} }).access(authenticated);
    expect(authenticated.answered).toBeNull();
    expect(authenticated.credential?.id).toBe('k');
  });

  it('verifies a scrypt hash off the event loop, then from the cache (once per credential and password)', async () => {
    const cache = new PasswordVerificationCache();
    const handler = new BasicAuthHandler(config(), cache, { warn() {}, error() {} });
    const first = new FakePluginContext({ consumers: directory, headers: { authorization: basic('alice:s3cret') } });
    const pending = handler.access(first);
    expect(pending).toBeInstanceOf(Promise); // the slow hash does not run on the event loop
    await pending;
    expect(first.consumer).toEqual(BOB);
    expect(cache.size).toBe(1);
    const second = new FakePluginContext({ consumers: directory, headers: { authorization: basic('alice:s3cret') } });
    expect(handler.access(second)).toBeUndefined(); // answered from the cache, synchronously
    expect(second.upstreamHeader('x-credential-identifier')).toBe('alice');
    const wrong = new FakePluginContext({ consumers: directory, headers: { authorization: basic('alice:guess') } });
    await handler.access(wrong);
    expect(wrong.answered?.status).toBe(401);
    expect(cache.size).toBe(1); // failures are not cached
  });

  it('answers 503 instead of queueing more slow hashes than the process allows', async () => {
    const queue = new SlowHashQueue(1, 0);
    const handler = new BasicAuthHandler(config(), new PasswordVerificationCache(), { warn() {}, error() {} }, queue);
    const first = new FakePluginContext({ consumers: directory, headers: { authorization: basic('alice:wrong-1') } });
    const second = new FakePluginContext({ consumers: directory, headers: { authorization: basic('alice:wrong-2') } });
    const pending = handler.access(first);
    expect(handler.access(second)).toBeUndefined();
    expect(second.answered?.status).toBe(503);
    await pending;
    expect(first.answered?.status).toBe(401);
    // Kong's sha1 hashes are fast and never queued.
    const sha1 = new FakePluginContext({ consumers: directory, headers: { authorization: basic('bob:kong') } });
    expect(handler.access(sha1)).toBeUndefined();
    expect(sha1.consumer).toEqual(BOB);
  });

  it('parses Kong\'s header patterns', () => {
    expect(parseBasicCredentials('  basic Ym9iOmtvbmc=')).toEqual({ username: 'bob', password: 'kong' });
    expect(parseBasicCredentials('Basic Ym9iOmtvbmc')).toEqual({ username: 'bob', password: 'kong' }); // padding optional, as nginx's decoder
    expect(parseBasicCredentials('Basic Ym9iOg==')).toEqual({ username: 'bob', password: '' });
    expect(parseBasicCredentials('Bearer Ym9iOmtvbmc=')).toBeNull();
  });
});

describe('PasswordVerificationCache', () => {
  it('is a bounded LRU: past its bound the least recently used entry goes', () => {
    const cache = new PasswordVerificationCache(2);
    const [a, b, c] = ['a', 'b', 'c'].map((p) => cache.keyOf('cred', 'hash', p));
    cache.add(a!);
    cache.add(b!);
    expect(cache.has(a!)).toBe(true); // a is now the most recent
    cache.add(c!);
    expect([cache.has(a!), cache.has(b!), cache.has(c!)]).toEqual([true, false, true]);
    expect(cache.size).toBe(2);
  });

  it('keys by credential, stored hash and password, and never holds the password', () => {
    const cache = new PasswordVerificationCache();
    const key = cache.keyOf('cred', 'hash', 'hunter2');
    expect(key).not.toContain('hunter2');
    expect(key).not.toBe(cache.keyOf('cred', 'other-hash', 'hunter2'));
    expect(key).not.toBe(cache.keyOf('other', 'hash', 'hunter2'));
  });
});

describe('SlowHashQueue', () => {
  it('runs at most `concurrency` tasks at once, in arrival order, and refuses past `maxWaiting`', async () => {
    const queue = new SlowHashQueue(2, 2);
    const releases: (() => void)[] = [];
    const started: number[] = [];
    const task = (n: number) => () =>
      new Promise<number>((resolve) => {
        started.push(n);
        releases.push(() => resolve(n));
      });
    const results = [1, 2, 3, 4].map((n) => queue.run(task(n)));
    expect(queue.run(task(5))).toBeNull();
    expect([queue.active, queue.queued]).toEqual([2, 2]);
    expect(started).toEqual([1, 2]);
    releases[0]!();
    await results[0];
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([1, 2, 3]);
    expect(queue.active).toBe(2);
    for (let i = 1; i < 4; i++) {
      await new Promise((r) => setImmediate(r));
      releases[i]!();
    }
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4]);
    expect([queue.active, queue.queued]).toEqual([0, 0]);
  });
});
