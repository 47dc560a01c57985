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

/** Longest wait for another replica's migration run to finish, in ms (5 minutes). */
export const MIGRATION_LOCK_WAIT_MS = 300_000;
/** How often the migration lock is tried while another replica holds it, in ms. */
export const MIGRATION_LOCK_POLL_MS = 100;

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
    // Polled rather than waited for: a blocking pg_advisory_lock would be one statement as long as
    // the other replica's migration, and the statement timeout would cut it.
    const deadlineMs = Date.now() + MIGRATION_LOCK_WAIT_MS;
    for (;;) {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtext(${MIGRATION_LOCK_NAME})) as locked`.execute(conn);
      if (rows[0]?.locked) break;
      if (Date.now() > deadlineMs) throw new MigrationError(`another control plane has held the migration lock for over ${MIGRATION_LOCK_WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_POLL_MS));
    }
    try {
      return await run();
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${MIGRATION_LOCK_NAME}))`.execute(conn);
    }
  });
}
