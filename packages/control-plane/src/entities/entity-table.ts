/**
 * How an entity kind is stored: one table per kind, one column per schema field, derived from the
 * kind's schema so no kind writes its own row conversion. The mapping, once:
 *
 * | schema field | column |
 * |---|---|
 * | `foreign` (`service`) | `<field>_id uuid` (`service_id`), returned as `{id}` or null |
 * | `map` (route `headers`), `record` (plugin `config`) | `jsonb` or `json`, written as JSON text |
 * | `integer` | `integer` or `bigint` (read back with `Number()`: `pg` returns bigints as strings) |
 * | `mustBeNull` (route `sources`) | no column: always null |
 * | anything else | a column of the same name (`text`, `boolean`, `text[]`) |
 *
 * The table's DDL is in the kind's migrations, written by hand and never changed once shipped.
 */
import type { EntityDefinition, FieldSpec } from '@sluice/protocol';
import type { Migration } from 'kysely';

type ColumnMapping = 'plain' | 'foreign' | 'json' | 'integer';

/** One stored field. */
export interface EntityColumn {
  readonly field: string;
  readonly column: string;
  readonly mapping: ColumnMapping;
}

/** A kind's table: its name, its columns and its migrations. */
export interface EntityTable {
  /** The registry kind (also the table's name). */
  readonly kind: string;
  readonly table: string;
  /** Stored fields in schema order; `mustBeNull` fields are absent. */
  readonly columns: readonly EntityColumn[];
  /** Fields that are not stored and read back as null. */
  readonly virtualFields: readonly string[];
  /**
   * The constraint name of each of the kind's composite `uniqueKeys`, in the same order: Kong calls
   * such a key the cache key, so the first is `<table>_cache_key`, later ones `<table>_cache_key_<n>`.
   */
  readonly uniqueKeyConstraints: readonly string[];
  /** Migrations that create and change this table, by name (`NNNN-what`), merged with the store's. */
  readonly migrations: Readonly<Record<string, Migration>>;
  /** The column a field is stored in (`service` → `service_id`). */
  columnOf(field: string): string;
  /** A row to write. */
  toRow(entity: object): Record<string, unknown>;
  /** An entity in Kong's JSON shape, fields in schema order. */
  fromRow(row: Record<string, unknown>): Record<string, unknown>;
}

function mappingOf(spec: FieldSpec): ColumnMapping {
  if (spec.type === 'foreign') return 'foreign';
  if (spec.type === 'map' || spec.type === 'record') return 'json';
  if (spec.type === 'integer') return 'integer';
  return 'plain';
}

/** Derives a kind's table from its definition; see the module comment. */
export function defineTable(definition: EntityDefinition, migrations: Readonly<Record<string, Migration>> = {}): EntityTable {
  const columns: EntityColumn[] = [];
  const virtualFields: string[] = [];
  for (const [field, spec] of Object.entries(definition.schema.fields)) {
    if (spec.mustBeNull !== undefined) {
      virtualFields.push(field);
      continue;
    }
    const mapping = mappingOf(spec);
    columns.push({ field, column: mapping === 'foreign' ? `${field}_id` : field, mapping });
  }
  const byField = new Map(columns.map((c) => [c.field, c]));
  const fields = Object.keys(definition.schema.fields);
  return Object.freeze({
    kind: definition.kind,
    table: definition.kind,
    columns,
    virtualFields,
    uniqueKeyConstraints: definition.uniqueKeys.map((_, i) => (i === 0 ? `${definition.kind}_cache_key` : `${definition.kind}_cache_key_${i + 1}`)),
    migrations,
    columnOf(field: string): string {
      const column = byField.get(field);
      if (column === undefined) throw new TypeError(`${definition.kind} has no stored field ${field}`);
      return column.column;
    },
    toRow(entity: object): Record<string, unknown> {
      const e = entity as Record<string, unknown>;
      const row: Record<string, unknown> = {};
      for (const c of columns) {
        const value = e[c.field] ?? null;
        if (c.mapping === 'foreign') row[c.column] = value === null ? null : (value as { id: string }).id;
        else if (c.mapping === 'json') row[c.column] = value === null ? null : JSON.stringify(value);
        else row[c.column] = value;
      }
      return row;
    },
    fromRow(row: Record<string, unknown>): Record<string, unknown> {
      const entity: Record<string, unknown> = {};
      for (const field of fields) {
        const c = byField.get(field);
        if (c === undefined) {
          entity[field] = null;
          continue;
        }
        const value = row[c.column] ?? null;
        if (value === null) entity[field] = null;
        else if (c.mapping === 'foreign') entity[field] = { id: value as string };
        else if (c.mapping === 'integer') entity[field] = Number(value);
        else entity[field] = value;
      }
      return entity;
    },
  });
}
