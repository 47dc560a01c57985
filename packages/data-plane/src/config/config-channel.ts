import { pb } from '@sluice/protocol';
import { silentLogger, type Logger } from '../logger.js';
import { applyDelta } from './apply-delta.js';
import { applySnapshot } from './apply-snapshot.js';
import { ConfigSource, type RuntimeConfig } from './runtime-config.js';

/**
 * The config messages between the primary process and its proxy workers (`--workers N`), over
 * node:cluster IPC. The primary sends what it applied, as resource payloads: a delta's batch
 * (O(delta)) or, when a worker starts or asks, the whole config as a snapshot batch. Bytes are
 * base64 so the messages survive the default JSON serialisation. Each worker re-validates and
 * builds its own immutable RuntimeConfig and router, exactly as the primary did.
 */
export type ConfigChannelMessage =
  | {
      readonly type: 'sluice:config-snapshot';
      readonly epoch: string;
      readonly version: number;
      readonly hash: string;
      readonly source: ConfigSource;
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

/** The IPC endpoint role: a cluster `Worker` on the primary side, `process` on the worker side. */
export interface ConfigChannelPort {
  send(message: ConfigChannelMessage): unknown;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

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

/**
 * The worker side: holds the worker's serving config, applied from the primary's messages. A delta
 * that does not apply (it should not happen: the primary sends in order) makes it ask for a snapshot.
 */
export class ConfigFollower {
  private currentValue: RuntimeConfig | null = null;
  private readonly port: ConfigChannelPort;
  private readonly logger: Logger;
  private answered = false;
  private readonly waiters: (() => void)[] = [];

  constructor(port: ConfigChannelPort, logger: Logger = silentLogger) {
    this.port = port;
    this.logger = logger;
  }

  /** The config this worker serves, or null before the first snapshot. */
  get current(): RuntimeConfig | null {
    return this.currentValue;
  }

  /** Asks the primary for its config; resolves once it answered (with a snapshot, or "none yet"). */
  requestInitial(): Promise<void> {
    const answered = new Promise<void>((resolve) => (this.answered ? resolve() : this.waiters.push(resolve)));
    this.port.send({ type: 'sluice:config-resync' });
    return answered;
  }

  /** Handles one message from the primary; returns true when it was a config message. */
  handle(message: unknown): boolean {
    if (!isConfigChannelMessage(message)) return false;
    if (message.type === 'sluice:config-snapshot' || message.type === 'sluice:config-none') {
      this.answered = true;
      for (const resolve of this.waiters.splice(0)) resolve();
    }
    if (message.type === 'sluice:config-snapshot') {
      const result = applySnapshot(pb.ResourceBatch.decode(unb64(message.batch)), { epoch: message.epoch, version: message.version, hash: unb64(message.hash) }, { source: message.source });
      if (result.ok) this.currentValue = result.config;
      else this.logger.error({ err: result.error }, 'worker refused the primary snapshot');
    } else if (message.type === 'sluice:config-delta') {
      const result = applyDelta(this.currentValue, {
        epoch: message.epoch,
        fromVersion: message.fromVersion,
        toVersion: message.toVersion,
        targetHash: unb64(message.targetHash),
        batch: pb.ResourceBatch.decode(unb64(message.batch)),
      });
      if (result.ok) {
        this.currentValue = result.config;
      } else {
        this.logger.warn({ err: result.error }, 'worker could not apply a delta from the primary; asking for a snapshot');
        this.port.send({ type: 'sluice:config-resync' });
      }
    }
    return true;
  }
}
