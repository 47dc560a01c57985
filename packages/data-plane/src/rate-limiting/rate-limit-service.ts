import { RateLimitStoreError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RedisSettings } from '../plugins/rate-limiting/rate-limiting-config.js';
import type { RateLimitCounters, RateLimitOutcome, RateLimitQuery } from '../plugins/rate-limiting/rate-limit-counters.js';
import type { RateLimitWindow } from '../plugins/rate-limiting/rate-limit-windows.js';
import { DEFAULT_LOCAL_COUNTER_CAPACITY, LocalCounterTable, type LocalCounterStats } from './local-counter-table.js';
import { redisPoolKey, RedisCounterStore } from './redis-counter-store.js';

/** Distinct Redis servers (host, port, database, credentials) a data plane keeps a connection to (default 64); past it the least recently added is closed. */
export const MAX_REDIS_CONNECTIONS = 64;

/** Prefix of the local counters of degraded mode, apart from the local policy's. */
const DEGRADED_PREFIX = 'degraded:';

/** Options of {@link RateLimitService}. */
export interface RateLimitServiceOptions {
  readonly logger?: Logger;
  /** Entries of the local counter table (default {@link DEFAULT_LOCAL_COUNTER_CAPACITY}). */
  readonly localCapacity?: number;
  /**
   * The data planes connected across the cluster, as the control plane last said (null before it
   * said, or without a control plane: counted as 1). Degraded mode enforces limit ÷ this.
   */
  readonly connectedDataPlanes?: () => number | null;
  readonly now?: () => number;
}

/** Requests decided since start, by where. */
export interface RateLimitDecisionCounts {
  /** By the local policy's table. */
  local: number;
  /** By Redis. */
  redis: number;
  /** Locally, while Redis was unreachable (degraded mode). */
  degraded: number;
  /** Redis calls that failed (or timed out). */
  redisFailures: number;
  /** Requests that could not be decided at all (Redis failed and the plugin is not fault tolerant). */
  failed: number;
}

/** One Redis server in `/status`. */
export interface RedisServerStatus {
  readonly address: string;
  readonly state: 'ok' | 'degraded';
  readonly since: string;
  readonly last_error: string | null;
  /** Times the breaker opened since start. */
  readonly outages: number;
}

/** `rate_limiting` in the data plane's `/status`. */
export interface RateLimitingStatus {
  /** The cluster's connected data planes as the control plane last said (null: not known, counted as 1). */
  readonly connected_data_planes: number | null;
  readonly local: LocalCounterStats;
  readonly redis: {
    /** `degraded` while any Redis server is unreachable, `ok` when all answer, `unused` without the redis policy. */
    readonly state: 'ok' | 'degraded' | 'unused';
    /** When the oldest running outage began (ISO 8601), or null. */
    readonly since: string | null;
    readonly servers: readonly RedisServerStatus[];
  };
  readonly decisions: Readonly<RateLimitDecisionCounts>;
}

const limitsOf = (windows: readonly RateLimitWindow[]): number[] => windows.map((w) => w.limit);

/**
 * The data plane's rate-limiting counters (one per data plane: in its process, or with
 * `--workers` in the primary, which its workers ask over IPC): the local policy's table, and one
 * {@link RedisCounterStore} per Redis server for the redis policy. While a Redis server is
 * unreachable (its breaker open) a fault-tolerant plugin's requests are decided from this data
 * plane's share of each limit, `max(1, floor(limit ÷ connected data planes))`, counted in the local
 * table (degraded mode); the counting returns to Redis once it answers.
 */
export class RateLimitService implements RateLimitCounters {
  readonly table: LocalCounterTable;
  readonly decisions: RateLimitDecisionCounts = { local: 0, redis: 0, degraded: 0, redisFailures: 0, failed: 0 };
  private readonly logger: Logger;
  private readonly stores = new Map<string, RedisCounterStore>();
  private readonly connectedDataPlanes: () => number | null;
  private readonly now: () => number;

  constructor(options: RateLimitServiceOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.table = new LocalCounterTable(options.localCapacity ?? DEFAULT_LOCAL_COUNTER_CAPACITY);
    this.connectedDataPlanes = options.connectedDataPlanes ?? (() => null);
    this.now = options.now ?? Date.now;
  }

  consume(query: RateLimitQuery): RateLimitOutcome | Promise<RateLimitOutcome> {
    if (query.policy !== 'redis') {
      this.decisions.local++;
      return { usages: this.table.consume(query.key, query.windows, this.now()), limits: limitsOf(query.windows), isDegraded: false };
    }
    const store = this.storeFor(query.redis);
    if (store.breaker.isOpen) return this.degraded(query, store.breaker.lastError ?? new RateLimitStoreError(`redis ${store.address} is unreachable`));
    const limits = limitsOf(query.windows);
    return store.consume(query.key, query.windows, limits).then(
      (usages) => {
        this.decisions.redis++;
        return { usages, limits, isDegraded: false };
      },
      (err: unknown) => {
        this.decisions.redisFailures++;
        return this.degraded(query, err);
      },
    );
  }

  /** Decides `query` from this data plane's share of its limits, or fails when the plugin is not fault tolerant. */
  private degraded(query: RateLimitQuery, cause: unknown): RateLimitOutcome {
    if (!query.isFaultTolerant) {
      this.decisions.failed++;
      throw cause instanceof RateLimitStoreError ? cause : new RateLimitStoreError(String(cause), { cause });
    }
    const n = Math.max(1, this.connectedDataPlanes() ?? 1);
    const limits = query.windows.map((w) => Math.max(1, Math.floor(w.limit / n)));
    this.decisions.degraded++;
    return { usages: this.table.consume(DEGRADED_PREFIX + query.key, query.windows, this.now(), limits), limits, isDegraded: true };
  }

  private storeFor(settings: RedisSettings): RedisCounterStore {
    const key = redisPoolKey(settings);
    let store = this.stores.get(key);
    if (store === undefined) {
      if (settings.host === '') throw new RateLimitStoreError('the redis policy needs config.redis.host');
      if (this.stores.size >= MAX_REDIS_CONNECTIONS) {
        const [oldestKey, oldest] = this.stores.entries().next().value!;
        this.stores.delete(oldestKey);
        void oldest.close();
      }
      store = new RedisCounterStore(settings, { logger: this.logger });
      this.stores.set(key, store);
    }
    return store;
  }

  /** Whether any Redis server is unreachable now (its requests are decided locally). */
  get isDegraded(): boolean {
    for (const store of this.stores.values()) if (store.breaker.isOpen) return true;
    return false;
  }

  /** The `rate_limiting` section of `/status`. */
  status(): RateLimitingStatus {
    const servers: RedisServerStatus[] = [];
    let since: number | null = null;
    for (const store of this.stores.values()) {
      const isOpen = store.breaker.isOpen;
      if (isOpen && (since === null || store.breaker.since < since)) since = store.breaker.since;
      servers.push({
        address: store.address,
        state: isOpen ? 'degraded' : 'ok',
        since: new Date(store.breaker.since).toISOString(),
        last_error: store.breaker.lastError?.message ?? null,
        outages: store.breaker.opens,
      });
    }
    return {
      connected_data_planes: this.connectedDataPlanes(),
      local: this.table.stats,
      redis: { state: servers.length === 0 ? 'unused' : since === null ? 'ok' : 'degraded', since: since === null ? null : new Date(since).toISOString(), servers },
      decisions: { ...this.decisions },
    };
  }

  /** Closes every Redis connection. */
  async close(): Promise<void> {
    const stores = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }
}
