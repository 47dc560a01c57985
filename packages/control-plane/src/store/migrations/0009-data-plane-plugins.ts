/**
 * Capability negotiation: the registry row of a data plane that is withheld a config because it
 * lacks a plugin the config uses holds which (`{missingPlugins, versionMismatches}`, see
 * stream/plugin-compatibility.ts); null when nothing is withheld.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('data_planes').addColumn('plugin_incompatibility', 'jsonb').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('data_planes').dropColumn('plugin_incompatibility').execute();
}
