/**
 * The initial schema: services, routes, the config counter row and the change log.
 *
 * `config_state` holds exactly one row; bumping its `version` inside every write transaction
 * serialises writers on that row lock, so versions are gap-free and commit in order. Its `epoch`
 * is made here, when the database is created.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  sql`create table services (
    id uuid primary key,
    created_at bigint not null,
    updated_at bigint not null,
    name text unique,
    protocol text not null,
    host text not null,
    port integer not null,
    path text,
    retries integer not null,
    connect_timeout integer not null,
    write_timeout integer not null,
    read_timeout integer not null,
    enabled boolean not null,
    tags text[],
    client_certificate_id uuid,
    tls_verify boolean,
    tls_verify_depth integer,
    ca_certificates text[]
  )`,
  sql`create index services_tags_idx on services using gin (tags)`,
  sql`create table routes (
    id uuid primary key,
    created_at bigint not null,
    updated_at bigint not null,
    name text unique,
    service_id uuid references services (id) on delete restrict,
    protocols text[] not null,
    methods text[],
    hosts text[],
    paths text[],
    headers jsonb,
    snis text[],
    strip_path boolean not null,
    preserve_host boolean not null,
    regex_priority bigint not null,
    path_handling text not null,
    https_redirect_status_code integer not null,
    request_buffering boolean not null,
    response_buffering boolean not null,
    tags text[]
  )`,
  sql`create index routes_service_id_idx on routes (service_id)`,
  sql`create index routes_tags_idx on routes using gin (tags)`,
  sql`create table config_state (
    id integer primary key check (id = 1),
    epoch uuid not null,
    version bigint not null,
    min_retained_version bigint not null
  )`,
  sql`insert into config_state (id, epoch, version, min_retained_version) values (1, gen_random_uuid(), 0, 0)`,
  sql`create table config_changes (
    version bigint not null,
    seq integer not null,
    entity_type text not null check (entity_type in ('services', 'routes')),
    entity_id uuid not null,
    op text not null check (op in ('upsert', 'delete')),
    payload jsonb,
    primary key (version, seq)
  )`,
];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await statement.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['config_changes', 'config_state', 'routes', 'services']) {
    await sql`drop table if exists ${sql.table(table)}`.execute(db);
  }
}
