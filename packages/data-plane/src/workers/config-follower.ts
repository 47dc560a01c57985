import { pb } from '@sluice/protocol';
import { silentLogger, type Logger } from '../logger.js';
import { AckError, ConfigRejectedError } from '../errors.js';
import { APPLY_SLICE_MS, runStepsSliced } from '../steps.js';
import { deltaSteps } from '../config/apply-delta.js';
import { snapshotSteps, type ApplyResult } from '../config/apply-snapshot.js';
import type { RuntimeConfig } from '../config/runtime-config.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { isConfigChannelMessage, unb64, type ConfigChannelMessage, type ConfigChannelPort } from './worker-messages.js';

/** Config messages a worker holds while it applies an earlier one (default 1,000); past it, it drops them and asks for a snapshot. */
export const MAX_PENDING_CONFIG_MESSAGES = 1_000;

/**
 * A proxy worker's side of the config channel: the config it serves, applied from the primary's
 * messages (`worker-messages.ts`) in order, one at a time, each checked and built in slices
 * ({@link runStepsSliced}) so the worker keeps proxying on its current config meanwhile; messages
 * that arrive during an apply wait in a bounded queue. The primary checked every entity against Kong's schema before forwarding it, so a worker
 * skips that check and verifies the hash and references. A delta that does not apply (it should not
 * happen: the primary sends in order) makes it ask for a snapshot.
 */
export class ConfigFollower {
  private currentValue: RuntimeConfig | null = null;
  private readonly port: ConfigChannelPort;
  private readonly logger: Logger;
  private readonly sliceMs: number;
  /** The plugins this worker's handlers come from (default every bundled plugin). */
  private readonly plugins: PluginRuntime | undefined;
  private answered = false;
  private readonly waiters: (() => void)[] = [];
  private readonly pending: Exclude<ConfigChannelMessage, { type: 'sluice:config-resync' }>[] = [];
  private isApplying = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(port: ConfigChannelPort, logger: Logger = silentLogger, options: { readonly sliceMs?: number; readonly plugins?: PluginRuntime } = {}) {
    this.port = port;
    this.logger = logger;
    this.sliceMs = options.sliceMs ?? APPLY_SLICE_MS;
    this.plugins = options.plugins;
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
          ? snapshotSteps(pb.ResourceBatch.decode(unb64(message.batch)), { epoch: message.epoch, version: message.version, hash: unb64(message.hash) }, { source: message.source, isSchemaChecked: true, plugins: this.plugins })
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
