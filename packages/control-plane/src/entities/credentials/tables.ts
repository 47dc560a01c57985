/**
 * The credential tables (Kong's plugin DAOs: `key-auth/migrations`, `basic-auth/migrations`,
 * `acl/migrations`): each row belongs to a consumer; a key and a basic-auth username are unique,
 * and a consumer is in a group at most once.
 */
import { ACLS, BASICAUTH_CREDENTIALS, KEYAUTH_CREDENTIALS } from '@sluice/protocol';
import { type Kysely, sql } from 'kysely';
import { defineTable } from '../entity-table.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
type AnyDb = Kysely<any>;

export const KEYAUTH_CREDENTIALS_TABLE = defineTable(KEYAUTH_CREDENTIALS, {
  '0006-keyauth-credentials': {
    async up(db: AnyDb) {
      await sql`create table keyauth_credentials (
        id uuid primary key,
        created_at bigint not null,
        updated_at bigint not null,
        consumer_id uuid not null references consumers (id) on delete restrict,
        key text not null unique,
        expires_at bigint,
        tags text[]
      )`.execute(db);
      await sql`create index keyauth_credentials_consumer_idx on keyauth_credentials (consumer_id)`.execute(db);
      await sql`create index keyauth_credentials_tags_idx on keyauth_credentials using gin (tags)`.execute(db);
    },
    async down(db: AnyDb) {
      await sql`drop table if exists keyauth_credentials`.execute(db);
    },
  },
});

export const BASICAUTH_CREDENTIALS_TABLE = defineTable(BASICAUTH_CREDENTIALS, {
  '0007-basicauth-credentials': {
    async up(db: AnyDb) {
      await sql`create table basicauth_credentials (
        id uuid primary key,
        created_at bigint not null,
        updated_at bigint not null,
        consumer_id uuid not null references consumers (id) on delete restrict,
        username text not null unique,
        password text not null,
        tags text[]
      )`.execute(db);
      await sql`create index basicauth_credentials_consumer_idx on basicauth_credentials (consumer_id)`.execute(db);
      await sql`create index basicauth_credentials_tags_idx on basicauth_credentials using gin (tags)`.execute(db);
    },
    async down(db: AnyDb) {
      await sql`drop table if exists basicauth_credentials`.execute(db);
    },
  },
});

export const ACLS_TABLE = defineTable(ACLS, {
  '0008-acls': {
    async up(db: AnyDb) {
      await sql`create table acls (
        id uuid primary key,
        created_at bigint not null,
        updated_at bigint not null,
        consumer_id uuid not null references consumers (id) on delete restrict,
        "group" text not null,
        tags text[],
        constraint acls_cache_key unique (consumer_id, "group")
      )`.execute(db);
      await sql`create index acls_tags_idx on acls using gin (tags)`.execute(db);
    },
    async down(db: AnyDb) {
      await sql`drop table if exists acls`.execute(db);
    },
  },
});
