import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigModel, makeRoute, makeService } from '../../test/helpers/config-model.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import { decodeCacheFile } from './cache-file.js';
import { JOURNAL_HEADER_BYTES, JournalStep, readJournal, type JournalLimits } from './cache-journal.js';
import { CACHE_MAX_LAG_MS, CACHE_WRITE_INTERVAL_MS, ConfigCache, type ScheduledDelta } from './config-cache.js';
import type { RuntimeConfig } from './runtime-config.js';
import { WriteStep } from './write-file-atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dp-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A model whose version 1 holds 30 services and routes (a base of some KB, so the journal's
 * base-size bound leaves room for several records), then `n` more versions: odd ones add a
 * service and a route, even ones remove the route the one before added and change a service.
 */
function history(n: number): ConfigModel {
  const model = new ConfigModel();
  const first = Array.from({ length: 30 }, (_, i) => makeService(`s${i}`));
  model.commit({ upsert: [...first, ...first.map((s, i) => makeRoute(`r${i}`, s.id))] });
  for (let v = 2; v <= n + 1; v++) {
    if (v % 2 === 0) {
      const s = makeService(`x${v}`);
      model.commit({ upsert: [s, makeRoute(`xr${v}`, s.id)] });
    } else {
      model.commit({ upsert: [makeService('s0', { retries: v })], remove: [{ kind: 'routes', id: makeRoute(`xr${v - 1}`, null).id }] });
    }
  }
  return model;
}

/** Every version of `model` as the data plane builds them: a snapshot, then one delta per version, each with its delta. */
function chain(model: ConfigModel): { config: RuntimeConfig; delta?: ScheduledDelta }[] {
  const first = applySnapshot(model.snapshot(1), { epoch: model.epoch, version: 1, hash: model.hashAt(1) });
  if (!first.ok) throw first.error;
  const out: { config: RuntimeConfig; delta?: ScheduledDelta }[] = [{ config: first.config }];
  for (let v = 2; v <= model.version; v++) {
    const delta = { fromVersion: v - 1, batch: model.delta(v - 1, v) };
    const next = applyDelta(out[out.length - 1].config, { epoch: model.epoch, toVersion: v, targetHash: model.hashAt(v), ...delta });
    if (!next.ok) throw next.error;
    out.push({ config: next.config, delta });
  }
  return out;
}

async function openCache(options: { onWriteStep?: (s: WriteStep | JournalStep) => void; journalLimits?: Partial<JournalLimits> } = {}) {
  const cache = new ConfigCache({ dir, ...options });
  await cache.open();
  return { cache, result: await cache.load() };
}

/** Schedules versions `from`..`to` of `versions` (1-based, as the data plane does: each with its delta), flushing after each. */
async function writeVersions(cache: ConfigCache, versions: ReturnType<typeof chain>, from: number, to: number): Promise<void> {
  for (let v = from; v <= to; v++) {
    cache.schedule(versions[v - 1].config, versions[v - 1].delta);
    await cache.flush();
  }
}

const baseVersion = async () => decodeCacheFile(await readFile(join(dir, 'config')), 'config').version;
/** The version on disk: the base's, or the last record's of a journal that extends it (as `load()` reads them, without validating). */
async function onDiskVersion(): Promise<number> {
  const base = decodeCacheFile(await readFile(join(dir, 'config')), 'config');
  const journal = await readFile(join(dir, 'config.journal')).catch(() => null);
  if (journal === null) return base.version;
  const { baseDigest, records } = readJournal(journal, 'journal', base.version);
  return Buffer.from(baseDigest).equals(base.headerDigest) && records.length > 0 ? records[records.length - 1].toVersion : base.version;
}
const journalRecords = async (base: number) => readJournal(await readFile(join(dir, 'config.journal')), 'journal', base).records.map((r) => r.toVersion);

describe('ConfigCache journal', () => {
  it('appends each delta as a record after the base, and loads the base with the records replayed', async () => {
    const versions = chain(history(5));
    const { cache } = await openCache();
    await writeVersions(cache, versions, 1, 1);
    const base = await readFile(join(dir, 'config'));
    await writeVersions(cache, versions, 2, 4);
    // A burst is coalesced into one write, one record per delta.
    cache.schedule(versions[4].config, versions[4].delta);
    cache.schedule(versions[5].config, versions[5].delta);
    await cache.flush();
    expect(cache.lastError).toBeNull();

    expect((await readFile(join(dir, 'config'))).equals(base)).toBe(true);
    expect(await journalRecords(1)).toEqual([2, 3, 4, 5, 6]);
    const { result } = await openCache();
    const head = versions[5].config;
    expect(result.config).toMatchObject({ version: 6, hashHex: head.hashHex, source: 'cache' });
    expect([...result.config!.resources.keys()].sort()).toEqual([...head.resources.keys()].sort());
    expect(result.config!.router.size).toBe(head.router.size);
    expect(result.errors).toEqual([]);
  });

  it('goes on appending after a restart onto what it loaded', async () => {
    const versions = chain(history(4));
    await writeVersions((await openCache()).cache, versions, 1, 3);
    const { cache, result } = await openCache();
    expect(result.config?.version).toBe(3);
    await writeVersions(cache, versions, 4, 5);
    expect(await baseVersion()).toBe(1);
    expect(await journalRecords(1)).toEqual([2, 3, 4, 5]);
    expect((await openCache()).result.config?.hashHex).toBe(versions[4].config.hashHex);
  });

  it('drops a torn tail record, at whatever byte it is cut, and serves the records before it', async () => {
    const versions = chain(history(3));
    await writeVersions((await openCache()).cache, versions, 1, 4);
    const journal = await readFile(join(dir, 'config.journal'));
    const ends = [JOURNAL_HEADER_BYTES];
    for (let i = 0, o = JOURNAL_HEADER_BYTES; i < 3; i++) ends.push((o += 36 + journal.readUInt32BE(o)));
    expect(ends[3]).toBe(journal.byteLength);
    for (let length = JOURNAL_HEADER_BYTES; length < journal.byteLength; length += 13) {
      await writeFile(join(dir, 'config.journal'), journal.subarray(0, length));
      const whole = ends.filter((end) => end <= length).length - 1;
      const { result } = await openCache();
      expect(result.config?.version, `cut at ${length}`).toBe(1 + whole);
      expect(result.config?.hashHex, `cut at ${length}`).toBe(versions[whole].config.hashHex);
      if (length !== ends[whole]) expect(result.errors.map((e) => e.code), `cut at ${length}`).toEqual(['SLUICE_DP_CACHE_CORRUPT']);
    }
  });

  it('drops a corrupt record and every record after it; ignores a journal whose header is corrupt', async () => {
    const versions = chain(history(3));
    await writeVersions((await openCache()).cache, versions, 1, 4);
    const journal = await readFile(join(dir, 'config.journal'));
    const second = JOURNAL_HEADER_BYTES + 36 + journal.readUInt32BE(JOURNAL_HEADER_BYTES);
    for (const offset of [second, second + 4, second + 40, second + 100]) {
      const copy = Buffer.from(journal);
      copy[offset] ^= 0x01;
      await writeFile(join(dir, 'config.journal'), copy);
      const { result } = await openCache();
      expect(result.config?.version, `byte ${offset}`).toBe(2);
      expect(result.errors[0]?.message, `byte ${offset}`).toMatch(/config\.journal: dropped the tail: record 2/);
    }
    const copy = Buffer.from(journal);
    copy[20] ^= 0x01;
    await writeFile(join(dir, 'config.journal'), copy);
    const { result } = await openCache();
    expect(result.config?.version).toBe(1);
    expect(result.errors[0]?.message).toMatch(/journal header checksum mismatch/);
  });

  it('after a dropped tail, the next write rewrites the base rather than appending after it', async () => {
    const versions = chain(history(3));
    await writeVersions((await openCache()).cache, versions, 1, 3);
    const journal = await readFile(join(dir, 'config.journal'));
    await writeFile(join(dir, 'config.journal'), journal.subarray(0, journal.byteLength - 5));
    const { cache, result } = await openCache();
    expect(result.config?.version).toBe(2);
    await writeVersions(cache, versions, 3, 4);
    expect(await baseVersion()).toBe(3);
    expect(await journalRecords(3)).toEqual([4]);
    expect((await openCache()).result.config?.version).toBe(4);
  });

  it('replays a journal only onto the file it extends: after a compaction, onto config.prev if config is lost', async () => {
    const versions = chain(history(4));
    const { cache } = await openCache();
    await writeVersions(cache, versions, 1, 3);
    await copyFile(join(dir, 'config.journal'), join(dir, 'journal-of-1'));
    // A snapshot is written as a base: config.prev is the old base, and the journal starts again.
    cache.schedule(versions[3].config);
    await cache.flush();
    expect(await baseVersion()).toBe(4);
    // A crash between the new base and its first record leaves the old journal: it is not replayed onto the new base.
    await copyFile(join(dir, 'journal-of-1'), join(dir, 'config.journal'));
    let { result } = await openCache();
    expect(result.config?.version).toBe(4);
    expect(result.errors).toEqual([]);
    // With config lost, config.prev (the base it names) is served with it.
    await writeFile(join(dir, 'config'), 'garbage');
    ({ result } = await openCache());
    expect(result.file).toBe(join(dir, 'config.prev'));
    expect(result.config?.version).toBe(3);
    expect(result.config?.hashHex).toBe(versions[2].config.hashHex);
  });

  it('rewrites the base when the journal reaches its bounds: records, bytes, one write', async () => {
    const versions = chain(history(6));
    let { cache } = await openCache({ journalLimits: { maxRecords: 2 } });
    await writeVersions(cache, versions, 1, 3);
    expect([await baseVersion(), await journalRecords(1)]).toEqual([1, [2, 3]]);
    await writeVersions(cache, versions, 4, 6);
    expect([await baseVersion(), await journalRecords(4)]).toEqual([4, [5, 6]]);
    expect((await openCache()).result.config?.version).toBe(6);

    await rm(dir, { recursive: true, force: true });
    ({ cache } = await openCache({ journalLimits: { maxBytes: JOURNAL_HEADER_BYTES + 1 } }));
    await writeVersions(cache, versions, 1, 3);
    expect(await baseVersion()).toBe(3);

    await rm(dir, { recursive: true, force: true });
    ({ cache } = await openCache({ journalLimits: { maxAppendBytes: 1 } }));
    await writeVersions(cache, versions, 1, 3);
    expect(await baseVersion()).toBe(3);
    expect((await openCache()).result.config?.hashHex).toBe(versions[2].config.hashHex);
  });

  it('keeps a bound passed as undefined at its default (a journal never outgrows its base)', async () => {
    const versions = chain(history(40));
    const { cache } = await openCache({ journalLimits: { maxRecords: undefined, maxBytes: undefined, maxAppendBytes: undefined } });
    await writeVersions(cache, versions, 1, versions.length);
    expect(cache.lastError).toBeNull();
    const base = await baseVersion();
    expect(base).toBeGreaterThan(1);
    expect((await stat(join(dir, 'config.journal'))).size).toBeLessThanOrEqual((await stat(join(dir, 'config'))).size);
    expect((await openCache()).result.config?.hashHex).toBe(versions[versions.length - 1].config.hashHex);
  });

  it('rewrites the base for a config not built by a delta from the one before', async () => {
    const versions = chain(history(3));
    const { cache } = await openCache();
    await writeVersions(cache, versions, 1, 2);
    cache.schedule(versions[3].config, versions[3].delta); // its delta goes from 3, not 2
    await cache.flush();
    expect(await baseVersion()).toBe(4);
    expect((await openCache()).result.config?.version).toBe(4);
  });

  it('is crash-safe: a crash after any step of an append leaves the old or the new config, and the next write recovers', async () => {
    const versions = chain(history(3));
    // The first record after a base creates the journal (a whole-file write); later ones append to it.
    const cases: [string, number, WriteStep | JournalStep][] = [
      ...Object.values(WriteStep)
        .filter((s) => s !== WriteStep.PREVIOUS_ROTATED)
        .map((s): [string, number, WriteStep] => ['first record', 1, s]),
      ...Object.values(JournalStep).map((s): [string, number, JournalStep] => ['later record', 2, s]),
    ];
    for (const [what, held, crashAt] of cases) {
      await rm(dir, { recursive: true, force: true });
      await writeVersions((await openCache()).cache, versions, 1, held);
      let hasCrashed = false;
      const { cache: crashing } = await openCache({
        onWriteStep: (step) => {
          if (step !== crashAt || hasCrashed) return;
          hasCrashed = true;
          throw new Error(`simulated crash after ${step}`);
        },
      });
      await writeVersions(crashing, versions, held + 1, held + 1);
      expect(crashing.lastError?.code, `${what}, ${crashAt}`).toBe('SLUICE_DP_CACHE_IO');

      const { result } = await openCache();
      expect([held, held + 1], `${what}, ${crashAt}`).toContain(result.config?.version);
      if (crashAt === WriteStep.TEMP_WRITTEN || crashAt === WriteStep.TEMP_SYNCED) expect(result.config?.version, `${what}, ${crashAt}`).toBe(held);
      // The failed process's next write does not append after what it may have left: it writes a base.
      await writeVersions(crashing, versions, held + 2, held + 2);
      expect(crashing.lastError, `${what}, ${crashAt}`).toBeNull();
      expect(await baseVersion(), `${what}, ${crashAt}`).toBe(held + 2);
      expect((await openCache()).result.config?.hashHex, `${what}, ${crashAt}`).toBe(versions[held + 1].config.hashHex);
    }
  });

  it('has the newest config on disk within the bound while journaling a stream of deltas', async () => {
    const versions = chain(history(30));
    let appendStartedAt = 0;
    let longestAppendMs = 0;
    const { cache } = await openCache({
      onWriteStep: (step) => {
        if (step === JournalStep.APPENDED) appendStartedAt = Date.now();
        if (step === JournalStep.SYNCED) longestAppendMs = Math.max(longestAppendMs, Date.now() - appendStartedAt);
      },
    });
    await writeVersions(cache, versions, 1, 2);
    // One delta every ~10 ms (as a stream of one-entity writes arrives): most writes coalesce several.
    for (let v = 3; v <= versions.length; v++) {
      cache.schedule(versions[v - 1].config, versions[v - 1].delta);
      await new Promise((r) => setTimeout(r, 10));
    }
    const scheduledAt = Date.now();
    let reachedAt = 0;
    while (Date.now() <= scheduledAt + 10_000) {
      if ((await onDiskVersion().catch(() => 0)) === versions.length) {
        reachedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(reachedAt).toBeGreaterThan(0);
    expect(reachedAt - scheduledAt).toBeLessThanOrEqual(CACHE_WRITE_INTERVAL_MS + 2 * Math.max(longestAppendMs, 50) + 100);
    if (longestAppendMs < 400) expect(reachedAt - scheduledAt).toBeLessThanOrEqual(CACHE_MAX_LAG_MS);
    expect((await openCache()).result.config?.hashHex).toBe(versions[versions.length - 1].config.hashHex);
  });

  it('keeps the base file untouched and the journal small while appending', async () => {
    const versions = chain(history(5));
    const { cache } = await openCache();
    await writeVersions(cache, versions, 1, 1);
    const baseBytes = (await stat(join(dir, 'config'))).size;
    await writeVersions(cache, versions, 2, 6);
    const journalBytes = (await stat(join(dir, 'config.journal'))).size;
    expect(journalBytes).toBeLessThan(baseBytes);
    expect((await stat(join(dir, 'config'))).size).toBe(baseBytes);
  });
});
