import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ConfigHash,
  CloseCode,
  ProtocolError,
  ProtocolErrorCode,
  SnapshotAssembler,
  decodeFrame,
  decodeRoute,
  decodeService,
  encodeFrame,
  encodeRoute,
  encodeService,
  packBatch,
  pb,
  splitChunks,
  unpackBatch,
  unpackBatchAsync,
  type Route,
  type Service,
} from '../src/index.js';

const service = (over: Partial<Service> = {}): Service => ({
  id: randomUUID(), created_at: 1700000000, updated_at: 1700000001, name: 'svc', protocol: 'http', host: 'example.com', port: 80,
  path: null, retries: 5, connect_timeout: 60000, write_timeout: 60000, read_timeout: 60000, enabled: true, tags: null,
  client_certificate: null, tls_verify: null, tls_verify_depth: null, ca_certificates: null, ...over,
});
const route = (over: Partial<Route> = {}): Route => ({
  id: randomUUID(), created_at: 1700000000, updated_at: 1700000000, name: null, protocols: ['http', 'https'], methods: null,
  hosts: null, paths: ['/'], headers: null, snis: null, sources: null, destinations: null, strip_path: true, preserve_host: false,
  regex_priority: 0, path_handling: 'v0', https_redirect_status_code: 426, request_buffering: true, response_buffering: true,
  service: null, tags: null, ...over,
});

describe('entity codec', () => {
  it('round-trips a service, keeping nulls distinct from empty lists', () => {
    const s = service({ name: null, path: '/api', tags: [], tls_verify: false, tls_verify_depth: 0, ca_certificates: null });
    expect(decodeService(encodeService(s))).toEqual(s);
  });
  it('round-trips a route with headers, hosts and a service reference', () => {
    const r = route({ name: 'r1', hosts: ['a.example.com', '*.b.com:8080'], methods: ['GET'], headers: { 'x-b': ['1'], 'x-a': ['~*v\\d'] },
      service: { id: randomUUID() }, regex_priority: -3, strip_path: false, tags: ['t1'] });
    expect(decodeRoute(encodeRoute(r))).toEqual(r);
  });
  it('encodes deterministically, whatever the order of header names', () => {
    const base = route({ headers: { b: ['2'], a: ['1'] } });
    const same = { ...base, headers: { a: ['1'], b: ['2'] } };
    expect(Buffer.from(encodeRoute(base)).equals(Buffer.from(encodeRoute(same)))).toBe(true);
  });
});

describe('frame codec', () => {
  it('round-trips an envelope', () => {
    const bytes = encodeFrame({ heartbeat: { sentAtMs: 12345, state: { epoch: 'e', version: 7, hash: new Uint8Array([1, 2]) } } });
    const env = decodeFrame(bytes);
    expect(env.msg).toBe('heartbeat');
    expect(Number(env.heartbeat!.state!.version)).toBe(7);
  });
  it('refuses a frame over the limit with close code 1009, before decoding', () => {
    const bytes = encodeFrame({ snapshotChunk: { nonce: 1, index: 0, data: new Uint8Array(2048) } });
    const err = (() => { try { decodeFrame(bytes, 1024); } catch (e) { return e; } })() as ProtocolError;
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.code).toBe(ProtocolErrorCode.FRAME_TOO_LARGE);
    expect(err.closeCode).toBe(CloseCode.TOO_BIG);
  });
  it('refuses garbage and empty envelopes with a protocol error', () => {
    expect(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(ProtocolError);
    try { decodeFrame(new Uint8Array(0)); } catch (e) { expect((e as ProtocolError).code).toBe(ProtocolErrorCode.EMPTY_ENVELOPE); }
  });
});

describe('ConfigHash', () => {
  it('does not depend on insertion order and updates incrementally to the from-scratch value', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ id: randomUUID(), payload: encodeService(service({ name: `s${i}` })) }));
    const a = new ConfigHash();
    for (const it of items) a.set('services', it.id, it.payload);
    const b = new ConfigHash();
    for (const it of [...items].reverse()) b.set('services', it.id, it.payload);
    expect(a.hex()).toBe(b.hex());
    // Change one, delete one: incremental equals rebuilt.
    const changed = encodeService(service({ id: items[3].id, name: 'changed' }));
    a.set('services', items[3].id, changed);
    a.delete('services', items[7].id);
    const c = new ConfigHash();
    items.forEach((it, i) => { if (i === 7) return; c.set('services', it.id, i === 3 ? changed : it.payload); });
    expect(a.hex()).toBe(c.hex());
    expect(Buffer.from(a.bytes()).toString('hex')).toBe(a.hex());
  });
  it('distinguishes kinds and ids for the same bytes', () => {
    const p = new Uint8Array([1, 2, 3]);
    const a = new ConfigHash(); a.set('services', 'x', p);
    const b = new ConfigHash(); b.set('routes', 'x', p);
    expect(a.hex()).not.toBe(b.hex());
  });
});

describe('blob and snapshot chunks', () => {
  const batch = { upserts: Array.from({ length: 200 }, (_, i) => ({ type: pb.EntityType.ENTITY_TYPE_SERVICE, id: `id-${i}`, version: i, payload: encodeService(service({ name: `s${i}` })) })) };
  it('packs once and unpacks to the same resources', () => {
    const packed = packBatch(batch);
    expect(packed.codec).toBe(pb.Codec.CODEC_GZIP);
    const out = unpackBatch(packed);
    expect(out.upserts.length).toBe(200);
    expect(out.upserts[5].id).toBe('id-5');
  });
  it('detects a corrupted body by checksum', () => {
    const packed = packBatch({ upserts: batch.upserts.slice(0, 1) });
    const data = Uint8Array.from(packed.data);
    data[data.length - 1] ^= 0xff;
    try { unpackBatch({ ...packed, data }); expect.fail('should throw'); } catch (e) {
      expect((e as ProtocolError).code).toMatch(/SLUICE_PROTO_(BLOB_CHECKSUM|DECODE|BLOB_CODEC)/);
    }
  });
  it('refuses a body whose declared size is over the limit, before decompressing', () => {
    const packed = packBatch(batch);
    try { unpackBatch(packed, 100); expect.fail('should throw'); } catch (e) { expect((e as ProtocolError).code).toBe(ProtocolErrorCode.BLOB_TOO_LARGE); }
  });
  it('unpackBatchAsync (inflate off the event loop) gives the same batch and the same refusals', async () => {
    const packed = packBatch(batch);
    const out = await unpackBatchAsync(packed);
    expect(out.upserts.map((u) => u.id)).toEqual(unpackBatch(packed).upserts.map((u) => u.id));
    const data = Uint8Array.from(packed.data);
    data[data.length - 5] ^= 0xff;
    await expect(unpackBatchAsync({ ...packed, data })).rejects.toMatchObject({ code: expect.stringMatching(/SLUICE_PROTO_(BLOB_CHECKSUM|DECODE|BLOB_CODEC)/) });
    await expect(unpackBatchAsync(packed, 100)).rejects.toMatchObject({ code: ProtocolErrorCode.BLOB_TOO_LARGE });
    // A body that inflates past its declared size is cut at that size and refused.
    await expect(unpackBatchAsync({ ...packed, rawSize: packed.rawSize - 1 })).rejects.toBeInstanceOf(ProtocolError);
    await expect(unpackBatchAsync({ ...packed, codec: 99 })).rejects.toMatchObject({ code: ProtocolErrorCode.BLOB_CODEC });
  });
  it('reassembles chunks in order and refuses out-of-order or missing chunks', () => {
    const packed = packBatch(batch);
    const chunks = splitChunks(packed.data, 1000);
    const begin = { nonce: 3, chunkCount: chunks.length, totalBytes: packed.data.byteLength, codec: packed.codec, rawSize: packed.rawSize, rawSha256: packed.rawSha256 };
    const asm = new SnapshotAssembler(begin);
    chunks.forEach((data, index) => asm.add({ nonce: 3, index, data }));
    expect(unpackBatch(asm.finish(3)).upserts.length).toBe(200);
    const bad = new SnapshotAssembler(begin);
    expect(() => bad.add({ nonce: 3, index: 1, data: chunks[1] })).toThrow(ProtocolError);
    const short = new SnapshotAssembler(begin);
    short.add({ nonce: 3, index: 0, data: chunks[0] });
    expect(() => short.finish(3)).toThrow(ProtocolError);
    expect(() => new SnapshotAssembler({ ...begin, totalBytes: 1e12 })).toThrow(ProtocolError);
  });
});

describe('64-bit fields', () => {
  // Regression: absent int64 fields used to decode as Long objects (the generated prototypes read
  // util.Long before the runtime was configured), so regex_priority 0 failed validation.
  it('decode as plain numbers when they hold the default value', () => {
    const r = decodeRoute(encodeRoute(route({ regex_priority: 0, created_at: 0, updated_at: 0 })));
    expect(typeof r.regex_priority).toBe('number');
    expect(r.regex_priority).toBe(0);
    expect(typeof r.created_at).toBe('number');
    expect(typeof decodeService(encodeService(service({ created_at: 0 }))).created_at).toBe('number');
  });
});
