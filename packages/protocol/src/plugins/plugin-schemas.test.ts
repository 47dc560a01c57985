import { describe, expect, it } from 'vitest';
import { schemaViolationMessage } from '../entities/field-errors.js';
import { PLUGINS } from '../entities/kinds/plugins.js';
import type { Plugin } from '../entities/types.js';
import { PLUGIN_DESCRIPTORS } from './plugin-catalog.js';
import { preparePluginConfig, validatePluginConfig } from './plugin-config.js';
import { pluginConfigSchemaToJson, pluginSchemaToJson } from './plugin-schema-json.js';
import type { RateLimitingConfig } from './rate-limiting/schema.js';

const OPTS = { mode: 'create' as const, now: 1000, newId: '00000000-0000-4000-8000-000000000001' };
const CONSUMER = { id: '00000000-0000-4000-8000-0000000000cc' };
const AT_LEAST_ONE_PERIOD =
  "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'";

function create(input: Record<string, unknown>) {
  return PLUGINS.prepare(input, OPTS);
}

function created(input: Record<string, unknown>): Plugin {
  const result = create(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.entity;
}

/** The schema-violation `fields` and message of an input Kong refuses. */
function refusal(input: Record<string, unknown>) {
  const result = create(input);
  if (result.ok) throw new Error('accepted');
  return { fields: JSON.parse(JSON.stringify(result.errors)) as unknown, message: schemaViolationMessage(result.errors) };
}

const REDIS_DEFAULTS = {
  host: null,
  port: 6379,
  timeout: 2000,
  username: null,
  password: null,
  database: 0,
  ssl: false,
  ssl_verify: false,
  server_name: null,
};

describe('plugin defaults (an omitted config is every default, nested records whole)', () => {
  it.each([
    ['key-auth', { key_names: ['apikey'], hide_credentials: false, anonymous: null, key_in_header: true, key_in_query: true, key_in_body: false, run_on_preflight: true, realm: null }],
    ['basic-auth', { anonymous: null, hide_credentials: false, realm: 'service' }],
  ])('%s', (name, config) => {
    const plugin = created({ name });
    expect(plugin.config).toEqual(config);
    expect(Object.keys(plugin.config)).toEqual(Object.keys(config));
    expect(plugin.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('rate-limiting fills every field, config.redis included, in schema order', () => {
    const plugin = created({ name: 'rate-limiting', config: { minute: 6 } });
    const expected: RateLimitingConfig = {
      second: null,
      minute: 6,
      hour: null,
      day: null,
      month: null,
      year: null,
      limit_by: 'consumer',
      header_name: null,
      path: null,
      policy: 'local',
      fault_tolerant: true,
      redis: REDIS_DEFAULTS,
      hide_client_headers: false,
      error_code: 429,
      error_message: 'API rate limit exceeded',
      sync_rate: -1,
    };
    expect(plugin.config).toEqual(expected);
    expect(Object.keys(plugin.config)).toEqual(Object.keys(expected));
    expect(Object.keys(plugin.config.redis as object)).toEqual(Object.keys(REDIS_DEFAULTS));
    // Deterministic encoding: same bytes whatever the input's key order.
    const reordered = created({ config: { redis: { port: 6379 }, minute: 6 }, name: 'rate-limiting' });
    expect(PLUGINS.encode({ ...reordered, id: plugin.id })).toEqual(PLUGINS.encode(plugin));
  });

  it('acl keeps the lists as given', () => {
    expect(created({ name: 'acl', config: { allow: ['admin'] } }).config).toEqual({ allow: ['admin'], deny: null, hide_groups_header: false, always_use_authenticated_groups: false });
  });
});

describe("Kong's refusals (kong-plugins.md §1.3, §4)", () => {
  it.each<[string, Record<string, unknown>, unknown, string]>([
    ['no name', { config: {} }, { name: 'required field missing' }, 'schema violation (name: required field missing)'],
    [
      'unknown plugin',
      { name: 'foo', config: { x: 1 }, bogus: 1 },
      { name: "plugin 'foo' not enabled; add it to the 'plugins' configuration property" },
      "schema violation (name: plugin 'foo' not enabled; add it to the 'plugins' configuration property)",
    ],
    ['unknown top-level field', { name: 'key-auth', foo: 'bar' }, { foo: 'unknown field' }, 'schema violation (foo: unknown field)'],
    ['config not a record', { name: 'key-auth', config: 'bar' }, { config: 'expected a record' }, 'schema violation (config: expected a record)'],
    ['config null', { name: 'key-auth', config: null }, { config: 'required field missing' }, 'schema violation (config: required field missing)'],
    ['unknown config field', { name: 'key-auth', config: { foo: 1 } }, { config: { foo: 'unknown field' } }, 'schema violation (config.foo: unknown field)'],
    [
      'KA13 schema: bad key name',
      { name: 'key-auth', config: { key_names: ['hello\\world'] } },
      { config: { key_names: ["bad header name 'hello\\world', allowed characters are A-Z, a-z, 0-9, '_', and '-'"] } },
      "schema violation (config.key_names: {\n  \"bad header name 'hello\\\\world', allowed characters are A-Z, a-z, 0-9, '_', and '-'\"\n})",
    ],
    [
      'no_consumer',
      { name: 'basic-auth', consumer: CONSUMER },
      { consumer: 'value must be null' },
      'schema violation (consumer: value must be null)',
    ],
    [
      'protocols_http',
      { name: 'acl', config: { allow: ['a'] }, protocols: ['http', 'tcp'] },
      { protocols: [null, 'expected one of: grpc, grpcs, http, https'] },
      'schema violation (protocols.2: expected one of: grpc, grpcs, http, https)',
    ],
    [
      'instance_name rule',
      { name: 'key-auth', instance_name: 'a b' },
      { instance_name: "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~" },
      "schema violation (instance_name: invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~)",
    ],
    ['RL11: empty config', { name: 'rate-limiting' }, { '@entity': [AT_LEAST_ONE_PERIOD] }, `schema violation (${AT_LEAST_ONE_PERIOD})`],
    [
      'RL11: periods out of order',
      { name: 'rate-limiting', config: { second: 20, hour: 10 } },
      { config: 'The limit for hour(10.0) cannot be lower than the limit for second(20.0)' },
      'schema violation (config: The limit for hour(10.0) cannot be lower than the limit for second(20.0))',
    ],
    [
      'periods out of order (bis)',
      { name: 'rate-limiting', config: { month: 60, year: 50 } },
      { config: 'The limit for year(50.0) cannot be lower than the limit for month(60.0)' },
      'schema violation (config: The limit for year(50.0) cannot be lower than the limit for month(60.0))',
    ],
    [
      'RL11: cluster policy on a control plane',
      { name: 'rate-limiting', config: { second: 10, policy: 'cluster' } },
      { config: { policy: 'expected one of: local, redis' } },
      'schema violation (config.policy: expected one of: local, redis)',
    ],
    [
      'limit not greater than 0',
      { name: 'rate-limiting', config: { second: 0, minute: 'x' } },
      { config: { second: 'value must be greater than 0', minute: 'expected a number' } },
      '2 schema violations (config.minute: expected a number; config.second: value must be greater than 0)',
    ],
    [
      'limit_by=header without header_name',
      { name: 'rate-limiting', config: { second: 10, limit_by: 'header' } },
      { '@entity': ["failed conditional validation given value of field 'config.limit_by'"], config: { header_name: 'required field missing' } },
      "2 schema violations (failed conditional validation given value of field 'config.limit_by'; config.header_name: required field missing)",
    ],
    [
      'limit_by=path without path',
      { name: 'rate-limiting', config: { second: 10, limit_by: 'path' } },
      { '@entity': ["failed conditional validation given value of field 'config.limit_by'"], config: { path: 'required field missing' } },
      "2 schema violations (failed conditional validation given value of field 'config.limit_by'; config.path: required field missing)",
    ],
    [
      'redis policy without redis.host',
      { name: 'rate-limiting', config: { second: 10, policy: 'redis' } },
      { '@entity': ["failed conditional validation given value of field 'config.policy'"], config: { redis: { host: 'required field missing' } } },
      "2 schema violations (failed conditional validation given value of field 'config.policy'; config.redis: {\n  host = \"required field missing\"\n})",
    ],
    [
      'bad header name',
      { name: 'rate-limiting', config: { second: 10, limit_by: 'header', header_name: 'x y' } },
      { config: { header_name: "bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-'" } },
      "schema violation (config.header_name: bad header name 'x y', allowed characters are A-Z, a-z, 0-9, '_', and '-')",
    ],
    [
      'path typedef',
      { name: 'rate-limiting', config: { second: 10, limit_by: 'path', path: 'a//b' } },
      { config: { path: 'should start with: /' } },
      'schema violation (config.path: should start with: /)',
    ],
    [
      'sync_rate without redis',
      { name: 'rate-limiting', config: { second: 10, sync_rate: 1 } },
      { config: 'sync_rate can only be used with the redis policy' },
      'schema violation (config: sync_rate can only be used with the redis policy)',
    ],
    [
      'sync_rate too small',
      { name: 'rate-limiting', config: { second: 10, policy: 'redis', redis: { host: 'r.test' }, sync_rate: 0.01 } },
      { config: 'sync_rate must be greater than 0.02, or -1 to disable' },
      'schema violation (config: sync_rate must be greater than 0.02, or -1 to disable)',
    ],
    [
      'unknown nested field and bad nested value',
      { name: 'rate-limiting', config: { second: 10, redis: { hots: 'x', port: 70000 } } },
      { config: { redis: { hots: 'unknown field', port: 'value should be between 0 and 65535' } } },
      'schema violation (config.redis: {\n  hots = "unknown field",\n  port = "value should be between 0 and 65535"\n})',
    ],
    [
      'shorthand mismatch',
      { name: 'rate-limiting', config: { second: 10, redis_host: 'a.test', redis: { host: 'b.test' } } },
      { redis_host: 'both deprecated and new field are used but their values mismatch: redis_host = a.test vs redis.host = b.test' },
      'schema violation (redis_host: both deprecated and new field are used but their values mismatch: redis_host = a.test vs redis.host = b.test)',
    ],
    [
      'shorthand of the wrong type',
      { name: 'rate-limiting', config: { second: 10, redis_port: 'x' } },
      { redis_port: 'expected an integer' },
      'schema violation (redis_port: expected an integer)',
    ],
    [
      'acl: neither list',
      { name: 'acl', config: {} },
      {
        '@entity': [
          "exactly one of these fields must be non-empty: 'config.allow', 'config.deny'",
          "at least one of these fields must be non-empty: 'config.allow', 'config.deny'",
        ],
      },
      "2 schema violations (exactly one of these fields must be non-empty: 'config.allow', 'config.deny'; at least one of these fields must be non-empty: 'config.allow', 'config.deny')",
    ],
    [
      'acl: both lists',
      { name: 'acl', config: { allow: ['a'], deny: ['b'] } },
      { '@entity': ["exactly one of these fields must be non-empty: 'config.allow', 'config.deny'"] },
      "schema violation (exactly one of these fields must be non-empty: 'config.allow', 'config.deny')",
    ],
  ])('%s', (_title, input, fields, message) => {
    expect(refusal(input)).toEqual({ fields, message });
  });

  it('an acl with one list set, and the other empty, is valid', () => {
    expect(create({ name: 'acl', config: { allow: ['a'], deny: [] } }).ok).toBe(true);
  });
});

describe('shorthands (RL12): moved to their path, never stored, echoed on reads', () => {
  it('redis_* fill config.redis; the echo shows both forms', () => {
    const plugin = created({ name: 'rate-limiting', config: { minute: 6, policy: 'redis', redis_host: 'r.test', redis_port: 6380, redis_ssl: true } });
    expect(plugin.config.redis).toEqual({ ...REDIS_DEFAULTS, host: 'r.test', port: 6380, ssl: true });
    expect(Object.keys(plugin.config)).not.toContain('redis_host');
    const shown = PLUGINS.present(plugin);
    expect(shown.config).toMatchObject({ redis_host: 'r.test', redis_port: 6380, redis_ssl: true, redis_password: null, redis_database: 0, redis: { host: 'r.test' } });
    expect(plugin.config).not.toHaveProperty('redis_host');
  });

  it('agreeing values are accepted', () => {
    expect(create({ name: 'rate-limiting', config: { second: 1, redis_host: 'a.test', redis: { host: 'a.test' } } }).ok).toBe(true);
  });

  it('other plugins show as stored', () => {
    const plugin = created({ name: 'key-auth' });
    expect(PLUGINS.present(plugin)).toEqual(plugin);
  });
});

describe('PATCH merges nested records (Kong merge_values)', () => {
  it('keeps the stored fields a PATCH leaves out, at every level; arrays are replaced', () => {
    const stored = created({ name: 'rate-limiting', config: { minute: 6, policy: 'redis', redis: { host: 'r.test', port: 7000 } } });
    const patched = PLUGINS.prepare({ config: { redis: { timeout: 100 } } }, { ...OPTS, mode: 'update', existing: stored, now: 2000 });
    expect(patched.ok && patched.entity.config).toMatchObject({ minute: 6, policy: 'redis', redis: { host: 'r.test', port: 7000, timeout: 100 } });
    const viaShorthand = PLUGINS.prepare({ config: { redis_host: 'other.test' } }, { ...OPTS, mode: 'update', existing: stored, now: 2000 });
    expect(viaShorthand.ok && viaShorthand.entity.config.redis).toMatchObject({ host: 'other.test', port: 7000 });

    const acl = created({ name: 'acl', config: { allow: ['a', 'b'] } });
    const replaced = PLUGINS.prepare({ config: { allow: ['c'] } }, { ...OPTS, mode: 'update', existing: acl, now: 2000 });
    expect(replaced.ok && replaced.entity.config.allow).toEqual(['c']);
  });

  it("words the update's entity-check message as Kong's validate_update does", () => {
    const stored = created({ name: 'rate-limiting', config: { minute: 6 } });
    const patched = PLUGINS.prepare({ config: { minute: null } }, { ...OPTS, mode: 'update', existing: stored, now: 2000 });
    expect(patched).toEqual({ ok: false, errors: { '@entity': [`when updating, ${AT_LEAST_ONE_PERIOD}`] } });
  });

  it('learns the subschema from the stored entity when the PATCH has no name', () => {
    const stored = created({ name: 'key-auth' });
    const patched = PLUGINS.prepare({ config: { nope: 1 } }, { ...OPTS, mode: 'update', existing: stored, now: 2000 });
    expect(patched).toEqual({ ok: false, errors: { config: { nope: 'unknown field' } } });
  });
});

describe('hostile config keys', () => {
  it('are unknown fields at every level and never reach Object.prototype', () => {
    const config = JSON.parse('{"second": 1, "__proto__": {"polluted": true}, "redis": {"__proto__": {"polluted": true}, "constructor": 1}}') as unknown;
    expect(refusal({ name: 'rate-limiting', config })).toEqual({
      fields: JSON.parse('{"config": {"__proto__": "unknown field", "redis": {"__proto__": "unknown field", "constructor": "unknown field"}}}'),
      message: expect.stringContaining('config.__proto__: unknown field'),
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('preparePluginConfig / validatePluginConfig', () => {
  it('completes a config, and finds the errors of a bad one', () => {
    const result = preparePluginConfig<RateLimitingConfig>('rate-limiting', { second: 5 });
    expect(result.ok && result.config.limit_by).toBe('consumer');
    expect(validatePluginConfig('rate-limiting', result.ok ? result.config : null)).toBeNull();
    expect(validatePluginConfig('rate-limiting', { second: 5, foo: 1 })).toEqual({ config: { foo: 'unknown field' } });
    expect(validatePluginConfig('nope', {})).toEqual({ name: "plugin 'nope' not enabled; add it to the 'plugins' configuration property" });
  });
});

describe("schemas in Kong's JSON format", () => {
  it('serves the subschema: consumer, protocols and config fields, entity checks, shorthands', () => {
    const acl = pluginSchemaToJson('acl');
    expect(acl?.fields.map((f) => Object.keys(f)[0])).toEqual(['consumer', 'protocols', 'config']);
    expect(acl?.fields[0]).toMatchObject({ consumer: { type: 'foreign', reference: 'consumers', eq: null } });
    expect(acl?.fields[1]).toMatchObject({
      protocols: { type: 'set', required: true, default: ['grpc', 'grpcs', 'http', 'https'], elements: { type: 'string', one_of: ['grpc', 'grpcs', 'http', 'https'] } },
    });
    expect(acl?.entity_checks).toEqual([{ only_one_of: ['config.allow', 'config.deny'] }, { at_least_one_of: ['config.allow', 'config.deny'] }]);

    const rl = pluginSchemaToJson('rate-limiting');
    const config = rl?.fields.find((f) => 'config' in f)?.config as { fields: Record<string, unknown>[]; shorthand_fields: Record<string, unknown>[]; required: boolean };
    expect(config.required).toBe(true);
    expect(config.fields.map((f) => Object.keys(f)[0])).toEqual([
      'second', 'minute', 'hour', 'day', 'month', 'year', 'limit_by', 'header_name', 'path', 'policy', 'fault_tolerant', 'redis',
      'hide_client_headers', 'error_code', 'error_message', 'sync_rate',
    ]);
    expect(config.fields[0]).toMatchObject({ second: { type: 'number', gt: 0 } });
    expect(config.fields.find((f) => 'policy' in f)).toMatchObject({ policy: { type: 'string', default: 'local', len_min: 0, one_of: ['local', 'redis'] } });
    expect(config.shorthand_fields[0]).toEqual({
      redis_host: {
        type: 'string',
        deprecation: {
          message: 'rate-limiting: config.redis_host is deprecated, please use config.redis.host instead',
          removal_in_version: '4.0',
          replaced_with: [{ path: ['redis', 'host'] }],
        },
      },
    });
    expect(rl?.entity_checks[1]).toEqual({
      conditional: { if_field: 'config.policy', if_match: { eq: 'redis' }, then_field: 'config.redis.host', then_match: { required: true } },
    });
    expect(pluginSchemaToJson('foobar')).toBeUndefined();
  });

  it('the legacy form is the config record alone', () => {
    const legacy = pluginConfigSchemaToJson('key-auth');
    expect(legacy?.entity_checks).toEqual([]);
    expect(legacy?.fields[0]).toMatchObject({ key_names: { type: 'array', required: true, default: ['apikey'], elements: { type: 'string' } } });
  });

  it('has a schema for every plugin of the catalog', () => {
    for (const name of PLUGIN_DESCRIPTORS.keys()) expect(pluginSchemaToJson(name)?.fields.length).toBeGreaterThan(0);
  });
});
