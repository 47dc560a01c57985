import { RateLimitStoreError } from '../errors.js';
import type { RateLimitCounters, RateLimitOutcome, RateLimitQuery } from '../plugins/rate-limiting/rate-limit-counters.js';
import { RATE_LIMIT_PERIODS, type RateLimitPeriod, type RedisSettings } from '../plugins/rate-limiting/rate-limiting-config.js';
import type { RateLimitWindow } from '../plugins/rate-limiting/rate-limit-windows.js';
import { RATE_LIMIT_FLAG_FAULT_TOLERANT, RATE_LIMIT_FLAG_REDIS, type RateLimitRequestItem, type RateLimitResultItem, type WorkerControlMessage } from './worker-messages.js';

const PERIOD_INDEX = new Map<RateLimitPeriod, number>(RATE_LIMIT_PERIODS.map((p, i) => [p, i]));

/** How long a worker waits for the primary's answer to a local-policy query, in ms (default 1 s); a redis query waits its `timeout` more. */
export const WORKER_RATE_LIMIT_TIMEOUT_MS = 1_000;

/** Queries a worker may have waiting on the primary at once (default 10,000); past it a query fails at once (fault_tolerant decides). */
export const MAX_PENDING_RATE_LIMIT_QUERIES = 10_000;

/** How often pending queries are checked against their deadline, in ms. */
const SWEEP_INTERVAL_MS = 100;

interface Pending {
  readonly resolve: (outcome: RateLimitOutcome) => void;
  readonly reject: (err: Error) => void;
  readonly deadlineMs: number;
}

/** The IPC endpoint a worker sends through (`process` in a node:cluster worker). */
export interface RateLimitChannelPort {
  send(message: WorkerControlMessage): unknown;
  readonly connected: boolean;
}

/**
 * A proxy worker's rate-limit counters: every query goes to the primary process, which holds the
 * one {@link RateLimitService} of the data plane, so all workers count against the same numbers
 * and check-and-increment stays atomic (the primary is single-threaded). Queries made in one turn
 * of the event loop travel in one message, and so do their answers. A query that gets no answer
 * within {@link WORKER_RATE_LIMIT_TIMEOUT_MS} (plus the Redis timeout for the redis policy) fails
 * with a {@link RateLimitStoreError}.
 */
export class WorkerRateLimitClient implements RateLimitCounters {
  private readonly port: RateLimitChannelPort;
  private readonly pending = new Map<number, Pending>();
  private outgoing: RateLimitRequestItem[] = [];
  private isFlushScheduled = false;
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  /** The number each Redis settings record (one per plugin config) was given, by identity. */
  private readonly redisIds = new WeakMap<RedisSettings, number>();
  private nextRedisId = 1;

  constructor(port: RateLimitChannelPort) {
    this.port = port;
  }

  consume(query: RateLimitQuery): Promise<RateLimitOutcome> {
    if (this.pending.size >= MAX_PENDING_RATE_LIMIT_QUERIES) return Promise.reject(new RateLimitStoreError(`${this.pending.size} rate-limit queries already wait on the primary`));
    if (!this.port.connected) return Promise.reject(new RateLimitStoreError('the primary process is gone'));
    const id = this.nextId++;
    const timeoutMs = WORKER_RATE_LIMIT_TIMEOUT_MS + (query.policy === 'redis' ? query.redis.timeout : 0);
    let redis = 0;
    if (query.policy === 'redis') {
      redis = this.redisIds.get(query.redis) ?? 0;
      if (redis === 0) {
        redis = this.nextRedisId++;
        this.redisIds.set(query.redis, redis);
        // Sent now, ahead of the batch that first uses it (IPC keeps the order).
        try {
          this.port.send({ type: 'sluice:rate-limit-redis', id: redis, settings: query.redis });
        } catch (err) {
          this.redisIds.delete(query.redis);
          return Promise.reject(new RateLimitStoreError(`cannot reach the primary process: ${(err as Error).message}`));
        }
      }
    }
    const windows: number[] = [];
    for (const w of query.windows) windows.push(PERIOD_INDEX.get(w.period)!, w.limit, w.startMs, w.endMs);
    const flags = (query.policy === 'redis' ? RATE_LIMIT_FLAG_REDIS : 0) | (query.isFaultTolerant ? RATE_LIMIT_FLAG_FAULT_TOLERANT : 0);
    const promise = new Promise<RateLimitOutcome>((resolve, reject) => this.pending.set(id, { resolve, reject, deadlineMs: performance.now() + timeoutMs }));
    this.outgoing.push({ id, key: query.key, flags, redis, windows });
    if (!this.isFlushScheduled) {
      this.isFlushScheduled = true;
      setImmediate(() => this.flush());
    }
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
    return promise;
  }

  private flush(): void {
    this.isFlushScheduled = false;
    const batch = this.outgoing;
    this.outgoing = [];
    if (batch.length === 0) return;
    try {
      this.port.send({ type: 'sluice:rate-limit-consume', batch });
    } catch (err) {
      for (const item of batch) this.settle({ id: item.id, error: `cannot reach the primary process: ${(err as Error).message}` });
    }
  }

  /** Handles a message from the primary; returns true when it was a rate-limit answer. */
  handle(message: unknown): boolean {
    const m = message as WorkerControlMessage | null;
    if (m?.type !== 'sluice:rate-limit-result') return false;
    for (const item of m.batch) this.settle(item);
    return true;
  }

  private settle(item: RateLimitResultItem): void {
    const pending = this.pending.get(item.id);
    if (pending === undefined) return;
    this.pending.delete(item.id);
    if ('error' in item) pending.reject(new RateLimitStoreError(item.error));
    else pending.resolve({ usages: item.usages, limits: item.limits, isDegraded: item.degraded === 1 });
  }

  private sweep(): void {
    const now = performance.now();
    for (const [id, pending] of this.pending) {
      if (pending.deadlineMs > now) continue;
      this.pending.delete(id);
      pending.reject(new RateLimitStoreError('the primary process did not answer a rate-limit query in time'));
    }
    if (this.pending.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }
}

/** The sending side of a worker, as the primary sees it (a node:cluster `Worker`). */
export interface RateLimitAnswerPort {
  send(message: WorkerControlMessage): unknown;
  isConnected(): boolean;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}

/** Redis settings a worker may name (default 64, as `MAX_REDIS_CONNECTIONS`); past it the oldest name is forgotten. */
const MAX_NAMED_REDIS = 64;

/** The Redis settings of a query the worker named no connection for (never used: the query fails). */
const UNNAMED_REDIS: RedisSettings = Object.freeze({ host: '', port: 0, timeout: 0, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null });

/**
 * The primary's side of one worker's rate-limit queries: decides each with `counters` and sends
 * the answers back, those decided in the same turn of the event loop in one message.
 */
export class RateLimitResponder {
  private outgoing: RateLimitResultItem[] = [];
  private isFlushScheduled = false;
  private readonly redis = new Map<number, RedisSettings>();

  constructor(
    private readonly port: RateLimitAnswerPort,
    private readonly counters: RateLimitCounters,
  ) {}

  /** Handles a worker's message; returns true when it was one of the rate-limit channel's. */
  handle(message: WorkerControlMessage): boolean {
    if (message.type === 'sluice:rate-limit-consume') this.take(message.batch);
    else if (message.type === 'sluice:rate-limit-redis') {
      if (this.redis.size >= MAX_NAMED_REDIS) this.redis.delete(this.redis.keys().next().value!);
      this.redis.set(message.id, message.settings);
    } else return false;
    return true;
  }

  /** Decides the queries of one `sluice:rate-limit-consume` message. */
  take(batch: readonly RateLimitRequestItem[]): void {
    for (const item of batch) {
      const id = item.id;
      const windows: RateLimitWindow[] = [];
      for (let i = 0; i + 3 < item.windows.length; i += 4) {
        const w = item.windows;
        windows.push({ period: RATE_LIMIT_PERIODS[w[i]!]!, limit: w[i + 1]!, startMs: w[i + 2]!, endMs: w[i + 3]! });
      }
      const query: RateLimitQuery = {
        policy: item.flags & RATE_LIMIT_FLAG_REDIS ? 'redis' : 'local',
        redis: this.redis.get(item.redis) ?? UNNAMED_REDIS,
        key: item.key,
        windows,
        isFaultTolerant: (item.flags & RATE_LIMIT_FLAG_FAULT_TOLERANT) !== 0,
      };
      let outcome: RateLimitOutcome | PromiseLike<RateLimitOutcome>;
      try {
        outcome = this.counters.consume(query);
      } catch (err) {
        this.answer({ id, error: (err as Error).message });
        continue;
      }
      if (isThenable(outcome)) {
        outcome.then(
          (decided) => this.answer(resultItem(id, decided)),
          (err: unknown) => this.answer({ id, error: err instanceof Error ? err.message : String(err) }),
        );
      } else {
        this.answer(resultItem(id, outcome));
      }
    }
  }

  private answer(item: RateLimitResultItem): void {
    this.outgoing.push(item);
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    setImmediate(() => {
      this.isFlushScheduled = false;
      const batch = this.outgoing;
      this.outgoing = [];
      if (batch.length > 0 && this.port.isConnected()) this.port.send({ type: 'sluice:rate-limit-result', batch });
    });
  }
}

function resultItem(id: number, outcome: RateLimitOutcome): RateLimitResultItem {
  return { id, usages: outcome.usages, limits: outcome.limits, degraded: outcome.isDegraded ? 1 : 0 };
}
