/**
 * Every migration, in order: the store's own (here) and each entity table's (in
 * `entities/<kind>/table.ts`). Kysely's `Migrator` runs them by name (sorted), so names start with
 * a zero-padded number that is unique across both lists. To add one, create it exporting `up` (and
 * `down`) and list it here or in its table; never edit or reorder a migration that has shipped.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { ENTITY_KINDS } from '@sluice/protocol';
import { ENTITY_TABLES } from '../../entities/kinds.js';
import * as initial from './0001-initial.js';
import * as dataPlanes from './0002-data-planes.js';
import * as changeLogAnyKind from './0003-change-log-any-kind.js';
import * as dataPlanePlugins from './0009-data-plane-plugins.js';
import * as writeDeadline from './0010-write-deadline.js';

const STORE_MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-data-planes': dataPlanes,
  '0003-change-log-any-kind': changeLogAnyKind,
  '0009-data-plane-plugins': dataPlanePlugins,
  '0010-write-deadline': writeDeadline,
};

function allMigrations(): Record<string, Migration> {
  const out: Record<string, Migration> = { ...STORE_MIGRATIONS };
  for (const kind of ENTITY_KINDS) {
    for (const [name, migration] of Object.entries(ENTITY_TABLES[kind].migrations)) {
      if (name in out) throw new TypeError(`two migrations are named ${name}`);
      out[name] = migration;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Migrations by name, in the order they apply. */
export const MIGRATIONS: Record<string, Migration> = allMigrations();

/** A static provider over {@link MIGRATIONS} (no filesystem scanning, so it works from dist/ and src/). */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return MIGRATIONS;
  },
};
