/**
 * The write pipeline shared by every entity, modelled on Kong's DAO `check_insert` /
 * `check_upsert` / `check_update`: expand shorthands, merge or fill defaults, deduplicate sets,
 * validate every field, then run the entity's cross-field checks. Pure: no I/O, no clock, no
 * randomness (the caller passes `now` and the id to use).
 *
 * Input is hostile: only its own properties are read, and every working object (the copy of the
 * input, the merged entity, the error tree) has no prototype, so a key such as `__proto__`,
 * `constructor` or `toString` is an ordinary unknown field and never reaches `Object.prototype`.
 */
import { type FieldErrors, VALIDATION_MESSAGES, hasErrors } from './field-errors.js';
import { type EntitySchema, dedupeSet, fieldSpecOf, validateField } from './field-spec.js';
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

/** Prepares an entity for a write; see the module comment. */
export function prepareEntity<T extends object>(
  schema: EntitySchema,
  hooks: EntityHooks,
  input: unknown,
  options: PrepareOptions<T>,
): PrepareResult<T> {
  if (!isPlainObject(input)) return { ok: false, errors: { '@entity': [VALIDATION_MESSAGES.record] } };
  const errors = bare() as FieldErrors;
  const data = bare();
  for (const [k, v] of Object.entries(input)) data[k] = clone(v);

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

  const existing = options.existing ?? null;
  const idErr = data.id === undefined ? null : validateField({ type: 'string', uuid: true }, data.id);
  if (idErr !== null) errors.id = idErr;
  const createdErr = data.created_at === undefined ? null : validateField({ type: 'integer', between: [0, Number.MAX_SAFE_INTEGER] }, data.created_at);
  if (createdErr !== null) errors.created_at = createdErr;
  const updatedErr = data.updated_at === undefined ? null : validateField({ type: 'integer' }, data.updated_at);
  if (updatedErr !== null) errors.updated_at = updatedErr;

  let merged: Record<string, unknown>;
  if (options.mode === 'update') {
    if (existing === null) throw new TypeError('prepareEntity: update needs the existing entity');
    merged = Object.assign(bare(), clone(existing), data);
    merged.id = (existing as Record<string, unknown>).id;
    merged.created_at = (existing as Record<string, unknown>).created_at;
  } else {
    merged = Object.assign(bare(), data);
    for (const [name, spec] of Object.entries(schema.fields)) {
      if (merged[name] === undefined && spec.default !== undefined) merged[name] = clone(spec.default);
    }
    const givenId = typeof data.id === 'string' && isUuid(data.id) ? data.id.toLowerCase() : undefined;
    merged.id = givenId ?? (existing as Record<string, unknown> | null)?.id ?? options.newId;
    merged.created_at =
      typeof data.created_at === 'number' && createdErr === null ? data.created_at : ((existing as Record<string, unknown> | null)?.created_at ?? options.now);
  }
  merged.updated_at = options.now;

  for (const [name, spec] of Object.entries(schema.fields)) {
    if (merged[name] === null && spec.nullMeansDefault) merged[name] = clone(spec.default);
    if (spec.type === 'set' && Array.isArray(merged[name])) merged[name] = dedupeSet(merged[name] as unknown[]);
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
  if (hasErrors(errors)) return { ok: false, errors };

  const entity: Record<string, unknown> = {};
  for (const name of Object.keys(schema.fields)) {
    const value = merged[name];
    entity[name] = value === undefined ? null : value;
  }
  for (const name of AUTO_FIELDS) entity[name] = merged[name];
  return { ok: true, entity: entity as T };
}
