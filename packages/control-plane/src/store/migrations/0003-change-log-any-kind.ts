/**
 * The change log takes any registered kind: the `entity_type` CHECK of `0001-initial` listed
 * services and routes by hand, so every new kind would have needed a migration of its own here.
 * Which kinds exist is the entity registry's business; the store writes only registered ones.
 */
import { type Kysely, sql } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table config_changes drop constraint if exists config_changes_entity_type_check`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table config_changes add constraint config_changes_entity_type_check check (entity_type in ('services', 'routes'))`.execute(db);
}
