/** The store's public surface. */
export {
  Store,
  CONFIG_CHANNEL,
  type ConfigHead,
  type ConfigChange,
  type ConfigSnapshot,
  type EntitiesByKind,
  type ChangeEntityType,
  type WriteResult,
  type WriteOptions,
  type PoolCounts,
} from './store.js';
export { ConfigWriter, EntityReader, type EntityKey, type EntityChange, type ReadOptions, type TagFilter, type PageQuery, type Page, type TagRow, type TagPageQuery } from './entity-repository.js';
export type { EntityReadSource, StaleEntitySource } from './entity-read-source.js';
export { DatabaseHealth, DEFAULT_DATABASE_PROBE_INTERVAL_MS } from './database-health.js';
export { DEFAULT_DATABASE_TIMEOUTS, CLIENT_TIMEOUT_GRACE_MS, checkDatabaseTimeouts, type DatabaseTimeouts } from './database-timeouts.js';
export { databaseFaultOf } from './database-faults.js';
export { POOL_APPLICATION_NAME } from './guarded-pool.js';
export { LISTEN_APPLICATION_NAME } from './notification-listener.js';
export { runCancellable } from './statement-context.js';
export { openStore, type OpenStoreOptions, DEFAULT_DATA_DIR, DEFAULT_POOL_MAX_CONNECTIONS } from './open-store.js';
export { migrateToLatest, MIGRATION_LOCK_NAME } from './migrate.js';
export { MIGRATIONS, migrationProvider } from './migrations/index.js';
export { PGliteDialect, type PGliteDialectConfig } from './pglite-dialect.js';
export type { Database } from './database.js';
