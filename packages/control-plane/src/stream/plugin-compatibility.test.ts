import { describe, expect, it } from 'vitest';
import { PLUGIN_SCHEMA_VERSION } from '@sluice/protocol';
import { announcedPlugins, incompatiblePluginNames, isSameIncompatibility, pluginIncompatibility } from './plugin-compatibility.js';

const all = new Map([
  ['key-auth', PLUGIN_SCHEMA_VERSION],
  ['basic-auth', PLUGIN_SCHEMA_VERSION],
  ['acl', PLUGIN_SCHEMA_VERSION],
  ['rate-limiting', PLUGIN_SCHEMA_VERSION],
]);

describe('plugin compatibility (capability negotiation)', () => {
  it('lets a config through when every plugin it uses is announced', () => {
    expect(pluginIncompatibility([], new Map())).toBeNull();
    expect(pluginIncompatibility(['rate-limiting', 'key-auth'], all)).toBeNull();
  });

  it('names the plugins in use that the data plane did not announce, sorted', () => {
    const announced = new Map([['key-auth', PLUGIN_SCHEMA_VERSION]]);
    expect(pluginIncompatibility(['rate-limiting', 'key-auth', 'acl'], announced)).toEqual({ missingPlugins: ['acl', 'rate-limiting'], versionMismatches: [] });
    // A data plane that announced nothing (an older build, or --plugins off) lacks every plugin.
    expect(pluginIncompatibility(['key-auth'], new Map())?.missingPlugins).toEqual(['key-auth']);
  });

  it('refuses another major version, accepts another minor or patch', () => {
    const catalog = new Map([['rate-limiting', { version: '3.10.0' }]]);
    expect(pluginIncompatibility(['rate-limiting'], new Map([['rate-limiting', '3.9.2']]), catalog)).toBeNull();
    expect(pluginIncompatibility(['rate-limiting'], new Map([['rate-limiting', '3.11.0']]), catalog)).toBeNull();
    expect(pluginIncompatibility(['rate-limiting'], new Map([['rate-limiting', '4.0.0']]), catalog)).toEqual({
      missingPlugins: [],
      versionMismatches: [{ name: 'rate-limiting', dataPlaneVersion: '4.0.0', controlPlaneVersion: '3.10.0' }],
    });
    // A version whose major cannot be read fails closed.
    expect(pluginIncompatibility(['rate-limiting'], new Map([['rate-limiting', '']]), catalog)?.versionMismatches).toHaveLength(1);
    expect(pluginIncompatibility(['rate-limiting'], new Map([['rate-limiting', 'x.1']]), catalog)?.versionMismatches).toHaveLength(1);
  });

  it('takes an announced plugin the catalog does not know as compatible (no version to compare)', () => {
    expect(pluginIncompatibility(['custom'], new Map([['custom', '0.1.0']]), new Map())).toBeNull();
  });

  it('reads the announced plugins from a Hello, skipping nameless ones', () => {
    const announced = announcedPlugins({ plugins: [{ name: 'key-auth', version: '3.10.0' }, { name: '', version: '1.0.0' }, { name: 'acl' }] });
    expect([...announced]).toEqual([
      ['key-auth', '3.10.0'],
      ['acl', ''],
    ]);
    expect(announcedPlugins({}).size).toBe(0);
  });

  it('compares findings and lists their names', () => {
    const a = pluginIncompatibility(['rate-limiting', 'acl'], new Map([['acl', '9.0.0']]));
    const b = pluginIncompatibility(['acl', 'rate-limiting'], new Map([['acl', '9.0.0']]));
    expect(isSameIncompatibility(a, b)).toBe(true);
    expect(isSameIncompatibility(a, null)).toBe(false);
    expect(isSameIncompatibility(null, null)).toBe(true);
    expect(isSameIncompatibility(a, pluginIncompatibility(['rate-limiting'], new Map()))).toBe(false);
    expect(incompatiblePluginNames(a!)).toEqual(['acl', 'rate-limiting']);
  });
});
