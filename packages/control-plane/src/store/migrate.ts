/**
 * Runs the migrations to the latest version. On a Postgres server several control planes may start
 * at once against one database, so the whole run happens under a session-level advisory lock: the
 * first process migrates, the others wait and then find nothing to do.
 */
import { type Kysely, Migrator, sql } from 'kysely';
import type { Logger } from 'pino';
import { MigrationError } from '../errors.js';
import { migrationProvider } from './migrations/index.js';

/** The advisory-lock key (`hashtext` of this string) held while migrating. */
export const MIGRATION_LOCK_NAME = 'sluice:control-plane:migrations';

/** Options of {@link migrateToLatest}. */
export interface MigrateOptions {
  /** `postgres` takes the advisory lock; `pglite` is one process by construction. */
  kind: 'postgres' | 'pglite';
  logger?: Logger;
}

/** Applies every pending migration; throws {@link MigrationError} when one fails. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are schema-agnostic
export async function migrateToLatest(db: Kysely<any>, options: MigrateOptions): Promise<string[]> {
  const run = async (): Promise<string[]> => {
    const migrator = new Migrator({ db, provider: migrationProvider });
    const { error, results } = await migrator.migrateToLatest();
    const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    const failed = (results ?? []).find((r) => r.status === 'Error');
    if (error !== undefined) {
      throw new MigrationError(`migration ${failed?.migrationName ?? '(setup)'} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    for (const name of applied) options.logger?.info({ migration: name }, 'applied migration');
    return applied;
  };
  if (options.kind === 'pglite') return run();
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${MIGRATION_LOCK_NAME}))`.execute(conn);
    try {
      return await run();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${MIGRATION_LOCK_NAME}))`.execute(conn);
    }
  });
}
