/**
 * The commit deadline of a write: `Store.write` sets `sluice.write_deadline` (seconds since the
 * Unix epoch, server clock, transaction-local) as its first statement, and a deferred constraint
 * trigger on `config_state`, which every write updates, checks it when COMMIT is processed. A
 * COMMIT the database sees after the deadline (held up by a partition, delivered after the client
 * gave up and answered 503) raises 57014 and the transaction rolls back: a write is never
 * committed after its client was told it failed. Transactions that set no deadline (the janitor,
 * PGlite) are not checked.
 */
import { type Kysely, sql } from 'kysely';

/** The transaction-local setting holding a write's deadline. */
export const WRITE_DEADLINE_SETTING = 'sluice.write_deadline';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against any schema version
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function sluice_check_write_deadline() returns trigger language plpgsql as $$
    declare
      deadline text := current_setting('sluice.write_deadline', true);
    begin
      if deadline is not null and deadline <> '' and extract(epoch from clock_timestamp()) > deadline::float8 then
        raise exception 'sluice: the write''s transaction timeout passed before its COMMIT reached the database; rolled back'
          using errcode = '57014';
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`
    create constraint trigger config_state_write_deadline after update on config_state
      deferrable initially deferred for each row execute function sluice_check_write_deadline()`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists config_state_write_deadline on config_state`.execute(db);
  await sql`drop function if exists sluice_check_write_deadline()`.execute(db);
}
