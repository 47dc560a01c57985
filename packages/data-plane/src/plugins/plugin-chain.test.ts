import { describe, expect, it } from 'vitest';
import { DataPlaneErrorCode } from '../errors.js';
import { PHASES } from './phases.js';
import { compilePluginChain, EMPTY_CHAIN, PluginChain } from './plugin-chain.js';
import type { PluginContext } from './plugin-context.js';
import type { PluginHandler } from './plugin-handler.js';
import { PluginHandlerError } from './plugin-handler-error.js';
import { FakePluginContext } from './testing/fake-plugin-context.js';

/** A handler that notes `name:phase` in `calls` for every phase it implements. */
function recorder(name: string, priority: number, phases: readonly (typeof PHASES)[number][], calls: string[], extra: Partial<PluginHandler> = {}): PluginHandler {
  const handler: Record<string, unknown> = { name, priority };
  for (const phase of phases) {
    handler[phase] =
      phase === 'body_filter'
        ? (_ctx: PluginContext, chunk: Buffer) => {
            calls.push(`${name}:${phase}`);
            return chunk;
          }
        : () => {
            calls.push(`${name}:${phase}`);
          };
  }
  return { ...(handler as unknown as PluginHandler), ...extra };
}

/** A promise and the function that resolves it, for handlers the test releases itself. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('PluginChain, compiled', () => {
  it('keeps per phase the handlers acting in it, in Kong order (priority descending, equal priorities by name descending), frozen', () => {
    const calls: string[] = [];
    const chain = compilePluginChain([
      recorder('rate-limiting', 910, ['access'], calls),
      recorder('cors', 2000, ['access', 'header_filter'], calls),
      recorder('key-auth', 1250, ['access'], calls),
      recorder('b-plugin', 5, ['log'], calls),
      recorder('a-plugin', 5, ['log'], calls),
      recorder('zero-2', 0, ['log'], calls),
      recorder('zero-1', 0, ['log'], calls),
    ]);
    expect(chain.handlers.map((h) => h.name)).toEqual(['cors', 'key-auth', 'rate-limiting', 'b-plugin', 'a-plugin', 'zero-2', 'zero-1']);
    expect(chain.access.map((h) => h.name)).toEqual(['cors', 'key-auth', 'rate-limiting']);
    expect(chain.header_filter.map((h) => h.name)).toEqual(['cors']);
    expect(chain.rewrite).toEqual([]);
    expect(chain.body_filter).toEqual([]);
    expect(chain.log.map((h) => h.name)).toEqual(['b-plugin', 'a-plugin', 'zero-2', 'zero-1']);
    expect(chain.hasRequestHandlers).toBe(true);
    expect(Object.isFrozen(chain)).toBe(true);
    for (const phase of PHASES) expect(Object.isFrozen(chain[phase])).toBe(true);
  });

  it('EMPTY_CHAIN has no handler in any phase', () => {
    for (const phase of PHASES) expect(EMPTY_CHAIN[phase]).toEqual([]);
    expect(EMPTY_CHAIN.hasRequestHandlers).toBe(false);
    expect(EMPTY_CHAIN.runRequestPhases(new FakePluginContext())).toBeNull();
  });

  it('withFirst puts the given handlers before the chain\'s in every phase, and is the chain itself for none', () => {
    const calls: string[] = [];
    const chain = compilePluginChain([recorder('p', 10, ['access', 'log'], calls)]);
    const composed = chain.withFirst([recorder('stats', 0, ['log'], calls), recorder('access-log', 0, ['log'], calls)]);
    expect(composed.log.map((h) => h.name)).toEqual(['stats', 'access-log', 'p']);
    expect(composed.access.map((h) => h.name)).toEqual(['p']);
    expect(chain.withFirst([])).toBe(chain);
    expect(EMPTY_CHAIN.withFirst([recorder('stats', 0, ['log'], calls)]).hasRequestHandlers).toBe(false);
  });
});

describe('PluginChain.runRequestPhases', () => {
  it('runs every rewrite handler before any access handler, each in chain order, and makes no promise when all are synchronous', () => {
    const calls: string[] = [];
    const chain = compilePluginChain([recorder('high', 100, ['access'], calls), recorder('low', 1, ['rewrite', 'access'], calls), recorder('mid', 50, ['rewrite'], calls)]);
    expect(chain.runRequestPhases(new FakePluginContext())).toBeNull();
    expect(calls).toEqual(['mid:rewrite', 'low:rewrite', 'high:access', 'low:access']);
  });

  it('stops after the handler that answers: later rewrite and access handlers do not run', () => {
    const calls: string[] = [];
    const chain = compilePluginChain([
      recorder('first', 30, ['access'], calls),
      recorder('auth', 20, ['access'], calls, {
        access(ctx) {
          calls.push('auth:access');
          ctx.answer(401, 'No API key found in request');
        },
      }),
      recorder('after', 10, ['access', 'header_filter', 'log'], calls),
    ]);
    const ctx = new FakePluginContext();
    expect(chain.runRequestPhases(ctx)).toBeNull();
    expect(calls).toEqual(['first:access', 'auth:access']);
    expect(ctx.answered).toEqual({ status: 401, message: 'No API key found in request', headers: undefined });
    // What still runs on the answer is the proxy's to do; the chain keeps those phases' handlers.
    expect(chain.header_filter.map((h) => h.name)).toEqual(['after']);
  });

  it('stops in rewrite too: no access handler runs after a rewrite answer', () => {
    const calls: string[] = [];
    const chain = compilePluginChain([
      recorder('a', 20, ['access'], calls),
      recorder('r', 10, ['rewrite'], calls, {
        rewrite(ctx) {
          calls.push('r:rewrite');
          ctx.answer(403);
        },
      }),
    ]);
    expect(chain.runRequestPhases(new FakePluginContext({}))).toBeNull();
    expect(calls).toEqual(['r:rewrite']);
  });

  it('awaits a handler that returns a promise before the next one, then goes on synchronously', async () => {
    const calls: string[] = [];
    const slow = gate();
    const chain = compilePluginChain([
      recorder('sync-before', 30, ['access'], calls),
      recorder('slow', 20, ['access'], calls, {
        access() {
          calls.push('slow:start');
          return slow.promise.then(() => {
            calls.push('slow:end');
          });
        },
      }),
      recorder('sync-after', 10, ['access'], calls),
    ]);
    const pending = chain.runRequestPhases(new FakePluginContext());
    expect(pending).toBeInstanceOf(Promise);
    expect(calls).toEqual(['sync-before:access', 'slow:start']);
    slow.open();
    await pending;
    expect(calls).toEqual(['sync-before:access', 'slow:start', 'slow:end', 'sync-after:access']);
  });

  it('honours an answer given by an async handler', async () => {
    const calls: string[] = [];
    const chain = compilePluginChain([
      recorder('limiter', 20, ['access'], calls, {
        async access(ctx) {
          await Promise.resolve();
          ctx.answer(429, 'API rate limit exceeded');
        },
      }),
      recorder('after', 10, ['access'], calls),
    ]);
    const ctx = new FakePluginContext();
    await chain.runRequestPhases(ctx);
    expect(ctx.answered?.status).toBe(429);
    expect(calls).toEqual([]);
  });

  it('wraps what a handler throws in a PluginHandlerError naming the plugin and phase', () => {
    const boom = new Error('boom');
    const chain = compilePluginChain([
      {
        name: 'broken',
        priority: 1,
        access() {
          throw boom;
        },
      },
    ]);
    let caught: unknown;
    try {
      chain.runRequestPhases(new FakePluginContext());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PluginHandlerError);
    expect(caught).toMatchObject({ code: DataPlaneErrorCode.PLUGIN_FAILED, plugin: 'broken', phase: 'access', cause: boom });
  });

  it('rejects with a PluginHandlerError when an async handler rejects, and runs nothing after it', async () => {
    const calls: string[] = [];
    const chain = compilePluginChain([
      { name: 'redis', priority: 20, access: () => Promise.reject(new Error('ECONNREFUSED')) },
      recorder('after', 10, ['access'], calls),
    ]);
    await expect(chain.runRequestPhases(new FakePluginContext())).rejects.toMatchObject({ code: DataPlaneErrorCode.PLUGIN_FAILED, plugin: 'redis', phase: 'access' });
    expect(calls).toEqual([]);
  });
});

describe('PluginChain, response phases', () => {
  it('header_filter handlers change the response head in order', () => {
    const chain = compilePluginChain([
      { name: 'cors', priority: 2000, header_filter: (ctx) => ctx.response.add('Vary', 'Origin') },
      { name: 'transformer', priority: 800, header_filter: (ctx) => ctx.response.clear('X-Secret') },
    ]);
    const ctx = new FakePluginContext().respond(200, { Vary: 'Accept-Encoding', 'X-Secret': 's' });
    chain.runHeaderFilter(ctx);
    expect(ctx.responseHeaders).toEqual(['Vary', 'Accept-Encoding', 'Vary', 'Origin']);
  });

  it('a throwing header_filter handler surfaces as a PluginHandlerError', () => {
    const chain = new PluginChain([
      {
        name: 'bad-filter',
        priority: 0,
        header_filter() {
          throw new TypeError('nope');
        },
      },
    ]);
    expect(() => chain.runHeaderFilter(new FakePluginContext().respond(200))).toThrow(PluginHandlerError);
  });

  it('body_filter handlers transform each chunk in order', () => {
    const chain = compilePluginChain([
      { name: 'upper', priority: 2, body_filter: (_ctx, chunk) => Buffer.from(chunk.toString().toUpperCase()) },
      { name: 'suffix', priority: 1, body_filter: (_ctx, chunk, isLast) => (isLast ? Buffer.concat([chunk, Buffer.from('!')]) : chunk) },
    ]);
    const ctx = new FakePluginContext().respond(200);
    expect(chain.runBodyFilter(ctx, Buffer.from('ab'), false).toString()).toBe('AB');
    expect(chain.runBodyFilter(ctx, Buffer.from('c'), true).toString()).toBe('C!');
  });

  it('log runs every handler: one that throws, or rejects later, is reported and the next still runs', async () => {
    const calls: string[] = [];
    const reported: PluginHandlerError[] = [];
    const chain = new PluginChain([
      {
        name: 'throws',
        priority: 0,
        log() {
          throw new Error('sync failure');
        },
      },
      { name: 'rejects', priority: 0, log: () => Promise.reject(new Error('async failure')) },
      recorder('fine', 0, ['log'], calls),
    ]);
    const ctx = new FakePluginContext().finish({ status: 200 });
    chain.runLog(ctx, (err, context) => {
      expect(context).toBe(ctx);
      reported.push(err);
    });
    expect(calls).toEqual(['fine:log']);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(reported.map((e) => [e.plugin, e.phase, (e.cause as Error).message])).toEqual([
      ['throws', 'log', 'sync failure'],
      ['rejects', 'log', 'async failure'],
    ]);
  });
});
