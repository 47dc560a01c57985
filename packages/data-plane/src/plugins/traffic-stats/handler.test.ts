import type { Route, Service } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { PHASES } from '../phases.js';
import { PluginChain } from '../plugin-chain.js';
import { FakePluginContext } from '../testing/fake-plugin-context.js';
import { TrafficStatsHandler, type TrafficRecorder } from './handler.js';

/** A recorder keeping what it was asked to count. */
function recording(): TrafficRecorder & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return { calls, record: (...args) => void calls.push(args) };
}

const route = { id: 'r-1', name: 'orders' } as Route;
const service = { id: 's-1', name: 'orders-svc' } as Service;

describe('TrafficStatsHandler', () => {
  it('acts in the log phase only', () => {
    const handler = new TrafficStatsHandler(recording());
    const chain = new PluginChain([handler]);
    for (const phase of PHASES) expect(chain[phase]).toEqual(phase === 'log' ? [handler] : []);
  });

  it('counts a proxied response: route, service, status, arrival to end, and dispatch to upstream head', () => {
    const stats = recording();
    const ctx = new FakePluginContext({ route, service });
    ctx.startMs = 1000;
    new TrafficStatsHandler(stats).log(ctx.finish({ status: 201, dispatchMs: 1002, upstreamHeadMs: 1010, endMs: 1012.5 }));
    expect(stats.calls).toEqual([[route, service, 201, 12.5, 8]]);
  });

  it('counts a generated or short-circuited response without an upstream latency', () => {
    const stats = recording();
    const ctx = new FakePluginContext({ route, service });
    ctx.startMs = 50;
    new TrafficStatsHandler(stats).log(ctx.finish({ status: 401, endMs: 51 }));
    expect(stats.calls).toEqual([[route, service, 401, 1, -1]]);
  });

  it('counts a request no route matched under no route and no service', () => {
    const stats = recording();
    const ctx = new FakePluginContext();
    ctx.startMs = 0;
    new TrafficStatsHandler(stats).log(ctx.finish({ status: 404, endMs: 2 }));
    expect(stats.calls).toEqual([[null, null, 404, 2, -1]]);
  });

  it('counts a client that left before the head as the 499 the context reports', () => {
    const stats = recording();
    const ctx = new FakePluginContext({ route, service });
    ctx.startMs = 0;
    new TrafficStatsHandler(stats).log(ctx.finish({ status: 499, dispatchMs: 1, endMs: 30 }));
    expect(stats.calls).toEqual([[route, service, 499, 30, -1]]);
  });
});
