/**
 * LISTENs on a Postgres channel over a dedicated `pg` client (never a pooled one: a pooled
 * connection is returned and reused, and its LISTEN with it) and reconnects with capped
 * exponential backoff when the connection drops. Notifications are hints: one may be lost while
 * reconnecting, so consumers also poll, and `onRelisten` tells them when a LISTEN is back after a
 * drop (read the log now: changes may have been missed).
 *
 * A connection can also die silently (a partition, a hung server): the listener probes it with
 * `select 1` every {@link LISTEN_PROBE_INTERVAL_MS} and cuts it when the answer does not come
 * within the statement timeout, then reconnects as after a drop. Connecting is bounded by the
 * connect timeout. Every fault is handled: none reaches the process.
 */
import type { Logger } from 'pino';
import { DatabaseFault } from '../errors.js';
import { CLIENT_TIMEOUT_GRACE_MS, DEFAULT_DATABASE_TIMEOUTS, type DatabaseTimeouts } from './database-timeouts.js';
import { GuardedClient } from './guarded-pool.js';

/** First reconnect delay after the connection drops, in ms. */
export const LISTEN_RECONNECT_MIN_MS = 100;
/** Upper bound of the reconnect delay, in ms. */
export const LISTEN_RECONNECT_MAX_MS = 5_000;
/** How often the listening connection is probed, in ms. */
export const LISTEN_PROBE_INTERVAL_MS = 5_000;
/** The `application_name` of the listening connection (`pg_stat_activity`). */
export const LISTEN_APPLICATION_NAME = 'sluice-cp-listen';

/** Options of {@link NotificationListener}. */
export interface NotificationListenerOptions {
  connectionString: string;
  channel: string;
  onNotification: (payload: string) => void;
  /** Called each time a LISTEN is in effect again after a drop (not the first time). */
  onRelisten?: () => void;
  /** Connect and statement timeouts (default `DEFAULT_DATABASE_TIMEOUTS`). */
  timeouts?: Pick<DatabaseTimeouts, 'connectTimeoutMs' | 'statementTimeoutMs'>;
  /** Probe period, in ms (default {@link LISTEN_PROBE_INTERVAL_MS}). */
  probeIntervalMs?: number;
  logger?: Logger;
}

function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** See the module comment. */
export class NotificationListener {
  readonly #options: NotificationListenerOptions;
  readonly #timeouts: Pick<DatabaseTimeouts, 'connectTimeoutMs' | 'statementTimeoutMs'>;
  #client: GuardedClient | null = null;
  #timer: NodeJS.Timeout | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  #delayMs = LISTEN_RECONNECT_MIN_MS;
  #isClosed = false;
  #hasListened = false;
  /** LISTENs established after a drop, since start. */
  relistens = 0;
  #markListening!: () => void;
  /** Resolves once the first LISTEN is in effect (never rejects; stays pending while unreachable). */
  readonly listening: Promise<void> = new Promise((resolve) => {
    this.#markListening = resolve;
  });

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
    this.#timeouts = options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
  }

  /** Whether a LISTEN is in effect now. */
  get isListening(): boolean {
    return this.#client !== null && this.#probeTimer !== null;
  }

  /** Connects in the background; failures are retried until {@link close}. */
  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#isClosed) return;
    const client = new GuardedClient({
      connectionString: this.#options.connectionString,
      connectionTimeoutMillis: this.#timeouts.connectTimeoutMs,
      keepAlive: true,
      application_name: LISTEN_APPLICATION_NAME,
    });
    this.#client = client;
    let isDropped = false;
    const drop = (err?: Error): void => {
      if (isDropped) return;
      isDropped = true;
      client.removeAllListeners('notification');
      client.destroy(DatabaseFault.CONNECTION, err ?? new Error('the listening connection ended'));
      if (this.#client === client) this.#client = null;
      if (this.#probeTimer) clearTimeout(this.#probeTimer);
      this.#probeTimer = null;
      if (this.#isClosed) return;
      this.#options.logger?.warn({ err, retryInMs: this.#delayMs }, 'config change listener disconnected');
      this.#timer = setTimeout(() => {
        this.#timer = null;
        void this.#connect();
      }, this.#delayMs);
      this.#timer.unref();
      this.#delayMs = Math.min(this.#delayMs * 2, LISTEN_RECONNECT_MAX_MS);
    };
    client.on('error', drop);
    client.on('end', () => drop());
    client.on('notification', (msg) => {
      if (msg.channel === this.#options.channel) this.#options.onNotification(msg.payload ?? '');
    });
    try {
      await client.connect();
      await this.#bounded(client, `listen ${escapeIdentifier(this.#options.channel)}`);
      if (isDropped) return;
      this.#delayMs = LISTEN_RECONNECT_MIN_MS;
      this.#markListening();
      if (this.#isClosed) {
        await client.end();
        return;
      }
      this.#scheduleProbe(client, drop);
      if (this.#hasListened) {
        this.relistens++;
        this.#options.logger?.info('config change listener listening again');
        this.#options.onRelisten?.();
      }
      this.#hasListened = true;
    } catch (err) {
      drop(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Runs `sql`, cutting the connection when no answer comes within the statement timeout. */
  async #bounded(client: GuardedClient, sql: string): Promise<void> {
    const timer = setTimeout(
      () => client.destroy(DatabaseFault.TIMEOUT, new Error('the listening connection did not answer in time')),
      this.#timeouts.statementTimeoutMs + CLIENT_TIMEOUT_GRACE_MS,
    );
    try {
      await client.query(sql);
    } finally {
      clearTimeout(timer);
    }
  }

  #scheduleProbe(client: GuardedClient, drop: (err?: Error) => void): void {
    this.#probeTimer = setTimeout(() => {
      this.#bounded(client, 'select 1').then(
        () => {
          if (this.#client === client && !this.#isClosed) this.#scheduleProbe(client, drop);
        },
        (err: unknown) => drop(err instanceof Error ? err : new Error(String(err))),
      );
    }, this.#options.probeIntervalMs ?? LISTEN_PROBE_INTERVAL_MS);
    this.#probeTimer.unref();
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.#isClosed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners('notification');
      const timer = setTimeout(() => client.destroy(DatabaseFault.CONNECTION, new Error('closed')), this.#timeouts.connectTimeoutMs);
      await client.end().catch(() => undefined);
      clearTimeout(timer);
    }
  }
}
