import { describe, expect, it } from 'vitest';
import { fakeConsumerDirectory } from '../testing/fake-consumer-directory.js';
import { FakePluginContext } from '../testing/fake-plugin-context.js';
import { ACL_BLOCKED_MESSAGE, AclHandler, aclConfig, type AclConfig } from './handler.js';

// Kong's acl access spec (spec/03-plugins/18-acl/02-access_spec.lua, AC1–AC9 in kong-plugins.md
// §4.4): consumer1 has no groups, consumer2 = {admin}, consumer3 = {pro, hello}, anonymous = {anonymous}.

const C1 = { id: 'a0000000-0000-4000-8000-000000000001', username: 'consumer1' };
const C2 = { id: 'a0000000-0000-4000-8000-000000000002', username: 'consumer2' };
const C3 = { id: 'a0000000-0000-4000-8000-000000000003', username: 'consumer3' };
const ANON = { id: 'a0000000-0000-4000-8000-000000000004', username: 'anonymous' };

const directory = fakeConsumerDirectory({
  consumers: [C1, C2, C3, ANON],
  groups: { [C2.id]: ['admin'], [C3.id]: ['pro', 'hello'], [ANON.id]: ['anonymous'] },
});

function config(overrides: Partial<Record<keyof AclConfig, unknown>>): AclConfig {
  return aclConfig({ allow: null, deny: null, hide_groups_header: false, always_use_authenticated_groups: false, ...overrides });
}

/** Runs acl after an auth plugin authenticated `consumer` (with a credential unless anonymous). */
function run(cfg: AclConfig, consumer: typeof C1 | null, options: { isAnonymous?: boolean; credentialOnly?: boolean; headers?: Record<string, string> } = {}): FakePluginContext {
  const ctx = new FakePluginContext({ consumers: directory, headers: options.headers });
  if (consumer !== null) ctx.authenticate(consumer, options.isAnonymous ? null : { id: 'cred', consumerId: consumer.id, identifier: 'cred' });
  if (options.credentialOnly) ctx.credential = { id: 'cred', consumerId: 'x', identifier: 'cred' };
  new AclHandler(cfg).access(ctx);
  return ctx;
}

describe('acl', () => {
  it('AC1: no consumer and no credential → 401 Unauthorized, no WWW-Authenticate', () => {
    expect(run(config({ allow: ['admin'] }), null).answered).toEqual({ status: 401, message: 'Unauthorized', headers: undefined });
  });

  it('AC2: a credential but no consumer → 403', () => {
    expect(run(config({ allow: ['admin'] }), null, { credentialOnly: true }).answered).toMatchObject({ status: 403, message: ACL_BLOCKED_MESSAGE });
  });

  it('AC3, AC4: allow lets in a member with X-Consumer-Groups, blocks a consumer without groups', () => {
    expect(run(config({ allow: ['admin'] }), C1).answered).toMatchObject({ status: 403, message: ACL_BLOCKED_MESSAGE });
    const ctx = run(config({ allow: ['admin'] }), C2, { headers: { 'X-Consumer-Groups': 'spoofed' } });
    expect(ctx.answered).toBeNull();
    expect(ctx.upstreamHeader('x-consumer-groups')).toBe('admin');
    expect(ctx.upstreamHeader('x-authenticated-groups')).toBeUndefined();
    expect(run(config({ allow: ['admin'] }), C3).answered).toMatchObject({ status: 403 });
  });

  it('AC5: deny blocks members, lets in others (a consumer without groups too)', () => {
    expect(run(config({ deny: ['admin'] }), C1).answered).toBeNull();
    expect(run(config({ deny: ['admin'] }), C3).answered).toBeNull();
    expect(run(config({ deny: ['admin'] }), C2).answered).toMatchObject({ status: 403, message: ACL_BLOCKED_MESSAGE });
    // deny wins over allow when both are given (Kong's type = DENY when deny[1] exists).
    expect(run(config({ allow: ['admin'], deny: ['pro'] }), C2).answered).toBeNull();
  });

  it('AC6: hide_groups_header sends no groups header (and clears a client-sent one)', () => {
    const ctx = run(config({ allow: ['admin'], hide_groups_header: true }), C2, { headers: { 'X-Consumer-Groups': 'spoofed' } });
    expect(ctx.answered).toBeNull();
    expect(ctx.upstreamHeader('x-consumer-groups')).toBeUndefined();
  });

  it('AC7: the header carries all the consumer\'s groups, in creation order', () => {
    const ctx = run(config({ allow: ['hello', 'other'] }), C3);
    expect(ctx.answered).toBeNull();
    expect(ctx.upstreamHeader('x-consumer-groups')).toBe('pro, hello');
  });

  it('AC9: the anonymous consumer is judged by its own groups', () => {
    const ctx = run(config({ allow: ['anonymous'] }), ANON, { isAnonymous: true });
    expect(ctx.answered).toBeNull();
    expect(ctx.upstreamHeader('x-consumer-groups')).toBe('anonymous');
    // An anonymous consumer without groups under allow: 401 (no credential).
    expect(run(config({ allow: ['admin'] }), C1, { isAnonymous: true }).answered).toMatchObject({ status: 401 });
  });

  it('refuses a config with neither allow nor deny', () => {
    expect(() => config({})).toThrow(/at least one of these fields must be non-empty/);
    expect(() => config({ allow: 'admin' })).toThrow(/config.allow/);
  });
});
