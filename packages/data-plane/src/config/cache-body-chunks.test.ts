import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pb } from '@sluice/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigModel, makeConsumer, makeRoute, makeService } from '../../test/helpers/config-model.js';
import { applySnapshot } from './apply-snapshot.js';
import { cacheBodyChunks } from './cache-body-chunks.js';
import { decodeCacheFile, encodeCacheFile, writeCacheFile } from './cache-file.js';
import { ConfigCache } from './config-cache.js';
import type { ConfigResource, RuntimeConfig } from './runtime-config.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dp-chunks-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function smallConfig(): RuntimeConfig {
  const model = new ConfigModel();
  const s = makeService('s', { tags: ['ü-ñ', 'x'.repeat(300)] });
  model.commit({ upsert: [s, makeRoute('r', s.id), makeConsumer('ålice')] });
  const result = applySnapshot(model.snapshot(1), { epoch: 'épöch', version: 1, hash: model.hashAt(1) });
  if (!result.ok) throw result.error;
  return result.config;
}

/** A config as the cache writer sees it (state and resources only), with `count` resources of `payloadBytes` each. */
function largeConfig(count: number, payloadBytes: number): RuntimeConfig {
  const resources: ConfigResource[] = [];
  for (let i = 0; i < count; i++) {
    resources.push({ type: 2, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, version: i, payload: Buffer.alloc(payloadBytes, i & 0xff) });
  }
  return { epoch: 'large', version: 7, hashBytes: new Uint8Array(32), hashHex: '00'.repeat(32), resources: { values: () => resources.values() } } as unknown as RuntimeConfig;
}

/** A copy of each chunk as it is yielded (the next one overwrites it). */
function copies(chunks: Iterable<Uint8Array>): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) out.push(Buffer.from(chunk));
  return out;
}

describe('cacheBodyChunks', () => {
  it('decodes to every resource, exact payloads, whatever the chunk size (payloads split across chunks)', () => {
    const config = smallConfig();
    const expected = [...config.resources.values()].map((r) => ({ type: r.type, id: r.id, version: r.version, payload: Buffer.from(r.payload).toString('hex') }));
    for (const chunkBytes of [100, 257, 4096]) {
      const chunks = copies(cacheBodyChunks(config.resources.values(), chunkBytes));
      expect(Math.max(...chunks.map((c) => c.byteLength)), `chunk ${chunkBytes}`).toBeLessThanOrEqual(chunkBytes);
      const batch = pb.ResourceBatch.decode(Buffer.concat(chunks));
      expect(
        batch.upserts.map((u) => ({ type: u.type, id: u.id, version: Number(u.version), payload: Buffer.from(u.payload!).toString('hex') })),
        `chunk ${chunkBytes}`,
      ).toEqual(expected);
    }
  });

  it('is the same encoding protobufjs writes', () => {
    const config = smallConfig();
    const upserts = [...config.resources.values()].map((r) => ({ type: r.type, id: r.id, version: r.version, payload: r.payload }));
    const body = Buffer.concat(copies(cacheBodyChunks(config.resources.values())));
    expect(body.equals(pb.ResourceBatch.encode({ upserts }).finish())).toBe(true);
  });
});

describe('writeCacheFile', () => {
  it('writes the bytes of encodeCacheFile, header last, through a file handle', async () => {
    const config = smallConfig();
    const path = join(dir, 'config');
    const file = await open(path, 'w');
    const { bytes, headerDigest } = await writeCacheFile(file, config);
    await file.close();
    const written = await readFile(path);
    expect(written.equals(encodeCacheFile(config))).toBe(true);
    expect(bytes).toBe(written.byteLength);
    expect(Buffer.from(headerDigest).equals(Buffer.from(decodeCacheFile(written, path).headerDigest))).toBe(true);
  });

  it('never holds the event loop long while a large config (23 MB, as 100,000 routes) is written', async () => {
    const config = largeConfig(110_000, 200);
    const cache = new ConfigCache({ dir });
    await cache.open();
    let longestGapMs = 0;
    let ticks = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
      ticks++;
    }, 1);
    try {
      cache.schedule(config);
      await cache.flush();
      // One more tick, so a hold just before the flush resolved is counted too.
      const seen = ticks;
      while (ticks === seen) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      clearInterval(ticker);
    }
    expect(cache.lastError).toBeNull();
    const contents = decodeCacheFile(await readFile(cache.path), cache.path);
    expect(contents.batch.upserts.length).toBe(110_000);
    // A chunk of 256 KiB is encoded and hashed in a few ms; building and hashing the whole body in
    // one go (as the cache did before) holds the loop for well over this bound at this size.
    expect(longestGapMs).toBeLessThan(60);
  });
});
