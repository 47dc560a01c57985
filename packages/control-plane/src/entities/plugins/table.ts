/**
 * The `plugins` table. `config` is `json`, not `jsonb`: json keeps the text as written, so a config
 * read back has its keys in the schema's order and encodes to the same bytes (and hash) as when it
 * was written; jsonb would reorder them. At most one instance per (name, route, service, consumer),
 * null scopes included (Kong's `cache_key`).
 */
import { PLUGINS } from '@sluice/protocol';
import { type Kysely, sql } from 'kysely';
import { defineTable } from '../entity-table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
async function up(db: Kysely<any>): Promise<void> {
  await sql`create table plugins (
    id uuid primary key,
    name text not null,
    instance_name text unique,
    created_at bigint not null,
    updated_at bigint not null,
    route_id uuid references routes (id) on delete restrict,
    service_id uuid references services (id) on delete restrict,
    consumer_id uuid references consumers (id) on delete restrict,
    config json not null,
    protocols text[] not null,
    enabled boolean not null,
    tags text[],
    constraint plugins_cache_key unique nulls not distinct (name, route_id, service_id, consumer_id)
  )`.execute(db);
  await sql`create index plugins_route_idx on plugins (route_id)`.execute(db);
  await sql`create index plugins_service_idx on plugins (service_id)`.execute(db);
  await sql`create index plugins_consumer_idx on plugins (consumer_id)`.execute(db);
  await sql`create index plugins_tags_idx on plugins using gin (tags)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists plugins`.execute(db);
}

export const PLUGINS_TABLE = defineTable(PLUGINS, { '0005-plugins': { up, down } });
