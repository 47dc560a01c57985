import { sql, type Kysely } from 'kysely';

/**
 * The data-plane registry: one row per data plane ever connected, written by the replica it is
 * connected to (see stream/data-plane-record.ts and data-plane-registry.ts). Times are epoch milliseconds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('data_planes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hostname', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('ip', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('build_version', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('protocol_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('labels', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('cp_instance_id', 'text', (c) => c.notNull())
    .addColumn('connected', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('connected_at', 'bigint')
    .addColumn('last_seen', 'bigint', (c) => c.notNull())
    .addColumn('applied_epoch', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('applied_version', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('applied_hash', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('last_error', 'text')
    .addColumn('last_error_code', 'text')
    .addColumn('rejected_version', 'bigint')
    .addColumn('incompatible', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('data_planes').execute();
}
