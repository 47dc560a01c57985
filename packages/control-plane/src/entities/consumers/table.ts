/** The `consumers` table (`kong/db/migrations/core/000_base.lua`: username and custom_id unique). */
import { CONSUMERS } from '@sluice/protocol';
import { type Kysely, sql } from 'kysely';
import { defineTable } from '../entity-table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
async function up(db: Kysely<any>): Promise<void> {
  await sql`create table consumers (
    id uuid primary key,
    created_at bigint not null,
    updated_at bigint not null,
    username text unique,
    custom_id text unique,
    tags text[]
  )`.execute(db);
  await sql`create index consumers_tags_idx on consumers using gin (tags)`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table if exists consumers`.execute(db);
}

export const CONSUMERS_TABLE = defineTable(CONSUMERS, { '0004-consumers': { up, down } });
