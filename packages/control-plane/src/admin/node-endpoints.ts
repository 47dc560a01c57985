/**
 * `GET /` (node information, with `plugins.available_on_server`: the plugins this build implements
 * with their version and priority, and `plugins.enabled_in_cluster`: the names of the plugins in
 * use) and `GET /status` (server counters, database reachability and the config head), shaped
 * like Kong's (`kong/api/routes/kong.lua`).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { PLUGIN_DESCRIPTORS } from '@sluice/protocol';
import type { FastifyInstance } from 'fastify';
import type { StaleEntitySource, Store } from '../store/index.js';
import { registerEndpoint } from './endpoint.js';

/** What `GET /` reports about this node. */
export interface NodeInfo {
  version: string;
  nodeId: string;
  hostname: string;
  /** Effective configuration shown under `configuration` (no secrets: URLs are masked). */
  configuration: Record<string, unknown>;
}

/** Process-wide node id, stable for the life of the process. */
const PROCESS_NODE_ID = randomUUID();

/**
 * Registers `/` and `/status`. `/status` answers from memory and never waits on the database:
 * `database.reachable` is the store's health (the outcome of its latest queries), `config` the
 * head of the in-memory config (`memory`); without one (a bare Admin API) the head is read from
 * the database while it is reachable, within the statement timeout.
 */
export function registerNodeEndpoints(app: FastifyInstance, store: Store, info: Partial<NodeInfo> & { version: string }, memory?: StaleEntitySource): void {
  const node: NodeInfo = {
    nodeId: PROCESS_NODE_ID,
    hostname: hostname(),
    configuration: {},
    ...info,
  };
  const counters = { accepted: 0, active: 0, inFlight: 0, totalRequests: 0 };
  app.server.on('connection', (socket) => {
    counters.accepted++;
    counters.active++;
    socket.once('close', () => {
      counters.active--;
    });
  });
  app.addHook('onRequest', async () => {
    counters.totalRequests++;
    counters.inFlight++;
  });
  app.addHook('onResponse', async () => {
    counters.inFlight--;
  });

  const availableOnServer = Object.fromEntries([...PLUGIN_DESCRIPTORS.values()].map((d) => [d.name, { version: d.version, priority: d.priority }]));

  registerEndpoint(app, '/', {
    GET: async () => ({
      tagline: 'Welcome to Sluice',
      version: node.version,
      edition: 'community',
      hostname: node.hostname,
      node_id: node.nodeId,
      plugins: { available_on_server: availableOnServer, enabled_in_cluster: await store.distinct('plugins', 'name') },
      configuration: { role: 'control_plane', database: 'postgres', ...node.configuration },
      pids: { master: process.pid, workers: [process.pid] },
    }),
  });

  registerEndpoint(app, '/status', {
    GET: async () => {
      const { health } = store;
      const isReachable = health.isReachable;
      const head = memory ? memory.head() : isReachable ? await store.readHead().catch(() => null) : null;
      const usage = process.memoryUsage();
      return {
        server: {
          connections_accepted: counters.accepted,
          connections_active: counters.active,
          connections_handled: counters.accepted,
          connections_reading: 0,
          connections_writing: counters.inFlight,
          connections_waiting: Math.max(0, counters.active - counters.inFlight),
          total_requests: counters.totalRequests,
        },
        memory: { rss_bytes: usage.rss, heap_used_bytes: usage.heapUsed, heap_total_bytes: usage.heapTotal },
        // Kong's `{reachable}`; while unreachable also since when (seconds) and why.
        database: isReachable ? { reachable: true } : { reachable: false, since: Math.floor(health.sinceMs / 1000), fault: health.lastFault?.fault ?? null },
        config: head === null ? { epoch: null, version: null } : { epoch: head.epoch, version: head.version },
      };
    },
  });
}
