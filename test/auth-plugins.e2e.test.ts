import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startControlPlane, startDataPlane, tempDir, waitFor, type ControlPlaneHandle, type DataPlaneHandle } from './support/processes.js';
import { startEchoUpstream } from './support/upstream.js';

// key-auth, basic-auth and acl through a real sluice-dp fed by a real sluice-cp: consumers,
// credentials and plugins created through the Admin API (configs written out in full, every Kong
// default, as the control plane will fill them), then real requests: Kong's 401/403 bodies and
// challenges, the consumer headers the upstream receives, precedence across scopes, and deltas
// that close and reopen routes only as intended.

const KEY_AUTH_DEFAULTS = { key_names: ['apikey'], hide_credentials: false, anonymous: null, key_in_header: true, key_in_query: true, key_in_body: false, run_on_preflight: true, realm: null };
const BASIC_AUTH_DEFAULTS = { anonymous: null, hide_credentials: false, realm: 'service' };
const ACL_DEFAULTS = { allow: null, deny: null, hide_groups_header: false, always_use_authenticated_groups: false };

describe('auth plugins through a real data plane', () => {
  const dirs = [tempDir('cp'), tempDir('dp'), tempDir('dp-workers')];
  let cp: ControlPlaneHandle;
  let dp: DataPlaneHandle;
  /** A second data plane running its proxy in two worker processes (each compiles the chains itself). */
  let workers: DataPlaneHandle;
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  const ids: Record<string, string> = {};

  /** Waits until the data plane serves config `version`. */
  async function propagated(version: number): Promise<void> {
    const wait = await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000&min_data_planes=2`);
    if (wait.body?.propagated !== true) throw new Error(`version ${version} did not reach the data plane: ${wait.text}`);
  }

  /** An Admin API call that must succeed; unless `isQuiet`, waits until the data plane serves the version it made. */
  async function admin(method: string, path: string, body?: unknown, isQuiet = false): Promise<any> {
    const res = await http(method, `${cp.admin}${path}`, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    if (!isQuiet) await propagated(Number(res.headers.get('x-sluice-config-version')));
    return res.body;
  }

  const proxy = (path: string, headers: Record<string, string> = {}) => http('GET', `${dp.proxy}${path}`, undefined, headers);

  beforeAll(async () => {
    upstream = await startEchoUpstream('echo');
    cp = await startControlPlane({ dataDir: dirs[0].path });
    [dp, workers] = await Promise.all([
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[1].path }),
      startDataPlane({ controlPlane: cp.cluster, cacheDir: dirs[2].path, args: ['--workers', '2'] }),
    ]);
    for (const d of [dp, workers]) await waitFor(async () => (await http('GET', `${d.status}/status/ready`)).status === 200, 'data plane ready');
    ids.service = (await admin('POST', '/services', { name: 'echo', url: upstream.url }, true)).id;
    for (const name of ['keyed', 'basic', 'members', 'open']) ids[name] = (await admin('POST', '/services/echo/routes', { name, paths: [`/${name}`] }, true)).id;
    ids.bob = (await admin('POST', '/consumers', { username: 'bob', custom_id: 'bob-1' }, true)).id;
    ids.alice = (await admin('POST', '/consumers', { username: 'alice' }, true)).id;
    ids.anon = (await admin('POST', '/consumers', { username: 'anonymous' }, true)).id;
    ids.bobKey = (await admin('POST', '/consumers/bob/key-auth', { key: 'bob-key' }, true)).id;
    ids.aliceKey = (await admin('POST', '/consumers/alice/key-auth', { key: 'alice-key' }, true)).id;
    // The control plane hashes clear-text passwords (scrypt); Kong's sha1 form is covered by the handler's tests.
    await admin('POST', '/consumers/bob/basic-auth', { username: 'bob-basic', password: 'kong' }, true);
    await admin('POST', '/consumers/alice/basic-auth', { username: 'alice-basic', password: 's3cret' }, true);
    await admin('POST', '/consumers/alice/acls', { group: 'admin' }, true);
    await admin('POST', '/consumers/bob/acls', { group: 'staff' }, true);
    await admin('POST', '/consumers/bob/acls', { group: 'pro' }, true);
    ids.keyedAuth = (await admin('POST', '/routes/keyed/plugins', { name: 'key-auth', config: KEY_AUTH_DEFAULTS }, true)).id;
    await admin('POST', '/routes/basic/plugins', { name: 'basic-auth', config: BASIC_AUTH_DEFAULTS }, true);
    await admin('POST', '/routes/members/plugins', { name: 'key-auth', config: KEY_AUTH_DEFAULTS }, true);
    ids.membersAcl = (await admin('POST', '/routes/members/plugins', { name: 'acl', config: { ...ACL_DEFAULTS, allow: ['admin'] } }, true)).id;
    const head = await http('GET', `${cp.admin}/clustering/status`);
    await propagated(head.body.config.version);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([dp?.proc.kill(), workers?.proc.kill(), cp?.proc.kill()]);
    await upstream?.close();
    for (const d of dirs) d.cleanup();
  });

  it('key-auth: 401 with Kong\'s body and challenge without a key or with a wrong one', async () => {
    const none = await proxy('/keyed');
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('No API key found in request');
    expect(none.body.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(none.headers.get('www-authenticate')).toBe('Key');
    const wrong = await proxy('/keyed?apikey=nope');
    expect(wrong.status).toBe(401);
    expect(wrong.body.message).toBe('Unauthorized');
    const twice = await proxy('/keyed?apikey=bob-key&apikey=bob-key');
    expect(twice.body.message).toBe('Duplicate API key found');
  });

  it('key-auth: a valid key reaches the upstream with Kong\'s consumer headers, spoofed ones replaced', async () => {
    const res = await proxy('/keyed/x?apikey=bob-key', { 'X-Consumer-Username': 'mallory', 'X-Anonymous-Consumer': 'true', 'X-Credential-Identifier': 'forged' });
    expect(res.status).toBe(200);
    const h = res.body.headers;
    expect(h['x-consumer-id']).toBe(ids.bob);
    expect(h['x-consumer-custom-id']).toBe('bob-1');
    expect(h['x-consumer-username']).toBe('bob');
    expect(h['x-credential-identifier']).toBe(ids.bobKey);
    expect(h['x-anonymous-consumer']).toBeUndefined();
    expect(res.body.url).toBe('/x?apikey=bob-key'); // strip_path; hide_credentials=false keeps the key
    const header = await proxy('/keyed', { apikey: 'alice-key' });
    expect(header.body.headers['x-consumer-username']).toBe('alice');
    expect(header.body.headers['x-consumer-custom-id']).toBeUndefined();
  });

  it('key-auth: hide_credentials takes the key out of the query (the other arguments in order) and the headers', async () => {
    await admin('POST', '/services/echo/routes', { name: 'hidden', paths: ['/hidden'] }, true);
    await admin('POST', '/routes/hidden/plugins', { name: 'key-auth', config: { ...KEY_AUTH_DEFAULTS, hide_credentials: true } });
    const res = await proxy('/hidden/x?c=1&apikey=bob-key&a=2');
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('/x?c=1&a=2');
    const header = await proxy('/hidden', { apikey: 'alice-key' });
    expect(header.status).toBe(200);
    expect(header.body.headers.apikey).toBeUndefined();
  });

  it('key-auth: key_in_body finds the key in a form body and hide_credentials takes it out', async () => {
    await admin('POST', '/services/echo/routes', { name: 'formkey', paths: ['/formkey'] }, true);
    await admin('POST', '/routes/formkey/plugins', { name: 'key-auth', config: { ...KEY_AUTH_DEFAULTS, key_in_body: true, hide_credentials: true } });
    const post = (body: string, contentType = 'application/x-www-form-urlencoded') =>
      fetch(`${dp.proxy}/formkey`, { method: 'POST', body, headers: { 'content-type': contentType }, signal: AbortSignal.timeout(10_000) });
    const ok = await post('a=1&apikey=bob-key&b=2');
    expect(ok.status).toBe(200);
    const echo = (await ok.json()) as { body: string; headers: Record<string, string> };
    expect(echo.body).toBe('a=1&b=2');
    expect(echo.headers['x-consumer-username']).toBe('bob');
    const bad = await post('apikey=bob-key', 'text/plain');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe('Cannot process request body');
  });

  it('basic-auth: Kong\'s sha1 hash verifies; failures get the Basic challenge', async () => {
    const none = await proxy('/basic');
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('Unauthorized');
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="service"');
    const wrong = await proxy('/basic', { authorization: `Basic ${Buffer.from('bob-basic:nope').toString('base64')}` });
    expect(wrong.status).toBe(401);
    const ok = await proxy('/basic', { authorization: `Basic ${Buffer.from('bob-basic:kong').toString('base64')}` });
    expect(ok.status).toBe(200);
    expect(ok.body.headers['x-consumer-username']).toBe('bob');
    expect(ok.body.headers['x-credential-identifier']).toBe('bob-basic');
    expect(ok.body.headers.authorization).toBe(`Basic ${Buffer.from('bob-basic:kong').toString('base64')}`);
  });

  it('basic-auth: a scrypt hash verifies (then from the verification cache); a wrong password still fails', async () => {
    const good = { authorization: `Basic ${Buffer.from('alice-basic:s3cret').toString('base64')}` };
    for (let i = 0; i < 2; i++) {
      const res = await proxy('/basic', good);
      expect(res.status).toBe(200);
      expect(res.body.headers['x-consumer-username']).toBe('alice');
    }
    expect((await proxy('/basic', { authorization: `Basic ${Buffer.from('alice-basic:guess').toString('base64')}` })).status).toBe(401);
  });

  it('proxy workers compile the same chains from the configs the primary forwards', async () => {
    const get = (path: string, headers: Record<string, string> = {}) => http('GET', `${workers.proxy}${path}`, undefined, headers);
    for (let i = 0; i < 4; i++) {
      expect((await get('/keyed')).status).toBe(401);
      const ok = await get('/keyed', { apikey: 'bob-key' });
      expect(ok.status).toBe(200);
      expect(ok.body.headers['x-consumer-id']).toBe(ids.bob);
      expect((await get('/members', { apikey: 'bob-key' })).status).toBe(403);
    }
  });

  it('acl: a member passes with X-Consumer-Groups; others get 403; no key gets key-auth\'s 401 first', async () => {
    const member = await proxy('/members', { apikey: 'alice-key', 'X-Consumer-Groups': 'spoofed' });
    expect(member.status).toBe(200);
    expect(member.body.headers['x-consumer-groups']).toBe('admin');
    const other = await proxy('/members', { apikey: 'bob-key' });
    expect(other.status).toBe(403);
    expect(other.body.message).toBe('You cannot consume this service');
    const none = await proxy('/members');
    expect(none.status).toBe(401);
    expect(none.body.message).toBe('No API key found in request');
  });

  it('precedence: a route instance beats a service instance, which beats a global one; a consumer-scoped acl never applies (no_consumer)', async () => {
    // Global: key-auth + acl allow {admin}. The open route is now closed to everyone but alice.
    const globalAuth = await admin('POST', '/plugins', { name: 'key-auth', config: KEY_AUTH_DEFAULTS });
    const globalAcl = await admin('POST', '/plugins', { name: 'acl', config: { ...ACL_DEFAULTS, allow: ['admin'] } });
    expect((await proxy('/open')).status).toBe(401);
    expect((await proxy('/open', { apikey: 'bob-key' })).status).toBe(403);
    expect((await proxy('/open', { apikey: 'alice-key' })).status).toBe(200);
    // Service: acl allow {staff} replaces the global acl for the service's routes.
    const serviceAcl = await admin('POST', '/services/echo/plugins', { name: 'acl', config: { ...ACL_DEFAULTS, allow: ['staff'] } });
    expect((await proxy('/open', { apikey: 'bob-key' })).status).toBe(200);
    expect((await proxy('/open', { apikey: 'alice-key' })).status).toBe(403);
    // Route: acl deny {pro} on /open replaces the service's there only.
    const routeAcl = await admin('POST', '/routes/open/plugins', { name: 'acl', config: { ...ACL_DEFAULTS, deny: ['pro'] } });
    expect((await proxy('/open', { apikey: 'bob-key' })).status).toBe(403);
    expect((await proxy('/open', { apikey: 'alice-key' })).status).toBe(200);
    // The route with its own acl keeps it (route beats service beats global).
    expect((await proxy('/members', { apikey: 'alice-key' })).status).toBe(200);
    // A consumer-scoped acl is never looked up for a no_consumer plugin (Kong drops the consumer id).
    const consumerAcl = await http('POST', `${cp.admin}/consumers/alice/plugins`, { name: 'acl', config: { ...ACL_DEFAULTS, allow: ['nobody'] } });
    if (consumerAcl.status === 201) {
      const version = Number(consumerAcl.headers.get('x-sluice-config-version'));
      await http('GET', `${cp.admin}/clustering/propagation/${version}?timeout_ms=15000&min_data_planes=1`);
      expect((await proxy('/open', { apikey: 'alice-key' })).status).toBe(200);
      await admin('DELETE', `/plugins/${consumerAcl.body.id}`);
    } else {
      expect(consumerAcl.status).toBe(400); // the control plane refuses the scope (once plugin schemas land)
    }
    // Disabling the route's acl falls back to the service's.
    await admin('PATCH', `/plugins/${routeAcl.id}`, { enabled: false });
    expect((await proxy('/open', { apikey: 'bob-key' })).status).toBe(200);
    expect((await proxy('/open', { apikey: 'alice-key' })).status).toBe(403);
    for (const p of [routeAcl, serviceAcl, globalAcl, globalAuth]) await admin('DELETE', `/plugins/${p.id}`);
    expect((await proxy('/open')).status).toBe(200);
  });

  it('a delta removing a plugin reopens only its route; removing a credential closes it for that key', async () => {
    await admin('DELETE', `/plugins/${ids.membersAcl}`);
    expect((await proxy('/members', { apikey: 'bob-key' })).status).toBe(200); // key-auth still there
    expect((await proxy('/members')).status).toBe(401);
    await admin('DELETE', `/plugins/${ids.keyedAuth}`);
    expect((await proxy('/keyed')).status).toBe(200);
    expect((await proxy('/basic')).status).toBe(401); // the other routes keep their plugins
    await admin('DELETE', `/key-auths/${ids.bobKey}`);
    expect((await proxy('/members', { apikey: 'bob-key' })).status).toBe(401);
    expect((await proxy('/members', { apikey: 'alice-key' })).status).toBe(200);
  });

  it('anonymous: a failed key-auth lets the request through as the anonymous consumer', async () => {
    const plugin = await admin('POST', '/routes/keyed/plugins', { name: 'key-auth', config: { ...KEY_AUTH_DEFAULTS, anonymous: 'anonymous' } });
    const res = await proxy('/keyed', { 'X-Credential-Identifier': 'forged' });
    expect(res.status).toBe(200);
    expect(res.body.headers['x-anonymous-consumer']).toBe('true');
    expect(res.body.headers['x-consumer-id']).toBe(ids.anon);
    expect(res.body.headers['x-credential-identifier']).toBeUndefined();
    await admin('PATCH', `/plugins/${plugin.id}`, { config: { ...KEY_AUTH_DEFAULTS, anonymous: 'ghost' } });
    const missing = await proxy('/keyed');
    expect(missing.status).toBe(500);
    expect(missing.body.message).toBe("anonymous consumer ghost is configured but doesn't exist");
  });
});
