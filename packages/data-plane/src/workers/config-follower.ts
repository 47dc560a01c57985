import { pb } from '@sluice/protocol';
import { silentLogger, type Logger } from '../logger.js';
import { AckError, ConfigRejectedError } from '../errors.js';
import { APPLY_SLICE_MS, runStepsSliced } from '../steps.js';
import { deltaSteps } from '../config/apply-delta.js';
import { snapshotSteps, type ApplyResult } from '../config/apply-snapshot.js';
import { ConfigOrigin, type RuntimeConfig } from '../config/runtime-config.js';

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

/** Config messages a worker holds while it applies an earlier one (default 1,000); past it, it drops them and asks for a snapshot. */
export const MAX_PENDING_CONFIG_MESSAGES = 1_000;

/**
 * The worker side: holds the worker's serving config, applied from the primary's messages in order,
 * one at a time, each checked and built in slices ({@link runStepsSliced}) so the worker keeps
 * proxying on its current config meanwhile; messages that arrive during an apply wait in a bounded
 * queue. The primary checked every entity against Kong's schema before forwarding it, so a worker
 * skips that check and verifies the hash and references. A delta that does not apply (it should not
 * happen: the primary sends in order) makes it ask for a snapshot.
 */
export class ConfigFollower {
  private currentValue: RuntimeConfig | null = null;
  private readonly port: ConfigChannelPort;
  private readonly logger: Logger;
  private readonly sliceMs: number;
  private answered = false;
  private readonly waiters: (() => void)[] = [];
  private readonly pending: Exclude<ConfigChannelMessage, { type: 'sluice:config-resync' }>[] = [];
  private isApplying = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(port: ConfigChannelPort, logger: Logger = silentLogger, options: { readonly sliceMs?: number } = {}) {
    this.port = port;
    this.logger = logger;
    this.sliceMs = options.sliceMs ?? APPLY_SLICE_MS;
  }

  /** The config this worker serves, or null before the first snapshot. */
  get current(): RuntimeConfig | null {
    return this.currentValue;
  }

  /** Resolves once every message handled so far is applied (or refused). */
  whenIdle(): Promise<void> {
    if (!this.isApplying && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Asks the primary for its config; resolves once it answered and that answer is applied (or "none yet"). */
  requestInitial(): Promise<void> {
    const answered = new Promise<void>((resolve) => (this.answered ? resolve() : this.waiters.push(resolve)));
    this.port.send({ type: 'sluice:config-resync' });
    return answered;
  }

  /** Handles one message from the primary (applied after those before it); returns true when it was a config message. */
  handle(message: unknown): boolean {
    if (!isConfigChannelMessage(message)) return false;
    if (message.type === 'sluice:config-resync') return true;
    if (message.type === 'sluice:config-snapshot') {
      // A snapshot replaces everything: what waits before it need not be applied.
      this.pending.length = 0;
    } else if (this.pending.length >= MAX_PENDING_CONFIG_MESSAGES) {
      this.logger.warn({ pending: this.pending.length }, 'worker config queue full; dropping it and asking for a snapshot');
      this.pending.length = 0;
      this.port.send({ type: 'sluice:config-resync' });
      return true;
    }
    this.pending.push(message);
    if (!this.isApplying) this.applyNext();
    return true;
  }

  private applyNext(): void {
    const message = this.pending.shift();
    if (message === undefined) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    if (message.type === 'sluice:config-none') {
      this.markAnswered();
      this.applyNext();
      return;
    }
    this.isApplying = true;
    const failed = (err: unknown): void => this.applied(message, { ok: false, error: new ConfigRejectedError(AckError.ERROR_INTERNAL, `apply failed: ${(err as Error).message}`, { rejectedVersion: 0, cause: err }) });
    let steps;
    try {
      steps =
        message.type === 'sluice:config-snapshot'
          ? snapshotSteps(pb.ResourceBatch.decode(unb64(message.batch)), { epoch: message.epoch, version: message.version, hash: unb64(message.hash) }, { source: message.source, isSchemaChecked: true })
          : deltaSteps(
              this.currentValue,
              { epoch: message.epoch, fromVersion: message.fromVersion, toVersion: message.toVersion, targetHash: unb64(message.targetHash), batch: pb.ResourceBatch.decode(unb64(message.batch)) },
              { isSchemaChecked: true },
            );
    } catch (err) {
      // An undecodable batch: refused like any other, and the queue goes on.
      return failed(err);
    }
    runStepsSliced(steps, { sliceMs: this.sliceMs }).then((result) => this.applied(message, result), failed);
  }

  private applied(message: ConfigChannelMessage, result: ApplyResult): void {
    this.isApplying = false;
    if (result.ok) {
      this.currentValue = result.config;
    } else if (message.type === 'sluice:config-snapshot') {
      this.logger.error({ err: result.error }, 'worker refused the primary snapshot');
    } else {
      this.logger.warn({ err: result.error }, 'worker could not apply a delta from the primary; asking for a snapshot');
      this.pending.length = 0;
      this.port.send({ type: 'sluice:config-resync' });
    }
    if (message.type === 'sluice:config-snapshot') this.markAnswered();
    this.applyNext();
  }

  private markAnswered(): void {
    this.answered = true;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
