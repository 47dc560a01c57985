/**
 * Opens the store: Kysely over a `pg` pool when a database URL is given, otherwise over embedded
 * PGlite in a data directory; then runs the migrations.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import type { Logger } from 'pino';
import { StoreError } from '../errors.js';
import type { Database } from './database.js';
import { DatabaseHealth } from './database-health.js';
import { DEFAULT_DATABASE_TIMEOUTS, type DatabaseTimeouts, checkDatabaseTimeouts } from './database-timeouts.js';
import { GuardedPool } from './guarded-pool.js';
import { migrateToLatest } from './migrate.js';
import { NotificationListener } from './notification-listener.js';
import { PGliteDialect } from './pglite-dialect.js';
import { CONFIG_CHANNEL, Store } from './store.js';

/** Default embedded data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = '.sluice/cp';
/** Default size of the `pg` connection pool. */
export const DEFAULT_POOL_MAX_CONNECTIONS = 10;

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** A `postgres://` URL; when set, the store uses that server. */
  databaseUrl?: string;
  /** The embedded database directory when no URL is given (default `.sluice/cp`). */
  dataDir?: string;
  /**
   * An already open PGlite instance to use instead of `dataDir`; the caller keeps ownership and
   * closes it. Lets several stores share one embedded database (e.g. tests of replicas).
   */
  pglite?: PGlite;
  /** Maximum `pg` pool connections (default 10; at least 2, the migration lock holds one). */
  poolMaxConnections?: number;
  /** Connect, statement and transaction timeouts of a database server (default {@link DEFAULT_DATABASE_TIMEOUTS}); unused with PGlite. */
  timeouts?: Partial<DatabaseTimeouts>;
  /** Skip migrations (the caller runs them). */
  skipMigrations?: boolean;
  logger?: Logger;
}

/** Name of the file that marks an embedded data directory as in use by a process. */
const LOCK_FILE = 'sluice-cp.pid';

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files held by this process (a pid alone cannot tell: a restarted container reuses pid 1). */
const heldLocks = new Set<string>();

/**
 * Claims the data directory: two PGlite instances on one directory corrupt it, whether in two
 * processes or in one. A lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  if (heldLocks.has(path)) throw new StoreError(`data directory ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      heldLocks.add(path);
      return () => {
        heldLocks.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
        throw new StoreError(`data directory ${dir} is in use by process ${pid}; use --database-url to share a database between processes`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new StoreError(`cannot lock data directory ${dir}`);
}

/** Opens and migrates the store; see the module comment. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const logger = options.logger;
  let store: Store;
  if (options.databaseUrl) {
    const connectionString = options.databaseUrl;
    const timeouts = checkDatabaseTimeouts({ ...DEFAULT_DATABASE_TIMEOUTS, ...options.timeouts });
    const health = new DatabaseHealth();
    const pool = new GuardedPool({
      connectionString,
      maxConnections: Math.max(2, options.poolMaxConnections ?? DEFAULT_POOL_MAX_CONNECTIONS),
      timeouts,
      health,
      logger,
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    store = new Store(
      db,
      {
        kind: 'postgres',
        health,
        timeouts,
        pool: pool.pool,
        createListener: (onNotification, onRelisten) =>
          new NotificationListener({ connectionString, channel: CONFIG_CHANNEL, onNotification, onRelisten, timeouts, logger }),
      },
      logger,
    );
  } else if (options.pglite) {
    const pglite = options.pglite;
    await pglite.waitReady;
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    store = new Store(db, { kind: 'pglite', pglite, health: new DatabaseHealth(), closePGlite: async () => undefined }, logger);
  } else {
    const dir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
    mkdirSync(dir, { recursive: true });
    const unlock = lockDataDir(dir);
    let pglite: PGlite;
    try {
      pglite = new PGlite(join(dir, 'pgdata'));
      await pglite.waitReady;
    } catch (err) {
      unlock();
      throw new StoreError(`cannot open the embedded database in ${dir}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
    store = new Store(
      db,
      {
        kind: 'pglite',
        pglite,
        health: new DatabaseHealth(),
        closePGlite: async () => {
          try {
            await pglite.close();
          } finally {
            unlock();
          }
        },
      },
      logger,
    );
  }
  if (!options.skipMigrations) {
    try {
      await migrateToLatest(store.db, { kind: store.kind, logger });
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }
  return store;
}
