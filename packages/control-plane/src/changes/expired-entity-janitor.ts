/**
 * Deletes entities that have expired (kinds with an `expiresAtField`: key-auth keys created with a
 * `ttl`), as Kong's `keyauth_credentials_ttl_trigger` does. Expired entities are already absent from
 * the Admin API and ignored by data planes by their `expires_at`; deleting them goes through the
 * change log, so data planes drop them from memory too. Each sweep deletes at most `batchSize`
 * entities per kind in one write, re-checking each row's expiry under its lock (a PUT may have just
 * renewed it). Any replica may run it: a row another replica deleted first is skipped.
 */
import { ENTITIES, ENTITY_KINDS, type EntityKind } from '@sluice/protocol';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';

/** How often expired entities are deleted by default, in ms (jittered by up to a quarter). */
export const DEFAULT_EXPIRY_SWEEP_INTERVAL_MS = 60_000;
/** Most entities of one kind deleted per sweep by default (1,000). */
export const DEFAULT_EXPIRY_SWEEP_BATCH = 1_000;

export interface ExpiredEntityJanitorOptions {
  store: Store;
  logger: Logger;
  /** Sweep period, in ms (default 60 s). */
  intervalMs?: number;
  /** Most entities of one kind deleted per sweep (default 1,000; at least 1). */
  batchSize?: number;
  /** Current time, integer seconds since the epoch (tests). */
  nowSeconds?: () => number;
}

const EXPIRING_KINDS: readonly EntityKind[] = ENTITY_KINDS.filter((kind) => ENTITIES[kind].expiresAtField !== null);

/** See the module comment. */
export class ExpiredEntityJanitor {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly intervalMs: number;
  readonly batchSize: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;

  constructor(options: ExpiredEntityJanitorOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.intervalMs = options.intervalMs ?? DEFAULT_EXPIRY_SWEEP_INTERVAL_MS;
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_EXPIRY_SWEEP_BATCH));
    this.#now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  /** Sweeps now; resolves with the number of entities deleted. Never throws (a failure is logged and retried next period). */
  sweep(): Promise<number> {
    this.#running ??= this.#sweepOnce().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #sweepOnce(): Promise<number> {
    let deleted = 0;
    for (const kind of EXPIRING_KINDS) {
      try {
        deleted += await this.#sweepKind(kind);
      } catch (err) {
        this.#logger.warn({ err, kind }, 'cannot delete expired entities; will retry');
      }
    }
    return deleted;
  }

  async #sweepKind(kind: EntityKind): Promise<number> {
    const now = this.#now();
    const ids = await this.#store.expiredIds(kind, now, this.batchSize);
    if (ids.length === 0) return 0;
    const field = ENTITIES[kind].expiresAtField!;
    const { result, version } = await this.#store.write(async (w) => {
      let count = 0;
      for (const id of ids) {
        const row = (await w.lock(kind, { id })) as Record<string, unknown> | null;
        const expiresAt = row?.[field];
        if (typeof expiresAt === 'number' && expiresAt <= now && (await w.delete(kind, id))) count++;
      }
      return count;
    });
    if (result > 0) this.#logger.info({ kind, deleted: result, version }, 'deleted expired entities');
    return result;
  }

  start(): void {
    const schedule = () => {
      this.#timer = setTimeout(() => void this.sweep().finally(() => this.#timer && schedule()), this.intervalMs * (0.75 + Math.random() * 0.25));
      this.#timer.unref();
    };
    schedule();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
