/**
 * The `pg` pool as Kysely uses it (`PostgresPool`: the subset it calls, declared by Kysely as a
 * shape), with the guarantees an outage needs:
 *
 * - No fault ends the process: every client has an `error` listener for its whole life, checked
 *   out or idle (`pg` emits `error` on a client whose connection drops mid-query; `pg-pool` only
 *   listens while the client is idle, so a checked-out client's drop used to crash the process).
 * - No wait is unbounded: acquiring a connection is bounded by the connect timeout, a read's
 *   statement by the statement timeout, a write's statements by its deadline
 *   (`statement-context.ts`); the server enforces the same bounds, and past them plus
 *   {@link CLIENT_TIMEOUT_GRACE_MS} the client cuts the connection itself (a database that
 *   stopped answering cannot cancel anything). A write's client never gives up before the
 *   server's commit deadline has passed, so a 503 is never followed by that write committing.
 * - A write whose client went away is cut off at once: its connection is destroyed, so the
 *   server rolls the transaction back.
 * - Faults surface as {@link DatabaseUnavailableError} (503), never as a broken client handed to
 *   the next caller: a client that faulted is discarded on release.
 * - Every outcome feeds {@link DatabaseHealth}.
 */
import { Socket } from 'node:net';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { DatabaseFault, DatabaseUnavailableError } from '../errors.js';
import { databaseFaultOf } from './database-faults.js';
import type { DatabaseHealth } from './database-health.js';
import { CLIENT_TIMEOUT_GRACE_MS, type DatabaseTimeouts } from './database-timeouts.js';
import { currentWriteBounds } from './statement-context.js';

/** The `application_name` of the pool's connections (`pg_stat_activity`). */
export const POOL_APPLICATION_NAME = 'sluice-cp';

/** A fault that broke a client, and the error that told. */
interface ClientFault {
  fault: DatabaseFault;
  error: Error;
}

/**
 * A `pg` client on a socket of its own (so it can be destroyed: `pg` has no public way to drop a
 * connection that does not answer), which remembers the fault that broke it.
 */
export class GuardedClient extends pg.Client {
  readonly socket: Socket;
  fault: ClientFault | null = null;

  constructor(config: pg.ClientConfig = {}) {
    const socket = new Socket();
    super({ ...config, stream: () => socket });
    this.socket = socket;
    this.on('error', (error: Error) => this.markBroken(databaseFaultOf(error) ?? DatabaseFault.CONNECTION, error));
    this.on('end', () => this.markBroken(DatabaseFault.CONNECTION, new Error('the database connection ended')));
  }

  /** Records the first fault; later ones add nothing. */
  markBroken(fault: DatabaseFault, error: Error): void {
    this.fault ??= { fault, error };
  }

  /** Cuts the connection now: its queries fail, and the server rolls back its open transaction. */
  destroy(fault: DatabaseFault, error: Error): void {
    this.markBroken(fault, error);
    this.socket.destroy();
  }
}

/** Options of {@link GuardedPool}. */
export interface GuardedPoolOptions {
  connectionString: string;
  maxConnections: number;
  timeouts: DatabaseTimeouts;
  health: DatabaseHealth;
  logger?: Logger;
}

/** See the module comment. */
export class GuardedPool implements PostgresPool {
  /** The underlying pool (for its counters). */
  readonly pool: pg.Pool;
  readonly #timeouts: DatabaseTimeouts;
  readonly #health: DatabaseHealth;
  readonly #logger: Logger | undefined;
  readonly #wrappers = new WeakMap<GuardedClient, PostgresPoolClient>();
  /** Every open client, to cut those a hung database keeps from closing. */
  readonly #clients = new Set<GuardedClient>();

  constructor(options: GuardedPoolOptions) {
    this.#timeouts = options.timeouts;
    this.#health = options.health;
    this.#logger = options.logger;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections,
      connectionTimeoutMillis: options.timeouts.connectTimeoutMs,
      keepAlive: true,
      application_name: POOL_APPLICATION_NAME,
      // The server's own bounds: a statement, and a session idle inside a transaction (a replica
      // cut off mid-write must not hold the config_state row lock, and so every other writer).
      statement_timeout: options.timeouts.statementTimeoutMs,
      idle_in_transaction_session_timeout: options.timeouts.transactionTimeoutMs,
      Client: GuardedClient,
    });
    // An idle client's fault reaches the pool (which discards the client); a checked-out one's is
    // handled by the client's own listener, and its query fails.
    this.pool.on('error', (err) => this.#logger?.warn({ err }, 'idle database connection failed'));
    this.pool.on('connect', (pooled) => {
      const client = pooled as unknown as GuardedClient;
      this.#clients.add(client);
      client.once('end', () => this.#clients.delete(client));
    });
  }

  /** Acquires a client within the connect timeout (and the write's deadline); 503 when none comes. */
  async connect(): Promise<PostgresPoolClient> {
    const bounds = currentWriteBounds();
    const startedMs = Date.now();
    if (bounds?.signal?.aborted) throw new DatabaseUnavailableError(DatabaseFault.CANCELLED);
    const acquiring = this.pool.connect() as Promise<pg.PoolClient & GuardedClient>;
    let client: pg.PoolClient & GuardedClient;
    try {
      client = bounds ? await this.#raceDeadline(acquiring, bounds) : await acquiring;
    } catch (err) {
      if (err instanceof DatabaseUnavailableError) throw err;
      const fault = databaseFaultOf(err) ?? (Date.now() - startedMs >= this.#timeouts.connectTimeoutMs ? DatabaseFault.TIMEOUT : DatabaseFault.CONNECTION);
      this.#health.noteFault(fault, err as Error);
      throw new DatabaseUnavailableError(fault, { cause: err });
    }
    let wrapper = this.#wrappers.get(client);
    if (!wrapper) {
      wrapper = this.#wrap(client);
      this.#wrappers.set(client, wrapper);
    }
    return wrapper;
  }

  /** `acquiring`, unless the write's deadline or cancellation comes first (a late client is released). */
  #raceDeadline(acquiring: Promise<pg.PoolClient & GuardedClient>, bounds: { deadlineMs: number; signal?: AbortSignal }): Promise<pg.PoolClient & GuardedClient> {
    return new Promise((resolve, reject) => {
      let isSettled = false;
      const settle = (fn: () => void) => {
        if (isSettled) return false;
        isSettled = true;
        clearTimeout(timer);
        bounds.signal?.removeEventListener('abort', onAbort);
        fn();
        return true;
      };
      const onAbort = () => settle(() => reject(new DatabaseUnavailableError(DatabaseFault.CANCELLED)));
      const timer = setTimeout(() => {
        const error = new Error('no database connection within the transaction timeout');
        settle(() => {
          this.#health.noteFault(DatabaseFault.TIMEOUT, error);
          reject(new DatabaseUnavailableError(DatabaseFault.TIMEOUT, { cause: error }));
        });
      }, Math.max(0, bounds.deadlineMs - Date.now()));
      bounds.signal?.addEventListener('abort', onAbort, { once: true });
      acquiring.then(
        (client) => {
          if (!settle(() => resolve(client))) client.release();
        },
        (err: unknown) => settle(() => reject(err)),
      );
    });
  }

  #wrap(client: pg.PoolClient & GuardedClient): PostgresPoolClient {
    const run = (sql: string, parameters: readonly unknown[]) => this.#query(client, sql, parameters);
    return {
      query: ((sqlOrCursor: string | PostgresCursor<unknown>, parameters?: readonly unknown[]) => {
        if (typeof sqlOrCursor !== 'string') throw new TypeError('the store does not stream query results');
        return run(sqlOrCursor, parameters ?? []);
      }) as PostgresPoolClient['query'],
      // A client that faulted is never handed out again.
      release: (destroy?: boolean) => client.release(destroy || client.fault !== null ? (client.fault?.error ?? true) : undefined),
    };
  }

  async #query<R>(client: pg.PoolClient & GuardedClient, sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>> {
    const bounds = currentWriteBounds();
    const unavailable = (fault: ClientFault) => new DatabaseUnavailableError(fault.fault, { cause: fault.error });
    if (client.fault) throw unavailable(client.fault);
    if (bounds?.signal?.aborted) {
      client.destroy(DatabaseFault.CANCELLED, new Error('the write was cancelled: its client has gone'));
      throw unavailable(client.fault!);
    }
    // Inside a write the client waits for the write's deadline only (the server still applies the
    // statement timeout): giving up on a COMMIT before the server's commit deadline has passed
    // could answer 503 for a COMMIT the database then accepts.
    const limitMs = bounds ? bounds.deadlineMs + CLIENT_TIMEOUT_GRACE_MS - Date.now() : this.#timeouts.statementTimeoutMs + CLIENT_TIMEOUT_GRACE_MS;
    const timer = setTimeout(() => {
      client.destroy(DatabaseFault.TIMEOUT, new Error(`the database did not answer within ${bounds ? 'the transaction' : 'the statement'} timeout`));
    }, Math.max(0, limitMs));
    const onAbort = () => client.destroy(DatabaseFault.CANCELLED, new Error('the write was cancelled: its client has gone'));
    bounds?.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = (await client.query(sql, parameters as unknown[])) as unknown as PostgresQueryResult<R>;
      this.#health.noteAnswer();
      return result;
    } catch (err) {
      const fault = client.fault ?? (databaseFaultOf(err) ? { fault: databaseFaultOf(err)!, error: err as Error } : null);
      if (fault === null) {
        this.#health.noteAnswer();
        throw err;
      }
      // A server-side timeout leaves the connection usable; anything else discards it.
      if (client.fault === null && fault.fault !== DatabaseFault.TIMEOUT) client.markBroken(fault.fault, fault.error);
      // A client that hung up says nothing about the database.
      if (fault.fault !== DatabaseFault.CANCELLED) this.#health.noteFault(fault.fault, fault.error);
      throw unavailable(fault);
    } finally {
      clearTimeout(timer);
      bounds?.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Closes every connection: gracefully (pg-pool waits for checked-out clients, each bounded by
   * its statement or write deadline), then, past the connect timeout, the ones a database that does
   * not answer keeps open are cut, so a shutdown never waits on the database.
   */
  async end(): Promise<void> {
    await this.pool.end();
    const open = [...this.#clients];
    if (open.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((client) => new Promise<void>((resolve) => (this.#clients.has(client) ? client.once('end', () => resolve()) : resolve())))),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#timeouts.connectTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const client of this.#clients) client.destroy(DatabaseFault.CONNECTION, new Error('the pool is closing'));
  }
}
