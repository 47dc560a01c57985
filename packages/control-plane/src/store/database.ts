/**
 * The tables of the control-plane database as Kysely sees them. Bigint columns come back as
 * strings from `pg` and as numbers from PGlite; readers convert them with `Number()`.
 */
import type { ColumnType } from 'kysely';

/** A `bigint` column: read as string (pg) or number (PGlite), written as a number. */
export type BigIntColumn = ColumnType<string | number, number, number>;

/** A `jsonb` column written as JSON text (`$1::jsonb`) and read back parsed. */
export type JsonColumn<T> = ColumnType<T, string | null, string | null>;

/** The single row holding the config epoch and the current version. */
export interface ConfigStateTable {
  id: number;
  epoch: string;
  version: BigIntColumn;
  min_retained_version: BigIntColumn;
}

/** One row of the change log. */
export interface ConfigChangesTable {
  version: BigIntColumn;
  seq: number;
  entity_type: string;
  entity_id: string;
  op: string;
  payload: JsonColumn<unknown>;
}

/**
 * The tables the store owns besides the entity tables (one per kind, typed by
 * `entities/entity-table.ts` rather than here). Other repositories extend this with their own.
 */
export interface Database {
  config_state: ConfigStateTable;
  config_changes: ConfigChangesTable;
}
