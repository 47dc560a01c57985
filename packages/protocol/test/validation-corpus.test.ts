/**
 * Guards Kong's validation rules and messages byte for byte: a fixed corpus of inputs (every field
 * spec of every schema probed with the same values; every kind's write pipeline run on mutations of
 * a valid entity in each mode) against the results recorded in `fixtures/validation-corpus.jsonl`,
 * errors in their insertion order (the Admin API's `fields` body) and the schema-violation message.
 *
 * The recording was made with the interpreted validator of 7ea987c, before the validator was
 * compiled per spec for speed: any divergence of the compiled one, however small, fails here. A
 * deliberate rule or message change re-records it: `SLUICE_UPDATE_CORPUS=1 npx vitest run
 * packages/protocol/test/validation-corpus.test.ts`, and the diff of the file is the review.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLUGIN_DESCRIPTORS } from '../src/plugins/plugin-catalog.js';
import { preparePluginConfig } from '../src/plugins/plugin-config.js';
import { schemaViolationMessage, type FieldErrors } from '../src/entities/field-errors.js';
import type { EntitySchema, FieldSpec } from '../src/entities/field-spec.js';
import { validateField } from '../src/entities/field-validation.js';
import { ENTITY_KINDS, entityDefinition, type EntityKind } from '../src/entities/registry.js';
import { expandRecordShorthands, withShorthandEcho } from '../src/entities/record-values.js';
import { WRITE_MODES, type WriteMode } from '../src/entities/prepare-entity.js';

const CORPUS_FILE = new URL('./fixtures/validation-corpus.jsonl', import.meta.url);
const UUID = '6f2a4a3e-1c1b-4d0e-9a43-5f6b7c8d9e0f';
const UPPER_UUID = UUID.toUpperCase();
const OPTIONS = { now: 1_700_000_000, newId: '00000000-0000-4000-8000-000000000001' } as const;

/** A hole in an array (JSON cannot say it; a clone or a caller's array can have one). */
const SPARSE: unknown[] = [];
SPARSE[1] = 'a';

/** The values every field spec is probed with: each type, its edges, and Kong's usual mistakes. */
const PROBES: readonly unknown[] = [
  undefined, null, true, false, 0, -1, 1, 1.5, 80, 65536, 2 ** 31, -0, Number.NaN, Number.POSITIVE_INFINITY,
  '', 'a', 'http', 'https', 'GET', 'get', '/', '/a//b', '/a/./b', '/%zz', '~/x/(?<id>\\d+)$', '~/(', 'x'.repeat(300),
  '\uD800', 'a\uDC80b', '\uD83D\uDE00', 'caf\u00e9', UUID, UPPER_UUID, 'not-a-uuid', 'host.test', 'host.test:80',
  '*.a.test', 'a.*', 'a*b.test', '1.2.3.4', '1.2.3.4:8000', '[::1]', '::1', 'ab,c', 'a b', 'redis', 'local', 'v1',
  [], ['a'], ['a', 'a'], ['http', 'https'], ['http', 'http', 'https'], ['grpc'], ['tcp'], [1], [null], ['x', 2, null], SPARSE,
  [UUID], ['GET', 'get'], [{ a: 1 }, { a: 1 }],
  {}, { id: UUID }, { id: UPPER_UUID }, { id: 'x' }, { id: null }, { id: 5 }, { a: ['x'] }, { host: ['x'] },
  { 'x-a': ['v'], 'bad name': ['v'] }, { 'x-a': 'v' }, { 'x-a': [] }, { __proto__: ['v'] }, { host: 'h' }, { unknown: 1 },
  { minute: 5 }, { second: 10, minute: 5 }, { minute: 5, policy: 'redis' }, { allow: ['g'] }, { allow: ['g'], deny: ['h'] },
];

/** One line of the corpus: its name and what the validator answered, as JSON can hold it. */
interface CorpusLine {
  readonly case: string;
  readonly result: unknown;
}

/** JSON of a result, with what JSON cannot say spelled out (undefined, NaN, ±Infinity, -0). */
function jsonOf(value: unknown): unknown {
  if (value === undefined) return '<undefined>';
  if (typeof value === 'number') return Number.isNaN(value) ? '<NaN>' : !Number.isFinite(value) ? `<${value}>` : Object.is(value, -0) ? '<-0>' : value;
  if (Array.isArray(value)) return Array.from(value, (v) => jsonOf(v));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) Object.defineProperty(out, key, { value: jsonOf((value as Record<string, unknown>)[key]), enumerable: true });
    return out;
  }
  return value;
}

/** Every field spec reachable from a schema, by path: nested record fields, list elements, map keys and values, shorthands. */
function* fieldSpecs(prefix: string, fields: Readonly<Record<string, FieldSpec>>): Generator<[string, FieldSpec]> {
  for (const [name, spec] of Object.entries(fields)) yield* specsOf(`${prefix}.${name}`, spec);
}

function* specsOf(path: string, spec: FieldSpec): Generator<[string, FieldSpec]> {
  yield [path, spec];
  if (spec.type === 'array' || spec.type === 'set') yield* specsOf(`${path}[]`, spec.elements);
  if (spec.type === 'map') {
    yield* specsOf(`${path}{key}`, spec.keys);
    yield* specsOf(`${path}{value}`, spec.values);
  }
  if (spec.type === 'record' && spec.fields !== null) {
    yield* fieldSpecs(path, spec.fields);
    for (const [name, shorthand] of Object.entries(spec.shorthands ?? {})) yield* specsOf(`${path}~${name}`, shorthand.spec);
  }
}

/** The schemas of the registry, plugins by each plugin's complete subschema. */
function schemas(): [string, EntitySchema][] {
  const out: [string, EntitySchema][] = [];
  for (const kind of ENTITY_KINDS) {
    const schema = entityDefinition(kind).schema;
    if (schema.subschemas === undefined) out.push([kind, schema]);
    else for (const [name, sub] of schema.subschemas.schemas) out.push([`${kind}:${name}`, sub]);
  }
  return out;
}

/** A valid input of each kind (plugins: one per catalog plugin), the base the mutations start from. */
function baseInputs(): [string, EntityKind, Record<string, unknown>][] {
  const consumer = { id: UUID };
  const plugins: [string, EntityKind, Record<string, unknown>][] = [];
  const configs: Record<string, Record<string, unknown>> = {
    'key-auth': { key_names: ['apikey', 'x-key'], hide_credentials: true },
    'basic-auth': { hide_credentials: true },
    acl: { allow: ['admins'] },
    'rate-limiting': { minute: 5, hour: 100, policy: 'redis', redis: { host: 'redis.test', port: 6380 }, limit_by: 'header', header_name: 'x-user' },
  };
  for (const name of PLUGIN_DESCRIPTORS.keys()) {
    plugins.push([`plugins:${name}`, 'plugins', { name, instance_name: `i-${name}`, route: { id: UUID }, config: configs[name] ?? {}, protocols: ['http', 'https'], enabled: true, tags: ['p'] }]);
  }
  return [
    [
      'services',
      'services',
      {
        name: 'svc',
        retries: 3,
        protocol: 'https',
        host: 'example.test',
        port: 443,
        path: '/base',
        connect_timeout: 1000,
        write_timeout: 2000,
        read_timeout: 3000,
        tags: ['a', 'b'],
        client_certificate: { id: UUID },
        tls_verify: true,
        tls_verify_depth: 2,
        ca_certificates: [UUID],
        enabled: true,
      },
    ],
    [
      'routes',
      'routes',
      {
        name: 'r',
        protocols: ['http', 'https'],
        methods: ['GET', 'POST'],
        hosts: ['a.test', '*.b.test'],
        paths: ['/p', '~/x/(?<id>\\d+)$'],
        headers: { 'x-a': ['1', '2'] },
        snis: ['a.test'],
        strip_path: false,
        preserve_host: true,
        regex_priority: 2,
        path_handling: 'v1',
        https_redirect_status_code: 301,
        request_buffering: true,
        response_buffering: false,
        service: { id: UUID },
        tags: ['t'],
      },
    ],
    ['consumers', 'consumers', { username: 'u', custom_id: 'c', tags: ['x'] }],
    ...plugins,
    ['keyauth_credentials', 'keyauth_credentials', { consumer, key: 'k', expires_at: 1_800_000_000, tags: ['k'] }],
    ['basicauth_credentials', 'basicauth_credentials', { consumer, username: 'user', password: 'secret' }],
    ['acls', 'acls', { consumer, group: 'admins' }],
  ];
}

/**
 * The values a top-level field is set to in the mutations (`<delete>` removes it): the pipeline's
 * paths (absent, null, each type, an id to lower-case); each spec's own rules are the field probes'.
 */
const MUTATIONS: readonly unknown[] = ['<delete>', null, '', 1.5, true, [], {}, UPPER_UUID];

/** The mutations run in each mode besides create (by index in MUTATIONS). */
const MODE_MUTATIONS: Readonly<Record<WriteMode, ReadonlySet<number>>> = { create: new Set(MUTATIONS.keys()), replace: new Set([0]), update: new Set([0, 1, 3]) };

/** The plugin fields each plugin's mutations cover (key-auth's cover every field of the plugin entity). */
const PLUGIN_MUTATED_FIELDS: readonly string[] = ['name', 'consumer', 'config', 'protocols'];

/** The mutations of a base input: one per (field, value), unknown and hostile keys, and each kind's special cases. */
function* mutations(label: string, base: Record<string, unknown>, schema: EntitySchema): Generator<[string, Record<string, unknown>]> {
  yield ['base', base];
  yield ['empty', {}];
  const mutated = label.startsWith('plugins:') && label !== 'plugins:key-auth' ? PLUGIN_MUTATED_FIELDS : Object.keys(schema.fields);
  for (const name of mutated) {
    for (let i = 0; i < MUTATIONS.length; i++) {
      const input: Record<string, unknown> = { ...base };
      if (MUTATIONS[i] === '<delete>') delete input[name];
      else input[name] = MUTATIONS[i];
      yield [`${name}=${i}`, input];
    }
  }
  for (const key of ['unknown', '__proto__', 'constructor', 'toString', '0', 'url']) {
    const input = { ...base };
    Object.defineProperty(input, key, { value: 'x', enumerable: true, writable: true, configurable: true });
    yield [`key ${key}`, input];
  }
  yield ['two errors', { ...base, id: 'x', created_at: -1, updated_at: 1.5 }];
  yield ['given id and times', { ...base, id: UPPER_UUID, created_at: 5, updated_at: 6 }];
  if (label === 'services') {
    for (const url of ['http://a.test:8080/p', 'https://a.test', 'grpc://g.test', 'invalid url', '', 5, null]) {
      yield [`url ${String(url)}`, { url }];
      yield [`url ${String(url)} with host`, { url, host: 'other.test' }];
    }
    yield ['tcp with path', { ...base, protocol: 'tcp' }];
    yield ['http with tls fields', { ...base, protocol: 'http' }];
  }
  if (label === 'routes') {
    yield ['http only with snis', { ...base, protocols: ['http'] }];
    yield ['no matchers https', { protocols: ['https'], service: { id: UUID } }];
    yield ['no matchers http', { protocols: ['http'] }];
    yield ['tcp', { ...base, protocols: ['tcp'] }];
    yield ['unknown protocol', { ...base, protocols: ['nope'] }];
    yield ['host header', { ...base, headers: { Host: ['a'] } }];
    yield ['proto header', { ...base, headers: JSON.parse('{"__proto__":["a"]}') as Record<string, unknown> }];
    yield ['bad elements', { ...base, hosts: ['ok.test', 'a*b*c', 5], paths: ['/ok', 'nope', '/a//b'], methods: ['get'] }];
    yield ['sources', { ...base, sources: [{ ip: '1.2.3.4' }] }];
    yield ['duplicate sets', { ...base, protocols: ['https', 'http', 'https'], methods: ['GET', 'GET'], tags: ['t', 't'] }];
  }
  if (label === 'plugins:rate-limiting') {
    const config = base.config as Record<string, unknown>;
    yield ['redis shorthands', { ...base, config: { minute: 5, policy: 'redis', redis_host: 'h.test', redis_port: 7000, redis_timeout: 50 } }];
    yield ['redis shorthand mismatch', { ...base, config: { ...config, redis_host: 'other.test' } }];
    yield ['redis shorthand match', { ...base, config: { ...config, redis_host: 'redis.test' } }];
    yield ['redis shorthand wrong type', { ...base, config: { ...config, redis_port: 'x', redis_ssl: 1 } }];
    yield ['redis shorthand null', { ...base, config: { ...config, redis_host: null } }];
    yield ['redis not a record', { ...base, config: { minute: 5, redis: 5, redis_host: 'h' } }];
    yield ['periods out of order', { ...base, config: { second: 10, minute: 5 } }];
    yield ['no period', { ...base, config: { policy: 'local' } }];
    yield ['redis without host', { ...base, config: { minute: 5, policy: 'redis' } }];
    yield ['limit by path without path', { ...base, config: { minute: 5, limit_by: 'path' } }];
    yield ['deep error', { ...base, config: { minute: 5, redis: { host: 5, port: 'x', nope: 1 } } }];
  }
  if (label === 'plugins:acl') {
    yield ['allow and deny', { ...base, config: { allow: ['a'], deny: ['b'] } }];
    yield ['neither', { ...base, config: {} }];
    yield ['consumer', { ...base, consumer: { id: UUID } }];
  }
  if (label.startsWith('plugins:')) {
    yield ['unknown plugin', { ...base, name: 'nope' }];
    yield ['no name', { config: {} }];
    yield ['name not a string', { ...base, name: 5 }];
    yield ['config not a record', { ...base, config: 'x' }];
    yield ['config unknown field', { ...base, config: { ...(base.config as object), nope: 1 } }];
  }
}

/** The first 12 hex digits of the SHA-256 of a value's JSON (key order included). */
function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(jsonOf(value))).digest('hex').slice(0, 12);
}

/**
 * The result of one write: Kong's message and a digest of the error tree (the Admin API body, key
 * order included), or a digest of the entity and of what reads present of it.
 */
function outcome(kind: EntityKind, input: unknown, mode: WriteMode, existing: unknown): unknown {
  const definition = entityDefinition(kind);
  const result = definition.prepare(input, { mode, existing: existing as never, ...OPTIONS });
  if (!result.ok) return { message: schemaViolationMessage(result.errors), errors: digest(result.errors) };
  return { entity: digest(result.entity), presented: digest(definition.present(result.entity)) };
}

/** A field's answers to the probes: each distinct answer (as JSON) with the indices of the probes that got it. */
function answers(spec: FieldSpec): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  PROBES.forEach((probe, i) => (out[JSON.stringify(jsonOf(validateField(spec, probe)))] ??= []).push(i));
  return out;
}

/** The whole corpus, in a stable order. */
function corpus(): CorpusLine[] {
  const lines: CorpusLine[] = [];
  for (const [label, schema] of schemas()) {
    for (const [path, spec] of fieldSpecs(label, schema.fields)) lines.push({ case: `field ${path}`, result: answers(spec) });
  }
  for (const [label, kind, base] of baseInputs()) {
    const definition = entityDefinition(kind);
    const prepared = definition.prepare(base, { mode: 'create', ...OPTIONS });
    const existing = prepared.ok ? prepared.entity : null;
    const schema = definition.schema.subschemas?.schemas.get(String(base.name)) ?? definition.schema;
    for (const [name, input] of mutations(label, base, schema)) {
      for (const mode of WRITE_MODES) {
        if (mode === 'update' && existing === null) continue;
        const mutation = /=(\d+)$/.exec(name);
        if (mutation !== null && !MODE_MUTATIONS[mode].has(Number(mutation[1]))) continue;
        lines.push({ case: `prepare ${label} ${mode} ${name}`, result: outcome(kind, input, mode, mode === 'update' ? existing : mode === 'replace' ? existing : null) });
      }
    }
  }
  lines.push({ case: 'prepare not a record', result: ['x', 5, null, [], [1]].map((v) => outcome('services', v, 'create', null)) });
  for (const name of PLUGIN_DESCRIPTORS.keys()) {
    const results = PROBES.map((p) => {
      const r = preparePluginConfig(name, p);
      return r.ok ? { config: digest(r.config) } : { message: schemaViolationMessage(r.errors), errors: digest(r.errors) };
    });
    lines.push({ case: `plugin config ${name}`, result: results });
  }
  const rateLimiting = entityDefinition('plugins').schema.subschemas?.schemas.get('rate-limiting');
  if (rateLimiting !== undefined) {
    const errors = Object.create(null) as FieldErrors;
    const data: Record<string, unknown> = { config: { redis_host: 'a.test', redis_port: 'x', redis: { host: 'b.test' }, redis_timeout: 5 } };
    expandRecordShorthands(rateLimiting.fields, data, errors);
    lines.push({ case: 'expandRecordShorthands rate-limiting', result: { data: jsonOf(data), errors: jsonOf(errors) } });
    lines.push({ case: 'withShorthandEcho rate-limiting', result: jsonOf(withShorthandEcho(rateLimiting, { config: { redis: { host: 'h', port: 1 } } })) });
  }
  return lines;
}

describe('Kong validation corpus (rules and messages byte for byte)', () => {
  it('answers every case of the recorded corpus exactly as recorded', () => {
    const lines = corpus();
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    if (process.env.SLUICE_UPDATE_CORPUS === '1') writeFileSync(CORPUS_FILE, text);
    const recorded = readFileSync(CORPUS_FILE, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(recorded.length);
    for (let i = 0; i < lines.length; i++) expect(JSON.stringify(lines[i]), `line ${i + 1}`).toBe(recorded[i]);
  });
});
