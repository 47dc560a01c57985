import { describe, expect, it } from 'vitest';
import { windowBounds } from '../plugins/rate-limiting/rate-limit-windows.js';
import type { RateLimitQuery } from '../plugins/rate-limiting/rate-limit-counters.js';
import { RateLimitService } from '../rate-limiting/rate-limit-service.js';
import type { WorkerControlMessage } from './worker-messages.js';
import { RateLimitResponder, WorkerRateLimitClient } from './worker-rate-limit-client.js';

const query = (key: string, limit: number): RateLimitQuery => ({
  policy: 'local',
  redis: { host: '', port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null },
  key,
  windows: [{ period: 'minute', limit, ...windowBounds('minute', Date.now()) }],
  isFaultTolerant: true,
});

/** Two "workers" wired to one primary's service, through JSON as node:cluster's IPC would carry it. */
function wire(service: RateLimitService) {
  const sent: number[] = [];
  const clients: WorkerRateLimitClient[] = [];
  for (let w = 0; w < 2; w++) {
    let client!: WorkerRateLimitClient;
    const responder = new RateLimitResponder({ send: (m: WorkerControlMessage) => setImmediate(() => client.handle(JSON.parse(JSON.stringify(m)))), isConnected: () => true }, service);
    client = new WorkerRateLimitClient({
      send: (m: WorkerControlMessage) => {
        if (m.type === 'sluice:rate-limit-consume') sent.push(m.batch.length);
        setImmediate(() => responder.handle(JSON.parse(JSON.stringify(m)) as WorkerControlMessage));
      },
      connected: true,
    });
    clients.push(client);
  }
  return { clients, sent };
}

describe('rate limiting across proxy workers', () => {
  it('every worker counts in the primary\'s one table: two workers together allow the limit once, in batched messages', async () => {
    const { clients, sent } = wire(new RateLimitService());
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => clients[i % 2]!.consume(query('k', 12))));
    expect(outcomes.filter((o) => o.usages[0]! < 12)).toHaveLength(12);
    // Queries of one turn of the event loop travel together.
    expect(sent).toEqual([25, 25]);
  });

  it('fails a query at once when the primary is gone, and one the primary never answers after its deadline', async () => {
    const gone = new WorkerRateLimitClient({ send: () => undefined, connected: false });
    await expect(gone.consume(query('k', 1))).rejects.toMatchObject({ code: 'SLUICE_DP_RATE_LIMIT_STORE' });
    const silent = new WorkerRateLimitClient({ send: () => undefined, connected: true });
    const started = performance.now();
    await expect(silent.consume(query('k', 1))).rejects.toMatchObject({ code: 'SLUICE_DP_RATE_LIMIT_STORE' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
  });
});
