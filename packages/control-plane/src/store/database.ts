/**
 * The tables of the control-plane database as Kysely sees them. Bigint columns come back as
 * strings from `pg` and as numbers from PGlite; readers convert them with `Number()`.
 */
import type { ColumnType } from 'kysely';

/** A `bigint` column: read as string (pg) or number (PGlite), written as a number. */
export type BigIntColumn = ColumnType<string | number, number, number>;

/** A `jsonb` column written as JSON text (`$1::jsonb`) and read back parsed. */
export type JsonColumn<T> = ColumnType<T, string | null, string | null>;

/** A row of `services`. */
export interface ServicesTable {
  id: string;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  name: string | null;
  protocol: string;
  host: string;
  port: number;
  path: string | null;
  retries: number;
  connect_timeout: number;
  write_timeout: number;
  read_timeout: number;
  enabled: boolean;
  tags: string[] | null;
  client_certificate_id: string | null;
  tls_verify: boolean | null;
  tls_verify_depth: number | null;
  ca_certificates: string[] | null;
}

/** A row of `routes`. */
export interface RoutesTable {
  id: string;
  created_at: BigIntColumn;
  updated_at: BigIntColumn;
  name: string | null;
  service_id: string | null;
  protocols: string[];
  methods: string[] | null;
  hosts: string[] | null;
  paths: string[] | null;
  headers: JsonColumn<Record<string, string[]> | null>;
  snis: string[] | null;
  strip_path: boolean;
  preserve_host: boolean;
  regex_priority: BigIntColumn;
  path_handling: string;
  https_redirect_status_code: number;
  request_buffering: boolean;
  response_buffering: boolean;
  tags: string[] | null;
}

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

/** Every table the store owns. Other repositories extend this with their own tables. */
export interface Database {
  services: ServicesTable;
  routes: RoutesTable;
  config_state: ConfigStateTable;
  config_changes: ConfigChangesTable;
}
