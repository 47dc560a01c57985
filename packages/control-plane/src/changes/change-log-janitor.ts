import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/database.js';

/** Versions of the change log kept by default: data planes further behind get a snapshot. */
export const DEFAULT_CHANGE_LOG_RETENTION_VERSIONS = 10_000;
/** How often the janitor trims the log by default, in ms (jittered by up to a quarter). */
export const DEFAULT_CHANGE_LOG_TRIM_INTERVAL_MS = 60_000;

export interface ChangeLogJanitorOptions {
  db: Kysely<Database>;
  logger: Logger;
  /** Versions kept behind the head (default 10,000; at least 1). */
  retentionVersions?: number;
  /** Trim period, in ms (default 60 s). */
  intervalMs?: number;
}

/**
 * Keeps the change log bounded: moves `config_state.min_retained_version` to `head − retention`
 * and deletes the rows at or below it. Any replica may run it at any time: both statements are
 * idempotent and only ever move the watermark forward. The watermark update takes the
 * `config_state` row lock, so it orders with writers like any write (for a moment).
 *
 * Replicas read the watermark with the head; a data plane whose version is below it is answered
 * with a snapshot instead of a delta (docs/protocol.md).
 */
export class ChangeLogJanitor {
  private readonly db: Kysely<Database>;
  private readonly logger: Logger;
  readonly retentionVersions: number;
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(options: ChangeLogJanitorOptions) {
    this.db = options.db;
    this.logger = options.logger;
    this.retentionVersions = Math.max(1, Math.floor(options.retentionVersions ?? DEFAULT_CHANGE_LOG_RETENTION_VERSIONS));
    this.intervalMs = options.intervalMs ?? DEFAULT_CHANGE_LOG_TRIM_INTERVAL_MS;
  }

  /** Trims now; resolves with the number of rows deleted. Never throws (a failure is logged and retried next period). */
  trim(): Promise<number> {
    this.running ??= this.trimOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async trimOnce(): Promise<number> {
    try {
      const row = await this.db
        .updateTable('config_state')
        .set({ min_retained_version: sql`greatest(min_retained_version, version - ${this.retentionVersions})` })
        .where('id', '=', 1)
        .where(sql<boolean>`version - ${this.retentionVersions} > min_retained_version`)
        .returning(['min_retained_version'])
        .executeTakeFirst();
      const watermark = row
        ? Number(row.min_retained_version)
        : Number((await this.db.selectFrom('config_state').select('min_retained_version').where('id', '=', 1).executeTakeFirstOrThrow()).min_retained_version);
      const res = await this.db.deleteFrom('config_changes').where('version', '<=', watermark).executeTakeFirst();
      const deleted = Number(res.numDeletedRows ?? 0);
      if (deleted > 0) this.logger.info({ minRetainedVersion: watermark, deleted }, 'trimmed the change log');
      return deleted;
    } catch (err) {
      this.logger.warn({ err }, 'cannot trim the change log; will retry');
      return 0;
    }
  }

  start(): void {
    const schedule = () => {
      this.timer = setTimeout(() => void this.trim().finally(() => this.timer && schedule()), this.intervalMs * (0.75 + Math.random() * 0.25));
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
