import { pb } from '@sluice/protocol';
import type { ConfigOrigin, RuntimeConfig } from '../config/runtime-config.js';
import type { RedisSettings } from '../plugins/rate-limiting/rate-limiting-config.js';
import type { TrafficSnapshot } from '../proxy/traffic-stats.js';

/**
 * The config messages between the primary process and its proxy workers (`--workers N`), over
 * node:cluster IPC. The primary sends what it applied, as resource payloads: a delta's batch
 * (O(delta)) or, when a worker starts or asks, the whole config as a snapshot batch. Bytes are
 * base64 so the messages survive the default JSON serialisation. Each worker verifies the hash and
 * references and builds its own immutable RuntimeConfig and router, as the primary did.
 */
export type ConfigChannelMessage =
  | {
      readonly type: 'sluice:config-snapshot';
      readonly epoch: string;
      readonly version: number;
      readonly hash: string;
      readonly source: ConfigOrigin;
      readonly batch: string;
    }
  | {
      readonly type: 'sluice:config-delta';
      readonly epoch: string;
      readonly fromVersion: number;
      readonly toVersion: number;
      readonly targetHash: string;
      readonly batch: string;
    }
  | { readonly type: 'sluice:config-resync' }
  /** The primary's answer to a resync when it has no config yet (the worker serves 503 until one comes). */
  | { readonly type: 'sluice:config-none' };

/** The other messages between the primary and a proxy worker: its lifecycle and its traffic counts. */
export type WorkerControlMessage =
  /** The worker listens (its config is here): the primary's start waits for every worker's. */
  | { readonly type: 'sluice:worker-listening'; readonly host: string; readonly port: number }
  /** The primary asks the worker to drain and exit. */
  | { readonly type: 'sluice:worker-stop' }
  /** The primary asks for the worker's traffic counts (a scrape of /metrics). */
  | { readonly type: 'sluice:traffic-stats-request'; readonly id: number }
  /** The worker's answer: everything it has counted since it started. */
  | { readonly type: 'sluice:traffic-stats'; readonly id: number; readonly snapshot: TrafficSnapshot }
  /** Rate-limit queries a worker counts through the primary (one data plane, one set of counters); batched per event-loop turn. */
  | { readonly type: 'sluice:rate-limit-consume'; readonly batch: readonly RateLimitRequestItem[] }
  /** A worker names a Redis connection once, before the first query that uses it (queries then carry its number). */
  | { readonly type: 'sluice:rate-limit-redis'; readonly id: number; readonly settings: RedisSettings }
  /** The primary's answers, by query id, batched likewise. */
  | { readonly type: 'sluice:rate-limit-result'; readonly batch: readonly RateLimitResultItem[] };

/** `RateLimitRequestItem.flags`: the query uses the redis policy. */
export const RATE_LIMIT_FLAG_REDIS = 1;
/** `RateLimitRequestItem.flags`: the plugin is fault tolerant. */
export const RATE_LIMIT_FLAG_FAULT_TOLERANT = 2;

/**
 * One `RateLimitQuery` as it travels (compact: the IPC's JSON is most of the cost): the counter
 * key, flags, the Redis connection by the number the worker gave it (0 for the local policy), and
 * per window its period index (`RATE_LIMIT_PERIODS`), limit, start and end in ms.
 */
export interface RateLimitRequestItem {
  readonly id: number;
  readonly key: string;
  readonly flags: number;
  readonly redis: number;
  readonly windows: readonly number[];
}

/** One answer of a `sluice:rate-limit-result` batch: the outcome (`degraded` 1 in degraded mode), or why the store could not decide. */
export type RateLimitResultItem =
  | { readonly id: number; readonly usages: readonly number[]; readonly limits: readonly number[]; readonly degraded: 0 | 1 }
  | { readonly id: number; readonly error: string };

/** The IPC endpoint role: a cluster `Worker` on the primary side, `process` on the worker side. */
export interface ConfigChannelPort {
  send(message: ConfigChannelMessage): unknown;
}

/** Bytes as base64 text, without copying the view's buffer. */
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** Base64 text back to bytes. */
export const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'));

/** Whether a received IPC message is one of the config channel's. */
export function isConfigChannelMessage(message: unknown): message is ConfigChannelMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'sluice:config-snapshot' || type === 'sluice:config-delta' || type === 'sluice:config-resync' || type === 'sluice:config-none';
}

/** The snapshot message for a whole config. O(config). */
export function snapshotMessage(config: RuntimeConfig): ConfigChannelMessage {
  return {
    type: 'sluice:config-snapshot',
    epoch: config.epoch,
    version: config.version,
    hash: b64(config.hashBytes),
    source: config.source,
    batch: b64(pb.ResourceBatch.encode(config.toBatch()).finish()),
  };
}

/** The delta message for an applied delta batch. O(delta). */
export function deltaMessage(delta: { epoch: string; fromVersion: number; toVersion: number; targetHash: Uint8Array; batch: Parameters<typeof pb.ResourceBatch.encode>[0] }): ConfigChannelMessage {
  return {
    type: 'sluice:config-delta',
    epoch: delta.epoch,
    fromVersion: delta.fromVersion,
    toVersion: delta.toVersion,
    targetHash: b64(delta.targetHash),
    batch: b64(pb.ResourceBatch.encode(delta.batch).finish()),
  };
}
