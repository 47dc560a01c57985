import type { Route, Service } from '@sluice/protocol';
import { describe, expect, it } from 'vitest';
import { FakePluginContext } from '../testing/fake-plugin-context.js';
import { AccessLogHandler } from './handler.js';

const route = { id: 'r-1', name: 'orders' } as Route;
const service = { id: 's-1', name: null } as unknown as Service;

function lineFor(ctx: FakePluginContext): Record<string, unknown> {
  const lines: string[] = [];
  new AccessLogHandler({ write: (line) => lines.push(line) }).log(ctx);
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith('\n')).toBe(true);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('AccessLogHandler', () => {
  it('writes one line with the request, the response and its latencies', () => {
    const ctx = new FakePluginContext({ method: 'POST', uri: '/orders?x=1', host: 'api.test', clientIp: '10.0.0.7', headers: { 'User-Agent': 'curl/8' }, route, service, requestId: 'ab'.repeat(16) });
    ctx.startMs = 100;
    const entry = lineFor(ctx.finish({ status: 200, bodyBytesSent: 42, dispatchMs: 101.5, upstreamHeadMs: 104, endMs: 105, upstreamAddress: '127.0.0.1:9000' }));
    expect(entry).toMatchObject({
      request_id: 'ab'.repeat(16),
      client_ip: '10.0.0.7',
      method: 'POST',
      uri: '/orders?x=1',
      host: 'api.test',
      status: 200,
      body_bytes_sent: 42,
      latencies: { request: 5, proxy: 1.5, upstream: 2.5 },
      route: { id: 'r-1', name: 'orders' },
      service: { id: 's-1', name: null },
      upstream: '127.0.0.1:9000',
      user_agent: 'curl/8',
    });
    expect(entry.time).toBe(new Date(performance.timeOrigin + 100).toISOString());
  });

  it('writes a short-circuited answer with no upstream and null upstream latencies', () => {
    const ctx = new FakePluginContext({ route, service });
    ctx.startMs = 0;
    const entry = lineFor(ctx.finish({ status: 401, bodyBytesSent: 70, endMs: 1 }));
    expect(entry).toMatchObject({ status: 401, body_bytes_sent: 70, upstream: null, latencies: { request: 1, proxy: null, upstream: null }, user_agent: null, host: null });
  });

  it('writes an upgrade without a body byte count', () => {
    const ctx = new FakePluginContext({ route, service, isUpgrade: true });
    const entry = lineFor(ctx.finish({ status: 101 }));
    expect(entry).toMatchObject({ status: 101, body_bytes_sent: null });
  });
});
