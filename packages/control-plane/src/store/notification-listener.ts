/**
 * LISTENs on a Postgres channel over a dedicated `pg` client (never a pooled one: a pooled
 * connection is returned and reused, and its LISTEN with it) and reconnects with capped
 * exponential backoff when the connection drops. Notifications are hints: one may be lost while
 * reconnecting, so consumers also poll.
 */
import pg from 'pg';
import type { Logger } from 'pino';

/** First reconnect delay after the connection drops, in ms. */
export const LISTEN_RECONNECT_MIN_MS = 100;
/** Upper bound of the reconnect delay, in ms. */
export const LISTEN_RECONNECT_MAX_MS = 5_000;

/** Options of {@link NotificationListener}. */
export interface NotificationListenerOptions {
  connectionString: string;
  channel: string;
  onNotification: (payload: string) => void;
  logger?: Logger;
}

/** See the module comment. */
export class NotificationListener {
  readonly #options: NotificationListenerOptions;
  #client: pg.Client | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delayMs = LISTEN_RECONNECT_MIN_MS;
  #isClosed = false;
  #markListening!: () => void;
  /** Resolves once the first LISTEN is in effect (never rejects; stays pending while unreachable). */
  readonly listening: Promise<void> = new Promise((resolve) => {
    this.#markListening = resolve;
  });

  constructor(options: NotificationListenerOptions) {
    this.#options = options;
  }

  /** Connects in the background; failures are retried until {@link close}. */
  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#isClosed) return;
    const client = new pg.Client({ connectionString: this.#options.connectionString });
    this.#client = client;
    let isDropped = false;
    const drop = (err?: Error): void => {
      if (isDropped) return;
      isDropped = true;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.#client === client) this.#client = null;
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
      await client.query(`listen ${pg.escapeIdentifier(this.#options.channel)}`);
      this.#delayMs = LISTEN_RECONNECT_MIN_MS;
      this.#markListening();
      if (this.#isClosed) await client.end();
    } catch (err) {
      drop(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.#isClosed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
    }
  }
}
