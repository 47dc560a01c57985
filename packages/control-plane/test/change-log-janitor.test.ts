import { randomUUID } from 'node:crypto';
import { type Service, prepareService } from '@sluice/protocol';
import pino from 'pino';
import { expect, it } from 'vitest';
import { ChangeLogJanitor } from '../src/changes/change-log-janitor.js';
import { ConfigMirror } from '../src/changes/config-mirror.js';
import { describeEachDatabase } from './support/databases.js';

const logger = pino({ level: 'silent' });

function service(name: string): Service {
  const result = prepareService({ name, host: `${name}.internal` }, { mode: 'create', now: 1_700_000_000, newId: randomUUID() });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.entity;
}

describeEachDatabase('change-log retention', (env) => {
  it('keeps the last N versions, moves the watermark forward only, and sends older data planes a snapshot', async () => {
    const store = await env.openStore();
    const janitor = new ChangeLogJanitor({ db: store.db, logger, retentionVersions: 5 });
    const start = (await store.readHead()).version;
    for (let i = 0; i < 12; i++) await store.write((w) => w.insert('services', service(`s${i}`)));
    const head = (await store.readHead()).version;
    expect(head).toBe(start + 12);

    expect(await janitor.trim()).toBeGreaterThan(0);
    const after = await store.readHead();
    expect(after.minRetainedVersion).toBe(head - 5);
    // Everything after the watermark is still there, gap-free; nothing at or below it is.
    const kept = await store.readChanges(0, head);
    expect(kept.map((c) => c.version)).toEqual([head - 4, head - 3, head - 2, head - 1, head]);
    // Trimming again changes nothing; the watermark never moves back.
    expect(await janitor.trim()).toBe(0);
    expect((await store.readHead()).minRetainedVersion).toBe(head - 5);

    // A replica serves deltas from the watermark on, and a snapshot to anyone older.
    const mirror = new ConfigMirror({ source: store, logger });
    await mirror.start();
    try {
      // A mirror loaded at head has an empty in-memory window: deltas come from the database.
      expect(await mirror.delta(head - 5)).not.toBeNull();
      expect(await mirror.delta(head - 6)).toBeNull();
    } finally {
      mirror.stop();
      await store.close();
    }
  });
});
