import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { RateLimitStoreError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RedisSettings } from '../plugins/rate-limiting/rate-limiting-config.js';
import type { RateLimitWindow } from '../plugins/rate-limiting/rate-limit-windows.js';
import { CircuitBreaker } from './circuit-breaker.js';

/** Kept past a window's end before Redis drops its counter, in ms (default 5 s): absorbs clock skew between data planes. */
export const REDIS_EXPIRY_SLACK_MS = 5_000;

/**
 * Requests one Redis connection may have waiting at once (default 10,000). Past it a request is
 * not sent (it fails like an unreachable Redis, without opening the breaker): a slow Redis cannot
 * make the queue grow with the traffic.
 */
export const MAX_REDIS_IN_FLIGHT = 10_000;

/**
 * Check-and-increment over every window of one request, atomically (a Lua script runs alone on
 * the server), in one round trip. KEYS: one counter per window. ARGV: the limits, then each
 * key's expiry (ms since the Unix epoch). Returns each window's count before the request; counts
 * go up only when no window has reached its limit.
 */
export const CONSUME_SCRIPT = `
local n = #KEYS
local usages = {}
local blocked = false
for i = 1, n do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  usages[i] = v
  if tonumber(ARGV[i]) - v <= 0 then blocked = true end
end
if not blocked then
  for i = 1, n do
    if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIREAT', KEYS[i], ARGV[n + i]) end
  end
end
return usages
`;

const CONSUME_SHA1 = createHash('sha1').update(CONSUME_SCRIPT).digest('hex');

/** The key of the pool a Redis settings record uses: one connection per distinct server, database and credentials. */
export function redisPoolKey(settings: RedisSettings): string {
  return JSON.stringify([settings.host, settings.port, settings.database, settings.username, settings.password, settings.ssl, settings.ssl_verify, settings.server_name, settings.timeout]);
}

/**
 * The redis policy's counters on one Redis server (host, port, database, user): one ioredis
 * connection, pipelined (every request of the data plane shares it), with `AUTH`, `SELECT` and TLS
 * as configured and every command bounded by `timeout`. Counters use Kong's keys
 * (`ratelimit:<route>:<service>:<identifier>:<window start ms>:<period>`) and expire at their
 * window's end (+ {@link REDIS_EXPIRY_SLACK_MS}). A {@link CircuitBreaker} skips Redis after a
 * failure until a background PING succeeds.
 */
export class RedisCounterStore {
  readonly settings: RedisSettings;
  readonly breaker: CircuitBreaker;
  private readonly client: Redis;
  private readonly logger: Logger;
  private inFlight = 0;

  constructor(settings: RedisSettings, options: { logger: Logger; onBreakerChange?: (isOpen: boolean) => void }) {
    this.settings = settings;
    this.logger = options.logger;
    const redisOptions: RedisOptions = {
      host: settings.host,
      port: settings.port,
      db: settings.database,
      username: settings.username ?? undefined,
      password: settings.password ?? undefined,
      connectTimeout: settings.timeout,
      commandTimeout: settings.timeout,
      // A command waits for a (re)connect at most `timeout`; one queued when a reconnect fails is failed at once.
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
      tls: settings.ssl ? { servername: settings.server_name ?? settings.host, rejectUnauthorized: settings.ssl_verify } : undefined,
    };
    this.client = new Redis(redisOptions);
    this.client.on('error', (err: Error) => this.logger.debug({ err, redis: this.address }, 'redis connection error'));
    this.breaker = new CircuitBreaker({
      probe: () => this.client.ping(),
      onChange: (isOpen) => {
        if (isOpen) this.logger.warn({ redis: this.address, err: this.breaker.lastError }, 'redis unreachable: rate limiting decides locally (degraded) until it answers');
        else this.logger.info({ redis: this.address }, 'redis answers again: rate limiting counts in redis');
        options.onBreakerChange?.(isOpen);
      },
    });
  }

  /** `host:port/db`, for logs and `/status`. */
  get address(): string {
    return `${this.settings.host}:${this.settings.port}/${this.settings.database}`;
  }

  /**
   * One request's check-and-increment (see {@link CONSUME_SCRIPT}): EVALSHA, EVAL when the script
   * is not cached. Resolves with each window's count before the request.
   * @throws RateLimitStoreError (rejects) when Redis fails or does not answer within `timeout`.
   */
  async consume(key: string, windows: readonly RateLimitWindow[], limits: readonly number[]): Promise<number[]> {
    if (this.inFlight >= MAX_REDIS_IN_FLIGHT) throw new RateLimitStoreError(`redis ${this.address}: ${this.inFlight} requests already wait for it`);
    this.inFlight++;
    try {
      return await this.evaluate(key, windows, limits);
    } finally {
      this.inFlight--;
    }
  }

  private async evaluate(key: string, windows: readonly RateLimitWindow[], limits: readonly number[]): Promise<number[]> {
    const n = windows.length;
    const args: (string | number)[] = new Array(2 * n + n);
    for (let i = 0; i < n; i++) {
      const w = windows[i]!;
      args[i] = `${key}:${w.startMs}:${w.period}`;
      args[n + i] = limits[i]!;
      args[2 * n + i] = w.endMs + REDIS_EXPIRY_SLACK_MS;
    }
    let result: unknown;
    try {
      result = await this.client.evalsha(CONSUME_SHA1, n, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw this.failed(err);
      try {
        result = await this.client.eval(CONSUME_SCRIPT, n, ...args);
      } catch (err2) {
        throw this.failed(err2);
      }
    }
    if (!Array.isArray(result) || result.length !== n) throw this.failed(new Error(`unexpected script reply ${JSON.stringify(result)}`));
    return result.map(Number);
  }

  private failed(err: unknown): RateLimitStoreError {
    const error = new RateLimitStoreError(`redis ${this.address}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.breaker.failure(error);
    return error;
  }

  /** Closes the connection and stops the breaker's probes. */
  async close(): Promise<void> {
    this.breaker.stop();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
