/**
 * The data-plane registry's write-behind: local records change in memory at once and reach the
 * database in batches (one statement per batch, at most one flush per interval), and every
 * replica's view of another's data planes is at most that stale.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/processes.js';
import type { Store } from '../src/store/index.js';
import type { DataPlaneRecord } from '../src/stream/data-plane-record.js';
import { DataPlaneRegistry } from '../src/stream/data-plane-registry.js';
import { silentLogger } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';

describeEachDatabase('data-plane registry writes', (env) => {
  let store: Store;
  const registries: DataPlaneRegistry[] = [];

  beforeAll(async () => {
    store = await env.openStore();
  });

  afterEach(async () => {
    for (const r of registries.splice(0)) await r.close();
    await env.reset();
    await store.db.deleteFrom('data_planes' as never).execute();
  });

  const registry = (options: Partial<ConstructorParameters<typeof DataPlaneRegistry>[0]> = {}) => {
    const r = new DataPlaneRegistry({ db: store.db, logger: silentLogger, cpInstanceId: randomUUID(), staleAfterMs: 15_000, ...options });
    registries.push(r);
    return r;
  };

  let connectedAt = 1;
  const record = (r: DataPlaneRegistry, patch: Partial<DataPlaneRecord> = {}): DataPlaneRecord => ({
    id: randomUUID(),
    hostname: 'dp',
    ip: '127.0.0.1',
    buildVersion: 'test',
    protocolVersion: 1,
    labels: { zone: 'a' },
    cpInstanceId: r.cpInstanceId,
    connected: true,
    connectedAt: connectedAt++,
    lastSeen: Date.now(),
    appliedEpoch: 'e1',
    appliedVersion: 1,
    appliedHash: 'aa',
    lastError: null,
    lastErrorCode: null,
    rejectedVersion: null,
    incompatible: false,
    pluginIncompatibility: null,
    ...patch,
  });

  it('folds Acks into memory at once and writes the changed rows in one statement per batch, one flush per interval', async () => {
    const a = registry({ flushIntervalMs: 60_000, flushBatchRows: 40 });
    const changes: DataPlaneRecord[] = [];
    a.on('change', (r) => changes.push(r));
    const records = Array.from({ length: 100 }, () => record(a));
    for (const r of records) a.update(r);
    // The first change after a quiet interval is written at once; the rest wait for the next flush.
    await waitFor(() => a.writeStats.batches === 1, 'the first flush');
    expect(a.writeStats.rows).toBe(1);
    // Three Acks per data plane: in memory at once, coalesced in the database.
    for (let version = 2; version <= 4; version++) for (const r of records) a.update({ ...r, appliedVersion: version });
    expect(changes).toHaveLength(100 + 300);
    expect(a.get(records[7].id)?.appliedVersion).toBe(4);
    expect((await a.list()).map((r) => r.appliedVersion)).toEqual(Array(100).fill(4));
    expect(a.writeStats.batches).toBe(1);

    await a.settle();
    expect(a.writeStats).toEqual({ batches: 1 + 3, rows: 1 + 100 });
    const other = registry();
    const rows = await other.list();
    expect(rows).toHaveLength(100);
    expect(rows.every((r) => r.appliedVersion === 4 && r.connected)).toBe(true);
  });

  it("shows another replica's data planes as their rows are written, at most one flush interval late", async () => {
    const a = registry({ flushIntervalMs: 200 });
    const b = registry({ flushIntervalMs: 200 });
    const dp = record(a);
    a.update(dp);
    await waitFor(async () => (await b.list({ elsewhere: true })).length === 1, "a's data plane on b");
    const acked = Date.now();
    a.update({ ...dp, appliedVersion: 9 });
    a.update({ ...dp, appliedVersion: 10 });
    await waitFor(async () => (await b.list({ elsewhere: true }))[0]?.appliedVersion === 10, 'the Ack on b', 5_000, 10);
    expect(Date.now() - acked).toBeLessThan(200 + 1_000);
    // A replica's own data planes are not "elsewhere"; its disconnection is written too.
    expect(await a.list({ elsewhere: true })).toEqual([]);
    a.disconnected(dp.id, dp.connectedAt);
    await waitFor(async () => (await b.list({ elsewhere: true })).length === 0, 'the disconnection on b');
    expect((await b.list())[0]).toMatchObject({ id: dp.id, connected: false, appliedVersion: 10 });
  });

  it('never marks disconnected a row that another replica took over', async () => {
    const a = registry();
    const b = registry();
    const dp = record(a);
    a.update(dp);
    await a.settle();
    // The node reconnects to b before a learns that its connection is gone.
    b.update({ ...dp, cpInstanceId: b.cpInstanceId, connectedAt: dp.connectedAt! + 1000, appliedVersion: 2 });
    await b.settle();
    a.disconnected(dp.id, dp.connectedAt);
    await a.settle();
    expect((await registry().list())[0]).toMatchObject({ id: dp.id, connected: true, cpInstanceId: b.cpInstanceId, appliedVersion: 2 });
  });
});
