import { describe, expect, it } from 'vitest';
import { PLUGIN_SCHEMA_VERSION, PLUGINS, type Plugin, completePluginConfig } from '@sluice/protocol';
import { ConfigModel, makeService, NOW, uuidFor } from '../../test/helpers/config-model.js';
import { AckError, InvalidArgumentError, ResourceErrorCode } from '../errors.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import { createPluginRuntime } from './plugin-runtime.js';
import { BUNDLED_PLUGINS, pluginCapabilities, pluginFactoriesFor, resolveLoadedPlugins } from './loaded-plugins.js';

const runtimeOf = (names: ReadonlySet<string>) => createPluginRuntime(pluginFactoriesFor(names));

/** rate-limiting's config with every field at Kong's default (a limit of 5 a minute). */
const RATE_LIMITING_CONFIG = completePluginConfig('rate-limiting', { minute: 5 });

function makePlugin(name: string, config: Record<string, unknown>, overrides: Record<string, unknown> = {}): Plugin {
  const result = PLUGINS.prepare({ name, config, ...overrides }, { mode: 'create', now: NOW, newId: uuidFor(`plugin:${name}:${JSON.stringify(overrides)}`) });
  if (!result.ok) throw new Error(`bad test plugin: ${JSON.stringify(result.errors)}`);
  return result.entity;
}

const WITHOUT_RATE_LIMITING = resolveLoadedPlugins(['key-auth', 'basic-auth', 'acl']);

describe('loaded plugins (--plugins, Kong semantics)', () => {
  it('resolves bundled, names, off', () => {
    expect([...resolveLoadedPlugins(['bundled'])].sort()).toEqual([...BUNDLED_PLUGINS].sort());
    expect([...resolveLoadedPlugins([' key-auth ', 'acl'])]).toEqual(['key-auth', 'acl']);
    expect([...resolveLoadedPlugins(['key-auth', 'bundled'])].sort()).toEqual([...BUNDLED_PLUGINS].sort());
    expect(resolveLoadedPlugins(['off']).size).toBe(0);
    expect(resolveLoadedPlugins([]).size).toBe(0);
    // As Kong's conf_loader: `off` first loads nothing, `off` later is ignored.
    expect(resolveLoadedPlugins(['off', 'key-auth']).size).toBe(0);
    expect([...resolveLoadedPlugins(['acl', 'off'])]).toEqual(['acl']);
  });

  it('refuses a plugin this build does not implement', () => {
    expect(() => resolveLoadedPlugins(['key-auth', 'cors'])).toThrow(InvalidArgumentError);
    expect(() => resolveLoadedPlugins(['cors'])).toThrow("plugin 'cors' is not implemented by this data plane");
  });

  it('announces the loaded plugins with their schema versions, sorted', () => {
    expect(pluginCapabilities(WITHOUT_RATE_LIMITING)).toEqual([
      { name: 'acl', version: PLUGIN_SCHEMA_VERSION },
      { name: 'basic-auth', version: PLUGIN_SCHEMA_VERSION },
      { name: 'key-auth', version: PLUGIN_SCHEMA_VERSION },
    ]);
    expect(pluginCapabilities(new Set())).toEqual([]);
  });
});

describe('a plugin set in the apply (fail closed)', () => {
  const model = new ConfigModel('epoch-plugins');
  const v1 = model.commit({ upsert: [makeService('svc')] });
  const limit = makePlugin('rate-limiting', RATE_LIMITING_CONFIG);
  const disabled = makePlugin('rate-limiting', RATE_LIMITING_CONFIG, { enabled: false, instance_name: 'off' });
  const v2 = model.commit({ upsert: [limit] });
  const v3 = model.commit({ remove: [{ kind: 'plugins', id: limit.id }], upsert: [disabled] });
  const v4 = model.commit({ remove: [{ kind: 'plugins', id: disabled.id }] });

  const snapshot = (v: number, options: Parameters<typeof applySnapshot>[2] = {}) => applySnapshot(model.snapshot(v), { epoch: model.epoch, version: v, hash: model.hashAt(v) }, options);

  it('refuses a snapshot using a plugin not loaded, naming the plugin entity; accepts it where the plugin is loaded', () => {
    const refused = snapshot(v2, { plugins: runtimeOf(WITHOUT_RATE_LIMITING) });
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.ackError).toBe(AckError.ERROR_INVALID);
    expect(refused.error.rejectedVersion).toBe(v2);
    expect(refused.error.resourceErrors).toEqual([{ type: expect.any(Number), kind: 'plugins', id: limit.id, code: ResourceErrorCode.PLUGIN_UNAVAILABLE, message: 'rate-limiting plugin is in use but not enabled' }]);
    expect(refused.error.message).toContain('rate-limiting plugin is in use but not enabled');
    expect(snapshot(v2).ok).toBe(true); // default: every bundled plugin
    expect(snapshot(v2, { plugins: runtimeOf(BUNDLED_PLUGINS) }).ok).toBe(true);
    expect(snapshot(v1, { plugins: runtimeOf(new Set()) }).ok).toBe(true);
  });

  it('counts a disabled instance too, and checks a cache this build wrote (isSchemaChecked) as well', () => {
    expect(snapshot(v3, { plugins: runtimeOf(WITHOUT_RATE_LIMITING) }).ok).toBe(false);
    expect(snapshot(v2, { plugins: runtimeOf(WITHOUT_RATE_LIMITING), isSchemaChecked: true }).ok).toBe(false);
  });

  it('refuses a delta that adds such a plugin and leaves the serving config as it was; applies one that does not', () => {
    const at1 = snapshot(v1, { plugins: runtimeOf(WITHOUT_RATE_LIMITING) });
    if (!at1.ok) throw at1.error;
    const delta = (from: number, to: number) => ({ epoch: model.epoch, fromVersion: from, toVersion: to, targetHash: model.hashAt(to), batch: model.delta(from, to) });
    const refused = applyDelta(at1.config, delta(v1, v2), { plugins: runtimeOf(WITHOUT_RATE_LIMITING) });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.resourceErrors.map((e) => [e.kind, e.id, e.code])).toEqual([['plugins', limit.id, ResourceErrorCode.PLUGIN_UNAVAILABLE]]);
    expect(at1.config.version).toBe(v1);
    // The head withheld meanwhile, once the plugin is gone: one delta from v1 (its removal of a plugin never held is a no-op).
    const caughtUp = applyDelta(at1.config, delta(v1, v4), { plugins: runtimeOf(WITHOUT_RATE_LIMITING) });
    expect(caughtUp.ok).toBe(true);
    if (caughtUp.ok) expect(caughtUp.config.hashHex).toBe(Buffer.from(model.hashAt(v4)).toString('hex'));
    // A delta keeps the plugin set of the config it applies to (a data plane's set changes only with a restart).
    expect(applyDelta(at1.config, delta(v1, v2)).ok).toBe(false);
  });
});
