import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigModel, makeConsumer, makeRoute, makeService } from '../../test/helpers/config-model.js';
import { applySnapshot } from './apply-snapshot.js';
import { decodeCacheFile, encodeCacheFile } from './cache-file.js';
import { CACHE_MAX_LAG_MS, CACHE_WRITE_INTERVAL_MS, ConfigCache } from './config-cache.js';
import { loadOrCreateNodeId } from './node-id.js';
import type { RuntimeConfig } from './runtime-config.js';
import { WriteStep } from './write-file-atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dp-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A model with `n` versions, each adding a service and a route. */
function history(n: number): ConfigModel {
  const model = new ConfigModel();
  for (let i = 0; i < n; i++) {
    const s = makeService(`s${i}`);
    model.commit({ upsert: [s, makeRoute(`r${i}`, s.id)] });
  }
  return model;
}

function configAt(model: ConfigModel, v: number): RuntimeConfig {
  const result = applySnapshot(model.snapshot(v), { epoch: model.epoch, version: v, hash: model.hashAt(v) });
  if (!result.ok) throw result.error;
  return result.config;
}

/** A cache that has written `versions` of `model` in turn, each flushed (so `config.prev` holds the one before last). */
async function cacheHolding(model: ConfigModel, ...versions: number[]): Promise<ConfigCache> {
  const cache = new ConfigCache({ dir });
  await cache.open();
  for (const v of versions) {
    cache.schedule(configAt(model, v));
    await cache.flush();
  }
  return cache;
}

async function loadFresh() {
  const cache = new ConfigCache({ dir });
  await cache.open();
  return { cache, result: await cache.load() };
}

describe('cache file', () => {
  it('round-trips a config exactly: same state, same payload bytes', () => {
    const model = history(3);
    const config = configAt(model, 3);
    const contents = decodeCacheFile(encodeCacheFile(config), 'mem');
    expect(contents).toMatchObject({ epoch: model.epoch, version: 3 });
    expect(Buffer.from(contents.hash).toString('hex')).toBe(config.hashHex);
    expect(contents.batch.upserts.map((r) => Buffer.from(r.payload!).toString('hex')).sort()).toEqual(
      [...config.resources.values()].map((r) => Buffer.from(r.payload).toString('hex')).sort(),
    );
  });

  it('detects every single flipped byte and every truncation', () => {
    const bytes = encodeCacheFile(configAt(history(2), 2));
    for (let i = 0; i < bytes.byteLength; i += Math.max(1, Math.floor(bytes.byteLength / 200))) {
      const copy = Buffer.from(bytes);
      copy[i] ^= 0x01;
      expect(() => decodeCacheFile(copy, 'flipped'), `byte ${i}`).toThrow(expect.objectContaining({ code: 'SLUICE_DP_CACHE_CORRUPT' }));
    }
    for (const length of [0, 10, 100, bytes.byteLength - 1]) {
      expect(() => decodeCacheFile(bytes.subarray(0, length), 'truncated')).toThrow(expect.objectContaining({ code: 'SLUICE_DP_CACHE_CORRUPT' }));
    }
    expect(() => decodeCacheFile(Buffer.concat([bytes, Buffer.from([0])]), 'extended')).toThrow(expect.objectContaining({ code: 'SLUICE_DP_CACHE_CORRUPT' }));
  });
});

describe('ConfigCache', () => {
  it('round-trips consumers like every kind: the file holds resources, whatever their kind', async () => {
    const model = history(1);
    const alice = makeConsumer('alice', { tags: ['gold'] });
    model.commit({ upsert: [alice, makeConsumer(null, { custom_id: 'ext-1' })] });
    const config = configAt(model, 2);
    const cache = await cacheHolding(model, 2);
    await cache.close();
    const { result } = await loadFresh();
    expect(result.config).toMatchObject({ version: 2, hashHex: config.hashHex, source: 'cache' });
    expect(result.config!.entities.consumers.size).toBe(2);
    expect(result.config!.entities.consumers.get(alice.id)).toEqual(alice);
    expect(result.config!.router.size).toBe(config.router.size);
  });

  it('persists and loads the newest config, keeping the previous generation', async () => {
    const model = history(2);
    const cache = new ConfigCache({ dir });
    await cache.open();
    expect((await cache.load()).config).toBeNull();
    cache.schedule(configAt(model, 1));
    await cache.flush();
    cache.schedule(configAt(model, 2));
    await cache.flush();
    const { result } = await loadFresh();
    expect(result.config?.version).toBe(2);
    expect(result.config?.source).toBe('cache');
    expect(result.config?.hashHex).toBe(configAt(model, 2).hashHex);
    expect(decodeCacheFile(await readFile(join(dir, 'config.prev')), 'prev').version).toBe(1);
  });

  it('never serves a corrupt or truncated cache: falls back to config.prev, else to nothing', async () => {
    await cacheHolding(history(2), 1, 2);

    const current = await readFile(join(dir, 'config'));
    await writeFile(join(dir, 'config'), current.subarray(0, current.byteLength - 7));
    let { result } = await loadFresh();
    expect(result.config?.version).toBe(1);
    expect(result.file).toBe(join(dir, 'config.prev'));
    expect(result.errors.map((e) => e.code)).toEqual(['SLUICE_DP_CACHE_CORRUPT']);

    const prev = await readFile(join(dir, 'config.prev'));
    prev[prev.byteLength - 3] ^= 0xff;
    await writeFile(join(dir, 'config.prev'), prev);
    ({ result } = await loadFresh());
    expect(result.config).toBeNull();
    expect(result.errors.map((e) => e.code)).toEqual(['SLUICE_DP_CACHE_CORRUPT', 'SLUICE_DP_CACHE_CORRUPT']);
  });

  it('validates a cache written by another build in full, and refuses what this build would not accept', async () => {
    // An entity that breaks Kong's rules (a path that is not normalised) in an intact file: a build
    // with other rules may have cached it; this one must not serve it.
    const model = new ConfigModel();
    const s = makeService('s');
    model.commit({ upsert: [s, { ...makeRoute('r', s.id), paths: ['/a/../b'] }] });
    const built = applySnapshot(model.snapshot(1), { epoch: model.epoch, version: 1, hash: model.hashAt(1) }, { isSchemaChecked: true });
    if (!built.ok) throw built.error;
    await writeFile(join(dir, 'config'), encodeCacheFile(built.config, 'sluice-0.0.1-older'));
    const { result } = await loadFresh();
    expect(result.config).toBeNull();
    expect(result.errors[0].message).toMatch(/non-normalized path/);
  });

  it('refuses a cache whose content does not hash to its header (a well-formed but wrong file)', async () => {
    const model = history(2);
    const good = configAt(model, 2);
    const forged = { ...good, resources: configAt(model, 1).resources } as unknown as RuntimeConfig;
    await writeFile(join(dir, 'config'), encodeCacheFile(forged));
    const { result } = await loadFresh();
    expect(result.config).toBeNull();
    expect(result.errors[0].message).toMatch(/ERROR_HASH_MISMATCH/);
  });

  it('does not rotate a corrupt current file over a good config.prev', async () => {
    const model = history(3);
    await cacheHolding(model, 1, 2);
    await writeFile(join(dir, 'config'), 'garbage');
    const { cache: reopened, result } = await loadFresh();
    expect(result.config?.version).toBe(1);
    reopened.schedule(configAt(model, 3));
    await reopened.flush();
    expect(decodeCacheFile(await readFile(join(dir, 'config')), 'c').version).toBe(3);
    expect(decodeCacheFile(await readFile(join(dir, 'config.prev')), 'p').version).toBe(1);
  });

  it('is crash-safe: a crash after any write step leaves the old or the new complete config', async () => {
    const model = history(2);
    for (const crashAt of Object.values(WriteStep)) {
      await rm(dir, { recursive: true, force: true });
      await cacheHolding(model, 1);

      const crashing = new ConfigCache({
        dir,
        onWriteStep: (step) => {
          if (step === crashAt) throw new Error(`simulated crash after ${step}`);
        },
      });
      await crashing.open();
      await crashing.load();
      crashing.schedule(configAt(model, 2));
      await crashing.flush();
      expect(crashing.lastError?.code, crashAt).toBe('SLUICE_DP_CACHE_IO');

      const { result } = await loadFresh();
      expect(result.config, crashAt).not.toBeNull();
      expect([1, 2], crashAt).toContain(result.config!.version);
      // A crash before the rename must not have published the new file.
      if (crashAt === WriteStep.TEMP_WRITTEN || crashAt === WriteStep.TEMP_SYNCED) expect(result.config!.version, crashAt).toBe(1);
      // open() removed the partial temp file the crash left.
      expect((await readdir(dir)).filter((f) => f.includes('.tmp-')), crashAt).toEqual([]);
    }
  });

  it('ignores and removes a partial temp file left by a crash mid-write', async () => {
    const model = history(1);
    await cacheHolding(model, 1);
    const full = encodeCacheFile(configAt(model, 1));
    await writeFile(join(dir, 'config.tmp-99999-1'), full.subarray(0, full.byteLength >> 1));
    const { result } = await loadFresh();
    expect(result.config?.version).toBe(1);
    expect(await readdir(dir)).not.toContain('config.tmp-99999-1');
  });

  it('coalesces bursts and has the newest config on disk within the bound', async () => {
    const model = history(40);
    const configs = Array.from({ length: 40 }, (_, i) => configAt(model, i + 1));
    let writes = 0;
    let writeStartedAt = 0;
    let longestWriteMs = 0;
    const cache = new ConfigCache({
      dir,
      onWriteStep: (s) => {
        if (s === WriteStep.TEMP_WRITTEN) writeStartedAt = Date.now();
        if (s === WriteStep.DIR_SYNCED) {
          writes++;
          longestWriteMs = Math.max(longestWriteMs, Date.now() - writeStartedAt);
        }
      },
    });
    await cache.open();
    const started = Date.now();
    for (const c of configs) cache.schedule(c);
    // Poll the file (no flush): the newest version must reach the disk within the bound.
    let onDisk = 0;
    let reachedAt = 0;
    while (Date.now() <= started + 10_000) {
      try {
        onDisk = decodeCacheFile(await readFile(join(dir, 'config')), 'c').version;
      } catch {
        onDisk = 0;
      }
      if (onDisk === 40) {
        reachedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(onDisk).toBe(40);
    // The bound: one write interval plus the write in progress and the newest config's own write
    // (CACHE_MAX_LAG_MS = 1 s while a write takes under 400 ms). Fsync time is the machine's, so the
    // test measures it rather than assuming it.
    const bound = CACHE_WRITE_INTERVAL_MS + 2 * Math.max(longestWriteMs, 50) + 100;
    expect(reachedAt - started).toBeLessThanOrEqual(bound);
    if (longestWriteMs < 400) expect(reachedAt - started).toBeLessThanOrEqual(CACHE_MAX_LAG_MS + 100);
    await cache.flush();
    expect(writes).toBeLessThanOrEqual(3);
  });
});

describe('loadOrCreateNodeId', () => {
  it('creates a UUID once and returns the same one after a restart', async () => {
    const first = await loadOrCreateNodeId(dir);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(await loadOrCreateNodeId(dir)).toBe(first);
    expect((await stat(join(dir, 'node_id'))).isFile()).toBe(true);
  });
});
