import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { CONFIG_EPOCH_HEADER, CONFIG_VERSION_HEADER, STALE_HEADER, pageResponse, parsePageParams, registerEndpoint } from '../admin/index.js';
import { DatabaseUnavailableError, HttpError, KongDaoError } from '../errors.js';
import { DatabaseHealth } from '../store/index.js';
import type { ConfigMirror } from '../changes/config-mirror.js';
import { incompatibilityView, SyncStatus, type DataPlaneRecord } from './data-plane-record.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import type { StreamServer } from './stream-server.js';
import { PropagationWait } from './propagation-wait.js';

/**
 * Longest the fleet is waited for from the database before it is listed from memory instead, in
 * ms: a database that starts hanging delays `/clustering/*` by this much, not by its timeouts.
 */
export const FLEET_READ_TIMEOUT_MS = 1_000;

/** Longest a propagation wait may last, in ms; `timeout_ms` above it is clamped. */
export const MAX_PROPAGATION_TIMEOUT_MS = 300_000;
/** Default propagation wait, in ms. */
export const DEFAULT_PROPAGATION_TIMEOUT_MS = 30_000;
/** How often a propagation wait reads the data planes of other replicas from the database, in ms (this replica's are followed in memory). */
export const PROPAGATION_POLL_MS = 100;

/** A URL value as a non-negative safe integer; anything else is a 400 with `message`. */
function nonNegativeInteger(raw: string, message: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw HttpError.invalidQuery(message);
  return value;
}

export interface ClusteringApiOptions {
  mirror: ConfigMirror;
  registry: DataPlaneRegistry;
  /** This replica's stream server, for its connection and push counters. */
  stream?: StreamServer;
  /**
   * The store's health: while the database is unreachable the fleet is listed from memory
   * (default: one that is always reachable, so the database is always asked).
   */
  health?: DatabaseHealth;
}

/**
 * The `/clustering/*` endpoints: the fleet of data planes, a summary against the head, and a wait
 * for a config version to reach every connected data plane.
 */
export function clusteringApi(options: ClusteringApiOptions): FastifyPluginAsync {
  const { mirror, registry, stream } = options;
  const health = options.health ?? new DatabaseHealth();
  const head = () => ({ epoch: mirror.epoch, version: mirror.version });
  /**
   * The fleet from the database, or, while it is unreachable, this replica's own data planes from
   * memory (other replicas' are in the database only), with the response marked stale.
   */
  const listFleet = async (reply: FastifyReply | null, options: { afterId?: string; limit?: number } = {}): Promise<DataPlaneRecord[]> => {
    if (health.isReachable) {
      const listed = registry.list(options);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), FLEET_READ_TIMEOUT_MS);
      });
      try {
        const rows = await Promise.race([listed, late]);
        if (rows !== null) return rows;
        listed.catch(() => undefined);
      } catch (err) {
        if (!(err instanceof DatabaseUnavailableError)) throw err;
      } finally {
        clearTimeout(timer);
      }
    }
    reply?.header(STALE_HEADER, 'true').header(CONFIG_VERSION_HEADER, String(mirror.version)).header(CONFIG_EPOCH_HEADER, mirror.epoch);
    return registry.localRecords(options);
  };

  return async (app: FastifyInstance) => {
    registerEndpoint(app, '/clustering/data-planes', {
      GET: async (req, reply) => {
        const params = parsePageParams(req.query as Record<string, unknown>, { allowTags: false });
        const after = params.after === null ? undefined : params.after[0];
        if (after !== undefined && typeof after !== 'string') throw KongDaoError.invalidOffset(params.rawOffset ?? '', 'bad json encoding');
        const rows = await listFleet(reply, { afterId: after, limit: params.size + 1 });
        const page = rows.slice(0, params.size);
        const now = Date.now();
        const data = page.map((r) => registry.view(r, head(), now));
        const lastKey = rows.length > params.size ? [page[page.length - 1].id] : null;
        return pageResponse(data, { basePath: '/clustering/data-planes', lastKey, params, echoFilters: true });
      },
    });

    registerEndpoint(app, '/clustering/status', {
      GET: async (_req, reply) => {
        const rows = await listFleet(reply);
        const now = Date.now();
        const counts = { total: rows.length, connected: 0, in_sync: 0, behind: 0, rejected: 0, incompatible: 0 };
        for (const r of rows) {
          if (!registry.isConnected(r, now)) continue;
          counts.connected++;
          counts[registry.syncStatus(r, head())]++;
        }
        return {
          config: { epoch: mirror.epoch, version: mirror.version, hash: mirror.hashHex() },
          data_planes: counts,
          database: health.isReachable ? { reachable: true } : { reachable: false, since: Math.floor(health.sinceMs / 1000), fault: health.lastFault?.fault ?? null },
          replica: stream
            ? {
                connections: stream.sessions.size,
                mtls: stream.tlsMode ?? 'off',
                refused_connections: stream.refusedConnections,
                snapshots_in_flight: stream.snapshotsInFlight,
                snapshots_sent: stream.stats.snapshotsSent,
                snapshots_stalled: stream.stats.snapshotsStalled,
                deltas_sent: stream.stats.deltasSent,
                delta_frames_encoded: stream.deltaFramesEncoded,
                acks: stream.stats.acks,
                nacks: stream.stats.nacks,
                bytes_sent: stream.stats.bytesSent,
                registry_max_rows: registry.maxRows,
                registry_rows_evicted: registry.stats.rowsEvicted,
                registry_nodes_refused: registry.stats.nodesRefused,
                registry_write_batches: registry.writeStats.batches,
                registry_rows_written: registry.writeStats.rows,
              }
            : null,
        };
      },
    });

    registerEndpoint(app, '/clustering/propagation/:version', {
      GET: async (req, reply) => {
        const { version: raw } = req.params as { version: string };
        const query = req.query as Record<string, string | undefined>;
        const version = nonNegativeInteger(raw, `invalid version '${raw}': expected a non-negative integer`);
        const timeoutMs =
          query.timeout_ms === undefined
            ? DEFAULT_PROPAGATION_TIMEOUT_MS
            : Math.min(nonNegativeInteger(query.timeout_ms, 'timeout_ms must be a non-negative integer'), MAX_PROPAGATION_TIMEOUT_MS);
        // The wait is for a fixed set of data planes: every one connected (and compatible) at its
        // first read, plus any that connects while it waits. One that leaves the connected fleet
        // before applying the version stays pending (listed with `connected: false`): it may
        // reconnect and apply it, else the wait times out. So a fleet that shrinks under the wait
        // never makes it true. With no data plane connected at all the wait is vacuously complete;
        // a pipeline that expects its fleet asks for at least N data planes to have applied it.
        // A member the head is withheld from (it lacks a plugin the head uses: capability
        // negotiation) will not get the version either until the config or the data plane
        // changes: like a rejection, it answers the wait (409, listed under `incompatible` with
        // its missing plugins) and counts toward `min_data_planes` as answered, not as applied.
        const minDataPlanes =
          query.min_data_planes === undefined ? 0 : nonNegativeInteger(query.min_data_planes, 'min_data_planes must be a non-negative integer');
        const started = Date.now();
        const deadline = started + timeoutMs;
        const wait = new PropagationWait({ version, minDataPlanes, epoch: () => mirror.epoch, isConnected: (r, now) => registry.isConnected(r, now) });
        // This replica's data planes are followed in memory, Ack by Ack (O(1) each); the database
        // is read only for those of other replicas, every PROPAGATION_POLL_MS.
        let wake: (() => void) | null = null;
        const onChange = (record: DataPlaneRecord) => {
          wait.observe(record);
          if (wake && wait.isAnswered) wake();
        };
        registry.on('change', onChange);
        try {
          const now = Date.now();
          for (const record of registry.localRecords()) wait.observe(record, now);
          for (;;) {
            // While the database is away, the data planes of other replicas cannot be read: the wait
            // goes on with this replica's (memory), and picks the others up when it is back.
            const elsewhere = health.isReachable ? await registry.list({ elsewhere: true }).catch((err: unknown) => {
              if (err instanceof DatabaseUnavailableError) return [];
              throw err;
            }) : [];
            const now = Date.now();
            const seen = new Set<string>();
            for (const r of elsewhere) {
              seen.add(r.id);
              wait.observe(r, now);
            }
            for (const id of [...wait.membersElsewhere(registry.cpInstanceId)]) if (!seen.has(id)) wait.observeGone(id);
            wait.refresh();
            if (wait.isAnswered) return reply.code(wait.isClean ? 200 : 409).send(wait.body(started));
            if (Date.now() >= deadline) return reply.code(504).send({ message: `version ${version} has not reached every data plane of the wait within ${timeoutMs} ms`, ...wait.body(started) });
            // Woken by a local Ack that completes the wait, or after a short poll for data planes on other replicas.
            await new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                wake = null;
                resolve();
              }, Math.min(PROPAGATION_POLL_MS, Math.max(0, deadline - Date.now())));
              wake = () => {
                clearTimeout(timer);
                wake = null;
                resolve();
              };
            });
            if (req.raw.destroyed) return reply;
            if (wait.isAnswered) return reply.code(wait.isClean ? 200 : 409).send(wait.body(started));
          }
        } finally {
          registry.off('change', onChange);
        }
      },
    });
  };
}

export { SyncStatus };
