/**
 * The periods a rate-limiting plugin counts in, shortest first (Kong's `second` … `year` fields).
 * Each is a fixed window aligned to calendar boundaries in UTC (see `rate-limit-windows.ts`).
 */
export const RATE_LIMIT_PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type RateLimitPeriod = (typeof RATE_LIMIT_PERIODS)[number];

/** Kong's `limit_by` values: what a request is counted against. */
export const LIMIT_BY = ['consumer', 'credential', 'ip', 'service', 'header', 'path'] as const;
export type LimitBy = (typeof LIMIT_BY)[number];

/** The policies a data plane runs (`cluster` needs Kong's database: the control plane refuses it in hybrid mode). */
export const RATE_LIMIT_POLICIES = ['local', 'redis'] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];

/**
 * The Redis connection of the redis policy: Kong 3.6+'s `config.redis` record (`kong/tools/redis/schema.lua`).
 * `timeout` bounds every command (and the connect), in ms (Kong's default 2000).
 */
export interface RedisSettings {
  readonly host: string;
  readonly port: number;
  readonly timeout: number;
  readonly username: string | null;
  readonly password: string | null;
  readonly database: number;
  readonly ssl: boolean;
  readonly ssl_verify: boolean;
  readonly server_name: string | null;
}

/**
 * A rate-limiting plugin's config as the data plane reads it: Kong's field names, complete (the
 * control plane fills the defaults from the schema, which lives in `@sluice/protocol`). A typed
 * view, not a validator.
 */
export interface RateLimitingConfig {
  readonly second: number | null;
  readonly minute: number | null;
  readonly hour: number | null;
  readonly day: number | null;
  readonly month: number | null;
  readonly year: number | null;
  readonly limit_by: LimitBy;
  readonly header_name: string | null;
  readonly path: string | null;
  readonly policy: RateLimitPolicy;
  readonly fault_tolerant: boolean;
  readonly redis: RedisSettings;
  readonly hide_client_headers: boolean;
  readonly error_code: number;
  readonly error_message: string;
  readonly sync_rate: number;
}

/** Kong's defaults for the fields a config might lack (the control plane normally sends them all). */
const DEFAULTS = {
  limit_by: 'consumer',
  policy: 'local',
  fault_tolerant: true,
  hide_client_headers: false,
  error_code: 429,
  error_message: 'API rate limit exceeded',
  sync_rate: -1,
} as const;

const REDIS_DEFAULTS = { port: 6379, timeout: 2000, database: 0 } as const;

/** The deprecated flat `redis_*` shorthands (before Kong 3.6), by the `redis` field each maps to. */
const REDIS_SHORTHANDS = {
  host: 'redis_host',
  port: 'redis_port',
  timeout: 'redis_timeout',
  username: 'redis_username',
  password: 'redis_password',
  database: 'redis_database',
  ssl: 'redis_ssl',
  ssl_verify: 'redis_ssl_verify',
  server_name: 'redis_server_name',
} as const satisfies { readonly [K in keyof RedisSettings]: string };

const numberOr = <T>(value: unknown, fallback: T): number | T => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const stringOr = <T>(value: unknown, fallback: T): string | T => (typeof value === 'string' ? value : fallback);
const booleanOr = (value: unknown, fallback: boolean): boolean => (typeof value === 'boolean' ? value : fallback);

/**
 * Reads a plugin's `config` object as a {@link RateLimitingConfig}: Kong's defaults where a field
 * is absent, `config.redis.*` with the deprecated `redis_*` shorthands as a fallback (Kong accepts
 * both and the control plane folds them into `redis`). Frozen.
 */
export function readRateLimitingConfig(config: Readonly<Record<string, unknown>>): RateLimitingConfig {
  const redisRecord = (typeof config.redis === 'object' && config.redis !== null ? config.redis : {}) as Record<string, unknown>;
  const redisField = (name: keyof RedisSettings): unknown => redisRecord[name] ?? config[REDIS_SHORTHANDS[name]] ?? null;
  const redis: RedisSettings = Object.freeze({
    host: stringOr(redisField('host'), ''),
    port: numberOr(redisField('port'), REDIS_DEFAULTS.port),
    timeout: numberOr(redisField('timeout'), REDIS_DEFAULTS.timeout),
    username: stringOr(redisField('username'), null),
    password: stringOr(redisField('password'), null),
    database: numberOr(redisField('database'), REDIS_DEFAULTS.database),
    ssl: booleanOr(redisField('ssl'), false),
    ssl_verify: booleanOr(redisField('ssl_verify'), false),
    server_name: stringOr(redisField('server_name'), null),
  });
  const limitBy = stringOr(config.limit_by, DEFAULTS.limit_by);
  const policy = stringOr(config.policy, DEFAULTS.policy);
  return Object.freeze({
    second: numberOr(config.second, null),
    minute: numberOr(config.minute, null),
    hour: numberOr(config.hour, null),
    day: numberOr(config.day, null),
    month: numberOr(config.month, null),
    year: numberOr(config.year, null),
    limit_by: ((LIMIT_BY as readonly string[]).includes(limitBy) ? limitBy : DEFAULTS.limit_by) as LimitBy,
    header_name: stringOr(config.header_name, null),
    path: stringOr(config.path, null),
    policy: policy as RateLimitPolicy,
    fault_tolerant: booleanOr(config.fault_tolerant, DEFAULTS.fault_tolerant),
    redis,
    hide_client_headers: booleanOr(config.hide_client_headers, DEFAULTS.hide_client_headers),
    error_code: numberOr(config.error_code, DEFAULTS.error_code),
    error_message: stringOr(config.error_message, DEFAULTS.error_message),
    sync_rate: numberOr(config.sync_rate, DEFAULTS.sync_rate),
  });
}
