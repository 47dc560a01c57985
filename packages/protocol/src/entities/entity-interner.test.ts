import { describe, expect, it } from 'vitest';
import { ProtocolErrorCode } from '../errors.js';
import { pb } from '../proto.js';
import { EntityInterner } from './entity-interner.js';
import { decodeRoute, encodeRoute } from './kinds/routes.js';
import { decodeService, encodeService } from './kinds/services.js';
import { decodeEntity, encodeEntity, ENTITY_KINDS, entityDefinition, type AnyEntity } from './registry.js';
import type { Route, Service } from './types.js';

const SERVICE_ID = '6f2a4a3e-1c1b-4d0e-9a43-5f6b7c8d9e0f';

const service: Service = {
  id: SERVICE_ID,
  created_at: 1_700_000_000,
  updated_at: 1_700_000_000,
  name: 'svc',
  protocol: 'https',
  host: 'up.test',
  port: 443,
  path: null,
  retries: 5,
  connect_timeout: 60_000,
  write_timeout: 60_000,
  read_timeout: 60_000,
  enabled: true,
  tags: ['team-a'],
  client_certificate: null,
  tls_verify: null,
  tls_verify_depth: null,
  ca_certificates: null,
};

function route(n: number, fields: Partial<Route> = {}): Route {
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    created_at: 1_700_000_000,
    updated_at: 1_700_000_000,
    name: `route-${n}`,
    protocols: ['http', 'https'],
    methods: ['GET', 'POST'],
    hosts: [`api-${n}.test`],
    paths: [`/r${n}`],
    headers: null,
    snis: null,
    sources: null,
    destinations: null,
    strip_path: true,
    preserve_host: false,
    regex_priority: 0,
    path_handling: 'v0',
    https_redirect_status_code: 426,
    request_buffering: true,
    response_buffering: true,
    service: { id: SERVICE_ID },
    tags: ['team-a'],
    ...fields,
  };
}

/** A Route message whose name holds `bytes` as they are (valid UTF-8 or not). */
function routeBytesWithName(bytes: number[]): Uint8Array {
  const valid = encodeRoute(route(1, { name: 'x' }));
  const tail = pb.Route.encode({ name: 'x' }).finish(); // tag 4, length 1, 'x'
  const at = Buffer.from(valid).indexOf(Buffer.from(tail));
  return Buffer.concat([valid.subarray(0, at), Buffer.from([tail[0] as number, bytes.length, ...bytes]), valid.subarray(at + tail.length)]);
}

describe('decoding with an EntityInterner (one per batch)', () => {
  it('gives the same entities as a plain decode, with the values they repeat shared and frozen', () => {
    const shared = new EntityInterner();
    const svc = decodeService(encodeService(service), shared);
    const [a, b] = [route(1), route(2)].map((r) => decodeRoute(encodeRoute(r), shared)) as [Route, Route];
    expect(svc).toEqual(service);
    expect(a).toEqual(route(1));
    expect(b).toEqual(route(2));
    expect(a.service).toBe(b.service);
    expect(a.protocols).toBe(b.protocols);
    expect(a.methods).toBe(b.methods);
    expect(a.tags).toBe(svc.tags);
    for (const value of [a.service, a.protocols, a.methods, a.tags]) expect(Object.isFrozen(value)).toBe(true);
    expect(a.hosts).not.toBe(b.hosts);
  });

  it('shares a list only with an equal one: same elements in the same order', () => {
    const shared = new EntityInterner();
    const lists = [['http'], ['http', 'https'], ['https', 'http'], ['https'], []].map((protocols) => decodeRoute(encodeRoute(route(1, { protocols })), shared).protocols);
    expect(lists).toEqual([['http'], ['http', 'https'], ['https', 'http'], ['https'], []]);
    expect(new Set(lists).size).toBe(5);
    expect(decodeRoute(encodeRoute(route(2, { protocols: ['https', 'http'] })), shared).protocols).toBe(lists[2]);
    expect(decodeRoute(encodeRoute(route(3, { methods: [] })), shared).methods).toBe(lists[4]);
  });

  it('decodes every kind the same with and without one; without, nothing is shared or frozen', () => {
    const shared = new EntityInterner();
    for (const kind of ENTITY_KINDS) {
      const definition = entityDefinition(kind);
      const prepared = definition.prepare(SAMPLES[kind], { mode: 'create', now: 1000, newId: '00000000-0000-4000-8000-000000000001' });
      if (!prepared.ok) throw new Error(`${kind}: ${JSON.stringify(prepared.errors)}`);
      const bytes = encodeEntity(kind, prepared.entity as never);
      expect(decodeEntity(kind, bytes, shared), kind).toEqual(prepared.entity);
      const plain = decodeEntity(kind, bytes) as AnyEntity & { tags: string[] | null };
      expect(plain, kind).toEqual(prepared.entity);
      expect(Object.isFrozen(plain.tags), kind).toBe(false);
      expect(decodeEntity(kind, bytes).tags, kind).not.toBe(plain.tags);
    }
  });
});

const SAMPLES: Record<string, Record<string, unknown>> = {
  services: { name: 'svc', host: 'up.test', tags: ['a'] },
  routes: { name: 'r', paths: ['/r'], service: { id: SERVICE_ID }, tags: ['r'] },
  consumers: { username: 'alice', tags: ['gold'] },
  plugins: { name: 'key-auth', route: { id: SERVICE_ID }, config: {}, tags: ['edge'] },
  keyauth_credentials: { consumer: { id: SERVICE_ID }, key: 'secret', tags: ['k'] },
  basicauth_credentials: { consumer: { id: SERVICE_ID }, username: 'bob', password: '$scrypt$x', tags: ['b'] },
  acls: { consumer: { id: SERVICE_ID }, group: 'admins', tags: ['g'] },
};

describe('entity strings (read flat, checked as UTF-8 as protobufjs checks them)', () => {
  it.each([
    ['ASCII', 'route-1'],
    ['non-ASCII', 'café-ünïcode'],
    ['an astral character', 'smile-\u{1F600}'],
    ['a U+FFFD really encoded', 'bad-\uFFFD-char'],
    ['a byte-order mark', '\uFEFFbom'],
    ['64 bytes and more', 'n'.repeat(64) + 'é'.repeat(40)],
  ])('reads %s as it was written', (_, name) => {
    expect(decodeRoute(encodeRoute(route(1, { name }))).name).toBe(name);
  });

  it('reads a plain Uint8Array as a Buffer', () => {
    const bytes = encodeRoute(route(1, { name: 'café' }));
    expect(decodeRoute(new Uint8Array(bytes))).toEqual(decodeRoute(bytes));
  });

  it.each([
    ['a lone surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['an overlong NUL', [0xc0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x61, 0x80]],
    ['a truncated sequence', [0x61, 0xe2, 0x82]],
  ])('refuses %s with ENTITY_DECODE, as protobufjs does', (_, bytes) => {
    const invalid = routeBytesWithName(bytes);
    expect(() => pb.Route.decode(invalid)).toThrow('The encoded data was not valid for encoding utf-8');
    expect(() => decodeRoute(invalid)).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.ENTITY_DECODE, message: 'undecodable route: The encoded data was not valid for encoding utf-8' }),
    );
  });

  it('refuses a string running past the end of the message as protobufjs does', () => {
    const bytes = routeBytesWithName([0x61, 0x62]);
    const truncated = bytes.subarray(0, Buffer.from(bytes).indexOf(Buffer.from([0x61, 0x62])) + 1);
    expect(() => decodeRoute(truncated)).toThrow(expect.objectContaining({ code: ProtocolErrorCode.ENTITY_DECODE }));
    let expected = '';
    try {
      pb.Route.decode(truncated);
    } catch (e) {
      expected = (e as Error).message;
    }
    expect(expected).toMatch(/index out of range/);
    expect(() => decodeRoute(truncated)).toThrow(`undecodable route: ${expected}`);
  });
});
