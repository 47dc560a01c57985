/**
 * rate-limiting's config schema (`kong/plugins/rate-limiting/schema.lua`, Kong 3.10, as a
 * control plane sees it): limits per second … year, what to count by, the policy (`local` or
 * `redis`: Kong refuses `cluster` when `role = control_plane`, so hybrid mode never has it), the
 * `config.redis` record (`kong/tools/redis/schema.lua`) and its deprecated flat `redis_*`
 * shorthands, and Kong's checks and messages.
 */
import type { RecordFieldSpec, ShorthandFieldSpec } from '../../entities/field-spec.js';
import {
  HEADER_NAME_FIELD,
  HOST_FIELD,
  PATH_FIELD,
  PORT_FIELD,
  PROTOCOLS_HTTP_FIELD,
  type PluginSchema,
  SNI_FIELD,
  TIMEOUT_FIELD_MS,
} from '../plugin-schema.js';

/** The windows a limit can be set for, shortest first. */
export const RATE_LIMIT_PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type RateLimitPeriod = (typeof RATE_LIMIT_PERIODS)[number];

/** What requests are counted by. */
export const RATE_LIMIT_BY = ['consumer', 'credential', 'ip', 'service', 'header', 'path'] as const;
export type RateLimitBy = (typeof RATE_LIMIT_BY)[number];

/** Where counters live. Kong's third policy, `cluster`, is refused on a control plane (hybrid mode). */
export const RATE_LIMIT_POLICIES = ['local', 'redis'] as const;
export type RateLimitPolicy = (typeof RATE_LIMIT_POLICIES)[number];

/** `sync_rate` meaning "count synchronously" (Kong's `SYNC_RATE_REALTIME`). */
export const SYNC_RATE_REALTIME = -1;

/** Default Redis timeout in milliseconds (connect, send and read). */
export const DEFAULT_REDIS_TIMEOUT_MS = 2000;

/** `config.redis`. */
export interface RateLimitingRedisConfig {
  host: string | null;
  port: number;
  /** Milliseconds. */
  timeout: number;
  username: string | null;
  password: string | null;
  database: number;
  ssl: boolean;
  ssl_verify: boolean;
  server_name: string | null;
}

/** A complete rate-limiting config, as the control plane sends it (every default applied). */
export interface RateLimitingConfig {
  second: number | null;
  minute: number | null;
  hour: number | null;
  day: number | null;
  month: number | null;
  year: number | null;
  limit_by: RateLimitBy;
  header_name: string | null;
  path: string | null;
  policy: RateLimitPolicy;
  fault_tolerant: boolean;
  redis: RateLimitingRedisConfig;
  hide_client_headers: boolean;
  error_code: number;
  error_message: string;
  /** Seconds between syncs with Redis; -1 = every request. */
  sync_rate: number;
}

/** `%.1f` of Lua's `string.format`. */
function oneDecimal(value: number): string {
  return value.toFixed(1);
}

/** Kong's `validate_periods_order`, with the sync_rate rules. */
function validatePeriodsOrder(config: Readonly<Record<string, unknown>>): string | null {
  for (let i = 0; i < RATE_LIMIT_PERIODS.length; i++) {
    const lower = RATE_LIMIT_PERIODS[i] as RateLimitPeriod;
    const v1 = config[lower];
    if (typeof v1 !== 'number') continue;
    for (const upper of RATE_LIMIT_PERIODS.slice(i + 1)) {
      const v2 = config[upper];
      if (typeof v2 === 'number' && v2 < v1) {
        return `The limit for ${upper}(${oneDecimal(v2)}) cannot be lower than the limit for ${lower}(${oneDecimal(v1)})`;
      }
    }
  }
  const syncRate = config.sync_rate;
  if (config.policy !== 'redis' && syncRate !== SYNC_RATE_REALTIME) return 'sync_rate can only be used with the redis policy';
  if (config.policy === 'redis' && syncRate !== SYNC_RATE_REALTIME && typeof syncRate === 'number' && syncRate < 0.02) {
    return 'sync_rate must be greater than 0.02, or -1 to disable';
  }
  return null;
}

const limit = (window: string) => ({ type: 'number', gt: 0, description: `The number of requests allowed per ${window}.` }) as const;

/** `config.redis` (`kong/tools/redis/schema.lua`). */
export const REDIS_CONFIG_FIELD: RecordFieldSpec = {
  type: 'record',
  required: true,
  description: 'The Redis server of the redis policy.',
  fields: {
    host: HOST_FIELD,
    port: { ...PORT_FIELD, default: 6379 },
    timeout: { ...TIMEOUT_FIELD_MS, default: DEFAULT_REDIS_TIMEOUT_MS },
    username: { type: 'string', description: 'User name for Redis ACL authentication (Redis 6+); unset = no ACL user.' },
    password: { type: 'string', lenMin: 0, description: 'Password sent with AUTH; unset = no AUTH.' },
    database: { type: 'integer', default: 0, description: 'The Redis database number.' },
    ssl: { type: 'boolean', required: false, default: false, description: 'Connect to Redis over TLS.' },
    ssl_verify: { type: 'boolean', required: false, default: false, description: "Verify the Redis server's TLS certificate." },
    server_name: { ...SNI_FIELD, required: false },
  },
};

function deprecatedRedis(field: string, spec: ShorthandFieldSpec['spec']): ShorthandFieldSpec {
  return {
    spec,
    path: ['redis', field],
    deprecation: {
      message: `rate-limiting: config.redis_${field} is deprecated, please use config.redis.${field} instead`,
      removalInVersion: '4.0',
    },
  };
}

/** The `config` record. */
export const RATE_LIMITING_CONFIG_FIELD: RecordFieldSpec = {
  type: 'record',
  required: true,
  fields: {
    second: limit('second'),
    minute: limit('minute'),
    hour: limit('hour'),
    day: limit('day'),
    month: limit('month'),
    year: limit('year'),
    limit_by: { type: 'string', default: 'consumer', oneOf: RATE_LIMIT_BY, description: 'What requests are counted by.' },
    header_name: { ...HEADER_NAME_FIELD, description: 'The header counted by when limit_by is header.' },
    path: { ...PATH_FIELD, description: 'The path counted by when limit_by is path.' },
    policy: { type: 'string', default: 'local', lenMin: 0, oneOf: RATE_LIMIT_POLICIES, description: 'Where the counters are kept: local (per data plane) or redis.' },
    fault_tolerant: {
      type: 'boolean',
      required: true,
      default: true,
      description: 'When the counter store fails, proxy the request anyway (true) or answer 500 (false).',
    },
    redis: REDIS_CONFIG_FIELD,
    hide_client_headers: { type: 'boolean', required: true, default: false, description: 'Leave the rate-limit headers out of responses.' },
    error_code: { type: 'number', default: 429, gt: 0, description: 'The status of a refused request.' },
    error_message: { type: 'string', default: 'API rate limit exceeded', description: 'The message of a refused request.' },
    sync_rate: {
      type: 'number',
      required: true,
      default: SYNC_RATE_REALTIME,
      description: 'Seconds between counter syncs with Redis; -1 counts synchronously.',
    },
  },
  customValidator: validatePeriodsOrder,
  shorthands: {
    redis_host: deprecatedRedis('host', { type: 'string' }),
    redis_port: deprecatedRedis('port', { type: 'integer' }),
    redis_password: deprecatedRedis('password', { type: 'string', lenMin: 0 }),
    redis_username: deprecatedRedis('username', { type: 'string' }),
    redis_ssl: deprecatedRedis('ssl', { type: 'boolean' }),
    redis_ssl_verify: deprecatedRedis('ssl_verify', { type: 'boolean' }),
    redis_server_name: deprecatedRedis('server_name', { type: 'string' }),
    redis_timeout: deprecatedRedis('timeout', { type: 'integer' }),
    redis_database: deprecatedRedis('database', { type: 'integer' }),
  },
};

const ifPolicyRedis = (then: string) =>
  ({ conditional: { if_field: 'config.policy', if_match: { eq: 'redis' }, then_field: then, then_match: { required: true } } }) as const;

/** rate-limiting's schema. */
export const RATE_LIMITING_SCHEMA: PluginSchema = {
  name: 'rate-limiting',
  fields: { protocols: PROTOCOLS_HTTP_FIELD, config: RATE_LIMITING_CONFIG_FIELD },
  entityChecks: [
    { at_least_one_of: RATE_LIMIT_PERIODS.map((p) => `config.${p}`) },
    ifPolicyRedis('config.redis.host'),
    ifPolicyRedis('config.redis.port'),
    ifPolicyRedis('config.redis.timeout'),
    { conditional: { if_field: 'config.limit_by', if_match: { eq: 'header' }, then_field: 'config.header_name', then_match: { required: true } } },
    { conditional: { if_field: 'config.limit_by', if_match: { eq: 'path' }, then_field: 'config.path', then_match: { required: true } } },
  ],
};
