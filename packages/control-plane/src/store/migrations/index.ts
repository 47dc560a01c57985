/**
 * Every migration, in order. Kysely's `Migrator` runs them by name (sorted), so names start with a
 * zero-padded number. To add one, create `NNNN-what.ts` exporting `up` (and `down`) and append it
 * to {@link MIGRATIONS}; never edit or reorder a migration that has shipped.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as dataPlanes from './0002-data-planes.js';

/** Migrations by name, in the order they apply. */
export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-data-planes': dataPlanes,
};

/** A static provider over {@link MIGRATIONS} (no filesystem scanning, so it works from dist/ and src/). */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS;
  },
};
