/**
 * A declarative description of an entity's fields, the subset of Kong's schema language
 * (`kong/db/schema/init.lua`) that services and routes use, and the predicates on JSON values it is
 * defined by. The field validator that checks values against it with Kong's messages and order of
 * checks is `field-validation.ts`; this module, the data, depends on nothing of it.
 */
import type { EntityCheck } from './entity-checks.js';

interface FieldSpecBase {
  /** `null` (or, on create, absence) is refused with `required field missing`. */
  required?: boolean;
  /** Filled in on create/replace when the field is absent. */
  default?: unknown;
  /**
   * An explicit `null` is replaced by the default. Kong stores `null` for these optional fields;
   * Sluice's entity types keep them non-null, so `null` means "reset to the default".
   */
  nullMeansDefault?: boolean;
  /** The field must stay `null`; any other value is refused with this message (Kong's `eq = null` + `err`). */
  mustBeNull?: string;
  /** What the field is, for people (the Admin API's schema endpoints and the forms built from them). */
  description?: string;
}

/** A `match_none` rule: a value matching `pattern` is refused with `err`. */
export interface PatternRule {
  readonly pattern: RegExp;
  readonly err: string;
}

/**
 * A string field; strings are never empty unless `lenMin` says so (`length must be at least 1`)
 * and always valid UTF-8 (`invalid utf-8 character sequence detected at position N`, checked
 * before `check`). Validators run in Kong's order: `oneOf`, `uuid`, `lenMin`, `lenMax`,
 * `startsWith`, `matchNone`, `match`, then `check`.
 */
export interface StringFieldSpec extends FieldSpecBase {
  type: 'string';
  oneOf?: readonly string[];
  uuid?: boolean;
  /** Shortest length in characters; default 1 (Kong's default for every string). */
  lenMin?: number;
  lenMax?: number;
  /** `should start with: <prefix>`. */
  startsWith?: string;
  /** Kong's `match_none`: the first matching rule's `err`. */
  matchNone?: readonly PatternRule[];
  /** Kong's `match`: a value that does not match is `invalid value: <v>`. */
  match?: RegExp;
  /** The typedef's custom validator: the error message, or `null`. */
  check?: (value: string) => string | null;
}

/** An integer field (a JSON number without a fractional part). */
export interface IntegerFieldSpec extends FieldSpecBase {
  type: 'integer';
  oneOf?: readonly number[];
  /** `value must be greater than <gt>`. */
  gt?: number;
  between?: readonly [number, number];
}

/** A number field (Kong's `number`: any JSON number, fractions included). */
export interface NumberFieldSpec extends FieldSpecBase {
  type: 'number';
  oneOf?: readonly number[];
  /** `value must be greater than <gt>`. */
  gt?: number;
  between?: readonly [number, number];
}

export interface BooleanFieldSpec extends FieldSpecBase {
  type: 'boolean';
}

/**
 * An array, or a set (an array whose duplicates are removed before validation). Elements are
 * any field spec (strings, numbers, integers, booleans, records), always required.
 */
export interface ListFieldSpec extends FieldSpecBase {
  type: 'array' | 'set';
  elements: FieldSpec;
  lenMin?: number;
  lenMax?: number;
}

/** A map from a validated string key to a list of strings (route `headers`). */
export interface MapFieldSpec extends FieldSpecBase {
  type: 'map';
  keys: StringFieldSpec;
  values: ListFieldSpec;
}

/**
 * What deleting a referenced entity does to the entities that reference it (Kong's `on_delete`):
 * `restrict` refuses the delete with Kong's `@referenced_by` error (Kong's default, through the
 * database's foreign key), `cascade` deletes them in the same write.
 */
export const ON_DELETE = ['restrict', 'cascade'] as const;
export type OnDelete = (typeof ON_DELETE)[number];

/** A reference to another entity, written `{"id": "<uuid>"}`. */
export interface ForeignFieldSpec extends FieldSpecBase {
  type: 'foreign';
  /** The referenced kind's collection name (a kind Sluice may not have yet, e.g. `certificates`). */
  reference: string;
  /** Default `restrict`. */
  onDelete?: OnDelete;
}

/**
 * A deprecated alias of a nested field (Kong's `shorthand_fields` with `deprecation.replaced_with`):
 * accepted on input and moved to `path` inside the record, refused when both are given with
 * different values, never stored, and echoed on reads (Kong echoes deprecated shorthands).
 */
export interface ShorthandFieldSpec {
  /** The shorthand's own type and checks (validated before it is moved). */
  readonly spec: FieldSpec;
  /** Where its value goes, relative to the record (`['redis', 'host']`). */
  readonly path: readonly string[];
  readonly deprecation: { readonly message: string; readonly removalInVersion: string };
}

/**
 * A nested record (Kong's `type = "record"`): a JSON object with its own fields. `fields: null`
 * is Kong's `abstract = true`: a subschema supplies the fields (a plugin's `config`, whose fields
 * come from the plugin named by the entity). A required record that is absent is produced whole
 * from its fields' defaults (Kong makes records of entities required, so an omitted `config` is
 * every default).
 */
export interface RecordFieldSpec extends FieldSpecBase {
  type: 'record';
  fields: Readonly<Record<string, FieldSpec>> | null;
  /** Deprecated aliases of nested fields, by name. */
  shorthands?: Readonly<Record<string, ShorthandFieldSpec>>;
  /** Kong's `custom_validator` on the record: runs when its fields are valid; the message is the record's error. */
  customValidator?: (value: Readonly<Record<string, unknown>>) => string | null;
}

/** One field of an entity schema. */
export type FieldSpec =
  | StringFieldSpec
  | IntegerFieldSpec
  | NumberFieldSpec
  | BooleanFieldSpec
  | ListFieldSpec
  | MapFieldSpec
  | ForeignFieldSpec
  | RecordFieldSpec;

/**
 * Kong's subschemas (`subschema_key`): the value of `key` picks the schema an entity is validated
 * with (a plugin's `name` picks its config fields). Each schema in `schemas` is complete (the
 * parent's fields with the subschema's overrides, and both sets of entity checks).
 */
export interface Subschemas {
  readonly key: string;
  readonly schemas: ReadonlyMap<string, EntitySchema>;
  /** The error for a value with no subschema (Kong's `subschema_error`). */
  error(value: string): string;
}

/**
 * An entity's fields in Kong's schema order (the order responses list them in). Look fields up
 * with {@link fieldSpecOf} / {@link shorthandSpecOf}, never `fields[name]`: a name from a request
 * (`constructor`, `__proto__`) would otherwise find `Object.prototype`'s members.
 */
export interface EntitySchema {
  /** The Admin API collection name. */
  name: string;
  fields: Readonly<Record<string, FieldSpec>>;
  /** Shorthand fields accepted on input and expanded before validation (never stored). */
  shorthands: Readonly<Record<string, StringFieldSpec>>;
  /** Cross-field checks as data, run after field validation (see `entity-checks.ts`). */
  entityChecks?: readonly EntityCheck[];
  /**
   * Checks the kind's hooks enforce in code (Kong's messages and order need it), described in
   * Kong's schema language for `GET /schemas/{entity}` only, so forms (Kong Manager, the Sluice UI)
   * can tell a user beforehand. Never run.
   */
  describedChecks?: readonly Readonly<Record<string, unknown>>[];
  subschemas?: Subschemas;
}

/** The schema's own field called `name`, or `undefined` (inherited members are not fields). */
export function fieldSpecOf(schema: EntitySchema, name: string): FieldSpec | undefined {
  return Object.hasOwn(schema.fields, name) ? schema.fields[name] : undefined;
}

/** The schema's own shorthand called `name`, or `undefined`. */
export function shorthandSpecOf(schema: EntitySchema, name: string): StringFieldSpec | undefined {
  return Object.hasOwn(schema.shorthands, name) ? schema.shorthands[name] : undefined;
}

/** A JSON object (not null, not an array): what Kong's `record`, `map` and `foreign` values are. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when the value is "non-empty" in Kong's sense (`is_nonempty`). */
export function isNonEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Removes duplicate elements of a set, keeping the first occurrence (Kong's `make_set`). */
export function dedupeSet(values: unknown[]): unknown[] {
  const seen = new Set<unknown>();
  const out: unknown[] = [];
  for (const v of values) {
    const key = typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
  }
  return out;
}
