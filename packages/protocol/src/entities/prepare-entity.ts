/**
 * The write pipeline shared by every entity, modelled on Kong's DAO `check_insert` /
 * `check_upsert` / `check_update`: pick the subschema (a plugin's, by `name`), expand shorthands
 * (nested records' deprecated ones included), merge (PATCH: records field by field, Kong's
 * `merge_values`) or fill defaults (nested records' too), deduplicate sets, validate every field,
 * then run the entity's cross-field checks. Pure: no I/O, no clock, no
 * randomness (the caller passes `now` and the id to use).
 *
 * Input is hostile: only its own properties are read, and every working object (the copy of the
 * input, the merged entity, the error tree) has no prototype, so a key such as `__proto__`,
 * `constructor` or `toString` is an ordinary unknown field and never reaches `Object.prototype`.
 */
import { isDeepStrictEqual } from 'node:util';
import { runEntityChecks } from './entity-checks.js';
import { type FieldErrors, VALIDATION_MESSAGES, hasErrors } from './field-errors.js';
import { type EntitySchema, type FieldSpec, type RecordFieldSpec, dedupeSet, fieldSpecOf, validateField } from './field-spec.js';
import { isUuid } from './field-validators.js';

/** How a write treats the input: create (POST), replace (PUT, an upsert), or merge (PATCH). */
export const WRITE_MODES = ['create', 'replace', 'update'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** The outcome of preparing an entity for a write. */
export type PrepareResult<T> = { ok: true; entity: T } | { ok: false; errors: FieldErrors };

/** Options of a write. */
export interface PrepareOptions<T> {
  mode: WriteMode;
  /** The stored entity: required for `update`; for `replace`, the one being replaced (if any). */
  existing?: T | null;
  /** The write time, integer seconds since the epoch. */
  now: number;
  /** The id to give a new entity when the input has none (e.g. `crypto.randomUUID()`). */
  newId: string;
}

/** Entity-specific steps plugged into {@link prepareEntity}. */
export interface EntityHooks {
  /** Expands shorthand fields of `data` in place; errors go to `errors`. */
  expandShorthands?(data: Record<string, unknown>, errors: FieldErrors): void;
  /** Runs before field validation; a non-null result stops validation (Kong's subschema key check). */
  precheck?(data: Record<string, unknown>): FieldErrors | null;
  /** Cross-field checks run after field validation (Kong's `entity_checks`). */
  entityChecks?(data: Record<string, unknown>, errors: FieldErrors): void;
}

const AUTO_FIELDS = ['id', 'created_at', 'updated_at'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An empty object without a prototype: every key, `__proto__` included, is an own data property. */
function bare(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/**
 * A deep copy of a JSON value (what request bodies and decoded entities are made of), so the
 * pipeline never mutates its input. Own enumerable keys only; an own `__proto__` key stays an own
 * key (assigning it would set the copy's prototype instead). Hand-written: JSON round-trips
 * dominated the data plane's validation of a large config. Recursive: request bodies are bounded
 * in depth before they get here (the Admin API's `MAX_BODY_DEPTH`).
 */
function clone<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(clone) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = clone((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out as T;
}

/** `value` stored under `key` as an own data property, even when `key` is `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** The record fields of a field spec, or null when it is not a concrete record. */
function recordFields(spec: FieldSpec): Readonly<Record<string, FieldSpec>> | null {
  return spec.type === 'record' ? spec.fields : null;
}

/**
 * Picks the subschema named by the entity's subschema key (Kong's `get_subschema`); a PATCH
 * without the key uses the stored entity's. Only the key's error comes back when it names none.
 */
function selectSchema(schema: EntitySchema, data: Record<string, unknown>, existing: object | null): { schema: EntitySchema } | { errors: FieldErrors } {
  const sub = schema.subschemas;
  if (sub === undefined) return { schema };
  const value = Object.hasOwn(data, sub.key) ? data[sub.key] : (existing as Record<string, unknown> | null)?.[sub.key];
  const fail = (message: string) => ({ errors: Object.assign(bare(), { [sub.key]: message }) as FieldErrors });
  if (value === null || value === undefined) return fail(VALIDATION_MESSAGES.required);
  if (typeof value !== 'string') return fail(VALIDATION_MESSAGES.string);
  const chosen = sub.schemas.get(value);
  return chosen === undefined ? fail(sub.error(value)) : { schema: chosen };
}

/** The value at `path` inside `record` (`undefined` when absent). */
function valueAt(record: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = record;
  for (const key of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Sets `value` at `path` inside `record`, creating records on the way; false when a non-record is in the way. */
function setAt(record: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node = record;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      setOwn(node, key, created);
      node = created;
    } else if (isPlainObject(next)) node = next;
    else return false;
  }
  setOwn(node, path[path.length - 1] as string, value);
  return true;
}

/** Lua's `tostring` of a scalar, as Kong's shorthand mismatch message prints it. */
function luaText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Moves deprecated shorthands of nested records to their paths, in the input (before a PATCH
 * merges it), as Kong's `process_auto_fields` does. Errors are filed under the shorthand's own
 * name at the top level: Kong returns the nested record's shorthand errors as they are.
 */
function expandRecordShorthands(fields: Readonly<Record<string, FieldSpec>>, data: Record<string, unknown>, errors: FieldErrors): void {
  for (const [name, spec] of Object.entries(fields)) {
    const nested = recordFields(spec);
    const record = Object.hasOwn(data, name) ? data[name] : undefined;
    if (nested === null || !isPlainObject(record)) continue;
    for (const [shorthand, def] of Object.entries((spec as RecordFieldSpec).shorthands ?? {})) {
      if (!Object.hasOwn(record, shorthand)) continue;
      const value = record[shorthand];
      const err = validateField(def.spec, value);
      if (err !== null) {
        errors[shorthand] = err;
        continue;
      }
      if (value !== null && value !== undefined) {
        const current = valueAt(record, def.path);
        if (current !== undefined && current !== null && !isDeepStrictEqual(current, value)) {
          errors[shorthand] =
            `both deprecated and new field are used but their values mismatch: ${shorthand} = ${luaText(value)} vs ${def.path.join('.')} = ${luaText(current)}`;
          continue;
        }
        if (current === undefined || current === null) setAt(record, def.path, value);
      }
      delete record[shorthand];
    }
    expandRecordShorthands(nested, record, errors);
  }
}

/**
 * Kong's `merge_values`: `top` over `bottom`, records merged field by field (arrays and other
 * values replaced whole).
 */
function mergeValues(fields: Readonly<Record<string, FieldSpec>>, top: Record<string, unknown>, bottom: Record<string, unknown>): Record<string, unknown> {
  const out = Object.assign(bare(), bottom, top);
  for (const [name, spec] of Object.entries(fields)) {
    const nested = recordFields(spec);
    const t = Object.hasOwn(top, name) ? top[name] : undefined;
    const b = Object.hasOwn(bottom, name) ? bottom[name] : undefined;
    if (nested !== null && isPlainObject(t) && isPlainObject(b)) out[name] = mergeValues(nested, t, b);
  }
  return out;
}

/**
 * A field's value with defaults filled (an absent required record is produced whole from its
 * fields' defaults; an absent optional nested field is `null`, as Kong stores it), `null`
 * replaced by the default where the spec says so, and sets deduplicated. Records come back with
 * their fields in schema order, unknown keys after (validation refuses them).
 */
function normalize(spec: FieldSpec, input: unknown): unknown {
  let value = input;
  const nested = recordFields(spec);
  if (value === undefined) {
    if (spec.default !== undefined) value = clone(spec.default);
    else if (nested !== null && spec.required) value = {};
    else return undefined;
  }
  if (value === null) return spec.nullMeansDefault ? clone(spec.default) : null;
  if ((spec.type === 'array' || spec.type === 'set') && Array.isArray(value)) {
    const list = spec.type === 'set' ? dedupeSet(value) : value;
    return spec.elements.type === 'record' ? list.map((e) => normalize(spec.elements, e)) : list;
  }
  if (nested === null || !isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [name, fieldSpec] of Object.entries(nested)) {
    const v = normalize(fieldSpec, Object.hasOwn(value, name) ? value[name] : undefined);
    if (v !== undefined) setOwn(out, name, v);
    else if (!fieldSpec.required) setOwn(out, name, null);
  }
  for (const key of Object.keys(value)) if (!Object.hasOwn(nested, key)) setOwn(out, key, value[key]);
  return out;
}

/** Prepares an entity for a write; see the module comment. */
export function prepareEntity<T extends object>(
  baseSchema: EntitySchema,
  hooks: EntityHooks,
  input: unknown,
  options: PrepareOptions<T>,
): PrepareResult<T> {
  if (!isPlainObject(input)) return { ok: false, errors: { '@entity': [VALIDATION_MESSAGES.record] } };
  const errors = bare() as FieldErrors;
  const data = bare();
  for (const [k, v] of Object.entries(input)) data[k] = clone(v);
  const existing = options.existing ?? null;

  const selected = selectSchema(baseSchema, data, options.mode === 'update' ? existing : null);
  if ('errors' in selected) return { ok: false, errors: selected.errors };
  const schema = selected.schema;

  for (const [name, spec] of Object.entries(schema.shorthands)) {
    if (!Object.hasOwn(data, name)) continue;
    const err = validateField(spec, data[name]);
    if (err !== null) {
      errors[name] = err;
      delete data[name];
    }
  }
  if (!hasErrors(errors)) hooks.expandShorthands?.(data, errors);
  for (const name of Object.keys(schema.shorthands)) delete data[name];
  const shorthandErrors = bare() as FieldErrors;
  expandRecordShorthands(schema.fields, data, shorthandErrors);
  if (hasErrors(shorthandErrors)) return { ok: false, errors: Object.assign(errors, shorthandErrors) };

  const idErr = data.id === undefined ? null : validateField({ type: 'string', uuid: true }, data.id);
  if (idErr !== null) errors.id = idErr;
  const createdErr = data.created_at === undefined ? null : validateField({ type: 'integer', between: [0, Number.MAX_SAFE_INTEGER] }, data.created_at);
  if (createdErr !== null) errors.created_at = createdErr;
  const updatedErr = data.updated_at === undefined ? null : validateField({ type: 'integer' }, data.updated_at);
  if (updatedErr !== null) errors.updated_at = updatedErr;

  let merged: Record<string, unknown>;
  if (options.mode === 'update') {
    if (existing === null) throw new TypeError('prepareEntity: update needs the existing entity');
    merged = mergeValues(schema.fields, data, clone(existing) as Record<string, unknown>);
    merged.id = (existing as Record<string, unknown>).id;
    merged.created_at = (existing as Record<string, unknown>).created_at;
  } else {
    merged = Object.assign(bare(), data);
    const givenId = typeof data.id === 'string' && isUuid(data.id) ? data.id.toLowerCase() : undefined;
    merged.id = givenId ?? (existing as Record<string, unknown> | null)?.id ?? options.newId;
    merged.created_at =
      typeof data.created_at === 'number' && createdErr === null ? data.created_at : ((existing as Record<string, unknown> | null)?.created_at ?? options.now);
  }
  merged.updated_at = options.now;

  for (const [name, spec] of Object.entries(schema.fields)) {
    if ((AUTO_FIELDS as readonly string[]).includes(name)) continue;
    const value = normalize(spec, merged[name]);
    if (value !== undefined) merged[name] = value;
  }

  const pre = hooks.precheck?.(merged);
  if (pre) return { ok: false, errors: Object.assign(errors, pre) };

  for (const [name, value] of Object.entries(merged)) {
    if ((AUTO_FIELDS as readonly string[]).includes(name)) continue;
    const spec = fieldSpecOf(schema, name);
    if (spec === undefined) {
      errors[name] = VALIDATION_MESSAGES.unknown;
      continue;
    }
    const err = validateField(spec, value);
    if (err !== null) errors[name] = err;
  }
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (spec.required && (merged[name] === null || merged[name] === undefined)) errors[name] = VALIDATION_MESSAGES.required;
  }
  hooks.entityChecks?.(merged, errors);
  if (schema.entityChecks) runEntityChecks(schema.entityChecks, merged, errors, options.mode === 'update');
  if (hasErrors(errors)) return { ok: false, errors };

  const entity: Record<string, unknown> = {};
  for (const name of Object.keys(schema.fields)) {
    const value = merged[name];
    entity[name] = value === undefined ? null : value;
  }
  for (const name of AUTO_FIELDS) entity[name] = merged[name];
  return { ok: true, entity: entity as T };
}

/**
 * An entity as reads show it: the deprecated shorthands of its nested records echoed beside the
 * fields they alias (Kong's `process_auto_fields` in the `select` context), e.g. rate-limiting's
 * `config.redis_host` = `config.redis.host`. Returns a copy; the stored entity never has them.
 */
export function withShorthandEcho<T extends object>(schema: EntitySchema, entity: T): T {
  const echo = (fields: Readonly<Record<string, FieldSpec>>, source: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...source };
    for (const [name, spec] of Object.entries(fields)) {
      const nested = recordFields(spec);
      const value = Object.hasOwn(source, name) ? source[name] : undefined;
      if (nested === null || !isPlainObject(value)) continue;
      const record = echo(nested, value);
      for (const [shorthand, def] of Object.entries((spec as RecordFieldSpec).shorthands ?? {})) {
        setOwn(record, shorthand, valueAt(record, def.path) ?? null);
      }
      out[name] = record;
    }
    return out;
  };
  return echo(schema.fields, entity as Record<string, unknown>) as T;
}

/** The schema an entity is validated with: its subschema when the schema has them (a plugin's, by `name`). */
export function schemaFor(schema: EntitySchema, entity: object): EntitySchema {
  const sub = schema.subschemas;
  if (sub === undefined) return schema;
  const key = (entity as Record<string, unknown>)[sub.key];
  return (typeof key === 'string' ? sub.schemas.get(key) : undefined) ?? schema;
}
