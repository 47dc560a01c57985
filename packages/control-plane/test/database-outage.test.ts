import { randomBytes } from 'node:crypto';
import type { AnyEntity } from '@sluice/protocol';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigMirror } from '../src/changes/config-mirror.js';
import { MirrorEntityReader } from '../src/changes/mirror-entity-reader.js';
import { ControlPlane } from '../src/control-plane.js';
import { DatabaseUnavailableError } from '../src/errors.js';
import { type Page, type PageQuery, type Store, CONFIG_CHANNEL, LISTEN_APPLICATION_NAME, POOL_APPLICATION_NAME, openStore } from '../src/store/index.js';
import { NotificationListener } from '../src/store/notification-listener.js';
import { buildTestAdmin, silentLogger, type TestAdmin } from './support/admin.js';
import { TcpRelay } from './support/tcp-relay.js';

const serverUrl = process.env.SLUICE_TEST_DATABASE_URL;

/** Short bounds, so each outage answers in about a second. */
const TIMEOUTS = { connectTimeoutMs: 1_000, statementTimeoutMs: 1_000, transactionTimeoutMs: 2_000 };
/** The client-side grace past a server-side bound (CLIENT_TIMEOUT_GRACE_MS), plus room for a loaded machine. */
const SLACK_MS = 1_500;

async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The control plane against a real PostgreSQL through a TCP relay the test refuses, cuts and
// hangs; a second store on the same database (not through the relay) plays another replica and
// checks what was committed. Guards issue 12: 500s and crashes on an unhandled pooled-connection
// 'error', hangs as long as the database, writes committed after their client was told no.
describe.skipIf(!serverUrl)('database outages [postgres]', () => {
  const databaseName = `sluice_outage_${randomBytes(6).toString('hex')}`;
  let directUrl: string;
  let relay: TcpRelay;
  let cp: ControlPlane;
  let admin: string;
  let direct: Store;
  let directAdmin: TestAdmin;
  let superuser: pg.Client;

  const http = async (method: string, path: string, body?: unknown, signal?: AbortSignal) => {
    const started = Date.now();
    const res = await fetch(`${admin}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal ?? AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text, ms: Date.now() - started };
  };
  const head = () => direct.readHead();
  const storedNames = async () => (await direct.page('services', { size: 1000 })).data.map((s) => s.name).sort();
  /** Terminates this control plane's backends whose query matches, from another connection. */
  const terminate = async (where: string) =>
    (await superuser.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and ${where}`, [databaseName])).rowCount;

  beforeAll(async () => {
    superuser = new pg.Client({ connectionString: serverUrl });
    await superuser.connect();
    await superuser.query(`create database ${databaseName}`);
    const u = new URL(serverUrl!);
    u.pathname = `/${databaseName}`;
    directUrl = u.toString();
    relay = await TcpRelay.start({ host: u.hostname, port: Number(u.port || 5432) });
    const viaRelay = new URL(directUrl);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    direct = await openStore({ databaseUrl: directUrl });
    directAdmin = await buildTestAdmin(direct);
    cp = new ControlPlane({
      logger: silentLogger,
      adminListen: { host: '127.0.0.1', port: 0 },
      clusterListen: { host: '127.0.0.1', port: 0 },
      databaseUrl: viaRelay.toString(),
      databaseTimeouts: TIMEOUTS,
      // Long on purpose: catching up after an outage must come from the LISTEN coming back, not a poll.
      changePollIntervalMs: 30_000,
    });
    const addresses = await cp.start();
    admin = `http://127.0.0.1:${addresses.admin.port}`;
    await cp.store.whenListening();
    expect((await http('POST', '/services', { name: 's1', url: 'http://a.test', tags: ['t1'] })).status).toBe(201);
    expect((await http('POST', '/services/s1/routes', { name: 'r1', paths: ['/r1'] })).status).toBe(201);
    const { version } = await direct.readHead();
    await waitFor(async () => (await http('GET', '/status')).body.config.version === version, 'the mirror at the head');
  }, 60_000);

  afterEach(async () => {
    if (relay.mode !== 'forward') await relay.restore();
    await waitFor(() => cp.store.health.isReachable, 'the database reachable again');
  });

  afterAll(async () => {
    await cp?.stop();
    await directAdmin?.app.close();
    await direct?.close();
    await relay?.close();
    await superuser?.query(`drop database if exists ${databaseName} with (force)`);
    await superuser?.end();
  });

  it('refused: writes answer 503 and write nothing, reads come from memory marked stale, status answers, and it recovers by itself', async () => {
    const before = await head();
    await relay.refuse();
    const refused = await http('POST', '/services', { name: 's2', url: 'http://b.test' });
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ message: 'database unavailable' });
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.ms).toBeLessThan(TIMEOUTS.connectTimeoutMs + SLACK_MS);
    for (const [method, path, body] of [
      ['PATCH', '/services/s1', { retries: 3 }],
      ['PUT', '/services/s3', { url: 'http://c.test' }],
      ['DELETE', '/routes/r1', undefined],
      ['POST', '/services/s1/routes', { paths: ['/x'] }],
    ] as const) {
      const res = await http(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body).toEqual({ message: 'database unavailable' });
    }

    const list = await http('GET', '/services');
    expect(list.status).toBe(200);
    expect(list.headers.get('x-sluice-stale')).toBe('true');
    expect(list.headers.get('x-sluice-config-version')).toBe(String(before.version));
    expect(list.body.data.map((s: { name: string }) => s.name)).toEqual(['s1']);
    expect((await http('GET', '/services/s1')).body).toMatchObject({ name: 's1', host: 'a.test', tags: ['t1'] });
    const byTag = await http('GET', '/services?tags=t1');
    expect([byTag.status, byTag.headers.get('x-sluice-stale'), byTag.body.data.length]).toEqual([200, 'true', 1]);
    expect((await http('GET', '/services?tags=other')).body.data).toEqual([]);
    const nested = await http('GET', '/services/s1/routes');
    expect([nested.status, nested.headers.get('x-sluice-stale')]).toEqual([200, 'true']);
    expect(nested.body.data.map((r: { name: string }) => r.name)).toEqual(['r1']);
    expect((await http('GET', '/routes/r1/service')).body.name).toBe('s1');
    const missing = await http('GET', '/services/nope');
    expect([missing.status, missing.headers.get('x-sluice-stale')]).toEqual([404, 'true']);

    const status = await http('GET', '/status');
    expect(status.status).toBe(200);
    expect(status.body.database).toMatchObject({ reachable: false, fault: 'connection' });
    expect(status.body.config).toEqual({ epoch: before.epoch, version: before.version });
    const clustering = await http('GET', '/clustering/status');
    expect([clustering.status, clustering.body.database.reachable, clustering.body.config.version]).toEqual([200, false, before.version]);
    const fleet = await http('GET', '/clustering/data-planes');
    expect([fleet.status, fleet.headers.get('x-sluice-stale')]).toEqual([200, 'true']);
    const metrics = (await http('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^sluice_cp_database_reachable 0$/m);
    expect(metrics).toMatch(/^sluice_cp_admin_requests_total\{method="POST",status="503"\} [1-9]/m);
    expect(metrics).toMatch(/^sluice_cp_admin_stale_reads_total [1-9]/m);
    expect(metrics).toMatch(/^sluice_cp_admin_write_duration_seconds_count\{method="POST",result="unavailable"\} [1-9]/m);
    expect(metrics).toMatch(/^sluice_cp_database_faults_total [1-9]/m);
    expect(metrics).toMatch(/^sluice_cp_database_pool_connections\{state="waiting"\} 0$/m);
    expect(metrics).toMatch(/^sluice_cp_change_log_read_age_seconds /m);

    // Another replica writes while this one is cut off: its changes are what must be caught up.
    expect((await directAdmin.json('POST', '/services', { name: 'elsewhere', url: 'http://e.test' })).statusCode).toBe(201);
    expect((await directAdmin.json('PATCH', '/services/s1', { retries: 7 })).statusCode).toBe(200);
    const after = await head();
    expect(after.version).toBe(before.version + 2);
    expect(await storedNames()).toEqual(['elsewhere', 's1']);

    await relay.restore();
    await waitFor(async () => (await http('GET', '/status')).body.database.reachable === true, 'status to see the database again');
    await waitFor(() => cp.store.isListening, 'LISTEN re-established');
    await waitFor(async () => (await http('GET', '/status')).body.config.version === after.version, 'the missed changes read from the change log');
    const fresh = await http('GET', '/services');
    expect(fresh.headers.get('x-sluice-stale')).toBeNull();
    expect(fresh.body.data.map((s: { name: string }) => s.name).sort()).toEqual(['elsewhere', 's1']);
    expect((await http('GET', '/services/s1')).body.retries).toBe(7);
    // Nothing lost, nothing twice: every version once, in order.
    const log = await direct.readChanges(0, after.version);
    expect([...new Set(log.map((c) => c.version))]).toEqual(Array.from({ length: after.version }, (_, i) => i + 1));
    expect((await http('POST', '/services', { name: 's2', url: 'http://b.test' })).status).toBe(201);
    expect((await http('GET', '/metrics')).body).toMatch(/^sluice_cp_database_listening 1$/m);
  }, 30_000);

  it('terminated mid-query, mid-transaction, mid-LISTEN and while idle: 503 or retried, never a crash, never half a write', async () => {
    // Mid-query: a statement on the pool whose backend is terminated while it runs.
    // Settled into a value at once: a rejection must not wait for a handler (an unhandled rejection).
    const query = sql`select pg_sleep(5)`.execute(cp.store.db).catch((err: unknown) => err);
    await waitFor(async () => (await terminate(`application_name = '${POOL_APPLICATION_NAME}' and query like 'select pg_sleep%'`)) === 1, 'the sleeping backend');
    expect(await query).toBeInstanceOf(DatabaseUnavailableError);

    // Mid-transaction: the entity row is written, then the backend dies before COMMIT.
    const before = await head();
    const write = cp.store.write(async (w) => {
      const created = await w.insert('services', { ...(await direct.find('services', { field: 'name', value: 's1' }))!, id: '00000000-0000-4000-8000-0000000000a1', name: 'half' });
      await sql`select pg_sleep(5)`.execute(w.trx);
      return created;
    }).catch((err: unknown) => err);
    await waitFor(async () => (await terminate(`application_name = '${POOL_APPLICATION_NAME}' and query like 'select pg_sleep%'`)) === 1, 'the writing backend');
    expect(await write).toBeInstanceOf(DatabaseUnavailableError);
    expect(await direct.find('services', { field: 'name', value: 'half' })).toBeNull();
    expect((await head()).version).toBe(before.version);

    // Mid-LISTEN: the listening connection is terminated; it comes back, and its NOTIFYs wake the mirror.
    const listenPid = async () => (await superuser.query(`select pid from pg_stat_activity where datname = $1 and application_name = $2`, [databaseName, LISTEN_APPLICATION_NAME])).rows[0]?.pid;
    const oldPid = await waitFor(listenPid, 'the listening backend');
    expect(await terminate(`application_name = '${LISTEN_APPLICATION_NAME}'`)).toBe(1);
    await waitFor(async () => {
      const pid = await listenPid();
      return pid !== undefined && pid !== oldPid && cp.store.isListening;
    }, 'a new LISTEN');
    const notified = await directAdmin.json('POST', '/services', { name: 'notified', url: 'http://n.test' });
    const version = Number(notified.headers['x-sluice-config-version']);
    // The poll is 30 s: reaching it sooner is the NOTIFY on the new LISTEN.
    await waitFor(async () => (await http('GET', '/status')).body.config.version === version, 'the notified version', 5_000);

    // Idle pooled connections terminated: the pool drops them, the next request gets a fresh one.
    await terminate(`application_name = '${POOL_APPLICATION_NAME}' and state = 'idle'`);
    expect((await http('GET', '/services/notified')).status).toBe(200);

    // Under write load, every backend terminated again and again: only 201s and 503s, and every 201 committed.
    const results: { name: string; status: number }[] = [];
    let stop = false;
    const writer = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const name = `load-${n}-${i}`;
        results.push({ name, status: (await http('POST', '/services', { name, url: 'http://l.test' })).status });
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    for (let round = 0; round < 10; round++) {
      await waitFor(() => results.length >= round * 5, 'writes between terminations');
      await terminate(`application_name like 'sluice-cp%'`);
    }
    stop = true;
    await Promise.all(writers);
    expect(results.filter((r) => r.status !== 201 && r.status !== 503)).toEqual([]);
    expect(results.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    const stored = new Set(await storedNames());
    for (const r of results) if (r.status === 201) expect(stored.has(r.name), r.name).toBe(true);
    expect((await http('POST', '/services', { name: 'after-load', url: 'http://l.test' })).status).toBe(201);
  }, 30_000);

  it('hung: a write answers 503 within the transaction timeout and is never committed later; /status never waits', async () => {
    const before = await head();
    relay.hang();
    // The fleet is in the database: asked first, then, after at most FLEET_READ_TIMEOUT_MS, memory answers.
    const fleet = await http('GET', '/clustering/status');
    expect([fleet.status, fleet.headers.get('x-sluice-stale')]).toEqual([200, 'true']);
    expect(fleet.ms).toBeLessThan(1_000 + SLACK_MS);
    const write = http('POST', '/services', { name: 'hung', url: 'http://h.test' });
    // While the write hangs, /status answers at once, from memory.
    const status = await http('GET', '/status');
    expect(status.status).toBe(200);
    expect(status.ms).toBeLessThan(500);
    const answered = await write;
    expect(answered.status).toBe(503);
    expect(answered.body).toEqual({ message: 'database unavailable' });
    expect(answered.ms).toBeLessThan(TIMEOUTS.transactionTimeoutMs + SLACK_MS);
    expect((await http('GET', '/status')).body.database).toMatchObject({ reachable: false, fault: 'timeout' });
    const stale = await http('GET', '/services/s1');
    expect([stale.status, stale.headers.get('x-sluice-stale')]).toEqual([200, 'true']);
    expect(stale.ms).toBeLessThan(500);
    // The network heals: everything held reaches the database, the abandoned connections' FINs too.
    await relay.restore();
    await waitFor(() => relay.orphans === 0, 'the abandoned connections to close');
    expect(await direct.find('services', { field: 'name', value: 'hung' })).toBeNull();
    expect((await head()).version).toBe(before.version);
  }, 30_000);

  it('a COMMIT delivered after the transaction timeout is rolled back by the database, not committed late', async () => {
    // Control: a COMMIT held briefly (within the timeout) commits.
    relay.holdMatching('commit');
    const quick = http('POST', '/services', { name: 'held-briefly', url: 'http://q.test' });
    await waitFor(() => relay.heldMatches === 1, 'the COMMIT held');
    await relay.restore();
    expect((await quick).status).toBe(201);

    const before = await head();
    relay.holdMatching('commit');
    const late = await http('POST', '/services', { name: 'late', url: 'http://l.test' });
    expect(relay.heldMatches).toBe(2);
    expect(late.status).toBe(503);
    expect(late.ms).toBeLessThan(TIMEOUTS.transactionTimeoutMs + SLACK_MS);
    // Now the COMMIT arrives, after the client was answered: the database refuses it.
    await relay.restore();
    await waitFor(() => relay.orphans === 0, 'the held connection to be processed and closed');
    expect(await direct.find('services', { field: 'name', value: 'late' })).toBeNull();
    expect((await head()).version).toBe(before.version);
  }, 30_000);

  it('a write whose client has gone is rolled back, even when the database comes back before its timeout', async () => {
    const before = await head();
    // Hold the write at its version bump, past its entity row.
    relay.holdMatching('update config_state');
    await expect(http('POST', '/services', { name: 'gone', url: 'http://g.test' }, AbortSignal.timeout(300))).rejects.toThrow();
    // The control plane cuts the write's connection when its client goes; a client hanging up says
    // nothing about the database, which stays reachable.
    await waitFor(() => relay.orphans === 1, 'the write connection cut');
    expect(cp.store.health.isReachable).toBe(true);
    await relay.restore();
    await waitFor(() => relay.orphans === 0, 'the held statement processed and the connection closed');
    expect(await direct.find('services', { field: 'name', value: 'gone' })).toBeNull();
    expect((await head()).version).toBe(before.version);
    expect((await http('POST', '/services', { name: 'back', url: 'http://g.test' })).status).toBe(201);
  }, 30_000);
  it('a LISTEN connection that dies silently (the network hangs) is found by its probe and replaced', async () => {
    const own = await TcpRelay.start({ host: new URL(directUrl).hostname, port: Number(new URL(directUrl).port || 5432) });
    const viaOwn = new URL(directUrl);
    viaOwn.hostname = '127.0.0.1';
    viaOwn.port = String(own.port);
    const payloads: string[] = [];
    let relistened = 0;
    const listener = new NotificationListener({
      connectionString: viaOwn.toString(),
      channel: CONFIG_CHANNEL,
      onNotification: (payload) => payloads.push(payload),
      onRelisten: () => relistened++,
      timeouts: { connectTimeoutMs: 500, statementTimeoutMs: 300 },
      probeIntervalMs: 200,
    });
    try {
      listener.start();
      await listener.listening;
      own.hang();
      // Nothing tells the client the connection is dead; its probe goes unanswered and it is cut.
      await waitFor(() => !listener.isListening, 'the silent connection dropped');
      await own.restore();
      await waitFor(() => relistened === 1 && listener.isListening, 'a new LISTEN');
      const notifier = new pg.Client({ connectionString: directUrl });
      await notifier.connect();
      await notifier.query(`select pg_notify($1, '4242')`, [CONFIG_CHANNEL]);
      await notifier.end();
      await waitFor(() => payloads.includes('4242'), 'the notification on the new LISTEN');
    } finally {
      await listener.close();
      await own.close();
    }
  });

  it('closing while the database hangs takes the connect timeout, not as long as the database', async () => {
    const own = await TcpRelay.start({ host: new URL(directUrl).hostname, port: Number(new URL(directUrl).port || 5432) });
    const viaOwn = new URL(directUrl);
    viaOwn.hostname = '127.0.0.1';
    viaOwn.port = String(own.port);
    try {
      const store = await openStore({ databaseUrl: viaOwn.toString(), timeouts: TIMEOUTS, skipMigrations: true });
      await store.whenListening();
      await store.readHead();
      own.hang();
      const started = Date.now();
      await store.close();
      expect(Date.now() - started).toBeLessThan(2 * TIMEOUTS.connectTimeoutMs + SLACK_MS);
    } finally {
      await own.close();
    }
  });

  // Last: its fixtures and its mirror's LISTEN would change what the tests above count.
  it('memory answers every entity read exactly as the database does (what a stale read serves)', async () => {
    for (let i = 0; i < 7; i++) {
      const tags = [i % 2 ? 'odd' : 'even', ...(i % 3 === 0 ? ['three'] : [])];
      expect((await directAdmin.json('POST', '/services', { name: `m${i}`, url: `http://m${i}.test`, tags })).statusCode).toBe(201);
      expect((await directAdmin.json('POST', `/services/m${i}/routes`, { name: `mr${i}`, paths: [`/m${i}`], tags })).statusCode).toBe(201);
      expect((await directAdmin.json('POST', '/consumers', { username: `u${i}`, custom_id: `c${i}`, tags })).statusCode).toBe(201);
    }
    const mirror = new ConfigMirror({ source: direct, logger: silentLogger, pollIntervalMs: 60_000 });
    await mirror.start();
    try {
      const memory = new MirrorEntityReader(mirror);
      const m3 = (await direct.find('services', { field: 'name', value: 'm3' }))!;
      const queries: [kind: 'services' | 'routes' | 'consumers', query: Omit<PageQuery, 'size'>][] = [
        ['services', {}],
        ['services', { tags: { mode: 'and', tags: ['odd'] } }],
        ['services', { tags: { mode: 'and', tags: ['odd', 'three'] } }],
        ['services', { tags: { mode: 'or', tags: ['three', 'nope'] } }],
        ['routes', { where: { field: 'service', value: m3.id } }],
        ['routes', { tags: { mode: 'and', tags: ['even'] } }],
        ['consumers', { where: { field: 'custom_id', value: 'c4' } }],
        ['consumers', {}],
      ];
      for (const [kind, query] of queries) {
        // Walk every page of size 2 from both, page by page.
        let afterId: string | null = null;
        for (;;) {
          const fromDb: Page<AnyEntity> = await direct.page(kind, { ...query, size: 2, afterId });
          const fromMemory: Page<AnyEntity> = await memory.page(kind, { ...query, size: 2, afterId });
          expect(fromMemory, `${kind} ${JSON.stringify(query)} after ${afterId}`).toEqual(fromDb);
          if (!fromDb.hasMore) break;
          afterId = fromDb.data[fromDb.data.length - 1].id;
        }
      }
      for (const [kind, key] of [
        ['services', { id: m3.id }],
        ['services', { id: m3.id.toUpperCase() }],
        ['services', { field: 'name', value: 'm5' }],
        ['services', { field: 'name', value: 'missing' }],
        ['routes', { field: 'name', value: 'mr2' }],
        ['consumers', { field: 'username', value: 'u6' }],
        ['consumers', { field: 'custom_id', value: 'c1' }],
      ] as const) {
        expect(await memory.find(kind, key), `${kind} ${JSON.stringify(key)}`).toEqual(await direct.find(kind, key));
      }
    } finally {
      mirror.stop();
    }
  });
});
