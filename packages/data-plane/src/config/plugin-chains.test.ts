import type { AnyEntity, Consumer, EntityKind, Plugin, Route } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { ConfigModel, makeConsumer, makeRoute, makeService, NOW, uuidFor } from '../../test/helpers/config-model.js';
import { AckError, ResourceErrorCode } from '../errors.js';
import { EMPTY_CHAIN, type PluginChain } from '../plugins/plugin-chain.js';
import type { PluginContext } from '../plugins/plugin-context.js';
import { BUNDLED_PLUGIN_FACTORIES } from '../plugins/plugin-factories.js';
import { createPluginRuntime } from './plugin-runtime.js';
import type { PluginFactory, PluginRuntime } from '../plugins/plugin-factory.js';
import type { PluginHandler } from '../plugins/plugin-handler.js';
import { fakeConsumerDirectory } from '../plugins/testing/fake-consumer-directory.js';
import { FakePluginContext } from '../plugins/testing/fake-plugin-context.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import type { RuntimeConfig } from './runtime-config.js';

// The plugins projection: Kong's precedence (plugins_iterator.lua lookup_cfg; kong-plugins.md §2),
// consumer-scoped instances picked after authentication, rewrite for globals only, the global chain
// of unrouted requests, fail-closed refusals, and deltas that recompile only what they affect.

/** Which plugin instance ran, by `label` in its config, per request. */
const ran: string[] = [];
let created = 0;

/** A factory whose handlers note `<name>:<label>` (the instance's config.label) in each phase they have. */
function probe(name: string, priority: number, phases: readonly ('rewrite' | 'access' | 'log')[] = ['access']): PluginFactory {
  return {
    name,
    priority,
    create(plugin) {
      created++;
      if (plugin.config.refuse === true) throw new TypeError('config.refuse: refused');
      const label = `${name}:${String(plugin.config.label)}`;
      const handler: { -readonly [K in keyof PluginHandler]: PluginHandler[K] } = { name, priority };
      if (phases.includes('rewrite')) handler.rewrite = () => void ran.push(`${label}:rewrite`);
      if (phases.includes('access')) handler.access = () => void ran.push(label);
      if (phases.includes('log')) handler.log = () => void ran.push(`${label}:log`);
      return handler;
    },
  };
}

/** An auth plugin (priority 1250): authenticates the consumer named in the `x-user` header. */
const AUTH: PluginFactory = {
  name: 'test-auth',
  priority: 1250,
  create: () => ({
    name: 'test-auth',
    priority: 1250,
    access(ctx: PluginContext) {
      const user = ctx.request.get('x-user');
      const consumer = user === undefined ? undefined : ctx.consumers.anonymousConsumer(user);
      if (consumer !== undefined) ctx.authenticate(consumer, { id: `cred-${user}`, consumerId: consumer.id, identifier: user! });
    },
  }),
};

const FACTORIES = new Map<string, PluginFactory>([
  ['test-auth', AUTH],
  ['probe', probe('probe', 910)],
  ['early', probe('early', 2000)],
  ['logger', probe('logger', 12, ['rewrite', 'access', 'log'])],
]);
const runtime: PluginRuntime = createPluginRuntime(FACTORIES);

const svcA = makeService('svc-a');
const svcB = makeService('svc-b');
const routeA1 = makeRoute('a1', svcA.id);
const routeA2 = makeRoute('a2', svcA.id);
const routeB1 = makeRoute('b1', svcB.id);
const alice = makeConsumer('alice');
const bob = makeConsumer('bob');

let n = 0;
/** A plugin entity (built directly: these names are test plugins, outside the catalog the schema checks). */
function plugin(name: string, label: string, scope: { route?: Route; service?: { id: string }; consumer?: Consumer } = {}, overrides: Partial<Plugin> = {}): Plugin {
  return {
    id: uuidFor(`plugin:${name}:${label}:${n++}`),
    created_at: NOW,
    updated_at: NOW,
    name,
    instance_name: null,
    route: scope.route ? { id: scope.route.id } : null,
    service: scope.service ? { id: scope.service.id } : null,
    consumer: scope.consumer ? { id: scope.consumer.id } : null,
    config: { label },
    protocols: ['grpc', 'grpcs', 'http', 'https'],
    enabled: true,
    tags: null,
    ...overrides,
  };
}

const BASE: AnyEntity[] = [svcA, svcB, routeA1, routeA2, routeB1, alice, bob];

function snapshot(model: ConfigModel, rt: PluginRuntime = runtime) {
  return applySnapshot(model.snapshot(), { epoch: model.epoch, version: model.version, hash: model.hashAt() }, { isSchemaChecked: true, plugins: rt });
}

function configWith(entities: AnyEntity[], rt: PluginRuntime = runtime): { model: ConfigModel; config: RuntimeConfig } {
  const model = new ConfigModel();
  model.commit({ upsert: [...BASE, ...entities] });
  const result = snapshot(model, rt);
  if (!result.ok) throw result.error;
  return { model, config: result.config };
}

function delta(model: ConfigModel, current: RuntimeConfig, changes: { upsert?: AnyEntity[]; remove?: { kind: EntityKind; id: string }[] }): RuntimeConfig {
  const from = current.version;
  model.commit(changes);
  const result = applyDelta(current, { epoch: model.epoch, fromVersion: from, toVersion: model.version, targetHash: model.hashAt(), batch: model.delta(from) }, { isSchemaChecked: true });
  if (!result.ok) throw result.error;
  return result.config;
}

/** Runs the request phases and the log phase of `route`'s chain for a request by `user` (none: anonymous); returns what ran. */
function serve(config: RuntimeConfig, route: Route, user?: string): string[] {
  ran.length = 0;
  const ctx = new FakePluginContext({ consumers: config.consumers, headers: user === undefined ? {} : { 'x-user': user } });
  const chain: PluginChain = config.chains.get(route.id) ?? EMPTY_CHAIN;
  ctx.phase = 'rewrite';
  void chain.runRequestPhases(ctx);
  ctx.finish({ status: 200 });
  chain.runLog(ctx, (err) => {
    throw err;
  });
  return [...ran];
}

describe('plugin chains: Kong precedence', () => {
  // Each row: the instances of `probe` present (by scope) and which one a request on route a1
  // (service a) runs, without a consumer and as alice. kong-plugins.md §2.1, levels 1–8.
  const auth = () => plugin('test-auth', 'auth');
  const cases: { name: string; instances: () => Plugin[]; anonymous: string | null; alice: string | null }[] = [
    { name: 'global only', instances: () => [plugin('probe', 'global')], anonymous: 'global', alice: 'global' },
    { name: 'service beats global', instances: () => [plugin('probe', 'global'), plugin('probe', 'service', { service: svcA })], anonymous: 'service', alice: 'service' },
    { name: 'route beats service', instances: () => [plugin('probe', 'service', { service: svcA }), plugin('probe', 'route', { route: routeA1 })], anonymous: 'route', alice: 'route' },
    { name: 'consumer beats route (Kong/kong#14726)', instances: () => [plugin('probe', 'route', { route: routeA1 }), plugin('probe', 'consumer', { consumer: alice })], anonymous: 'route', alice: 'consumer' },
    { name: 'route+service beats consumer', instances: () => [plugin('probe', 'rs', { route: routeA1, service: svcA }), plugin('probe', 'consumer', { consumer: alice })], anonymous: 'rs', alice: 'rs' },
    { name: 'consumer+service beats route+service', instances: () => [plugin('probe', 'rs', { route: routeA1, service: svcA }), plugin('probe', 'cs', { consumer: alice, service: svcA })], anonymous: 'rs', alice: 'cs' },
    { name: 'consumer+route beats consumer+service', instances: () => [plugin('probe', 'cr', { consumer: alice, route: routeA1 }), plugin('probe', 'cs', { consumer: alice, service: svcA })], anonymous: null, alice: 'cr' },
    {
      name: 'consumer+route+service beats consumer+route',
      instances: () => [plugin('probe', 'cr', { consumer: alice, route: routeA1 }), plugin('probe', 'crs', { consumer: alice, route: routeA1, service: svcA })],
      anonymous: null,
      alice: 'crs',
    },
    { name: 'a consumer-only instance applies to that consumer only', instances: () => [plugin('probe', 'consumer', { consumer: bob })], anonymous: null, alice: null },
    { name: 'another service\'s instance never applies', instances: () => [plugin('probe', 'other', { service: svcB })], anonymous: null, alice: null },
    {
      name: 'a disabled instance falls through to the next scope',
      instances: () => [plugin('probe', 'global'), plugin('probe', 'route', { route: routeA1 }, { enabled: false }), plugin('probe', 'consumer', { consumer: alice }, { enabled: false })],
      anonymous: 'global',
      alice: 'global',
    },
    { name: 'a plugin for stream protocols only does not run on HTTP', instances: () => [plugin('probe', 'tcp', {}, { protocols: ['tcp'] })], anonymous: null, alice: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { config } = configWith([auth(), ...c.instances()]);
      expect(serve(config, routeA1)).toEqual(c.anonymous === null ? [] : [`probe:${c.anonymous}`]);
      expect(serve(config, routeA1, 'alice')).toEqual(c.alice === null ? [] : [`probe:${c.alice}`]);
    });
  }

  it('runs one instance per plugin name, in Kong priority order', () => {
    const { config } = configWith([plugin('probe', 'p'), plugin('early', 'e'), plugin('logger', 'l'), plugin('test-auth', 'auth')]);
    expect(serve(config, routeA1)).toEqual(['logger:l:rewrite', 'early:e', 'probe:p', 'logger:l', 'logger:l:log']);
  });

  it('finds a consumer-scoped instance only for plugins of lower priority than the auth plugin (Kong\'s lazy lookup)', () => {
    const { config } = configWith([plugin('test-auth', 'auth'), plugin('early', 'global'), plugin('early', 'alice', { consumer: alice }), plugin('probe', 'alice', { consumer: alice })]);
    // early (2000) runs before test-auth (1250) set the consumer: its global instance; probe (910) after: alice's.
    expect(serve(config, routeA1, 'alice')).toEqual(['early:global', 'probe:alice']);
  });

  it('runs only global instances in rewrite, and the picked instance in the later phases', () => {
    const { config } = configWith([plugin('test-auth', 'auth'), plugin('logger', 'global'), plugin('logger', 'route', { route: routeA1 }), plugin('logger', 'alice', { consumer: alice })]);
    expect(serve(config, routeA1)).toEqual(['logger:global:rewrite', 'logger:route', 'logger:route:log']);
    expect(serve(config, routeA1, 'alice')).toEqual(['logger:global:rewrite', 'logger:alice', 'logger:alice:log']);
    expect(serve(config, routeB1, 'bob')).toEqual(['logger:global:rewrite', 'logger:global', 'logger:global:log']);
  });

  it('gives a request matching no route the global instances\' later phases', () => {
    const { config } = configWith([plugin('logger', 'global'), plugin('logger', 'route', { route: routeA1 }), plugin('probe', 'global')]);
    expect(config.globalChain.rewrite).toEqual([]);
    expect(config.globalChain.access).toEqual([]);
    expect(config.globalChain.log.map((h) => h.name)).toEqual(['logger']);
  });

  it('gives a route without plugins no chain', () => {
    const { config } = configWith([plugin('probe', 'route', { route: routeA1 })]);
    expect(config.chains.has(routeA1.id)).toBe(true);
    expect(config.chains.has(routeA2.id)).toBe(false);
  });
});

describe('plugin chains: fail closed', () => {
  it('refuses a config naming a plugin the runtime lacks, naming the plugin entity', () => {
    const model = new ConfigModel();
    const missing = plugin('probe', 'route', { route: routeA1 });
    model.commit({ upsert: [...BASE, missing] });
    const restricted = createPluginRuntime(new Map([['test-auth', AUTH]]));
    const result = snapshot(model, restricted);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.ackError).toBe(AckError.ERROR_INVALID);
    expect(result.error.resourceErrors).toEqual([expect.objectContaining({ kind: 'plugins', id: missing.id, code: ResourceErrorCode.PLUGIN_UNAVAILABLE, message: 'probe plugin is in use but not enabled' })]);
  });

  it('refuses a disabled instance of a missing plugin too, and a delta adding one', () => {
    const restricted = createPluginRuntime(new Map([['test-auth', AUTH]]));
    const model = new ConfigModel();
    model.commit({ upsert: [...BASE, plugin('probe', 'off', {}, { enabled: false })] });
    expect(snapshot(model, restricted).ok).toBe(false);
    const { model: m2, config } = configWith([], restricted);
    expect(() => delta(m2, config, { upsert: [plugin('probe', 'new')] })).toThrow(/probe plugin is in use but not enabled/);
  });

  it('refuses a config a factory refuses', () => {
    const model = new ConfigModel();
    const bad = plugin('probe', 'bad', {}, { config: { refuse: true } });
    model.commit({ upsert: [...BASE, bad] });
    const result = snapshot(model);
    expect(result.ok ? null : result.error.resourceErrors).toEqual([expect.objectContaining({ kind: 'plugins', id: bad.id, code: ResourceErrorCode.PLUGIN_CONFIG })]);
  });

  it('the bundled runtime runs key-auth, basic-auth, acl and rate-limiting', () => {
    expect([...BUNDLED_PLUGIN_FACTORIES.keys()].sort()).toEqual(['acl', 'basic-auth', 'key-auth', 'rate-limiting']);
  });
});

describe('plugin chains: deltas', () => {
  it('a route\'s plugin recompiles that route only; handlers are made once per entity version', () => {
    const svcPlugin = plugin('probe', 'svc', { service: svcA });
    const { model, config } = configWith([svcPlugin, plugin('probe', 'b1', { route: routeB1 })]);
    created = 0;
    const next = delta(model, config, { upsert: [plugin('probe', 'a1', { route: routeA1 })] });
    expect(created).toBe(1);
    expect(next.chains.get(routeA1.id)).not.toBe(config.chains.get(routeA1.id));
    expect(next.chains.get(routeA2.id)).toBe(config.chains.get(routeA2.id));
    expect(next.chains.get(routeB1.id)).toBe(config.chains.get(routeB1.id));
    // The service instance's handler is shared by a2's chain, before and after.
    expect(next.chains.get(routeA2.id)!.access[0]).toBe(config.chains.get(routeA1.id)!.access[0]);
    expect(serve(next, routeA1)).toEqual(['probe:a1']);
    expect(serve(next, routeA2)).toEqual(['probe:svc']);
  });

  it('a service\'s plugin recompiles that service\'s routes; a global one every route', () => {
    const { model, config } = configWith([plugin('probe', 'b1', { route: routeB1 })]);
    const svcPlugin = plugin('probe', 'svc', { service: svcA });
    const withService = delta(model, config, { upsert: [svcPlugin] });
    expect(serve(withService, routeA1)).toEqual(['probe:svc']);
    expect(serve(withService, routeA2)).toEqual(['probe:svc']);
    expect(withService.chains.get(routeB1.id)).toBe(config.chains.get(routeB1.id));
    const withGlobal = delta(model, withService, { upsert: [plugin('logger', 'g')] });
    expect(withGlobal.chains.get(routeB1.id)).not.toBe(withService.chains.get(routeB1.id));
    expect(serve(withGlobal, routeB1)).toEqual(['logger:g:rewrite', 'probe:b1', 'logger:g', 'logger:g:log']);
    expect(withGlobal.globalChain.log.map((h) => h.name)).toEqual(['logger']);
  });

  it('removing a plugin falls back to the next scope; disabling one too', () => {
    const route = plugin('probe', 'route', { route: routeA1 });
    const { model, config } = configWith([plugin('probe', 'svc', { service: svcA }), route]);
    expect(serve(config, routeA1)).toEqual(['probe:route']);
    const disabled = delta(model, config, { upsert: [{ ...route, enabled: false, updated_at: NOW + 1 }] });
    expect(serve(disabled, routeA1)).toEqual(['probe:svc']);
    const removed = delta(model, disabled, { remove: [{ kind: 'plugins', id: route.id }] });
    expect(serve(removed, routeA1)).toEqual(['probe:svc']);
  });

  it('a route moving to another service takes that service\'s plugins; a removed route loses its chain', () => {
    const { model, config } = configWith([plugin('probe', 'svc-b', { service: svcB })]);
    expect(serve(config, routeA1)).toEqual([]);
    const moved = delta(model, config, { upsert: [{ ...routeA1, service: { id: svcB.id }, updated_at: NOW + 1 }] });
    expect(serve(moved, routeA1)).toEqual(['probe:svc-b']);
    const removed = delta(model, moved, { remove: [{ kind: 'routes', id: routeA1.id }] });
    expect(removed.chains.has(routeA1.id)).toBe(false);
    // The service's plugin still reaches its other route, and a new route of the service.
    const added = delta(model, removed, { upsert: [makeRoute('b2', svcB.id)] });
    expect(serve(added, makeRoute('b2', svcB.id))).toEqual(['probe:svc-b']);
  });

  it('a consumer-scoped instance added by a delta applies to that consumer on every route', () => {
    const { model, config } = configWith([plugin('test-auth', 'auth'), plugin('probe', 'global')]);
    const next = delta(model, config, { upsert: [plugin('probe', 'bob', { consumer: bob })] });
    expect(serve(next, routeB1, 'bob')).toEqual(['probe:bob']);
    expect(serve(next, routeA2, 'alice')).toEqual(['probe:global']);
  });
});
