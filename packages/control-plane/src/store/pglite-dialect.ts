/**
 * A Kysely dialect for embedded PGlite (`@electric-sql/pglite`): Postgres SQL compilation and
 * introspection from Kysely's Postgres dialect, over a driver that runs queries with PGlite's
 * `query`.
 *
 * PGlite is a single Postgres session, so the driver hands out one connection at a time: a
 * {@link SessionMutex} (one per PGlite instance, shared by every Kysely built on it) is held from
 * `acquireConnection` to `releaseConnection`, which makes Kysely transactions exclusive. Anything
 * else that talks to the same PGlite instance (LISTEN) must go through {@link runExclusive}.
 */
import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/** A FIFO mutex: `lock()` resolves with the function that releases it. */
export class SessionMutex {
  #tail: Promise<void> = Promise.resolve();

  /** Waits for every earlier holder, then returns the release function. */
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return acquired;
  }
}

const mutexes = new WeakMap<PGlite, SessionMutex>();

/** The mutex that serialises every user of one PGlite instance. */
export function sessionMutexFor(pglite: PGlite): SessionMutex {
  let mutex = mutexes.get(pglite);
  if (!mutex) {
    mutex = new SessionMutex();
    mutexes.set(pglite, mutex);
  }
  return mutex;
}

/** Runs `fn` while holding the PGlite instance's session, outside any Kysely transaction. */
export async function runExclusive<T>(pglite: PGlite, fn: () => Promise<T>): Promise<T> {
  const release = await sessionMutexFor(pglite).lock();
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Options of {@link PGliteDialect}. */
export interface PGliteDialectConfig {
  /** An open PGlite instance; the dialect never closes it (its owner does). */
  pglite: PGlite;
}

/** See the module comment. */
export class PGliteDialect implements Dialect {
  readonly #config: PGliteDialectConfig;
  constructor(config: PGliteDialectConfig) {
    this.#config = config;
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#config.pglite);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  // Kysely's Kysely<any> is what its own dialects take here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite;
  constructor(pglite: PGlite) {
    this.#pglite = pglite;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#pglite.query<R>(compiledQuery.sql, [...compiledQuery.parameters]);
    const kind = compiledQuery.query.kind;
    const isWrite = kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode';
    return {
      rows: result.rows,
      ...(isWrite && result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    };
  }

  // PGlite has no cursors over its query API; Kysely's `stream()` is not supported.
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGliteDialect does not support streaming queries');
  }
}

class PGliteDriver implements Driver {
  readonly #pglite: PGlite;
  readonly #mutex: SessionMutex;
  readonly #releases = new WeakMap<DatabaseConnection, () => void>();

  constructor(pglite: PGlite) {
    this.#pglite = pglite;
    this.#mutex = sessionMutexFor(pglite);
  }

  async init(): Promise<void> {
    await this.#pglite.waitReady;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#mutex.lock();
    const connection = new PGliteConnection(this.#pglite);
    this.#releases.set(connection, release);
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const modes: string[] = [];
    if (settings.isolationLevel) modes.push(`isolation level ${settings.isolationLevel}`);
    if (settings.accessMode) modes.push(settings.accessMode);
    await connection.executeQuery(CompiledQuery.raw(modes.length > 0 ? `begin transaction ${modes.join(', ')}` : 'begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.#releases.get(connection);
    this.#releases.delete(connection);
    release?.();
  }

  async destroy(): Promise<void> {
    // The PGlite instance belongs to whoever opened it.
  }
}
