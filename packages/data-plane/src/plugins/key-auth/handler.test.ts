import type { Plugin } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { PluginChain } from '../plugin-chain.js';
import { fakeConsumerDirectory } from '../testing/fake-consumer-directory.js';
import { FakePluginContext, type FakeRequest } from '../testing/fake-plugin-context.js';
import { KEY_AUTH_FACTORY, KEY_AUTH_MESSAGES, KeyAuthHandler, keyAuthConfig, type KeyAuthConfig } from './handler.js';

// Kong's key-auth access spec (spec/03-plugins/09-key-auth/02-access_spec.lua, KA1–KA12 in
// kong-plugins.md §4.2) against the fake context: consumer bob, key `kong`.

const BOB = { id: '0b0b0b0b-0000-4000-8000-000000000001', username: 'bob', custom_id: null };
const NOBODY = { id: '0b0b0b0b-0000-4000-8000-000000000002', username: 'no-body', custom_id: 'nb-1' };
const CRED_ID = 'c0c0c0c0-0000-4000-8000-000000000001';

/** Every field at Kong's default (what the control plane sends), with `overrides`. */
function config(overrides: Partial<KeyAuthConfig> = {}): KeyAuthConfig {
  return keyAuthConfig({
    key_names: ['apikey'],
    hide_credentials: false,
    anonymous: null,
    key_in_header: true,
    key_in_query: true,
    key_in_body: false,
    run_on_preflight: true,
    realm: null,
    ...overrides,
  });
}

const directory = (now = () => 1_000_000) =>
  fakeConsumerDirectory({
    consumers: [BOB, NOBODY],
    keys: [
      { id: CRED_ID, consumerId: BOB.id, key: 'kong' },
      { id: 'c0c0c0c0-0000-4000-8000-000000000002', consumerId: BOB.id, key: 'short-lived', expiresAtMs: 1_030_000 },
    ],
    now,
  });

function run(cfg: KeyAuthConfig, request: FakeRequest, dir = directory()): FakePluginContext {
  const ctx = new FakePluginContext({ consumers: dir, ...request });
  void new KeyAuthHandler(cfg).access(ctx);
  return ctx;
}

/** {@link run} for key_in_body, whose access awaits the body. */
async function runBody(cfg: KeyAuthConfig, request: FakeRequest): Promise<FakePluginContext> {
  const ctx = new FakePluginContext({ consumers: directory(), method: 'POST', ...request });
  await new KeyAuthHandler(cfg).access(ctx);
  return ctx;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('key-auth', () => {
  it('acts in access only, at Kong priority 1250', () => {
    const handler = KEY_AUTH_FACTORY.create({ name: 'key-auth', config: config() } as unknown as Plugin, undefined as never);
    expect(handler.priority).toBe(1250);
    const chain = new PluginChain([handler]);
    expect([chain.rewrite.length, chain.access.length, chain.header_filter.length, chain.log.length]).toEqual([0, 1, 0, 0]);
  });

  it('KA1: no key → 401 No API key found in request, WWW-Authenticate: Key', () => {
    const ctx = run(config(), {});
    expect(ctx.answered).toEqual({ status: 401, message: KEY_AUTH_MESSAGES.noKey, headers: { 'WWW-Authenticate': 'Key' } });
  });

  it('KA2: an empty key header → 401 No API key found, with the realm', () => {
    const ctx = run(config({ realm: 'test-realm' }), { headers: { apikey: '' } });
    expect(ctx.answered).toEqual({ status: 401, message: KEY_AUTH_MESSAGES.noKey, headers: { 'WWW-Authenticate': 'Key realm="test-realm"' } });
  });

  it('KA3: a key in the query authenticates; an unknown one → 401 Unauthorized', () => {
    expect(run(config(), { uri: '/status/200?apikey=kong' }).answered).toBeNull();
    expect(run(config(), { uri: '/status/200?apikey=123' }).answered).toMatchObject({ status: 401, message: 'Unauthorized' });
  });

  it('KA4: the key twice (query or header) → 401 Duplicate API key found', () => {
    expect(run(config(), { uri: '/?apikey=kong&apikey=kong' }).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.duplicate });
    expect(run(config(), { headers: { apikey: ['kong', 'kong'] } }).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.duplicate });
  });

  it('KA5: OPTIONS passes without a key only with run_on_preflight=false', () => {
    expect(run(config({ run_on_preflight: false }), { method: 'OPTIONS' }).answered).toBeNull();
    expect(run(config(), { method: 'OPTIONS' }).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.noKey });
  });

  it('KA6: key_names with `_` find the header sent with `_` or with `-`', () => {
    const cfg = config({ key_names: ['api_key'] });
    expect(run(cfg, { headers: { api_key: 'kong' } }).consumer?.username).toBe('bob');
    expect(run(cfg, { headers: { 'api-key': 'kong' } }).consumer?.username).toBe('bob');
  });

  it('KA7: a valid key sets the consumer, the credential and Kong\'s upstream headers (client-sent ones replaced)', () => {
    const ctx = run(config(), { headers: { apikey: 'kong', 'X-Consumer-ID': 'spoofed', 'X-Consumer-Custom-ID': 'spoofed', 'X-Anonymous-Consumer': 'true' } });
    expect(ctx.answered).toBeNull();
    expect(ctx.consumer).toEqual(BOB);
    expect(ctx.credential).toEqual({ id: CRED_ID, consumerId: BOB.id, identifier: CRED_ID });
    expect(ctx.upstreamHeader('x-consumer-id')).toBe(BOB.id);
    expect(ctx.upstreamHeader('x-consumer-username')).toBe('bob');
    expect(ctx.upstreamHeader('x-credential-identifier')).toBe(CRED_ID);
    expect(ctx.upstreamHeader('x-consumer-custom-id')).toBeUndefined();
    expect(ctx.upstreamHeader('x-anonymous-consumer')).toBeUndefined();
    // hide_credentials=false keeps the key.
    expect(ctx.upstreamHeader('apikey')).toBe('kong');
  });

  it('KA8: hide_credentials removes the query arg (order of the others kept) and the header', () => {
    const hidden = run(config({ hide_credentials: true }), { uri: '/request?c=value1&b=value2&apikey=kong&a=value3' });
    expect(hidden.upstreamQuery).toBe('c=value1&b=value2&a=value3');
    const kept = run(config(), { uri: '/request?c=value1&b=value2&apikey=kong&a=value3' });
    expect(kept.upstreamQuery).toBe('c=value1&b=value2&apikey=kong&a=value3');
    const header = run(config({ hide_credentials: true }), { headers: { apikey: 'kong' } });
    expect(header.consumer?.username).toBe('bob');
    expect(header.upstreamHeader('apikey')).toBeUndefined();
  });

  it('KA10: the first place that has the name wins, even with a wrong value; a bare `?apikey` is not a key', () => {
    expect(run(config(), { headers: { apikey: 'wrong' }, uri: '/?apikey=kong' }).answered).toMatchObject({ status: 401, message: 'Unauthorized' });
    expect(run(config({ key_in_header: false }), { headers: { apikey: 'wrong' }, uri: '/?apikey=kong' }).answered).toBeNull();
    expect(run(config({ key_in_query: false }), { uri: '/?apikey=kong' }).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.noKey });
    expect(run(config(), { uri: '/?apikey' }).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.noKey });
    // Names in order: the second name's key is used when the first is absent.
    expect(run(config({ key_names: ['first', 'second'] }), { headers: { second: 'kong' } }).consumer?.username).toBe('bob');
  });

  it('KA11: anonymous (id or username) lets a failed request through as the anonymous consumer', () => {
    for (const anonymous of [NOBODY.id, 'no-body']) {
      const ctx = run(config({ anonymous }), { headers: { apikey: 'wrong', 'X-Credential-Identifier': 'spoofed' } });
      expect(ctx.answered).toBeNull();
      expect(ctx.consumer).toEqual(NOBODY);
      expect(ctx.credential).toBeNull();
      expect(ctx.upstreamHeader('x-anonymous-consumer')).toBe('true');
      expect(ctx.upstreamHeader('x-consumer-username')).toBe('no-body');
      expect(ctx.upstreamHeader('x-consumer-custom-id')).toBe('nb-1');
      expect(ctx.upstreamHeader('x-credential-identifier')).toBeUndefined();
    }
    // Never by custom_id.
    expect(run(config({ anonymous: 'nb-1' }), {}).answered).toEqual({ status: 500, message: "anonymous consumer nb-1 is configured but doesn't exist", headers: undefined });
  });

  it('KA11: with anonymous, a request another plugin authenticated is left alone (logical OR)', () => {
    const ctx = new FakePluginContext({ consumers: directory() });
    ctx.authenticate(BOB, { id: 'other', consumerId: BOB.id, identifier: 'bob' });
    void new KeyAuthHandler(config({ anonymous: 'no-body' })).access(ctx);
    expect(ctx.answered).toBeNull();
    expect(ctx.credential?.id).toBe('other');
  });

  it('KA12: a key past its expires_at is as good as none', () => {
    let now = 1_000_000;
    const dir = directory(() => now);
    expect(run(config(), { headers: { apikey: 'short-lived' } }, dir).answered).toBeNull();
    now = 1_030_000;
    expect(run(config(), { headers: { apikey: 'short-lived' } }, dir).answered).toMatchObject({ status: 401, message: 'Unauthorized' });
  });

  it('refuses a config it cannot run (the apply then refuses the plugin entity)', () => {
    expect(() => keyAuthConfig({ key_names: 'apikey' })).toThrow(/key_names/);
    expect(() => keyAuthConfig({ hide_credentials: 'yes' })).toThrow(/hide_credentials/);
  });

  describe('key_in_body', () => {
    const inBody = config({ key_in_body: true });

    it('finds the key in an urlencoded, JSON or multipart body', async () => {
      expect((await runBody(inBody, { headers: FORM, body: 'a=1&apikey=kong' })).consumer?.username).toBe('bob');
      expect((await runBody(inBody, { headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"apikey":"kong"}' })).consumer?.username).toBe('bob');
      const multipart = '--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--XyZ\r\nContent-Disposition: form-data; name="apikey"\r\n\r\nkong\r\n--XyZ--\r\n';
      expect((await runBody(inBody, { headers: { 'content-type': 'multipart/form-data; boundary=XyZ' }, body: multipart })).consumer?.username).toBe('bob');
    });

    it('KA9: `apikey[]` or `apikey[1]` in a form body is not the key', async () => {
      for (const body of ['apikey[]=kong', 'apikey[1]=kong']) expect((await runBody(inBody, { headers: FORM, body })).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.noKey });
    });

    it('KA10: the header, then the query, then the body: the first that has the name wins', async () => {
      expect((await runBody(inBody, { headers: { ...FORM, apikey: 'wrong' }, body: 'apikey=kong' })).answered).toMatchObject({ status: 401, message: 'Unauthorized' });
      expect((await runBody(inBody, { headers: FORM, uri: '/?apikey=wrong', body: 'apikey=kong' })).answered).toMatchObject({ status: 401, message: 'Unauthorized' });
      expect((await runBody(config({ key_in_body: true, key_in_header: false, key_in_query: false }), { headers: { ...FORM, apikey: 'wrong' }, uri: '/?apikey=wrong', body: 'apikey=kong' })).answered).toBeNull();
      expect((await runBody(inBody, { headers: FORM, body: 'apikey=kong&apikey=kong' })).answered).toMatchObject({ status: 401, message: KEY_AUTH_MESSAGES.duplicate });
    });

    it('answers 400 Cannot process request body for a body Kong cannot parse (no or another Content-Type, bad JSON, too large)', async () => {
      for (const request of [{ body: 'apikey=kong' }, { headers: { 'content-type': 'text/plain' }, body: 'kong' }, { headers: { 'content-type': 'application/json' }, body: '{bad' }, { headers: FORM, body: 'apikey=kong', bodyLimitBytes: 4 }]) {
        expect((await runBody(inBody, request)).answered).toEqual({ status: 400, message: KEY_AUTH_MESSAGES.badBody, headers: undefined });
      }
    });

    it('hide_credentials re-serializes the body without the key', async () => {
      const cfg = config({ key_in_body: true, hide_credentials: true });
      const form = await runBody(cfg, { headers: FORM, body: 'a=1&apikey=kong&b=2' });
      expect(form.upstreamBody.toString()).toBe('a=1&b=2');
      expect(form.upstreamHeader('content-length')).toBe('7');
      const json = await runBody(cfg, { headers: { 'content-type': 'application/json' }, body: '{"apikey":"kong","x":[1]}' });
      expect(JSON.parse(json.upstreamBody.toString())).toEqual({ x: [1] });
      const multipart = '--B\r\nContent-Disposition: form-data; name="apikey"\r\n\r\nkong\r\n--B\r\nContent-Disposition: form-data; name="keep"\r\n\r\nme\r\n--B--\r\n';
      const parts = await runBody(cfg, { headers: { 'content-type': 'multipart/form-data; boundary=B' }, body: multipart });
      expect(parts.upstreamBody.toString()).toBe('--B\r\nContent-Disposition: form-data; name="keep"\r\n\r\nme\r\n--B--\r\n');
      // A key found in a header leaves the body alone.
      const header = await runBody(cfg, { headers: { ...FORM, apikey: 'kong' }, body: 'a=1' });
      expect(header.upstreamBody.toString()).toBe('a=1');
    });
  });
});
