import { randomUUID } from 'node:crypto';
import { type Service, prepareService } from '@sluice/protocol';
import { expect, it } from 'vitest';
import { KongDaoError } from '../src/errors.js';
import type { Store } from '../src/store/index.js';
import { describeEachDatabase } from './support/databases.js';

function service(name: string | null, extra: Record<string, unknown> = {}): Service {
  const prepared = prepareService({ name, host: 'example.com', ...extra }, { mode: 'create', now: 1_700_000_000, newId: randomUUID() });
  if (!prepared.ok) throw new Error(JSON.stringify(prepared.errors));
  return prepared.entity;
}

/** Resolves with the first version notified at or above `version`. */
function waitForNotification(store: Store, version: number): Promise<number> {
  return new Promise((resolve) => {
    const off = store.onConfigChange((v) => {
      if (v >= version) {
        off();
        resolve(v);
      }
    });
  });
}

describeEachDatabase('store', (env) => {
  it('migrates once when two processes start at the same time against one database', async () => {
    const [a, b] = await Promise.all([env.openStore(), env.openReplica()]);
    const [ha, hb] = await Promise.all([a.readHead(), b.readHead()]);
    expect(ha).toEqual(hb);
    expect(ha.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(await a.ping()).toBe(true);
    const third = await env.openReplica();
    expect((await third.readHead()).epoch).toBe(ha.epoch);
  });

  it('records each write as one version with one change per entity, and notifies it', async () => {
    await env.reset();
    const store = await env.openStore();
    const before = await store.readHead();
    const notified = waitForNotification(store, before.version + 1);
    await store.whenListening();
    const s1 = service('one');
    const s2 = service('two');
    const { version, isChanged } = await store.write(async (w) => {
      await w.insert('services', s1);
      await w.insert('services', s2);
    });
    expect(isChanged).toBe(true);
    expect(version).toBe(before.version + 1);
    expect(await notified).toBe(version);
    const changes = await store.readChanges(before.version, version);
    expect(changes.map((c) => [c.version, c.seq, c.entityType, c.entityId, c.op])).toEqual([
      [version, 0, 'services', s1.id, 'upsert'],
      [version, 1, 'services', s2.id, 'upsert'],
    ]);
    expect(changes[0]?.entity).toEqual(s1);

    const deleted = await store.write((w) => w.delete('services', s1.id));
    expect(deleted.result).toBe(true);
    expect(await store.readChanges(version, deleted.version)).toEqual([
      { version: version + 1, seq: 0, entityType: 'services', entityId: s1.id, op: 'delete', entity: null },
    ]);
    const missing = await store.write((w) => w.delete('services', s1.id));
    expect(missing).toMatchObject({ result: false, isChanged: false, version: version + 1 });

    // What a follower reads on a wake-up: the head and what follows its version, in one statement.
    const together = await store.readHeadAndChanges(before.version);
    expect(together.head).toEqual(await store.readHead());
    expect(together.changes).toEqual(await store.readChanges(before.version, version + 1));
    expect(together.changes.map((c) => [c.version, c.seq])).toEqual([
      [version, 0],
      [version, 1],
      [version + 1, 0],
    ]);
    expect(await store.readHeadAndChanges(version + 1)).toEqual({ head: together.head, changes: [] });

    const snapshot = await store.loadSnapshot();
    expect(snapshot.head.version).toBe(version + 1);
    expect(snapshot.entities.services).toEqual([s2]);
    expect(snapshot.entities.routes).toEqual([]);
  });

  it('rolls back a failed write entirely: no rows, no version', async () => {
    await env.reset();
    const store = await env.openStore();
    await store.write((w) => w.insert('services', service('taken')));
    const head = await store.readHead();
    const attempt = store.write(async (w) => {
      await w.insert('services', service('fresh'));
      await w.insert('services', service('taken'));
    });
    await expect(attempt).rejects.toBeInstanceOf(KongDaoError);
    await expect(attempt).rejects.toMatchObject({ kongCode: 5, message: `UNIQUE violation detected on '{name="taken"}'` });
    const afterHook = store.write(
      (w) => w.insert('services', service('late')),
      {
        beforeCommit: async () => {
          throw new Error('deliberate');
        },
      },
    );
    await expect(afterHook).rejects.toThrow('deliberate');
    expect(await store.readHead()).toEqual(head);
    expect((await store.loadSnapshot()).entities.services.map((s) => s.name)).toEqual(['taken']);
  });

  it('keeps versions unique and gap-free under concurrent writers on two replicas, and a tailing reader never skips one', async () => {
    await env.reset();
    const replicaA = await env.openStore();
    const replicaB = await env.openReplica();
    const reader = await env.openReplica();
    const WORKERS_PER_REPLICA = 4;
    const WRITES_PER_WORKER = 12;
    const committed: number[] = [];
    let rolledBack = 0;

    const worker = async (store: Store, workerId: string): Promise<void> => {
      for (let i = 0; i < WRITES_PER_WORKER; i++) {
        const kind = i % 4;
        try {
          const res = await store.write(
            async (w) => {
              await w.insert('services', service(`${workerId}-${i}`));
              if (kind === 1) await w.insert('services', service(`${workerId}-${i}`)); // duplicate name: constraint error
            },
            {
              beforeCommit: async () => {
                if (kind === 2) throw new Error('deliberate rollback after the version bump');
              },
            },
          );
          committed.push(res.version);
        } catch {
          rolledBack++;
        }
      }
    };

    let isDone = false;
    const seen: number[] = [];
    const tail = async (): Promise<void> => {
      let last = 0;
      for (;;) {
        const finished = isDone;
        const head = await reader.readHead();
        const changes = await reader.readChanges(last, head.version);
        for (const c of changes) {
          if (seen[seen.length - 1] !== c.version) seen.push(c.version);
        }
        const versions = [...new Set(changes.map((c) => c.version))];
        expect(versions).toEqual(Array.from({ length: head.version - last }, (_, k) => last + 1 + k));
        last = head.version;
        if (finished) return;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };

    const tailing = tail();
    const workers: Promise<void>[] = [];
    for (let w = 0; w < WORKERS_PER_REPLICA; w++) {
      workers.push(worker(replicaA, `a${w}`), worker(replicaB, `b${w}`));
    }
    await Promise.all(workers);
    isDone = true;
    await tailing;

    const total = WORKERS_PER_REPLICA * 2 * WRITES_PER_WORKER;
    expect(rolledBack).toBe(total / 2);
    const sorted = [...committed].sort((x, y) => x - y);
    expect(sorted).toEqual(Array.from({ length: total / 2 }, (_, k) => k + 1));
    expect(seen).toEqual(sorted);
    expect((await reader.readHead()).version).toBe(total / 2);
    expect((await reader.loadSnapshot()).entities.services).toHaveLength(total / 2);
  });
});
